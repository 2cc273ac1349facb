"""The management overview for toezicht (issue 14 point 6): counts over a period, never client
data. For the leidinggevende and the auditor; the whole organisation, practice cases
(Case.practice) left out.

A period is a range of Dutch calendar days (Europe/Amsterdam), both ends included. What counts
in it:
- cases opened (started_at in the period) by status and uitkomst; cases closed (closed_at in it)
  by uitkomst; and the open cases now;
- the time per step: tasks completed in the period, from ready_at to completed_at, the count,
  the median and the 90th percentile (nearest rank: the value at rank ceil(p * n)), in hours
  to one decimal;
- overdue follow-ups: ready tasks whose due_at has passed, now (not per period);
- meldingen: melding_doen completed in the period; the feedback of Veilig Thuis:
  terugkoppeling_vt tasks that became ready in the period, by what became of them;
- the routes: per step, how many cases opened in the period reached it (a task there became
  ready) and completed it, for the heatmap on the diagram.

Every figure is one aggregate query (no workflow state is read), so 100,000 cases cost a few
scans of `cases` and `tasks`. Data only (codes, numbers, dates): the words are the web
layer's (webui/management).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, distinct, func, select
from sqlalchemy.orm import Session

from . import clock, commands, timezones
from .errors import Forbidden, Invalid
from .messages import N_, Message
from .models import Case, HistoryEvent, TaskRecord
from .oversight import FIRST_DAY, LAST_DAY, UITKOMSTEN
from .roles import AUDITOR, LEIDINGGEVENDE
from .users import Principal
from .versions import active_version, definition_for

READERS = (LEIDINGGEVENDE, AUDITOR)
MELDING = "melding_doen"
FEEDBACK = "terugkoppeling_vt"
RECEIVED = "terugkoppeling_ontvangen"
CONSULT = "consult"  # a question to a colleague beside the diagram: no element of it
PERCENTILES = (50, 90)
FEEDBACK_STATES = ("received", "not_received", "open", "overdue")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Period:
    """Dutch calendar days `first` to `last`, both included."""

    first: dt.date
    last: dt.date

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The period as [start, end) in aware UTC datetimes: midnight in Europe/Amsterdam
        at the start of `first` and after `last` (a day of 23 or 25 hours included)."""
        def midnight(day: dt.date) -> dt.datetime:
            return dt.datetime.combine(day, dt.time(), tzinfo=timezones.DISPLAY_ZONE
                                       ).astimezone(dt.UTC)
        return midnight(self.first), midnight(self.last + dt.timedelta(days=1))


def default_period(today: dt.date | None = None) -> Period:
    """This calendar year up to and including today (Dutch time): the period of an annual
    report to the toezichthouder. `today` for tests; default the engine clock's day."""
    today = today or timezones.local(clock.now()).date()
    return Period(dt.date(today.year, 1, 1), today)


def parse_period(args: Any) -> Period:
    """The period of the query parameters `van` and `tot` (YYYY-MM-DD, Dutch calendar days);
    one left out or empty takes default_period's. Raises Invalid (422) with Dutch messages per
    field: not a date, outside 1900-9998, or `tot` before `van`."""
    default = default_period()
    errors: dict[str, Any] = {}
    found: dict[str, dt.date] = {}
    for name, fallback in (("van", default.first), ("tot", default.last)):
        value = str(args.get(name) or "").strip()
        if not value:
            found[name] = fallback
            continue
        try:  # YYYY-MM-DD only: fromisoformat also takes 20260301 and week dates (2026-W10-1)
            day = dt.date.fromisoformat(value) if _DAY.fullmatch(value) else None
        except ValueError:
            day = None
        if day is None:
            errors[name] = N_("Vul een datum in als JJJJ-MM-DD.")
        elif not FIRST_DAY <= day <= LAST_DAY:
            errors[name] = Message(N_("Vul een datum in tussen {first} en {last}."),
                                   first=f"{FIRST_DAY:%d-%m-%Y}", last=f"{LAST_DAY:%d-%m-%Y}")
        else:
            found[name] = day
    if not errors and found["tot"] < found["van"]:
        errors["tot"] = N_("De einddatum ligt vóór de begindatum.")
    if errors:
        raise Invalid(N_("Ongeldige periode."), errors)
    return Period(found["van"], found["tot"])


def check_reader(who: Principal) -> None:
    """Forbidden (403) unless `who` is a leidinggevende or an auditor (READERS), the people
    the overview is for (issue 14 point 6)."""
    if not who.has_role(*READERS):
        raise Forbidden(N_("Alleen een leidinggevende of een auditor ziet dit overzicht."))


