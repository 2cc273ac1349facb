"""Driving a case's workflow: start it, complete a task in it, let the engine run its own steps.

Pure: no database. The commands (engine/cases.py, engine/tasks.py), the move to another version
(engine/migration.py), the replay that verifies a case (engine/replay.py) and the route prover
(engine/proof.py) all advance a workflow through these functions, so they arrive at the same
state. An `Advance` says what one start or completion did; `EngineFailure` (409) is a diagram
that cannot go on, in Dutch.
"""

from __future__ import annotations

import contextlib
import re
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from . import expressions, timers

# The route prover (engine/proof.py) takes the functions it drives a version with as one
# module: this one, with the adapter's in-memory states (restore, snapshot) beside them.
from .adapter import IdSource, task_ids
from .adapter import restore as restore
from .adapter import snapshot as snapshot
from .definitions import ProcessDefinition
from .errors import Conflict
from .expressions import SCRIPT_ENGINE, ExpressionError
from .form_choices import defaults_of
from .messages import N_, Message
from .task_walk import MeldcodeWorkflow

MELDING_STEP = "melding_doen"
HULP_STEP = "hulp_organiseren"


@dataclass
class Advance:
    """What one start or completion did, for the history and the indexed rows."""

    decisions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ready: list[Any] = field(default_factory=list)  # spiff tasks
    completed: bool = False
    # Open with no ready user task and no waiting timer: the element ids where the tokens wait
    # (None while the case can go on, or once it closed).
    stall: list[str] | None = None
    # Timers that went off in this advance because they were due when reached (engine/timers.py),
    # in order, and the timers still waiting after it.
    fired: list[timers.Waiting] = field(default_factory=list)
    timers: list[timers.Waiting] = field(default_factory=list)


def _decision_outputs(task) -> dict[str, Any]:
    table = task.task_spec.dmnEngine.decision_table
    return {o.name: task.data.get(o.name) for o in table.outputs if o.name}


# Engine steps (gateways, events, decisions) one advance may take. A cycle of flows without a
# user task would otherwise keep a worker at 100 % CPU for good; the deploy check refuses such
# cycles, and these bounds keep a version that slipped through from taking the server down.
# Within one advance an element passed more than a few times can only be such a cycle (two
# parallel tokens through one merge pass it twice); the tree grows with every pass, so stop early.
MAX_ENGINE_STEPS = 5000
MAX_PASSES_PER_ELEMENT = 50


class EndlessLoop(SpiffWorkflowException):
    """An element passed more often in one advance than any diagram without a flow cycle needs.
    `why` is the Dutch catalogue message (the exception's own text is SpiffWorkflow's)."""

    def __init__(self, why: Message):
        super().__init__(str(why))
        self.why = why


def _run_engine(workflow: BpmnWorkflow) -> Advance:
    result = Advance()
    passes: dict[str, int] = {"": 0}  # "": all elements together

    def did_complete(task):
        name = task.task_spec.name
        passes[name] = passes.get(name, 0) + 1
        passes[""] += 1
        if passes[name] > MAX_PASSES_PER_ELEMENT or passes[""] > MAX_ENGINE_STEPS:
            raise EndlessLoop(Message(
                N_("'{element}' wordt steeds opnieuw doorlopen zonder gebruikerstaak: een lus "
                   "in het diagram"), element=getattr(task.task_spec, "bpmn_id", None) or name))
        if isinstance(task.task_spec, BusinessRuleTask):
            result.decisions.append((task.task_spec.bpmn_id, _decision_outputs(task)))

    try:
        workflow.do_engine_steps(did_complete_task=did_complete)
        _fire_due(workflow, result, did_complete)
    except (SpiffWorkflowException, ExpressionError) as exc:
        raise EngineFailure(exc) from exc
    result.ready = [
        t for t in workflow.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, UserTask)
    ]
    # A ready task is not finished, so a workflow with one is not completed: asking the
    # engine (a walk over the task tree) only when none is ready saved ~3% of a replay.
    result.completed = not result.ready and workflow.is_completed()
    if not result.ready and not result.completed:
        result.stall = stall_of(workflow)
    return result


# A timer already due when reached goes off at once, in the same advance (CONTRACT section 5:
# hulp_evalueren is ready at once for an evaluation date of today); each such fire is recorded.
MAX_INLINE_FIRES = 100


def _fire_due(workflow: BpmnWorkflow, result: Advance, did_complete) -> None:
    now = timers.moment()
    while True:
        waiting = timers.waiting(workflow)
        due = [w for w in waiting if w.due <= now]
        if not due:
            result.timers = waiting
            return
        if len(result.fired) >= MAX_INLINE_FIRES:
            raise EndlessLoop(Message(N_("timer '{step}' gaat steeds opnieuw af: een lus in het "
                                         "diagram"), step=due[0].step))
        timers.fire(workflow.get_task_from_id(uuid.UUID(due[0].task_id)))
        result.fired.append(due[0])
        workflow.do_engine_steps(did_complete_task=did_complete)


