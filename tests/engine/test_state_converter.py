"""The stored workflow state is written by engine/adapter.py's own task converter and with
orjson (engine/state_bytes.py), both for speed: parsed, it must be exactly what SpiffWorkflow's
own TaskConverter and serialize_json (json.dumps) give, so states stored before and after, and
verify's comparison of a replayed state, stay the same."""

import contextlib
import functools
import json

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.task import Task

from engine import adapter, definitions, driving
from tests.scenarios.paths import LONGEST, SCENARIOS, TEAM_STEPS, fill


@contextlib.contextmanager
def spiffs_own_task_converter(direction: str):
    """Within the block, tasks are converted `direction` ("to" or "from" a dict) by
    SpiffWorkflow's own TaskConverter instead of ours."""
    registry = adapter._registry
    typename = registry.typenames[Task]
    table = registry.convert_to_dict if direction == "to" else registry.convert_from_dict
    ours = table[typename]
    own = TaskConverter.__new__(TaskConverter)
    own.registry, own.target_class = registry, Task
    table[typename] = (functools.partial(registry._obj_to_dict, typename, own.to_dict)
                       if direction == "to" else
                       functools.partial(registry._obj_from_dict, own.from_dict))
    try:
        yield
    finally:
        table[typename] = ours


def spiff_serialization(workflow) -> str:
    """The state as SpiffWorkflow's own TaskConverter and serialize_json would write it."""
    with spiffs_own_task_converter("to"):
        return BpmnWorkflowSerializer.serialize_json(adapter._serializer, workflow)


def states_along_each_route():
    """(scenario name, workflow) at every state of every scenario's route: before each
    completion and once closed."""
    definition = definitions.load(definitions.shipped_files())
    for scenario in {s.name: s for s in [LONGEST, *SCENARIOS]}.values():
        ids = adapter.IdSource(1)
        workflow, advance = driving.start_workflow(definition, ids)
        while advance.ready:
            yield scenario.name, workflow
            task = next((t for t in advance.ready if t.task_spec.bpmn_id in TEAM_STEPS),
                        advance.ready[0])
            fields = [f.as_dict() for f in definition.steps[task.task_spec.bpmn_id].fields]
            advance = driving.complete_in_workflow(workflow, str(task.id),
                                                   fill(fields, scenario.decisions), ids)
        yield scenario.name, workflow


def test_every_state_along_each_route_is_written_as_spiffworkflow_writes_it():
    compared = 0
    for name, workflow in states_along_each_route():
        assert json.loads(adapter.snapshot(workflow)) == json.loads(spiff_serialization(workflow)), name
        compared += 1
    assert compared > 20


def test_a_task_that_drops_a_key_of_its_parent_records_the_deletion():
    definition = definitions.load(definitions.shipped_files())
    workflow, advance = driving.start_workflow(definition, adapter.IdSource(1))
    task = advance.ready[0]
    task.parent.data["weg"] = 1  # the parent holds a key the task does not
    task.data.pop("weg", None)
    assert '"deletions":["weg"]' in adapter.snapshot(workflow)
    assert json.loads(adapter.snapshot(workflow)) == json.loads(spiff_serialization(workflow))


def spiff_restored(definition, text: str):
    """The workflow of `text` as SpiffWorkflow's own TaskConverter.from_dict restores it."""
    with spiffs_own_task_converter("from"):
        return adapter.restore(definition, text)


def restored_facts(workflow) -> list:
    """Everything a restored task holds, task by task in the workflow's order."""
    return [(task_id, task.id, task._parent, task._children, task.state, task.task_spec.name,
             task.last_state_change, task.triggered, task.internal_data, task.data)
            for task_id, task in workflow.tasks.items()]


def test_every_state_along_each_route_is_read_back_as_spiffworkflow_reads_it():
    definition = definitions.load(definitions.shipped_files())
    compared = 0
    for name, workflow in states_along_each_route():
        text = adapter.snapshot(workflow)
        ours, theirs = adapter.restore(definition, text), spiff_restored(definition, text)
        assert restored_facts(ours) == restored_facts(theirs), name
        assert sorted(map(str, ours.event_manager.tasks)) == \
            sorted(map(str, theirs.event_manager.tasks)), name
        assert adapter.snapshot(ours) == adapter.snapshot(theirs) == text, name
        compared += 1
    assert compared > 20


def test_a_read_back_task_holds_copies_of_its_parents_lists_and_dicts():
    """A task's data is a copy of its parent's (as DeepMerge.merge makes it): changing a list
    in one task's data leaves the parent's as it was."""
    definition = definitions.load(definitions.shipped_files())
    workflow, advance = driving.start_workflow(definition, adapter.IdSource(1))
    advance.ready[0].parent.data["lijst"] = [1]
    advance.ready[0].data["lijst"] = [1]  # the same value: no delta, the parent's is copied
    restored = adapter.restore(definition, adapter.snapshot(workflow))
    task = restored.get_task_from_id(advance.ready[0].id)
    task.data["lijst"].append(2)
    assert task.parent.data["lijst"] == [1]


def test_values_orjson_refuses_are_written_and_read_as_json_does():
    """An integer beyond 64 bits and a key that is no text are no form answers, but a state
    holding them is still written as SpiffWorkflow's json writes it (engine/state_bytes.py
    falls back to json); a NaN that json wrote is read back as json reads it."""
    definition = definitions.load(definitions.shipped_files())
    workflow, advance = driving.start_workflow(definition, adapter.IdSource(1))
    advance.ready[0].data.update({"groot": 2**70 + 1, "sleutels": {1: "een"}})
    text = adapter.snapshot(workflow)
    assert json.loads(text) == json.loads(spiff_serialization(workflow))
    assert str(2**70 + 1) in text
    restored = adapter.restore(definition, text).get_task_from_id(advance.ready[0].id)
    assert restored.data["sleutels"] == {"1": "een"}
    nan_text = text.replace(str(2**70 + 1), "NaN")
    value = adapter.restore(definition, nan_text).get_task_from_id(advance.ready[0].id).data["groot"]
    assert value != value  # NaN, as json.loads reads it
