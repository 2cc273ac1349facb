"""A required_when `x == 1` on a ja/nee field (issue 14, a fresh tester): the check and the
running case accept it (the evaluator holds True == 1, 740cefe), but the task page got no
data-when for it, so the field was always shown and marked '(verplicht)', also after 'nee'.
engine.form_conditions.decide now gives the browser 1/0 on a ja/nee field as true/false, and
webui.web.simple_condition turns that into the data-when app.js checks."""

from __future__ import annotations

import pytest

from engine import definitions, expressions, form_conditions
from engine.definitions import SourceFile
from tests.diagram_edits import SHIPPED_DMN, as_bytes, set_property, shipped_tree

FIELD = "veilig_thuis_contact"


def stap2_fields(condition: str) -> list[dict]:
    root = shipped_tree()
    set_property(root, FIELD, "required_when", condition)
    files = [
        SourceFile("meldcode.bpmn", as_bytes(root)),
        SourceFile(SHIPPED_DMN.name, SHIPPED_DMN.read_bytes()),
    ]
    definition, problems = definitions.check(files, prove=False)
    assert definition is not None, [str(p) for p in problems]
    return [f.as_dict() for f in definition.steps["stap2_overleg"].fields]


@pytest.mark.parametrize(
    ("condition", "op", "value"),
    [
        ("advies_veilig_thuis == 1", "==", True),
        ("advies_veilig_thuis == 0", "==", False),
        ("advies_veilig_thuis != 1", "!=", True),
        ("1 == advies_veilig_thuis", "==", True),
    ],
)
def test_one_or_zero_on_a_yes_no_field_reaches_the_browser_as_true_or_false(condition, op, value):
    from webui import create_app
    from webui.web import simple_condition

    fields = stap2_fields(condition)
    decided = form_conditions.form_conditions(fields, {})[FIELD]
    assert isinstance(decided, list) and len(decided) == 1, decided
    test = decided[0]
    assert (test["field"], test["op"], test["value"], test["type"]) == (
        "advies_veilig_thuis",
        op,
        value,
        "boolean",
    )
    assert test["value"] is value  # app.js compares with ===: 1 would never equal true
    # what the browser decides is what the evaluator decides, for each answer
    for answer in (True, False):
        shown = (answer == test["value"]) == (op == "==")
        assert shown is expressions.evaluate(condition, {"advies_veilig_thuis": answer}), answer
    with create_app({"TESTING": True}).test_request_context():
        condition_of_page = simple_condition(decided, fields)
    assert condition_of_page is not None
    assert condition_of_page["browser"] == decided
    assert condition_of_page["value"] == ("ja" if value else "nee")
