"""Issue 14 break-it (second round), on the shipped forms (engine.forms.validate, the one
validation of every door: API, web form, command line):

1. a doctor who could not reach the client (`client_niet_bereikt`) is not asked about a
   conversation, and cannot close the case as "zorgen weggenomen" (CONTRACT rule 3) by a
   conversation that did not take place: the case goes on to stap 4;
2. an answer to a question that is not asked (its required_when does not hold over the
   answers) is refused with a 422 naming the field, nothing stored;
3. with advice asked at Veilig Thuis, who gave which advice is required.
"""

from __future__ import annotations

import pytest

from engine import definitions, forms
from tests.scenarios import paths

DEFINITION = definitions.load(definitions.shipped_files())
DOCTOR = {"beroepsgroep": "artsen"}
NURSE = {"beroepsgroep": "verpleegkundigen"}
NOT_REACHED = {"client_niet_bereikt": True, "bereik_pogingen": "3x gebeld, brief gestuurd"}


def fields(step: str) -> list[forms.Field]:
    return DEFINITION.steps[step].fields


def errors_of(step: str, data: dict, context: dict) -> dict[str, str]:
    with pytest.raises(forms.FormInvalid) as caught:
        forms.validate(fields(step), data, context=context)
    return caught.value.errors


def test_a_client_not_reached_removes_no_concerns():
    errors = errors_of("stap3_gesprek", {**NOT_REACHED, "zorgen_weggenomen": True}, DOCTOR)
    assert set(errors) == {"zorgen_weggenomen"}
    assert "niet bereikt" in errors["zorgen_weggenomen"]
    assert "stap 4" in errors["zorgen_weggenomen"]
    # left empty, it is recorded false: the gateway goes on to stap 4, not to the end
    clean = forms.validate(fields("stap3_gesprek"), NOT_REACHED, context=DOCTOR)
    assert clean["zorgen_weggenomen"] is False


def test_a_client_not_reached_is_asked_no_conversation_questions():
    doctors_form = {f.name: f for f in forms.shown_fields(fields("stap3_gesprek"), DOCTOR)}
    # the web form shows a field with a required_when only while it holds (webui app.js)
    for name in ("gesprek_datum", "gesprek_afspraken", "zorgen_weggenomen"):
        assert doctors_form[name].required_when == "client_niet_bereikt != True", name
    answers = {**NOT_REACHED, "gesprek_datum": forms.today().isoformat(), "gesprek_afspraken": "geen"}
    errors = errors_of("stap3_gesprek", answers, DOCTOR)
    assert set(errors) == {"gesprek_datum", "gesprek_afspraken"}
    assert all(message == forms.NOT_ASKED for message in errors.values())
    # another group's form has no such question: all of it stays plainly required there
    nurses_form = {f.name: f for f in forms.shown_fields(fields("stap3_gesprek"), NURSE)}
    assert all(nurses_form[n].required for n in ("gesprek_datum", "zorgen_weggenomen"))


@pytest.mark.parametrize(
    ("step", "data", "context", "refused"),
    [
        (
            "stap3_gesprek",
            {**NOT_REACHED, "gesprek_besproken": "x", "gesprek_reactie_client": "y"},
            DOCTOR,
            {"gesprek_besproken", "gesprek_reactie_client"},
        ),
        (
            "stap2_overleg",
            {
                "overleg_met": "collega",
                "overleg_afspraken": "x",
                "advies_veilig_thuis": True,
                "veilig_thuis_contact": "A, adviseur",
                "veilig_thuis_advies": "melden",
                "gesprek_uitzondering": "geen",
                "advies_vt_niet_reden": "geen tijd",
            },
            DOCTOR,
            {"advies_vt_niet_reden"},
        ),
        (
            "stap1_signalen",
            {
                "signalen": "blauwe plekken",
                "geweldsvormen": ["lichamelijk"],
                "kindcheck_kinderen": False,
                "kinderen_aantal_leeftijden": "2, 4 jaar",
            },
            NURSE,
            {"kinderen_aantal_leeftijden"},
        ),
        (
            "stap5_beslissen",
            {
                "hulp_mogelijk": False,
                "hulp_aanvaard": False,
                "besluit_toelichting": "melden",
                "vgv_reden_niet_melden": "x",
            },
            {"geweldsvormen": ["vgv"], "acute_onveiligheid": False, "structurele_onveiligheid": False},
            {"vgv_reden_niet_melden"},
        ),
    ],
)
def test_an_answer_to_a_question_not_asked_is_refused(step, data, context, refused):
    errors = errors_of(step, data, context)
    assert set(errors) == refused
    assert all(errors[name] == forms.NOT_ASKED for name in refused)