def overview(who: Principal, period: Period) -> dict[str, Any]:
    """The figures of `period` (see the module's docstring), for a leidinggevende or an
    auditor; anyone else: Forbidden (403). No case is read, so nothing goes to the access log.

    Returns {"period": {"first", "last"} (dates), "generated_at" (aware UTC),
    "cases": {"opened", "opened_by_status": {status: n}, "opened_by_uitkomst": {u: n},
    "closed", "closed_by_uitkomst": {u: n}, "open_now"}, "steps": [{"step", "name",
    "completed", "median_hours", "p90_hours"}], "overdue": [{"step", "name", "count"}],
    "overdue_total", "meldingen": {"made", "cases", "feedback": {state: n}}, "routes":
    [{"step", "name", "reached", "completed"}], "route_max", "process_version" (the active
    version, whose diagram the heatmap is drawn on, or None)}. Every uitkomst of
    oversight.UITKOMSTEN and every state of FEEDBACK_STATES is present, 0 when none."""
    check_reader(who)

    def run(session: Session) -> dict[str, Any]:
        start, end = period.bounds()
        now = clock.now()
        version = active_version(session)
        names: dict[str, str] = {}
        if version is not None:
            names = {s.id: s.name for s in definition_for(session, version.version).steps.values()}
        routes = _routes(session, start, end)
        overdue = _overdue(session, now)
        return {
            "period": {"first": period.first, "last": period.last},
            "generated_at": timezones.to_utc(now),
            "cases": _cases(session, start, end),
            "steps": [{**s, "name": names.get(s["step"], s["step"])}
                      for s in _durations(session, start, end)],
            "overdue": [{"step": step, "name": names.get(step, step), "count": n}
                        for step, n in overdue],
            "overdue_total": sum(n for _s, n in overdue),
            "meldingen": _meldingen(session, start, end, now),
            "routes": [{**r, "name": names.get(r["step"], r["step"])} for r in routes],
            "route_max": max((r["reached"] for r in routes), default=0),
            "process_version": version.version if version is not None else None,
        }

    return commands.run_command(who, run, write=False)


def _real() -> ColumnElement[bool]:
    return Case.practice.is_(False)


def _real_task() -> ColumnElement[bool]:
    """A task of a real case: tested against the few practice cases (their index), so no
    query of tasks reads a row of `cases` per task (large rows: the workflow state)."""
    return TaskRecord.case_id.not_in(select(Case.id).where(Case.practice.is_(True)))


def _state(value: str) -> ColumnElement[bool]:
    """state = value, written `state || ''` so that SQLite scans `tasks` instead of walking
    ix_tasks_state_due row by row for most of the table (five times slower at 450,000 tasks);
    PostgreSQL scans either way, having no index on completed_at or ready_at."""
    return TaskRecord.state.concat("") == value


