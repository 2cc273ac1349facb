"""verify --all reads cases in batches (engine/verify_reads.py): a few statements for a batch
of cases instead of several per case, in one read transaction; a malformed row sends its batch
back to case-by-case reading (tests/engine/test_tamper.py shows that per kind of row)."""

from __future__ import annotations

import multiprocessing
import os

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


def _niceness_of_child(queue) -> None:
    queue.put((os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0)))


def test_verify_runs_at_background_priority_and_gives_it_back():
    before = os.getpriority(os.PRIO_PROCESS, 0)
    policy = os.sched_getscheduler(0)
    with background.background_priority():
        inside = os.getpriority(os.PRIO_PROCESS, 0)
        inside_policy = os.sched_getscheduler(0)
        queue = multiprocessing.get_context("fork").Queue()
        child = multiprocessing.get_context("fork").Process(target=_niceness_of_child,
                                                            args=(queue,))
        child.start()
        forked, forked_policy = queue.get(timeout=30)
        child.join(30)
    assert inside >= background.BACKGROUND_NICENESS
    assert forked >= background.BACKGROUND_NICENESS  # the verify processes inherit it
    # Linux: only when no other process wants the processor (SCHED_IDLE), inherited too
    assert inside_policy == forked_policy == os.SCHED_IDLE
    if os.geteuid() == 0:  # only root may raise a priority again
        assert os.getpriority(os.PRIO_PROCESS, 0) == before
        assert os.sched_getscheduler(0) == policy
