"""Bare SpiffWorkflow, the ratio base of every benchmark: its own parser and script engine,
in-process, no storage, doing the same completions as the product."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timezone
from pathlib import Path

from tests.scenarios.paths import fill

ROOT = Path(__file__).resolve().parent.parent


def read_dates_as_the_product() -> None:
    """Make bare SpiffWorkflow read a timeDate without zone ("2026-12-01", what a date field
    holds) as the product does (engine/timers.point_in_time): from 00:00 Dutch time, not in
    the zone of the machine (SpiffWorkflow's LOCALTZ, fixed at its import). Every walk fills
    hulp_evaluatiedatum with today in the Netherlands (tests/scenarios/paths.fill), and both
    sides must fire wacht_evaluatiedatum at once, also in the hours when that day has begun in
    the Netherlands but not yet in UTC. Raises nothing."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    from engine import clock, timezones

    offset = timezones.local(clock.now()).utcoffset()
    assert offset is not None, "Dutch time has an offset from UTC"
    timer.LOCALTZ = timezone(offset)


def spec_and_engine(bpmn: bytes | None = None):
    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
    from SpiffWorkflow.camunda.parser import CamundaParser

    read_dates_as_the_product()
    parser = CamundaParser()
    parser.add_bpmn_str(bpmn or (ROOT / "processes" / "meldcode.bpmn").read_bytes(), "meldcode.bpmn")
    parser.add_dmn_file(str(ROOT / "processes" / "afwegingskader.dmn"))
    # DMN cells say true/false, as Camunda Modeler writes them
    engine = PythonScriptEngine(environment=TaskDataEnvironment({"true": True, "false": False}))
    return parser.get_spec("meldcode"), engine


def shipped_forms() -> dict[str, list[dict]]:
    from engine import definitions

    definition = definitions.load(definitions.shipped_files())
    return {sid: [f.as_dict() for f in step.fields] for sid, step in definition.steps.items()}


def with_defaults(task, data: dict) -> dict:
    """The form data as the product records a completion: each unanswered field with its
    default ([] for a multi field, a boolean's defaultValue; engine.form_choices), so both
    sides complete with the same data (a gateway reads geweldsvormen after stap 2)."""
    from engine.form_choices import defaults_of

    return {**data, **{name: value for name, value in defaults_of(task.task_spec).items()
                       if data.get(name) is None}}


def run_case(spec, engine, decisions: dict, forms: dict,
             timed: Callable[[float], None] | None = None,
             order: list[str] | None = None) -> None:
    """One case. `order`: the steps in the order the product completed them for the same
    decisions (a case's completed_steps), each taken when it is ready, so both sides do the
    same completions (AssertionError when a step is not ready or the case does not close);
    without it, always the first ready task, as the product's walkers do. `timed` gets the
    seconds of each completion (set data, run, advance). A timer (wacht_evaluatiedatum) whose
    date has passed fires in the same advance, by SpiffWorkflow's own clock, as the product
    fires it inline."""
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    wf = BpmnWorkflow(spec, script_engine=engine)
    # The product's case file: every gateway sees all answers so far and the count of
    # meldingen made (engine.driving.complete_in_workflow); the bare run carries the same.
    case_file: dict = {"meldingen_gedaan": 0}
    wf.task_tree.data.update(case_file)
    wf.do_engine_steps()
    steps = iter(order) if order is not None else None
    while True:
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            break
        if steps is None:
            task = ready[0]
        else:
            step = next(steps, None)
            task = next((t for t in ready if t.task_spec.bpmn_id == step), None)
            assert task is not None, (step, [t.task_spec.bpmn_id for t in ready])
        data = with_defaults(task, fill(forms[task.task_spec.bpmn_id], decisions))
        t0 = time.perf_counter()
        case_file.update(data)
        if task.task_spec.bpmn_id == "melding_doen":
            case_file["meldingen_gedaan"] += 1
        task.set_data(**case_file)
        task.run()
        wf.do_engine_steps()
        if timed:
            timed(time.perf_counter() - t0)
    assert wf.is_completed(), [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.WAITING)]
    assert steps is None or next(steps, None) is None, "the product completed more steps"


def run_completions(spec, engine, completions: list[tuple[str, dict]]) -> None:
    """A case from the given completions (step, form data) in order, each taken when it is
    ready and carrying the case file as run_case does; it need not close. AssertionError when
    a step is not ready."""
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    wf = BpmnWorkflow(spec, script_engine=engine)
    case_file: dict = {"meldingen_gedaan": 0}
    wf.task_tree.data.update(case_file)
    wf.do_engine_steps()
    for step, data in completions:
        task = next((t for t in wf.get_tasks(state=TaskState.READY, manual=True)
                     if t.task_spec.bpmn_id == step), None)
        assert task is not None, step
        case_file.update(with_defaults(task, data))
        if step == "melding_doen":
            case_file["meldingen_gedaan"] += 1
        task.set_data(**case_file)
        task.run()
        wf.do_engine_steps()
