"""Processes starting together on a fresh instance folder: do they all get one whole
checkpoint signing key? The heavy version of
tests/webui/test_operations.py::test_processes_starting_together_share_one_whole_signing_key,
which forks its racers from one interpreter: here every racer is a fresh interpreter that
imports the product (~1.5 s of CPU each), as `meldcode checkpoint` runs started at the same
moment are.

    .venv/bin/python bench/key_race_bench.py [--rounds 6] [--processes 16]

Each round gets a new instance folder; the racers sleep until the same moment and then ask
for the public key. A round fails when they got more than one key or an error. The old code
(the file created empty, written afterwards) failed in 3 of 6 rounds in the break-it test;
on a loaded machine the racers' imports end too far apart to hit its window (0 of 3 rounds,
load average 5), where the suite's forked racers hit it in every run. The last line
is `RESULT rounds=... processes=... failed_rounds=... seconds=...`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RACER = """
import os, sys, time
os.environ["MELDCODE_INSTANCE"] = sys.argv[1]
from engine import checkpoints
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
try:
    print(checkpoints.public_key_hex())
except checkpoints.CheckpointError as exc:
    print("FOUT", exc)
"""


def race(folder: Path, processes: int, lead: float) -> set[str]:
    """The answers of `processes` fresh interpreters asking at the same moment, `lead`
    seconds after their start (time to import the product)."""
    env = {k: v for k, v in os.environ.items() if k != "MELDCODE_SIGNING_KEY"}
    env["PYTHONPATH"] = str(ROOT)
    start = time.time() + lead
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(folder), str(start)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    return {p.communicate(timeout=300)[0].strip() for p in racers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--processes", type=int, default=16)
    parser.add_argument(
        "--lead", type=float, default=3.0, help="seconds from the start to the moment they ask (the imports)"
    )
    args = parser.parse_args()
    failed = 0
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="meldcode-key-race-") as base:
        for round_ in range(args.rounds):
            folder = Path(base) / str(round_)
            folder.mkdir()
            answers = race(folder, args.processes, args.lead)
            whole = len(answers) == 1 and len(next(iter(answers))) == 64
            failed += not whole
            print(
                f"round {round_ + 1}: {len(answers)} different answer(s)"
                + ("" if whole else f": {sorted(answers)}"),
                flush=True,
            )
    seconds = time.perf_counter() - began
    print(
        f"RESULT rounds={args.rounds} processes={args.processes} failed_rounds={failed} seconds={seconds:.1f}"
    )


if __name__ == "__main__":
    main()
