/* The case diagram: bpmn-js NavigatedViewer with the path of the case marked.
   Data comes from the page: data-src (the BPMN XML of the case's process version) and
   data-markers (the id of a JSON block with done, current and skipped element ids). */
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "./diagram.css";

const MARKERS = { done: "mc-done", skipped: "mc-skipped", current: "mc-current" };

async function show(container) {
  const block = document.getElementById(container.dataset.markers);
  const { mark } = await mount(container, container.dataset.src);
  mark(block ? JSON.parse(block.textContent) : {});
}

function init() {
  document.querySelectorAll(".diagram[data-src]").forEach((container) => {
    show(container).catch(() => {
      container.dataset.state = "error";
      container.textContent = container.dataset.error || "Diagram niet beschikbaar.";
    });
  });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", init);
} else {
  init();
}

/* For a page that changes the marks after drawing (the auditor's step-through):
   MeldcodeViewer.mount(container, src) draws the BPMN XML at src and resolves to
   { viewer, mark(path) }; mark replaces all marks with path's done, skipped and current. */
export async function mount(container, src) {
  const response = await fetch(src, { credentials: "same-origin" });
  if (!response.ok) {
    throw new Error("diagram " + response.status);
  }
  const xml = await response.text();
  container.textContent = "";
  const viewer = new NavigatedViewer({ container });
  await viewer.importXML(xml);
  const canvas = viewer.get("canvas");
  const registry = viewer.get("elementRegistry");
  let marked = [];
  function mark(path) {
    for (const [id, marker] of marked) {
      canvas.removeMarker(id, marker);
    }
    marked = [];
    for (const kind of ["done", "skipped", "current"]) {
      for (const id of (path && path[kind]) || []) {
        if (registry.get(id)) {
          canvas.addMarker(id, MARKERS[kind]);
          marked.push([id, MARKERS[kind]]);
        }
      }
    }
  }
  const inner = canvas.viewbox().inner;
  if (inner.width > 0) {
    const height = container.clientWidth * (inner.height / inner.width) + 48;
    container.style.height = Math.round(Math.min(Math.max(height, 280), 720)) + "px";
    canvas.resized();
  }
  canvas.zoom("fit-viewport", "auto");
  container.classList.add("diagram-ready");
  container.dataset.state = "ready";
  return { viewer, mark };
}
