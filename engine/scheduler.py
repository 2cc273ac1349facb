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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from . import clock, driving, due, stored_rows, timers, timezones, workflow_cache, write_refusals
from .adapter import IdSource, dump_state
from .cases import SYSTEM, CaseChange, Retry, task_view, write_change
from .errors import Conflict
from .models import Case, TaskRecord, Timer, User
from .store import get_engine, write_connection
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

# Due cases a SQLite worker claims at once, plans one by one and writes in one transaction.
BATCH = 32

# How long a SQLite worker's claim on a batch keeps other workers off it: a worker that dies
# mid-batch delays those timers by at most this (the claim only keeps work apart; exactly
# once rests on the case's version_id). A batch is planned and written in well under a second.
CLAIM_FOR = timedelta(seconds=5)

# A case whose timer could not fire (logged) is tried again after as long as the timer is
# overdue by then, at least RETRY_FIRST and at most RETRY_MOST: a passing fault (a lost
# connection) costs half a minute, a lasting one (a damaged case) is retried ever less often,
# and the other cases' timers never wait on it. The wait is a claim (claimed_until), so the
# timer keeps its own due time.
RETRY_FIRST = timedelta(seconds=30)
RETRY_MOST = timedelta(hours=1)

_SYSTEM = Principal(id=0, name=SYSTEM, roles=())
_cases, _timers, _tasks, _users = (Case.__table__, Timer.__table__, TaskRecord.__table__,
                                   User.__table__)


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
    """Fire every timer due at `now` (aware UTC; default: the engine's clock read anew for
    each batch, so a long round neither stamps its last fires with its start nor leaves a
    timer that comes due meanwhile for the next round) in the database of `url` (default the
    configured one), case by case, each in its own transaction; at most `limit` cases (None:
    until none is due). Returns how many cases had a timer fired. A case whose fire fails
    is logged and held back (between RETRY_FIRST and RETRY_MOST, as long as it is overdue);
    nothing is raised but database errors outside a case. CONTRACT section 5: each due timer
    fires exactly once, within 10 s of its time, however many workers and servers run."""
    fired = 0
    while limit is None or fired < limit:
        outcome = _fire_next(now or clock.now(), url)
        if outcome is None:
            return fired
        fired += outcome
    return fired


def _claim(conn: Connection, now: datetime) -> int | None:
    """PostgreSQL: lock the case of the earliest due timer that no other worker holds."""
    # Lock the case, not the timer row: a completion locks the case first too (its UPDATE),
    # so the two never wait on each other crosswise.
    query = (select(_cases.c.id)
             .select_from(_timers.join(_cases, _cases.c.id == _timers.c.case_id))
             .where(_timers.c.due_at <= now, _free(now))
             .order_by(_timers.c.due_at, _timers.c.task_id).limit(1)
             .with_for_update(of=_cases, skip_locked=True))
    return conn.execute(query).scalar()


def _fire_next(now: datetime, url: str | None) -> int | None:
    """Fire what is due in a few cases: the number fired (0: another worker was first), or
    None when no case has a due timer (free to this worker)."""
    if get_engine(url).dialect.name == "sqlite":
        return _fire_planned(now, url)
    with write_connection(url) as conn:  # PostgreSQL: claim, plan and write under the lock
        case_id = _claim(conn, now)
        if case_id is None:
            return None
        try:
            with conn.begin_nested():
                plan = _plan(conn, case_id, now)
                done = _apply(conn, plan, now)
        except stored_rows.DamagedCase as refused:
            _damaged(case_id, refused)
            _later(conn, case_id, now)
            return 0
        except Exception:
            log.exception("timer of case %s could not fire; tried again later", case_id)
            _later(conn, case_id, now)
            return 0
    return _cached(plan) if done else 0


