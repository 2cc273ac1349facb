"""The routes of the shipped meldcode over the JSON API, as an integrator drives them: one
melding when help fails while a melding is under way, opnieuw melden after a melding, the
refused contradiction at stap 4, blank text as missing text, and the geen-vermoeden talk."""

from __future__ import annotations

from tests.helpers import LANE_PEOPLE
from tests.scenarios.paths import MELDING, SCENARIOS, TEAM_STEPS, fill

SLUIT_AAN = next(s for s in SCENARIOS if s.name == "melden_en_hulp_niet_effectief_sluit_aan")
OPNIEUW = next(s for s in SCENARIOS if s.name == "melden_en_hulp_niet_effectief_opnieuw_melden")
GEEN_VERMOEDEN = next(s for s in SCENARIOS if s.name == "gesprek_geen_vermoeden")


def start(client, people, ref="cl-route", **extra):
    r = client.post("/api/v1/cases", json={"client_ref": ref, **extra}, headers=people.auth("mw"))
    assert r.status_code == 201, r.json
    return r.json


def form(client, people, task_id):
    r = client.get(f"/api/v1/tasks/{task_id}", headers=people.auth("mw"))
    assert r.status_code == 200, r.json
    return r.json["form"]["fields"]


class _Done:
    """A completion's answer after the team did its part (status and JSON as the response)."""

    def __init__(self, status_code, json):
        self.status_code, self.json = status_code, json


def complete(client, people, task_id, data):
    """mw completes the task; then the team's steps that became ready (the leidinggevende's
    afstemming, the feedback of Veilig Thuis: TEAM_STEPS) are done at once, by their people.
    The answer is the case after them, with the next task of mw's last own completion."""
    r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data},
                    headers=people.auth("mw"))
    if r.status_code != 200 or not any(t["step"] in TEAM_STEPS for t in r.json["tasks"]):
        return r
    case = r.json
    following = case["next_task"]
    while any(t["step"] in TEAM_STEPS for t in case["tasks"]):
        step = next(t for t in case["tasks"] if t["step"] in TEAM_STEPS)
        name = "mw" if step["lane"] == "medewerker" else LANE_PEOPLE[step["lane"]]
        fields = client.get(f"/api/v1/tasks/{step['id']}", headers=people.auth(name)).json
        done = client.post(f"/api/v1/tasks/{step['id']}/complete", headers=people.auth(name),
                           json={"data": fill(fields["form"]["fields"], {})})
        assert done.status_code == 200, done.json
        case = done.json
        if name == "mw":
            following = case["next_task"]
    return _Done(200, {**case, "next_task": following})


def advance(client, people, case, scenario, until=None, order=None):
    """Complete ready tasks with the scenario's answers (in `order` of steps when given, else
    the scenario's own) until a task of step `until` is ready or the case is closed."""
    while case["tasks"]:
        if until and any(t["step"] == until for t in case["tasks"]):
            return case
        task = scenario.pick(case["tasks"])
        for step in order or ():
            task = next((t for t in case["tasks"] if t["step"] == step), None)
            if task:
                break
        task = task or case["tasks"][0]
        r = complete(client, people, task["id"],
                     fill(form(client, people, task["id"]), scenario.decisions))
        assert r.status_code == 200, r.json
        case = r.json
    return case


def task_of(case, step):
    [task] = [t for t in case["tasks"] if t["step"] == step]
    return task


def history(client, people, case_id):
    return client.get(f"/api/v1/cases/{case_id}/history", headers=people.auth("mw")).json


def get_case(client, people, case_id):
    return client.get(f"/api/v1/cases/{case_id}", headers=people.auth("mw")).json


def verified(client, people, case_id):
    return client.get(f"/api/v1/cases/{case_id}/verify", headers=people.auth("aud")).json


# --- one melding, or opnieuw melden ------------------------------------------------------------


def test_failed_help_joins_the_melding_under_way(client, people):
    case = start(client, people)
    case = advance(client, people, case, SLUIT_AAN, until="hulp_organiseren")
    assert sorted(t["step"] for t in case["tasks"]) == ["hulp_organiseren", "melding_voorbereiden"]
    # help first: organised, evaluated, not effective, while the melding is not yet made
    for step in ("hulp_organiseren", "hulp_evalueren"):
        task = task_of(case, step)
        r = complete(client, people, task["id"],
                     fill(form(client, people, task["id"]), SLUIT_AAN.decisions))
        assert r.status_code == 200, r.json
        case = r.json
    assert [t["step"] for t in case["tasks"]] == ["melding_voorbereiden"]
    case = advance(client, people, case, SLUIT_AAN)
    assert case["status"] == "closed" and case["uitkomst"] == "gemeld_en_hulp"
    for step in MELDING:
        assert case["completed_steps"].count(step) == 1, case["completed_steps"]
    assert get_case(client, people, case["id"])["completed_steps"] == case["completed_steps"]
    completed = [e["step"] for e in history(client, people, case["id"])
                 if e["action"] == "task_completed"]
    assert completed.count("melding_doen") == 1
    assert verified(client, people, case["id"])["ok"]


