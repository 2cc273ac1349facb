/* The process owner's modeler: bpmn-js Modeler with the properties panel (names, conditions,
   the Camunda form fields of user tasks), opened on the active version.

   The page provides, as JSON blocks: the active version's files (#mc-source) and the texts in
   the person's language (#mc-texts); as data attributes on #mc-modeler: the URLs of the check
   and publish endpoints and the CSRF token. "Controleren" sends the diagram to the server,
   which runs exactly `meldcode check`; each problem is listed and marked on its element.
   "Publiceren" first checks and shows what changes, then deploys after a confirmation. */
import BpmnModeler from "bpmn-js/lib/Modeler";
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import CamundaBehaviorsModule from "camunda-bpmn-js-behaviors/lib/camunda-platform";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import { DutchModule } from "./dutch";
import ProductElementsModule from "./product-elements";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";
import "@bpmn-io/properties-panel/dist/assets/properties-panel.css";
import "./modeler.css";

const state = {
  modeler: null,
  root: null,
  texts: {},
  source: {},
  fileName: "meldcode.bpmn",
  dirty: false,
  lastGoodXml: null,
  problemIds: [],
  routeIds: [],
  selectedProblem: null,
};

function t(key, values) {
  let text = state.texts[key] || key;
  for (const [name, value] of Object.entries(values || {})) {
    text = text.split("%(" + name + ")s").join(String(value));
  }
  return text;
}

