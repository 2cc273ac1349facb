"""Due dates and urgency of tasks (CONTRACT section 5 "Team and time"; issue 13 point 3).

Working days are Monday to Friday without the Dutch national public holidays (the `holidays`
package's list for NL). A due date is the end of a day in Dutch time: 23:59 Europe/Amsterdam,
given as an aware UTC datetime (engine/timezones.py), so a summer and a winter date come out
right whatever zone the server runs in. `due_at` says when a task that became ready is due;
`melding_branch` and `is_urgent` say which tasks are urgent, `has_priority` which come right
after them in the web inbox (structural unsafety). The reminders of issue 13
(engine/notifications) count with `add_working_days` and `working_days_between`.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from SpiffWorkflow.camunda.specs.user_task import UserTask
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from . import expressions, settings_seal
from .expressions import ExpressionError
from .timezones import DISPLAY_ZONE, to_utc

# The organisation's norm for the steps of the meldcode route: so many working days after the
# day a step became ready (a setting the beheerder keeps, engine/organisation.py).
NORM_KEY = "norm_werkdagen_per_stap"
DEFAULT_NORM = 5
MAX_NORM = 60

# The medewerker's steps of the route up to the melding and the help (and the organisation's
# own report to the IGJ): each due within the norm.
NORM_STEPS = frozenset({
    "stap1_signalen", "stap2_overleg", "deskundige_raadplegen", "stap3_gesprek", "stap4_wegen",
    "stap5_beslissen", "melding_voorbereiden", "melding_voorbespreken", "melding_doen",
    "hulp_organiseren", "melding_igj",
})
FEEDBACK_STEP = "terugkoppeling_vt"
FEEDBACK_DAYS = 5  # working days after the day of the melding (CONTRACT section 5)
FOLLOW_UP = timedelta(weeks=10)  # a further feedback when Veilig Thuis reports again
EVALUATION_STEP, EVALUATION_DATE = "hulp_evalueren", "hulp_evaluatiedatum"
# The leidinggevende's afstemming and a consult's answer: short, the case goes on meanwhile.
WORKING_DAYS = {"besluit_afstemmen": 2, "consult": 2}
MELDING_STEP = "melding_doen"  # the end of the melding branch (driving.MELDING_STEP)

# The order of the route, for an inbox sorted by step; other steps come after, by name.
ROUTE = ("stap1_signalen", "stap2_overleg", "deskundige_raadplegen", "stap3_gesprek",
         "stap4_wegen", "stap5_beslissen", "besluit_afstemmen", "melding_voorbereiden",
         "melding_voorbespreken", "melding_doen", "melding_igj", "terugkoppeling_vt",
         "hulp_organiseren", "hulp_evalueren", "consult")

END_OF_DAY = time(23, 59)


# --- working days ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[date]:
    # imported at the first due date counted, not with this module: loading its calendars
    # costs most `meldcode` commands (none counts a due date) nearly a tenth of a second
    import holidays

    return frozenset(holidays.country_holidays("NL", years=year))


def is_working_day(day: date) -> bool:
    """True for Monday to Friday that is no Dutch national public holiday (`holidays`, NL)."""
    return day.weekday() < 5 and day not in _holidays_of(day.year)


def add_working_days(day: date, count: int) -> date:
    """The `count`-th working day after `day` (a calendar date, no zone): 1 is the first
    working day after it; 0 gives `day` itself, working day or not. Raises ValueError for a
    negative count."""
    if count < 0:
        raise ValueError("count must be 0 or more")
    while count:
        day += timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """How many working days lie after `start` up to and including `end` (0 when `end` is not
    after `start`): a task due on `start` and still open on `end` is that many working days
    overdue."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_working_day(day)
    return count


def local_day(at: datetime) -> date:
    """The calendar day of `at` (aware, or naive meaning UTC) in Dutch time."""
    return to_utc(at).astimezone(DISPLAY_ZONE).date()


def end_of_day(day: date) -> datetime:
    """23:59 Europe/Amsterdam on `day`, as an aware UTC datetime (summer or winter time)."""
    return datetime.combine(day, END_OF_DAY, tzinfo=DISPLAY_ZONE).astimezone(UTC)


def end_of_working_day_after(at: datetime, count: int) -> datetime:
    """The end (23:59 Europe/Amsterdam, as aware UTC) of the `count`-th working day after the
    day of `at` in Dutch time. `at`: aware, or naive meaning UTC."""
    return end_of_day(add_working_days(local_day(at), count))


# --- the rules ---------------------------------------------------------------------------------


