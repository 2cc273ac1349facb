"""engine/form_conditions.py: a required_when evaluated over the case data, with only this
form's answers left open, decides exactly what engine/forms.py decides with any answers."""

from __future__ import annotations

import itertools

import pytest

from engine import definitions, forms
from engine.form_conditions import decide, form_conditions, refusals
from tests.helpers import step_fields

VGV = "vgv_reden_niet_melden"


def step_fields_of(step: str) -> list[forms.Field]:
    return definitions.load(definitions.shipped_files()).steps[step].fields
STAP4 = {"acute_onveiligheid": False, "structurele_onveiligheid": False}


def stap5(context: dict) -> dict:
    fields = step_fields("stap5_beslissen", context)
    return form_conditions(fields, context)


def test_the_vgv_reason_is_not_asked_in_a_case_without_vgv():
    assert stap5({"beroepsgroep": "sociaal_domein", "geweldsvormen": ["lichamelijk"], **STAP4})[VGV] is False
    # acute unsafety: a melding, never the reason for not reporting
    assert (
        stap5(
            {"beroepsgroep": "sociaal_domein", "geweldsvormen": ["vgv"], **STAP4, "acute_onveiligheid": True}
        )[VGV]
        is False
    )
    # an older case without the forms of violence: the server cannot read it, never asks
    assert stap5({"beroepsgroep": "sociaal_domein", **STAP4})[VGV] is False


def test_with_vgv_the_browser_checks_both_answers_about_help():
    decided = stap5({"beroepsgroep": "sociaal_domein", "geweldsvormen": ["vgv", "psychisch"], **STAP4})
    assert decided[VGV] == [
        {"field": "hulp_mogelijk", "op": "==", "value": True, "type": "boolean"},
        {"field": "hulp_aanvaard", "op": "==", "value": True, "type": "boolean"},
    ]


def test_a_not_equal_test_carries_the_default_the_server_reads():
    fields = step_fields("stap3_gesprek", {"beroepsgroep": "artsen"})
    decided = form_conditions(fields, {"beroepsgroep": "artsen"})
    assert decided["gesprek_met"] == [
        {"field": "client_niet_bereikt", "op": "!=", "value": True, "type": "boolean", "default": False}
    ]
    # an earlier round's answer in the case data is not this round's: left empty, the field
    # reads as its default, as in forms.condition_scope (issue 14)
    decided = form_conditions(fields, {"beroepsgroep": "artsen", "client_niet_bereikt": True})
    assert decided["gesprek_met"][0]["default"] is False


def test_without_case_data_only_a_condition_over_the_form_is_checked():
    fields = [{"name": "a", "type": "boolean"}]
    assert decide("a == True", fields, None) == [{"field": "a", "op": "==", "value": True, "type": "boolean"}]
    assert decide("k == 1 and a == True", fields, None) is None


# --- agreement with the server over every answer ----------------------------------------------

FIELDS = [
    forms.Field("a", "a", "boolean", default=False),
    forms.Field("b", "b", "boolean"),
    forms.Field("e", "e", "enum", options=(forms.Option("x", "x"), forms.Option("y", "y"))),
    forms.Field("n", "n", "integer"),
]
ANSWERS = {"a": (None, True, False), "b": (None, True, False), "e": (None, "x", "y"), "n": (None, 1, 2)}
CONTEXT = {"k": 1, "s": "x", "lijst": ["vgv"], "nul": 0}
CONDITIONS = [
    "a != True",
    "a == True",
    "b != True",
    "e != 'x'",
    "not (e == 'x')",
    "not (a == True)",
    "n == 2",
    "2 == n",
    "k == 1 and a == True and e == 'x'",
    "k == 2 and b == True",
    "'vgv' in lijst and a == False and b == True",
    "'vgv' in onbekend and a == True",  # an unknown name: an error, never holds
    "a == True and onbekend == 1",
    "onbekend == 1 or a == True",  # the error comes first: never holds
    "a == True or onbekend == 1",  # depends on the answer: left to the server
    "k == 1 or b == True",
    "nul == 1 or b == True",
    "not (k == 1 and b == True)",
    "not (k == 2 and b == True)",
    "1 / nul == 1 and a == True",
    "k == 1",
    "k",
    "nul",
    "s == 'x' and (e == 'y' or e == 'x')",
    "a == 'ja'",
    "b",
    "n > 1",
    "lijst and not b == True and k == 1",
]


