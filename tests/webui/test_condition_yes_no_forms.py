"""A required_when over a ja/nee field written other than `x == True` (issue 14, a fresh
tester): the bare name, `not x`, `x is True`, `x in [1]`, `x == True == 1` passed meldcode check
and ran right on the server, but the task page got no data-when for them, so the field was
always shown and marked '(verplicht)' while the server did not ask it. Now each form the check
accepts reaches the page as the same rule, and the check refuses the rest with a Dutch finding
that says how to write it."""

from __future__ import annotations

import pytest

from engine import form_conditions, forms
from tests.diagram_edits import check_condition

FIELD = "veilig_thuis_contact"
YES_NO = "advies_veilig_thuis"


def checked(condition: str):
    return check_condition(FIELD, "required_when", condition)


def browser_shows(tests: list[dict], answer: bool) -> bool:
    """What webui/static/js/app.js decides from data-when: every test holds."""
    return all((answer == t["value"]) == (t["op"] == "==") for t in tests)


@pytest.mark.parametrize(
    "condition",
    [
        YES_NO,
        f"not {YES_NO}",
        f"{YES_NO} is True",
        f"{YES_NO} is not False",
        f"{YES_NO} is False",
        f"{YES_NO} in [1]",
        f"{YES_NO} in (False,)",
        f"{YES_NO} not in [0]",
        f"{YES_NO} == True == 1",
    ],
)
def test_each_accepted_form_reaches_the_page_as_the_servers_rule(condition):
    from webui import create_app
    from webui.web import simple_condition

    definition, problems = checked(condition)
    assert definition is not None, [str(p) for p in problems]
    step_fields = definition.steps["stap2_overleg"].fields
    fields = [f.as_dict() for f in step_fields]
    decided = form_conditions.form_conditions(fields, {})[FIELD]
    assert isinstance(decided, list) and decided, decided
    with create_app({"TESTING": True}).test_request_context():
        on_page = simple_condition(decided, fields)
    assert on_page is not None and on_page["browser"] == decided
    target = next(f for f in step_fields if f.name == FIELD)
    for answer in (True, False):
        # the server asks the field exactly when the page shows it
        assert browser_shows(decided, answer) is forms.is_applicable(target, {YES_NO: answer}), answer


@pytest.mark.parametrize(
    "condition",
    [
        f"{YES_NO} in [True, False]",
        f"{YES_NO} or gesprek_uitzondering == 'geen'",
        f"not ({YES_NO} and gesprek_uitzondering == 'geen')",
        f"{YES_NO} == overleg_met",
        f"{YES_NO} == beroepsgroep",
    ],
)
def test_a_form_the_page_cannot_follow_is_refused_by_the_check(condition):
    definition, problems = checked(condition)
    found = [str(p) for p in problems if f"het ja/nee-veld '{YES_NO}'" in str(p)]
    assert definition is None and found, [str(p) for p in problems]
    assert f"'{YES_NO} == True'" in found[0]
