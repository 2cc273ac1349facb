"""Cases and tasks: start a case, list ready tasks, complete a task, advance the engine.

Every command is one transaction: the workflow state, the task rows, the history events and
the access-log entry commit together or not at all.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
import threading
import uuid
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import SpiffWorkflow.task as spiff_task_module
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.util.task import TaskIterator, TaskState
from sqlalchemy import Connection, and_, bindparam, insert, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import audit, definitions, expressions, forms, organisation
from .errors import BadRequest, Conflict, DomainError, Forbidden, Invalid, NotFound
from .expressions import SCRIPT_ENGINE, ExpressionError
from .roles import AANDACHTSFUNCTIONARIS, AUDITOR, CASE_STARTERS, LEIDINGGEVENDE, MEDEWERKER
from .store import (
    Case,
    Draft,
    HistoryEvent,
    ProcessVersion,
    TaskRecord,
    User,
    get_engine,
    unit_of_work,
    utcnow,
    write_connection,
)
from .users import Principal, may_complete, may_read_case

SYSTEM = "systeem"

# --- deterministic task ids ------------------------------------------------------------------
# SpiffWorkflow gives every task a uuid4. A replay must arrive at the very same ids, so while
# we drive a case's workflow, ids come from (case id, running counter) instead.

_NAMESPACE = uuid.UUID("6f1c3e0a-5b7d-4c2e-9a51-6d0f8e7b1c42")


@dataclass
class IdSource:
    case_id: int
    counter: int = 0

    def next(self) -> uuid.UUID:
        self.counter += 1
        return uuid.uuid5(_NAMESPACE, f"{self.case_id}:{self.counter}")


_id_source: contextvars.ContextVar[IdSource | None] = contextvars.ContextVar(
    "meldcode_id_source", default=None
)


def _task_uuid() -> uuid.UUID:
    source = _id_source.get()
    return source.next() if source is not None else uuid.uuid4()


spiff_task_module.uuid4 = _task_uuid  # SpiffWorkflow's only call site of uuid4

# SpiffWorkflow's task iterator stops at depth 1000 by default. Every completed step adds depth,
# so a case that loops long enough (help evaluated again and again) would silently look
# finished: is_completed() sees no unfinished task beyond that depth. Lift the limit.
for _iterator in (TaskIterator, BpmnTaskIterator):
    _defaults = list(_iterator.__init__.__defaults__)
    _defaults[1] = 10**9  # max_depth, the second keyword of both
    _iterator.__init__.__defaults__ = tuple(_defaults)


@contextlib.contextmanager
def task_ids(source: IdSource) -> Iterator[IdSource]:
    token = _id_source.set(source)
    try:
        yield source
    finally:
        _id_source.reset(token)


# --- workflow state without the spec ----------------------------------------------------------

_restoring: contextvars.ContextVar[definitions.ProcessDefinition] = contextvars.ContextVar(
    "meldcode_restoring"
)


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Stores a workflow without its spec: the spec is stored once per process version."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        definition = _restoring.get()
        dct["spec"] = definition.spec
        dct["subprocess_specs"] = {}
        workflow = self.target_class(
            definition.spec, definition.subprocess_specs, deserializing=True
        )
        workflow.tasks = self.mapping_from_dict(dct["tasks"], uuid.UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(uuid.UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class UntrustedState(Conflict):
    """A stored workflow state this release did not write: refused, never migrated (409)."""

    def __init__(self, detail: str):
        super().__init__(
            "De opgeslagen toestand van deze casus wordt niet vertrouwd en is niet geladen: "
            f"{detail}. Laat de beheerder de casus controleren met 'meldcode verify'."
        )
        self.detail = detail


class _StoredStateSerializer(BpmnWorkflowSerializer):
    """SpiffWorkflow's serializer for state read back from the database: data, never code.

    SpiffWorkflow migrates a serialization that claims an older serializer version
    (BpmnWorkflowSerializer.migrate, run by deserialize_json), and its 1.1 -> 1.2 migration
    runs Python's eval() on timer texts found in that serialization. Whoever can write a
    case row could then run code in the server and read the history key. This product never
    stored another serializer version, so any other version is refused here and no
    migration is ever run (DESIGN: nothing read from the database is ever evaluated).
    """

    def check_version(self, dct: Any) -> None:
        """Raise UntrustedState unless `dct` is a state object written by this version."""
        if not isinstance(dct, dict):
            raise UntrustedState("de toestand is geen object")
        version = dct.get(self.VERSION_KEY)
        if version != self.VERSION:
            shown = version if isinstance(version, str) and len(version) <= 20 else "onbekend"
            raise UntrustedState(
                f"serialisatieversie {shown!r} in plaats van {self.VERSION!r}"
            )

    def migrate(self, dct):
        # Replaces SpiffWorkflow's migrate (its hook inside deserialize_json): check, never migrate.
        self.check_version(dct)
        del dct[self.VERSION_KEY]

    def deserialize_json(self, serialization, use_gzip=False):
        if use_gzip:
            raise ValueError("use_gzip wordt niet gebruikt")
        try:
            dct = json.loads(serialization)
        except ValueError:
            raise UntrustedState("de toestand is geen geldige JSON") from None
        self.migrate(dct)
        return self.from_dict(dct)


_registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
_SpeclessWorkflowConverter(BpmnWorkflow, _registry)
_serializer = _StoredStateSerializer(_registry)


def dump_state(workflow: BpmnWorkflow) -> bytes:
    """The workflow's state as stored in cases.workflow_state: zlib-compressed JSON without
    the spec, marked with the current serializer version."""
    return zlib.compress(_serializer.serialize_json(workflow).encode(), 1)


def snapshot(workflow: BpmnWorkflow) -> str:
    """The workflow's state as JSON text (no spec), for exploring routes in memory."""
    return _serializer.serialize_json(workflow)


