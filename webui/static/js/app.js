/* Small progressive enhancements for the Meldcode pages. Every page works without this. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  /* Fields that only apply after a choice (data-when-field/op/value, set by the server from
     the field's required_when) are shown only when that choice is made. A hidden field is
     disabled, so it is not sent; the server validates whatever is sent. A disabled (hidden)
     answer counts as not given, as on the server, which refuses an answer to a question that
     is not asked (issue 14b): the talk's reaction after "geen vermoeden" was changed to "ja". */
  function currentValue(form, name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    if (!inputs.length) { return undefined; }
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if (input.disabled) { continue; }
      if (input.type === "radio" || input.type === "checkbox") {
        if (input.checked) { return input.value; }
      } else {
        return input.value;
      }
    }
    return "";
  }

  function applies(form, wrapper) {
    var value = currentValue(form, wrapper.getAttribute("data-when-field"));
    if (value === undefined) { return true; } /* the choice is not on this form: show */
    if (value === "") { return false; } /* nothing chosen yet: the condition cannot hold */
    var equal = value === wrapper.getAttribute("data-when-value");
    return wrapper.getAttribute("data-when-op") === "==" ? equal : !equal;
  }

  function setShown(wrapper, show) {
    wrapper.hidden = !show;
    var controls = wrapper.querySelectorAll("input, textarea, select");
    for (var j = 0; j < controls.length; j++) {
      controls[j].disabled = !show;
      if (controls[j].type !== "radio" && controls[j].type !== "checkbox") {
        controls[j].setAttribute("aria-required", show ? "true" : "false");
      }
    }
    var group = wrapper.querySelector("[role=radiogroup]");
    if (group) { group.setAttribute("aria-required", show ? "true" : "false"); }
  }

  function update(form) {
    var wrappers = form.querySelectorAll("[data-when-field]");
    /* a field hidden now hides the fields that depend on it: repeat until nothing changes */
    var changed = true;
    for (var pass = 0; changed && pass <= wrappers.length; pass++) {
      changed = false;
      for (var i = 0; i < wrappers.length; i++) {
        var show = applies(form, wrappers[i]);
        if (wrappers[i].hidden === show) { changed = true; }
        setShown(wrappers[i], show);
      }
    }
  }

  function init() {
    var forms = document.querySelectorAll("form.task-form");
    Array.prototype.forEach.call(forms, function (form) {
      if (!form.querySelector("[data-when-field]")) { return; }
      form.addEventListener("change", function () { update(form); });
      form.addEventListener("input", function () { update(form); });
      update(form);
    });

    var summary = document.getElementById("foutoverzicht");
    if (summary) { summary.focus(); }

    var printButtons = document.querySelectorAll("[data-print]");
    Array.prototype.forEach.call(printButtons, function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
