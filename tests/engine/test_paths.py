"""Every route of the afwegingskader through the engine, on SQLite and PostgreSQL."""

import pytest

from engine import cases, tasks
from tests.helpers import LANE_PEOPLE
from tests.scenarios.paths import SCENARIOS, fill, same_steps


def walk(people, scenario, who="mw"):
    """`who` starts the case and completes its medewerker tasks; a task of another lane (the
    leidinggevende's besluit_afstemmen) is completed by that lane's person."""
    case = cases.start_case(people[who], {"client_ref": f"cl-{scenario.name}"})
    for _ in range(40):
        if not case["tasks"]:
            break
        picked = scenario.pick(case["tasks"])
        actor = people[who if picked["lane"] == "medewerker" else LANE_PEOPLE[picked["lane"]]]
        task = tasks.get_task(actor, picked["id"])
        case = tasks.complete_task(actor, task["id"],
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
    # the leidinggevende's afstemming of the decisions is ready beside both (CONTRACT section 5)
    assert sorted(t["step"] for t in case["tasks"]) == ["besluit_afstemmen", "hulp_organiseren",
                                                         "melding_voorbereiden"]
    assert case["status"] == "open"
