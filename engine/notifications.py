"""Notifications in the product (CONTRACT section 5): who gets one when, listing one's own and
marking them read.

A notification holds its kind and the values its text is made of (`params`: the step's name
as the diagram gives it, the case number, for a consult who asks); the web layer writes the
text in the reader's language (webui/notices.py). Never a client reference or recorded data.
A notification about a task to someone with an e-mail address is also put in the mail outbox
in the same transaction when SMTP is configured (engine/mail.py sends it later). Each row is
sealed when written (engine/notification_seals.py, issue 11): a row whose seal does not hold
is not listed, counted or marked read for the user it names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from . import clock, config, mail_addresses, notification_seals, settings, timezones
from .errors import NotFound
from .messages import N_
from .models import Notification, User
from .roles import AANDACHTSFUNCTIONARIS, LEIDINGGEVENDE, MEDEWERKER
from .store import unit_of_work
from .stored_rows import loaded_rows
from .users import Principal

TASK_READY, TASK_DUE, TASK_OVERDUE, INFORMED, CONSULT = (
    "task_ready", "task_due", "task_overdue", "informed", "consult")
KINDS = (TASK_READY, TASK_DUE, TASK_OVERDUE, INFORMED, CONSULT)
LIST_LIMIT = 100

_notes, _users = Notification.__table__, User.__table__
_INSERT = _notes.insert().returning(_notes.c.id, _notes.c.task_id, _notes.c.user_id)
_ACTIVE = select(_users.c.id, _users.c.roles).where(_users.c.active.is_(True)).order_by(
    _users.c.id)
_MANAGER = select(_users.c.manager_id).where(_users.c.id == bindparam("owner_id"))


def notify(conn: Connection | Session, rows: list[dict[str, Any]]) -> None:
    """Write notifications in the caller's transaction. rows: {"user_id", "at" (aware UTC),
    "kind" (one of KINDS), "case_id", "task_id" (or None), "params" (dict)}. Those with a task
    go to the mail outbox too when MELDCODE_SMTP_URL is set and the user has an e-mail
    address. Each row is sealed here (notification_seals.sealed), the one place rows are
    written. Raises ValueError for an unknown kind (a programming error)."""
    if not rows:
        return
    for row in rows:
        if row["kind"] not in KINDS:
            raise ValueError(f"unknown notification kind {row['kind']!r}")
    sealed = [notification_seals.sealed({"read_at": None, **row}) for row in rows]
    written = conn.execute(_INSERT, sealed).all()
    if config.current().smtp_url:
        # addressed only from a users row that reads and matches its seal (issue 11)
        about_tasks = [(note_id, user_id) for note_id, task_id, user_id in written if task_id is not None]
        if about_tasks:
            mail_addresses.queue(_connection(conn), about_tasks, rows[0]["at"])


def _connection(conn: Connection | Session) -> Connection:
    return conn.connection() if isinstance(conn, Session) else conn


def users_with_role(conn: Connection | Session, role: str) -> list[int]:
    """The ids of the active users with `role` (roles are stored comma-separated)."""
    return [uid for uid, roles in conn.execute(_ACTIVE) if role in (roles or "").split(",")]


def manager_of(conn: Connection | Session, case: Any) -> int | None:
    """The id of the leidinggevende of a case's owner: from the owner already loaded with the
    case (tasks._plan_completion sets it), else read."""
    owner = case.__dict__.get("owner")
    if owner is not None and owner.id == case.owner_id:
        return owner.manager_id
    return conn.execute(_MANAGER, {"owner_id": case.owner_id}).scalar()


def lane_people(conn: Connection | Session, case: Any, lane: str) -> list[int]:
    """Who must act on a task of `lane` in `case` (CONTRACT sections 2 and 5): the owner for
    the medewerker lane, the owner's leidinggevende (when the owner has none: every
    leidinggevende) for that lane, every aandachtsfunctionaris for theirs."""
    if lane == LEIDINGGEVENDE:
        manager = manager_of(conn, case)
        return [manager] if manager is not None else users_with_role(conn, LEIDINGGEVENDE)
    if lane == AANDACHTSFUNCTIONARIS:
        return users_with_role(conn, AANDACHTSFUNCTIONARIS)
    if lane == MEDEWERKER:
        return [case.owner_id]
    return []


def tasks_ready(conn: Connection | Session, case: Any, new_tasks: list[dict[str, Any]],
                actor_id: int | None, now: datetime) -> None:
    """`task_ready` for each new task row (dicts as cases.CaseChange.new_tasks) to everyone who
    must act on it (lane_people) except `actor_id`, the person who just acted. Costs nothing
    when the actor is the only one (a medewerker completing their own steps): no query."""
    rows = []
    for task in new_tasks:
        if task["lane"] == MEDEWERKER and case.owner_id == actor_id:
            continue
        for user_id in lane_people(conn, case, task["lane"]):
            if user_id != actor_id:
                rows.append({"user_id": user_id, "at": now, "kind": TASK_READY,
                             "case_id": case.id, "task_id": task["id"],
                             "params": {"step": task["name"], "case": case.id}})
    notify(conn, rows)


def after_change(conn: Connection | Session, case: Any, change: Any, actor_id: int | None,
                 now: datetime) -> None:
    """The notifications of one stored change of a case (cases.write_change, in its
    transaction): `task_ready` for its new tasks (tasks_ready) and `informed` to everyone an
    `informed` event of the change names (after a melding: engine/informing.py; CONTRACT
    section 5). change: a cases.CaseChange (new_tasks, events); now: aware UTC. A practice
    case (engine/practice.py) notifies nobody: its owner walks every lane alone."""
    if getattr(case, "practice", False):
        return
    if change.new_tasks:
        tasks_ready(conn, case, change.new_tasks, actor_id, now)
    names = [name for event in change.events if event["action"] == INFORMED
             for name in (event["data"] or {}).get("recipients") or [] if isinstance(name, str)]
    if names:
        ids = conn.execute(select(_users.c.id).where(_users.c.name.in_(names))).scalars()
        notify(conn, [{"user_id": user_id, "at": now, "kind": INFORMED, "case_id": case.id,
                       "task_id": None, "params": {"case": case.id}} for user_id in ids])


# A row is the user's only when it names them and its seal holds (notification_seals, issue
# 11): one HMAC per row read. A row with a value that does not read is skipped as one whose
# seal does not hold, never a failed page (loaded_rows, only then: it checks every value).
def _own(conn: Connection, user_id: int, *where: Any, limit: int | None = None) -> list[Any]:
    where = (_notes.c.user_id == user_id, *where)
    try:
        rows = conn.execute(select(_notes).where(*where).order_by(_notes.c.id.desc()).limit(limit)).all()
    except Exception as exc:  # noqa: BLE001 - judged below
        if not mail_addresses.stored_value_error(exc):
            raise
        rows = loaded_rows(conn, _notes, *where, order=_notes.c.id.desc(), limit=limit)
    key = settings.history_key()  # read once, not per row
    return [row for row in rows if notification_seals.intact(row, key)]


def listing(who: Principal, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """The caller's own notifications, newest first, at most `limit`: {"id", "at" (aware UTC
    datetime), "kind", "case_id", "task_id", "params", "read" (bool)}; only rows whose seal
    holds (issue 11: a row moved to the caller, or added, by a database writer is not theirs).
    The web layer adds the text (webui/notices.py). CONTRACT section 5: GET
    /api/v1/notifications."""
    with unit_of_work() as session:
        rows = _own(session.connection(), who.id, limit=max(1, min(limit, 1000)))
        return [{"id": n.id, "at": timezones.to_utc(n.at), "kind": n.kind,
                 "case_id": n.case_id, "task_id": n.task_id, "params": dict(n.params or {}),
                 "read": n.read_at is not None} for n in rows]


def unread_count(user_id: int) -> int:
    """How many of the user's notifications are unread and hold their seal (the page header):
    one indexed read of the unread rows, one HMAC each."""
    with unit_of_work() as session:
        return len(_own(session.connection(), user_id, _notes.c.read_at.is_(None)))


def mark_read(who: Principal, notification_id: Any) -> None:
    """Mark one of the caller's notifications read (again: no change); read_at is outside the
    seal, so this is a plain update. Raises NotFound for an id that is not a number, is
    unknown, is someone else's or does not hold its seal (never says which)."""
    try:
        number = int(notification_id)
    except (TypeError, ValueError):
        raise NotFound(N_("Bericht niet gevonden.")) from None
    if not 0 < number <= 2**31 - 1:
        raise NotFound(N_("Bericht niet gevonden."))
    with unit_of_work(write=True) as session:
        rows = _own(session.connection(), who.id, _notes.c.id == number)
        if not rows:
            raise NotFound(N_("Bericht niet gevonden."))
        if rows[0].read_at is None:
            session.execute(update(_notes).where(_notes.c.id == number).values(read_at=clock.now()))


def mark_all_read(who: Principal) -> int:
    """Mark every unread notification of the caller whose seal holds read; returns how many."""
    with unit_of_work(write=True) as session:
        ids = [row.id for row in _own(session.connection(), who.id, _notes.c.read_at.is_(None))]
        if ids:
            session.execute(update(_notes).where(_notes.c.id.in_(ids)).values(read_at=clock.now()))
        return len(ids)
