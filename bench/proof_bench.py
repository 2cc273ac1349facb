"""The proof of every route of the shipped meldcode (issue 10): how many states and orders it
explores, how long it takes, and the ratio to the bare SpiffWorkflow engine doing as many
completions in the same run.

    .venv/bin/python bench/proof_bench.py [--runs 3]

Target on the 2-core machine: the full proof in at most 10 s, so "Controleren" in the modeler
stays interactive. Prints one `RESULT ...` line.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bare  # noqa: E402
from tests.scenarios.paths import SCENARIOS  # noqa: E402


def bare_seconds_per_completion(rounds: int = 40) -> float:
    """Median seconds of one completion (set data, run, engine steps) in bare SpiffWorkflow."""
    spec, engine = bare.spec_and_engine()
    forms = bare.shipped_forms()
    times: list[float] = []
    for i in range(rounds):
        bare.run_case(spec, engine, SCENARIOS[i % len(SCENARIOS)].decisions, forms, times.append)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="proof runs; the median is shown")
    args = parser.parse_args()

    from engine import definitions, proof

    started = time.perf_counter()
    definition = definitions.load(definitions.shipped_files())
    load_s = time.perf_counter() - started
    seconds, stats = [], None
    for run in range(args.runs):
        t0 = time.perf_counter()
        problems, stats = proof.explore(definition)
        seconds.append(time.perf_counter() - t0)
        print(f"run {run + 1}: {seconds[-1]:.2f} s, {stats.states} states, "
              f"{stats.transitions} completions, {len(problems)} problems", flush=True)
        if problems:
            print("\n".join(str(p) for p in problems))
    proof_s = statistics.median(seconds)
    per_completion = bare_seconds_per_completion()
    bare_s = per_completion * stats.transitions
    print(f"bare SpiffWorkflow: {per_completion * 1000:.3f} ms per completion; "
          f"parse and load of the version {load_s:.2f} s")
    print(f"RESULT proof_s={proof_s:.2f} states={stats.states} orders={stats.transitions} "
          f"target_s=10 ratio_vs_engine={proof_s / bare_s:.1f}")


if __name__ == "__main__":
    main()
