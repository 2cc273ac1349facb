"""kill -9 of `meldcode serve` under load (issue 11, point 7): no completion that was answered
200 is lost, and the stored histories still pass `meldcode verify --all` after a restart."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import meldcode_cli
from tests.helpers import start_server, stop_server
from tests.scenarios.paths import LONGEST, fill

THREADS = 4


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers), read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _until_healthy(base: str) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("the server never answered /healthz")


def _drive(base: str, auth: dict, worker: int, stop: threading.Event, acknowledged: list,
           refused: list):
    """Start cases and complete their steps until told to stop; record every completion
    the server answered with 200. Errors (the server is being killed) end the thread."""
    session = requests.Session()
    n = 0
    try:
        while not stop.is_set():
            r = session.post(f"{base}/api/v1/cases", json={"client_ref": f"k9-{worker}-{n}"},
                             headers=auth, timeout=10)
            n += 1
            if r.status_code != 201:
                refused.append(r.status_code)
                continue
            case = r.json()
            # this medewerker's own tasks (a leidinggevende's is not theirs to complete)
            while not stop.is_set() and any(t["lane"] == "medewerker" for t in case["tasks"]):
                task_id = next(t for t in case["tasks"] if t["lane"] == "medewerker")["id"]
                task = session.get(f"{base}/api/v1/tasks/{task_id}", headers=auth, timeout=10)
                if task.status_code != 200:
                    break
                data = fill(task.json()["form"]["fields"], LONGEST.decisions)
                done = session.post(f"{base}/api/v1/tasks/{task_id}/complete", headers=auth,
                                    json={"data": data}, timeout=10)
                if done.status_code != 200:
                    refused.append(done.status_code)
                    break
                acknowledged.append((case["id"], task_id))
                case = done.json()
    except requests.RequestException:
        pass  # the server died under us: what it acknowledged before is what counts


@pytest.mark.alone
def test_kill_9_under_load_loses_no_acknowledged_completion(sqlite_url, sqlite_people, tmp_path):
    env = {**os.environ, "MELDCODE_DATABASE_URL": sqlite_url, "HOME": str(tmp_path)}
    proc, port = start_server(env, "--workers", "2")  # master and workers: more than one
    base = f"http://127.0.0.1:{port}"
    auth = sqlite_people.auth("mw")
    acknowledged: list[tuple[int, str]] = []
    refused: list[int] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_drive, args=(base, auth, i, stop, acknowledged, refused))
               for i in range(THREADS)]
    try:
        _until_healthy(base)
        for t in threads:
            t.start()
        deadline = time.time() + 60  # generous: a busy machine boots workers slowly
        while len(acknowledged) < 10 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # well into the load
        # Master and workers at once, mid-request: no shutdown, no flush, no cleanup.
        victims = [proc.pid, *_children(proc.pid)]
        assert len(victims) >= 2, "no gunicorn workers found"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        if proc.poll() is None:
            proc.kill()
    assert len(acknowledged) >= 10, f"too little load before the kill (refused: {refused[:20]})"

    # Restart on the same database (one worker reads): every acknowledged completion is there.
    proc, port = start_server(env, "--workers", "1")
    try:
        base = f"http://127.0.0.1:{port}"
        completed = set()
        for case_id in {case_id for case_id, _task in acknowledged}:
            r = requests.get(f"{base}/api/v1/cases/{case_id}/history", headers=auth, timeout=10)
            assert r.status_code == 200, r.text
            completed |= {(case_id, e["task_id"]) for e in r.json()
                          if e["action"] == "task_completed"}
        lost = [pair for pair in acknowledged if pair not in completed]
        assert lost == [], f"acknowledged but not stored: {lost}"
    finally:
        stop_server(proc)
    verify = meldcode_cli("verify", "--all", env={"MELDCODE_DATABASE_URL": sqlite_url})
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:]
