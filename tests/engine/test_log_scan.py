"""The log pass in ranges side by side (engine/log_scan.py) finds what the one-process pass
finds, in the same words, and the same roots; ranges made tiny so a small log has many."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from engine import log_scan, log_verify, merkle, translog
from tests.conftest import People
from tests.helpers import finished_case, from_scene


def closed_case(people, ref):
    return finished_case(people)


def read(url, sql):
    import sqlalchemy

    with sqlalchemy.create_engine(url).connect() as conn:
        return conn.execute(sqlalchemy.text(sql)).all()


def tamper(url: str, sql: str) -> None:
    """As an intruder with the database open: no triggers (after sequencing what is queued,
    as a running server does within a second)."""
    translog.sequence(url)
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'"):
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute(sql)
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute(sql)


@pytest.fixture(scope="module")
def scenes() -> dict:
    """The scenes of this module as built once (tests/helpers.py from_scene)."""
    return {}


def _two_closed_cases(url) -> None:
    people = People(url)
    closed_case(people, "A")
    closed_case(people, "B")


@pytest.fixture
def two_closed_cases(db_url, scenes, tmp_path_factory) -> None:
    """The People and two cases walked to their end, not yet sequenced, on the test's
    database: the first test of each database kind walks them (a few seconds), every later
    one gets a copy of that database (from_scene); each starts from it unchanged."""
    from_scene(scenes, "twee-casussen", db_url, tmp_path_factory, _two_closed_cases)


@pytest.fixture
def tiny_ranges(monkeypatch):
    monkeypatch.setattr(log_scan, "CHUNK_BITS", 2)  # four entries a range


def _both(url, checkpoint=None):
    alone = log_verify.verify_log(url, checkpoint, jobs=1)
    side_by_side = log_verify.verify_log(url, checkpoint, jobs=2)
    for report in (alone, side_by_side):
        report.head = None  # (read from the same file both times)
    return alone, side_by_side


def _same(alone, side_by_side):
    assert side_by_side.problems == alone.problems
    assert side_by_side.by_case == alone.by_case
    assert (side_by_side.tree_size, side_by_side.root) == (alone.tree_size, alone.root)
    assert side_by_side.roots == alone.roots
    assert side_by_side.logged_cases == alone.logged_cases


def test_untouched_log_side_by_side(two_closed_cases, db_url, tiny_ranges, monkeypatch):
    calls = []
    real = log_scan.scan_parallel
    monkeypatch.setattr(log_scan, "scan_parallel",
                        lambda *a, **k: calls.append(a) or real(*a, **k))
    translog.sequence(db_url)
    size = read(db_url, "SELECT count(*) FROM log_entries")[0][0]
    checkpoint = {"tree_size": size - 3, "at": "x", "root": "0" * 64}
    alone, side_by_side = _both(db_url, checkpoint)
    assert calls, "the log was not checked in ranges"
    assert size > 40 and alone.by_case == {}
    assert [str(p) for p in alone.problems] == [  # the root given is made up
        f"logboek: de eerste {size - 3} regels wijken af van het controlepunt van x (regels "
        "verwijderd, vervangen of in een andere volgorde)"]
    _same(alone, side_by_side)
    assert side_by_side.checkpoint_root == alone.checkpoint_root == merkle.root_of(
        [r[0] for r in read(db_url, "SELECT entry_hash FROM log_entries ORDER BY idx")][:size - 3])


@pytest.mark.parametrize("statement", [
    # the first hex digit changed for another (one hash in 16 starts with 'f' already)
    "UPDATE history_events SET hash = CASE WHEN substr(hash, 1, 1) = 'f' THEN 'e' ELSE 'f' END "
    "|| substr(hash, 2) WHERE id = (SELECT min(id) + 3 FROM history_events)",
    "DELETE FROM access_log WHERE id = (SELECT max(id) FROM access_log)",
    "UPDATE access_log SET case_id = (SELECT min(id) FROM cases) WHERE id = (SELECT max(id) "
    "FROM access_log)",
    "UPDATE log_entries SET entry_hash = 'zz' WHERE idx = 5",
    "DELETE FROM log_entries WHERE idx = 6",
    # the last of a range of four: the range's batch still runs on without a gap
    "DELETE FROM log_entries WHERE idx = 7",
    "DELETE FROM log_entries WHERE idx = 0",
], ids=["event-hash", "access-deleted", "access-moved", "entry-not-hex", "gap",
        "gap-at-range-end", "gap-at-start"])
def test_tampering_found_alike(two_closed_cases, db_url, tiny_ranges, statement):
    tamper(db_url, statement)
    alone, side_by_side = _both(db_url)
    assert not alone.ok
    _same(alone, side_by_side)


def test_join_is_appending_leaf_by_leaf():
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(45)]
    for split in (0, 4, 8, 16, 32):
        for size in range(0, 45 - split):
            whole, left, right = merkle.Tree(), merkle.Tree(), merkle.Tree()
            whole.extend(leaves[:split + size])
            left.extend(leaves[:split])
            right.extend(leaves[split:split + size])
            if split and size and 1 << (size.bit_length() - 1) > split:
                with pytest.raises(ValueError):
                    left.join(right.frontier(), right.size)
                continue
            left.join(right.frontier(), right.size)
            assert (left.size, left.root()) == (whole.size, whole.root())


def test_heads_sealing_another_case_sought_in_one_pass_per_table(people, db_url, tiny_ranges):
    """A case row copied from another (its heads seal that case's history and access log) is
    named alike alone and side by side (where the search runs beside the ranges), and the
    rows holding the heads are sought in one pass over each table however many heads there
    are: a pass per 900 heads made 2.4M access lines take 11 s of a checkpoint check."""
    import sqlalchemy

    from engine import models, store

    source = closed_case(people, "A")["id"]
    translog.sequence(db_url)
    table = models.Case.__table__
    engine = store.get_engine(db_url)
    with engine.begin() as conn:
        row = dict(conn.execute(sqlalchemy.select(table).where(table.c.id == source)).one()._mapping)
        copy = {**row, "id": source + 5000}  # the planted copy: both heads are the source's
        # 1000 more copies whose heads name no row: heads that are sought but found nowhere
        heads = [f"{i:064x}" for i in range(1000)]
        planted = [{**row, "id": source + 6000 + i, "last_hash": h, "access_head": h}
                   for i, h in enumerate(heads)]
        conn.execute(sqlalchemy.insert(table), [copy, *planted])
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    sqlalchemy.event.listen(engine, "before_cursor_execute", seen)
    try:
        alone, side_by_side = _both(db_url)
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", seen)
    _same(alone, side_by_side)
    assert alone.by_case == {copy["id"]: [
        f"de kop van casus {copy['id']} verzegelt de geschiedenis en het toegangslog van casus "
        f"{source}: overgenomen van of verwisseld met casus {source}"]}, alone.by_case
    for hashed in ("history_events.hash IN (", "access_log.hash IN ("):
        # one pass each in the one-process run and in the run side by side
        assert sum(hashed in statement for statement in statements) == 2, hashed
