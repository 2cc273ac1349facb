"""Stored workflow state is data, never code.

SpiffWorkflow migrates a serialization that claims an older serializer version, and its
1.1 -> 1.2 migration runs eval() on timer texts in that serialization. A database writer who
plants such a state in a case row must not get code run in the server: the state is refused
(409 with a Dutch message for a request, a problem of that case for verify)."""

from __future__ import annotations

import json
import zlib

import pytest
from sqlalchemy import text

from engine import (
    adapter,
    cases,
    models,
    state_bytes,
    store,
    tasks,
    verification,
    versions,
    workflow_cache,
)
from tests.helpers import drop_guards, operator_run
from tests.scenarios.paths import LONGEST, fill


def hostile_state(state: bytes, marker) -> bytes:
    """The case's own state, claiming serializer version 1.1 and carrying a timer whose text
    SpiffWorkflow's 1.1 migration would evaluate: it writes `marker` when it runs."""
    dct = json.loads(zlib.decompress(state))
    dct["serializer_version"] = "1.1"
    payload = f"__import__('pathlib').Path({str(marker)!r}).write_text('uitgevoerd')"
    dct["spec"] = {"task_specs": {"tijd": {
        "typename": "StartEvent", "name": "tijd", "outputs": [],
        "event_definition": {"typename": "TimerEventDefinition", "label": "tijd",
                             "dateTime": payload},
    }}}
    dct["subprocess_specs"] = {}
    return zlib.compress(json.dumps(dct).encode())


def plant(url: str, case_id: int, marker, make=hostile_state) -> None:
    """Write a hostile state into the case row, as someone with database access would.
    make(state, marker) -> bytes gives the planted state from the case's own."""
    drop_guards(url)
    with store.unit_of_work(write=True, url=url) as session:
        state = session.execute(text("select workflow_state from cases where id=:c"),
                                {"c": case_id}).scalar()
        session.execute(text("update cases set workflow_state=:s where id=:c"),
                        {"s": make(bytes(state), marker), "c": case_id})
    # Another worker (or the next start of the server) has no copy of this case in memory
    # and reads the row: so must this test.
    workflow_cache.CACHE.entries.clear()


def right_mark_wrong_shape(state: bytes, marker) -> bytes:
    """The current serializer version on something that is no workflow."""
    dct = {"serializer_version": json.loads(zlib.decompress(state))["serializer_version"],
           "tasks": "geen taken", "data": []}
    return zlib.compress(json.dumps(dct).encode())


