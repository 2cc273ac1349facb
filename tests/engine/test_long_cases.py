"""A case that loops long (help evaluated again and again) keeps going: SpiffWorkflow's
task iterator would stop at depth 1000 and make such a case look finished. Longer runs, with
the cost per step: bench/long_case_bench.py."""

from bench.verify_bench import looping_bpmn
from engine import adapter, definitions, driving
from tests.scenarios.paths import SCENARIOS, TEAM_STEPS, fill

STEPS = 550  # two tasks deeper per step: past the iterator's depth of 1000 with room to spare


def _depth(task) -> int:
    depth = 0
    while task.parent is not None:
        task, depth = task.parent, depth + 1
    return depth


def test_a_task_tree_deeper_than_a_thousand_does_not_close_the_case():
    dmn = [f for f in definitions.shipped_files() if f.kind == "dmn"]
    definition = definitions.load([definitions.SourceFile("meldcode.bpmn", looping_bpmn()), *dmn])
    decisions = {**SCENARIOS[-2].decisions, "hulp_effectief": True}  # the looping flow
    ids = adapter.IdSource(1)
    workflow, advance = driving.start_workflow(definition, ids)
    for _ in range(STEPS):
        assert advance.ready and not advance.completed
        # the team's steps (the leidinggevende's afstemming) first, then the loop as before
        task = next((t for t in advance.ready if t.task_spec.bpmn_id in TEAM_STEPS),
                    advance.ready[0])
        fields = [f.as_dict() for f in definition.steps[task.task_spec.bpmn_id].fields]
        advance = driving.complete_in_workflow(workflow, str(task.id), fill(fields, decisions), ids)
    assert _depth(advance.ready[0]) > 1050  # deeper than where the iterator stopped
    assert not workflow.is_completed()
    assert [t.task_spec.bpmn_id for t in advance.ready] in (["hulp_organiseren"], ["hulp_evalueren"])
