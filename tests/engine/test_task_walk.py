"""engine/task_walk.py walks the task tree faster than SpiffWorkflow's iterators: it must give
the same tasks in the same order for every query, and a case run on MeldcodeWorkflow must end
in exactly the state (ids included) that SpiffWorkflow's own BpmnWorkflow reaches, so stored
states, replay and verify do not change."""

from __future__ import annotations

import itertools
import json

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskFilter, TaskIterator, TaskState

from engine import adapter, definitions, driving
from engine.task_walk import MeldcodeWorkflow, walk
from tests.scenarios.paths import LONGEST, SCENARIOS, TEAM_STEPS, fill

STATES = [TaskState.MAYBE, TaskState.LIKELY, TaskState.FUTURE, TaskState.WAITING, TaskState.READY,
          TaskState.STARTED, TaskState.COMPLETED, TaskState.ERROR, TaskState.CANCELLED,
          TaskState.FINISHED_MASK, TaskState.DEFINITE_MASK, TaskState.PREDICTED_MASK,
          TaskState.NOT_FINISHED_MASK, TaskState.ANY_MASK]


def _without_times(snapshot: str) -> dict:
    """The state with each task's last_state_change (the wall clock's time.time()) left out."""
    state = json.loads(snapshot)
    for task in state["tasks"].values():
        del task["last_state_change"]
    return state


def _route(definition, scenario, workflow_class, monkeypatch):
    """The snapshots of a case of `scenario` run on `workflow_class`, with the workflow after
    each completion (yielded as (snapshot, workflow))."""
    monkeypatch.setattr(driving, "MeldcodeWorkflow", workflow_class)
    ids = adapter.IdSource(7)
    workflow, advance = driving.start_workflow(definition, ids)
    assert type(workflow) is workflow_class
    while True:
        yield adapter.snapshot(workflow), workflow
        if not advance.ready:
            return
        task = next((t for t in advance.ready if t.task_spec.bpmn_id in TEAM_STEPS), advance.ready[0])
        fields = [f.as_dict() for f in definition.steps[task.task_spec.bpmn_id].fields]
        advance = driving.complete_in_workflow(workflow, str(task.id), fill(fields, scenario.decisions), ids)


@pytest.mark.parametrize("scenario", [LONGEST, *SCENARIOS], ids=lambda s: s.name)
def test_a_case_reaches_the_very_state_spiffworkflows_own_workflow_reaches(scenario, monkeypatch):
    definition = definitions.load(definitions.shipped_files())
    theirs = list(_route(definition, scenario, BpmnWorkflow, monkeypatch))
    ours = list(_route(definition, scenario, MeldcodeWorkflow, monkeypatch))
    assert len(ours) == len(theirs) > 2
    for (mine, _), (spiffs, _) in zip(ours, theirs, strict=True):
        assert _without_times(mine) == _without_times(spiffs)


def _ids(tasks) -> list[str]:
    return [str(t.id) for t in tasks]


@pytest.mark.parametrize("scenario", [LONGEST, *SCENARIOS], ids=lambda s: s.name)
def test_every_walk_gives_spiffworkflows_tasks_in_its_order(scenario, monkeypatch):
    definition = definitions.load(definitions.shipped_files())
    spec_names = sorted(definition.spec.task_specs)
    asked = 0
    for _, workflow in _route(definition, scenario, MeldcodeWorkflow, monkeypatch):
        root = workflow.task_tree
        starts = [None, *list(root.children), *workflow.get_tasks(state=TaskState.READY)]
        for state, first in itertools.product(STATES, starts):
            got = workflow.get_tasks(first_task=first, state=state)
            assert _ids(got) == _ids(BpmnTaskIterator(first or root, state=state))
            asked += 1
        for name in spec_names:
            assert _ids(workflow.get_tasks(spec_name=name)) == _ids(BpmnTaskIterator(root, spec_name=name))
            assert _ids(workflow.get_tasks(end_at_spec=name, state=TaskState.NOT_FINISHED_MASK)) == _ids(
                BpmnTaskIterator(root, end_at_spec=name, state=TaskState.NOT_FINISHED_MASK))
            asked += 2
        for manual in (True, False):
            assert _ids(workflow.get_tasks(state=TaskState.READY, manual=manual)) == _ids(
                BpmnTaskIterator(root, state=TaskState.READY, manual=manual))
        assert workflow.get_next_task(state=TaskState.READY) is next(
            iter(BpmnTaskIterator(root, state=TaskState.READY)), None)
        # breadth first and a depth limit go to SpiffWorkflow's own iterator
        assert _ids(workflow.get_tasks(depth_first=False)) == _ids(BpmnTaskIterator(root, depth_first=False))
        assert _ids(workflow.get_tasks(max_depth=3)) == _ids(BpmnTaskIterator(root, max_depth=3))
        # update_waiting_tasks's walk is TaskIterator's (it does not enter subprocesses)
        for state in STATES:
            assert _ids(walk(root, TaskFilter(state=state))) == _ids(TaskIterator(root, state=state))
    assert asked > 200


def test_a_loaded_state_is_a_meldcode_workflow_stored_under_spiffworkflows_name():
    definition = definitions.load(definitions.shipped_files())
    workflow, _ = driving.start_workflow(definition, adapter.IdSource(3))
    text = adapter.snapshot(workflow)
    assert '"typename":"BpmnWorkflow"' in text.replace(" ", "")
    loaded = adapter.restore(definition, text)
    assert type(loaded) is MeldcodeWorkflow
    assert adapter.snapshot(loaded) == text
    assert type(adapter.load_state(definition, adapter.dump_state(workflow))) is MeldcodeWorkflow