def restore(definition: definitions.ProcessDefinition, text: str) -> BpmnWorkflow:
    """A workflow of `definition` from `snapshot` text; the safe evaluator attached.

    Raises UntrustedState (409) for text not written by this serializer version: SpiffWorkflow's
    migrations are never run on stored state (see _StoredStateSerializer)."""
    token = _restoring.set(definition)
    try:
        workflow = _serializer.deserialize_json(text)
    finally:
        _restoring.reset(token)
    workflow.script_engine = SCRIPT_ENGINE
    return workflow


def state_dict(state: bytes) -> dict:
    """A stored state as a plain dict, for comparing. Raises UntrustedState when it is not
    a state of the current serializer version (verify names such a case)."""
    dct = json.loads(zlib.decompress(state))
    _serializer.check_version(dct)
    return dct


class _WorkflowCache:
    """Recently written workflows of this process, keyed by case and version.

    When the next step of a case reaches the worker that stored the last one (always with one
    worker process, about one request in N with N of them), it skips deserialising the state
    it just wrote (~1 ms). An entry is taken out while a command works on it and put back only
    after that command committed, under the version it committed; a stale or failed entry is
    never used.
    """

    # ~50 KiB per workflow of the shipped meldcode: 500 keep a worker under ~25 MiB, and
    # 2 × cores + 1 workers each have their own.
    def __init__(self, size: int = 500):
        self.size = size
        self.entries: OrderedDict[tuple[str, int], tuple[int, BpmnWorkflow]] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, key: tuple[str, int], version_id: int) -> BpmnWorkflow | None:
        with self.lock:
            entry = self.entries.pop(key, None)
        return entry[1] if entry is not None and entry[0] == version_id else None

    def put(self, key: tuple[str, int], version_id: int, workflow: BpmnWorkflow) -> None:
        with self.lock:
            self.entries[key] = (version_id, workflow)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


_workflows = _WorkflowCache()


def load_state(definition: definitions.ProcessDefinition, state: bytes) -> BpmnWorkflow:
    """The workflow of a case from its stored state (`dump_state`). Raises UntrustedState
    (409) for a state of another serializer version and for a state that does not unpack."""
    try:
        text = zlib.decompress(state).decode()
    except (zlib.error, UnicodeDecodeError):
        raise UntrustedState("de toestand is onleesbaar") from None
    return restore(definition, text)


# --- process versions ---------------------------------------------------------------------------


_definitions_by_version: dict[tuple[str, int], definitions.ProcessDefinition] = {}


def definition_for(db: Session | Connection, version: int) -> definitions.ProcessDefinition:
    """The parsed definition of a stored version (stored versions never change: cached)."""
    bind = db.get_bind() if isinstance(db, Session) else db.engine
    key = (str(bind.url), version)
    found = _definitions_by_version.get(key)
    if found is not None:
        return found
    with contextlib.nullcontext(db) if isinstance(db, Session) else Session(bind=db) as session:
        row = session.get(ProcessVersion, version)
        if row is None:
            raise NotFound(f"Procesversie {version} bestaat niet.")
        found = definitions.cached(row.sha256, lambda: [
            definitions.SourceFile(f.name, f.content) for f in row.files])
    _definitions_by_version[key] = found
    return found


def active_version(session: Session) -> ProcessVersion | None:
    return session.scalar(select(ProcessVersion).where(ProcessVersion.active.is_(True)))


# --- engine driving (pure: no database, shared by commands and replay) ---------------------------


