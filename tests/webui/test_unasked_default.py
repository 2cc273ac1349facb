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

from tests.helpers import events_of, to_stap3, verify


@pytest.fixture
def api(doctor_api):
    return doctor_api


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