def test_help_only_that_fails_starts_a_melding(client, people):
    scenario = next(s for s in SCENARIOS if s.name == "hulp_niet_effectief_alsnog_melden")
    case = advance(client, people, start(client, people), scenario)
    assert case["data"]["besluit_melden"] is False
    assert case["uitkomst"] == "gemeld_en_hulp"
    assert case["completed_steps"].count("melding_doen") == 1


def test_help_that_fails_after_the_melding_was_made_melds_again(client, people):
    case = start(client, people)
    case = advance(client, people, case, OPNIEUW, until="hulp_evalueren",
                   order=["melding_voorbereiden", "melding_doen", "hulp_organiseren"])
    assert case["completed_steps"].count("melding_doen") == 1
    task = task_of(case, "hulp_evalueren")
    r = complete(client, people, task["id"], fill(form(client, people, task["id"]),
                                                  OPNIEUW.decisions))
    assert r.status_code == 200
    assert [t["step"] for t in r.json["tasks"]] == ["melding_voorbereiden"]  # opnieuw melden
    case = advance(client, people, r.json, OPNIEUW)
    assert case["status"] == "closed" and case["uitkomst"] == "gemeld_en_hulp"
    assert case["completed_steps"].count("melding_doen") == 2
    assert case["completed_steps"].count("hulp_organiseren") == 1
    assert verified(client, people, case["id"])["ok"]


# --- the contradiction at stap 4 ---------------------------------------------------------------


def test_no_suspicion_with_unsafety_is_refused_naming_both(client, people):
    case = advance(client, people, start(client, people), GEEN_VERMOEDEN, until="stap4_wegen")
    task = task_of(case, "stap4_wegen")
    before_case = get_case(client, people, case["id"])
    before_history = history(client, people, case["id"])
    for acuut, structureel in ((True, False), (False, True), (True, True)):
        decisions = {**GEEN_VERMOEDEN.decisions, "acute_onveiligheid": acuut,
                     "structurele_onveiligheid": structureel}
        r = complete(client, people, task["id"], fill(form(client, people, task["id"]), decisions))
        assert r.status_code == 422, r.json
        named = {"vermoeden"} | ({"acute_onveiligheid"} if acuut else set()) | (
            {"structurele_onveiligheid"} if structureel else set())
        assert set(r.json["errors"]) == named
        assert "geen vermoeden" in r.json["errors"]["vermoeden"].lower()
        assert get_case(client, people, case["id"]) == before_case
        assert history(client, people, case["id"]) == before_history
    # corrected: the same task goes on. With a suspicion the talk about a geen-vermoeden
    # conclusion is not asked, nor what follows from it (issue 14b refuses an answer to it)
    corrected = {**GEEN_VERMOEDEN.decisions, "vermoeden": True, "acute_onveiligheid": True}
    del corrected["weging_besproken_client"]
    r = complete(client, people, task["id"], fill(form(client, people, task["id"]), corrected))
    assert r.status_code == 200 and r.json["tasks"][0]["step"] == "stap5_beslissen"


def test_the_rule_is_listed_with_the_field(client, people):
    case = advance(client, people, start(client, people), GEEN_VERMOEDEN, until="stap4_wegen")
    fields = {f["name"]: f for f in form(client, people, task_of(case, "stap4_wegen")["id"])}
    assert "acute_onveiligheid" in fields["vermoeden"]["invalid_when"]
    assert fields["vermoeden"]["invalid_message"]


# --- blank text is missing text ----------------------------------------------------------------


BLANKS = ["   ", "\n\t  ", "\u00a0"]


def test_blank_required_text_is_missing(client, people):
    case = start(client, people)
    task = case["tasks"][0]
    for blank in BLANKS:
        data = {**fill(form(client, people, task["id"]), {"kindcheck_kinderen": False}),
                "signalen": blank}
        r = complete(client, people, task["id"], data)
        assert r.status_code == 422
        assert r.json["errors"] == {"signalen": "Dit veld is verplicht."}
    assert get_case(client, people, case["id"])["completed_steps"] == []
    assert len(history(client, people, case["id"])) == 1


def test_blank_reason_for_skipping_the_talk_is_missing(client, people):
    scenario = next(s for s in SCENARIOS if s.name == "uitzondering_veiligheid_geen_vermoeden")
    case = advance(client, people, start(client, people), scenario, until="stap2_overleg")
    task = task_of(case, "stap2_overleg")
    before = history(client, people, case["id"])
    for blank in BLANKS:
        data = {**fill(form(client, people, task["id"]), scenario.decisions),
                "gesprek_uitzondering_reden": blank}
        r = complete(client, people, task["id"], data)
        assert r.status_code == 422
        assert r.json["errors"] == {"gesprek_uitzondering_reden": "Dit veld is verplicht."}
    assert history(client, people, case["id"]) == before