@dataclass
class Advance:
    """What one start or completion did, for the history and the indexed rows."""

    decisions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ready: list[Any] = field(default_factory=list)  # spiff tasks
    completed: bool = False
    # Open with no ready user task and no waiting timer: the element ids where the tokens wait
    # (None while the case can go on, or once it closed).
    stall: list[str] | None = None


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
    """An element passed more often in one advance than any diagram without a flow cycle needs."""


def _run_engine(workflow: BpmnWorkflow) -> Advance:
    result = Advance()
    passes: dict[str, int] = {"": 0}  # "": all elements together

    def did_complete(task):
        name = task.task_spec.name
        passes[name] = passes.get(name, 0) + 1
        passes[""] += 1
        if passes[name] > MAX_PASSES_PER_ELEMENT or passes[""] > MAX_ENGINE_STEPS:
            raise EndlessLoop(
                f"'{getattr(task.task_spec, 'bpmn_id', None) or name}' wordt steeds opnieuw "
                "doorlopen zonder gebruikerstaak: een lus in het diagram")
        if isinstance(task.task_spec, BusinessRuleTask):
            result.decisions.append((task.task_spec.bpmn_id, _decision_outputs(task)))

    try:
        workflow.do_engine_steps(did_complete_task=did_complete)
    except (SpiffWorkflowException, ExpressionError) as exc:
        raise EngineFailure(str(exc)) from exc
    result.ready = [
        t for t in workflow.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, UserTask)
    ]
    result.completed = workflow.is_completed()
    if not result.ready and not result.completed:
        result.stall = stall_of(workflow)
    return result


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
    (re.compile(r"No conditions satisfied for '?([\w.-]+)'?"),
     "geen enkele voorwaarde van gateway '{0}' geldt en er is geen standaardstroom"),
    (re.compile(r"No conditions satisfied on gateway"),
     "geen enkele voorwaarde van deze inclusieve gateway geldt"),
    (re.compile(r"Error evaluating expression '(.*)'"),
     "de expressie '{0}' kan niet worden uitgerekend (een gegeven ontbreekt of heeft een "
     "onverwacht type)"),
)


def engine_message(detail: str) -> str:
    """The first line of an engine error in Dutch where SpiffWorkflow's wording is known."""
    first = detail.strip().splitlines()[0] if detail and detail.strip() else ""
    for pattern, dutch in _ENGINE_MESSAGES:
        found = pattern.search(first)
        if found:
            return dutch.format(*found.groups())
    return first


class EngineFailure(Conflict):
    """The diagram could not advance (e.g. no gateway condition held): nothing is stored."""

    def __init__(self, detail: str):
        super().__init__(f"Het proces kan niet verder: {engine_message(detail)}")


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
_MELDING_BRANCH: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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


def _task_or_none(workflow: BpmnWorkflow, task_id: str):
    """The workflow's task with this id, or None (not an id, or not one of this workflow)."""
    try:
        return workflow.get_task_from_id(uuid.UUID(task_id))
    except (ValueError, TypeError, AttributeError, TaskNotFoundException):
        return None


def start_workflow(definition: definitions.ProcessDefinition, ids: IdSource) -> tuple[BpmnWorkflow, Advance]:
    """A new workflow of `definition` run up to its first user tasks, with ids from `ids`;
    its case file (when the version reads engine facts) holds no answers and no melding yet.
    Raises EngineFailure when the diagram cannot advance."""
    with task_ids(ids):
        workflow = BpmnWorkflow(
            definition.spec, definition.subprocess_specs, script_engine=SCRIPT_ENGINE
        )
        case_file = _case_file(workflow)
        if case_file is not None:
            for task in workflow.get_tasks():  # the start: every token begins with the facts
                task.data["meldingen_gedaan"] = case_file["meldingen_gedaan"]
        return workflow, _run_engine(workflow)


def complete_in_workflow(workflow: BpmnWorkflow, task_id: str, data: dict, ids: IdSource) -> Advance:
    """Complete the ready task `task_id` with validated `data` and advance the engine.

    Where the version keeps a case file, the task gets every answer completed so far in this
    workflow (any branch), then its own answers, then the engine facts (meldingen_gedaan,
    counting this task when it is melding_doen), so the gateways after it see the whole case.
    Raises Conflict when the task is not ready, EngineFailure when the diagram cannot advance.
    """
    with task_ids(ids):
        task = _task_or_none(workflow, task_id)
        if task is None or task.state != TaskState.READY:
            raise Conflict("Deze taak staat niet (meer) open.")
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
            raise EngineFailure(str(exc)) from exc
        return _run_engine(workflow)


MELDING_STEP = "melding_doen"
HULP_STEP = "hulp_organiseren"


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


# --- views ---------------------------------------------------------------------------------------


