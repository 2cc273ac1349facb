"""Verify never hides why a case could not be checked (issue 11: one run of `verify --all`
reported "de casus laat zich niet controleren: een onverwachte fout" for ten cases, and the
cause was lost): the finding names the exception's class beside the Dutch kind, and the
traceback goes to the log ("meldcode.verify", ERROR) with the case's number."""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

from engine import failures, store, verification
from engine.verify_reads import CASE_ROW
from tests.helpers import finished_case


def test_an_unexpected_error_names_its_class_and_logs_its_traceback(people, db_url, caplog):
    case = finished_case(people)
    with store.unit_of_work() as session:
        row = session.execute(CASE_ROW, {"case_id": case["id"]}).first()
        # a timers list that is no list of timers rows: the check itself raises (AttributeError)
        with caplog.at_level(logging.ERROR, logger="meldcode.verify"):
            verdict = verification.verify_case(session, row, timer_list=[None])
    assert [str(p) for p in verdict.problems] == [
        "de casus laat zich niet controleren: een onverwachte fout (AttributeError)"
    ]
    [record] = [r for r in caplog.records if r.name == "meldcode.verify"]
    assert record.levelno == logging.ERROR
    assert record.exc_info and record.exc_info[0] is AttributeError
    assert record.case == case["id"] and record.error == "AttributeError"  # type: ignore[attr-defined]
    assert "timer_row_problems" in caplog.text  # the traceback, down to where it raised


def test_a_busy_database_is_no_finding_of_a_case():
    busy = OperationalError("SELECT 1", {}, Exception("database is locked"))
    assert failures.transient(busy)
    assert not failures.transient(OperationalError("SELECT 1", {}, Exception("no such table")))
    assert not failures.transient(AttributeError("x"))