def test_blank_reason_for_not_discussing_the_melding_is_missing(client, people):
    case = advance(client, people, start(client, people), OPNIEUW, until="melding_voorbereiden")
    task = task_of(case, "melding_voorbereiden")
    before = history(client, people, case["id"])
    for blank in BLANKS:
        data = {**fill(form(client, people, task["id"]), OPNIEUW.decisions),
                "melding_uitzondering_reden": blank}
        r = complete(client, people, task["id"], data)
        assert r.status_code == 422
        assert r.json["errors"] == {"melding_uitzondering_reden": "Dit veld is verplicht."}
    assert history(client, people, case["id"]) == before


def test_text_is_stored_without_surrounding_white_space(client, people):
    case = start(client, people, ref="  C-42  ", reason="  zorgen  ")
    assert case["client_ref"] == "C-42" and case["reason"] == "zorgen"
    task = case["tasks"][0]
    data = {**fill(form(client, people, task["id"]), {"kindcheck_kinderen": False}),
            "signalen": "  blauwe plekken\n", "bronnen_derden": "   "}
    r = complete(client, people, task["id"], data)
    assert r.status_code == 200
    assert r.json["data"]["signalen"] == "blauwe plekken"
    assert "bronnen_derden" not in r.json["data"]  # white space alone is no answer


def test_start_case_refuses_missing_or_bad_text(client, people):
    for payload, field in (
        ({"client_ref": "   "}, "client_ref"),
        ({"client_ref": "\t\n"}, "client_ref"),
        ({}, "client_ref"),
        ({"client_ref": "C-1", "reason": 5}, "reason"),
        ({"client_ref": "C-1", "reason": "x" * 2001}, "reason"),
    ):
        r = client.post("/api/v1/cases", json=payload, headers=people.auth("mw"))
        assert r.status_code == 422, payload
        assert set(r.json["errors"]) == {field}, payload
    assert client.get("/api/v1/tasks", headers=people.auth("mw")).json == []


# --- the talk about a geen-vermoeden conclusion ----------------------------------------------


def _stap4(client, people):
    case = advance(client, people, start(client, people), GEEN_VERMOEDEN, until="stap4_wegen")
    task = task_of(case, "stap4_wegen")
    fields = form(client, people, task["id"])
    data = fill(fields, GEEN_VERMOEDEN.decisions)
    for name in ("weging_besproken_client", "weging_reactie_client", "weging_niet_besproken_reden"):
        data.pop(name, None)
    return case, task, fields, data


def test_geen_vermoeden_needs_the_talk_recorded(client, people):
    case, task, fields, data = _stap4(client, people)
    conditions = {f["name"]: f.get("required_when") for f in fields}
    assert conditions["weging_besproken_client"] == "vermoeden == False"
    r = complete(client, people, task["id"], data)
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"weging_besproken_client"}
    r = complete(client, people, task["id"], {**data, "weging_besproken_client": True})
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"weging_reactie_client"}
    r = complete(client, people, task["id"], {**data, "weging_besproken_client": True,
                                               "weging_reactie_client": "Opgelucht."})
    assert r.status_code == 200
    assert r.json["status"] == "closed" and r.json["uitkomst"] == "geen_vermoeden"
    assert r.json["data"]["weging_besproken_client"] is True


def test_geen_vermoeden_not_discussed_needs_a_reason(client, people):
    case, task, fields, data = _stap4(client, people)
    data["weging_besproken_client"] = False
    before = history(client, people, case["id"])
    for reason in (None, "  "):
        attempt = dict(data) if reason is None else {**data, "weging_niet_besproken_reden": reason}
        r = complete(client, people, task["id"], attempt)
        assert r.status_code == 422
        assert set(r.json["errors"]) == {"weging_niet_besproken_reden"}
    assert history(client, people, case["id"]) == before
    r = complete(client, people, task["id"], {
        **data, "weging_niet_besproken_reden": "Cliënt is verhuisd en niet bereikbaar."})
    assert r.status_code == 200
    assert r.json["uitkomst"] == "geen_vermoeden"
    assert r.json["data"]["weging_niet_besproken_reden"].startswith("Cliënt")


def test_suspicion_needs_no_talk_about_geen_vermoeden(client, people):
    case, task, fields, data = _stap4(client, people)
    r = complete(client, people, task["id"], {**data, "vermoeden": True})
    assert r.status_code == 200 and r.json["tasks"][0]["step"] == "stap5_beslissen"


# --- which task follows ------------------------------------------------------------------------


def test_next_task_puts_the_acute_melding_first(client, people):
    scenario = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")
    case = advance(client, people, start(client, people), scenario, until="stap5_beslissen")
    task = task_of(case, "stap5_beslissen")
    seen = []
    while True:
        r = complete(client, people, task["id"], fill(form(client, people, task["id"]),
                                                      scenario.decisions))
        assert r.status_code == 200, r.json
        if not r.json["next_task"]:
            break
        task = next(t for t in r.json["tasks"] if t["id"] == r.json["next_task"])
        seen.append(task["step"])
    assert seen == ["melding_voorbereiden", "melding_voorbespreken", "melding_doen",
                    "hulp_organiseren", "hulp_evalueren"]
