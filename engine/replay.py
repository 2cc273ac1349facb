"""Replay a case: rebuild it from its process version and its history events, the engine's
own events compared with the stored ones on the way; `frames` gives the case after each
event. The checks of a case against its replay are engine/verification.py's, its hash chains
engine/chains.py's. Problems are reported in plain Dutch, the first one stops the replay."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Row, bindparam, select

from . import adapter, audit, driving, informing, links, migration, timers, timezones, versions
from .definitions import InvalidDefinition, ProcessDefinition
from .errors import DomainError
from .failures import kind_of
from .messages import N_, Message
from .models import HistoryEvent, Timer
from .problems import joined
from .professions import replayed_handover, replayed_start
from .store import unit_of_work

# A history event as an ORM object or as a plain row of the events table (verify reads
# those): both carry the same attributes.
StoredEvent = HistoryEvent | Row[Any]


def event_label(event: StoredEvent) -> str:
    """How a problem names a history event (a row or an ORM object): its number, action and
    step, in Dutch, e.g. "gebeurtenis 3 (task_completed, stap_2)" (a Message)."""
    if event.step:
        return Message(N_("gebeurtenis {seq} ({action}, {step})"), seq=event.seq,
                       action=event.action, step=event.step)
    return Message(N_("gebeurtenis {seq} ({action})"), seq=event.seq, action=event.action)


@dataclass
class Replayed:
    completed_steps: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    status: str = "open"
    uitkomst: str | None = None
    id_counter: int = 0
    ready: dict[str, str] = field(default_factory=dict)  # task id -> step
    owner: str | None = None  # who started the case, or who it was last handed to
    shared_with: set[str] = field(default_factory=set)
    workflow: Any = None
    stalled: bool = False  # open with no ready step and no waiting timer
    process_version: int | None = None  # known when the case was moved between versions
    consults: dict[str, str] = field(default_factory=dict)  # consult task id -> its row's state
    consulted: dict[str, str] = field(default_factory=dict)  # consult task id -> whom it asks
    # task id -> (time, actor) of the event that ended it: completed (its actor) or cancelled
    # (None), what its row's completed_at and completed_by must say (engine/task_rows.py)
    ended: dict[str, tuple[Any, str | None]] = field(default_factory=dict)
    linked: set[int] = field(default_factory=set)  # the cases linked either way (engine/links.py)


# Events of a person (not of the engine): none may come while the engine still owes one.
PERSON_ACTIONS = ("task_completed", "case_handed_over", "case_shared", migration.MIGRATED,
                  links.LINKED)
# Events the engine records itself after a start, a completion or a move.
ENGINE_ACTIONS = ("decision_made", "case_closed", migration.STALLED, "timer_fired",
                  informing.INFORMED)  # informed: after each melding_doen (engine/informing.py)


def _stored_definition(version: int) -> ProcessDefinition:
    with unit_of_work() as session:
        return versions.definition_for(session, version)


def _ready_steps(workflow) -> dict[str, str]:
    return {str(t.id): t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY)
            if isinstance(t.task_spec, UserTask)}


def replay_events(definition, case_id: int, events: Sequence[StoredEvent], on_event=None,
                  definition_of: Callable[[int], ProcessDefinition] | None = None,
                  ) -> tuple[Replayed, list[str]]:
    """Rebuild a case from its events; compare the engine's own events with the stored ones.

    definition: the definition of the case's process version. A case that was moved between
    versions starts on the version named "from" in its first `case_migrated` event and goes
    on, at each such event, on the version named "to": those are read via definition_of
    (default: from the database). on_event(event, replayed, workflow) is called after each
    event, for a step-through. Out: the replayed case and the problems found (Dutch, the
    first one stops the replay).
    """
    out = Replayed()
    problems: list[str] = []
    if not events or events[0].action != "case_started":
        return out, [N_("de eerste gebeurtenis is niet het starten van de casus")]
    definition_of = definition_of or _stored_definition
    first_move = next((e for e in events if e.action == migration.MIGRATED), None)
    if first_move is not None:
        out.process_version = (first_move.data or {}).get("from")
        if not isinstance(out.process_version, int):
            return out, [Message(N_("{event}: de oude procesversie ontbreekt"),
                                 event=event_label(first_move))]
        try:
            definition = definition_of(out.process_version)
        except (DomainError, InvalidDefinition) as exc:
            return out, [_of(first_move, unloadable(out.process_version, exc))]
    ids = adapter.IdSource(case_id)
    workflow, advance = driving.start_workflow(definition, ids, at=events[0].at)
    expected: list[tuple[str, str | None, dict]] = []
    ready_ids: set[str] = set()  # the workflow's ready user tasks, as the task rows follow them

    def absorb(adv: driving.Advance, at, done: StoredEvent | None = None) -> None:
        # a ready task the advance ended is cancelled at this event, as cases.CaseChange
        # .advanced cancels its row; the completed one (done) is completed by its actor
        after = {str(t.id) for t in adv.ready}
        for task_id in ready_ids - after:
            out.ended[task_id] = (at, None)
        if done is not None:
            out.ended[done.task_id or ""] = (at, done.actor)
        ready_ids.clear()
        ready_ids.update(after)
        for step, outputs in adv.decisions:
            out.data.update(outputs)
            expected.append(("decision_made", step, outputs))
        for timer in adv.fired:  # went off inline: due when reached
            expected.append(("timer_fired", timer.step, {"due": audit.iso(timer.due)}))
        if adv.completed:
            out.status = "closed"
            out.uitkomst = driving.uitkomst_of(out.completed_steps, out.data)
            expected.append(("case_closed", None, {"uitkomst": out.uitkomst}))
        out.stalled = adv.stall is not None
        if out.stalled:
            expected.append((migration.STALLED, None, {"waiting_at": adv.stall}))

    absorb(advance, events[0].at)
    out.owner = events[0].actor
    out.data.update(replayed_start(events[0].data))  # the owner's beroepsgroep (professions.py)
    if on_event:
        on_event(events[0], out, workflow)
    previous = events[0]
    for event in events[1:]:
        if event.action in PERSON_ACTIONS and expected:
            problems.append(Message(N_("{event}: verwacht werd eerst '{action}' van de engine"),
                                    event=event_label(event), action=expected[0][0]))
            break
        if event.action == "case_handed_over":
            out.owner = event.data.get("to")
            wrong = replayed_handover(event.data, out.data)  # the new owner's group, if recorded
            if wrong is not None:
                problems.append(_of(event, wrong))
                break
        elif event.action == "case_shared":
            out.shared_with.add(event.data.get("with") or "")  # always set by sharing
        elif event.action == links.LINKED:  # a case linked to this one, or this one to it
            why = links.replay_problem(event.data)
            if why is not None:
                problems.append(_of(event, why))
                break
            out.linked.add(event.data["case"])
        elif event.action == informing.INFORMED:
            # the team told of a melding (engine/informing.py): only right after melding_doen's
            # completion; a history from before this feature has none there
            why = informing.replay_problem(event, previous.action == "task_completed"
                                           and previous.step == driving.MELDING_STEP)
            if why is not None:
                problems.append(_of(event, why))
                break
        elif event.action == "task_completed":
            try:
                # no task id finds no task, as "" finds none
                advance = driving.complete_in_workflow(workflow, event.task_id or "", event.data, ids,
                                                       at=event.at, recorded=True)
            except DomainError as exc:
                problems.append(_not_replayable(event, exc.message))
                break
            out.completed_steps.append(event.step or "")  # a completion's event names its step
            out.data.update(event.data)
            absorb(advance, event.at, event)
        elif event.action.startswith("consult_"):  # the product's own tasks (engine/consults.py)
            from .consults import replay_event  # consults builds on cases: imported when needed

            problem = replay_event(event, out, event_label(event))
            if problem is not None:
                problems.append(problem)
                break
        elif event.action == migration.MIGRATED:
            moved = _replay_move(event, out, workflow, ids, definition_of)
            if isinstance(moved, str):
                problems.append(moved)
                break
            absorb(moved, event.at)
        elif event.action == "timer_fired" and not expected:  # the scheduler's fire
            fired = _replay_fire(event, workflow, ids)
            if isinstance(fired, str):
                problems.append(fired)
                break
            absorb(fired, event.at)
        elif event.action in ENGINE_ACTIONS:
            if not expected:
                problems.append(Message(N_("{event}: de engine komt bij afspelen niet tot deze "
                                           "stap"), event=event_label(event)))
                break
            action, step, data = expected.pop(0)
            if (action, step, data) != (event.action, event.step, event.data):
                problems.append(Message(
                    N_("{event}: bij afspelen komt de engine tot '{action}' met {data}, "
                       "vastgelegd is {recorded}"),
                    event=event_label(event), action=action, data=str(data),
                    recorded=str(event.data)))
                break
            early = _early(event, data["due"]) if action == "timer_fired" else None
            if early is not None:
                problems.append(early)
                break
        else:
            problems.append(Message(N_("{event}: onbekende handeling"), event=event_label(event)))
            break
        if on_event:
            on_event(event, out, workflow)
        previous = event
    if not problems and expected:
        problems.append(Message(N_("bij afspelen volgt nog '{action}', maar die gebeurtenis "
                                   "ontbreekt"), action=expected[0][0]))
    out.id_counter = ids.counter
    out.ready = _ready_steps(workflow)
    out.workflow = workflow
    return out, problems


def _replay_fire(event: StoredEvent, workflow, ids: adapter.IdSource) -> driving.Advance | str:
    """A timer the scheduler fired (engine/timers.py), fired again at the event's time: the
    advance, or the problem (Dutch) when no such timer waits or its due time differs."""
    try:
        timer, advance = driving.fire_timer(workflow, event.task_id or "", ids, event.at)
    except DomainError as exc:
        return _not_replayable(event, exc.message)
    recorded = {"due": audit.iso(timer.due)}
    if (timer.step, recorded) != (event.step, event.data):
        return Message(N_("{event}: bij afspelen gaat timer '{timer}' af met {data}, "
                          "vastgelegd is {step} met {recorded}"),
                       event=event_label(event), timer=timer.step, data=str(recorded),
                       step=str(event.step), recorded=str(event.data))
    return _early(event, timer.due) or advance


def _early(event: StoredEvent, due) -> Message | None:
    """The problem (Dutch) of a timer_fired event stored before the due time the workflow
    gives its timer (`due`: aware UTC or ISO text), as a timers row moved forward by hand
    made the scheduler fire it (issue 13 F4), or None."""
    due = timezones.parse_iso(due) if isinstance(due, str) else due
    if timezones.to_utc(event.at) >= due:
        return None
    return Message(N_("{event}: de timer ging af op {at}, vóór het tijdstip dat de workflow "
                      "hem geeft ({due})"), event=event_label(event),
                   at=_stamp(event.at), due=_stamp(due))


def _replay_move(event: StoredEvent, out: Replayed, workflow, ids: adapter.IdSource,
                 definition_of) -> driving.Advance | str:
    """The recorded move of a case to another version, done again: the advance on the new
    version, or the problem (Dutch) when the event does not fit or the move cannot be done."""
    data = event.data or {}
    if not isinstance(data.get("to"), int) or data.get("from") != out.process_version:
        return Message(N_("{event}: de casus stond bij afspelen op versie {have}, niet op versie "
                          "{want}"), event=event_label(event), have=out.process_version,
                       want=data.get("from"))
    try:
        target = definition_of(data.get("to"))
    except (DomainError, InvalidDefinition) as exc:
        return _of(event, unloadable(data.get("to"), exc))
    try:
        with timers.at(event.at):  # a timer reached in the move is timed from its event
            advance = migration.move_workflow(workflow, target, ids)
    except DomainError as exc:
        return _not_replayable(event, exc.message)
    except migration.MoveImpossible as exc:
        return _not_replayable(event, joined(exc.reasons, "; "))
    out.process_version = data.get("to")
    return advance


def _of(event: StoredEvent, problem: str) -> Message:
    """A problem found at `event`: "gebeurtenis 3 (...): <problem>"."""
    return Message("{event}: {problem}", event=event_label(event), problem=problem)


def _not_replayable(event: StoredEvent, reason: str) -> Message:
    return Message(N_("{event}: kan niet opnieuw worden afgespeeld: {reason}"),
                   event=event_label(event), reason=reason)


def unloadable(version, exc: Exception) -> str:
    """The problem (Dutch, a Message) of a process version that does not load: its number and
    the first line of the reason (a DomainError's message, an invalid definition's first
    problem, else the kind of failure, failures.kind_of)."""
    if isinstance(exc, DomainError):
        reason = exc.message
    elif isinstance(exc, InvalidDefinition) and exc.problems:  # its first line, translatable
        first = exc.problems[0]
        reason = Message("{file}:{line}: {message}", file=first.file, line=first.line,
                         message=first.message)
    else:
        reason = kind_of(exc)
    return Message(N_("procesversie {version} laat zich niet laden: {reason}"),
                   version=version, reason=reason)


def frames(definition, case_id: int, events: Sequence[StoredEvent],
           definition_of: Callable[[int], ProcessDefinition] | None = None,
           stamp: timezones.Stamp = audit.iso) -> list[dict[str, Any]]:
    """The case after each event: what was done, what was open, what was known; each event's
    `at` as `stamp` gives it (ISO 8601 UTC text by default, timezones.to_utc for a page).

    definition and definition_of as for replay_events."""
    result: list[dict[str, Any]] = []

    def capture(event, state: Replayed, workflow) -> None:
        result.append({
            "seq": event.seq, "at": stamp(event.at), "actor": event.actor,
            "action": event.action, "step": event.step, "event_data": event.data,
            "completed_steps": list(state.completed_steps),
            "ready_steps": sorted(set(_ready_steps(workflow).values())),
            "data": dict(state.data), "status": state.status, "uitkomst": state.uitkomst,
        })

    replay_events(definition, case_id, events, on_event=capture, definition_of=definition_of)
    return result


_TIMERS_IN = select(Timer.__table__).where(
    Timer.__table__.c.case_id.in_(bindparam("ids", expanding=True)))


def timer_rows(session, ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """The rows of the timers table of the cases `ids`, in one statement in the session's
    transaction: case id -> its rows (a case without rows is left out)."""
    found: dict[int, list[Row[Any]]] = {}
    for row in session.execute(_TIMERS_IN, {"ids": list(ids)}):
        found.setdefault(row.case_id, []).append(row)
    return found


def timer_row_problems(rows: Sequence[Row[Any]], workflow) -> list[Message]:
    """How a case's timers rows differ from the timers its replayed `workflow` waits on
    (engine/timers.py waiting), each a Dutch problem: a row missing (the scheduler would never
    fire that timer), a row of no waiting timer, a row with another step or due time. The rows
    only mirror the workflow (models.Timer), yet the scheduler finds its work by them."""
    want = {w.task_id: w for w in timers.waiting(workflow)}
    have = {row.task_id: row for row in rows}
    problems = [Message(N_("de timer '{step}' (taak {task}) heeft geen rij in de timers-tabel: "
                           "hij zou nooit afgaan"), step=want[t].step, task=t)
                for t in sorted(want.keys() - have.keys())]
    problems += [Message(N_("de timers-tabel heeft een rij '{step}' (taak {task}) van een "
                            "timer waar de workflow niet op wacht"), step=have[t].step, task=t)
                 for t in sorted(have.keys() - want.keys())]
    for task_id in sorted(want.keys() & have.keys()):
        row, timer = have[task_id], want[task_id]
        if row.step != timer.step or timezones.to_utc(row.due_at) != timer.due:
            problems.append(Message(
                N_("de timers-rij van '{step}' (taak {task}) zegt {have}, de workflow {want}"),
                step=timer.step, task=task_id, have=f"{row.step} {_stamp(row.due_at)}",
                want=f"{timer.step} {_stamp(timer.due)}"))
    return problems


def _stamp(at) -> str:
    """A time in Dutch time; a damaged one (engine/stored_time.py) as it was stored."""
    return getattr(at, "stored", "") or f"{timezones.local(at):%d-%m-%Y %H:%M:%S}"
