"""BPMN timers that fire when the product says so, never when SpiffWorkflow looks at its clock.

SpiffWorkflow 3.2's timer event definitions (SpiffWorkflow.bpmn.specs.event_definitions.timer)
compare their due time with `datetime.now()` whenever the engine updates a waiting task, and read
a date without zone in the server's local zone. A case must replay to the same state from its
history, so here:

- the due time is worked out once, when the timer task is reached, from the expression (an ISO
  8601 literal, or an expression over the case's variables evaluated by our safe evaluator,
  engine/expressions.py) and the moment the engine was driven at (`at`: the time of the history
  event that brought the token there; the engine's clock, engine/clock.py, when none is set). A
  date ("2026-12-01") or a date-time without zone is Europe/Amsterdam time;
- a timer fires only when `fire` is called: by the scheduler (engine/scheduler.py) once it is
  due, or inline by driving when it is already due on being reached. Each fire is a history
  event `timer_fired` (CONTRACT section 5), which replay applies at its place.

The extension point: SpiffWorkflow's parser makes its timer classes in one method,
`EventDefinitionParser.parse_timer_event`, shared by the intermediate catch, boundary and start
event parsers. engine/definitions.py's parser uses `TimerEventParserMixin` for those, which
makes the classes below instead (subclasses, so `isinstance(..., TimerEventDefinition)` in
SpiffWorkflow and in our stall detection still holds), and engine/adapter.py registers them with
the serializer as SpiffWorkflow's own. No SpiffWorkflow code is patched.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from . import clock, timezones
from .expressions import SCRIPT_ENGINE, ExpressionError
from .forms import DATE_RANGE, Field
from .messages import N_, Message, text_of

# What a fire records (CONTRACT section 5), labelled as the timelines show it
# (entries.event_fields): its due time, ISO 8601 UTC text, which the page shows in Dutch time.
EVENT_FIELDS = {"timer_fired": [Field("due", N_("Gewacht tot"), "datetime")]}

_moment: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "meldcode_timer_moment", default=None)


@contextlib.contextmanager
def at(moment: datetime | None) -> Iterator[None]:
    """Within the block (this thread or task context), timers reached are timed from `moment`
    (aware or naive UTC; None: the engine's clock) and a timer due at or before it fires."""
    token = _moment.set(timezones.to_utc(moment) if moment is not None else None)
    try:
        yield
    finally:
        _moment.reset(token)


def moment() -> datetime:
    """The moment the engine is driven at: the one `at` set, else clock.now() (aware UTC)."""
    return _moment.get() or clock.now()


class TimerExpressionError(ExpressionError):
    """A timer's expression gives no date, duration or cycle (the diagram cannot go on)."""


_LITERAL = re.compile(r"^(R\d*/)?[0-9PT][0-9A-Za-z:.,+\-/]*$")
# A cron text (Quartz, as Camunda takes it: "0 0 9 * * ?"): 5 to 7 fields of numbers, ranges,
# steps, * and ?, or names (MON-FRI). SpiffWorkflow and the product read ISO 8601 only.
_CRON_FIELD = r"(?:[0-9*?/,#LW-]+|[A-Za-z]{3}(?:[-,][A-Za-z]{3})*)"
_CRON = re.compile(rf"^{_CRON_FIELD}(?:\s+{_CRON_FIELD}){{4,6}}$")
NOT_ISO = N_("'{text}' is een cron-uitdrukking; een timer kent alleen ISO 8601: een datum of "
             "tijdstip (2026-12-01, 2026-12-01T09:00), een duur (PT2H, P5D) of een herhaling "
             "(R3/PT1H, R/P1D)")
# The shortest repetition a timeCycle may have at deploy (bpmn_checks): every fire is a
# `timer_fired` event in the case's history, kept for good (append-only) and replayed by every
# verify, and the meldcode counts its terms in working days; hourly is the finest a process
# owner needs (a reminder), R/PT1S made 86,400 events a day per case (issue 13 break-it).
MIN_CYCLE = timedelta(hours=1)


def _is_cron(text: str) -> bool:
    return bool(_CRON.match(text)) and any(c.isdigit() or c in "*?" for c in text)


def expression_text(text: str | None) -> str | None:
    """The expression in a timer's text (`${...}` taken off), or None when the text is an ISO
    8601 literal (PT2H, 2026-12-01, R3/PT1H), a cron text or empty."""
    value = (text or "").strip()
    if not value or _LITERAL.match(value) or _is_cron(value):
        return None
    return value[2:-1] if value.startswith("${") and value.endswith("}") else value


def _value(task, expression: str):
    """The timer's text: an ISO 8601 literal as written, else an expression over the task's
    data by the safe evaluator. Raises TimerExpressionError for a cron text."""
    text = (expression or "").strip()
    if _LITERAL.match(text):
        return text
    if _is_cron(text):
        raise TimerExpressionError(Message(NOT_ISO, text=text))
    return SCRIPT_ENGINE.evaluate(task, expression_text(text) or "")


def point_in_time(value) -> datetime:
    """A timeDate value as aware UTC: a date is 00:00 Europe/Amsterdam of that day, a date-time
    without zone is Europe/Amsterdam time. Raises TimerExpressionError for anything else."""
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, date):
        found = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            found = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise TimerExpressionError(Message(_NO_DATE, value=value)) from None
    else:
        raise TimerExpressionError(Message(_NO_DATE, value=value))
    if found.tzinfo is None:
        found = found.replace(tzinfo=timezones.DISPLAY_ZONE)
    return timezones.to_utc(found)


