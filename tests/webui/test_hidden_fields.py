"""An answer to a field that is not on this case's form is refused (CONTRACT section 4: a 422
names "an unknown or disallowed key" as a field; issue 14 point 3): a field whose `shown_when`
does not hold for the case (a KNMG point in the case of a V&VN nurse, the weighing of the
children when the kindcheck raised no doubt) exists in the step, but a completion that answers
it gets a 422 naming it with a Dutch reason, and nothing is stored, through the API and the
web form alike. The proof answers only the fields of the state's form; replay does not
validate again, so an old event that holds such an answer still verifies."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import definitions, driving, forms, models, proof_explorer, store
from engine.proof_diagram import Findings, read_diagram
from engine.proof_rules import Monitor, State
from tests.helpers import Client, cli, events_of, step_fields, text, verify
from tests.scenarios.paths import fill

NOT_FOR_GROUP = (
    "Dit veld hoort niet bij het formulier van deze casus: het wordt alleen "
    "gevraagd bij een andere beroepsgroep."
)
DEFINITION = definitions.load(definitions.shipped_files())


@pytest.fixture
def nurse(sqlite_people):
    """mw follows the V&VN meldcode: her cases' forms leave the KNMG points off."""
    assert cli("user", "beroepsgroep", "mw", "vvn").exit_code == 0
    return sqlite_people


def start(client, people, ref="C-verpleging") -> dict:
    r = client.post("/api/v1/cases", headers=people.auth("mw"), json={"client_ref": ref})
    assert r.status_code == 201, r.json
    assert r.json["data"]["beroepsgroep"] == "verpleegkundigen"
    return r.json


def stap1_answers() -> dict:
    return fill(
        step_fields("stap1_signalen", {"beroepsgroep": "verpleegkundigen"}), {"kindcheck_kinderen": False}
    )


def stored_steps(case_id: int) -> list[str]:
    with store.unit_of_work() as session:
        return list(
            session.scalars(
                select(models.TaskRecord.step).where(
                    models.TaskRecord.case_id == case_id, models.TaskRecord.state == "completed"
                )
            )
        )


def test_the_api_refuses_a_knmg_answer_in_a_nurses_case_and_stores_nothing(ui_app, nurse):
    client = ui_app.test_client()
    case = start(client, nurse)
    task = case["tasks"][0]
    form = client.get(f"/api/v1/tasks/{task['id']}", headers=nurse.auth("mw")).json
    assert "letselduiding" not in {f["name"] for f in form["form"]["fields"]}
    url = f"/api/v1/tasks/{task['id']}/complete"
    sent = {**stap1_answers(), "letselduiding": "Hematoom bovenarm"}
    r = client.post(url, headers=nurse.auth("mw"), json={"data": sent})
    assert r.status_code == 422, r.json
    assert r.json["errors"] == {"letselduiding": NOT_FOR_GROUP}
    assert [e.action for e in events_of(case["id"])] == ["case_started"]
    assert stored_steps(case["id"]) == []
    r = client.post(url, headers={**nurse.auth("mw"), "Accept-Language": "en"}, json={"data": sent})
    assert r.status_code == 422
    assert "another professional group" in r.json["errors"]["letselduiding"]
    # the same answers without it complete the step
    r = client.post(url, headers=nurse.auth("mw"), json={"data": stap1_answers()})
    assert r.status_code == 200, r.json
    assert "letselduiding" not in r.json["data"]


def test_a_field_left_off_after_earlier_answers_is_refused_with_its_own_reason():
    stap4 = DEFINITION.steps["stap4_wegen"].fields
    answers = {
        "weging": "Zorgelijk",
        "vermoeden": True,
        "acute_onveiligheid": False,
        "structurele_onveiligheid": False,
        "weging_kinderen": "Veilig bij oma",
    }
    no_doubt = {
        "beroepsgroep": "sociaal_domein",
        "kindcheck_kinderen": True,
        "kindcheck_opvang_adequaat": True,
        "kindcheck_bescherming": True,
    }
    with pytest.raises(forms.FormInvalid) as refused:
        forms.validate(stap4, answers, context=no_doubt)
    assert refused.value.errors == {"weging_kinderen": forms.NOT_AFTER_ANSWERS}
    doubt = {**no_doubt, "kindcheck_bescherming": False}
    assert forms.validate(stap4, answers, context=doubt)["weging_kinderen"] == "Veilig bij oma"


def test_a_tampered_web_form_gets_the_page_with_the_dutch_error_and_a_draft_does_not_stick(ui_app, nurse):
    case = start(ui_app.test_client(), nurse, "C-web")
    page_url = f"/taken/{case['tasks'][0]['id']}"
    browser = Client(ui_app)
    browser.login("mw")
    assert 'id="veld-letselduiding"' not in text(browser.get(page_url))
    posted = {k: ("ja" if v is True else "nee" if v is False else v) for k, v in stap1_answers().items()}
    r = browser.post(page_url, {**posted, "letselduiding": "Hematoom", "actie": "afronden"})
    assert r.status_code == 422
    assert "letselduiding: " + NOT_FOR_GROUP in text(r)
    assert stored_steps(case["id"]) == []
    # a draft saved with that field (a tampered post) opens without it, and the form the page
    # shows completes: the draft never makes the step fail
    saved = browser.post(page_url, {**posted, "letselduiding": "Hematoom", "actie": "concept"})
    assert saved.status_code == 302
    page = text(browser.get(page_url))
    assert "Hematoom" not in page and 'id="veld-letselduiding"' not in page
    done = browser.post(page_url, {**posted, "actie": "afronden"})
    assert done.status_code == 302, text(done)
    assert stored_steps(case["id"]) == ["stap1_signalen"]


def test_an_old_event_that_holds_a_hidden_answer_still_verifies(ui_app, nurse, monkeypatch):
    client = ui_app.test_client()
    case = start(client, nurse, "C-oud")
    # as a completion stored before the rule (the field on every form): the answer is kept
    with monkeypatch.context() as patched:
        patched.setattr(forms, "shown_fields", lambda fields, context: list(fields))
        r = client.post(
            f"/api/v1/tasks/{case['tasks'][0]['id']}/complete",
            headers=nurse.auth("mw"),
            json={"data": {**stap1_answers(), "letselduiding": "Hematoom"}},
        )
    assert r.status_code == 200 and r.json["data"]["letselduiding"] == "Hematoom"
    result = verify(case["id"])[case["id"]]
    assert result.ok, result.problems


def test_the_proof_answers_only_the_fields_on_the_states_form():
    diagram = read_diagram(DEFINITION)
    explorer = proof_explorer.Explorer(DEFINITION, diagram, Findings(diagram), driving)
    for doubt in (False, True):
        data = {
            "kindcheck_kinderen": True,
            "kindcheck_opvang_adequaat": True,
            "kindcheck_bescherming": not doubt,
        }
        answers = explorer._answers("stap4_wegen", State("", 0, data, Monitor()))
        # stap 4 goes on in both states (weging_kinderen is required where it is shown: an
        # answer to it where it is not would make every answer set refused, a route lost)
        assert {(a["vermoeden"], a["acute_onveiligheid"]) for a in answers} >= {
            (True, True),
            (True, False),
            (False, False),
        }, doubt
        assert all(("weging_kinderen" in a) is doubt for a in answers)
