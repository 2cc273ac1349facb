"""The task page and the server read one answer the same way (issue 14, a fresh tester).

A text answer 'x' followed by U+001F (or U+0085) was stripped to 'x' by the server
(str.strip() drops U+001C-001F and U+0085) and kept whole by the page's JavaScript trim(), so a
condition `overleg_met == 'x'` held on the server and not on the page: the server then required
a field the page hid. The server now drops exactly what trim() drops (engine/form_text.py) and
refuses the control character like any other. And a condition over a number field (camunda
"long") of the same form was refused by `meldcode check` as one the page cannot follow, though
the page follows integer tests: the check now reads the field's type as the page gets it."""

from __future__ import annotations

import pytest
from lxml import etree

from engine import form_conditions
from engine.form_text import clean_text
from tests.diagram_edits import check_tree, one, set_property, shipped_tree

CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
# ECMA-262 String.prototype.trim: WhiteSpace and LineTerminator code points, but for the byte
# order mark U+FEFF, which the server refuses by name (issue 11 point 3)
JS_TRIMMED = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)


@pytest.mark.parametrize("control", ["\x1c", "\x1d", "\x1e", "\x1f", "\x85"])
def test_a_control_character_at_the_end_is_refused_not_stripped(control):
    with pytest.raises(ValueError, match="stuurteken"):
        clean_text("x" + control)
    with pytest.raises(ValueError, match="stuurteken"):
        clean_text(control + "x", multiline=True)


def test_a_byte_order_mark_is_refused_by_name():
    with pytest.raises(ValueError, match="onzichtbaar teken"):
        clean_text("\ufeffJansen")


@pytest.mark.parametrize("space", list(JS_TRIMMED))
def test_what_the_page_trims_the_server_drops(space):
    assert clean_text(space + "x" + space) == "x"


def test_a_condition_over_a_number_field_of_the_form_reaches_the_page():
    root = shipped_tree()
    form = one(root, "//bpmn:userTask[@id='stap1_signalen']//camunda:formData")
    etree.SubElement(form, f"{{{CAMUNDA}}}formField", id="getal", label="Getal", type="long")
    set_property(root, "letselduiding", "required_when", "getal == 5")
    _definition, problems = check_tree(root)
    unshown = [str(p) for p in problems if "niet kan volgen" in str(p) or "niet volgen" in str(p)]
    assert unshown == []
    rule = form_conditions.decide("getal == 5", [{"name": "getal", "type": "integer"}], {})
    assert rule == [{"field": "getal", "op": "==", "value": 5, "type": "integer"}]
