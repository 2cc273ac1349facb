"""verify --all reads cases in batches (engine/verify_reads.py): a few statements for a batch
of cases instead of several per case, in one read transaction; a malformed row sends its batch
back to case-by-case reading (tests/engine/test_tamper.py shows that per kind of row)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest
from sqlalchemy import event

from engine import background, cases, store, verification
from tests.helpers import walk
from tests.scenarios.paths import SCENARIOS


def _verified_counting(**how) -> tuple[list, list[str]]:
    """verification.verify_all(**how)'s verdicts, and the statements this process ran meanwhile."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = store.get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        return list(verification.verify_all(**how)), statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_verify_all_reads_a_batch_of_cases_in_a_few_statements(people, db_url):
    ids = [walk(people, cases.start_case(people["mw"], {"client_ref": f"reeks-{i}",
                                                          "reason": "zorg"}),
                SCENARIOS[i].decisions)["id"]
           for i in range(6)]
    verdicts, statements = _verified_counting(case_ids=ids)
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


def _tell_and_wait(path: str) -> None:
    with open(path, "w") as out:
        out.write(str(os.getpid()))
    time.sleep(120)


def _background_then_wait(path: str) -> None:
    background.in_background(_tell_and_wait, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped by init) counts as gone
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("signal_", [signal.SIGKILL, signal.SIGTERM])
def test_a_background_process_ends_with_the_command_that_started_it(tmp_path, signal_):
    """verify killed (kill -9 or SIGTERM) left its forked processes running for good, holding
    the database and the command's output open, so `meldcode verify --all | cat` never ended
    (issue 12, found by a tester). They now die with it (background.die_with_parent)."""
    told = tmp_path / "pid"
    command = multiprocessing.get_context("fork").Process(target=_background_then_wait,
                                                          args=(str(told),))
    command.start()
    deadline = time.monotonic() + 60
    while not (told.exists() and told.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    helper = int(told.read_text())
    assert _alive(helper)
    os.kill(command.pid, signal_)
    command.join(30)
    deadline = time.monotonic() + 15
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    gone = not _alive(helper)
    if not gone:
        os.kill(helper, signal.SIGKILL)
    assert gone, "the background process outlived the command"


def test_verify_in_background_reads_no_case_in_the_calling_process(people, db_url):
    """verify --all (background=True) checks even a few cases with one process in a forked
    one: the calling process, which writes the access-log lines, reads none of their history."""
    ids = [walk(people, cases.start_case(people["mw"], {"client_ref": f"achter-{i}"}),
                SCENARIOS[i].decisions)["id"] for i in range(2)]
    verdicts, statements = _verified_counting(case_ids=ids, jobs=1, background=True)
    assert [v.case_id for v in verdicts] == ids and all(v.ok for v in verdicts)
    assert not [s for s in statements if "history_events" in s], statements