def task_view(row: TaskRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "case_id": row.case_id,
        "step": row.step,
        "name": row.name,
        "lane": row.lane,
        "state": row.state,
        "ready_at": audit.iso(row.ready_at),
    }


def _ready_rows(session: Session, case_id: int) -> list[TaskRecord]:
    return list(session.scalars(
        select(TaskRecord)
        .where(TaskRecord.case_id == case_id, TaskRecord.state == "ready")
        .order_by(TaskRecord.ready_at, TaskRecord.id)
    ))


def case_view(session: Session, case: Case) -> dict[str, Any]:
    return _case_dict(case, case.owner.name, [task_view(r) for r in _ready_rows(session, case.id)])


def _case_dict(case: Case, owner: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": case.id,
        "client_ref": case.client_ref,
        "reason": case.reason,
        "status": case.status,
        "uitkomst": case.uitkomst,
        "process_version": case.process_version,
        "owner": owner,
        "started_at": audit.iso(case.started_at),
        "closed_at": audit.iso(case.closed_at) if case.closed_at else None,
        "stalled_at": audit.iso(case.stalled_at) if case.stalled_at else None,
        "completed_steps": list(case.completed_steps),
        "data": dict(case.data),
        "tasks": tasks,
    }


# --- commands ------------------------------------------------------------------------------------


class Denied(Forbidden):
    """A refused attempt on a case: logged in its own transaction after the rollback."""

    def __init__(self, message: str, case_id: int | None, action: str):
        super().__init__(message)
        self.case_id = case_id
        self.action = action


def run_command(who: Principal, fn: Callable[[Session], Any], write: bool = True) -> Any:
    try:
        with unit_of_work(write=write) as session:
            return fn(session)
    except Denied as denied:
        log_denied(who, denied)
        raise
    except StaleDataError:
        raise Conflict("De casus is intussen door iemand anders gewijzigd; probeer opnieuw.") from None


def log_denied(who: Principal | str, denied: Denied, on_behalf_of: str | None = None) -> None:
    """The access-log line (outcome denied) of a refused attempt, in a transaction of its own.
    who: the Principal, or a plain name for someone who is no user of the product (the
    operator of the command line, on_behalf_of the name they gave)."""
    with unit_of_work(write=True) as session:
        case = session.get(Case, denied.case_id) if denied.case_id else None
        audit.log_access(session, who, denied.action, "denied", case=case,
                         case_id=denied.case_id, source=getattr(who, "source", None),
                         on_behalf_of=on_behalf_of)


# Why a change was refused, in the access log's action: CONTRACT section 4 keeps the outcome
# to "ok" | "denied" and the log has no detail column.
REFUSAL_REASONS = {409: "conflict", 422: "invalid"}


def refusal_action(action: str, error: DomainError) -> str:
    """The access-log action of a refused attempt at `action`: the action itself for a 403 (as
    Denied logs it), `action:invalid` for data refused (422), `action:conflict` when the case
    or task had moved on (409)."""
    reason = REFUSAL_REASONS.get(error.status)
    return f"{action}:{reason}" if reason else action


@contextlib.contextmanager
def refusals_logged(who: Principal, case_id: Any, action: str) -> Iterator[None]:
    """Around a command that changes case `case_id`: a 409 or 422 it raises is written to the
    access log with outcome "denied" (NEN 7513: every attempt to change a case, refused ones
    included) before it goes on up. 403s are logged by the command itself (Denied); nothing is
    logged for a case that does not exist."""
    try:
        yield
    except (Invalid, Conflict) as error:
        _log_refused(who, case_id, action, error)
        raise


def _log_refused(who: Principal, case_id: Any, action: str, error: DomainError) -> None:
    """One access-log line (outcome denied) for a refused change of an existing case, in a
    transaction of its own: the refused command's transaction was rolled back."""
    try:
        case_id = int(case_id)
    except (TypeError, ValueError):
        return
    if not 0 < case_id <= MAX_ID:
        return
    with unit_of_work(write=True) as session:
        case = session.get(Case, case_id)
        if case is not None:
            audit.log_access(session, who, refusal_action(action, error), "denied", case=case,
                             source=who.source)


# Case ids and version numbers are INTEGER columns: 32 bits on PostgreSQL, where a larger
# number in a query is an error rather than no row. Nothing above this can exist.
MAX_ID = 2**31 - 1


def load_case(session: Session, case_id: Any) -> Case:
    try:
        case_id = int(case_id)
    except (TypeError, ValueError):
        raise NotFound("Casus niet gevonden.") from None
    if not 0 < case_id <= MAX_ID:
        raise NotFound("Casus niet gevonden.")
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("Casus niet gevonden.")
    return case


