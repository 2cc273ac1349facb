"""The diagram's marks on the case page and in the auditor's step-through: a step is
"overgeslagen" only when no route from the current state can still reach it."""

from __future__ import annotations

from engine import cases, oversight, pages, tasks
from tests.helpers import team_done
from tests.scenarios.paths import SCENARIOS, fill

ACUUT = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")
GEEN_VERMOEDEN = next(s for s in SCENARIOS if s.name == "gesprek_geen_vermoeden")


def complete(people, case, step, decisions):
    task = next(t for t in case["tasks"] if t["step"] == step)
    form = tasks.get_task(people["mw"], task["id"])["form"]["fields"]
    return team_done(people, tasks.complete_task(people["mw"], task["id"], fill(form, decisions)),
                     decisions)


def test_open_steps_downstream_of_a_current_task_are_not_skipped(people):
    case = cases.start_case(people["mw"], {"client_ref": "markers"})
    markers = pages.case_page(people["mw"], case["id"])["markers"]
    assert markers == {"done": [], "current": ["stap1_signalen"], "skipped": []}
    for step in ("stap1_signalen", "stap2_overleg", "stap4_wegen", "stap5_beslissen",
                 "melding_voorbereiden", "melding_voorbespreken", "melding_doen"):
        case = complete(people, case, step, ACUUT.decisions)
    # the melding is made; help is still to be organised and then evaluated
    assert [t["step"] for t in case["tasks"]] == ["hulp_organiseren"]
    markers = pages.case_page(people["mw"], case["id"])["markers"]
    assert markers["current"] == ["hulp_organiseren"]
    assert "hulp_evalueren" not in markers["skipped"]
    assert "melding_doen" in markers["done"]
    # the talk was skipped by its exception: no route leads back to it; neither does one
    # lead to the expert's advice (no eergerelateerd geweld, huwelijksdwang or achterlating in
    # stap 1) nor to the report to the IGJ (the perpetrator is no professional carer)
    assert markers["skipped"] == ["deskundige_raadplegen", "melding_igj", "stap3_gesprek"]

    frames = oversight.history_page(people["aud"], case["id"])["frames"]
    for frame in frames:
        if "hulp_organiseren" in frame["markers"]["current"]:
            assert "hulp_evalueren" not in frame["markers"]["skipped"], frame["seq"]
    assert frames[-1]["markers"]["skipped"] == ["deskundige_raadplegen", "melding_igj",
                                                "stap3_gesprek"]
    # at stap 1 nothing was skipped yet, not even the talk that came to be skipped later
    assert frames[0]["markers"]["skipped"] == []


def test_a_closed_case_skipped_every_step_it_did_not_do(people):
    case = cases.start_case(people["mw"], {"client_ref": "dicht"})
    while case["tasks"]:
        case = complete(people, case, case["tasks"][0]["step"], GEEN_VERMOEDEN.decisions)
    assert case["uitkomst"] == "geen_vermoeden"
    markers = pages.case_page(people["mw"], case["id"])["markers"]
    done = ["stap1_signalen", "stap2_overleg", "stap3_gesprek", "stap4_wegen"]
    assert markers["done"] == done and markers["current"] == []
    assert set(markers["skipped"]) == {
        "stap5_beslissen", "melding_voorbereiden", "melding_voorbespreken", "melding_doen",
        "hulp_organiseren", "hulp_evalueren", "besluit_afstemmen", "terugkoppeling_vt",
        "deskundige_raadplegen", "melding_igj"}
    last = oversight.history_page(people["aud"], case["id"])["frames"][-1]["markers"]
    assert last["skipped"] == markers["skipped"]
