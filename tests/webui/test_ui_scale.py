"""The inbox and the case list read indexed rows only: still right, and without a scan of a
whole table, with 100,000 cases stored. How fast they are is measured in bench/api_bench.py
("list ready tasks with 100,000 cases"), not here: a timed test fails on a loaded machine."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert, select

CASES = 100_000
# a step of SQLite's query plan that reads every row of a big table (the small users and
# process_versions tables may be scanned: a handful of rows)
WHOLE_TABLE = re.compile(r"^SCAN (cases|tasks|drafts|notifications)\b(?! USING (COVERING )?INDEX)")


def _fill(url: str, people) -> None:
    from engine import models, store

    owners = [people["mw"].id, people["mw2"].id, people["lg"].id]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with store.unit_of_work(write=True, url=url) as session:
        version = session.scalar(select(models.ProcessVersion.version))
        cases, tasks = [], []
        for i in range(1, CASES + 1):
            # mw2 owns only a handful of cases: the lists must not scan for them
            owner = owners[0] if i % 1000 else owners[1 + (i // 1000) % 2]
            at = start + timedelta(minutes=i)
            cases.append({"id": i, "client_ref": f"C-{i}", "reason": "", "owner_id": owner,
                          "process_version": version, "status": "open", "started_at": at,
                          "workflow_state": b"", "data": {}, "completed_steps": [],
                          "id_counter": 0, "last_hash": "", "event_count": 0, "version_id": 1})
            lane = "aandachtsfunctionaris" if i % 5000 == 0 else "medewerker"
            tasks.append({"id": f"t-{i}", "case_id": i, "step": "stap1_signalen",
                          "name": "Stap 1", "lane": lane, "owner_id": owner, "state": "ready",
                          "ready_at": at})
        session.execute(insert(models.Case), cases)
        session.execute(insert(models.TaskRecord), tasks)


@contextmanager
def _statements(url: str):
    """Collect (sql, parameters) of every statement run on the product's engine for `url`."""
    from engine import store

    seen: list[tuple[str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    engine = store.get_engine(url)
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _whole_table_reads(url: str, seen) -> list[tuple[str, str]]:
    """The (statement, plan step) pairs whose plan reads a whole big table."""
    from engine import store

    found = []
    with store.get_engine(url).connect() as conn:
        for statement, parameters in seen:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            found += [(statement, row[-1]) for row in plan if WHOLE_TABLE.match(row[-1])]
    return found


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def test_inbox_and_case_list_with_100000_cases(sqlite_url, sqlite_people):
    from engine import pages

    _fill(sqlite_url, sqlite_people)
    timings = {}
    with _statements(sqlite_url) as seen:
        inbox, timings["inbox mw"] = _timed(pages.inbox, sqlite_people["mw"])
        assert inbox["count"] == pages.INBOX_LIMIT and inbox["truncated"]
        assert inbox["cases"][0]["client_ref"] == "C-1"  # the longest wait first
        inbox, timings["inbox af"] = _timed(pages.inbox, sqlite_people["af"])
        assert inbox["count"] == CASES // 5000
        inbox, timings["inbox lg"] = _timed(pages.inbox, sqlite_people["lg"])
        assert inbox["team_counts"]["medewerker"] > 90_000

        listing, timings["list mw"] = _timed(pages.list_cases, sqlite_people["mw"])
        assert listing["cases"][0]["id"] == CASES - 1 and listing["has_next"]
        listing, timings["list mw p200"] = _timed(pages.list_cases, sqlite_people["mw"], 200)
        assert len(listing["cases"]) == pages.CASES_PER_PAGE
        listing, timings["list mw2"] = _timed(pages.list_cases, sqlite_people["mw2"])
        assert {c["owner"] for c in listing["cases"]} == {"mw2"}
        listing, timings["list lg"] = _timed(pages.list_cases, sqlite_people["lg"])
        assert listing["cases"][0]["id"] == CASES - 1  # the team's (mw's) newest
        listing, timings["list af"] = _timed(pages.list_cases, sqlite_people["af"])
        assert listing["cases"][0]["id"] == CASES
        listing, timings["list aud"] = _timed(pages.list_cases, sqlite_people["aud"])
        assert listing["cases"][0]["id"] == CASES

    print({k: round(v, 4) for k, v in timings.items()})
    assert len(seen) >= 9  # every read above ran through the product's engine
    assert _whole_table_reads(sqlite_url, seen) == []
