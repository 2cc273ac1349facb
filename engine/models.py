"""The SQLAlchemy models: every table of the product (the Alembic migrations in
engine/migrations/ build the same schema; engine/schema.py checks that they agree).
Sessions, engines and the unit of work are engine/store.py's."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from . import clock
from .stored_counts import WRITE_SPAN, StoredCount
from .stored_text import StoredCode, StoredFlag, StoredJSON, StoredLongText, StoredNumber, StoredText
from .stored_time import StoredTime

# Every stored time is UTC (timezones.py), a StoredTime: damaged, a DamagedTime, never a failed row
# (issue 11); texts, JSON, integers, counters and flags likewise (stored_text.py, stored_counts.py).
utcnow = clock.now  # engine/clock.py's now (the system clock, or a test's); models' defaults
STATUSES = ("open", "closed")  # a case's status and uitkomst codes (CONTRACT section 1)
UITKOMSTEN = ("gemeld", "hulp", "gemeld_en_hulp", "zorgen_weggenomen", "geen_vermoeden")


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # Every model here is mapped to a Table (SQLAlchemy declares any FromClause): Core
        # statements are built on Model.__table__ (insert, update, delete).
        __table__: ClassVar[Table]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(StoredText(80), unique=True)
    display_name: Mapped[str] = mapped_column(StoredText(200), default="")
    password_hash: Mapped[str] = mapped_column(StoredText(200))
    roles_text: Mapped[str] = mapped_column("roles", StoredText(200))
    manager_id: Mapped[int | None] = mapped_column(StoredNumber(), ForeignKey("users.id"), index=True)
    active: Mapped[bool] = mapped_column(StoredFlag(), default=True)
    created_at: Mapped[datetime] = mapped_column(StoredTime(), default=utcnow)
    # Stored in the web session at sign-in and compared on every request: raised on sign-out,
    # a password change, deactivation and a change of roles, it ends every session at once.
    session_version: Mapped[int] = mapped_column(StoredCount(), default=0, server_default="0")
    # Where notifications are mailed (engine/mail.py); None: no e-mail (CONTRACT section 5).
    email: Mapped[str | None] = mapped_column(StoredText(320))
    # The professional group whose afwegingskader this user follows (engine/organisation.py's
    # BEROEPSGROEPEN); None: the organisation's setting (issue 14 point 3).
    beroepsgroep: Mapped[str | None] = mapped_column(StoredText(40))
    # HMAC-SHA-256 (history key) over the row (engine/config_seals.py, issue 11): a row changed
    # outside the product no longer matches it, so that user cannot sign in or act.
    seal: Mapped[str] = mapped_column(StoredText(64), default="", server_default="")

    manager: Mapped[User | None] = relationship(remote_side=[id])

    @property
    def roles(self) -> list[str]:
        return [r for r in self.roles_text.split(",") if r]

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(StoredNumber(), ForeignKey("users.id"), index=True)
    # SHA-256 of a 256-bit random token: high entropy needs no slow hash, and lookup stays O(1).
    token_hash: Mapped[str] = mapped_column(StoredText(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(StoredTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(StoredTime())  # None: never
    revoked_at: Mapped[datetime | None] = mapped_column(StoredTime())
    # HMAC over the row (engine/tokens.py token_seal): a row changed by hand gives no access.
    seal: Mapped[str] = mapped_column(StoredText(64), default="", server_default="")

    user: Mapped[User] = relationship()


class ProcessVersion(Base):
    __tablename__ = "process_versions"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    deployed_at: Mapped[datetime] = mapped_column(StoredTime(), default=utcnow)
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
    client_ref: Mapped[str] = mapped_column(StoredText(200))
    reason: Mapped[str] = mapped_column(StoredLongText, default="")
    owner_id: Mapped[int] = mapped_column(StoredNumber(), ForeignKey("users.id"), index=True)
    process_version: Mapped[int] = mapped_column(StoredNumber(), ForeignKey(
        "process_versions.version"), index=True)
    status: Mapped[str] = mapped_column(StoredCode(10, *STATUSES), default="open", index=True)
    uitkomst: Mapped[str | None] = mapped_column(StoredCode(40, *UITKOMSTEN), index=True)
    started_at: Mapped[datetime] = mapped_column(StoredTime(), default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(StoredTime(), index=True)
    # Set while the case is open with no ready step and no waiting timer (it stalled); the
    # history holds the matching `case_stalled` event. Cleared when the case moves on.
    stalled_at: Mapped[datetime | None] = mapped_column(StoredTime(), index=True)
    # Workflow state without the spec (that lives once per process version), zlib-compressed JSON.
    workflow_state: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[dict[str, Any]] = mapped_column(StoredJSON(), default=dict)
    completed_steps: Mapped[list[str]] = mapped_column(StoredJSON(list_of_texts=True), default=list)
    # Counter behind the deterministic task ids, so a replay produces the very same ids.
    id_counter: Mapped[int] = mapped_column(StoredCount(WRITE_SPAN), default=0)
    last_hash: Mapped[str] = mapped_column(StoredText(64), default="")
    event_count: Mapped[int] = mapped_column(StoredCount(WRITE_SPAN), default=0)
    # The access log's count and head for this case, and a keyed hash over the case's header
    # (audit.header_content): set by audit.seal_case in every transaction that changes them.
    access_count: Mapped[int] = mapped_column(StoredCount(), default=0, server_default="0")
    access_head: Mapped[str] = mapped_column(StoredText(64), default="", server_default="")
    header_hash: Mapped[str] = mapped_column(StoredText(64), default="", server_default="")
    version_id: Mapped[int] = mapped_column(StoredCount(), nullable=False)
    # A fictional case of practice mode (issue 14 point 5): never among real cases or figures.
    practice: Mapped[bool] = mapped_column(StoredFlag(), default=False, server_default=false(),
                                           index=True)

    owner: Mapped[User] = relationship()

    __mapper_args__ = {"version_id_col": version_id}


class CaseShare(Base):
    """A case handed to or shared with another user (CONTRACT: cases they were handed)."""

    __tablename__ = "case_shares"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(StoredNumber(), ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(StoredNumber(), ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(StoredTime(), default=utcnow)


class CaseLink(Base):
    """A case started for the children of another case (CONTRACT section 5: `linked_case`):
    one row per link, read both ways."""

    __tablename__ = "case_links"
    __table_args__ = (UniqueConstraint("case_id", "linked_id", name="uq_case_links_case_linked"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(StoredNumber(), ForeignKey("cases.id"), index=True)
    linked_id: Mapped[int] = mapped_column(StoredNumber(), ForeignKey("cases.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(StoredTime(), default=utcnow)


class TaskRecord(Base):
    """Every user task that was ever ready: the indexed rows inboxes read. A task id once
    ready stays known, so completing it again is a conflict, not unknown."""

    __tablename__ = "tasks"
    __table_args__ = (
        # An inbox (and GET /api/v1/tasks) in its order: urgent, due date, ready time.
        Index("ix_tasks_inbox", "state", "lane", "owner_id", "urgent", "due_at", "ready_at"),
        Index("ix_tasks_case_state", "case_id", "state"),
        Index("ix_tasks_state_due", "state", "due_at"),  # reminders (engine/reminders.py)
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(StoredNumber(), ForeignKey("cases.id"))
    step: Mapped[str] = mapped_column(StoredText(200))
    name: Mapped[str] = mapped_column(StoredText(300))
    lane: Mapped[str] = mapped_column(StoredText(40))
    # The case owner, copied here so an inbox is one indexed read.
    owner_id: Mapped[int] = mapped_column(StoredNumber(), ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(StoredCode(10, "ready", "completed", "cancelled"), default="ready")
    # Times read as engine/stored_time.py reads them: a value SQLite kept that does not parse
    # is a DamagedTime (the pages open, verify names it), not a failed row.
    ready_at: Mapped[datetime] = mapped_column(StoredTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(StoredTime(), index=True)
    completed_by: Mapped[str | None] = mapped_column(StoredText(80))
    # When the task is due (engine/due.py: the end of a working day in Dutch time, in UTC;
    # None for a step without a due date) and whether it is urgent (a melding task of a case
    # with acute unsafety), CONTRACT section 5; set when the row is written.
    due_at: Mapped[datetime | None] = mapped_column(StoredTime())
    urgent: Mapped[bool] = mapped_column(StoredFlag(), default=False, server_default=false())
    # A keyed hash (history key) over what replay cannot give back: id, case, step, name,
    # lane, ready_at, due_at, urgent (engine/task_rows.py seal_of), written with the row and
    # again by whoever changes one of them (a move to another version); the rest of the row
    # (state, owner, completed_at/by) verify derives from the history.
    seal: Mapped[str] = mapped_column(StoredText(64), default="", server_default="")


class Timer(Base):
    """A BPMN timer waiting in a case (engine/timers.py): its task in the case's workflow, the
    element, and when it is due (UTC). The rows mirror the workflow's waiting timers: every
    write of a case replaces its rows (cases.write_change); the scheduler fires the due ones."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "due_at"),)

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(StoredTime())
    # A SQLite worker's claim on the due row while it plans the case (engine/scheduler.py):
    # other workers take other cases until then. Null: not claimed.
    claimed_until: Mapped[datetime | None] = mapped_column(StoredTime(),
                                                           nullable=True)


