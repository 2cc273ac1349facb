"""Reminders (CONTRACT section 5, issue 13 point 3): the scheduler's job that, once per task,
person and kind, sends `task_due` when a ready task is due tomorrow (the calendar day in Dutch
time, Europe/Amsterdam) and `task_overdue` when it is past due, to the person who must act (the
owner for the medewerker lane, the owner's leidinggevende for theirs, every
aandachtsfunctionaris for theirs, the person consulted for a consult), and `task_overdue` also
to the owner's leidinggevende when a task is overdue by more than ESCALATE_AFTER working days.

That last one is an escalation (params["escalated"] true): the task is not the leidinggevende's
to act on and its page is closed to them (a medewerker's step, a consult to an
aandachtsfunctionaris), so its words (webui/notifications, engine/mail.py) say that a task of a
colleague in their team is overdue and it links to the case, which they may read as the owner's
leidinggevende (engine/users.may_read_case). A leidinggevende who must act on the task anyway
(their lane, a consult to them) gets the ordinary reminder only.

Due dates are tasks.due_at (engine/due.py); now comes from the caller (the scheduler passes
engine/clock.py's). A reminder is a notification (engine/notifications.py), so it is mailed
like the others when the person has an address.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from . import due, notification_seals, notifications, settings, store
from .cases import OWN_TASK_NAMES
from .models import Case, Consult, Notification, TaskRecord
from .store import unit_of_work
from .stored_rows import loaded_rows
from .timezones import to_utc

ESCALATE_AFTER = 5  # working days overdue after which the owner's leidinggevende is told
ESCALATED = "escalated"  # the params key that marks the leidinggevende's reminder
_notes = Notification.__table__
_KINDS = (notifications.TASK_DUE, notifications.TASK_OVERDUE)


def is_escalation(kind: str, params: dict[str, Any] | None) -> bool:
    """Is a notification of `kind` with `params` the escalation to the owner's leidinggevende
    (a `task_overdue` marked params["escalated"], issue 13 point 3)? Its words and link are the
    case's, not the task's (webui/notifications, engine/mail.py). Raises nothing."""
    return kind == notifications.TASK_OVERDUE and bool((params or {}).get(ESCALATED))


def _wanted(session, task: TaskRecord, now: datetime) -> list[tuple[int, str, bool]]:
    """(user id, kind, escalated) of every reminder `task` calls for at `now` (before those
    already sent are left out); escalated: the owner's leidinggevende told of a task that is
    not theirs to act on (ESCALATE_AFTER)."""
    due_at = to_utc(task.due_at)
    assert due_at is not None  # send_reminders reads only tasks with a due date
    today = due.local_day(now)
    case = SimpleNamespace(id=task.case_id, owner_id=task.owner_id)
    if due.is_overdue(due_at, now):
        kind = notifications.TASK_OVERDUE
    elif due.local_day(due_at) == today + timedelta(days=1):
        kind = notifications.TASK_DUE
    else:
        return []
    if task.step == "consult":
        people = list(session.scalars(select(Consult.user_id).where(Consult.task_id == task.id)))
    else:
        people = notifications.lane_people(session, case, task.lane)
    wanted = [(person, kind, False) for person in people]
    if kind == notifications.TASK_OVERDUE and \
            due.working_days_between(due.local_day(due_at), today) > ESCALATE_AFTER:
        manager = notifications.manager_of(session, case)
        if manager is not None and manager not in people:
            wanted.append((manager, kind, True))
    return wanted


def _reminded(conn: Any, task_ids: list[str]) -> set[tuple[Any, Any, Any]]:
    """(user id, task id, kind) of every reminder of `task_ids` already written: only rows whose
    seal holds (notification_seals; a value that does not read is a row whose seal does not).
    A row a database writer added or changed is no reminder sent: it is not shown or mailed,
    so the person would never be reminded (issue 11)."""
    key = settings.history_key()
    return {(row.user_id, row.task_id, row.kind)
            for row in loaded_rows(conn, _notes, _notes.c.task_id.in_(task_ids), _notes.c.kind.in_(_KINDS))
            if notification_seals.intact(row, key)}


def send_reminders(now: datetime) -> int:
    """The scheduler's job (engine/scheduler.py PERIODIC_JOBS): every reminder due at `now`
    (aware UTC) that was not sent yet (_reminded: by the rows whose seal holds), as
    notifications. Out: how many were written. Reads the ready tasks due by the end of
    tomorrow (Dutch time), none of a practice case; writes only when there is something to
    send, in a write transaction that reads what was sent again first, one such writer at a
    time (store.key_lock; SQLite's writers take turns): several workers never send one twice.
    Raises nothing of its own (database errors pass through)."""
    horizon = due.end_of_day(due.local_day(now) + timedelta(days=1))
    with unit_of_work() as session:
        tasks = list(session.scalars(select(TaskRecord).where(
            TaskRecord.state == "ready", TaskRecord.due_at.is_not(None),
            TaskRecord.due_at <= horizon,
            # practice mode's fictional cases remind nobody (engine/practice.py)
            TaskRecord.case_id.not_in(select(Case.id).where(Case.practice.is_(True))))))
        if not tasks:
            return 0
        wanted = {(user, task.id, kind): (task, escalated) for task in tasks
                  for user, kind, escalated in _wanted(session, task, now)}
        ids = [t.id for t in tasks]
        if not set(wanted) - _reminded(session.connection(), ids):
            return 0
    with unit_of_work(write=True) as session:
        store.key_lock(session, "reminders")  # the read below and the insert are one step
        sent = _reminded(session.connection(), ids)
        rows: list[dict[str, Any]] = [
            {"user_id": user, "at": now, "kind": kind, "case_id": task.case_id, "task_id": task_id,
             "params": {"step": task.name, "case": task.case_id,
                        # a consult's name is a value that webui.notifications words
                        **({"task_step": task.step} if task.step in OWN_TASK_NAMES else {}),
                        **({ESCALATED: True} if escalated else {})}}
            for (user, task_id, kind), (task, escalated) in wanted.items()
            if (user, task_id, kind) not in sent]
        notifications.notify(session, rows)
    return len(rows)
