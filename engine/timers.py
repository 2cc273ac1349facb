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

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from . import clock, timezones
from .expressions import SCRIPT_ENGINE, ExpressionError

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


def _value(task, expression: str):
    """The timer's text: an ISO 8601 literal as written (PT2H, 2026-12-01, R3/PT1H), else an
    expression (`${...}` allowed) over the task's data by the safe evaluator."""
    text = (expression or "").strip()
    if _LITERAL.match(text):
        return text
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return SCRIPT_ENGINE.evaluate(task, text)


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
            raise TimerExpressionError(f"'{value}' is geen datum of tijdstip") from None
    else:
        raise TimerExpressionError(f"'{value}' is geen datum of tijdstip")
    if found.tzinfo is None:
        found = found.replace(tzinfo=timezones.DISPLAY_ZONE)
    return timezones.to_utc(found)


def _after(duration: str, start: datetime) -> datetime:
    try:
        parsed = TimerEventDefinition.parse_iso_duration(str(duration))
    except Exception:
        raise TimerExpressionError(f"'{duration}' is geen duur (zoals PT2H of P5D)") from None
    return start + TimerEventDefinition.get_timedelta_from_start(parsed, start)


def cycle_of(value, start: datetime) -> dict:
    """A timeCycle value ("R3/PT1H", "R/P1D", "R2/2026-12-01T09:00/PT1H") from `start`:
    {"cycles": n (-1: without end), "next": ISO UTC of the first fire, "duration": seconds}."""
    parts = str(value).strip().upper().split("/")
    if len(parts) not in (2, 3) or not re.fullmatch(r"R\d*", parts[0]):
        raise TimerExpressionError(f"'{value}' is geen herhaling (zoals R3/PT1H)")
    cycles = int(parts[0][1:]) if parts[0][1:] else -1
    if len(parts) == 3:
        first = point_in_time(parts[1])
        step = _after(parts[2], first) - first
    else:
        step = _after(parts[1], start) - start
        first = start + step
    if step <= timedelta(0):
        raise TimerExpressionError(f"'{value}': de duur moet groter dan nul zijn")
    return {"cycles": cycles, "next": first.isoformat(), "duration": step.total_seconds()}


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


def waiting(workflow) -> list[Waiting]:
    """The workflow's waiting timers (subprocesses included), earliest first (then task id)."""
    found = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
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
