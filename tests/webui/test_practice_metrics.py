"""The Prometheus figures count real cases only (issue 14 point 5: a practice case is in no
figure). meldcode_task_completions_total went up for every completed step of a practice case,
on the web and through the API; meldcode_case_starts_total never counted a practice start."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.helpers import Client, text
from tests.scenarios.paths import LONGEST, fill


def _figure(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _web_form(fields: list[dict]) -> dict:
    """fill()'s answers as the task page's HTML form posts them (ja/nee for a boolean)."""
    return {
        name: (("ja" if value else "nee") if isinstance(value, bool) else value)
        for name, value in fill(fields, LONGEST.decisions).items()
    }


def _complete_on_the_web_and_by_api(app, people, browser: Client, task_id: str) -> None:
    """The first task on the task page (302), the next one through the API (200)."""
    api = app.test_client()
    fields = api.get(f"/api/v1/tasks/{task_id}", headers=people.auth("mw")).json["form"]["fields"]
    done = browser.post(f"/taken/{task_id}", _web_form(fields))
    assert done.status_code == 302, text(done)
    next_id = done.headers["Location"].rsplit("/taken/", 1)[1]
    task = api.get(f"/api/v1/tasks/{next_id}", headers=people.auth("mw")).json
    done = api.post(
        f"/api/v1/tasks/{next_id}/complete",
        headers=people.auth("mw"),
        json={"data": fill(task["form"]["fields"], LONGEST.decisions)},
    )
    assert done.status_code == 200, done.json


def test_practice_completions_and_starts_are_not_counted(ui_app, sqlite_people):
    mw = Client(ui_app)
    mw.login("mw")
    completions = _figure("meldcode_task_completions_total")
    starts = _figure("meldcode_case_starts_total")
    started = mw.post("/oefenen", {"scenario": "zomer"})
    assert started.status_code == 302, text(started)
    _complete_on_the_web_and_by_api(
        ui_app, sqlite_people, mw, started.headers["Location"].rsplit("/taken/", 1)[1]
    )
    assert _figure("meldcode_task_completions_total") == completions
    assert _figure("meldcode_case_starts_total") == starts
    # a real case, the same two ways: both completions and its start counted
    real = ui_app.test_client().post(
        "/api/v1/cases", json={"client_ref": "C-metriek"}, headers=sqlite_people.auth("mw")
    )
    assert real.status_code == 201
    _complete_on_the_web_and_by_api(ui_app, sqlite_people, mw, real.json["tasks"][0]["id"])
    assert _figure("meldcode_task_completions_total") == completions + 2
    assert _figure("meldcode_case_starts_total") == starts + 1
