"""The seal of a mail_outbox row (issue 11): the outbox mails a notification at most once, and
only from a row the product wrote.

A database writer who put a row in mail_outbox pointing at a genuine notification (after the
product's own row was sent and removed, or for one that was never to be mailed) had that
notification's mail sent again to its rightful user; one who set a sent row back to pending
had it sent twice. So each row carries a keyed seal (`mail_outbox.seal`, migration 0020):
HMAC-SHA-256 with the history key over the notification it mails and whether it was sent, as
engine/notification_seals.py seals the notifications. engine/mail_addresses.queue writes it
with the row (not sent), engine/mail.py sends only from a pending row whose seal holds as
not sent and seals it anew as sent in the same statement that marks it sent; a row whose seal
does not hold is held (state "held") and never sent. The address, the attempts and the times
are not covered: the address is read again from the sealed users row when the mail is sent.

What a seal cannot tell: a row put back as it was while it waited (its old seal with it);
verify's copy of the database and the transparency log are where such a rewind shows.

Rows written before migration 0020 have no seal and get none (sealing them then would vouch
for whatever they hold by that time): one that still waits is held, not sent. The migration's
admin-log line (RECORDED) names the last of them and how many there were, so `meldcode verify
--all` tells them (a note: unsealed_note) from a row added since (a finding: problems).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import Connection, func, select

from . import admin_chain, audit, settings
from .messages import N_, Message
from .models import MailOutbox
from .stored_rows import DamagedRow, loaded_rows

RECORDED = "mail_outbox_sealed"  # the admin-log line of migration 0020 (record)
LAST, COUNT = "last_unsealed_mail", "unsealed_mails"  # its detail's keys
SENT = "sent"  # the state whose seal says sent (engine/mail.py)
_BATCH = 1000  # rows verify reads at a time

_outbox = MailOutbox.__table__


def seal_of(notification_id: Any, sent: bool, key: bytes | None = None) -> str:
    """The seal of an outbox row: HMAC-SHA-256 (the history key, or `key`) over "mail_outbox\\n"
    and the canonical JSON of the notification's id and `sent`, hex. Raises ValueError for an
    id that is no whole number (no row of the product holds one)."""
    if type(notification_id) is not int:
        raise ValueError("a notification id that is no whole number")
    content = audit.canonical({"notification_id": notification_id, "sent": bool(sent)})
    return hmac.new(key or settings.history_key(), b"mail_outbox\n" + content, hashlib.sha256).hexdigest()


def holds(notification_id: Any, seal: Any, sent: bool, key: bytes | None = None) -> bool:
    """Whether `seal`, stored on the outbox row of notification `notification_id`, is the seal
    of a row that was (`sent`) or was not sent. False, never an exception, for no seal
    (a row written before migration 0020, or by hand) or a value no product writes."""
    if not isinstance(seal, str) or not seal:
        return False
    try:
        return hmac.compare_digest(seal_of(notification_id, sent, key), seal)
    except (TypeError, ValueError):
        return False


def intact(row: Any, sent: bool, key: bytes | None = None) -> bool:
    """holds for an outbox row (with notification_id and seal)."""
    return holds(getattr(row, "notification_id", None), getattr(row, "seal", None), sent, key)


def record(conn: Connection, by: str) -> None:
    """Migration 0020: its RECORDED admin-log line (admin_chain.record_unsealed)."""
    admin_chain.record_unsealed(conn, by, _outbox, RECORDED, (LAST, COUNT))


def _before(conn: Connection) -> tuple[int, int]:
    """(last id, how many) of the rows migration 0020 found without a seal (admin_chain.recorded_unsealed)."""
    return admin_chain.recorded_unsealed(conn, RECORDED, (LAST, COUNT))


PLANTED = N_(
    "e-mail {id} (bericht {note}): de rij in de uitgaande post past niet bij haar zegel (buiten "
    "het product toegevoegd of gewijzigd, bijvoorbeeld een verstuurde e-mail weer op wachten "
    "gezet); deze e-mail wordt niet verstuurd"
)
ADDED_UNSEALED = N_(
    "{count} e-mail(s) zonder zegel in de uitgaande post meer dan migratie 0020 er vond "
    "(nummers tot en met {last}): buiten het product toegevoegd; ze worden niet verstuurd"
)
UNSEALED = N_(
    "{count} e-mail(s) in de uitgaande post van vóór migratie 0020 hebben geen zegel: een die "
    "nog wacht, wordt niet verstuurd"
)


def problems(conn: Connection) -> list[Any]:
    """For `meldcode verify --all`, in Dutch (under the mail's heading, config_seals.PART_MAIL):
    each outbox row whose seal does not hold for its state (PLANTED: a sent row as sent, any
    other as not sent), and, when more rows without a seal have an id up to the last one
    migration 0020 found than it counted, how many more (ADDED_UNSEALED). Rows from before
    0020 are no finding (unsealed_note). Reads the rows in batches; raises only what the
    database raises."""
    last, count = _before(conn)
    found: list[Any] = []
    unsealed, after = 0, None  # None: from the lowest id, whatever it is
    key = settings.history_key()
    while rows := loaded_rows(
        conn, _outbox, *([] if after is None else [_outbox.c.id > after]), limit=_BATCH
    ):
        for row in rows:
            if row.seal is None and type(row.id) is int and row.id <= last:  # from before 0020
                unsealed += 1
            elif isinstance(row, DamagedRow) or not intact(row, row.state == SENT, key):
                found.append(Message(PLANTED, id=row.id, note=row.notification_id))
        after = rows[-1].id
    if unsealed > count:
        found.append(Message(ADDED_UNSEALED, count=unsealed - count, last=last))
    return found


def mail_problems(conn: Connection) -> list[Any]:
    """What verify names under the mail's heading: the outbox rows whose seal does not hold
    (problems), then the held mail (mail_addresses.held_problems) of the other rows, so one
    row is named once."""
    from .mail_addresses import held_problems  # it builds on config_seals, which asks this

    found = problems(conn)
    named = {getattr(problem, "params", {}).get("id") for problem in found}
    return found + [p for p in held_problems(conn) if getattr(p, "params", {}).get("id") not in named]


def unsealed_note(conn: Connection) -> Message | None:
    """verify's note (UNSEALED, Dutch) of the outbox rows without a seal that migration 0020
    found (at most as many as it counted; more are problems' finding), or None when there
    are none. One count."""
    last, count = _before(conn)
    if not count:
        return None
    have = (
        conn.execute(select(func.count()).where(_outbox.c.seal.is_(None), _outbox.c.id <= last)).scalar() or 0
    )
    return Message(UNSEALED, count=min(have, count)) if have else None
