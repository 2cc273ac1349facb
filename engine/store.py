"""The database: one engine per URL (SQLite's pragmas and BEGIN IMMEDIATE for writes), the
unit of work (one transaction per command), the write lock and write queue of SQLite, and
what a forked process must drop. The tables are engine/models.py's."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from . import config, log_head, settings
from .errors import DomainError
from .messages import N_

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    url = url or settings.database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _make_engine(url)
            _engines[url] = engine
    return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # Take transaction control from pysqlite so writes can BEGIN IMMEDIATE.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # A write takes the lock up front: with WAL, a reader that later writes would
            # otherwise fail on a stale snapshot instead of waiting its turn. Straight on the
            # driver's connection: through SQLAlchemy's execute this cost more than the reads.
            write = conn.get_execution_options().get("write")
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _writers.clear()
        _engine_queues.clear()


def forget_engines_after_fork() -> None:
    """In a forked child: drop the parent's engines without closing their connections (those
    belong to the parent; SQLAlchemy's advice for pools across fork), so the child opens its
    own."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()
        _writers.clear()
        _engine_queues.clear()


class DatabaseBusy(DomainError):
    """A writer waited longer than the write-lock timeout for its turn (503): the caller
    should try again shortly rather than hang while a long write holds the database."""

    status = 503

    def __init__(self):
        super().__init__(N_("De database is bezig; probeer het zo opnieuw."))


def write_lock_timeout() -> float:
    """How long a writer waits for the SQLite write lock (MELDCODE_WRITE_LOCK_TIMEOUT,
    seconds, default 10) before it gives up with DatabaseBusy. Raises ConfigError for a value
    that is no number."""
    return config.current().write_lock_timeout


def _flock_within(path: str, timeout: float) -> int:
    """flock(2) has no timeout: the wait happens in a helper thread on a descriptor of its
    own, so the kernel still wakes the writer the moment the lock is free, and a writer that
    gives up can leave; a helper that gets the lock after that releases it at once. Returns
    the locked descriptor; raises DatabaseBusy after `timeout` seconds."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    got = threading.Event()
    guard = threading.Lock()
    abandoned = False

    def wait() -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with guard:
            if abandoned:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            else:
                got.set()

    threading.Thread(target=wait, name="meldcode-write-lock", daemon=True).start()
    if got.wait(timeout):
        return fd
    with guard:
        if got.is_set():
            return fd
        abandoned = True
    raise DatabaseBusy()


class _WriteQueue:
    """Writers to one SQLite file wait here rather than in SQLite's busy handler, which polls
    with sleeps of up to 100 ms and left the CPUs idle under concurrent completions: a thread
    lock within a process, flock(2) on a file beside the database across the server's worker
    processes (the kernel wakes the next writer as soon as the lock is free). A writer waits
    at most `write_lock_timeout()` seconds, then gets DatabaseBusy (503). Reads never come
    here: with WAL they see the last commit while a write is under way."""

    def __init__(self, database: str):
        self.path = database + "-writelock"
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None  # opened per process: a shared descriptor would not exclude
        self.locked_fd: int | None = None  # the descriptor that holds the lock now

    def _lock_file(self, deadline: float) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: no thread needed
            self.locked_fd = self.fd
        except BlockingIOError:
            self.locked_fd = _flock_within(self.path, max(0.0, deadline - time.monotonic()))

    def _unlock_file(self) -> None:
        fd, self.locked_fd = self.locked_fd, None
        assert fd is not None, "the write lock file is unlocked only while it is held"
        fcntl.flock(fd, fcntl.LOCK_UN)
        if fd != self.fd:
            os.close(fd)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        timeout = write_lock_timeout()
        deadline = time.monotonic() + timeout
        if not self.lock.acquire(timeout=timeout):
            raise DatabaseBusy()
        try:
            if self.depth == 0:
                self._lock_file(deadline)
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self._unlock_file()
        finally:
            self.lock.release()


_write_queues: dict[str, _WriteQueue] = {}


def write_queue(engine: Engine) -> contextlib.AbstractContextManager:
    """The write queue of `engine`'s SQLite database file (a no-op for PostgreSQL, memory and
    `file:` URLs): entered, it holds the turn to write. One queue, and one lock file beside
    the file's real path, per database (log_head.identity): keyed by the path as typed, a
    spelling through a link queued apart from the plain one (issue 11 point 3), and a nested
    write through `./` waited on its own thread's lock until DatabaseBusy."""
    queue = _engine_queues.get(engine)
    if queue is None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        if not database or database == ":memory:" or database.startswith("file:"):
            return contextlib.nullcontext()
        key = log_head.identity(engine.url)
        with _lock:
            queue = _write_queues.get(key)
            if queue is None:
                queue = _write_queues[key] = _WriteQueue(os.path.realpath(database))
            # an engine's URL never changes: its file's real path (a walk of the file system,
            # 0.2 ms) is looked up on its first write only
            _engine_queues[engine] = queue
    return queue.held()


