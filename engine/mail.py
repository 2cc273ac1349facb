"""E-mail about tasks (CONTRACT section 5): the outbox that engine/notifications.py fills in
the notification's own transaction, and `deliver_mail`, the scheduler's job that sends it.

A mail says only that a task waits, the step's name (the diagram's task name), its due date if
it has one, and a link (MELDCODE_BASE_URL + the task's page): never a client reference, a
reason or anything recorded. It is Dutch, as the product's mail is. The escalation of an overdue
task to the owner's leidinggevende (engine/reminders.py, issue 13 point 3) says instead that a
task of a colleague in their team is overdue and links to the case's page: the task's page is
not theirs to open.

Delivery never holds up a request: it runs in the worker (engine/scheduler.py), a few mails
per run. Each is first claimed (attempts + 1 and a lease on next_attempt_at, only if nobody
claimed it meanwhile: several workers never send one twice), then sent with smtplib outside
any transaction; a failure is tried again after a doubling wait, and after MAX_ATTEMPTS it is
given up with a log line.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import select, update

from . import config, mail_addresses, notification_seals, outbox_seals, timezones
from .cases import task_name
from .messages import N_, Message
from .models import MailOutbox
from .reminders import ESCALATE_AFTER, is_escalation
from .store import unit_of_work

log = logging.getLogger("meldcode.mail")

BATCH = 5  # mails sent at most per run of the job
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=1)  # doubled after each failure: 1, 2, 4, 8, 16 minutes
LEASE = timedelta(minutes=5)  # a claimed mail is not claimed again before this
SMTP_TIMEOUT = 10.0  # seconds

SUBJECTS = {
    "task_ready": N_("Meldcode: er wacht een taak op u ({step})"),
    "consult": N_("Meldcode: er wacht een vraag op u ({step})"),
    "task_due": N_("Meldcode: de termijn van een taak verloopt morgen ({step})"),
    "task_overdue": N_("Meldcode: de termijn van een taak is verstreken ({step})"),
}
BODY = N_("In de meldcode wacht een taak op u.\n\nStap: {step}\n{due}\nOpen de taak na het "
          "aanmelden: {link}\n\nDit bericht noemt bewust geen gegevens van de casus of de "
          "cliënt; die ziet u alleen in de meldcode zelf.\n")
DUE = N_("Uiterlijk af: {when}\n")
# to the owner's leidinggevende, about a task that is not theirs (engine/reminders.py)
ESCALATED_SUBJECT = N_("Meldcode: een taak in uw team is over de termijn ({step})")
ESCALATED_BODY = N_("In de meldcode is een taak van een collega in uw team meer dan {days} "
                    "werkdagen over de termijn.\n\nStap: {step}\n{due}\nBekijk de casus na "
                    "het aanmelden: {link}\n\nDit bericht noemt bewust geen gegevens van de "
                    "casus of de cliënt; die ziet u alleen in de meldcode zelf.\n")

_outbox = MailOutbox.__table__
_PENDING = mail_addresses.MADE_OF


def message(item: dict[str, Any], sender: str, base_url: str) -> EmailMessage:
    """The mail of one outbox item ({"address", "kind", "task_id", "step", "due_at"}: the
    step's name, the due date aware UTC or None; optional "escalated" (bool) and "case_id").
    Dutch; only the step, the due date (Dutch time, Europe/Amsterdam) and the link to the
    task's page, or for an escalation (engine/reminders.is_escalation) the words of a
    colleague's overdue task and the link to the case's page. Raises nothing of its own
    (EmailMessage may raise ValueError for a header it cannot make)."""
    # one line: a task's name comes from the diagram, where a name may hold a line break
    # (&#10;), and a header may not (issue 13 break-it: the mail could never be made)
    step = " ".join(str(item["step"] or "").split())
    due = (Message(DUE, when=timezones.local(item["due_at"]).strftime("%d-%m-%Y %H:%M"))
           if item.get("due_at") else "")
    escalated = bool(item.get("escalated")) and item.get("case_id") is not None
    if escalated:  # the task's page is closed to them; the case's is open (users.may_read_case)
        link = f"{base_url.rstrip('/')}/casussen/{item['case_id']}"
        subject = Message(ESCALATED_SUBJECT, step=step)
        body = Message(ESCALATED_BODY, days=ESCALATE_AFTER, step=step, due=str(due), link=link)
    else:
        link = f"{base_url.rstrip('/')}/taken/{item['task_id']}"
        subject = Message(SUBJECTS.get(item["kind"], SUBJECTS["task_ready"]), step=step)
        body = Message(BODY, step=step, due=str(due), link=link)
    mail = EmailMessage()
    mail["Subject"] = str(subject)
    mail["From"] = sender
    mail["To"] = item["address"]
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    mail.set_content(str(body))
    return mail


def _claim(now: datetime) -> list[dict[str, Any]]:
    """Up to BATCH due mails, each claimed by this worker (attempts + 1, leased until
    now + LEASE) in a short transaction of its own; what their messages are made of. The
    address is the user's as their sealed row holds it now (mail_addresses.addresses), never
    the one queued; a mail whose own row does not hold its seal as not sent (outbox_seals:
    planted, or set back to pending after it was sent), whose user's row is not to be trusted,
    whose notification does not hold its seal (notification_seals: moved to another user or
    added while it waited), or whose own row does not read, is held instead (issue 11): one
    such row never stops the others."""
    due = (select(_outbox.c.id).where(_outbox.c.state == "pending", _outbox.c.next_attempt_at <= now)
           .order_by(_outbox.c.next_attempt_at, _outbox.c.id).limit(BATCH))
    with unit_of_work() as session:  # a read first: most runs find nothing to send
        ids = session.execute(due).scalars().all()
    claimed: list[dict[str, Any]] = []
    for outbox_id in ids:
        try:
            with unit_of_work(write=True) as session:
                item = _claim_one(session.connection(), outbox_id, now)
        except Exception as exc:  # noqa: BLE001 - judged below
            if not mail_addresses.stored_value_error(exc):
                raise
            with unit_of_work(write=True) as session:
                mail_addresses.hold(session.connection(), outbox_id, type(exc).__name__)
            continue
        if item is not None:
            claimed.append(item)
    return claimed


def _claim_one(conn: Any, outbox_id: int, now: datetime) -> dict[str, Any] | None:
    row = conn.execute(_PENDING.where(_outbox.c.id == outbox_id, _outbox.c.state == "pending")).first()
    if row is None:  # another worker was first
        return None
    if not outbox_seals.holds(row.notification_id, row.outbox_seal, sent=False):
        # planted, or a sent row set back to pending: never sent (issue 11, at most once)
        mail_addresses.hold(conn, row.id, "the outbox row does not match its seal")
        return None
    if not notification_seals.intact(row):  # checked now: the row may have changed while queued
        mail_addresses.hold(conn, row.id, "the notification does not match its seal")
        return None
    address = mail_addresses.addresses(conn, [row.user_id]).get(row.user_id)
    if not address:  # a row not to be trusted, or no address any more
        mail_addresses.hold(conn, row.id, "the users row cannot be trusted or has no address")
        return None
    done = conn.execute(
        update(MailOutbox).where(MailOutbox.id == row.id, MailOutbox.attempts == row.attempts,
                                 MailOutbox.state == "pending")
        .values(attempts=row.attempts + 1, next_attempt_at=now + LEASE, address=address))
    if getattr(done, "rowcount", 0) != 1:
        return None
    return {"id": row.id, "notification_id": row.notification_id, "address": address,
            "attempts": row.attempts + 1,
            "kind": row.kind, "task_id": row.task_id, "case_id": row.case_id,
            "escalated": is_escalation(row.kind, row.params),
            "step": str(task_name(row.step, row.name)) if row.name
            else (row.params or {}).get("step") or "",
            "due_at": timezones.to_utc(getattr(row, "due_at", None))}


def _settle(item: dict[str, Any], now: datetime, error: Exception | None) -> None:
    values: dict[str, Any]
    if error is None:  # sealed as sent: set back to pending it is held (outbox_seals)
        values = {"state": outbox_seals.SENT, "sent_at": now,
                  "seal": outbox_seals.seal_of(item["notification_id"], True)}
    elif item["attempts"] >= MAX_ATTEMPTS:
        values = {"state": "failed"}
        log.warning("mail given up after %s attempts", item["attempts"],
                    extra={"outbox_id": item["id"], "error": type(error).__name__})
    else:
        values = {"next_attempt_at": now + FIRST_RETRY * 2 ** (item["attempts"] - 1)}
        log.info("mail not delivered, tried again later",
                 extra={"outbox_id": item["id"], "error": type(error).__name__})
    with unit_of_work(write=True) as session:
        session.execute(update(MailOutbox).where(MailOutbox.id == item["id"]).values(**values))


def deliver_mail(now: datetime) -> int:
    """The scheduler's job (engine/scheduler.py PERIODIC_JOBS): send up to BATCH due mails of
    the outbox through MELDCODE_SMTP_URL; now: aware UTC (engine/clock.py). Out: how many
    were sent. Nothing happens without MELDCODE_SMTP_URL. A failure (the server refuses or
    cannot be reached) is never raised: the mail is tried again later, and given up after
    MAX_ATTEMPTS attempts with a log line."""
    settings = config.current()
    address = config.smtp_address(settings.smtp_url) if settings.smtp_url else None
    if address is None:
        return 0
    sent = 0
    for item in _claim(now):
        try:
            made = message(item, settings.mail_from, settings.base_url)
        except Exception as exc:  # noqa: BLE001 - a mail that cannot be made never stops the others
            with unit_of_work(write=True) as session:
                mail_addresses.hold(session.connection(), item["id"], type(exc).__name__)
            continue
        try:
            with smtplib.SMTP(address[0], address[1], timeout=SMTP_TIMEOUT) as smtp:
                smtp.send_message(made)
        except (OSError, ValueError, smtplib.SMTPException) as exc:
            _settle(item, now, exc)
        else:
            _settle(item, now, None)
            sent += 1
    return sent


def outbox(address: str | None = None) -> list[dict[str, Any]]:
    """The outbox as stored (oldest first), for tests and operators: {"id", "address",
    "state", "attempts", "next_attempt_at" (aware UTC), "sent_at"}; only `address`'s when
    given."""
    query = select(MailOutbox).order_by(MailOutbox.id)
    if address is not None:
        query = query.where(MailOutbox.address == address)
    with unit_of_work() as session:
        return [{"id": m.id, "address": m.address, "state": m.state, "attempts": m.attempts,
                 "next_attempt_at": timezones.to_utc(m.next_attempt_at),
                 "sent_at": timezones.to_utc(m.sent_at)} for m in session.scalars(query)]
