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
  const { mark, focus } = await mount(container, container.dataset.src);
  const path = block ? JSON.parse(block.textContent) : {};
  mark(path);
  // On a small screen the whole diagram is too small to read: start at the current step.
  if (container.clientWidth < NARROW) {
    focus([...(path.current || []), ...(path.done || []).slice(-1)][0]);
  }
}

const NARROW = 640; // px: below this width the diagram opens zoomed in, not fitted
const READABLE = 0.8; // the zoom at which a task's name reads on a phone
const STEP = 0.25; // one zoom step: a quarter larger or smaller
const PAN = 120; // px per pan step

/* The zoom and pan buttons (a toolbar over the diagram): labels from the container's
   data-label-* attributes (the page's language), so no text lives in this file. */
function controls(container, canvas, fit) {
  const labels = container.dataset;
  const bar = document.createElement("div");
  bar.className = "diagram-controls";
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", labels.labelControls || "Diagram");
  const zoomBy = (factor) => {
    const scale = Math.min(Math.max(canvas.zoom() * factor, 0.2), 4);
    canvas.zoom(scale, "auto");
  };
  const buttons = [
    ["in", "+", () => zoomBy(1 + STEP)],
    ["out", "\u2212", () => zoomBy(1 / (1 + STEP))],
    ["fit", "\u2922", fit],
    ["left", "\u2190", () => canvas.scroll({ dx: PAN, dy: 0 })],
    ["right", "\u2192", () => canvas.scroll({ dx: -PAN, dy: 0 })],
    ["up", "\u2191", () => canvas.scroll({ dx: 0, dy: PAN })],
    ["down", "\u2193", () => canvas.scroll({ dx: 0, dy: -PAN })],
  ];
  for (const [name, symbol, act] of buttons) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "diagram-control diagram-" + name;
    button.dataset.control = name;
    button.textContent = symbol;
    const label = labels["label" + name[0].toUpperCase() + name.slice(1)] || name;
    button.setAttribute("aria-label", label);
    button.title = label;
    button.addEventListener("click", act);
    bar.appendChild(button);
  }
  container.appendChild(bar);
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
  if (container.clientWidth < NARROW) {
    // a phone: a tall frame that the reader zooms and pans in
    container.style.height = Math.round(Math.min(Math.max(window.innerHeight * 0.6, 320), 520)) + "px";
    canvas.resized();
  } else if (inner.width > 0) {
    const height = container.clientWidth * (inner.height / inner.width) + 48;
    container.style.height = Math.round(Math.min(Math.max(height, 280), 720)) + "px";
    canvas.resized();
  }
  const fit = () => canvas.zoom("fit-viewport", "auto");
  fit();
  /* focus(id): zoom to a readable size with that element in the middle. */
  function focus(id) {
    const element = id && registry.get(id);
    canvas.zoom(READABLE);
    const box = canvas.viewbox();
    const x = element ? element.x + (element.width || 0) / 2 : box.inner.x + box.width / 2;
    const y = element ? element.y + (element.height || 0) / 2 : box.inner.y + box.height / 2;
    canvas.viewbox({ x: x - box.width / 2, y: y - box.height / 2, width: box.width, height: box.height });
  }
  controls(container, canvas, fit);
  container.classList.add("diagram-ready");
  container.dataset.state = "ready";
  return { viewer, mark, focus };
}
