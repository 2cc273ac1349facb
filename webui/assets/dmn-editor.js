/* The afwegingskader decision table in dmn-js, on the modeler page (#mc-dmn). The modeler
   (modeler.js) sends the table along when it was changed here: isDirty(), getXML(),
   markSaved(). */
import DmnModeler from "dmn-js/lib/Modeler";
import "dmn-js/dist/assets/diagram-js.css";
import "dmn-js/dist/assets/dmn-js-shared.css";
import "dmn-js/dist/assets/dmn-js-drd.css";
import "dmn-js/dist/assets/dmn-js-decision-table.css";
import "dmn-js/dist/assets/dmn-js-decision-table-controls.css";
import "dmn-js/dist/assets/dmn-js-literal-expression.css";
import "dmn-js/dist/assets/dmn-font/css/dmn-embedded.css";
import "./dmn-editor.css";
import { DutchModule } from "./dutch";

const state = { modeler: null, dirty: false };

export function isDirty() {
  return state.dirty;
}

export async function getXML() {
  const { xml } = await state.modeler.saveXML({ format: true });
  return xml;
}

export function markSaved() {
  state.dirty = false;
}

export function instance() {
  return state.modeler;
}

function changed(event) {
  if (event && event.trigger === "clear") {
    return; // a (re)load, not an edit
  }
  state.dirty = true;
  if (window.MeldcodeModeler && window.MeldcodeModeler.markDirty) {
    window.MeldcodeModeler.markDirty();
  }
}

async function init() {
  const container = document.getElementById("mc-dmn");
  const block = document.getElementById("mc-source");
  if (!container || !block) {
    return;
  }
  const source = JSON.parse(block.textContent);
  if (!source.dmn) {
    container.dataset.state = "none";
    return;
  }
  container.textContent = "";
  // Dutch in every view of dmn-js. Per view: dmn-js replaces `common.additionalModules` with
  // the view's own list (dmn-js-shared Manager._createViewer).
  const dutch = { additionalModules: [DutchModule] };
  state.modeler = new DmnModeler({
    container, drd: dutch, decisionTable: dutch, literalExpression: dutch, boxedExpression: dutch,
  });
  try {
    await state.modeler.importXML(source.dmn);
    // Open the decision table itself, not the decision requirements diagram.
    const table = state.modeler.getViews().find((view) => view.type === "decisionTable");
    if (table) {
      await state.modeler.open(table);
    }
    // Only what a person changes counts: the command stack of each view, once it is open.
    state.modeler.on("views.changed", () => bindChanges());
    bindChanges();
    state.dirty = false;
    container.dataset.state = "ready";
  } catch (err) {
    container.dataset.state = "error";
    container.textContent = (container.dataset.error || "") + " " + ((err && err.message) || "");
  }
}

function bindChanges() {
  const viewer = state.modeler.getActiveViewer();
  if (viewer && !viewer.__meldcodeBound) {
    viewer.__meldcodeBound = true;
    viewer.on("commandStack.changed", changed);
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => init());
} else {
  init();
}
