"""The routing rules of CONTRACT section 5 as scenarios (tests/scenarios/paths.py), through the
JSON API on a fresh database as a client drives it: per route the steps and the `uitkomst`,
at each step the fields the route must ask (left out: 422 naming exactly them, nothing stored)
and those it must not require, the expert's advice before every talk with the client, the IGJ
melding by the owner's leidinggevende before the case closes, and a verifying history."""

from __future__ import annotations

import pytest

from tests.helpers import LANE_PEOPLE, verify
from tests.scenarios.paths import SCENARIOS, TALKS, fill, same_steps

ROUTES = [s for s in SCENARIOS if s.asks or s.spares]


@pytest.fixture
def api(ui_app, sqlite_people):
    client = ui_app.test_client()

    def call(who, method, path, **kw):
        return client.open(path, method=method, headers=sqlite_people.auth(who), **kw)
    return call


def test_the_table_covers_every_route_of_section_5():
    steps = {step for s in ROUTES for step in s.steps}
    assert {"deskundige_raadplegen", "melding_igj"} <= steps
    asked = {name for s in ROUTES for names in s.asks.values() for name in names}
    assert {"vgv_reden_niet_melden", "weging_kinderen", "kindcheck_opvang_adequaat",
            "kindcheck_bescherming", "igj_kenmerk", "deskundige_advies"} <= asked
    # with each form of violence that asks for the expert, and with vgv both ways
    chosen = {v for s in ROUTES for v in s.decisions.get("geweldsvormen", ())}
    assert {"eergerelateerd", "huwelijksdwang", "achterlating", "vgv"} <= chosen


@pytest.mark.parametrize("scenario", ROUTES, ids=lambda s: s.name)
def test_a_section_5_route(api, scenario):
    r = api("mw", "POST", "/api/v1/cases", json={"client_ref": f"S5-{scenario.name}"})
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    checked = set()
    for _ in range(40):
        if not case["tasks"]:
            break
        task = scenario.pick(case["tasks"])
        actor = "mw" if task["lane"] == "medewerker" else LANE_PEOPLE[task["lane"]]
        r = api(actor, "GET", f"/api/v1/tasks/{task['id']}")
        assert r.status_code == 200, r.get_json()
        data = fill(r.get_json()["form"]["fields"], scenario.decisions)
        step = task["step"]
        asks, spares = scenario.asks.get(step, ()), scenario.spares.get(step, ())
        if (asks or spares) and step not in checked:
            checked.add(step)
            without = {k: v for k, v in data.items() if k not in (*asks, *spares)}
            if asks:
                r = api(actor, "POST", f"/api/v1/tasks/{task['id']}/complete",
                        json={"data": without})
                assert r.status_code == 422, r.get_json()
                assert set(r.get_json()["errors"]) == set(asks), r.get_json()
                # white space only is missing too (CONTRACT section 5)
                blank = {**without, **{k: "  " for k in asks if isinstance(data.get(k), str)}}
                if blank != without:
                    r = api(actor, "POST", f"/api/v1/tasks/{task['id']}/complete",
                            json={"data": blank})
                    assert r.status_code == 422, r.get_json()
                again = api("mw", "GET", f"/api/v1/cases/{case['id']}").get_json()
                assert again["completed_steps"] == case["completed_steps"]  # nothing stored
            else:
                data = without
        r = api(actor, "POST", f"/api/v1/tasks/{task['id']}/complete", json={"data": data})
        assert r.status_code == 200, (step, r.get_json())
        case = r.get_json()
    assert checked == set(scenario.asks) | set(scenario.spares)
    assert case["status"] == "closed" and case["uitkomst"] == scenario.uitkomst
    done = case["completed_steps"]
    assert same_steps(done, scenario.steps), done
    if "deskundige_raadplegen" in done:
        first = done.index("deskundige_raadplegen")
        assert all(done.index(talk) > first for talk in TALKS if talk in done), done
    if scenario.besluit:
        assert (case["data"]["besluit_melden"], case["data"]["besluit_hulp"]) == scenario.besluit
    history = api("aud", "GET", f"/api/v1/cases/{case['id']}/history").get_json()
    if "melding_igj" in done:
        [igj] = [e for e in history if e["step"] == "melding_igj"]
        assert igj["actor"] == "lg"  # the owner's leidinggevende
        assert history.index(igj) < len(history) - 1  # before the case closed
    assert history[-1]["action"] == "case_closed"
    assert history[-1]["data"] == {"uitkomst": scenario.uitkomst}
    assert verify(case["id"])[case["id"]].ok