def zlib_bomb(state: bytes, marker) -> bytes:
    """~100 KB that unpacks to 100 MiB more than any state holds (the limit is 64 MiB)."""
    packer = zlib.compressobj(9)
    chunk = b" " * (1024 * 1024)
    body = b"".join(packer.compress(chunk) for _ in range(state_bytes.MAX_STATE_BYTES // len(chunk) + 100))
    return body + packer.flush()


@pytest.mark.parametrize("make", [right_mark_wrong_shape, zlib_bomb])
def test_state_that_is_no_workflow_is_refused(tmp_path, people, client, db_url, make):
    """A state with the right version mark but no workflow's structure, and a state that
    unpacks far beyond any real one: a Dutch 409 at the door, a problem of that case in
    verify, never a 500 and never an unbounded unpack."""
    case = cases.start_case(people["mw"], {"client_ref": "vorm"})
    task_id = case["tasks"][0]["id"]
    plant(db_url, case["id"], tmp_path / "niet-gebruikt", make)
    task = tasks.get_task(people["mw"], task_id)
    response = client.post(f"/api/v1/tasks/{task_id}/complete", headers=people.auth("mw"),
                           json={"data": fill(task["form"]["fields"], LONGEST.decisions)})
    assert response.status_code == 409, response.get_data(as_text=True)
    # every door's refusal of a damaged case (engine/write_refusals.py, issue 11)
    assert (f"De gegevens van casus {case['id']} zijn beschadigd opgeslagen (workflow_state: de "
            "toestand van het proces is onleesbaar: ") in response.get_json()["error"]
    assert len(cases.history(people["mw"], case["id"])) == 1
    verdict = verification.verify(people["aud"], case["id"])
    assert not verdict["ok"]
    assert any("workflowstatus" in p or "toestand" in p for p in verdict["problems"]), verdict


def test_the_planted_payload_would_run_in_spiffworkflow(tmp_path, people, db_url):
    """The attack is real: SpiffWorkflow's own serializer evaluates the planted text."""
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer

    case = cases.start_case(people["mw"], {"client_ref": "proef"})
    marker = tmp_path / "uitgevoerd"
    with store.unit_of_work(url=db_url) as session:
        state = session.execute(text("select workflow_state from cases where id=:c"),
                                {"c": case["id"]}).scalar()
    dct = json.loads(zlib.decompress(hostile_state(bytes(state), marker)))
    try:
        BpmnWorkflowSerializer().migrate(dct)
    except Exception:  # noqa: BLE001 - later migration steps may stumble; the eval already ran
        pass
    assert marker.exists()


def test_hostile_state_is_refused_and_nothing_runs(tmp_path, people, client, db_url):
    case = cases.start_case(people["mw"], {"client_ref": "vertrouwd?"})
    task_id = case["tasks"][0]["id"]
    marker = tmp_path / "uitgevoerd"
    plant(db_url, case["id"], marker)
    task = tasks.get_task(people["mw"], task_id)

    try:
        response = client.post(f"/api/v1/tasks/{task_id}/complete", headers=people.auth("mw"),
                               json={"data": fill(task["form"]["fields"], LONGEST.decisions)})
    except Exception as exc:  # noqa: BLE001 - a crash after the payload ran is the worse finding
        response = exc
    assert not marker.exists(), "the stored text was evaluated"
    assert not isinstance(response, Exception), response
    assert response.status_code == 409, response.get_json()
    assert (f"De gegevens van casus {case['id']} zijn beschadigd opgeslagen (workflow_state: de "
            "toestand van het proces is onleesbaar: serialisatieversie '1.1' in plaats van"
            ) in response.get_json()["error"]
    # Nothing was completed: the task is still open, the history did not grow.
    assert [t["id"] for t in cases.get_case(people["mw"], case["id"])["tasks"]] == [task_id]
    assert len(cases.history(people["mw"], case["id"])) == 1


def test_verify_names_the_case_with_hostile_state(tmp_path, people, db_url):
    ok = cases.start_case(people["mw"], {"client_ref": "gewoon"})
    case = cases.start_case(people["mw"], {"client_ref": "geplant"})
    marker = tmp_path / "uitgevoerd"
    plant(db_url, case["id"], marker)

    verdict = verification.verify(people["aud"], case["id"])
    assert not verdict["ok"]
    assert any("workflowstatus" in p for p in verdict["problems"]), verdict

    # The command line checks every case and names this one; the other still verifies.
    result = operator_run("verify", "--all", url=db_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"casus {case['id']}: NIET IN ORDE" in result.stdout
    assert f"casus {ok['id']}: in orde" in result.stdout
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_state_of_the_current_version_still_loads(people, db_url):
    case = cases.start_case(people["mw"], {"client_ref": "heen en terug"})
    with store.unit_of_work(url=db_url) as session:
        row = session.get(models.Case, case["id"])
        definition = versions.definition_for(session, row.process_version)
        workflow = adapter.load_state(definition, row.workflow_state)
    assert adapter.state_dict(adapter.dump_state(workflow))["tasks"]


def test_verify_names_a_state_whose_structure_was_changed(tmp_path, people, db_url):
    """A state with the right version mark whose workflow typename was changed: the server
    refuses it (409), so verify must not call the case in order (break-it F7)."""

    def retyped(state: bytes, marker) -> bytes:
        dct = json.loads(zlib.decompress(state))
        dct["typename"] = "BpmnSubWorkflow"
        return zlib.compress(json.dumps(dct).encode())

    case = cases.start_case(people["mw"], {"client_ref": "omgedoopt"})
    plant(db_url, case["id"], tmp_path / "niet-gebruikt", retyped)
    verdict = verification.verify(people["aud"], case["id"])
    assert not verdict["ok"]
    assert any("workflowstatus" in p for p in verdict["problems"]), verdict