_NO_DATE = N_("'{value}' is geen datum of tijdstip")


# The most months (years included) a duration may name. SpiffWorkflow counts a duration's
# months one by one (TimerEventDefinition.get_timedelta_from_start), so 'P99999999Y' held
# `meldcode check`, a deploy and a completion reaching it for hours (issue 13 break-it); no
# moment lies more than 10,000 years on anyway.
MAX_MONTHS = 12 * 10_000


def _after(duration: str, start: datetime) -> datetime:
    """The moment `duration` (ISO 8601, e.g. PT2H, P5D) after `start` (aware). Raises
    TimerExpressionError (Dutch) when it is no duration or ends past any date (MAX_MONTHS, or
    past the year 9999), without counting the months of a huge one."""
    try:
        parsed = TimerEventDefinition.parse_iso_duration(str(duration))
    except Exception:
        raise TimerExpressionError(Message(N_("'{duration}' is geen duur (zoals PT2H of P5D)"),
                                           duration=duration)) from None
    try:
        if parsed.get("years", 0) * 12 + parsed.get("months", 0) > MAX_MONTHS:
            raise OverflowError(duration)
        return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)
    except OverflowError:
        raise TimerExpressionError(_too_long(duration)) from None


def _too_long(value: str) -> Message:
    return Message(N_("'{value}' duurt te lang: de timer zou na {last} afgaan"), value=value,
                   last=f"{DATE_RANGE[1]:%d-%m-%Y}")


def cycle_of(value, start: datetime) -> dict:
    """A timeCycle value ("R3/PT1H", "R/P1D", "R2/2026-12-01T09:00/PT1H") from `start`:
    {"cycles": n (-1: without end), "next": ISO UTC of the first fire, "duration": seconds}.
    Raises TimerExpressionError (Dutch) for anything else, and for a cycle faster than
    MIN_CYCLE, whether written in the diagram or given by an expression."""
    parts = str(value).strip().upper().split("/")
    if len(parts) not in (2, 3) or not re.fullmatch(r"R\d*", parts[0]):
        raise TimerExpressionError(Message(N_("'{value}' is geen herhaling (zoals R3/PT1H)"),
                                           value=value))
    cycles = int(parts[0][1:]) if parts[0][1:] else -1
    if len(parts) == 3:
        first = point_in_time(parts[1])
        step = _after(parts[2], first) - first
    else:
        step = _after(parts[1], start) - start
        first = start + step
    if step <= timedelta(0):
        raise TimerExpressionError(Message(N_("'{value}': de duur moet groter dan nul zijn"),
                                           value=value))
    if step < MIN_CYCLE:  # a literal at deploy, an expression's value when a case reaches it
        raise TimerExpressionError(Message(N_(
            "'{value}' herhaalt vaker dan eens per uur (PT1H): elke keer komt er een gebeurtenis "
            "bij in de geschiedenis van de casus, die blijft bewaard; herhaal hoogstens elk uur"),
            value=value))
    return {"cycles": cycles, "next": first.isoformat(), "duration": step.total_seconds()}