def fire_timer(workflow: BpmnWorkflow, task_id: str, ids: IdSource, at) -> tuple[timers.Waiting, Advance]:
    """Fire the waiting timer `task_id` (the scheduler's fire, or its replay) at `at` (aware
    UTC) and advance the engine; timers due by then that the advance reaches fire too
    (Advance.fired). Out: the timer as it waited (its due time) and the advance. Raises
    Conflict when no timer with that id waits, EngineFailure when the diagram cannot go on."""
    with task_ids(ids), timers.at(at):
        task = task_or_none(workflow, task_id)
        due = timers.due_of(task) if task is not None and task.state == TaskState.WAITING else None
        if due is None or task.internal_data.get("event_fired", False):
            raise Conflict(N_("Deze timer wacht niet (meer)."))
        try:
            timers.fire(task)
        except (SpiffWorkflowException, ExpressionError) as exc:
            raise EngineFailure(exc) from exc
        return timers.Waiting(task_id, task.task_spec.bpmn_id, due), _run_engine(workflow)


_WAITING = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def stall_of(workflow: BpmnWorkflow) -> list[str] | None:
    """Where the tokens of an open workflow without a ready user task wait, or None when a
    timer waits (the scheduler will fire it, so the case is not stuck).

    In: a workflow after its engine steps. Out: the sorted element ids of the diagram
    elements holding a waiting, ready or started task (e.g. a parallel join waiting for a flow
    that never comes, or an element nothing in the product completes); may be empty.
    """
    waiting = set()
    for task in workflow.get_tasks(state=_WAITING):
        spec = task.task_spec
        if isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
            return None
        if getattr(spec, "bpmn_id", None):
            waiting.add(spec.bpmn_id)
    return sorted(waiting)


def advance_workflow(workflow: BpmnWorkflow, ids: IdSource) -> Advance:
    """Run the engine steps of a workflow that was changed outside a completion (a case moved
    to another process version), with the case's deterministic task ids.

    Raises EngineFailure when the diagram cannot advance.
    """
    with task_ids(ids):
        return _run_engine(workflow)


# SpiffWorkflow's own messages for the faults a diagram can have, in the product's words.
_ENGINE_MESSAGES = (
    (re.compile(r"No conditions satisfied for '?(?P<gateway>[\w.-]+)'?"),
     N_("geen enkele voorwaarde van gateway '{gateway}' geldt en er is geen standaardstroom")),
    (re.compile(r"No conditions satisfied on gateway"),
     N_("geen enkele voorwaarde van deze inclusieve gateway geldt")),
    (re.compile(r"Error evaluating expression '(?P<expression>.*)'"),
     N_("de expressie '{expression}' kan niet worden uitgerekend (een gegeven ontbreekt of "
        "heeft een onverwacht type)")),
)


def engine_message(detail: str) -> str:
    """The first line of an engine error in Dutch where SpiffWorkflow's wording is known."""
    first = detail.strip().splitlines()[0] if detail and detail.strip() else ""
    for pattern, dutch in _ENGINE_MESSAGES:
        found = pattern.search(first)
        if found:
            return Message(dutch, **found.groupdict())
    return first


class EngineFailure(Conflict):
    """The diagram could not advance (e.g. no gateway condition held): nothing is stored."""

    def __init__(self, detail: str | Exception):
        why = (detail.why if isinstance(detail, EndlessLoop)
               else engine_message(str(detail)))
        super().__init__(Message(N_("Het proces kan niet verder: {why}"), why=why))


# --- the case file: one set of answers that every gateway sees ------------------------------
# SpiffWorkflow copies a task's data from its parent, so each branch of a parallel split only
# sees its own answers. A gateway of one branch that must know what the other did (help fails
# while a melding is decided but not yet made) reads the case file: every answer completed so
# far in this workflow and the engine's facts, given to each task as it completes. It lives in
# the workflow's own data, so the stored state is self-contained and a replay arrives at it.
CASE_FILE = "meldcode_dossier"
ENGINE_FACTS = ("meldingen_gedaan",)  # completed melding_doen tasks of this case


# What a process spec's diagram says, worked out once per spec (specs live as long as their
# cached definition; the weak keys let a dropped one go).
_READS_FACTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _reads_engine_facts(spec) -> bool:
    """Does a condition of this process read an engine fact? Only such versions keep a case
    file: versions published before it existed replay exactly as they ran."""
    found = _READS_FACTS.get(spec)
    if found is None:
        texts = [
            cond.args[0]
            for task_spec in spec.task_specs.values()
            for cond, _target in getattr(task_spec, "cond_task_specs", ()) or ()
            if cond is not None and getattr(cond, "args", None)
        ]
        names: set[str] = set()
        for text_ in texts:
            with contextlib.suppress(ExpressionError):
                names |= expressions.names_in(text_)
        found = bool(names & set(ENGINE_FACTS))
        _READS_FACTS[spec] = found
    return found


