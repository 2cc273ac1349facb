"""Every route of the afwegingskader through the engine, on SQLite and PostgreSQL."""

import pytest

from engine import cases, tasks
from tests.scenarios.paths import SCENARIOS, fill, same_steps


def walk(people, scenario, who="mw"):
    case = cases.start_case(people[who], {"client_ref": f"cl-{scenario.name}"})
    for _ in range(30):
        if not case["tasks"]:
            break
        task = tasks.get_task(people[who], scenario.pick(case["tasks"])["id"])
        case = tasks.complete_task(people[who], task["id"],
                                     fill(task["form"]["fields"], scenario.decisions))
    return case


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_route(people, scenario):
    case = walk(people, scenario)
    assert case["status"] == "closed"
    assert case["uitkomst"] == scenario.uitkomst
    assert same_steps(case["completed_steps"], scenario.steps), case["completed_steps"]
    if scenario.besluit:
        assert (case["data"]["besluit_melden"], case["data"]["besluit_hulp"]) == scenario.besluit
    else:
        assert "besluit_melden" not in case["data"]
    history = cases.history(people["mw"], case["id"])
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    assert history[0]["action"] == "case_started"
    assert history[-1]["action"] == "case_closed"
    assert history[-1]["data"] == {"uitkomst": scenario.uitkomst}
    completed = [e["step"] for e in history if e["action"] == "task_completed"]
    assert completed == case["completed_steps"]


def test_both_branches_are_ready_side_by_side(people):
    scenario = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")
    case = cases.start_case(people["mw"], {"client_ref": "parallel"})
    while {t["step"] for t in case["tasks"]} & {"stap1_signalen", "stap2_overleg",
                                                  "stap4_wegen", "stap5_beslissen"}:
        task = tasks.get_task(people["mw"], case["tasks"][0]["id"])
        case = tasks.complete_task(people["mw"], task["id"],
                                     fill(task["form"]["fields"], scenario.decisions))
    assert sorted(t["step"] for t in case["tasks"]) == ["hulp_organiseren", "melding_voorbereiden"]
    assert case["status"] == "open"