def text_problem(kind: str, text: str | None) -> Message | None:
    """Why a timer text of a diagram may not be deployed (a Dutch Message), or None; for the
    checks of a deploy (engine/bpmn_checks.py). kind: timeDate, timeDuration or timeCycle.

    A cron text is refused (ISO 8601 only); a literal is worked out as the engine will (from
    now): a date in the years a date field takes (forms.DATE_RANGE; the engine itself still
    takes any date, so the cases of a version deployed before go on), a duration or a cycle
    whose (first) fire falls in those years too, a cycle repeating no faster than MIN_CYCLE.
    An expression over the case's variables is left to the expression check and the proof
    (its value depends on the answers). Never raises."""
    value = (text or "").strip()
    if not value:
        return N_("zegt niet wanneer de timer afgaat")
    if _is_cron(value):
        return Message(NOT_ISO, text=value)
    if not _LITERAL.match(value):
        return None
    try:
        if kind == "timeDate":
            day = point_in_time(value).astimezone(timezones.DISPLAY_ZONE).date()
            if not DATE_RANGE[0] <= day <= DATE_RANGE[1]:
                return _out_of_range(value)
        elif kind == "timeDuration":
            if _after(value, clock.now()).astimezone(timezones.DISPLAY_ZONE).date() \
                    > DATE_RANGE[1]:
                return _too_long(value)
        elif datetime.fromisoformat(cycle_of(value, clock.now())["next"]).astimezone(
                timezones.DISPLAY_ZONE).date() > DATE_RANGE[1]:
            return _too_long(value)
    except TimerExpressionError as exc:
        found = text_of(exc)
        return found if isinstance(found, Message) else Message(found)
    except (OverflowError, ValueError):  # a moment before the year 1 or after 9999
        return _out_of_range(value)
    return None


def _out_of_range(value: str) -> Message:
    return Message(N_("'{value}' ligt niet tussen {first} en {last}"), value=value,
                   first=f"{DATE_RANGE[0]:%d-%m-%Y}", last=f"{DATE_RANGE[1]:%d-%m-%Y}")


class _Timed:
    """What our three timer kinds share: the due time is set once, on reaching; only `fire`
    (internal data `meldcode_fire`) makes the timer go off."""

    def _due_from(self, task, value, start: datetime):  # pragma: no cover - per kind
        raise NotImplementedError

    def _event_value(self, task):
        value = task.internal_data.get("event_value")
        if value is None:
            value = self._due_from(task, _value(task, self.expression), moment())  # type: ignore[attr-defined]
            task.internal_data.update(event_value=value)
        return value

    def has_fired(self, my_task):
        self._event_value(my_task)
        if my_task.internal_data.get("meldcode_fire", False):
            my_task.internal_data.pop("meldcode_fire", None)
            my_task.internal_data.update(event_fired=True)
        return my_task.internal_data.get("event_fired", False)


class DateTimer(_Timed, TimeDateEventDefinition):
    """bpmn:timeDate: due at the point in time the value names."""

    def _due_from(self, task, value, start):
        return point_in_time(value).isoformat()


