"""The log across all cases, in the manner of Certificate Transparency (RFC 9162).

Every history event, access-log line and admin-log row becomes, in order, one leaf of a Merkle
tree; the leaf's input is its keyed entry hash (engine/merkle.py). This module keeps the log:
writers only insert their rows; triggers put them in `log_queue` within the writer's own
transaction. `sequence` gives queued rows the next indexes afterwards in short transactions
of its own, as Trillian's sequencer does: a server process runs a `Sequencer` thread that
the unit of work wakes after a write commits, and checkpoint and verify sequence what is
queued before they read. The log is read in one snapshot, in batches (`snapshot`,
`batches`). Checkpoints are engine/checkpoints.py's, the check of the log
engine/log_verify.py's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, text

from . import log_head, settings, store
from .merkle import entry_hash
from .models import AccessLogEntry, AdminLogEntry, HistoryEvent, LogEntry, LogQueueItem

log = logging.getLogger(__name__)

# The tables of the rows the log holds, by the kind an entry names.
KINDS = {"event": HistoryEvent.__table__, "access": AccessLogEntry.__table__,
         "admin": AdminLogEntry.__table__}
# The log's entries and the queue of rows not yet in it, as tables (for Core queries).
ENTRIES, QUEUE = LogEntry.__table__, LogQueueItem.__table__
_PG_SEQUENCER = 9162  # advisory lock key: one sequencer at a time
BATCH = 5000
MISSING = "-"  # the row hash recorded for a queued row that was gone when sequenced

# --- the sequencer ---------------------------------------------------------------------------


def sequence(url: str | None = None, wait: bool = True) -> int:
    """Give every queued row its place in the log; returns how many were sequenced.

    wait=False (after a writer's commit): on PostgreSQL, leave it to a sequencer already
    running. Each batch is one short write transaction of its own, never the writer's."""
    return _sequence(store.get_engine(url), wait)


def _sequence(engine: Engine, wait: bool) -> int:
    total = 0
    while True:
        done = _sequence_batch(engine, wait)
        total += done
        if done < BATCH:
            return total


def _sequence_batch(engine: Engine, wait: bool) -> int:
    with store.write_queue(engine), store.writer(engine).connect() as conn:
        with conn.begin():
            dequeued, rows = _place_queued(engine, conn, wait)
    if rows:
        # Committed: record the new head outside the database (engine/log_head.py), after the
        # write lock is given back (the record has a file lock of its own and reads what other
        # batches committed meanwhile), so no writer waits on the head file.
        with engine.connect() as conn:
            log_head.record(engine, conn, rows[0]["idx"], [r["entry_hash"] for r in rows])
    return dequeued


def _place_queued(engine: Engine, conn: Connection, wait: bool) -> tuple[int, list[dict]]:
    """Within the batch's transaction: give up to BATCH queued rows the next indexes.
    Out: how many queued rows were taken, and the new entries (a row already in the log
    keeps its first place)."""
    if conn.dialect.name == "postgresql":
        if wait:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SEQUENCER})
        elif not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                              {"k": _PG_SEQUENCER}).scalar():
            return 0, []
    queued = conn.execute(select(QUEUE).order_by(QUEUE.c.id).limit(BATCH)).all()
    if not queued:
        return 0, []
    idx = conn.execute(select(func.max(ENTRIES.c.idx))).scalar()
    idx = -1 if idx is None else idx
    recorded = log_head.size_or_zero(engine)
    if idx + 1 < recorded:
        # Entries this instance gave a place are gone: appending now would re-sign the rows
        # after a cut (engine/log_head.py). The queue stays as it is; verify reports the cut.
        log.error("log holds %d entries, %d were recorded: not sequencing", idx + 1, recorded)
        return 0, []
    hashes: dict[tuple[str, int], str] = {}
    for kind, table in KINDS.items():
        ids = [q.row_id for q in queued if q.kind == kind]
        for start in range(0, len(ids), 900):
            found = conn.execute(select(table.c.id, table.c.hash)
                                 .where(table.c.id.in_(ids[start:start + 900])))
            hashes.update(((kind, r.id), r.hash) for r in found)
    done = {tuple(r) for r in conn.execute(select(ENTRIES.c.kind, ENTRIES.c.row_id).where(
        ENTRIES.c.row_id.in_([q.row_id for q in queued]))).all()}
    key = settings.history_key()
    rows = []
    for q in queued:
        if (q.kind, q.row_id) in done:
            continue  # already in the log (a queue row given twice): keep its first place
        done.add((q.kind, q.row_id))
        idx += 1
        row_hash = hashes.get((q.kind, q.row_id), MISSING)
        rows.append({"idx": idx, "kind": q.kind, "row_id": q.row_id, "case_id": q.case_id,
                     "entry_hash": entry_hash(idx, q.kind, q.row_id, q.case_id, row_hash, key)})
    if rows:
        conn.execute(ENTRIES.insert(), rows)
    conn.execute(delete(QUEUE).where(QUEUE.c.id.in_([q.id for q in queued])))
    return len(queued), rows