_engine_queues: dict[Engine, _WriteQueue] = {}


_writers: dict[Engine, Engine] = {}


def writer(engine: Engine) -> Engine:
    """The engine with the `write` option (BEGIN IMMEDIATE on SQLite), made once."""
    writer = _writers.get(engine)
    if writer is None:
        writer = _writers[engine] = engine.execution_options(write=True)
    return writer


_write_depth = threading.local()


@contextlib.contextmanager
def _sequenced_after(engine: Engine) -> Iterator[None]:
    """After the outermost write transaction of this thread ends (and its write lock is
    released), wake the process's log sequencer (translog): the rows it wrote get their place
    in the log across all cases outside the writer's transaction, so writers never wait on
    the log."""
    depth = getattr(_write_depth, "n", 0)
    _write_depth.n = depth + 1
    try:
        yield
    finally:
        _write_depth.n = depth
    if depth == 0:
        from . import translog

        translog.written(engine)


@contextlib.contextmanager
def unit_of_work(write: bool = False, url: str | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    engine = get_engine(url)
    bind = writer(engine) if write else engine
    with (_sequenced_after(engine) if write else contextlib.nullcontext(),
          write_queue(engine) if write else contextlib.nullcontext()):
        session = Session(bind=bind, expire_on_commit=False, autoflush=True)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


@contextlib.contextmanager
def write_connection(url: str | None = None) -> Iterator[Connection]:
    """One write transaction on a plain connection, for the hot path of a completion: the
    ORM session's bookkeeping cost more there than the statements themselves."""
    engine = get_engine(url)
    with (_sequenced_after(engine), write_queue(engine), writer(engine).connect() as conn,
          conn.begin()):
        yield conn


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


# --- a first write on a unique key, with writers at the same moment (issue 11) --------------
# "Read, then insert when absent" lets two PostgreSQL transactions both see nothing and the
# second fail on the unique key (a 500). SQLite writers are serial (write_queue), PostgreSQL's
# are not: there the write is one statement (upsert) or the check runs under a lock (key_lock).


def upsert(session: Session, table, values: dict, key: tuple[str, ...], update: tuple[str, ...]):
    """INSERT `values` into `table`, or when a row with the same `key` columns exists, set its
    `update` columns to these values: one atomic statement (INSERT ... ON CONFLICT DO UPDATE,
    PostgreSQL and SQLite 3.24+), so concurrent first writes never fail on the key. Returns
    the statement's result; raises what the database raises."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(**values)
    return session.execute(statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in key],
        set_={name: statement.excluded[name] for name in update}))


def key_lock(session: Session, *key: object) -> None:
    """Hold, until this transaction ends, a PostgreSQL advisory lock on `key` (e.g. ("users",
    name)), so a check that a unique value is free and the insert after it are one step for
    every writer with the same key. Nothing on SQLite: its writers already take turns."""
    import hashlib

    from sqlalchemy import text

    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(repr(key).encode()).digest()
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                    {"k": int.from_bytes(digest[:8], "big", signed=True)})