def norm(settings: Mapping[str, Any]) -> int:
    """The organisation's norm in working days per step (`norm_werkdagen_per_stap`), the
    default when unset or unusable."""
    value = settings.get(NORM_KEY)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NORM:
        return DEFAULT_NORM
    return value


# The stored norm and the newest admin-log line as scalar subqueries: a read that runs anyway (a
# completion's plan) takes them as three more columns, so the setting is read fresh in the same
# statement and snapshot, and judged against the admin log as every page judges it
# (settings_seal.trusted, cached by what it depends on: issue 11 point 5).
NORM_COLUMNS = tuple(column.label(name) for column, name in zip(
    settings_seal.read_along(NORM_KEY), ("norm_setting", "norm_head_id", "norm_head_hash"), strict=True))


def _kept(_key: str, value: Any) -> Any:
    return value  # `norm` decides what is usable: anything else is the default


def settings(conn) -> dict[str, Any]:
    """What `due_at` reads of the organisation's settings (the norm), from a Connection or a
    Session: the stored value only when the admin log vouches for it (settings_seal.trusted,
    as organisation.read gives pages), else the last genuine value or none (the default).
    Raises only what the database raises."""
    conn = conn.connection() if isinstance(conn, Session) else conn
    return settings_seal.trusted(conn, (NORM_KEY,), _kept).values


def settings_of(conn: Connection, row: Any) -> dict[str, Any]:
    """The settings `settings` gives, from a row of a statement that read NORM_COLUMNS along
    (no read of its own while the admin log and the stored norm are as last judged)."""
    read = settings_seal.along_of(NORM_KEY, row.norm_setting, row.norm_head_id, row.norm_head_hash)
    return settings_seal.trusted(conn, (NORM_KEY,), _kept, read).values


def _date(value: Any) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    return None


def due_at(step: str, lane: str | None, data: Mapping[str, Any], ready_at: datetime,
           settings: Mapping[str, Any], after: str | None = None,
           urgent: bool = False) -> datetime | None:
    """When a task of `step` (element id) in `lane`, ready at `ready_at` (aware UTC, or naive
    meaning UTC) in a case holding `data`, is due: an aware UTC datetime at 23:59 Dutch time,
    or None for a step without a norm. `settings`: the organisation's (`settings(conn)` or
    organisation.read); `after`: the step whose completion made the task ready, if any.

    The rules (CONTRACT section 5, issue 13 point 3): the steps of the route (NORM_STEPS) the
    end of the norm-th working day after the day they became ready; `terugkoppeling_vt` the
    end of the 5th working day after the day of the melding (the day it became ready), a
    further one (after a `terugkoppeling_vt` with `terugkoppeling_vervolg`) 10 weeks after the
    day it became ready, moved to the next working day; `hulp_evalueren` the end of
    `hulp_evaluatiedatum` (None without one); `besluit_afstemmen` and `consult` 2 working
    days. An `urgent` task (is_urgent: the melding branch with acute unsafety) of the route is
    due the end of the day it became ready, weekend or not: with acute danger Veilig Thuis is
    called at once, not within the norm (handreiking, stap 5; issue 14 point 3). Never raises
    for data it does not understand: no due date then."""
    del lane  # the rules go by step; the lane is part of the signature for later rules
    if step in NORM_STEPS and urgent:
        return end_of_day(local_day(ready_at))
    if step in NORM_STEPS:
        return end_of_working_day_after(ready_at, norm(settings))
    if step == FEEDBACK_STEP:
        if after == FEEDBACK_STEP:
            later = local_day(ready_at) + FOLLOW_UP
            return end_of_day(later if is_working_day(later) else add_working_days(later, 1))
        return end_of_working_day_after(ready_at, FEEDBACK_DAYS)
    if step == EVALUATION_STEP:
        day = _date(data.get(EVALUATION_DATE))
        return end_of_day(day) if day is not None else None
    if step in WORKING_DAYS:
        return end_of_working_day_after(ready_at, WORKING_DAYS[step])
    return None


def is_overdue(due: datetime | None, now: datetime) -> bool:
    """True when a task due at `due` (None: never) is past due at `now` (both aware or naive
    UTC)."""
    return due is not None and to_utc(due) < to_utc(now)


# --- urgency -----------------------------------------------------------------------------------