function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "className") {
      node.className = value;
    } else if (key.startsWith("on")) {
      node.addEventListener(key.slice(2), value);
    } else if (value !== null && value !== undefined) {
      node.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function status(message, kind) {
  const box = $("mc-status");
  box.className = "mc-status mc-status-" + (kind || "info");
  box.textContent = message;
  box.hidden = !message;
}

function setDirty(dirty) {
  state.dirty = dirty;
  $("mc-dirty").hidden = !dirty;
}

// --- the diagram -----------------------------------------------------------------------------

async function load(xml, origin) {
  const canvasBox = $("mc-canvas");
  clearProblems();
  showWarnings([]);
  try {
    return await importDiagram(canvasBox, xml, origin);
  } finally {
    // Counts finished attempts, so a page (or a test) can tell that an import is done.
    canvasBox.dataset.loads = String(Number(canvasBox.dataset.loads || 0) + 1);
  }
}

async function importDiagram(canvasBox, xml, origin) {
  try {
    const { warnings } = await state.modeler.importXML(xml);
    state.lastGoodXml = xml;
    showWarnings(warnings || []);
    fitBesidePalette(canvasBox);
    canvasBox.dataset.state = "ready";
    canvasBox.dataset.warnings = String((warnings || []).length);
    return true;
  } catch (err) {
    // Never a blank page: say why, and keep (or restore) the diagram that was open.
    canvasBox.dataset.state = "error";
    status(t("import_failed", { name: origin, reason: (err && err.message) || String(err) }), "error");
    showWarnings((err && err.warnings) || []);
    if (state.lastGoodXml && state.lastGoodXml !== xml) {
      try {
        await state.modeler.importXML(state.lastGoodXml);
      } catch (ignored) {
        /* the previous diagram loaded before; nothing more to do */
      }
    }
    return false;
  }
}

// The whole diagram in view, starting right of the palette so that it covers nothing (the
// library's own "fit-viewport" puts the diagram's left edge under the palette).
function fitBesidePalette(canvasBox) {
  const canvas = state.modeler.get("canvas");
  canvas.zoom("fit-viewport", "auto");
  fitBox(canvas.viewbox().inner, canvasBox, false);
}

// Show the box (diagram coordinates) as large as fits, at most 100 %, right of the palette;
// at the top left of the free area, or in its middle.
function fitBox(box, canvasBox, centred) {
  const canvas = state.modeler.get("canvas");
  const { outer } = canvas.viewbox();
  if (!box.width || !box.height || !outer.width || !outer.height) {
    return;
  }
  const margin = 24;
  const palette = (canvasBox || $("mc-canvas")).querySelector(".djs-palette");
  const left = palette ? palette.getBoundingClientRect().right
    - (canvasBox || $("mc-canvas")).getBoundingClientRect().left + margin : margin;
  const width = outer.width - left - margin;
  const height = outer.height - 2 * margin;
  const scale = Math.min(1, width / box.width, height / box.height);
  const dx = left + (centred ? (width - box.width * scale) / 2 : 0);
  const dy = margin + (centred ? (height - box.height * scale) / 2 : 0);
  canvas.viewbox({
    x: box.x - dx / scale,
    y: box.y - dy / scale,
    width: outer.width / scale,
    height: outer.height / scale,
  });
}

function showWarnings(warnings) {
  const box = $("mc-warnings");
  const list = $("mc-warnings-list");
  list.textContent = "";
  for (const warning of warnings.slice(0, 50)) {
    list.append(el("li", null, (warning && warning.message) || String(warning)));
  }
  box.hidden = warnings.length === 0;
  $("mc-warnings-count").textContent = t("warnings_count", { count: warnings.length });
}

async function currentXml() {
  const { xml } = await state.modeler.saveXML({ format: true });
  return xml;
}

// --- problems on the diagram -----------------------------------------------------------------

function elementFor(id) {
  if (!id) {
    return null;
  }
  const registry = state.modeler.get("elementRegistry");
  const direct = registry.get(id);
  if (direct) {
    return direct;
  }
  // A process inside a collaboration is drawn as its participant (pool).
  return registry.find((element) => {
    const bo = element.businessObject;
    return element.type === "bpmn:Participant" && bo && bo.processRef && bo.processRef.id === id;
  }) || null;
}

// How the list names an element: its label in the diagram, the id only when it has none; an
// unnamed flow by the elements it joins.
function labelOf(element, fallback) {
  const bo = element && element.businessObject;
  const name = bo && bo.name && bo.name.split(/\s+/).join(" ").trim();
  if (bo && bo.sourceRef && bo.targetRef) {
    const ends = { source: labelOf(elementFor(bo.sourceRef.id), bo.sourceRef.id),
      target: labelOf(elementFor(bo.targetRef.id), bo.targetRef.id) };
    return name ? t("named_flow_label", { name: "‘" + name + "’", ...ends }) : t("flow_label", ends);
  }
  if (name) {
    return "‘" + name + "’";
  }
  if (fallback) {
    return "‘" + fallback + "’";
  }
  return bo ? "‘" + bo.id + "’" : "";
}

function clearProblems() {
  if (!state.modeler) {
    return;
  }
  clearRoute();
  const canvas = state.modeler.get("canvas");
  const overlays = state.modeler.get("overlays");
  overlays.remove({ type: "mc-problem" });
  for (const id of state.problemIds) {
    if (state.modeler.get("elementRegistry").get(id)) {
      canvas.removeMarker(id, "mc-problem");
    }
  }
  state.problemIds = [];
  $("mc-problems").hidden = true;
  $("mc-problems-list").textContent = "";
}

function showProblems(problems) {
  clearProblems();
  const canvas = state.modeler.get("canvas");
  const overlays = state.modeler.get("overlays");
  const list = $("mc-problems-list");
  problems.forEach((problem, index) => {
    const element = elementFor(problem.element);
    const label = element ? labelOf(element, problem.label)
      : (problem.label ? "‘" + problem.label + "’" : "");
    const where = problem.file + ":" + problem.line;
    const item = el("li", { className: "mc-problem", "data-element": element ? element.id : "" },
      el("span", { className: "mc-problem-where" }, where),
      " ",
      label ? el("strong", { className: "mc-problem-label" }, label) : null,
      label ? ": " : null,
      el("span", { className: "mc-problem-message" }, problem.message));
    if (element) {
      canvas.addMarker(element.id, "mc-problem");
      state.problemIds.push(element.id);
      overlays.add(element.id, "mc-problem", {
        position: { top: -14, left: -14 },
        html: el("span", { className: "mc-problem-badge", title: problem.message }, String(index + 1)),
      });
      item.prepend(el("span", { className: "mc-problem-number", "aria-hidden": "true" }, String(index + 1)));
    }
    const route = Array.isArray(problem.path) && problem.path.length ? routeList(problem.path) : null;
    if (element || route) {
      const button = el("button", {
        type: "button",
        className: "button-link mc-show",
        onclick: () => selectProblem(item, element, problem.path, route, button),
      }, route ? t("show_route", { count: problem.path.length })
        : t("show_element", { name: label || element.id }));
      if (route) {
        button.setAttribute("aria-expanded", "false");
      }
      item.append(" ", button);
    }
    if (route) {
      item.append(route);
    }
    list.append(item);
  });
  $("mc-problems-count").textContent = t("problems_count", { count: problems.length });
  $("mc-problems").hidden = problems.length === 0;
}

// Selecting a problem: its element selected and in view; a witness route drawn on the diagram
// (each step marked and numbered in the order of the route) and listed beside the problem.
function selectProblem(item, element, path, route, button) {
  const again = state.selectedProblem === item;
  clearRoute();
  if (again && route) {
    return; // a second click on the same route hides it again
  }
  state.selectedProblem = item;
  item.classList.add("mc-problem-selected");
  if (route) {
    drawRoute(path);
    route.hidden = false;
    button.setAttribute("aria-expanded", "true");
  }
  if (element) {
    if (!route) {
      state.modeler.get("canvas").scrollToElement(element);
    }
    state.modeler.get("selection").select(element);
  }
}

function clearRoute() {
  const canvas = state.modeler.get("canvas");
  state.modeler.get("overlays").remove({ type: "mc-route" });
  for (const id of state.routeIds) {
    if (state.modeler.get("elementRegistry").get(id)) {
      canvas.removeMarker(id, "mc-route");
    }
  }
  state.routeIds = [];
  const selected = state.selectedProblem;
  if (selected) {
    selected.classList.remove("mc-problem-selected");
    for (const list of selected.querySelectorAll(".mc-route")) {
      list.hidden = true;
    }
    for (const button of selected.querySelectorAll("button[aria-expanded]")) {
      button.setAttribute("aria-expanded", "false");
    }
  }
  state.selectedProblem = null;
}

function drawRoute(path) {
  const canvas = state.modeler.get("canvas");
  const overlays = state.modeler.get("overlays");
  // One badge per element, with every number at which the route passes it (a loop: "3, 7").
  const numbers = new Map();
  path.forEach((hop, index) => {
    const element = elementFor(hop.step);
    if (!element) {
      return;
    }
    if (!numbers.has(element.id)) {
      numbers.set(element.id, []);
    }
    numbers.get(element.id).push(index + 1);
  });
  const boxes = [];
  for (const [id, steps] of numbers) {
    const element = state.modeler.get("elementRegistry").get(id);
    boxes.push(element.waypoints ? null : element);
    canvas.addMarker(id, "mc-route");
    state.routeIds.push(id);
    overlays.add(id, "mc-route", {
      position: { bottom: 10, left: -10 },
      html: el("span", { className: "mc-route-badge", "data-steps": steps.join(",") }, steps.join(", ")),
    });
  }
  // The whole route in view, as large as fits.
  const shapes = boxes.filter(Boolean);
  if (shapes.length) {
    const x = Math.min(...shapes.map((s) => s.x));
    const y = Math.min(...shapes.map((s) => s.y));
    fitBox({ x, y, width: Math.max(...shapes.map((s) => s.x + s.width)) - x,
      height: Math.max(...shapes.map((s) => s.y + s.height)) - y }, null, true);
  }
}

function routeList(path) {
  const box = el("div", { className: "mc-route", hidden: "" },
    el("p", { className: "mc-route-title" }, t("route_title")));
  const list = el("ol", { className: "mc-route-steps" });
  path.forEach((hop) => {
    const element = elementFor(hop.step);
    const label = element ? labelOf(element) : "‘" + hop.step + "’";
    const answers = Object.entries(hop.data || {}).map(([name, value]) =>
      el("span", { className: "mc-answer", title: fieldLabel(name) || null },
        name + ": " + showValue(value)));
    const step = el("li", { className: "mc-route-step", "data-step": hop.step },
      el("span", { className: "mc-route-step-label" }, label));
    if (answers.length) {
      step.append(" — ");
      answers.forEach((answer, i) => step.append(...(i ? ["; ", answer] : [answer])));
    }
    list.append(step);
  });
  box.append(list);
  return box;
}

function showValue(value) {
  if (value === true) {
    return t("yes");
  }
  if (value === false) {
    return t("no");
  }
  if (value === null || value === undefined || value === "") {
    return t("empty");
  }
  if (Array.isArray(value)) {
    return value.map(showValue).join(", ");
  }
  return String(value);
}

// The question a form field asks, from the camunda:formData of any task in the diagram.
function fieldLabel(name) {
  for (const element of state.modeler.get("elementRegistry").getAll()) {
    const extensions = element.businessObject && element.businessObject.extensionElements;
    for (const value of (extensions && extensions.values) || []) {
      const field = (value.fields || []).find((f) => f.id === name);
      if (field && field.label) {
        return field.label;
      }
    }
  }
  return "";
}

// --- talking to the server -------------------------------------------------------------------

async function payload() {
  const body = { bpmn: await currentXml() };
  const dmn = window.MeldcodeDmnEditor;
  if (dmn && dmn.isDirty && dmn.isDirty()) {
    body.dmn = await dmn.getXML();
  }
  return body;
}

async function post(url, body) {
  const root = state.root;
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      "Accept": "application/json",
      "X-CSRFToken": root.dataset.csrf,
    },
    body: JSON.stringify(body),
  });
  if (response.redirected && response.url.includes("/aanmelden")) {
    // Signed out (idle too long): the edits are still here; say how to keep them.
    return { status: 401, data: { error: t("session_expired") } };
  }
  let data = {};
  try {
    data = await response.json();
  } catch (ignored) {
    data = { error: t("server_error") };
  }
  return { status: response.status, data };
}

