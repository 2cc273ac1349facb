/* Small progressive enhancements for the Meldcode pages. Every page works without this. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  /* Fields that only apply after some answers (data-when, set by the server from the field's
     required_when once the case data is known: engine/form_conditions.py) are shown only when
     every test in it holds. A hidden field is disabled, so it is not sent; the server
     validates whatever is sent. A test reads an answer as the server does (engine/forms.py
     condition_scope): a disabled (hidden) or empty answer counts as not given, and a field
     not given is read as its "default" (the diagram's default, such as client_niet_bereikt's
     false; never an earlier round's answer); without one the test does not hold. The server refuses an
     answer to a question that is not asked (issue 14b): the talk's reaction after "geen
     vermoeden" was changed to "ja". A field whose invalid_when refuses every answer while
     the tests in data-unless all hold (kindcheck_toelichting without children: 783214a) is
     not asked then either: hidden and disabled the same way. */
  function given(form, name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if (input.disabled) { continue; }
      if (input.type === "radio" || input.type === "checkbox") {
        if (input.checked) { return input.value.trim(); }
      } else {
        return input.value.trim();
      }
    }
    return "";
  }

  /* the answer as the server converts it (engine/forms.py _convert), or undefined */
  function answer(form, test) {
    var text = given(form, test.field);
    if (text === "") { return undefined; }
    if (test.type === "boolean") {
      var lower = text.toLowerCase();
      if (["ja", "true", "1"].indexOf(lower) >= 0) { return true; }
      if (["nee", "false", "0"].indexOf(lower) >= 0) { return false; }
      return undefined;
    }
    if (test.type === "integer") {
      return /^[+-]?\d+$/.test(text) ? parseInt(text, 10) : undefined;
    }
    return text;
  }

  function holds(form, test) {
    var value = answer(form, test);
    if (value === undefined) {
      if (!Object.prototype.hasOwnProperty.call(test, "default")) { return false; }
      value = test["default"];
    }
    var equal = value === test.value;
    return test.op === "==" ? equal : !equal;
  }

  /* whether every test in the wrapper's attribute holds; null when it is unreadable */
  function allHold(form, wrapper, attribute) {
    var tests;
    try {
      tests = JSON.parse(wrapper.getAttribute(attribute));
    } catch (e) {
      return null;
    }
    if (!Array.isArray(tests)) { return null; }
    for (var i = 0; i < tests.length; i++) {
      if (!holds(form, tests[i])) { return false; }
    }
    return true;
  }

  /* asked: data-when holds and data-unless does not (unreadable: shown, the server decides) */
  function applies(form, wrapper) {
    if (wrapper.hasAttribute("data-when") && allHold(form, wrapper, "data-when") === false) {
      return false;
    }
    return !(wrapper.hasAttribute("data-unless") && allHold(form, wrapper, "data-unless") === true);
  }

  function setShown(wrapper, show) {
    wrapper.hidden = !show;
    /* data-when: required when shown; a field with data-unless only keeps what it says */
    var conditional = wrapper.hasAttribute("data-when");
    var controls = wrapper.querySelectorAll("input, textarea, select");
    for (var j = 0; j < controls.length; j++) {
      controls[j].disabled = !show;
      if (conditional && controls[j].type !== "radio" && controls[j].type !== "checkbox") {
        controls[j].setAttribute("aria-required", show ? "true" : "false");
      }
    }
    var group = wrapper.querySelector("[role=radiogroup]");
    if (group && conditional) { group.setAttribute("aria-required", show ? "true" : "false"); }
  }

  /* Whether the field holds an answer that is lost when it is not sent: a text, a date, a
     number, a choice in a list, a ticked box, or a choice of a radio button other than the
     diagram's default (data-default: the server reads that default for a field not asked,
     so nothing is lost). What the page opened with counts as much as what was typed: an
     answer from a draft or kept on a page shown again after a 422 is dropped the same way
     (issue 14: only a change since the page opened was named). */
  function filledIn(wrapper) {
    var controls = wrapper.querySelectorAll("input, textarea, select");
    for (var i = 0; i < controls.length; i++) {
      var control = controls[i];
      if (control.type === "radio") {
        if (control.checked && !control.hasAttribute("data-default")) { return true; }
      } else if (control.type === "checkbox") {
        if (control.checked) { return true; }
      } else if (control.value.trim() !== "") {
        return true;
      }
    }
    return false;
  }

  /* the field's question as its label or legend says it, without "(verplicht)" */
  function question(wrapper) {
    var label = wrapper.querySelector("legend, label").cloneNode(true);
    var markers = label.querySelectorAll(".req, .opt");
    for (var i = 0; i < markers.length; i++) { markers[i].remove(); }
    return label.textContent.replace(/\s+/g, " ").trim();
  }

  /* A hidden field is disabled, so what was filled in there is not sent: not saved with "Stap
     afronden" nor with "Concept opslaan" (issue 14: it was dropped without a word). The notice
     (data-unsaved) names each such question while the page is open; the text stays in the
     hidden control, so undoing the answer that hid it brings it back. */
  function warnUnsaved(form, wrappers) {
    var notice = form.querySelector("[data-unsaved]");
    if (!notice) { return; }
    var names = [];
    for (var i = 0; i < wrappers.length; i++) {
      if (wrappers[i].hidden && filledIn(wrappers[i])) { names.push(question(wrappers[i])); }
    }
    if (names.join("\n") === notice.getAttribute("data-unsaved")) { return; }
    notice.setAttribute("data-unsaved", names.join("\n"));
    var list = notice.querySelector("ul");
    list.textContent = "";
    names.forEach(function (name) {
      var item = document.createElement("li");
      item.textContent = name;
      list.appendChild(item);
    });
    notice.hidden = names.length === 0;
  }

  function update(form) {
    var wrappers = form.querySelectorAll("[data-when], [data-unless]");
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
    warnUnsaved(form, wrappers);
  }

  function init() {
    var forms = document.querySelectorAll("form.task-form");
    Array.prototype.forEach.call(forms, function (form) {
      if (!form.querySelector("[data-when], [data-unless]")) { return; }
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