# The melding branch of a process spec, worked out once per spec (specs live as long as their
# cached definition; the weak keys let a dropped one go).
_MELDING_BRANCH: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def melding_branch(spec) -> frozenset[str]:
    """The user tasks (element ids) of the melding branch of a SpiffWorkflow process spec up to
    and including melding_doen: those reachable from where a flow conditioned on
    besluit_melden leads, from which melding_doen can still be reached (help that may fail
    later is not part of it)."""
    found = _MELDING_BRANCH.get(spec)
    if found is not None:
        return found
    starts = []
    for task_spec in spec.task_specs.values():
        for cond, target in getattr(task_spec, "cond_task_specs", ()) or ():
            args = getattr(cond, "args", None) if cond is not None else None
            with contextlib.suppress(ExpressionError):
                if args and "besluit_melden" in expressions.names_in(args[0]):
                    starts.append(spec.task_specs[target])

    def reach(from_specs) -> set[str]:
        seen: set[str] = set()
        todo = list(from_specs)
        while todo:
            current = todo.pop()
            if current.name not in seen:
                seen.add(current.name)
                todo.extend(current.outputs)
        return seen

    found = frozenset(
        task_spec.bpmn_id for name in reach(starts)
        if isinstance(task_spec := spec.task_specs[name], UserTask)
        and (task_spec.bpmn_id == MELDING_STEP
             or any(spec.task_specs[n].bpmn_id == MELDING_STEP for n in reach(task_spec.outputs)))
    )
    _MELDING_BRANCH[spec] = found
    return found


def is_acute(data: Mapping[str, Any]) -> bool:
    """True when the case recorded acute unsafety (`acute_onveiligheid` true)."""
    return data.get("acute_onveiligheid") is True


def is_urgent(step: str, spec, data: Mapping[str, Any]) -> bool:
    """A task's `urgent` (CONTRACT section 5): true for a task of the melding branch up to and
    including melding_doen (`melding_branch` of the version's spec) in a case whose data holds
    `acute_onveiligheid` true; false otherwise."""
    return is_acute(data) and step in melding_branch(spec)


def has_priority(step: str, spec, data: Mapping[str, Any]) -> bool:
    """Whether the web inbox puts a task right after the urgent ones (issue 14 point 3: "with
    acute or structural unsafety the melding is urgent and first in the inbox"): a task of the
    melding branch (as is_urgent) in a case whose data holds `structurele_onveiligheid` true
    and that is not urgent. Only the web inbox reads it: the API's `urgent` and the order of
    GET /api/v1/tasks stay as CONTRACT section 5 defines them (acute_onveiligheid only).
    Raises nothing."""
    return (data.get("structurele_onveiligheid") is True and not is_acute(data)
            and step in melding_branch(spec))


# --- order -------------------------------------------------------------------------------------

_FAR = datetime.max.replace(tzinfo=UTC)


def inbox_key(task: Mapping[str, Any]) -> tuple:
    """The order of GET /api/v1/tasks (CONTRACT section 5): urgent first, then by due date
    (none last), then by the time the task became ready, then by id. `task`: a mapping with
    urgent, due_at and ready_at (datetimes) and id."""
    due = task.get("due_at")
    return (not task.get("urgent"), to_utc(due) if due is not None else _FAR,
            to_utc(task["ready_at"]), task["id"])


def web_inbox_key(task: Mapping[str, Any]) -> tuple:
    """The default order of the web inbox: inbox_key's, with the tasks that have priority
    (`priority`: has_priority) right after the urgent ones. `task`: as inbox_key takes it,
    with priority (absent: false)."""
    first, *rest = inbox_key(task)
    return (first, not task.get("priority"), *rest)


def route_position(step: str) -> int:
    """Where a step stands on the meldcode route (ROUTE), for sorting by step; other steps
    after it."""
    return ROUTE.index(step) if step in ROUTE else len(ROUTE)


# How an inbox can be sorted (the page's `sorteer`): urgent first, then priority, then by due
# date (web_inbox_key, the default), by due date alone, by case (client reference), by step
# (the route).
INBOX_SORTS = ("urgentie", "termijn", "casus", "stap")


def inbox_sort_key(sort: str) -> Callable[[Mapping[str, Any]], tuple]:
    """The sort key of an inbox sorted by `sort` (INBOX_SORTS; anything else: the first), over
    mappings as web_inbox_key takes them, with client_ref, case_id, step and name for "casus"
    and "stap"; within a case or a step the default order."""
    if sort == "termijn":
        return lambda t: inbox_key(t)[1:]
    if sort == "casus":
        return lambda t: (t["client_ref"].casefold(), t["case_id"], *web_inbox_key(t))
    if sort == "stap":
        return lambda t: (route_position(t["step"]), t["name"].casefold(), *web_inbox_key(t))
    return web_inbox_key