async function check() {
  status(t("checking"), "info");
  const { status: code, data } = await post(state.root.dataset.checkUrl, await payload());
  if (code !== 200) {
    status(data.error || t("server_error"), "error");
    return null;
  }
  showProblems(data.problems || []);
  if (data.ok) {
    status(t("check_ok"), "ok");
  } else {
    status(t("check_failed", { count: data.problems.length }), "error");
  }
  return data;
}

function changeList(groups) {
  const box = el("div", { className: "mc-changes" });
  for (const group of groups) {
    box.append(el("h3", { className: "h4" }, group.titel));
    const list = el("ul");
    for (const change of group.wijzigingen) {
      list.append(el("li", null,
        el("strong", null, change.id), " ",
        el("span", { className: "mc-change-kind mc-change-" + change.wijziging }, change.wijziging_tekst || change.wijziging),
        change.omschrijving ? el("span", { className: "mc-change-text" }, ": " + change.omschrijving) : null));
    }
    box.append(list);
  }
  return box;
}

async function askToPublish() {
  const result = await check();
  if (!result) {
    return;
  }
  if (!result.ok) {
    status(t("publish_refused_check", { count: result.problems.length }), "error");
    return;
  }
  const dialog = $("mc-confirm");
  const body = $("mc-confirm-changes");
  body.textContent = "";
  if (result.same_as_version) {
    body.append(el("p", null, t("same_as_version", { version: result.same_as_version })));
  } else if (!result.changes.length) {
    body.append(el("p", null, t("layout_only")));
  } else {
    body.append(el("p", null, t("changes_intro", {
      count: result.changes.length, version: result.active_version,
    })));
    body.append(changeList(result.groups));
  }
  dialog.showModal();
}

