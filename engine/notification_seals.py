"""The seal of a notification (issue 11): who it is for and what it says, under the history key.

A database writer who moves a notification to another user (notifications.user_id), or adds
one of their own with a mail_outbox row, would have the product show it to that user and mail
it (engine/mail.py makes the mail of the notification and its task). So each row carries a
keyed seal (`notifications.seal`): HMAC-SHA-256 with the history key over SEALED, as
engine/config_seals.py seals users rows and engine/task_rows.py task rows. It is written with
the row by notifications.notify, the one place rows are written; read_at is not covered, so
marking read stays a plain update. A row whose seal does not hold is not listed, counted or
marked read for the user it names (engine/notifications.py), and its mail is held when it
would be sent (engine/mail.py), since the row may change while the mail waits.

Rows written before migration 0019 have no seal and get none: sealing them then would vouch
for whatever they hold by that time. They are not shown or mailed either. The migration's
admin-log line (RECORDED, keyed like every line) names the last of them and how many there
were, so `meldcode verify --all` tells them (a note: unsealed_note) from a row added or changed
since (a finding: problems).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from . import admin_chain, audit, settings
from .messages import N_, Message
from .models import Notification, User
from .stored_rows import DamagedRow, damage_fields, loaded_rows
from .stored_time import damaged_time

# The columns the seal covers: everything a notification says and whom it is for.
SEALED = ("user_id", "at", "kind", "case_id", "task_id", "params")
RECORDED = "notifications_sealed"  # the admin-log line of migration 0019 (record)
LAST, COUNT = "last_unsealed_notification", "unsealed_notifications"  # its detail's keys
_BATCH = 1000  # rows verify reads at a time: memory stays flat over many

_notes, _users = Notification.__table__, User.__table__
_keyed: dict[bytes, Any] = {}  # history key -> HMAC set up with it and the domain, to copy


def seal_of(row: Any, key: bytes | None = None) -> str:
    """The seal of a notification: HMAC-SHA-256 (the history key, or `key`) over
    "notification\\n" and the canonical JSON (audit.canonical) of SEALED, the time as
    audit.iso, hex. row: a mapping (a row to insert) or an object with those attributes (a
    Row, a DamagedRow, a model). Raises ValueError for a value of another type than the
    product writes, a value read as damaged included (engine/stored_text.py, stored_time.py:
    subclasses of str, dict, datetime): no seal the product wrote covers such a row. The
    types are checked exactly, not with stored_rows.value_damage: the list runs this per row."""
    if isinstance(row, Mapping):
        content = {name: row.get(name) for name in SEALED}
    else:
        content = {name: getattr(row, name) for name in SEALED}
    at, case_id, task_id = content["at"], content["case_id"], content["task_id"]
    if not (
        type(content["user_id"]) is int
        and isinstance(at, datetime)
        and not damaged_time(at)
        and type(content["kind"]) is str
        and (case_id is None or type(case_id) is int)
        and (task_id is None or type(task_id) is str)
        and type(content["params"]) is dict
    ):
        raise ValueError("a value of a type no product writes, or read as damaged")
    content["at"] = audit.iso(at)
    key = key or settings.history_key()
    base = _keyed.get(key)
    if base is None:
        base = _keyed[key] = hmac.new(key, b"notification\n", hashlib.sha256)
    mac = base.copy()
    mac.update(audit.canonical(content))
    return mac.hexdigest()


def sealed(values: dict[str, Any]) -> dict[str, Any]:
    """A notification row to insert (a dict with SEALED), with its seal set. Out: the same
    dict. Raises ValueError as seal_of (a programming error: the product writes sound rows)."""
    values["seal"] = seal_of(values)
    return values


def intact(row: Any, key: bytes | None = None) -> bool:
    """Whether a notification row (with SEALED and seal) matches its seal (`key`: the history
    key, read when not given). False, never an exception, for a row without a seal (written
    before migration 0019) or with a value no product writes."""
    seal = getattr(row, "seal", None)
    if not isinstance(seal, str) or not seal:
        return False
    try:
        return hmac.compare_digest(seal_of(row, key), seal)
    except (TypeError, ValueError, AttributeError):
        return False


def record(conn: Connection, by: str) -> None:
    """Migration 0019: its RECORDED admin-log line (admin_chain.record_unsealed)."""
    admin_chain.record_unsealed(conn, by, _notes, RECORDED, (LAST, COUNT))


def _before(conn: Connection) -> tuple[int, int]:
    """(last id, how many) of the rows migration 0019 found without a seal (admin_chain.recorded_unsealed)."""
    return admin_chain.recorded_unsealed(conn, RECORDED, (LAST, COUNT))


CHANGED = N_(
    "bericht {id} aan gebruiker {name} (id {user}): de ontvanger, het tijdstip, de soort, de "
    "casus, de taak of de tekst past niet bij het zegel (buiten het product gewijzigd of "
    "toegevoegd); het wordt niet getoond en niet gemaild"
)
DAMAGED = N_(
    "bericht {id} is beschadigd opgeslagen ({fields}): buiten het product gewijzigd; het wordt "
    "niet getoond en niet gemaild"
)
ADDED_UNSEALED = N_(
    "{count} bericht(en) zonder zegel meer dan migratie 0019 er vond (nummers tot en met "
    "{last}): buiten het product toegevoegd; ze worden niet getoond en niet gemaild"
)
UNSEALED = N_(
    "{count} bericht(en) van vóór migratie 0019 hebben geen zegel: ze worden niet getoond en niet gemaild"
)


def problems(conn: Connection) -> list[Any]:
    """For `meldcode verify --all`, in Dutch: each notification whose seal does not hold
    (CHANGED, or DAMAGED for a value that does not read), and, when more rows without a seal
    have an id up to the last one migration 0019 found than it counted, how many more
    (ADDED_UNSEALED). Rows from before 0019 are no finding (unsealed_note). Reads the rows in
    batches; raises only what the database raises."""
    last, count = _before(conn)
    names = dict(conn.execute(select(_users.c.id, _users.c.name)).all())
    found: list[Any] = []
    unsealed, after = 0, None  # None: from the lowest id, whatever it is (0 and below too)
    key = settings.history_key()
    while rows := loaded_rows(conn, _notes, *([] if after is None else [_notes.c.id > after]), limit=_BATCH):
        for row in rows:
            if row.seal is None and row.id <= last:  # from before the seal: a note, no finding
                unsealed += 1
            elif isinstance(row, DamagedRow):
                found.append(Message(DAMAGED, id=row.id, fields=damage_fields(row.damage)))
            elif not intact(row, key):
                user = row.user_id
                found.append(Message(CHANGED, id=row.id, name=str(names.get(user, "?"))[:80], user=user))
        after = rows[-1].id
    if unsealed > count:
        found.append(Message(ADDED_UNSEALED, count=unsealed - count, last=last))
    return found


def unsealed_note(conn: Connection) -> Message | None:
    """verify's note (UNSEALED, Dutch) of the notifications without a seal that migration 0019
    found (at most as many as it counted; more are problems' finding), or None when there are
    none. One count."""
    last, count = _before(conn)
    if not count:
        return None
    have = (
        conn.execute(select(func.count()).where(_notes.c.seal.is_(None), _notes.c.id <= last)).scalar() or 0
    )
    return Message(UNSEALED, count=min(have, count)) if have else None
