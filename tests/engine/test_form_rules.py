"""The one validation every door uses (engine.forms.validate) on the shipped forms: rules
read from the BPMN (invalid_when, required_when) and blank text as missing text."""

from __future__ import annotations

import pytest

from engine import definitions, forms

DEFINITION = definitions.load(definitions.shipped_files())
STAP4 = DEFINITION.steps["stap4_wegen"].fields
GOOD = {"weging": "Zorgelijk", "vermoeden": True, "acute_onveiligheid": False,
        "structurele_onveiligheid": True}


def errors_of(fields, data, **kw) -> dict[str, str]:
    with pytest.raises(forms.FormInvalid) as caught:
        forms.validate(fields, data, **kw)
    return caught.value.errors


def test_the_contradiction_is_a_rule_of_the_form():
    rules = {f.name: f.invalid_when for f in STAP4 if f.invalid_when}
    assert set(rules) == {"vermoeden", "acute_onveiligheid", "structurele_onveiligheid"}
    answers = {**GOOD, "vermoeden": False, "weging_besproken_client": True,
               "weging_reactie_client": "Begrip"}
    assert set(errors_of(STAP4, answers)) == {"vermoeden", "structurele_onveiligheid"}
    web = {k: ("ja" if v is True else "nee" if v is False else v) for k, v in answers.items()}
    assert set(errors_of(STAP4, web, from_web=True)) == {"vermoeden", "structurele_onveiligheid"}
    assert forms.validate(STAP4, GOOD)["vermoeden"] is True


def test_a_rule_over_an_unanswered_field_does_not_hold():
    # acute_onveiligheid missing: reported as missing, not as a contradiction
    answers = {"weging": "x", "vermoeden": False, "structurele_onveiligheid": False,
               "weging_besproken_client": False, "weging_niet_besproken_reden": "Onbereikbaar"}
    assert errors_of(STAP4, answers) == {"acute_onveiligheid": forms.REQUIRED}


def test_a_rule_edited_in_the_diagram_is_what_validate_enforces():
    bpmn = (definitions.shipped_files()[0].content.decode()
            .replace('value="acute_onveiligheid == True and vermoeden == False"',
                     'value="acute_onveiligheid == True and weging == \'nvt\'"')
            .replace("Acute onveiligheid kan niet samen met", "Eigen tekst:"))
    files = [definitions.SourceFile("meldcode.bpmn", bpmn.encode()),
             *[f for f in definitions.shipped_files() if f.kind == "dmn"]]
    fields = definitions.load(files).steps["stap4_wegen"].fields
    errors = errors_of(fields, {**GOOD, "acute_onveiligheid": True, "weging": "nvt"})
    assert errors == {"acute_onveiligheid": "Eigen tekst: 'geen vermoeden'. Pas een van deze "
                                            "antwoorden aan."}


@pytest.mark.parametrize("blank", [" ", "\t\n", "\u00a0\u2003"])
def test_blank_text_is_missing_text(blank):
    stap2 = DEFINITION.steps["stap2_overleg"].fields
    answers = {"overleg_met": "Teamleider", "overleg_afspraken": blank,
               "advies_veilig_thuis": False, "gesprek_uitzondering": "veiligheid",
               "gesprek_uitzondering_reden": blank}
    for from_web in (False, True):
        data = {k: ("nee" if v is False else v) for k, v in answers.items()} if from_web else answers
        assert errors_of(stap2, data, from_web=from_web) == {
            "overleg_afspraken": forms.REQUIRED, "gesprek_uitzondering_reden": forms.REQUIRED}


def test_text_is_stored_stripped_and_blank_optional_text_left_out():
    stap1 = DEFINITION.steps["stap1_signalen"].fields
    clean = forms.validate(stap1, {"signalen": "  blauwe plek \n", "bronnen_derden": "  ",
                                   "kindcheck_kinderen": False})
    # the fields left empty with a default record it: no form of violence chosen (a multi
    # field: []), the perpetrator no professional carer (pleger_zorgverlener's defaultValue)
    assert clean == {"signalen": "blauwe plek", "kindcheck_kinderen": False,
                     "geweldsvormen": [], "slachtoffer": [], "pleger_zorgverlener": False}


def test_the_geen_vermoeden_talk_is_required():
    base = {**GOOD, "vermoeden": False, "structurele_onveiligheid": False}
    assert errors_of(STAP4, base) == {"weging_besproken_client": forms.REQUIRED}
    assert errors_of(STAP4, {**base, "weging_besproken_client": False}) == {
        "weging_niet_besproken_reden": forms.REQUIRED}
    assert errors_of(STAP4, {**base, "weging_besproken_client": True}) == {
        "weging_reactie_client": forms.REQUIRED}
    assert forms.validate(STAP4, {**base, "weging_besproken_client": False,
                                  "weging_niet_besproken_reden": "Niet bereikbaar"})
    # with a suspicion the talk about "geen vermoeden" is not asked
    assert "weging_besproken_client" not in forms.validate(STAP4, GOOD)