@dataclass
class CaseChange:
    """What one command does to a case, computed before the write transaction opens.

    Planning (load the workflow, validate, run the engine, serialise, hash the events) is
    the expensive part; it runs without any lock. The write then only checks that the case
    is still at the version the plan was made from, and stores.
    """

    case: Case  # detached snapshot, updated in place with the new values
    version_id: int
    events: list[dict[str, Any]] = field(default_factory=list)
    new_tasks: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    completed_task: str | None = None
    still_ready: list[dict[str, Any]] = field(default_factory=list)

    def event(self, actor: str, action: str, now, step=None, task_id=None, data=None) -> None:
        case = self.case
        row = audit.new_event(case.id, case.event_count + 1, case.last_hash or audit.GENESIS,
                              actor, action, step, task_id, data, now)
        self.events.append(row)
        case.event_count = row["seq"]
        case.last_hash = row["hash"]

    def advanced(self, definition, advance: Advance, before: set[str], now) -> None:
        """Decisions, closing, and the task rows that follow from one engine advance."""
        case = self.case
        data = dict(case.data)
        for step, outputs in advance.decisions:
            data.update(outputs)
            self.event(SYSTEM, "decision_made", now, step=step, data=outputs)
        case.data = data
        if advance.completed:
            case.status = "closed"
            case.closed_at = now
            case.uitkomst = uitkomst_of(case.completed_steps, data)
            self.event(SYSTEM, "case_closed", now, data={"uitkomst": case.uitkomst})
        # A case that can no longer go on is never silent: the history says where it waits,
        # and the marker lets listings find it without loading any workflow.
        if advance.stall is not None:
            case.stalled_at = now
            self.event(SYSTEM, "case_stalled", now, data={"waiting_at": advance.stall})
        else:
            case.stalled_at = None
        after = {str(t.id) for t in advance.ready}
        self.cancelled = sorted(before - after - {self.completed_task})
        for task in advance.ready:
            if str(task.id) in before:
                continue
            step = definition.steps[task.task_spec.bpmn_id]
            self.new_tasks.append(dict(
                id=str(task.id), case_id=case.id, step=step.id, name=step.name, lane=step.lane,
                owner_id=case.owner_id, state="ready", ready_at=now,
            ))

    def tasks_view(self) -> list[dict[str, Any]]:
        gone = set(self.cancelled) | {self.completed_task}
        kept = [t for t in self.still_ready if t["id"] not in gone]
        return kept + [task_view(TaskRecord(**row)) for row in self.new_tasks]


class _Retry(Exception):
    """The case moved on between planning and writing: plan again."""


# The hot path runs prebuilt Core statements on the session's connection: building ORM
# statements per request cost more than the workflow engine itself.
_cases, _tasks, _users = Case.__table__, TaskRecord.__table__, User.__table__
_UPDATE_CASE = (
    _cases.update()
    .where(_cases.c.id == bindparam("b_id"), _cases.c.version_id == bindparam("b_version"))
    .values(
        status=bindparam("status"), uitkomst=bindparam("uitkomst"),
        closed_at=bindparam("closed_at"), stalled_at=bindparam("stalled_at"),
        workflow_state=bindparam("workflow_state"),
        data=bindparam("data"), completed_steps=bindparam("completed_steps"),
        id_counter=bindparam("id_counter"), last_hash=bindparam("last_hash"),
        event_count=bindparam("event_count"), version_id=bindparam("b_version") + 1,
    )
)
_COMPLETE_TASK = (
    _tasks.update()
    .where(_tasks.c.id == bindparam("b_id"), _tasks.c.state == "ready")
    .values(state="completed", completed_at=bindparam("at"), completed_by=bindparam("by"))
)
# A completed task needs no drafts any more, whoever kept them (engine/drafts.py): they go in
# the completion's own transaction, whichever door (API, web) completed it.
_DELETE_DRAFTS = Draft.__table__.delete().where(Draft.__table__.c.task_id == bindparam("b_id"))
_CANCEL_TASKS = (
    _tasks.update()
    .where(_tasks.c.id.in_(bindparam("ids", expanding=True)), _tasks.c.state == "ready")
    .values(state="cancelled", completed_at=bindparam("at"))
)
_PLAN_QUERY = (
    select(
        _tasks.c.id.label("task_id"), _tasks.c.step, _tasks.c.lane,
        _tasks.c.state.label("task_state"), _cases, _users.c.name.label("owner_name"),
        _users.c.manager_id.label("owner_manager_id"),
    )
    .select_from(_tasks.join(_cases, _tasks.c.case_id == _cases.c.id)
                 .join(_users, _cases.c.owner_id == _users.c.id))
    .where(_tasks.c.id == bindparam("task_id"))
)
_READY_QUERY = (
    select(_tasks)
    .where(_tasks.c.case_id == bindparam("case_id"), _tasks.c.state == "ready")
    .order_by(_tasks.c.ready_at, _tasks.c.id)
)
_CASE_COLUMNS = [c.name for c in _cases.columns]