def _fire_planned(now: datetime, url: str | None) -> int | None:
    """SQLite: claim a batch of due cases for this worker (one short write: other workers
    take other cases), plan them on one read connection (the engine's work needs no lock, so
    workers plan side by side) and write them in one write transaction, each case under a
    savepoint and only if it is still at the version planned from (else a completion was
    first: that plan is dropped, write_change raises Retry, and its rows are the new ones)."""
    engine = get_engine(url)
    with write_connection(url) as conn:
        claimed = _claim_batch(conn, now)
    if not claimed:
        return None
    plans: list[_Plan] = []
    failed: list[int] = []
    with engine.connect() as conn:
        settings = due.settings(conn)  # the norm of new tasks' due dates, once per batch
        for case_id in claimed:
            try:
                plans.append(_plan(conn, case_id, now, settings))
            except stored_rows.DamagedCase as refused:
                _damaged(case_id, refused)
                failed.append(case_id)
            except Exception:
                log.exception("timer of case %s could not fire; tried again later", case_id)
                failed.append(case_id)
    fired: list[_Plan] = []
    with write_connection(url) as conn:
        for plan in plans:
            try:
                with conn.begin_nested():
                    if _apply(conn, plan, now):
                        fired.append(plan)
            except Retry:
                continue
            except stored_rows.DamagedCase as refused:  # its seal failed since the plan
                _damaged(plan.case_id, refused)
                failed.append(plan.case_id)
            except Exception:
                log.exception("timer of case %s could not be stored; tried again later",
                              plan.case_id)
                failed.append(plan.case_id)
        for case_id in failed:
            _later(conn, case_id, now)
        # rows claimed but neither fired nor moved on (a case no longer due) are free again;
        # only this worker's claims (another may have taken a row whose claim ran out)
        conn.execute(_timers.update().where(_timers.c.case_id.in_(claimed),
                                            _timers.c.claimed_until == now + CLAIM_FOR)
                     .values(claimed_until=None))
    return sum(_cached(plan) for plan in fired)


def _free(now: datetime):
    """A timer row no worker holds and no failed fire holds back: claimed_until unset or past."""
    return _timers.c.claimed_until.is_(None) | (_timers.c.claimed_until <= now)


def _claim_batch(conn: Connection, now: datetime) -> list[int]:
    """Claim up to BATCH due cases nobody else holds (claimed_until unset or past `now`) until
    CLAIM_FOR after `now`, earliest due first: their ids."""
    due_cases = (select(_timers.c.case_id).where(_timers.c.due_at <= now, _free(now))
                 .group_by(_timers.c.case_id)
                 .order_by(func.min(_timers.c.due_at), _timers.c.case_id).limit(BATCH))
    ids = list(conn.execute(due_cases).scalars())
    if ids:
        conn.execute(_timers.update().where(_timers.c.case_id.in_(ids))
                     .values(claimed_until=now + CLAIM_FOR))
    return ids


@dataclass
class _Plan:
    """What firing one case's earliest due timer does: `change` to store (None: nothing to
    fire), or `stale`: a timer row the workflow no longer waits on (case at `version`)."""

    case_id: int
    version: int = 0
    change: CaseChange | None = None
    workflow: Any = None
    cache_key: tuple[str, int] | None = None
    stale: str | None = None
    closed: bool = False
    # the case's timers rows as the workflow gives them, when a row claimed an earlier time
    corrected: list[dict[str, Any]] | None = None


def _plan(conn: Connection, case_id: int, now: datetime,
          settings: dict[str, Any] | None = None) -> _Plan:
    """Read the case and its earliest due timer, fire it in the workflow (timers due by then
    that the engine reaches fire with it) and make the change as a completion does;
    `settings`: the organisation's settings of engine/due.py (None: read them here)."""
    timer = conn.execute(select(_timers).where(_timers.c.case_id == case_id,
                                               _timers.c.due_at <= now)
                         .order_by(_timers.c.due_at, _timers.c.task_id).limit(1)).first()
    row = conn.execute(select(_cases).where(_cases.c.id == case_id)).mappings().first()
    if timer is None or row is None:
        return _Plan(case_id)
    case = Case(**row)
    if conn.execute(select(_users.c.id).where(_users.c.id == case.owner_id)).first() is None:
        case.owner = None  # type: ignore[assignment]  # no such user: refuse_damaged names it
    # nothing is fired on a damaged row or a broken seal (issue 11); the state is loaded below
    write_refusals.refuse_damaged(case, state=False)
    cache_key = (str(conn.engine.url), case_id)
    plan = _Plan(case_id, case.version_id, cache_key=cache_key)
    if case.status != "open":
        plan.closed = True
        return plan
    definition = definition_for(conn, case.process_version)
    workflow = write_refusals.workflow_for_write(cache_key, case, definition)
    rows = conn.execute(select(_tasks).where(_tasks.c.case_id == case_id, _tasks.c.state == "ready")).all()
    ready = [task_view(r) for r in rows]
    # The row only finds the candidate: the workflow's own due time decides (issue 13 F4, a
    # due_at moved forward by hand fired a timer a month early). No such timer: stale below.
    own = {w.task_id: w for w in timers.waiting(workflow)}
    truth = own.get(timer.task_id)
    if truth is not None and truth.due > now:
        log.warning("timer row of case %s (%s, task %s) says due at %s, the workflow %s: "
                    "not fired, rows corrected from the workflow", case_id, timer.step,
                    timer.task_id, timer.due_at, truth.due)
        plan.corrected = [dict(task_id=w.task_id, case_id=case_id, step=w.step, due_at=w.due)
                          for w in own.values()]
        return plan
    ids = IdSource(case.id, case.id_counter)
    try:
        waited, advance = driving.fire_timer(workflow, timer.task_id, ids, now)
    except driving.EngineFailure:
        raise
    except Conflict:  # the row outlived its timer: the workflow no longer waits on it
        plan.stale = timer.task_id
        return plan
    change = CaseChange(case=case, version_id=case.version_id, still_ready=ready,
                        settings=settings if settings is not None else due.settings(conn))
    change.timer_fired(waited, now)
    change.advanced(definition, advance, {r["id"] for r in ready}, now)
    if change.cancelled:  # a row it cancels is not written over stored damaged (issue 11)
        write_refusals.refuse_damaged_tasks(case_id, rows, change.cancelled)
    case.id_counter = ids.counter
    case.workflow_state = dump_state(workflow)
    plan.change, plan.workflow = change, workflow
    return plan


