"""verify --all reads cases in batches (engine/verify_reads.py): a few statements for a batch
of cases instead of several per case, in one read transaction; a malformed row sends its batch
back to case-by-case reading (tests/engine/test_tamper.py shows that per kind of row)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import event

from engine import background, cases, store, verification
from tests.helpers import walk
from tests.scenarios.paths import SCENARIOS


def test_verify_all_reads_a_batch_of_cases_in_a_few_statements(people, db_url):
    ids = [walk(people, cases.start_case(people["mw"], {"client_ref": f"reeks-{i}",
                                                          "reason": "zorg"}),
                SCENARIOS[i].decisions)["id"]
           for i in range(6)]
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = store.get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        verdicts = list(verification.verify_all(case_ids=ids))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [v.case_id for v in verdicts] == ids
    assert all(v.ok for v in verdicts), [v.problems for v in verdicts]
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # the case numbers, then eight statements for the batch (the version's files are cached;
    # the eighth reads the batch's timers rows, compared with the workflow since c5c99a0);
    # case by case it was at least six per case
    assert len(reads) <= 9, reads


def _priority() -> tuple[int, int]:
    return os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0)


def _refused() -> None:
    raise ValueError("geweigerd in de achtergrond")


def test_background_work_runs_lowered_and_the_caller_keeps_its_priority():
    """verify's pass over the log runs through background.in_background: in a forked process
    at background priority, only when no other process wants the processor (SCHED_IDLE on
    Linux); the caller, which writes verify's access-log lines, keeps its own (issue 12)."""
    before = _priority()
    niceness, policy = background.in_background(_priority)
    assert niceness >= background.BACKGROUND_NICENESS
    assert policy == os.SCHED_IDLE
    assert _priority() == before
    with pytest.raises(ValueError, match="geweigerd in de achtergrond"):
        background.in_background(_refused)


def test_verify_in_background_reads_no_case_in_the_calling_process(people, db_url):
    """verify --all (background=True) checks even a few cases with one process in a forked
    one: the calling process, which writes the access-log lines, reads none of their history."""
    ids = [walk(people, cases.start_case(people["mw"], {"client_ref": f"achter-{i}"}),
                SCENARIOS[i].decisions)["id"] for i in range(2)]
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = store.get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        verdicts = list(verification.verify_all(case_ids=ids, jobs=1, background=True))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [v.case_id for v in verdicts] == ids and all(v.ok for v in verdicts)
    assert not [s for s in statements if "history_events" in s], statements
