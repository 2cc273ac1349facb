"""Several clients complete the same task at once against a real `meldcode serve`:
exactly one wins, the others get 409, and the history holds one completion."""

import threading

import requests

from tests.scenarios.paths import fill


def test_concurrent_completion_exactly_one_wins(live_server, people):
    base = live_server.base
    h = people.auth("mw")
    case = requests.post(f"{base}/api/v1/cases", json={"client_ref": "race"}, headers=h,
                         timeout=30).json()
    task_id = case["tasks"][0]["id"]
    form = requests.get(f"{base}/api/v1/tasks/{task_id}", headers=h, timeout=30).json()["form"]
    data = fill(form["fields"], {"kindcheck_kinderen": True})
    barrier = threading.Barrier(8)
    statuses = []
    lock = threading.Lock()

    def worker():
        barrier.wait()
        r = requests.post(f"{base}/api/v1/tasks/{task_id}/complete", json={"data": data},
                          headers=h, timeout=60)
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 7, statuses
    history = requests.get(f"{base}/api/v1/cases/{case['id']}/history", headers=h,
                           timeout=30).json()
    assert [e["action"] for e in history].count("task_completed") == 1
    after = requests.get(f"{base}/api/v1/cases/{case['id']}", headers=h, timeout=30).json()
    assert after["completed_steps"] == ["stap1_signalen"]
    assert [t["step"] for t in after["tasks"]] == ["stap2_overleg"]
