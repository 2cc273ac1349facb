"""The SpiffWorkflow adapter: what the product adds to SpiffWorkflow to run a case's workflow.

Parsing and checking a version is engine/definitions.py; the safe evaluator every workflow runs
with is engine/expressions.py (SCRIPT_ENGINE). This module holds the rest, in one place:

- deterministic task ids (IdSource, task_ids): a replay arrives at the very same ids;
- the stored workflow state without the spec (dump_state, load_state; snapshot, restore for
  states kept in memory; state_dict for comparing), refusing any serialization this release did
  not write, that does not have a workflow's structure or unpacks beyond a bound
  (UntrustedState, 409); its JSON and zlib bytes are engine/state_bytes.py.

The cache of recently written workflows is engine/workflow_cache.py.

SpiffWorkflow's documented extension points are used where it has one: the serializer's
converter registry (a converter of our own for the workflow) and a serializer subclass that
replaces its `migrate` hook. Two settings have no such point in SpiffWorkflow 3.2 and are made
here, once, when this module is imported (see `_configure_spiffworkflow`): where a task's
random id comes from, and how deep a task iterator looks.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import inspect
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import SpiffWorkflow.task as spiff_task_module
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskIterator, TaskState

from .definitions import ProcessDefinition
from .errors import Conflict
from .expressions import SCRIPT_ENGINE
from .messages import N_, Message
from .state_bytes import dump_json, loads, unpack
from .task_walk import MAX_TASK_DEPTH, MeldcodeWorkflow
from .timers import TIMER_CLASSES

# --- deterministic task ids ------------------------------------------------------------------
# SpiffWorkflow gives every task a uuid4. A replay must arrive at the very same ids, so while
# we drive a case's workflow, ids come from (case id, running counter) instead.

_NAMESPACE = uuid.UUID("6f1c3e0a-5b7d-4c2e-9a51-6d0f8e7b1c42")


@dataclass
class IdSource:
    """The task ids of one case: uuid5 of (case id, counter), the counter stored with the case
    (cases.id_counter) so the next command goes on where the last one stopped."""

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


@contextlib.contextmanager
def task_ids(source: IdSource) -> Iterator[IdSource]:
    """Within the block, every task SpiffWorkflow creates (in this thread or task context)
    takes its id from `source`; outside any such block ids are random (uuid4), as
    SpiffWorkflow makes them."""
    token = _id_source.set(source)
    try:
        yield source
    finally:
        _id_source.reset(token)


def _configure_spiffworkflow() -> None:
    """The two settings SpiffWorkflow 3.2 offers no subclass or hook for, made once at import.

    - Task ids: `Task.__init__` takes `id or uuid4()` and the places that create tasks
      (`Task._add_child`, `Workflow.__init__`) name the `Task` class itself, so neither a Task
      subclass nor a workflow subclass reaches them. The name `uuid4` in SpiffWorkflow.task, its
      only call site, becomes `_task_uuid`: the case's IdSource inside `task_ids`, uuid4 outside.
    - Depth: `TaskIterator` and `BpmnTaskIterator` stop at `max_depth` (1000 by default), and
      SpiffWorkflow builds them with that default in `Workflow.is_completed`, `cancel`,
      `update_waiting_tasks`, the end join of every process and `get_tasks`. Every completed step
      adds depth, so a case that loops long enough (help evaluated again and again) would
      silently look finished. The default becomes MAX_TASK_DEPTH.

    Raises RuntimeError when SpiffWorkflow no longer looks as described (an upgrade moved
    these), so the server does not start with random task ids or a depth limit.
    """
    if spiff_task_module.uuid4 not in (uuid.uuid4, _task_uuid):
        raise RuntimeError("SpiffWorkflow.task maakt taak-id's niet meer met uuid4")
    spiff_task_module.uuid4 = _task_uuid
    for iterator in (TaskIterator, BpmnTaskIterator):
        init = iterator.__init__
        names = [p.name for p in inspect.signature(init).parameters.values()
                 if p.default is not inspect.Parameter.empty
                 and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        if "max_depth" not in names or len(names) != len(init.__defaults__ or ()):
            raise RuntimeError(f"{iterator.__name__} heeft geen max_depth-standaard meer")
        defaults = list(init.__defaults__)
        defaults[names.index("max_depth")] = MAX_TASK_DEPTH
        init.__defaults__ = tuple(defaults)


_configure_spiffworkflow()


# --- workflow state without the spec ----------------------------------------------------------

_restoring: contextvars.ContextVar[ProcessDefinition] = contextvars.ContextVar(
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
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(uuid.UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class UntrustedState(Conflict):
    """A stored workflow state this release did not write: refused, never migrated (409)."""

    def __init__(self, detail: str):
        super().__init__(Message(
            N_("De opgeslagen toestand van deze casus wordt niet vertrouwd en is niet geladen: "
               "{detail}. Laat de beheerder de casus controleren met 'meldcode verify'."),
            detail=detail))
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
            raise UntrustedState(N_("de toestand is geen object"))
        version = dct.get(self.VERSION_KEY)
        if version != self.VERSION:
            if isinstance(version, str) and len(version) <= 20:
                raise UntrustedState(Message(N_("serialisatieversie {found} in plaats van "
                                                "{wanted}"), found=repr(version),
                                             wanted=repr(self.VERSION)))
            raise UntrustedState(Message(N_("serialisatieversie 'onbekend' in plaats van "
                                            "{wanted}"), wanted=repr(self.VERSION)))

    def migrate(self, dct):
        # Replaces SpiffWorkflow's migrate (its hook inside deserialize_json): check, never migrate.
        self.check_version(dct)
        del dct[self.VERSION_KEY]

    def __init__(self, registry):
        super().__init__(registry)
        self._default = self._encoder_cls().default

    def serialize_json(self, workflow, use_gzip=False) -> str:
        return self.serialize_bytes(workflow).decode()

    def serialize_bytes(self, workflow: BpmnWorkflow) -> bytes:
        """The workflow as JSON (UTF-8), equal after parsing to SpiffWorkflow's serialize_json
        and ~10 times faster (state_bytes.dump_json)."""
        self.registry._encoder_mode = True  # noqa: SLF001 - as serialize_json sets it
        try:
            dct = self.to_dict(workflow)
            dct[self.VERSION_KEY] = self.VERSION
            return dump_json(dct, self._default, self._encoder_cls)
        finally:
            self.registry._encoder_mode = False  # noqa: SLF001

    def deserialize_json(self, serialization, use_gzip=False):
        if use_gzip:
            raise ValueError("use_gzip wordt niet gebruikt")
        try:
            dct = loads(serialization)
        except (ValueError, RecursionError):
            raise UntrustedState(N_("de toestand is geen geldige JSON")) from None
        self.migrate(dct)
        try:
            workflow = self.from_dict(dct)
        except UntrustedState:
            raise
        except Exception:  # noqa: BLE001 - the right version mark on the wrong structure
            workflow = None
        if not isinstance(workflow, BpmnWorkflow):  # from_dict returns what it cannot convert
            raise UntrustedState(N_("de toestand heeft niet de vorm van een workflow"))
        return workflow


class _TaskConverter(TaskConverter):
    """SpiffWorkflow 3.2's TaskConverter.to_dict with the very same output, written out for
    speed (every completion stores the whole state): the parent is looked up once, the delta
    goes over items(), and no deleted keys are looked for when the parent's keys are all kept
    (a set comparison of the key views)."""

    def to_dict(self, task):
        parent = task.parent
        if parent is None:
            data, delta = task.data, {}
        else:
            before, after = parent.data, task.data
            data = {}
            delta = {
                "updates": {k: v for k, v in after.items() if k not in before or v != before[k]},
                "deletions": [] if before.keys() <= after.keys()
                else [k for k in before if k not in after],
            }
        return {
            "id": _uuid_text(task.id),
            "parent": _uuid_text(parent.id) if parent is not None else None,
            "children": [_uuid_text(child) for child in task._children],  # noqa: SLF001 - as spiff's
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data),
            "data": data,
            "delta": delta,
        }


    def from_dict(self, dct, workflow):
        """SpiffWorkflow 3.2's TaskConverter.from_dict with the very same result, written out
        for speed (a worker that did not store a case's last step reads its whole state back):
        task ids parsed once per text (_uuid), and the parent's data copied as DeepMerge.merge
        copies it into an empty dict (a shallow copy of each dict, list and set value)."""
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=_uuid(dct["id"]))
        task._parent = _uuid(dct["parent"]) if dct["parent"] is not None else None  # noqa: SLF001
        task._children = [_uuid(child) for child in dct["children"]]  # noqa: SLF001
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = self.registry.restore(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = task.parent
        if delta and parent is not None:
            data = {key: copy.copy(value) if isinstance(value, (dict, list, set)) else value
                    for key, value in parent.data.items()}
            data.update(self.registry.restore(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                if key in data:
                    del data[key]
        else:
            data = self.registry.restore(dct["data"])
        task.data = data
        return task


@functools.lru_cache(maxsize=65536)
def _cached_uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


# str(UUID) formats in Python; a case's ids are written again with every step
_uuid_text = functools.lru_cache(maxsize=65536)(str)


def _uuid(text: Any) -> uuid.UUID:
    """uuid.UUID(text), remembered for a text (a load parses each task id three times, and a
    case's ids come back with every load); anything but a str goes to uuid.UUID as it is, so
    a malformed state fails as it did."""
    return _cached_uuid(text) if type(text) is str else uuid.UUID(text)


# Our timer event definitions (engine/timers.py) serialise as SpiffWorkflow's own do.
_CONFIG = {**CAMUNDA_CONFIG, **{ours: CAMUNDA_CONFIG[ours.__mro__[2]] for ours in TIMER_CLASSES}}
_CONFIG[spiff_task_module.Task] = _TaskConverter
_registry = BpmnWorkflowSerializer.configure(_CONFIG)
_SpeclessWorkflowConverter(BpmnWorkflow, _registry)
# Loaded states become MeldcodeWorkflow (engine/task_walk.py), stored under BpmnWorkflow's name:
# the bytes stay the same both ways.
_SpeclessWorkflowConverter(MeldcodeWorkflow, _registry, "BpmnWorkflow")
_serializer = _StoredStateSerializer(_registry)


def dump_state(workflow: BpmnWorkflow) -> bytes:
    """The workflow's state as stored in cases.workflow_state: zlib-compressed JSON without
    the spec, marked with the current serializer version."""
    return zlib.compress(_serializer.serialize_bytes(workflow), 1)


def snapshot(workflow: BpmnWorkflow) -> str:
    """The workflow's state as JSON text (no spec), for exploring routes in memory."""
    return _serializer.serialize_json(workflow)


def restore(definition: ProcessDefinition, text: str | bytes) -> BpmnWorkflow:
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
    try:
        dct = loads(_unpacked(state))
    except (ValueError, RecursionError):
        raise UntrustedState(N_("de toestand is geen geldige JSON")) from None
    _serializer.check_version(dct)
    return dct


def _unpacked(state: bytes) -> bytes:
    try:
        return unpack(state)
    except ValueError as exc:  # the reason is a Dutch text (N_)
        raise UntrustedState(exc.args[0]) from None


def load_state(definition: ProcessDefinition, state: bytes) -> BpmnWorkflow:
    """The workflow of a case from its stored state (`dump_state`). Raises UntrustedState
    (409) for a state of another serializer version, one that does not unpack or unpacks
    beyond state_bytes.MAX_STATE_BYTES."""
    return restore(definition, _unpacked(state))
