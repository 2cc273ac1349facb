"""Issue 14, the form findings of a fresh tester (engine/forms.py, form_conditions.py,
condition_values.py, form_checks.py):

- F2: in a task done a second time, a condition read the earlier round's answer (case data)
  before this round's default: `voorbespreken_niet_bereikt` true at the first melding made the
  talk optional at the second, though the field was left at its 'nee';
- F3: `meldcode check` echoed a diagram's value as it stood: a newline in a defaultValue (or a
  date bound, or a property's name) made up a finding line of its own;
- F4: `advies_veilig_thuis == 1` was refused by the check ("kan die waarde nooit hebben")
  while the evaluator holds True == 1: now both accept it (2 stays refused by both)."""

from __future__ import annotations

import pytest

from engine import definitions, expressions, form_conditions, forms
from engine.definitions import SourceFile
from tests.diagram_edits import (
    SHIPPED_DMN,
    add_property,
    as_bytes,
    cli_finding,
    problems_of,
    set_default,
    set_property,
    shipped_tree,
)

DEFINITION = definitions.load(definitions.shipped_files())
# the first melding: the client could not be reached, also not before the melding
FIRST_ROUND = {
    "client_niet_bereikt": True,
    "voorbespreken_niet_bereikt": True,
    "voorbespreken_pogingen": "Twee keer gebeld, een brief gestuurd",
}
TALK = {"voorbespreken_met_wie", "voorbespreken_reactie_client"}


def errors_of(fields: list[forms.Field], data: dict, context: dict) -> dict[str, str]:
    with pytest.raises(forms.FormInvalid) as caught:
        forms.validate(fields, data, context=context)
    return caught.value.errors


def test_a_task_done_again_reads_this_rounds_default_not_the_earlier_answer():
    fields = forms.shown_fields(DEFINITION.steps["melding_voorbespreken"].fields, FIRST_ROUND)
    # the second melding: 'ook nu niet te bereiken' left empty is its default 'nee' this time,
    # so the talk is asked and the attempts are not
    errors = errors_of(fields, {}, FIRST_ROUND)
    assert TALK <= set(errors) and "voorbespreken_pogingen" not in errors, errors
    assert all(errors[name] == forms.REQUIRED for name in TALK)
    # what is recorded for the empty field and what the conditions read are the same 'nee'
    answers = {"voorbespreken_met_wie": ["client"], "voorbespreken_reactie_client": "Begrip"}
    clean = forms.validate(fields, answers, context=FIRST_ROUND)
    assert clean["voorbespreken_niet_bereikt"] is False and "voorbespreken_pogingen" not in clean
    # this round's answer still counts
    again = {"voorbespreken_niet_bereikt": True, "voorbespreken_pogingen": "Huisbezoek, niemand thuis"}
    assert forms.validate(fields, again, context=FIRST_ROUND)["voorbespreken_niet_bereikt"] is True
    # the web form is told the same: left empty, the field reads as its default
    decided = form_conditions.form_conditions([f.as_dict() for f in fields], FIRST_ROUND)
    assert decided["voorbespreken_pogingen"] == [
        {
            "field": "voorbespreken_niet_bereikt",
            "op": "==",
            "value": True,
            "type": "boolean",
            "default": False,
        }
    ]


def test_a_newline_in_a_default_value_makes_no_finding_line_of_its_own(tmp_path):
    root = shipped_tree()
    fake = "meldcode.bpmn:1: defaultValue is in orde"
    set_default(root, "overleg_met", f"collega\n{fake}")
    # one line names the defaultValue (cli_finding asserts it), the newline written as \n
    path, number, message = cli_finding(tmp_path, as_bytes(root), ["defaultValue"])
    assert f"heeft defaultValue 'collega\\n{fake}'" in message, message


@pytest.mark.parametrize(
    ("plant", "shown"),
    [
        (lambda root: add_property(root, "igj_melddatum", "not_before", "today\rx"), "'today\\rx'"),
        (lambda root: add_property(root, "overleg_met", "help\nfoo", "Uitleg"), "'help\\nfoo'"),
        (lambda root: set_default(root, "vermoeden", "nee\u2028ja"), "'nee\\u2028ja'"),
    ],
    ids=["date bound", "property name", "line separator"],
)
def test_diagram_text_in_a_finding_is_escaped(plant, shown):
    root = shipped_tree()
    plant(root)
    found = problems_of(root)
    assert [p for p in found if shown in p], found
    assert not [p for p in found if len(p.splitlines()) != 1], found


def _with_condition(condition: str):
    root = shipped_tree()
    set_property(root, "veilig_thuis_contact", "required_when", condition)
    files = [
        SourceFile("meldcode.bpmn", as_bytes(root)),
        SourceFile(SHIPPED_DMN.name, SHIPPED_DMN.read_bytes()),
    ]
    return definitions.check(files, prove=False)


@pytest.mark.parametrize(
    ("condition", "required"), [("advies_veilig_thuis == 1", True), ("advies_veilig_thuis == 0", False)]
)
def test_a_yes_no_field_compared_with_1_or_0_passes_as_the_evaluator_reads_it(condition, required):
    definition, problems = _with_condition(condition)
    assert definition is not None and not problems, [str(p) for p in problems]
    assert expressions.evaluate(condition, {"advies_veilig_thuis": True}) is required
    fields = definition.steps["stap2_overleg"].fields
    answers = _stap2_answers(fields)
    assert answers["advies_veilig_thuis"] is True
    answers.pop("veilig_thuis_contact", None)
    if required:
        assert errors_of(fields, answers, {})["veilig_thuis_contact"] == forms.REQUIRED
    else:
        assert "veilig_thuis_contact" not in forms.validate(fields, answers, context={})
    # a value ja/nee never has stays refused, and never holds
    definition, problems = _with_condition("advies_veilig_thuis == 2")
    assert definition is None and [p for p in problems if "kan die waarde nooit hebben" in str(p)]
    assert expressions.evaluate("advies_veilig_thuis == 2", {"advies_veilig_thuis": True}) is False


def _stap2_answers(fields: list[forms.Field]) -> dict:
    from tests.scenarios.paths import WEGEN, fill

    return fill([f.as_dict() for f in fields], {**WEGEN, "advies_veilig_thuis": True})
