"""Forms of violence, the kindcheck and the professional carer as perpetrator (issue 14 points 1
and 2, CONTRACT section 5), through the JSON API as a client drives it: the field type "multi"
(`geweldsvormen`), `required_when` on the kindcheck, `deskundige_raadplegen` before any talk
with eergerelateerd geweld, huwelijksdwang or achterlating, the recorded reason not to report
with vrouwelijke genitale verminking, and `melding_igj` beside the meldcode."""

from __future__ import annotations

import pytest

from tests.helpers import LANE_PEOPLE, verify
from tests.scenarios.paths import SCENARIOS, fill

BY_NAME = {s.name: s for s in SCENARIOS}
GEWELDSVORMEN = ["lichamelijk", "psychisch", "seksueel", "verwaarlozing", "financieel",
                 "schending_rechten", "getuige", "eergerelateerd", "huwelijksdwang",
                 "achterlating", "vgv"]


@pytest.fixture
def api(ui_app, sqlite_people):
    client = ui_app.test_client()

    def call(who, method, path, headers=None, **kw):
        return client.open(path, method=method, headers={**sqlite_people.auth(who),
                                                         **(headers or {})}, **kw)
    return call


def start(api, ref="C-14"):
    r = api("mw", "POST", "/api/v1/cases", json={"client_ref": ref})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def task_of(case, step):
    return next(t for t in case["tasks"] if t["step"] == step)


