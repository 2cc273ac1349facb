"""Cases and tasks: start a case, list ready tasks, complete a task, advance the engine.

Every command is one transaction: the workflow state, the task rows, the history events and
the access-log entry commit together or not at all.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import uuid
import zlib
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
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import audit, definitions, forms
from .errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from .expressions import SCRIPT_ENGINE, ExpressionError
from .roles import AANDACHTSFUNCTIONARIS, CASE_STARTERS, LEIDINGGEVENDE, MEDEWERKER
from .store import Case, ProcessVersion, TaskRecord, User, unit_of_work, utcnow
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


_registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
_SpeclessWorkflowConverter(BpmnWorkflow, _registry)
_serializer = BpmnWorkflowSerializer(_registry)


def dump_state(workflow: BpmnWorkflow) -> bytes:
    return zlib.compress(_serializer.serialize_json(workflow).encode(), 6)


def state_dict(state: bytes) -> dict:
    return json.loads(zlib.decompress(state))


def load_state(definition: definitions.ProcessDefinition, state: bytes) -> BpmnWorkflow:
    token = _restoring.set(definition)
    try:
        workflow = _serializer.deserialize_json(zlib.decompress(state).decode())
    finally:
        _restoring.reset(token)
    workflow.script_engine = SCRIPT_ENGINE
    return workflow


# --- process versions ---------------------------------------------------------------------------


def definition_for(session: Session, version: int) -> definitions.ProcessDefinition:
    row = session.get(ProcessVersion, version)
    if row is None:
        raise NotFound(f"Procesversie {version} bestaat niet.")

    def loader():
        return [definitions.SourceFile(f.name, f.content) for f in row.files]

    return definitions.cached(row.sha256, loader)


def active_version(session: Session) -> ProcessVersion | None:
    return session.scalar(select(ProcessVersion).where(ProcessVersion.active.is_(True)))


# --- engine driving (pure: no database, shared by commands and replay) ---------------------------


@dataclass
class Advance:
    """What one start or completion did, for the history and the indexed rows."""

    decisions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ready: list[Any] = field(default_factory=list)  # spiff tasks
    completed: bool = False


def _decision_outputs(task) -> dict[str, Any]:
    table = task.task_spec.dmnEngine.decision_table
    return {o.name: task.data.get(o.name) for o in table.outputs if o.name}


def _run_engine(workflow: BpmnWorkflow) -> Advance:
    result = Advance()

    def did_complete(task):
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
    return result


class EngineFailure(Conflict):
    """The diagram could not advance (e.g. no gateway condition held): nothing is stored."""

    def __init__(self, detail: str):
        super().__init__(f"Het proces kan niet verder: {detail.splitlines()[0] if detail else ''}")


def start_workflow(definition: definitions.ProcessDefinition, ids: IdSource) -> tuple[BpmnWorkflow, Advance]:
    with task_ids(ids):
        workflow = BpmnWorkflow(
            definition.spec, definition.subprocess_specs, script_engine=SCRIPT_ENGINE
        )
        return workflow, _run_engine(workflow)


def complete_in_workflow(workflow: BpmnWorkflow, task_id: str, data: dict, ids: IdSource) -> Advance:
    with task_ids(ids):
        task = workflow.get_task_from_id(uuid.UUID(task_id))
        if task is None or task.state != TaskState.READY:
            raise Conflict("Deze taak staat niet (meer) open.")
        task.set_data(**data)
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


def case_view(session: Session, case: Case) -> dict[str, Any]:
    ready = session.scalars(
        select(TaskRecord)
        .where(TaskRecord.case_id == case.id, TaskRecord.state == "ready")
        .order_by(TaskRecord.ready_at, TaskRecord.id)
    ).all()
    return {
        "id": case.id,
        "client_ref": case.client_ref,
        "reason": case.reason,
        "status": case.status,
        "uitkomst": case.uitkomst,
        "process_version": case.process_version,
        "owner": case.owner.name,
        "started_at": audit.iso(case.started_at),
        "closed_at": audit.iso(case.closed_at) if case.closed_at else None,
        "completed_steps": list(case.completed_steps),
        "data": dict(case.data),
        "tasks": [task_view(r) for r in ready],
    }


# --- commands ------------------------------------------------------------------------------------


class Denied(Forbidden):
    """A refused attempt on a case: logged in its own transaction after the rollback."""

    def __init__(self, message: str, case_id: int | None, action: str):
        super().__init__(message)
        self.case_id = case_id
        self.action = action


def _command(who: Principal, fn: Callable[[Session], Any]) -> Any:
    try:
        with unit_of_work(write=True) as session:
            return fn(session)
    except Denied as denied:
        with unit_of_work(write=True) as session:
            case = session.get(Case, denied.case_id) if denied.case_id else None
            audit.log_access(session, _actor(session, who), denied.action, "denied",
                             case=case, case_id=denied.case_id, source=who.source)
        raise
    except StaleDataError:
        raise Conflict("De casus is intussen door iemand anders gewijzigd; probeer opnieuw.") from None


def _actor(session: Session, who: Principal) -> User:
    user = session.get(User, who.id)
    if user is None:
        raise Forbidden("Onbekende gebruiker.")
    return user


def _lock_case(session: Session, case_id: Any) -> Case:
    try:
        case_id = int(case_id)
    except (TypeError, ValueError):
        raise NotFound("Casus niet gevonden.") from None
    if not 0 < case_id < 2**62:
        raise NotFound("Casus niet gevonden.")
    query = select(Case).where(Case.id == case_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    case = session.scalars(query.execution_options(populate_existing=True)).first()
    if case is None:
        raise NotFound("Casus niet gevonden.")
    return case


def _sync_tasks(session: Session, case: Case, definition, advance: Advance, now) -> None:
    ready_ids = {str(t.id) for t in advance.ready}
    for row in session.scalars(
        select(TaskRecord).where(TaskRecord.case_id == case.id, TaskRecord.state == "ready")
    ):
        if row.id not in ready_ids:
            row.state = "cancelled"
            row.completed_at = now
    known = set(
        session.scalars(select(TaskRecord.id).where(TaskRecord.id.in_(ready_ids))).all()
    ) if ready_ids else set()
    for task in advance.ready:
        if str(task.id) in known:
            continue
        step = definition.steps[task.task_spec.bpmn_id]
        session.add(TaskRecord(
            id=str(task.id), case_id=case.id, step=step.id, name=step.name, lane=step.lane,
            owner_id=case.owner_id, state="ready", ready_at=now,
        ))


def _record_advance(session: Session, case: Case, advance: Advance, now) -> None:
    data = dict(case.data)
    for step, outputs in advance.decisions:
        data.update(outputs)
        audit.append_event(session, case, SYSTEM, "decision_made", step=step, data=outputs, at=now)
    case.data = data
    if advance.completed:
        case.status = "closed"
        case.closed_at = now
        case.uitkomst = uitkomst_of(case.completed_steps, data)
        audit.append_event(session, case, SYSTEM, "case_closed", data={"uitkomst": case.uitkomst},
                           at=now)


START_FIELDS = {"client_ref", "reason"}


def start_case(who: Principal, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise BadRequest("Verwacht een JSON-object.")
    errors = {str(k)[:100]: "Onbekend veld." for k in payload if k not in START_FIELDS}
    client_ref = payload.get("client_ref")
    reason = payload.get("reason", "")
    if not isinstance(client_ref, str) or not client_ref.strip():
        errors["client_ref"] = "Vul een cliëntreferentie in."
    elif len(client_ref.strip()) > 200:
        errors["client_ref"] = "Maximaal 200 tekens."
    if not isinstance(reason, str):
        errors["reason"] = "Vul tekst in."
    elif len(reason) > 2000:
        errors["reason"] = "Maximaal 2000 tekens."
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
        case = Case(client_ref=client_ref.strip(), reason=reason.strip(), owner_id=who.id,
                    process_version=version.version, status="open", workflow_state=b"",
                    data={}, completed_steps=[], started_at=now)
        session.add(case)
        session.flush()
        ids = IdSource(case.id)
        workflow, advance = start_workflow(definition, ids)
        audit.append_event(session, case, who.name, "case_started",
                           data={"client_ref": case.client_ref, "reason": case.reason}, at=now)
        _record_advance(session, case, advance, now)
        case.id_counter = ids.counter
        case.workflow_state = dump_state(workflow)
        _sync_tasks(session, case, definition, advance, now)
        audit.log_access(session, _actor(session, who), "create", "ok", case=case,
                         source=who.source)
        session.flush()
        return case_view(session, case)

    return _command(who, run)


def get_case(who: Principal, case_id: Any, action: str = "read") -> dict[str, Any]:
    def run(session: Session):
        case = _lock_case(session, case_id)
        if not may_read_case(session, who, case):
            raise Denied("U heeft geen toegang tot deze casus.", case.id, action)
        audit.log_access(session, _actor(session, who), action, "ok", case=case, source=who.source)
        return case_view(session, case)

    return _command(who, run)


def _task_row(session: Session, task_id: Any) -> TaskRecord:
    if not isinstance(task_id, str) or len(task_id) > 36:
        raise NotFound("Taak niet gevonden.")
    row = session.get(TaskRecord, task_id)
    if row is None:
        raise NotFound("Taak niet gevonden.")
    return row


def get_task(who: Principal, task_id: Any) -> dict[str, Any]:
    def run(session: Session):
        row = _task_row(session, task_id)
        case = _lock_case(session, row.case_id)
        if not may_complete(who, case, row.lane):
            raise Denied("Deze taak is niet voor u.", case.id, "read_task")
        definition = definition_for(session, case.process_version)
        step = definition.steps[row.step]
        audit.log_access(session, _actor(session, who), "read_task", "ok", case=case,
                         source=who.source)
        view = task_view(row)
        view["documentation"] = step.documentation
        view["form"] = {"fields": [f.as_dict() for f in step.fields]}
        view["client_ref"] = case.client_ref
        return view

    return _command(who, run)


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


def complete_task(who: Principal, task_id: Any, data: Any, from_web: bool = False) -> dict[str, Any]:
    """Validate, apply, advance; from_web: values are an HTML form's strings ("ja", "12")."""

    def run(session: Session):
        row = _task_row(session, task_id)
        case = _lock_case(session, row.case_id)
        # Re-read the row after the case lock: a concurrent completion may have just won.
        session.refresh(row)
        if not may_complete(who, case, row.lane):
            raise Denied("Deze taak is niet voor u.", case.id, "complete_task")
        if row.state != "ready":
            raise Conflict("Deze taak is al afgerond of staat niet meer open.", case_id=case.id)
        definition = definition_for(session, case.process_version)
        step = definition.steps[row.step]
        try:
            clean = forms.validate(step.fields, data, context=case.data, from_web=from_web)
        except forms.FormInvalid as exc:
            raise Invalid("Het formulier is niet goed ingevuld.", exc.errors) from None
        now = utcnow()
        workflow = load_state(definition, case.workflow_state)
        ids = IdSource(case.id, case.id_counter)
        advance = complete_in_workflow(workflow, row.id, clean, ids)
        row.state = "completed"
        row.completed_at = now
        row.completed_by = who.name
        case.completed_steps = [*case.completed_steps, row.step]
        case.data = {**case.data, **clean}
        audit.append_event(session, case, who.name, "task_completed", step=row.step,
                           task_id=row.id, data=clean, at=now)
        _record_advance(session, case, advance, now)
        case.id_counter = ids.counter
        case.workflow_state = dump_state(workflow)
        _sync_tasks(session, case, definition, advance, now)
        audit.log_access(session, _actor(session, who), "update", "ok", case=case,
                         source=who.source)
        session.flush()
        return case_view(session, case)

    return _command(who, run)


def history(who: Principal, case_id: Any) -> list[dict[str, Any]]:
    from .store import HistoryEvent

    def run(session: Session):
        case = _lock_case(session, case_id)
        if not may_read_case(session, who, case):
            raise Denied("U heeft geen toegang tot deze casus.", case.id, "read_history")
        audit.log_access(session, _actor(session, who), "read_history", "ok", case=case,
                         source=who.source)
        events = session.scalars(
            select(HistoryEvent).where(HistoryEvent.case_id == case.id).order_by(HistoryEvent.seq)
        )
        return [
            {"seq": e.seq, "at": audit.iso(e.at), "actor": e.actor, "action": e.action,
             "step": e.step, "task_id": e.task_id, "data": e.data, "hash": e.hash}
            for e in events
        ]

    return _command(who, run)


def ping(session: Session) -> None:
    session.execute(text("SELECT 1"))
