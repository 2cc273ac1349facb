"""SQLAlchemy models and the unit of work: one transaction per command."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from . import config, settings, timezones
from .errors import DomainError

# Every stored time is UTC (engine/timezones.py); the models' defaults and callers use this name.
utcnow = timezones.now_utc


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    roles_text: Mapped[str] = mapped_column("roles", String(200))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Stored in the web session at sign-in and compared on every request: raised on sign-out,
    # a password change, deactivation and a change of roles, it ends every session at once.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    manager: Mapped[User | None] = relationship(remote_side=[id])

    @property
    def roles(self) -> list[str]:
        return [r for r in self.roles_text.split(",") if r]

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # SHA-256 of a 256-bit random token: high entropy needs no slow hash, and lookup stays O(1).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: never
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class ProcessVersion(Base):
    __tablename__ = "process_versions"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deployed_by: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=False)

    files: Mapped[list[ProcessFile]] = relationship(
        order_by="ProcessFile.name", cascade="all, delete-orphan"
    )


class ProcessFile(Base):
    __tablename__ = "process_files"
    __table_args__ = (UniqueConstraint("version", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(ForeignKey("process_versions.version"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # bpmn | dmn
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_ref: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    process_version: Mapped[int] = mapped_column(ForeignKey("process_versions.version"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    uitkomst: Mapped[str | None] = mapped_column(String(40), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set while the case is open with no ready step and no waiting timer (it stalled); the
    # history holds the matching `case_stalled` event. Cleared when the case moves on.
    stalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # Workflow state without the spec (that lives once per process version), zlib-compressed JSON.
    workflow_state: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    completed_steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Counter behind the deterministic task ids, so a replay produces the very same ids.
    id_counter: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default="")
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    # The access log's count and head for this case, and a keyed hash over the case's header
    # (audit.header_content): set by audit.seal_case in every transaction that changes them.
    access_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    access_head: Mapped[str] = mapped_column(String(64), default="", server_default="")
    header_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    owner: Mapped[User] = relationship()

    __mapper_args__ = {"version_id_col": version_id}


class CaseShare(Base):
    """A case handed to or shared with another user (CONTRACT: cases they were handed)."""

    __tablename__ = "case_shares"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaskRecord(Base):
    """Every user task that was ever ready: the indexed rows inboxes read.

    A task id once ready stays known, so completing it again is a conflict, not unknown.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_state_lane_owner", "state", "lane", "owner_id"),
        Index("ix_tasks_case_state", "case_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    step: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str] = mapped_column(String(40))
    # The case owner, copied here so an inbox is one indexed read.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(10), default="ready")  # ready|completed|cancelled
    ready_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_by: Mapped[str | None] = mapped_column(String(80))


class HistoryEvent(Base):
    """Append-only: no code path updates or deletes a row of this table."""

    __tablename__ = "history_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    step: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AccessLogEntry(Base):
    """NEN 7513: every attempt to read or change a case, refused ones included. Append-only."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    client_ref: Mapped[str | None] = mapped_column(String(200))
    user: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(80))
    on_behalf_of: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(10))
    source: Mapped[str | None] = mapped_column(String(100))
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")


class AdminLogEntry(Base):
    """An administrative action (users, tokens, settings, deploys, activations, migrations).
    Append-only; `hash` is a keyed hash of its content (audit.admin_content)."""

    __tablename__ = "admin_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    hash: Mapped[str] = mapped_column(String(64))


class LogQueueItem(Base):
    """A row written but not yet sequenced into the log (filled by AFTER INSERT triggers of
    history_events, access_log and admin_log; emptied by translog.sequence)."""

    __tablename__ = "log_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # event | access | admin
    row_id: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(Integer)


class LogEntry(Base):
    """A leaf of the log across all cases (RFC 9162): its index in the tree and the keyed
    hash of the row it stands for (translog.entry_hash). Append-only."""

    __tablename__ = "log_entries"
    __table_args__ = (UniqueConstraint("kind", "row_id", name="uq_log_entries_kind_row"),)

    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(10))
    row_id: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    entry_hash: Mapped[str] = mapped_column(String(64))


class Draft(Base):
    """A half-filled task form kept for one person and one task."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("user_id", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RateLimit(Base):
    """A rate-limit counter (failed sign-ins per address), shared by all server processes."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the limiter's key
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # Unix time, as `limits` counts


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


# --- database engine and unit of work ------------------------------------------------------

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


def forget_engines_after_fork() -> None:
    """In a forked child: drop the parent's engines without closing their connections (those
    belong to the parent; SQLAlchemy's advice for pools across fork), so the child opens its
    own."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()
        _writers.clear()


class DatabaseBusy(DomainError):
    """A writer waited longer than the write-lock timeout for its turn (503): the caller
    should try again shortly rather than hang while a long write holds the database."""

    status = 503

    def __init__(self):
        super().__init__("De database is bezig; probeer het zo opnieuw.")


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
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return contextlib.nullcontext()
    with _lock:
        queue = _write_queues.get(database)
        if queue is None:
            queue = _write_queues[database] = _WriteQueue(database)
    return queue.held()


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
