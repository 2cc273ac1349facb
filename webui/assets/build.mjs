// Bundles the browser code with esbuild into webui/static/build/ (run by `npm run build`,
// which scripts/setup calls). No CDN: the pages load only these files.
import * as esbuild from "esbuild";

await esbuild.build({
  entryPoints: { viewer: "webui/assets/viewer.js" },
  outdir: "webui/static/build",
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "MeldcodeViewer",
  target: ["es2020"],
  loader: { ".eot": "empty", ".svg": "empty", ".woff": "dataurl", ".woff2": "dataurl", ".ttf": "dataurl" },
  legalComments: "linked",
  logLevel: "warning",
});
