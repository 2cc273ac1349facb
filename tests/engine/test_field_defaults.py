"""A field left unanswered has its default in the task data whatever completes the task
(CONTRACT section 5: `geweldsvormen` is a multi field, [] when nothing is chosen), so the
gateway after stap 2 (`'eergerelateerd' in geweldsvormen ...`) never meets an unknown
variable; a recorded completion replays exactly as it was written."""

from __future__ import annotations

import datetime as dt

import pytest

from engine import adapter, definitions, driving, forms
from engine.form_choices import defaults_of

# no form of violence, victim or carer answered
STAP1 = {"signalen": "Blauwe plekken gezien", "kindcheck_kinderen": False}
AT = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
STAP2 = {"advies_veilig_thuis": False, "gesprek_uitzondering": "geen"}


def _start():
    definition = definitions.load(definitions.shipped_files())
    ids = adapter.IdSource(1)
    workflow, advance = driving.start_workflow(definition, ids)
    [task] = advance.ready
    assert task.task_spec.bpmn_id == "stap1_signalen"
    return workflow, task, ids


def _tasks(workflow) -> dict:
    """Each task of the workflow: its step, state and data (the wall-clock times left out)."""
    return {str(t.id): (t.task_spec.name, t.state, t.data) for t in workflow.get_tasks()}


def test_the_shipped_stap1_names_its_defaults():
    _workflow, task, _ids = _start()
    assert defaults_of(task.task_spec) == {"geweldsvormen": [], "slachtoffer": [],
                                           "pleger_zorgverlener": False}


def test_a_task_completed_in_the_workflow_without_the_fields_gets_their_defaults():
    workflow, task, ids = _start()
    advance = driving.complete_in_workflow(workflow, str(task.id), dict(STAP1), ids)
    done = driving.task_or_none(workflow, str(task.id))
    assert done.data["geweldsvormen"] == [] and done.data["slachtoffer"] == []
    assert done.data["pleger_zorgverlener"] is False
    [stap2] = [t for t in advance.ready if t.task_spec.bpmn_id == "stap2_overleg"]
    # the gateway on the forms of violence is evaluated: the usual route, to the talk
    advance = driving.complete_in_workflow(workflow, str(stap2.id), dict(STAP2), ids)
    assert [t.task_spec.bpmn_id for t in advance.ready] == ["stap3_gesprek"]


def test_an_answer_given_as_none_also_gets_the_default_and_a_given_one_is_kept():
    workflow, task, ids = _start()
    driving.complete_in_workflow(workflow, str(task.id), {**STAP1, "geweldsvormen": None,
                                                          "pleger_zorgverlener": True}, ids)
    done = driving.task_or_none(workflow, str(task.id))
    assert done.data["geweldsvormen"] == [] and done.data["pleger_zorgverlener"] is True


def test_a_recorded_completion_is_replayed_as_written_without_defaults():
    workflow, task, ids = _start()
    driving.complete_in_workflow(workflow, str(task.id), dict(STAP1), ids, at=AT)
    # what a completion records (engine.forms.validate: the defaults included) replays to
    # the very same state
    recorded = forms.validate(definitions.load(definitions.shipped_files())
                              .steps["stap1_signalen"].fields, dict(STAP1))
    assert recorded["geweldsvormen"] == [] and recorded["pleger_zorgverlener"] is False
    again, task_again, ids_again = _start()
    driving.complete_in_workflow(again, str(task_again.id), recorded, ids_again, at=AT,
                                 recorded=True)
    assert _tasks(again) == _tasks(workflow)
    # a recording without them is taken as written, nothing is made up: the gateway on the
    # carer cannot be evaluated (only a history written outside the product looks like this)
    third, task_third, ids_third = _start()
    with pytest.raises(driving.EngineFailure, match="pleger_zorgverlener"):
        driving.complete_in_workflow(third, str(task_third.id), dict(STAP1), ids_third,
                                     recorded=True)