def test_advice_of_veilig_thuis_names_who_and_what():
    data = {
        "overleg_met": "collega",
        "overleg_afspraken": "x",
        "advies_veilig_thuis": True,
        "gesprek_uitzondering": "geen",
    }
    errors = errors_of("stap2_overleg", data, NURSE)
    assert errors == {"veilig_thuis_contact": forms.REQUIRED, "veilig_thuis_advies": forms.REQUIRED}


def test_fill_answers_only_questions_that_are_asked():
    every = [f.as_dict() for f in fields("stap3_gesprek")]
    data = paths.fill(
        every, {"beroepsgroep": "artsen", "client_niet_bereikt": True, "zorgen_weggenomen": True}
    )
    assert "zorgen_weggenomen" not in data and "gesprek_besproken" not in data
    forms.validate(fields("stap3_gesprek"), data, context=DOCTOR)


VOORBESPREKEN_CONTEXT = {**DOCTOR, **NOT_REACHED, "melding_uitzondering": "geen"}


def test_a_client_still_not_reached_before_the_melding_is_asked_no_reaction():
    """A doctor who could not reach the client in stap 3 tries again before the melding
    (KNMG); still not reached, the attempts are recorded and the questions about the talk
    (with whom, the client's reaction) are not asked: before, a reaction was required of a
    talk that never took place."""
    attempts = {"voorbespreken_niet_bereikt": True, "voorbespreken_pogingen": "2x gebeld"}
    clean = forms.validate(fields("melding_voorbespreken"), attempts,
                           context=VOORBESPREKEN_CONTEXT)
    assert clean["voorbespreken_niet_bereikt"] is True
    assert "voorbespreken_reactie_client" not in clean or clean["voorbespreken_reactie_client"] is None
    # the attempts are required; a reaction is refused as not asked
    errors = errors_of("melding_voorbespreken", {"voorbespreken_niet_bereikt": True},
                       VOORBESPREKEN_CONTEXT)
    assert set(errors) == {"voorbespreken_pogingen"}
    errors = errors_of("melding_voorbespreken",
                       {**attempts, "voorbespreken_reactie_client": "boos"}, VOORBESPREKEN_CONTEXT)
    assert errors == {"voorbespreken_reactie_client": forms.NOT_ASKED}
    # reached after all: the talk's questions are required as before
    errors = errors_of("melding_voorbespreken", {}, VOORBESPREKEN_CONTEXT)
    assert set(errors) == {"voorbespreken_met_wie", "voorbespreken_reactie_client"}


def test_who_reached_the_client_in_stap3_meets_the_talk_as_before():
    """Another group's case, or a doctor who reached the client: the question does not
    exist on the form, with whom and the reaction are plainly required."""
    for context in (NURSE, {**DOCTOR, "client_niet_bereikt": False}):
        shown = {f.name: f for f in forms.shown_fields(fields("melding_voorbespreken"), context)}
        assert "voorbespreken_niet_bereikt" not in shown and "voorbespreken_pogingen" not in shown
        assert shown["voorbespreken_met_wie"].required
        assert shown["voorbespreken_reactie_client"].required
        errors = errors_of("melding_voorbespreken",
                           {"voorbespreken_niet_bereikt": True}, context)
        assert "voorbespreken_niet_bereikt" in errors


def test_the_kindcheck_explanation_belongs_to_a_case_with_children():
    """kindcheck_toelichting explains the answers about the children: without children it is
    refused with the kindcheck's reason (it was taken and stored), with them it is free."""
    base = {"signalen": "x", "geweldsvormen": ["psychisch"]}
    errors = errors_of("stap1_signalen", {**base, "kindcheck_kinderen": False,
                                          "kindcheck_toelichting": "geen kinderen"}, NURSE)
    assert set(errors) == {"kindcheck_toelichting"}
    assert "alleen bij een casus met kinderen" in errors["kindcheck_toelichting"]
    clean = forms.validate(fields("stap1_signalen"), {
        **base, "kindcheck_kinderen": True, "kinderen_aantal_leeftijden": "1, 4 jaar",
        "kindcheck_opvang_adequaat": True, "kindcheck_bescherming": True,
        "kindcheck_toelichting": "oma vangt op"}, context=NURSE)
    assert clean["kindcheck_toelichting"] == "oma vangt op"


def test_fill_gives_no_answer_to_a_question_that_an_unasked_decision_would_switch_on():
    """A scenario's decision for a question this form does not ask with its answers (here
    weging_besproken_client: asked only without a suspicion) is no answer: it must not switch
    on the question after it (weging_reactie_client), which the server would refuse as not
    asked (f226b70 worked around this in one test; fill itself now follows the server)."""
    every = [f.as_dict() for f in fields("stap4_wegen")]
    data = paths.fill(every, {"vermoeden": True, "weging_besproken_client": True})
    assert "weging_besproken_client" not in data and "weging_reactie_client" not in data
    forms.validate(fields("stap4_wegen"), data, context=NURSE)
