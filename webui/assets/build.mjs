// Bundles the browser code with esbuild into webui/static/build/ (run by `npm run build`,
// which scripts/setup calls). No CDN: the pages load only these files.
//   viewer      the case diagram (bpmn-js NavigatedViewer)
//   modeler     the process owner's modeler (bpmn-js Modeler, properties panel, Camunda moddle)
//   dmn-editor  the afwegingskader decision table (dmn-js), on the modeler page
import * as esbuild from "esbuild";

const common = {
  outdir: "webui/static/build",
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  loader: { ".eot": "empty", ".svg": "empty", ".woff": "dataurl", ".woff2": "dataurl", ".ttf": "dataurl" },
  legalComments: "linked",
  logLevel: "warning",
};

await Promise.all([
  esbuild.build({ ...common, entryPoints: { viewer: "webui/assets/viewer.js" }, globalName: "MeldcodeViewer" }),
  esbuild.build({ ...common, entryPoints: { modeler: "webui/assets/modeler.js" }, globalName: "MeldcodeModeler" }),
  esbuild.build({
    ...common, entryPoints: { "dmn-editor": "webui/assets/dmn-editor.js" }, globalName: "MeldcodeDmnEditor",
  }),
]);