def form(api, task):
    who = LANE_PEOPLE[task["lane"]]
    r = api(who, "GET", f"/api/v1/tasks/{task['id']}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["form"]["fields"]


def complete(api, task, data, status=200):
    r = api(LANE_PEOPLE[task["lane"]], "POST", f"/api/v1/tasks/{task['id']}/complete",
            json={"data": data})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def drive(api, case, decisions, keep=()):
    """Complete ready tasks (not those in `keep`) with fill() and the decisions, until none is
    left to do; the case as it then stands."""
    while True:
        task = next((t for t in case["tasks"] if t["step"] not in keep), None)
        if task is None:
            return case
        case = complete(api, task, fill(form(api, task), decisions))


def test_stap1_asks_the_forms_of_violence_as_a_multi_field(api):
    case = start(api)
    fields = {f["name"]: f for f in form(api, case["tasks"][0])}
    multi = fields["geweldsvormen"]
    assert multi["type"] == "multi" and multi["required"] is False and multi["default"] == []
    assert [o["value"] for o in multi["options"]] == GEWELDSVORMEN
    assert all(o["label"] and o["help"] for o in multi["options"])
    assert fields["slachtoffer"]["type"] == "multi"
    assert [o["value"] for o in fields["slachtoffer"]["options"]] == ["kind", "volwassene",
                                                                      "oudere"]
    assert fields["pleger_zorgverlener"]["type"] == "boolean"
    assert fields["pleger_zorgverlener"]["default"] is False
    for name in ("kindcheck_opvang_adequaat", "kindcheck_bescherming"):
        assert fields[name]["type"] == "boolean" and fields[name]["required"] is False
        assert fields[name]["required_when"] == "kindcheck_kinderen == True"
    assert "ongeboren" in fields["kindcheck_kinderen"]["help"]
    spec = api("mw", "GET", "/api/v1/openapi.json").get_json()
    assert "multi" in spec["components"]["schemas"]["FormField"]["properties"]["type"]["enum"]


@pytest.mark.parametrize("value, says", [
    ("lichamelijk", "lijst"),                   # one value, not a list
    (["lichamelijk", "slaan"], "slaan"),        # not an option
    (["vgv", "vgv"], "één keer"),               # chosen twice
    ([1], "lijst"),                             # not text
    ({"lichamelijk": True}, "lijst"),
])
def test_a_multi_answer_is_a_list_of_distinct_options(api, value, says):
    case = start(api)
    task = case["tasks"][0]
    data = {**fill(form(api, task), {"kindcheck_kinderen": False}), "geweldsvormen": value}
    body = complete(api, task, data, status=422)
    assert set(body["errors"]) == {"geweldsvormen"}
    assert says in body["errors"]["geweldsvormen"]
    # nothing was stored: the task is still ready
    assert api("mw", "GET", f"/api/v1/cases/{case['id']}").get_json()["completed_steps"] == []


@pytest.mark.parametrize("value", [["vgv"] * 10000, [*GEWELDSVORMEN, "vgv"], ["x"] * 12],
                         ids=["vgv x 10000", "every option and vgv again", "12 unknown"])
def test_a_multi_answer_longer_than_the_options_is_named_so(api, value):
    """More values than the question has options: the message says so (each choice at most
    once), not that no list was given."""
    case = start(api)
    task = case["tasks"][0]
    data = {**fill(form(api, task), {"kindcheck_kinderen": False}), "geweldsvormen": value}
    body = complete(api, task, data, status=422)
    assert body["errors"] == {"geweldsvormen": (
        "Te veel keuzes: deze vraag heeft 11 keuzes en elke keuze mag maar één keer in de lijst "
        f"staan; de lijst heeft er {len(value)}.")}
    r = api("mw", "POST", f"/api/v1/tasks/{task['id']}/complete", json={"data": data},
            headers={"Accept-Language": "en"})
    assert r.status_code == 422 and r.get_json()["errors"]["geweldsvormen"] == (
        "Too many choices: this question has 11 choices and each choice may be in the list only "
        f"once; the list has {len(value)}.")
    assert api("mw", "GET", f"/api/v1/cases/{case['id']}").get_json()["completed_steps"] == []


def test_the_answer_is_recorded_in_the_forms_order_and_empty_as_none(api):
    case = start(api)
    task = case["tasks"][0]
    base = fill(form(api, task), {"kindcheck_kinderen": False})
    complete(api, task, {**base, "geweldsvormen": ["psychisch", "lichamelijk"],
                         "slachtoffer": []})
    history = api("mw", "GET", f"/api/v1/cases/{case['id']}/history").get_json()
    data = next(e["data"] for e in history if e["step"] == "stap1_signalen")
    assert data["geweldsvormen"] == ["lichamelijk", "psychisch"]
    assert data["slachtoffer"] == [] and data["pleger_zorgverlener"] is False


def test_the_kindcheck_questions_are_required_when_there_are_children(api):
    case = start(api)
    task = case["tasks"][0]
    base = {"signalen": "Blauwe plekken gezien", "kindcheck_kinderen": True}
    body = complete(api, task, base, status=422)
    # issue 14b (67d15b4): the children's ages too
    assert set(body["errors"]) == {"kindcheck_opvang_adequaat", "kindcheck_bescherming",
                                   "kinderen_aantal_leeftijden"}
    body = complete(api, task, {**base, "kindcheck_opvang_adequaat": True}, status=422)
    assert set(body["errors"]) == {"kindcheck_bescherming", "kinderen_aantal_leeftijden"}
    # without children they are not asked for
    complete(api, task, {"signalen": "Blauwe plekken gezien", "kindcheck_kinderen": False})


@pytest.mark.parametrize("vorm", ["eergerelateerd", "huwelijksdwang", "achterlating"])
def test_an_expert_is_consulted_before_any_talk(api, vorm):
    scenario = BY_NAME["zorgen_weggenomen"]
    case = start(api)
    decisions = {**scenario.decisions, "geweldsvormen": ["psychisch", vorm]}
    case = complete(api, case["tasks"][0], fill(form(api, case["tasks"][0]), decisions))
    case = complete(api, task_of(case, "stap2_overleg"),
                    fill(form(api, task_of(case, "stap2_overleg")), decisions))
    # before stap 3: the expert's and Veilig Thuis's advice, in the medewerker's lane
    assert [(t["step"], t["lane"]) for t in case["tasks"]] == [
        ("deskundige_raadplegen", "medewerker")]
    task = case["tasks"][0]
    fields = {f["name"]: f for f in form(api, task)}
    assert {"deskundige_vt_advies", "deskundige_advies", "gesprek_uitzondering"} <= set(fields)
    assert fields["deskundige_vt_advies"]["required"] and fields["deskundige_advies"]["required"]
    detail = api("mw", "GET", f"/api/v1/tasks/{task['id']}").get_json()
    assert "gevaar" in detail["documentation"] and "112" in detail["documentation"]
    body = complete(api, task, {"gesprek_uitzondering": "geen"}, status=422)
    assert {"deskundige_vt_contact", "deskundige_vt_advies", "deskundige_naam",
            "deskundige_advies"} <= set(body["errors"])
    case = complete(api, task, fill(form(api, task), decisions))
    case = drive(api, case, decisions)
    assert case["status"] == "closed" and case["uitkomst"] == "zorgen_weggenomen"
    assert case["completed_steps"] == ["stap1_signalen", "stap2_overleg",
                                       "deskundige_raadplegen", "stap3_gesprek"]
    assert verify(case["id"])[case["id"]].ok


def test_after_the_experts_advice_the_talk_can_be_skipped(api):
    """The advice may show that a talk endangers the client: the exemption chosen in
    deskundige_raadplegen replaces that of stap 2, stap 3 is skipped (CONTRACT rule 2)."""
    scenario = BY_NAME["uitzondering_veiligheid_geen_vermoeden"]
    decisions = {**scenario.decisions, "gesprek_uitzondering": "geen",
                 "geweldsvormen": ["eergerelateerd"]}
    case = start(api)
    case = drive(api, case, decisions, keep=("deskundige_raadplegen",))
    task = task_of(case, "deskundige_raadplegen")
    data = fill(form(api, task), {**decisions, "gesprek_uitzondering": "veiligheid"})
    body = complete(api, task, {**data, "gesprek_uitzondering_reden": "  "}, status=422)
    assert set(body["errors"]) == {"gesprek_uitzondering_reden"}
    case = complete(api, task, data)
    case = drive(api, case, decisions)
    assert case["completed_steps"] == ["stap1_signalen", "stap2_overleg",
                                       "deskundige_raadplegen", "stap4_wegen"]
    assert case["uitkomst"] == "geen_vermoeden"


def test_other_forms_of_violence_take_the_usual_route(api):
    scenario = BY_NAME["zorgen_weggenomen"]
    others = [v for v in GEWELDSVORMEN if v not in ("eergerelateerd", "huwelijksdwang",
                                                    "achterlating")]
    case = drive(api, start(api), {**scenario.decisions, "geweldsvormen": others})
    assert case["completed_steps"] == scenario.steps and case["uitkomst"] == "zorgen_weggenomen"


def test_with_vgv_not_reporting_needs_a_recorded_reason(api):
    scenario = BY_NAME["alleen_hulp_effectief"]
    decisions = {**scenario.decisions, "geweldsvormen": ["vgv"]}
    case = drive(api, start(api), decisions, keep=("stap5_beslissen",))
    task = task_of(case, "stap5_beslissen")
    fields = {f["name"]: f for f in form(api, task)}
    reden = fields["vgv_reden_niet_melden"]
    assert reden["required"] is False and "vgv" in reden["required_when"]
    assert "norm" in reden["help"]
    data = fill(form(api, task), {**decisions, "vgv_reden_niet_melden": None})
    data.pop("vgv_reden_niet_melden", None)
    body = complete(api, task, data, status=422)
    assert set(body["errors"]) == {"vgv_reden_niet_melden"}
    body = complete(api, task, {**data, "vgv_reden_niet_melden": " \n "}, status=422)
    assert set(body["errors"]) == {"vgv_reden_niet_melden"}
    case = complete(api, task, {**data, "vgv_reden_niet_melden": "Ouders werken mee; GGD "
                                "jeugdarts volgt het meisje"})
    case = drive(api, case, decisions)
    # the decision rules of CONTRACT rule 5 are unchanged: help, no melding
    assert case["uitkomst"] == "hulp" and "melding_doen" not in case["completed_steps"]


def test_with_vgv_and_a_melding_no_reason_is_asked(api):
    scenario = BY_NAME["geen_hulp_mogelijk_melden"]
    decisions = {**scenario.decisions, "geweldsvormen": ["vgv", "lichamelijk"]}
    case = drive(api, start(api), decisions, keep=("stap5_beslissen",))
    task = task_of(case, "stap5_beslissen")
    data = fill(form(api, task), decisions)
    # with a melding the reason not to report is not asked, so fill() leaves it out (14b)
    assert "vgv_reden_niet_melden" not in data
    case = drive(api, complete(api, task, data), decisions)
    assert case["uitkomst"] == "gemeld"


def test_a_professional_carer_as_perpetrator_brings_the_igj_melding_beside_the_route(api):
    scenario = BY_NAME["zorgen_weggenomen"]
    decisions = {**scenario.decisions, "pleger_zorgverlener": True}
    case = start(api)
    case = complete(api, case["tasks"][0], fill(form(api, case["tasks"][0]), decisions))
    assert sorted((t["step"], t["lane"]) for t in case["tasks"]) == [
        ("melding_igj", "leidinggevende"), ("stap2_overleg", "medewerker")]
    igj = task_of(case, "melding_igj")
    # the owner's leidinggevende has it; the medewerker may not complete it
    assert igj["id"] in [t["id"] for t in api("lg", "GET", "/api/v1/tasks").get_json()]
    assert api("mw", "GET", f"/api/v1/tasks/{igj['id']}").status_code == 403
    # the meldcode goes on; the case does not close while the IGJ melding is open
    case = drive(api, case, decisions, keep=("melding_igj",))
    assert case["status"] == "open" and [t["step"] for t in case["tasks"]] == ["melding_igj"]
    assert case["completed_steps"] == scenario.steps
    body = complete(api, igj, {"igj_gemeld_door": "Bestuurder"}, status=422)
    assert {"igj_melddatum", "igj_kenmerk"} <= set(body["errors"])
    case = complete(api, igj, {"igj_melddatum": "2026-11-20", "igj_kenmerk": "IGJ-2026-0042",
                               "igj_gemeld_door": "A. Bestuurder, bestuurder"})
    assert case["status"] == "closed" and case["uitkomst"] == "zorgen_weggenomen"
    history = api("mw", "GET", f"/api/v1/cases/{case['id']}/history").get_json()
    event = next(e for e in history if e["step"] == "melding_igj")
    assert event["actor"] == "lg"
    assert event["data"]["igj_kenmerk"] == "IGJ-2026-0042"
    assert event["data"]["igj_melddatum"] == "2026-11-20"
    assert verify(case["id"])[case["id"]].ok


def test_without_a_professional_carer_there_is_no_igj_melding(api):
    scenario = BY_NAME["zorgen_weggenomen"]
    case = drive(api, start(api), scenario.decisions)
    assert "melding_igj" not in case["completed_steps"] and case["status"] == "closed"