class HistoryEvent(Base):
    """Append-only: no code path updates or deletes a row of this table."""

    __tablename__ = "history_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(StoredNumber(), ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(StoredNumber())
    at: Mapped[datetime] = mapped_column(StoredTime())
    actor: Mapped[str] = mapped_column(StoredText(80))
    action: Mapped[str] = mapped_column(StoredText(40))
    step: Mapped[str | None] = mapped_column(StoredText(200))
    task_id: Mapped[str | None] = mapped_column(StoredText(36))
    data: Mapped[dict[str, Any]] = mapped_column(StoredJSON(), default=dict)
    prev_hash: Mapped[str] = mapped_column(StoredText(64))
    hash: Mapped[str] = mapped_column(StoredText(64))


class AccessLogEntry(Base):
    """NEN 7513: every attempt to read or change a case, refused ones included. Append-only."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(StoredTime(), default=utcnow)
    case_id: Mapped[int | None] = mapped_column(StoredNumber(), index=True)
    client_ref: Mapped[str | None] = mapped_column(StoredText(200))
    user: Mapped[str] = mapped_column(StoredText(80))
    role: Mapped[str] = mapped_column(StoredText(80))
    on_behalf_of: Mapped[str | None] = mapped_column(StoredText(80))
    action: Mapped[str] = mapped_column(StoredText(40))
    outcome: Mapped[str] = mapped_column(StoredCode(10, "ok", "denied"))
    source: Mapped[str | None] = mapped_column(StoredText(100))
    prev_hash: Mapped[str] = mapped_column(StoredText(64), default="")
    hash: Mapped[str] = mapped_column(StoredText(64), default="")


class AdminLogEntry(Base):
    """An administrative action, append-only, chained by seq and prev_hash (engine/admin_chain.py)."""

    __tablename__ = "admin_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(StoredTime(), default=utcnow)
    user: Mapped[str] = mapped_column(StoredText(80))
    action: Mapped[str] = mapped_column(StoredText(60))
    detail: Mapped[dict[str, Any]] = mapped_column(StoredJSON(), default=dict)
    hash: Mapped[str] = mapped_column(StoredText(64))
    seq: Mapped[int | None] = mapped_column(Integer, index=True, unique=True)  # null: before 0018
    prev_hash: Mapped[str | None] = mapped_column(String(64))


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
    hash of the row it stands for (merkle.entry_hash). Append-only."""

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
    user_id: Mapped[int] = mapped_column(StoredNumber(), ForeignKey("users.id"))
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"))
    data: Mapped[dict[str, Any]] = mapped_column(StoredJSON(), default=dict)
    saved_at: Mapped[datetime] = mapped_column(StoredTime(), default=utcnow)


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


