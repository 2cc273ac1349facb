"""Tampering with a case in the database is caught by verify, and named."""

import json
import zlib

import pytest
from sqlalchemy import text

from engine import cases, store, verification
from tests.helpers import finished_case, run_sql
from tests.scenarios.paths import SCENARIOS


def test_database_refuses_to_rewrite_history(people, db_url):
    from sqlalchemy.exc import DBAPIError

    case = cases.start_case(people["mw"], {"client_ref": "x"})
    for sql in ("update history_events set actor='x' where case_id=:c",
                "delete from history_events where case_id=:c",
                "update access_log set \"user\"='x' where case_id=:c",
                "delete from access_log where case_id=:c"):
        with pytest.raises(DBAPIError, match="append-only"):
            with store.unit_of_work(write=True, url=db_url) as session:
                session.execute(text(sql), {"c": case["id"]})
    assert verdict(people, case["id"])["ok"]


def verdict(people, case_id):
    return verification.verify(people["aud"], case_id)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_untouched_cases_verify(people, scenario):
    case = finished_case(people, scenario)
    result = verdict(people, case["id"])
    assert result["ok"], result["problems"]
    assert result["events"] >= 3 and result["problems"] == []


def test_open_case_verifies(people):
    case = cases.start_case(people["mw"], {"client_ref": "open"})
    assert verdict(people, case["id"])["ok"]


def test_edited_event_data(people, db_url):
    case = finished_case(people)
    with store.unit_of_work(url=db_url) as s:
        data = s.execute(text("select data from history_events where case_id=:c and seq=4"),
                         {"c": case["id"]}).scalar()
    data = json.loads(data) if isinstance(data, str) else data
    data["signalen"] = "iets anders"
    run_sql(db_url, "update history_events set data=:d where case_id=:c and seq=4",
            d=json.dumps(data), c=case["id"])
    result = verdict(people, case["id"])
    assert not result["ok"]
    assert "gebeurtenis 4" in result["problems"][0] and "gewijzigd" in result["problems"][0]


def test_deleted_event(people, db_url):
    case = finished_case(people)
    run_sql(db_url, "delete from history_events where case_id=:c and seq=5", c=case["id"])
    result = verdict(people, case["id"])
    assert not result["ok"] and "gebeurtenis 5 ontbreekt" in result["problems"][0]


def test_deleted_last_event(people, db_url):
    case = finished_case(people)
    n = len(cases.history(people["mw"], case["id"]))
    run_sql(db_url, "delete from history_events where case_id=:c and seq=:n", c=case["id"], n=n)
    result = verdict(people, case["id"])
    assert not result["ok"] and "verwijderd of toegevoegd" in result["problems"][0]


def test_inserted_event(people, db_url):
    case = finished_case(people)
    run_sql(db_url, "update history_events set seq = seq + 1 where case_id=:c and seq >= 3 "
            "and seq = (select max(seq) from history_events where case_id=:c)", c=case["id"])
    run_sql(db_url, "insert into history_events (case_id, seq, at, actor, action, step, task_id, "
            "data, prev_hash, hash) select case_id, (select max(seq) from history_events "
            "where case_id=:c) - 1, at, 'indringer', action, step, task_id, data, prev_hash, hash "
            "from history_events where case_id=:c and seq=2", c=case["id"])
    result = verdict(people, case["id"])
    assert not result["ok"], result


def test_reordered_events(people, db_url):
    case = finished_case(people)
    run_sql(db_url, "update history_events set seq = -1 where case_id=:c and seq=3", c=case["id"])
    run_sql(db_url, "update history_events set seq = 3 where case_id=:c and seq=4", c=case["id"])
    run_sql(db_url, "update history_events set seq = 4 where case_id=:c and seq=-1", c=case["id"])
    result = verdict(people, case["id"])
    assert not result["ok"] and "gebeurtenis 3" in result["problems"][0]