class DurationTimer(_Timed, DurationTimerEventDefinition):
    """bpmn:timeDuration: due that long after the timer is reached."""

    def _due_from(self, task, value, start):
        return _after(value, start).isoformat()


class CycleTimer(_Timed, CycleTimerEventDefinition):
    """bpmn:timeCycle: each fire lets one token out on the outgoing flow; after the last of
    R<n> the timer is done (a boundary timer waits no more)."""

    def _due_from(self, task, value, start):
        return cycle_of(value, start)

    def has_fired(self, my_task):
        return my_task.internal_data.get("event_fired", False)

    def cycle_complete(self, my_task):
        value = dict(self._event_value(my_task))
        ready = False
        if my_task.internal_data.pop("meldcode_fire", False) and value["cycles"] != 0:
            value["next"] = (datetime.fromisoformat(value["next"])
                             + timedelta(seconds=value["duration"])).isoformat()
            value["cycles"] -= 1
            ready = True
        if value["cycles"] == 0:
            my_task.internal_data.update(event_fired=True)
        my_task.internal_data.update(event_value=value)
        return ready


TIMER_CLASSES = (DateTimer, DurationTimer, CycleTimer)


class TimerEventParserMixin:
    """For SpiffWorkflow's event parsers: parse_timer_event makes our timer classes."""

    def parse_timer_event(self, event):
        found = super().parse_timer_event(event)  # type: ignore[misc]
        for ours in TIMER_CLASSES:
            if type(found) in ours.__mro__[1:]:
                return ours(found.name, found.expression, description=found.description)
        return found


@dataclass(frozen=True)
class Waiting:
    """A timer waiting in a workflow: its task id, element id and due time (aware UTC)."""

    task_id: str
    step: str
    due: datetime


def due_of(task) -> datetime | None:
    """The due time (aware UTC) of a waiting timer task of ours, or None (no timer of ours,
    or a cycle that is done)."""
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, _Timed):
        return None
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        return None if value.get("cycles") == 0 else timezones.parse_iso(value["next"])
    return timezones.parse_iso(value) if isinstance(value, str) else None


def _waiting_tasks(workflow) -> Iterator[Any]:
    """The workflow's WAITING tasks, those of its subprocesses included (as get_tasks with
    state=WAITING finds them, in another order): straight from the task dictionaries, as this
    runs after every engine advance and a walk of the task tree cost more than the advance's
    other bookkeeping. A finished subprocess task's own tasks are left out, as the walk does."""
    wanted = TaskState.WAITING
    yield from (t for t in workflow.tasks.values() if t.state == wanted)
    subprocesses = workflow.subprocesses
    for owner_id, sub in subprocesses.items():
        owner = workflow.tasks.get(owner_id) or next(
            (s.tasks[owner_id] for s in subprocesses.values() if owner_id in s.tasks), None)
        if owner is not None and not owner.state & TaskState.FINISHED_MASK:
            yield from (t for t in sub.tasks.values() if t.state == wanted)


def waiting(workflow) -> list[Waiting]:
    """The workflow's waiting timers (subprocesses included), earliest first (then task id)."""
    found = []
    for task in _waiting_tasks(workflow):
        due = due_of(task)
        if due is not None and not task.internal_data.get("event_fired", False):
            found.append(Waiting(str(task.id), task.task_spec.bpmn_id, due))
    return sorted(found, key=lambda w: (w.due, w.task_id))


def fire(task) -> None:
    """Let the waiting timer task go off once (a cycle: one round). The engine steps after
    it are the caller's (driving)."""
    task.internal_data.update(meldcode_fire=True)
    # SpiffWorkflow's public way to let waiting tasks look again (only a flagged timer of
    # ours goes off; every other waiting task is merely re-checked, as each engine step does)
    task.workflow.update_waiting_tasks()
    if task.state == TaskState.WAITING and task.internal_data.get("event_fired", False):
        task.workflow.update_waiting_tasks()  # a cycle's last round: the timer is done