def _apply(conn: Connection, plan: _Plan, now: datetime) -> bool:
    """Store a plan on the write connection: True when a timer fired. Rows of a closed case
    or a stale row go, but only while the case is still at the version planned from."""
    if plan.change is not None:
        write_change(conn, plan.change, _SYSTEM, now)  # Retry when the case moved on
        return True
    if plan.corrected is not None:  # the rows mirror the workflow again, if it is unchanged
        version = select(_cases.c.version_id).where(_cases.c.id == plan.case_id)
        if conn.execute(version).scalar() == plan.version:
            conn.execute(_timers.delete().where(_timers.c.case_id == plan.case_id))
            conn.execute(_timers.insert(), plan.corrected)
        return False
    if plan.closed or plan.stale:
        unchanged = select(_cases.c.id).where(_cases.c.id == plan.case_id,
                                              _cases.c.version_id == plan.version).exists()
        rows = _timers.c.case_id == plan.case_id if plan.closed else \
            _timers.c.task_id == plan.stale
        conn.execute(_timers.delete().where(rows, unchanged))
    return False


def _cached(plan: _Plan) -> int:
    """After the commit: the fired workflow goes to the cache for the case's next command."""
    if plan.cache_key is not None and plan.change is not None:
        workflow_cache.put(plan.cache_key, plan.version + 1, plan.workflow,
                           plan.change.case.workflow_state)
    return 1


def _damaged(case_id: int, refused: stored_rows.DamagedCase) -> None:
    """The log line of a case whose timer is not fired because it is stored damaged
    (write_refusals.refuse_damaged: its row, seal or state): a warning without a traceback;
    the case is held back (_later) and the other cases fire (issue 11)."""
    log.warning("timer of case %s not fired, it is stored damaged (%s); tried again later",
                case_id, refused.message)


def _later(conn: Connection, case_id: int, now: datetime) -> None:
    """The case's due timers are held back (claimed_until) for as long as the earliest is
    overdue, between RETRY_FIRST and RETRY_MOST (the caller has logged why)."""
    due_rows = (_timers.c.case_id == case_id, _timers.c.due_at <= now)
    earliest = conn.execute(select(func.min(_timers.c.due_at)).where(*due_rows)).scalar()
    overdue = now - timezones.to_utc(earliest) if earliest is not None else RETRY_FIRST
    wait = min(max(overdue, RETRY_FIRST), RETRY_MOST)
    conn.execute(_timers.update().where(*due_rows).values(claimed_until=now + wait))


def run_worker(stop: threading.Event, url: str | None = None,
               poll: float = POLL_SECONDS) -> None:
    """The worker loop: until `stop` is set, fire the due timers (run_due) with the engine's
    clock, then wait `poll` seconds; the periodic jobs (run_periodic: mail, reminders) run
    beside it in a thread of their own, so a mail server that hangs never holds a timer back
    (CONTRACT section 5: a timer fires within 10 s of its time). An error of a round is
    logged and the loop goes on. Returns when both have stopped (a job in progress may take
    up to JOB_GRACE seconds to end)."""
    log.info("worker started")
    jobs = threading.Thread(target=_periodic_loop, args=(stop, poll),
                            name="meldcode-periodic", daemon=True)
    jobs.start()
    while not stop.is_set():
        try:
            fired = run_due(None, url)
            if fired:
                log.info("timers fired", extra={"cases": fired})
        except Exception:
            log.exception("firing timers failed")
        stop.wait(poll)
    jobs.join(JOB_GRACE)
    log.info("worker stopped")


# How long the worker, once asked to stop, waits for a periodic job in progress (a mail being
# sent: engine/mail.py SMTP_TIMEOUT) before it leaves it.
JOB_GRACE = 15.0


def _periodic_loop(stop: threading.Event, poll: float) -> None:
    while not stop.is_set():
        run_periodic(clock.now())
        stop.wait(poll)
