"""A question not asked on this route takes its default back as no answer (issue 14 break-it):
a KNMG doctor who could not reach the client (`client_niet_bereikt`) is not asked whether the
talk took away the concerns (`zorgen_weggenomen`, required_when `client_niet_bereikt != True`,
defaultValue false). A client that sends every field's default, like the web form without
JavaScript that opens with 'nee' ticked and cannot untick it, got an unavoidable 422
NOT_ASKED. Now the default counts as not given (engine/forms.py validate, the one rule of
every door): recorded exactly as when the field is left empty, never as an answer. Another
value is still refused. Through the JSON API, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from engine import store, tokens, users
from tests.conftest import PASSWORD
from tests.helpers import events_of, verify
from tests.scenarios.paths import fill

DOCTOR = {
    "beroepsgroep": "artsen",
    "kindcheck_kinderen": False,
    "gesprek_uitzondering": "geen",
    "advies_veilig_thuis": False,
    "client_niet_bereikt": True,
}


@pytest.fixture
def api(app, people, db_url):
    """Call the API as `arts`, a KNMG doctor (medewerker of `lg`)."""
    with store.unit_of_work(write=True, url=db_url) as session:
        users.create_user(session, "arts", ["medewerker"], PASSWORD, "lg", beroepsgroep="artsen")
        token = tokens.create_token(session, "arts")
    client = app.test_client()

    def call(method, path, status=200, **kw):
        response = client.open(
            f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw
        )
        assert response.status_code == status, response.get_json()
        return response.get_json()

    return call


def ready(case: dict, step: str) -> dict:
    return next(t for t in case["tasks"] if t["step"] == step)


def to_stap3(api) -> tuple[dict, dict]:
    """A doctor's case at stap 3; (the stap 3 task, the answers of a client not reached
    without zorgen_weggenomen, as a careful client fills them)."""
    case = api("POST", "/cases", status=201, json={"client_ref": "C-niet-bereikt"})
    for step in ("stap1_signalen", "stap2_overleg"):
        task = ready(case, step)
        fields = api("GET", f"/tasks/{task['id']}")["form"]["fields"]
        data = fill(fields, DOCTOR)
        if step == "stap1_signalen":
            data["geweldsvormen"] = ["lichamelijk"]
        case = api("POST", f"/tasks/{task['id']}/complete", json={"data": data})
    task = ready(case, "stap3_gesprek")
    fields = api("GET", f"/tasks/{task['id']}")["form"]["fields"]
    data = fill(fields, DOCTOR)
    assert "zorgen_weggenomen" not in data and data["client_niet_bereikt"] is True
    return task, data


def test_the_default_of_a_question_not_asked_is_no_answer(api):
    task, data = to_stap3(api)
    fields = {f["name"]: f for f in api("GET", f"/tasks/{task['id']}")["form"]["fields"]}
    assert fields["zorgen_weggenomen"]["default"] is False
    # another value is an answer to a question not asked: refused, nothing stored
    refused = api(
        "POST",
        f"/tasks/{task['id']}/complete",
        status=422,
        json={"data": {**data, "zorgen_weggenomen": True}},
    )
    assert set(refused["errors"]) == {"zorgen_weggenomen"}
    assert "niet bereikt" in refused["errors"]["zorgen_weggenomen"]
    # the default sent back: no answer, the step completes (was 422 NOT_ASKED)
    case = api("POST", f"/tasks/{task['id']}/complete", json={"data": {**data, "zorgen_weggenomen": False}})
    assert [t["step"] for t in case["tasks"]] == ["stap4_wegen"]
    recorded = next(e.data for e in events_of(case["id"]) if e.step == "stap3_gesprek")
    # recorded as for a field left empty: its default, for the gateway after stap 3
    assert recorded["zorgen_weggenomen"] is False
    assert recorded == {**data, "zorgen_weggenomen": False}  # gesprek_met_wie not asked: not given
    verdict = verify(case["id"])[case["id"]]
    assert verdict.ok, verdict.problems
