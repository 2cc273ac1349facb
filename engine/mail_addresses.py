"""Where notification mail goes (issue 11): only to the e-mail address of a users row that
reads and whose seal holds (engine/config_seals.py). A database writer who puts an address of
their own in users.email (the row no longer matches its seal) or stores bytes there (SQLite: a
BLOB, bytes that are no UTF-8) gets no mail sent there: the mail is held (outbox state HELD,
no address), logged, and `meldcode verify --all` names it as long as the row stays so
(held_problems). The address is read again when the mail is sent (engine/mail.py), so a mail
queued before the row was changed is held too, and an outbox row changed by hand never
chooses where mail goes. An outbox row that does not read is held on its own: the others are
still sent."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import DataError, OperationalError

from . import config_seals, outbox_seals
from .messages import N_, Message
from .models import MailOutbox, Notification, TaskRecord, User

log = logging.getLogger("meldcode.mail")

HELD = "held"  # mail_outbox.state of a mail that is not sent (fits String(10))
_users, _outbox, _notes = User.__table__, MailOutbox.__table__, Notification.__table__
_tasks = TaskRecord.__table__
_DUE = _tasks.c.get("due_at")  # the task's due date (engine/due.py), when the schema has it
# What the mail of an outbox row is made of (engine/mail.py): the row, its notification, its task.
MADE_OF = select(
    _outbox.c.id,
    _outbox.c.notification_id,
    _outbox.c.seal.label("outbox_seal"),  # engine/mail.py sends only while it holds (outbox_seals)
    _outbox.c.attempts,
    _outbox.c.next_attempt_at,
    _notes.c.user_id,
    _notes.c.kind,
    _notes.c.task_id,
    _notes.c.case_id,
    _notes.c.params,
    _notes.c.at,
    _notes.c.seal,  # engine/mail.py sends only while it holds (notification_seals)
    _tasks.c.name,
    _tasks.c.step,
    *([_DUE] if _DUE is not None else []),
).select_from(
    _outbox.join(_notes, _notes.c.id == _outbox.c.notification_id).outerjoin(
        _tasks, _tasks.c.id == _notes.c.task_id
    )
)
_ROWS = select(_users.c.id, *config_seals.USER_COLUMNS, _users.c.seal).where(
    _users.c.id.in_(bindparam("ids", expanding=True))
)


def addresses(conn: Connection, user_ids: Iterable[Any], why: str = "mail") -> dict[int, str | None]:
    """The address to mail, per user id of `user_ids` whose users row reads and matches its
    seal (config_seals.user_intact): the row's email as text, or None when it has none. A user
    id that is not in the answer must get no mail (row changed outside the product, stored
    damaged or gone); a row that does not match is logged with `why` (empty: not logged)."""
    wanted = sorted({uid for uid in user_ids if type(uid) is int})
    found: dict[int, str | None] = {}
    if not wanted:
        return found
    for row in conn.execute(_ROWS, {"ids": wanted}):
        if config_seals.user_intact(row, why):
            found[row.id] = str(row.email) if row.email else None
    return found


def queue(conn: Connection, written: list[tuple[int, Any]], now: datetime) -> None:
    """Put the notifications `written` ((notification id, user id) pairs, just inserted in
    this transaction) in the mail outbox: pending with the user's address (addresses), held
    without one for a user whose row is not to be trusted, nothing for a user without an
    address. Each row sealed as not sent (outbox_seals). One read of the users rows and one
    insert."""
    found = addresses(conn, [uid for _, uid in written])
    rows = []
    for note_id, uid in written:
        if uid not in found:
            log.warning(
                "mail held: the users row cannot be trusted",
                extra={"notification_id": note_id, "user_id": uid},
            )
            rows.append(
                {
                    "notification_id": note_id,
                    "address": "",
                    "state": HELD,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "seal": outbox_seals.seal_of(note_id, False),
                }
            )
        elif found[uid]:
            rows.append(
                {
                    "notification_id": note_id,
                    "address": found[uid],
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "seal": outbox_seals.seal_of(note_id, False),  # not sent (engine/outbox_seals.py)
                }
            )
    if rows:
        conn.execute(_outbox.insert(), rows)


def stored_value_error(exc: BaseException) -> bool:
    """Whether `exc`, raised while reading or using an outbox row, is about a value stored in
    it (text in a number column, bytes that are no UTF-8, SQLite; a value beyond the column's
    type, PostgreSQL), not about the database (unreachable, locked): only such a mail is held,
    the others are sent."""
    if isinstance(exc, DataError):
        return True
    if isinstance(exc, OperationalError):
        return "decode" in str(exc.orig)
    return isinstance(exc, ValueError | TypeError | OverflowError | LookupError | AttributeError)


def hold(conn: Connection, outbox_id: int, why: str) -> None:
    """Hold the outbox row `outbox_id` (state HELD, no address), whatever else it holds (one
    update that reads nothing of it), logged with `why`."""
    log.warning("mail held: %s", why, extra={"outbox_id": outbox_id})
    conn.execute(update(_outbox).where(_outbox.c.id == outbox_id).values(state=HELD, address=""))


HELD_USER = N_(
    "e-mail {id} aan gebruiker {name} (id {user}) is tegengehouden: de gebruiker is "
    "beschadigd opgeslagen of buiten het product gewijzigd (past niet bij het zegel); "
    "naar dat adres gaat geen post"
)
HELD_ROW = N_(
    "e-mail {id} is tegengehouden: de rij in de uitgaande post, het bericht of de "
    "taak is beschadigd opgeslagen"
)


def held_problems(conn: Connection) -> list[Any]:
    """For `meldcode verify --all`, in Dutch: each held mail whose user's row is still not to
    be trusted (changed or damaged outside the product: HELD_USER) or whose own outbox or
    notification row does not read (HELD_ROW). A held mail whose user was put right since is
    no finding: it stays unsent, the notification in the product is still there."""
    held = (
        conn.execute(select(_outbox.c.id).where(_outbox.c.state == HELD).order_by(_outbox.c.id))
        .scalars()
        .all()
    )
    found: list[Any] = []
    for outbox_id in held:
        try:
            row = conn.execute(MADE_OF.where(_outbox.c.id == outbox_id)).first()
            uid = row.user_id if row is not None and type(row.attempts) is int else None
        except Exception as exc:  # noqa: BLE001 - judged below
            if not stored_value_error(exc):
                raise
            uid = None
        if type(uid) is not int:
            found.append(Message(HELD_ROW, id=outbox_id))
        elif uid not in addresses(conn, [uid], why=""):
            name = conn.execute(select(_users.c.name).where(_users.c.id == uid)).scalar()
            found.append(Message(HELD_USER, id=outbox_id, name=str(name or "?")[:80], user=uid))
    return found