def behind_recorded_head(url: str | None = None) -> tuple[int, int, str] | None:
    """When the log holds fewer entries than this instance's sequencer recorded for the
    database (engine/log_head.py), (entries in the log, entries recorded, the record's path):
    the log was cut, or the database made anew at the same URL. The sequencer then appends
    nothing until someone looks into it. None when the log holds the record, or without one."""
    engine = store.get_engine(url)
    recorded = log_head.size_or_zero(engine)
    if not recorded:
        return None
    with snapshot(url) as conn:
        last = conn.execute(select(func.max(ENTRIES.c.idx))).scalar()
    size = 0 if last is None else last + 1
    return (size, recorded, str(log_head.path_for(engine))) if size < recorded else None


def sequence_after_write(engine: Engine) -> None:
    """Best effort: a failure here is only logged (the writers already succeeded); the next
    pass, checkpoint or verify sequences what is left."""
    try:
        _sequence(engine, wait=False)
    except Exception:  # noqa: BLE001 - never fail a committed command over the log
        log.warning("log sequencing postponed", exc_info=True)


class Sequencer:
    """The sequencer of one server process: a daemon thread that sequences the queued rows
    `delay` seconds after a write of this process committed (so one short transaction
    takes the rows of many writes, and no writer waits for it), and every `period` seconds
    in any case for rows other processes (the command line) queued. Trillian's sequencer
    works the same way, on a timer beside the writers."""

    def __init__(self, engine: Engine, delay: float = 1.0, period: float = 5.0) -> None:
        self.engine, self.delay, self.period = engine, delay, period
        self._wake, self._stop = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="meldcode-sequencer",
                                       daemon=True)

    def written(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.period)
            if self._stop.wait(self.delay):  # gather the writes that follow this one
                break
            self._wake.clear()
            try:
                with self.engine.connect() as conn:
                    pending = conn.execute(select(QUEUE.c.id).limit(1)).first()
            except Exception:  # noqa: BLE001 - a database away for a moment: try again later
                log.warning("log queue unreadable", exc_info=True)
                continue
            if pending:
                sequence_after_write(self.engine)


_sequencers: dict[Engine, Sequencer] = {}


def start_sequencer(url: str | None = None, delay: float = 1.0,
                    period: float = 5.0) -> Sequencer:
    """Start this process's background sequencer for the database `url` (default: the
    configured one), once; `meldcode serve` starts one in each worker process. Returns it."""
    engine = store.get_engine(url)
    with _sequencers_lock:
        running = _sequencers.get(engine)
        if running is None or not running.thread.is_alive():
            running = _sequencers[engine] = Sequencer(engine, delay, period)
            running.thread.start()
    return running


_sequencers_lock = threading.Lock()


def written(engine: Engine) -> None:
    """Called by the unit of work after a write transaction committed: wakes this process's
    sequencer for that database, if it runs one (without one, checkpoint, verify or a server's
    periodic pass sequence the rows)."""
    running = _sequencers.get(engine)
    if running is not None:
        running.written()


@contextlib.contextmanager
def snapshot(url: str | None) -> Iterator[Connection]:
    """One read transaction with one snapshot for all its statements (SQLite's BEGIN gives
    that; PostgreSQL needs REPEATABLE READ), on the database `url` (None: the configured
    one). Never a write lock. Yields the connection; closed when the block ends."""
    engine = store.get_engine(url)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as conn, conn.begin():
        yield conn


ROWS = 1024  # rows per fetch of the big scans: a power of two (Tree.extend likes aligned runs),
# few enough that a batch is still in the CPU cache while it is checked


def batches(conn: Connection, query) -> Iterator[Any]:
    """The rows of `query` (without parameters), in lists of up to ROWS tuples, within the
    connection's transaction. On SQLite straight from the driver's cursor: over a million
    rows SQLAlchemy's Row objects cost more than the database's own work. Elsewhere through
    SQLAlchemy with yield_per (a server-side cursor on PostgreSQL), rows unpacking alike."""
    if conn.dialect.name != "sqlite":
        yield from conn.execute(query.execution_options(yield_per=ROWS)).partitions()
        return
    import sqlite3

    from .stored_text import decoded

    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    driver = conn.connection.driver_connection
    assert driver is not None, "a connection in a transaction has its driver's connection"
    given = 0
    cursor = driver.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(ROWS):
            given += len(rows)
            yield rows
        return
    except sqlite3.OperationalError as exc:
        if "decode" not in str(exc):
            raise
    finally:
        cursor.close()
    # A text column holds bytes that are no UTF-8 (SQLite keeps any; the driver then fails
    # the row): read the rest again, in the same transaction so the same rows in the same
    # order, such text as stored_text.Damaged. Issue 11: a finding, never a failed pass.
    before = driver.text_factory
    driver.text_factory = decoded
    cursor = driver.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(ROWS):
            skip, given = min(given, len(rows)), given - min(given, len(rows))
            if rows[skip:]:
                yield rows[skip:]
    finally:
        cursor.close()
        driver.text_factory = before