def _write_change(conn: Connection, change: CaseChange, who: Principal, now) -> None:
    case = change.case
    intact = audit.header_intact(conn, case.id)  # sealed again below only if it was
    result = conn.execute(_UPDATE_CASE, {
        "b_id": case.id, "b_version": change.version_id, "status": case.status,
        "uitkomst": case.uitkomst, "closed_at": case.closed_at,
        "stalled_at": case.stalled_at, "workflow_state": case.workflow_state, "data": case.data,
        "completed_steps": case.completed_steps, "id_counter": case.id_counter,
        "last_hash": case.last_hash, "event_count": case.event_count,
    })
    if result.rowcount != 1:
        raise _Retry()
    audit.seal_case(conn, case.id, intact)
    if change.completed_task:
        done = conn.execute(_COMPLETE_TASK, {"b_id": change.completed_task, "at": now,
                                             "by": who.name})
        if done.rowcount != 1:
            raise Conflict("Deze taak is al afgerond of staat niet meer open.")
        conn.execute(_DELETE_DRAFTS, {"b_id": change.completed_task})
    if change.cancelled:
        conn.execute(_CANCEL_TASKS, {"ids": change.cancelled, "at": now})
    if change.new_tasks:
        conn.execute(_tasks.insert(), change.new_tasks)
    if change.events:
        conn.execute(HistoryEvent.__table__.insert(), change.events)


START_FIELDS = {"client_ref", "reason"}


def start_case(who: Principal, payload: Any) -> dict[str, Any]:
    """Start a case for `who` from {"client_ref": text, "reason": text (optional)}; the case.

    Raises BadRequest for a payload that is not an object, Forbidden for a user who may not
    start cases, Invalid (422) naming unknown keys and a missing, blank or too long text.
    """
    if not isinstance(payload, dict):
        raise BadRequest("Verwacht een JSON-object.")
    errors = {str(k)[:100]: "Onbekend veld." for k in payload if k not in START_FIELDS}
    # Texts as every form treats them (forms.clean_text): stored without the white space
    # around them, white space alone is no answer.
    texts: dict[str, str | None] = {}
    # The client reference is one line (it heads pages and the dossier); the reason may be several.
    for name, limit in (("client_ref", 200), ("reason", 2000)):
        value = payload.get(name)
        try:
            texts[name] = None if value is None else forms.clean_text(
                value, limit, multiline=name == "reason")
        except ValueError as exc:
            errors[name] = str(exc)
    client_ref, reason = texts.get("client_ref"), texts.get("reason") or ""
    if client_ref is None and "client_ref" not in errors:
        errors["client_ref"] = "Vul een cliëntreferentie in."
    if not who.has_role(*CASE_STARTERS):
        raise Forbidden(
            "Alleen een medewerker, leidinggevende of aandachtsfunctionaris kan een casus starten."
        )
    if errors:
        raise Invalid("Ongeldige gegevens.", errors)

    def run(session: Session):
        version = active_version(session)
        if version is None:
            raise Conflict("Er is geen actieve procesversie; voer 'meldcode init' uit.")
        definition = definition_for(session, version.version)
        now = utcnow()
        case = Case(client_ref=client_ref, reason=reason, owner_id=who.id,
                    process_version=version.version, status="open", workflow_state=b"",
                    data={}, completed_steps=[], started_at=now, last_hash="", event_count=0)
        session.add(case)
        session.flush()
        change = CaseChange(case=case, version_id=case.version_id)
        ids = IdSource(case.id)
        workflow, advance = start_workflow(definition, ids)
        change.event(who.name, "case_started", now,
                     data={"client_ref": case.client_ref, "reason": case.reason})
        change.advanced(definition, advance, set(), now)
        case.id_counter = ids.counter
        case.workflow_state = dump_state(workflow)
        session.flush()  # the ORM writes the case; the rows below go in as plain inserts
        if change.new_tasks:
            session.execute(insert(TaskRecord), change.new_tasks)
        session.execute(insert(HistoryEvent), change.events)
        audit.seal_case(session, case.id)  # a new case: its header hash starts here
        audit.log_access(session, who, "create", "ok", case=case, source=who.source)
        return _case_dict(case, who.name, change.tasks_view())

    return run_command(who, run)


