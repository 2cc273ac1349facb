"""The scheduler: fires due timers (engine/timers.py) and runs the periodic jobs.

`run_due(now)` fires every timer due at `now`, each exactly once however many workers and
servers share the database: every case is fired in a transaction of its own that first claims
the case, on PostgreSQL by locking its row (`SELECT ... FOR UPDATE SKIP LOCKED`: another worker
takes the next case instead of waiting), on SQLite under the database's write lock; the claim
then reads the case's due timers afresh, so a timer fired (or made moot by a completion) just
before is seen gone. The case is loaded, changed and stored as a completion does
(cases.CaseChange, cases.write_change: task rows, engine events, stall marker, timer rows; the
case's version_id still guards the write).

`PERIODIC_JOBS` is a list of callables `(now: datetime) -> None` (now aware UTC) that the
worker loop (`meldcode worker`, the worker thread of `meldcode serve`) runs every few seconds;
other parts of the product append theirs (mail delivery, reminders: CONTRACT section 5).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from . import clock, driving, due
from .adapter import IdSource, dump_state, load_state, workflow_cache
from .cases import SYSTEM, CaseChange, Retry, task_view, write_change
from .errors import Conflict
from .models import Case, TaskRecord, Timer
from .store import write_connection
from .users import Principal
from .versions import definition_for

log = logging.getLogger("meldcode.scheduler")

# Jobs the worker runs each round after firing the due timers: callables (now) -> None.
PERIODIC_JOBS: list[Callable[[datetime], None]] = []


def deliver_mail(now: datetime) -> None:
    """Send due notification mail (engine/mail.py deliver_mail); now aware UTC."""
    from . import mail  # mail builds on the store and the models: imported when first run

    mail.deliver_mail(now)


PERIODIC_JOBS.append(deliver_mail)

REMINDER_INTERVAL = timedelta(minutes=1)  # reminders are looked for at most this often
_reminded: datetime | None = None


def send_reminders(now: datetime) -> None:
    """task_due and task_overdue reminders (engine/reminders.py), at most once per
    REMINDER_INTERVAL of `now` (aware UTC) in this process."""
    global _reminded
    if _reminded is not None and timedelta(0) <= now - _reminded < REMINDER_INTERVAL:
        return
    _reminded = now
    from . import reminders  # reminders builds on the store and due: imported when first run

    reminders.send_reminders(now)


PERIODIC_JOBS.append(send_reminders)

# How often the worker looks for due timers and runs the periodic jobs (seconds): a timer
# fires at most this long after its time (CONTRACT section 5: within 10 s).
POLL_SECONDS = 2.0

# A timer whose fire the diagram cannot go on from is tried again this much later (logged).
RETRY_LATER = timedelta(hours=1)

_SYSTEM = Principal(id=0, name=SYSTEM, roles=())
_cases, _timers, _tasks = Case.__table__, Timer.__table__, TaskRecord.__table__


def run_periodic(now: datetime | None = None) -> None:
    """Run every job of PERIODIC_JOBS once with `now` (default clock.now()). A job that
    raises is logged and the others still run; nothing is raised."""
    at = now or clock.now()
    for job in list(PERIODIC_JOBS):
        try:
            job(at)
        except Exception:
            log.exception("periodic job %s failed", getattr(job, "__name__", job))


def run_due(now: datetime | None = None, url: str | None = None, limit: int | None = None) -> int:
    """Fire every timer due at `now` (aware UTC; default clock.now()) in the database of `url`
    (default the configured one), case by case, each in its own transaction; at most `limit`
    cases (None: until none is due). Returns how many cases had a timer fired. A case whose
    claim or write fails is logged and left for the next round; nothing is raised but
    database errors outside a case."""
    at = now or clock.now()
    fired = 0
    while limit is None or fired < limit:
        outcome = _fire_next(at, url)
        if outcome is None:
            return fired
        fired += outcome
    return fired


def _claim(conn: Connection, now: datetime) -> int | None:
    query = (select(_timers.c.case_id).where(_timers.c.due_at <= now)
             .order_by(_timers.c.due_at, _timers.c.task_id).limit(1))
    if conn.dialect.name == "postgresql":
        # Lock the case, not the timer row: a completion locks the case first too (its
        # UPDATE), so the two never wait on each other crosswise.
        query = (select(_cases.c.id)
                 .select_from(_timers.join(_cases, _cases.c.id == _timers.c.case_id))
                 .where(_timers.c.due_at <= now)
                 .order_by(_timers.c.due_at, _timers.c.task_id).limit(1)
                 .with_for_update(of=_cases, skip_locked=True))
    return conn.execute(query).scalar()


def _fire_next(now: datetime, url: str | None) -> int | None:
    """Claim one case with a due timer and fire it: 1 fired, 0 nothing to fire after all
    (another worker was first), None no case with a due timer is free."""
    cache_key = None
    with write_connection(url) as conn:
        case_id = _claim(conn, now)
        if case_id is None:
            return None
        try:
            with conn.begin_nested():
                cache_key, workflow, version = _fire_case(conn, case_id, now)
        except Retry:
            return 0
        except Exception:
            log.exception("timer of case %s could not fire; tried again later", case_id)
            conn.execute(_timers.update().where(_timers.c.case_id == case_id,
                                                _timers.c.due_at <= now)
                         .values(due_at=now + RETRY_LATER))
            return 0
    if workflow is not None:
        workflow_cache.put(cache_key, version, workflow)
        return 1
    return 0


def _fire_case(conn: Connection, case_id: int, now: datetime):
    """Within the claiming transaction: fire the case's earliest due timer (timers due by
    then that the engine reaches fire with it) and store the case as a completion does.
    Returns (cache key, workflow, new version_id), or a None workflow when no timer is due."""
    timer = conn.execute(select(_timers).where(_timers.c.case_id == case_id,
                                               _timers.c.due_at <= now)
                         .order_by(_timers.c.due_at, _timers.c.task_id).limit(1)).first()
    row = conn.execute(select(_cases).where(_cases.c.id == case_id)).first()
    cache_key = (str(conn.engine.url), case_id)
    if timer is None or row is None:
        return cache_key, None, 0
    case = Case(**row._mapping)
    if case.status != "open":
        conn.execute(_timers.delete().where(_timers.c.case_id == case_id))
        return cache_key, None, 0
    definition = definition_for(conn, case.process_version)
    workflow = workflow_cache.take(cache_key, case.version_id) or load_state(
        definition, case.workflow_state)
    ready = [task_view(r) for r in conn.execute(
        select(_tasks).where(_tasks.c.case_id == case_id, _tasks.c.state == "ready"))]
    ids = IdSource(case.id, case.id_counter)
    try:
        waited, advance = driving.fire_timer(workflow, timer.task_id, ids, now)
    except driving.EngineFailure:
        raise
    except Conflict:  # the row outlived its timer: the workflow no longer waits on it
        conn.execute(_timers.delete().where(_timers.c.task_id == timer.task_id))
        return cache_key, None, 0
    change = CaseChange(case=case, version_id=case.version_id, still_ready=ready,
                        settings=due.settings(conn))  # the norm of new tasks' due dates
    change.timer_fired(waited, now)
    change.advanced(definition, advance, {r["id"] for r in ready}, now)
    case.id_counter = ids.counter
    case.workflow_state = dump_state(workflow)
    write_change(conn, change, _SYSTEM, now)
    return cache_key, workflow, change.version_id + 1


def run_worker(stop: threading.Event, url: str | None = None,
               poll: float = POLL_SECONDS) -> None:
    """The worker loop: until `stop` is set, fire the due timers (run_due) and run the
    periodic jobs (run_periodic) with the engine's clock, then wait `poll` seconds. An error
    of a round is logged and the loop goes on."""
    log.info("worker started")
    while not stop.is_set():
        try:
            fired = run_due(clock.now(), url)
            if fired:
                log.info("timers fired", extra={"cases": fired})
        except Exception:
            log.exception("firing timers failed")
        run_periodic(clock.now())
        stop.wait(poll)
    log.info("worker stopped")
