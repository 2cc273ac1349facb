/* The auditor's step-through of a case's history (audit/history.html).

   Without JavaScript the page lists every event with the case as it was then. With it, one
   event is shown at a time, chosen with the slider, the previous/next buttons, the list of
   events (arrow keys move through it) or the address (#gebeurtenis-N); the bpmn-js diagram
   (MeldcodeViewer.mount from the viewer bundle) is marked as the case was at that event.
   The marks per event come from the JSON block named by data-frames. */
(function () {
  "use strict";

  function init() {
    var root = document.querySelector("[data-stepper]");
    if (!root) { return; }
    var block = document.getElementById(root.getAttribute("data-frames"));
    if (!block) { return; }
    var markers = JSON.parse(block.textContent);
    var count = markers.length;
    if (!count) { return; }
    var sections = root.querySelectorAll("section.frame[data-frame]");
    var links = root.querySelectorAll(".frame-list a[data-frame]");
    var slider = root.querySelector("input[type=range]");
    var status = root.querySelector(".stepper-status");
    var moves = root.querySelectorAll("[data-move]");
    var diagram = root.querySelector(".diagram[data-history-src]");
    var mark = null;
    var current = count;

    function title(n) {
      var link = root.querySelector('.frame-list a[data-frame="' + n + '"] .frame-label');
      return link ? link.textContent.replace(/\s+/g, " ").trim() : "";
    }

    function show(n, how) {
      n = Math.max(1, Math.min(count, n));
      current = n;
      Array.prototype.forEach.call(sections, function (section) {
        section.hidden = Number(section.getAttribute("data-frame")) !== n;
      });
      Array.prototype.forEach.call(links, function (link) {
        if (Number(link.getAttribute("data-frame")) === n) {
          link.setAttribute("aria-current", "step");
          keepInView(link);
        } else {
          link.removeAttribute("aria-current");
        }
      });
      var text = n + " / " + count + ": " + title(n);
      slider.value = String(n);
      slider.setAttribute("aria-valuetext", text);
      moves.forEach(function (button) {
        var step = Number(button.getAttribute("data-move"));
        button.disabled = (step < 0 && n === 1) || (step > 0 && n === count);
      });
      status.textContent = text;
      root.setAttribute("data-frame", String(n));
      if (mark) {
        mark(markers[n - 1]);
        diagram.setAttribute("data-frame", String(n));
      }
      if (how !== "hash" && window.history && window.history.replaceState) {
        window.history.replaceState(null, "", "#gebeurtenis-" + n);
      }
    }

    /* Scroll the list of events (not the page) so the chosen one shows. */
    function keepInView(link) {
      var list = link.closest(".frame-list");
      if (!list || list.scrollHeight <= list.clientHeight) { return; }
      var top = link.getBoundingClientRect().top - list.getBoundingClientRect().top + list.scrollTop;
      if (top < list.scrollTop) {
        list.scrollTop = top;
      } else if (top + link.offsetHeight > list.scrollTop + list.clientHeight) {
        list.scrollTop = top + link.offsetHeight - list.clientHeight;
      }
    }

    function fromHash() {
      var found = /^#gebeurtenis-(\d+)$/.exec(window.location.hash);
      return found ? Number(found[1]) : null;
    }

    root.classList.add("stepper-live");
    slider.addEventListener("input", function () { show(Number(slider.value)); });
    moves.forEach(function (button) {
      button.addEventListener("click", function () {
        show(current + Number(button.getAttribute("data-move")));
      });
    });
    Array.prototype.forEach.call(links, function (link, index) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        show(Number(link.getAttribute("data-frame")));
      });
      link.addEventListener("keydown", function (event) {
        var to = null;
        if (event.key === "ArrowDown" || event.key === "ArrowRight") { to = index + 1; }
        else if (event.key === "ArrowUp" || event.key === "ArrowLeft") { to = index - 1; }
        else if (event.key === "Home") { to = 0; }
        else if (event.key === "End") { to = links.length - 1; }
        if (to === null || to < 0 || to >= links.length) { return; }
        event.preventDefault();
        links[to].focus();
        show(Number(links[to].getAttribute("data-frame")));
      });
    });
    window.addEventListener("hashchange", function () {
      var n = fromHash();
      if (n) { show(n, "hash"); }
    });
    show(fromHash() || count, "hash");

    if (diagram && window.MeldcodeViewer && window.MeldcodeViewer.mount) {
      window.MeldcodeViewer.mount(diagram, diagram.getAttribute("data-history-src"))
        .then(function (viewer) {
          mark = viewer.mark;
          show(current, "hash");
        })
        .catch(function () {
          diagram.setAttribute("data-state", "error");
          diagram.textContent = diagram.getAttribute("data-error") || "Diagram niet beschikbaar.";
        });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