def open_case(session: Session, who: Principal, case_id: Any, action: str,
              auditors_only: bool = False) -> Case:
    """The case `who` reads as `action`, the read logged (NEN 7513); a refusal raises Denied,
    which run_command logs in a transaction of its own."""
    case = load_case(session, case_id)
    if auditors_only:
        if not who.has_role(AUDITOR):
            raise Denied("Alleen een auditor mag dit inzien.", case.id, action)
    elif not may_read_case(session, who, case):
        raise Denied("U heeft geen toegang tot deze casus.", case.id, action)
    audit.log_access(session, who, action, "ok", case=case, source=who.source)
    return case


def get_case(who: Principal, case_id: Any, action: str = "read") -> dict[str, Any]:
    def run(session: Session):
        return case_view(session, open_case(session, who, case_id, action))

    return run_command(who, run)


def task_row(session: Session, task_id: Any) -> TaskRecord:
    """The task row of an id from outside (URL or JSON), or NotFound."""
    if not isinstance(task_id, str) or len(task_id) > 36:
        raise NotFound("Taak niet gevonden.")
    row = session.get(TaskRecord, task_id)
    if row is None:
        raise NotFound("Taak niet gevonden.")
    return row


def get_task(who: Principal, task_id: Any) -> dict[str, Any]:
    def run(session: Session):
        row = task_row(session, task_id)
        case = load_case(session, row.case_id)
        if not may_complete(who, case, row.lane):
            raise Denied("Deze taak is niet voor u.", case.id, "read_task")
        definition = definition_for(session, case.process_version)
        step = definition.steps[row.step]
        audit.log_access(session, who, "read_task", "ok", case=case, source=who.source)
        view = task_view(row)
        # Help texts may name the organisation's contacts as {placeholders}: filled in here, so
        # the web page and the API show the same text.
        values = organisation.placeholder_values(organisation.read(session))
        view["documentation"] = organisation.fill_in(step.documentation, values)
        view["form"] = {"fields": [
            {**f.as_dict(), "help": organisation.fill_in(f.help, values)} for f in step.fields
        ]}
        view["client_ref"] = case.client_ref
        return view

    return run_command(who, run)


def ready_tasks(who: Principal, limit: int = 500) -> list[dict[str, Any]]:
    """The ready tasks this user may complete: one indexed read, no workflow is loaded."""
    with unit_of_work() as session:
        return [task_view(r) for r in ready_task_rows(session, who, limit)]


def ready_task_rows(session: Session, who: Principal, limit: int = 500) -> list[TaskRecord]:
    conditions = [and_(TaskRecord.lane == MEDEWERKER, TaskRecord.owner_id == who.id)]
    if who.has_role(LEIDINGGEVENDE):
        team = select(User.id).where(User.manager_id == who.id)
        conditions.append(and_(TaskRecord.lane == LEIDINGGEVENDE, TaskRecord.owner_id.in_(team)))
    if who.has_role(AANDACHTSFUNCTIONARIS):
        conditions.append(TaskRecord.lane == AANDACHTSFUNCTIONARIS)
    return list(session.scalars(
        select(TaskRecord)
        .where(TaskRecord.state == "ready", or_(*conditions))
        .order_by(TaskRecord.ready_at, TaskRecord.id)
        .limit(limit)
    ))


def _plan_completion(who: Principal, task_id: Any, data: Any, from_web: bool) -> tuple:
    """Read-only: check, validate and run the engine on a copy; no lock is held."""
    if not isinstance(task_id, str) or len(task_id) > 36:
        raise NotFound("Taak niet gevonden.")
    # A plain connection, no ORM session: this read runs on every completion.
    with get_engine().connect() as conn:
        row = conn.execute(_PLAN_QUERY, {"task_id": task_id}).first()
        if row is None:
            raise NotFound("Taak niet gevonden.")
        # A detached case built from the row: planning never touches the session again.
        case = Case(**{name: getattr(row, name) for name in _CASE_COLUMNS})
        case.owner = User(id=row.owner_id, name=row.owner_name, manager_id=row.owner_manager_id)
        if not may_complete(who, case, row.lane):
            raise Denied("Deze taak is niet voor u.", case.id, "complete_task")
        if row.task_state != "ready":
            raise Conflict("Deze taak is al afgerond of staat niet meer open.")
        definition = definition_for(conn, case.process_version)
        owner = row.owner_name
        still_ready = [task_view(r) for r in conn.execute(_READY_QUERY, {"case_id": case.id})]
        cache_key = (str(conn.engine.url), case.id)
    step = definition.steps[row.step]
    try:
        clean = forms.validate(step.fields, data, context=case.data, from_web=from_web)
    except forms.FormInvalid as exc:
        raise Invalid("Het formulier is niet goed ingevuld.", exc.errors) from None
    now = utcnow()
    workflow = _workflows.take(cache_key, case.version_id) or load_state(
        definition, case.workflow_state
    )
    # The case's ready rows mirror the workflow's ready user tasks (one transaction writes
    # both), so they stand in for a walk of the task tree.
    before = {t["id"] for t in still_ready}
    ids = IdSource(case.id, case.id_counter)
    advance = complete_in_workflow(workflow, row.task_id, clean, ids)
    change = CaseChange(case=case, version_id=case.version_id, completed_task=row.task_id,
                        still_ready=still_ready)
    case.completed_steps = [*case.completed_steps, row.step]
    case.data = {**case.data, **clean}
    change.event(who.name, "task_completed", now, step=row.step, task_id=row.task_id, data=clean)
    change.advanced(definition, advance, before, now)
    case.id_counter = ids.counter
    case.workflow_state = dump_state(workflow)
    return change, owner, now, workflow, cache_key