def _case_file(workflow: BpmnWorkflow) -> dict[str, Any] | None:
    """The workflow's case file; opened on first use for a workflow of a version that reads
    engine facts (e.g. a case moved to such a version), None for one that does not."""
    found = workflow.data.get(CASE_FILE)
    if found is None and _reads_engine_facts(workflow.spec):
        done = sum(1 for t in workflow.tasks.values()
                   if t.task_spec.bpmn_id == MELDING_STEP and t.state == TaskState.COMPLETED)
        found = workflow.data[CASE_FILE] = {"answers": {}, "meldingen_gedaan": done}
    return found


def task_or_none(workflow: BpmnWorkflow, task_id: str):
    """The workflow's task with this id (a SpiffWorkflow Task), or None: `task_id` is no uuid
    text, or no task of this workflow has it. Never raises."""
    try:
        return workflow.get_task_from_id(uuid.UUID(task_id))
    except (ValueError, TypeError, AttributeError, TaskNotFoundException):
        return None


def start_workflow(definition: ProcessDefinition, ids: IdSource,
                   at=None) -> tuple[BpmnWorkflow, Advance]:
    """A new workflow of `definition` run up to its first user tasks, with ids from `ids`;
    its case file (when the version reads engine facts) holds no answers and no melding yet.
    at: the time of the start (aware UTC; None: the engine's clock), timers reached are timed
    from it. Raises EngineFailure when the diagram cannot advance."""
    with task_ids(ids), timers.at(at):
        workflow = MeldcodeWorkflow(
            definition.spec, definition.subprocess_specs, script_engine=SCRIPT_ENGINE
        )
        case_file = _case_file(workflow)
        if case_file is not None:
            for task in workflow.get_tasks():  # the start: every token begins with the facts
                task.data["meldingen_gedaan"] = case_file["meldingen_gedaan"]
        return workflow, _run_engine(workflow)


def complete_in_workflow(workflow: BpmnWorkflow, task_id: str, data: dict, ids: IdSource,
                         at=None, recorded: bool = False) -> Advance:
    """Complete the ready task `task_id` with validated `data` and advance the engine.

    A field of the task's form that `data` leaves out (or gives as None) gets its default
    (engine.form_choices.defaults_of: [] for a multi field, a boolean's defaultValue), as
    engine.forms.validate gives it at every door, so a gateway reading it never meets an
    unknown variable (CONTRACT section 5, `geweldsvormen`). A multi field with a
    required_when gets none here: not asked, it is not given (issue 14 F1); the check refuses
    a gateway or timer that reads one (engine.condition_checks). recorded: `data` is a completion
    as its history event holds it (engine/replay.py): taken exactly as written, no default
    added, so a history replays as it was recorded (a completion recorded since field defaults
    exist already holds them).

    Where the version keeps a case file, the task gets every answer completed so far in this
    workflow (any branch), then its own answers, then the engine facts (meldingen_gedaan,
    counting this task when it is melding_doen), so the gateways after it see the whole case.
    at: the time of the completion (aware UTC; None: the engine's clock), timers reached are
    timed from it. Raises Conflict when the task is not ready, EngineFailure when the diagram
    cannot advance.
    """
    with task_ids(ids), timers.at(at):
        task = task_or_none(workflow, task_id)
        if task is None or task.state != TaskState.READY:
            raise Conflict(N_("Deze taak staat niet (meer) open."))
        if not recorded:
            data = {**data, **{name: value for name, value in defaults_of(task.task_spec).items()
                               if data.get(name) is None}}
        case_file = _case_file(workflow)
        if case_file is None:
            task.set_data(**data)
        else:
            case_file["answers"].update(data)
            if task.task_spec.bpmn_id == MELDING_STEP:
                case_file["meldingen_gedaan"] += 1
            task.set_data(**{**case_file["answers"],
                             **{name: case_file[name] for name in ENGINE_FACTS}})
        try:
            task.run()
        except (SpiffWorkflowException, ExpressionError) as exc:
            raise EngineFailure(exc) from exc
        return _run_engine(workflow)


def uitkomst_of(completed_steps: list[str], data: dict[str, Any]) -> str:
    """CONTRACT rule 8: the outcome of a closed case."""
    gemeld = MELDING_STEP in completed_steps
    hulp = HULP_STEP in completed_steps
    if gemeld and hulp:
        return "gemeld_en_hulp"
    if gemeld:
        return "gemeld"
    if hulp:
        return "hulp"
    if data.get("zorgen_weggenomen") is True:
        return "zorgen_weggenomen"
    return "geen_vermoeden"