def _within(column, start: dt.datetime, end: dt.datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def _flag(condition: ColumnElement[bool]):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _cases(session: Session, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """One pass over `cases` (its rows are large: one scan, not three)."""
    opened_status: dict[str, int] = {"open": 0, "closed": 0}
    opened_uitkomst = dict.fromkeys(UITKOMSTEN, 0)
    closed_uitkomst = dict.fromkeys(UITKOMSTEN, 0)
    open_now = 0
    for status, uitkomst, opened, closed, n in session.execute(
            select(Case.status, Case.uitkomst, _flag(_within(Case.started_at, start, end)),
                   _flag(and_(Case.status == "closed", _within(Case.closed_at, start, end))),
                   func.count())
            .where(_real()).group_by(Case.status, Case.uitkomst)):
        opened_status[status] = opened_status.get(status, 0) + opened
        if uitkomst:
            opened_uitkomst[uitkomst] = opened_uitkomst.get(uitkomst, 0) + opened
            closed_uitkomst[uitkomst] = closed_uitkomst.get(uitkomst, 0) + closed
        if status == "open":
            open_now += n
    return {"opened": sum(opened_status.values()), "opened_by_status": opened_status,
            "opened_by_uitkomst": opened_uitkomst, "closed": sum(closed_uitkomst.values()),
            "closed_by_uitkomst": closed_uitkomst, "open_now": open_now}


def _durations(session: Session, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Per step: the count, median and 90th percentile (nearest rank) of the time from
    ready_at to completed_at, in hours to one decimal (whole seconds, a half tenth rounded
    up). PostgreSQL ranks them itself (percentile_disc is the nearest rank); SQLite has no
    percentile, so it counts per step and tenth of an hour, which keeps the ranks (the
    rounding keeps the order), and the ranks are found here in those few rows."""
    done = (_real_task(), _state("completed"), _within(TaskRecord.completed_at, start, end))
    found: list[dict[str, Any]] = []
    if session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", TaskRecord.completed_at - TaskRecord.ready_at)
        rows = session.execute(
            select(TaskRecord.step, func.count(),
                   *(func.percentile_disc(p / 100).within_group(seconds) for p in PERCENTILES))
            .where(*done).group_by(TaskRecord.step).order_by(TaskRecord.step))
        for step, n, *ranked in rows:
            found.append({"step": step, "completed": n,
                          **_hours([_tenths(round(float(v))) for v in ranked])})
        return found
    whole = func.cast(func.round((func.julianday(TaskRecord.completed_at)
                                  - func.julianday(TaskRecord.ready_at)) * 86400), Integer)
    tenths = (whole + 180) // 360
    per_step: dict[str, list[tuple[int, int]]] = {}
    for step, tenth, n in session.execute(
            select(TaskRecord.step, tenths, func.count()).where(*done)
            .group_by(TaskRecord.step, tenths).order_by(TaskRecord.step, tenths)):
        per_step.setdefault(step, []).append((int(tenth), n))
    for step, counts in per_step.items():
        total = sum(n for _t, n in counts)
        found.append({"step": step, "completed": total,
                      **_hours([_at_rank(counts, -(-total * p // 100)) for p in PERCENTILES])})
    return found


def _tenths(seconds: int) -> int:
    return (seconds + 180) // 360


def _at_rank(counts: list[tuple[int, int]], rank: int) -> int:
    """The value at `rank` (1-based) of sorted (value, count) pairs."""
    seen = 0
    for value, n in counts:
        seen += n
        if seen >= rank:
            return value
    return counts[-1][0]


def _hours(tenths: list[int]) -> dict[str, float]:
    return {"median_hours": max(tenths[0], 0) / 10, "p90_hours": max(tenths[1], 0) / 10}


def _overdue(session: Session, now: dt.datetime) -> list[tuple[str, int]]:
    rows = session.execute(
        select(TaskRecord.step, func.count())
        .where(_real_task(), TaskRecord.state == "ready", TaskRecord.due_at.is_not(None),
               TaskRecord.due_at < now)
        .group_by(TaskRecord.step).order_by(TaskRecord.step))
    return [(step, n) for step, n in rows]


def _meldingen(session: Session, start: dt.datetime, end: dt.datetime,
               now: dt.datetime) -> dict[str, Any]:
    made, cases = session.execute(
        select(func.count(), func.count(distinct(TaskRecord.case_id)))
        .where(_real_task(), TaskRecord.step == MELDING, _state("completed"),
               _within(TaskRecord.completed_at, start, end))).one()
    received = HistoryEvent.data[RECEIVED].as_boolean()
    state = case(
        (and_(TaskRecord.state == "completed", received.is_(True)), "received"),
        (TaskRecord.state == "completed", "not_received"),
        (and_(TaskRecord.state == "ready", TaskRecord.due_at.is_not(None),
              TaskRecord.due_at < now), "overdue"),
        (TaskRecord.state == "ready", "open"),
        else_="other")
    # grouped outside: the CASE with its parameters once (PostgreSQL matches a GROUP BY
    # expression by its text, and each copy would get parameters of its own)
    states = (select(state.label("state")).select_from(TaskRecord)
              .outerjoin(HistoryEvent, and_(HistoryEvent.case_id == TaskRecord.case_id,
                                            HistoryEvent.task_id == TaskRecord.id,
                                            HistoryEvent.action == "task_completed"))
              .where(_real_task(), TaskRecord.step == FEEDBACK,
                     _within(TaskRecord.ready_at, start, end))
              .subquery())
    feedback = dict.fromkeys(FEEDBACK_STATES, 0)
    for name, n in session.execute(
            select(states.c.state, func.count()).group_by(states.c.state)):
        if name in feedback:
            feedback[name] += n
    return {"made": made or 0, "cases": cases or 0, "feedback": feedback}


def _routes(session: Session, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    opened = select(Case.id).where(_real(), _within(Case.started_at, start, end))
    done = case((TaskRecord.state == "completed", TaskRecord.case_id), else_=None)
    rows = session.execute(
        select(TaskRecord.step, func.count(distinct(TaskRecord.case_id)),
               func.count(distinct(done)))
        .where(TaskRecord.case_id.in_(opened), TaskRecord.step != CONSULT)
        .group_by(TaskRecord.step).order_by(TaskRecord.step))
    return [{"step": step, "reached": reached, "completed": completed}
            for step, reached, completed in rows]