def melding_branch(spec) -> frozenset[str]:
    """The user tasks of the melding branch up to and including melding_doen: those reachable
    from where a flow conditioned on besluit_melden leads, from which melding_doen can still
    be reached (help that may fail later is not part of it)."""
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


def next_task(workflow: BpmnWorkflow, who: Principal, case: Case, completed: str,
              ready: list[dict[str, Any]]) -> str | None:
    """Which of the `ready` tasks (views) `who` should open after completing `completed`:
    in a case with acute_onveiligheid recorded, a task of the melding branch first (the
    melding must not wait); then a task that follows from the completed one in the
    workflow's task tree (the same branch); then the first other one. None when `who` may
    complete none of them."""
    acute = case.data.get("acute_onveiligheid") is True
    branch = melding_branch(workflow.spec) if acute else frozenset()

    def follows(task_id: str) -> bool:
        task = _task_or_none(workflow, task_id)
        while task is not None:
            if str(task.id) == completed:
                return True
            task = task.parent
        return False

    ranked = [
        ((t["step"] not in branch), not follows(t["id"]), index, t["id"])
        for index, t in enumerate(ready) if may_complete(who, case, t["lane"])
    ]
    return min(ranked)[-1] if ranked else None


def complete_task(who: Principal, task_id: Any, data: Any, from_web: bool = False) -> dict[str, Any]:
    """Validate, apply, advance; from_web: values are an HTML form's strings ("ja", "12").
    The one completion command of every door: the task's drafts (anyone's) are deleted in the
    same transaction that completes it.

    Returns the case (as get_case) with `next_task`: the id of the ready task this person
    should open next (see next_task), or None. Raises Invalid (422) with field errors and
    nothing stored, Conflict when the task is no longer ready, Denied, NotFound. Each refusal
    but NotFound leaves an access-log line with outcome "denied" (NEN 7513): `complete_task`
    (403), `complete_task:invalid` (422), `complete_task:conflict` (409).
    """
    case_id = None
    try:
        for _attempt in range(5):
            try:
                change, owner, now, workflow, cache_key = _plan_completion(who, task_id, data,
                                                                           from_web)
            except Denied as denied:
                log_denied(who, denied)
                raise
            case_id = change.case.id
            try:
                with write_connection() as conn:
                    _write_change(conn, change, who, now)
                    audit.log_access(conn, who, "update", "ok", case=change.case,
                                     source=who.source)
            except _Retry:
                continue  # another step of this case was stored meanwhile: plan again
            tasks = change.tasks_view()
            # before the workflow goes back to the cache, where another request may take it
            following = next_task(workflow, who, change.case, change.completed_task, tasks)
            _workflows.put(cache_key, change.version_id + 1, workflow)
            return {**_case_dict(change.case, owner, tasks), "next_task": following}
        raise Conflict("De casus is intussen door iemand anders gewijzigd; probeer opnieuw.")
    except (Invalid, Conflict) as refused:
        # 422 (the form) and 409 (no longer ready) are refused changes: logged (NEN 7513)
        _log_refused(who, case_id or _case_of_task(task_id), "complete_task", refused)
        raise


def _case_of_task(task_id: Any) -> int | None:
    if not isinstance(task_id, str) or len(task_id) > 36:
        return None
    with unit_of_work() as session:
        return session.scalar(select(TaskRecord.case_id).where(TaskRecord.id == task_id))


def history(who: Principal, case_id: Any) -> list[dict[str, Any]]:
    def run(session: Session):
        case = open_case(session, who, case_id, "read_history")
        events = session.scalars(
            select(HistoryEvent).where(HistoryEvent.case_id == case.id).order_by(HistoryEvent.seq)
        )
        return [
            {"seq": e.seq, "at": audit.iso(e.at), "actor": e.actor, "action": e.action,
             "step": e.step, "task_id": e.task_id, "data": e.data, "hash": e.hash}
            for e in events
        ]

    return run_command(who, run)


def ping(session: Session) -> None:
    session.execute(text("SELECT 1"))
