"""`meldcode serve` killed with kill -9 (issue 11 point 5): its workers and its planner go with
it, so the port is free and the next serve starts. Before, the workers looked at their parent
only between waits of half the timeout (30 s) and held the port meanwhile; the planner went on
for a round. Now each asks the kernel for SIGTERM when the server dies (prctl
PR_SET_PDEATHSIG, webui/gunicorn_worker.py die_with_parent)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from engine import store
from tests.conftest import ROOT, LiveServer


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie holds no port


def test_the_workers_die_with_a_killed_server_and_the_next_one_starts(sqlite_url, sqlite_people):
    store.dispose_engines()
    env = dict(os.environ, MELDCODE_DATABASE_URL=sqlite_url)
    server = LiveServer(sqlite_url, env)
    try:
        assert requests.get(f"{server.base}/healthz", timeout=10).status_code == 200
        deadline = time.monotonic() + 30
        while len(_children(server.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # the planner and at least one web worker
        children = _children(server.proc.pid)
        assert len(children) >= 2
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in children if _alive(pid)]
    finally:
        for pid in _children(server.proc.pid) if server.proc.poll() is None else []:
            os.kill(pid, signal.SIGKILL)
        server.proc.kill()
    for pid in left:  # not ours to keep running after the test
        os.kill(pid, signal.SIGKILL)
    assert left == [], "processes of the killed server still running"

    again = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "meldcode"), "serve", "--port", str(server.port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        answer = None
        while answer is None and again.poll() is None and time.monotonic() < deadline:
            try:
                answer = requests.get(f"{server.base}/healthz", timeout=10).status_code
            except requests.RequestException:  # not listening yet, or its workers still starting
                time.sleep(0.2)
    finally:
        again.terminate()
        output = again.communicate(timeout=20)[0]
    assert answer == 200, output