async function publish() {
  $("mc-confirm").close();
  status(t("publishing"), "info");
  const { status: code, data } = await post(state.root.dataset.publishUrl, await payload());
  if (code === 201 || code === 200) {
    clearProblems();
    setDirty(false);
    const dmn = window.MeldcodeDmnEditor;
    if (dmn && dmn.markSaved) {
      dmn.markSaved();
    }
    $("mc-active-version").textContent = String(data.version);
    const message = data.created ? t("published", { version: data.version })
      : t("published_existing", { version: data.version });
    status(message, "ok");
    return;
  }
  if (code === 422 && Array.isArray(data.errors)) {
    showProblems(data.errors);
    status(t("publish_refused", { count: data.errors.length }), "error");
    return;
  }
  status(data.error || t("server_error"), "error");
}

async function download() {
  const xml = await currentXml();
  const link = el("a", {
    href: URL.createObjectURL(new Blob([xml], { type: "application/xml" })),
    download: state.fileName,
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function upload(event) {
  const file = event.target.files && event.target.files[0];
  if (!file) {
    return;
  }
  const xml = await file.text();
  event.target.value = "";
  if (await load(xml, file.name)) {
    state.fileName = file.name.toLowerCase().endsWith(".bpmn") ? file.name : file.name + ".bpmn";
    setDirty(true);
    status(t("opened", { name: file.name }), "info");
  }
}

// --- start -----------------------------------------------------------------------------------

function readJson(id) {
  const block = $(id);
  return block ? JSON.parse(block.textContent) : {};
}

async function init() {
  const root = $("mc-modeler");
  if (!root) {
    return;
  }
  state.root = root;
  state.texts = readJson("mc-texts");
  state.source = readJson("mc-source");
  state.fileName = state.source.bpmn_name || "meldcode.bpmn";
  $("mc-canvas").textContent = "";
  state.modeler = new BpmnModeler({
    container: "#mc-canvas",
    propertiesPanel: {
      parent: "#mc-properties",
      // What a process owner edits most, open from the start: the name and description,
      // the condition of a flow, the form fields of a task.
      layout: {
        groups: {
          general: { open: true },
          documentation: { open: true },
          CamundaPlatform__Condition: { open: true },
          CamundaPlatform__Form: { open: true },
        },
      },
    },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      CamundaBehaviorsModule,
      ProductElementsModule,
      DutchModule, // after the modules above: its `translate` replaces the English one
    ],
    moddleExtensions: { camunda: camundaModdle },
  });
  state.modeler.on("commandStack.changed", (event) => {
    if (event.trigger !== "clear") { // an import clears the stack: not an edit
      setDirty(true);
    }
  });
  await load(state.source.bpmn || "", state.fileName);
  setDirty(false);

  $("mc-check").addEventListener("click", () => check().catch(failed));
  $("mc-publish").addEventListener("click", () => askToPublish().catch(failed));
  $("mc-confirm-yes").addEventListener("click", () => publish().catch(failed));
  $("mc-confirm-no").addEventListener("click", () => $("mc-confirm").close());
  $("mc-download").addEventListener("click", () => download().catch(failed));
  $("mc-upload").addEventListener("change", (event) => upload(event).catch(failed));
  for (const button of root.querySelectorAll("button[disabled]")) {
    button.disabled = false;
  }
  window.addEventListener("beforeunload", (event) => {
    if (state.dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  root.dataset.state = "ready";
}

function failed(err) {
  status(t("server_error") + " " + ((err && err.message) || ""), "error");
}

export function instance() {
  return state.modeler;
}

// The problem list as the page shows it after "Controleren" (for a check by hand in the console
// and for the browser test of witness routes until the proof fills them).
export function renderProblems(problems) {
  showProblems(problems);
}

export function markDirty() {
  setDirty(true);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => init().catch(failed));
} else {
  init().catch(failed);
}
