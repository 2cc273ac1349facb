"""Benchmark: one case that loops long (help evaluated again and again), step after step.

    .venv/bin/python bench/long_case_bench.py [--steps 2000] [--every 100]

The looping meldcode (bench/verify_bench.py) driven in-process, as the engine drives a case:
the team's step first, then the loop. Every step makes SpiffWorkflow's task tree two tasks
deeper, and each step walks that tree, so the cost per step grows with the case's length.
Prints per `--every` steps the tree's depth, the CPU time so far and the CPU time per step
of the last stretch; the case must stay open throughout (the test tests/engine/
test_long_cases.py runs 550 steps, past the depth of 1,000 where SpiffWorkflow's task
iterator used to stop). The last line is `RESULT ...`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.verify_bench import looping_bpmn  # noqa: E402
from engine import adapter, definitions, driving  # noqa: E402
from tests.scenarios.paths import SCENARIOS, TEAM_STEPS, fill  # noqa: E402


def depth(task) -> int:
    """How many ancestors `task` has in its workflow's task tree."""
    found = 0
    while task.parent is not None:
        task, found = task.parent, found + 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args()

    dmn = [f for f in definitions.shipped_files() if f.kind == "dmn"]
    definition = definitions.load([definitions.SourceFile("meldcode.bpmn", looping_bpmn()), *dmn])
    decisions = {**SCENARIOS[-2].decisions, "hulp_effectief": True}  # the looping flow
    ids = adapter.IdSource(1)
    workflow, advance = driving.start_workflow(definition, ids)
    started = last = time.process_time()
    for step in range(1, args.steps + 1):
        if not advance.ready or advance.completed:
            sys.exit(f"the case closed after {step - 1} steps")
        task = next((t for t in advance.ready if t.task_spec.bpmn_id in TEAM_STEPS),
                    advance.ready[0])
        fields = [f.as_dict() for f in definition.steps[task.task_spec.bpmn_id].fields]
        advance = driving.complete_in_workflow(workflow, str(task.id), fill(fields, decisions), ids)
        if step % args.every == 0 or step == args.steps:
            now = time.process_time()
            stretch = step % args.every or args.every
            print(f"step {step:6d}  depth {depth(advance.ready[0]):6d}  cpu {now - started:8.1f} s"
                  f"  {1000 * (now - last) / stretch:7.1f} ms/step", flush=True)
            last = now
    if workflow.is_completed():
        sys.exit("the case closed")
    total = time.process_time() - started
    print(f"RESULT steps={args.steps} depth={depth(advance.ready[0])} cpu_s={total:.1f} "
          f"open=yes")


if __name__ == "__main__":
    main()
