/* The heatmap of the management overview (management/overview.html): the active version's
   diagram (MeldcodeViewer.mount from the viewer bundle) with, on every step that cases
   reached, an overlay with the count and a colour from light to dark (classes heat-1 to
   heat-4, set as markers). The counts and colour classes come from the JSON block named by
   data-heatmap; the words from the container's data-label-* attributes. Without JavaScript
   the table under the diagram shows the same counts. */
(function () {
  "use strict";

  function init() {
    var container = document.querySelector(".diagram[data-heatmap-src]");
    if (!container || !window.MeldcodeViewer) { return; }
    var block = document.getElementById(container.getAttribute("data-heatmap"));
    var figures = block ? JSON.parse(block.textContent) : { counts: {}, heat: {} };
    var word = container.getAttribute("data-label-count") || "";
    window.MeldcodeViewer.mount(container, container.getAttribute("data-heatmap-src"))
      .then(function (shown) {
        var viewer = shown.viewer;
        var canvas = viewer.get("canvas");
        var overlays = viewer.get("overlays");
        var registry = viewer.get("elementRegistry");
        Object.keys(figures.counts).forEach(function (id) {
          var element = registry.get(id);
          if (!element) { return; }  // a step of another version only: in the table
          var count = figures.counts[id];
          canvas.addMarker(id, "heat-" + (figures.heat[id] || 0));
          var badge = document.createElement("span");
          badge.className = "heat-count heat-count-" + (figures.heat[id] || 0);
          badge.setAttribute("data-element", id);
          badge.textContent = String(count);
          badge.title = count + " " + word;
          overlays.add(id, "heat", { position: { top: -12, right: 12 }, html: badge });
        });
        container.setAttribute("data-heatmap-state", "ready");
      })
      .catch(function () {
        container.setAttribute("data-state", "error");
        container.textContent = container.getAttribute("data-error") || "";
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