class Notification(Base):
    """A notification for one person (CONTRACT section 5, engine/notifications.py): its kind
    and the values its text is made of (params: a step's name, a case number; never a client
    reference or recorded data); read_at set when its reader marked it read. A reminder is sent
    once per person, task and kind, judged by the rows whose seal holds (engine/reminders.py)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_task_kind", "task_id", "kind"),  # reminders (migration 0020)
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index("ix_notifications_user_read", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(StoredTime())
    kind: Mapped[str] = mapped_column(String(20))
    case_id: Mapped[int | None] = mapped_column(StoredNumber())
    task_id: Mapped[str | None] = mapped_column(String(36))
    params: Mapped[dict[str, Any]] = mapped_column(StoredJSON(), default=dict)
    read_at: Mapped[datetime | None] = mapped_column(StoredTime())
    # HMAC over all but read_at (engine/notification_seals.py); None: written before 0019.
    seal: Mapped[str | None] = mapped_column(String(64))


class MailOutbox(Base):
    """A notification to be mailed (engine/mail.py): written in the notification's own transaction,
    sent by the scheduler's job, retried with backoff until `sent` or, after MAX_ATTEMPTS, `failed`."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), unique=True)
    address: Mapped[str] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(StoredTime())
    sent_at: Mapped[datetime | None] = mapped_column(StoredTime())
    seal: Mapped[str | None] = mapped_column(String(64))  # engine/outbox_seals.py; None: before 0020


class Consult(Base):
    """A question put to a colleague on a case (CONTRACT section 5, engine/consults.py): the
    consulted user and their task (a row of `tasks` with step "consult"). The question and the
    answer are in the case's history (consult_requested, consult_answered), not here; verify
    compares each row (its case, task and user) with that history (consults.check_consults)."""

    __tablename__ = "consults"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    task_id: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