def test_rewritten_chain_without_key_is_caught(people, db_url):
    """Recomputing plain SHA-256 hashes over edited content does not fool the HMAC chain."""
    import hashlib

    case = finished_case(people)
    run_sql(db_url, "update history_events set actor='iemand-anders' where case_id=:c",
            c=case["id"])
    with store.unit_of_work(url=db_url) as s:
        rows = s.execute(text("select id, seq from history_events where case_id=:c order by seq"),
                         {"c": case["id"]}).all()
    prev = "0" * 64
    for row_id, _seq in rows:
        new = hashlib.sha256((prev + str(row_id)).encode()).hexdigest()
        run_sql(db_url, "update history_events set prev_hash=:p, hash=:h where id=:i",
                p=prev, h=new, i=row_id)
        prev = new
    run_sql(db_url, "update cases set last_hash=:h where id=:c", h=prev, c=case["id"])
    result = verdict(people, case["id"])
    assert not result["ok"] and "gewijzigd" in result["problems"][0]


def test_edited_recorded_data(people, db_url):
    case = finished_case(people)
    data = dict(case["data"], besluit_melden=False)
    run_sql(db_url, "update cases set data=:d where id=:c", d=json.dumps(data), c=case["id"])
    result = verdict(people, case["id"])
    assert not result["ok"] and "vastgelegde gegevens" in result["problems"][0]


def test_edited_uitkomst(people, db_url):
    case = finished_case(people)
    run_sql(db_url, "update cases set uitkomst='hulp' where id=:c", c=case["id"])
    result = verdict(people, case["id"])
    assert not result["ok"] and any("uitkomst" in p for p in result["problems"])


def test_edited_workflow_state(people, db_url):
    case = cases.start_case(people["mw"], {"client_ref": "status"})
    with store.unit_of_work(url=db_url) as s:
        blob = s.execute(text("select workflow_state from cases where id=:c"),
                         {"c": case["id"]}).scalar()
    state = json.loads(zlib.decompress(blob))
    for task in state["tasks"].values():
        if task["task_spec"] == "stap1_signalen":
            task["state"] = 64  # COMPLETED, without any history
    with store.unit_of_work(write=True, url=db_url) as s:
        s.execute(text("update cases set workflow_state=:b where id=:c"),
                  {"b": zlib.compress(json.dumps(state).encode()), "c": case["id"]})
    result = verdict(people, case["id"])
    assert not result["ok"] and "workflowstatus" in result["problems"][0]


def test_edited_ready_task_rows(people, db_url):
    case = cases.start_case(people["mw"], {"client_ref": "rijen"})
    run_sql(db_url, "update tasks set state='cancelled' where case_id=:c", c=case["id"])
    result = verdict(people, case["id"])
    assert not result["ok"] and "open taken" in result["problems"][0]


def test_verify_is_access_controlled(people):
    case = cases.start_case(people["mw"], {"client_ref": "x"})
    from engine.errors import Forbidden

    with pytest.raises(Forbidden):
        verification.verify(people["mw2"], case["id"])


def test_edited_access_log_line(people, db_url):
    case = cases.start_case(people["mw"], {"client_ref": "toegang"})
    cases.get_case(people["mw"], case["id"])
    run_sql(db_url, "update access_log set \"user\"='iemand' where case_id=:c and action='read'",
            c=case["id"])
    result = verdict(people, case["id"])
    assert not result["ok"] and "toegangslog regel 2" in result["problems"][0]


def test_deleted_access_log_line(people, db_url):
    case = cases.start_case(people["mw"], {"client_ref": "toegang"})
    cases.get_case(people["mw"], case["id"])
    cases.get_case(people["mw"], case["id"])
    run_sql(db_url, "delete from access_log where case_id=:c and id = (select min(id) from "
            "access_log where case_id=:c and action='read')", c=case["id"])
    result = verdict(people, case["id"])
    assert not result["ok"] and "onderbroken" in result["problems"][0]


def test_a_case_whose_events_share_one_instant_verifies(people, db_url):
    """Steps completed at the same instant (a frozen clock; on a real one: one transaction,
    or a coarse clock) keep their order of the history: verify does not read them as
    reordered (issue 13 break-it)."""
    from datetime import UTC, datetime

    from engine import clock

    with clock.use(clock.ManualClock(datetime(2027, 3, 25, 9, tzinfo=UTC))):
        case = finished_case(people)
        assert case["status"] == "closed"
        result = verdict(people, case["id"])
    assert result["ok"], result["problems"]
    # the order of the rows still counts where their times differ
    run_sql(db_url, "update tasks set completed_at = :t where case_id = :c and step = "
            "'stap1_signalen'", t=datetime(2027, 3, 26, 9), c=case["id"])
    result = verdict(people, case["id"])
    assert "de afgeronde taakrijen wijken af van de geschiedenis" in result["problems"]