def _test_holds(test: dict, answers: dict) -> bool:
    """The browser's rule (webui/static/js/app.js holds)."""
    if test["field"] in answers:
        value = answers[test["field"]]
    elif "default" in test:
        value = test["default"]
    else:
        return False
    return (value == test["value"]) == (test["op"] == "==")


@pytest.mark.parametrize("condition", CONDITIONS)
def test_the_decision_agrees_with_the_server_for_every_answer(condition):
    """True and False are what the server decides with any answers; tests hold exactly when
    it holds (None: shown always, nothing to agree on)."""
    fields = [f.as_dict() for f in FIELDS]
    decided = decide(condition, fields, CONTEXT)
    for combination in itertools.product(*ANSWERS.values()):
        answers = {name: v for name, v in zip(ANSWERS, combination, strict=True) if v is not None}
        server = forms.is_applicable(
            forms.Field("x", "x", "string", required_when=condition),
            forms.condition_scope(FIELDS, CONTEXT, answers),
        )
        if decided is True or decided is False:
            assert server is decided, (condition, answers)
        elif decided is not None:
            assert server == all(_test_holds(t, answers) for t in decided), (condition, answers)


def test_what_is_decided_and_what_is_left():
    fields = [f.as_dict() for f in FIELDS]
    expected = {
        "a != True": [{"field": "a", "op": "!=", "value": True, "type": "boolean", "default": False}],
        "not (e == 'x')": [{"field": "e", "op": "!=", "value": "x", "type": "enum"}],
        "k == 2 and b == True": False,
        "'vgv' in onbekend and a == True": False,
        "onbekend == 1 or a == True": False,
        "a == True or onbekend == 1": None,
        "k == 1 or b == True": True,
        # a falsy part before the one open part: the open part decides (issue 14)
        "nul == 1 or b == True": [{"field": "b", "op": "==", "value": True, "type": "boolean"}],
        "not (k == 2 and b == True)": True,
        "k == 1": True,
        "a == 'ja'": None,
        "'vgv' in lijst and a == False and b == True": [
            {"field": "a", "op": "==", "value": False, "type": "boolean", "default": False},
            {"field": "b", "op": "==", "value": True, "type": "boolean"},
        ],
    }
    assert {c: decide(c, fields, CONTEXT) for c in expected} == expected


def test_an_invalid_when_that_refuses_every_answer_is_left_to_the_browser():
    """kindcheck_toelichting is refused while the case has no children (783214a): every
    answer, whatever it says, so the web form hides it while kindcheck_kinderen is 'nee'
    (issue 14 break-it: it stayed visible). An invalid_when over its own answer refuses some
    answers only and is left to the server (kindcheck_kinderen, zorgen_weggenomen)."""
    context = {"beroepsgroep": "sociaal_domein"}
    refused = refusals(step_fields("stap1_signalen", context), context)
    assert refused["kindcheck_toelichting"] == [
        {"field": "kindcheck_kinderen", "op": "==", "value": False, "type": "boolean"}
    ]
    assert "kindcheck_kinderen" not in refused
    doctor = {"beroepsgroep": "artsen"}
    assert "zorgen_weggenomen" not in refusals(step_fields("stap3_gesprek", doctor), doctor)
    # the browser's rule agrees with the server's refusal (engine/forms.py validate)
    fields = forms.shown_fields(step_fields_of("stap1_signalen"), context)
    for kinderen in (True, False):
        answers = {"signalen": "x", "geweldsvormen": ["psychisch"], "kindcheck_kinderen": kinderen,
                   "kindcheck_toelichting": "oma vangt op"}
        if kinderen:
            answers |= {"kinderen_aantal_leeftijden": "1", "kindcheck_opvang_adequaat": True,
                        "kindcheck_bescherming": True}
        try:
            forms.validate(fields, answers, context=context)
            server = False
        except forms.FormInvalid as invalid:
            server = "kindcheck_toelichting" in invalid.errors
        browser = all(_test_holds(t, answers) for t in refused["kindcheck_toelichting"])
        assert server is browser is (not kinderen)
