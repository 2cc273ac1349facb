"""The JSON API of CONTRACT section 4, driven through HTTP (Flask's WSGI test client)."""

import json

import pytest

from tests.helpers import LANE_PEOPLE
from tests.scenarios.paths import SCENARIOS, fill, same_steps


def start(client, people, who="mw", ref="cl-1"):
    r = client.post("/api/v1/cases", json={"client_ref": ref}, headers=people.auth(who))
    assert r.status_code == 201, r.json
    return r.json


def complete(client, people, task_id, data, who="mw"):
    return client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data},
                       headers=people.auth(who))


def walk(client, people, scenario, who="mw"):
    case = start(client, people, who, f"cl-{scenario.name}")
    while case["tasks"]:
        task_id = case["tasks"][0]["id"]
        lane = case["tasks"][0]["lane"]  # another lane's task: that lane's person (lg)
        actor = who if lane == "medewerker" else LANE_PEOPLE[lane]
        task = client.get(f"/api/v1/tasks/{task_id}", headers=people.auth(actor)).json
        r = complete(client, people, task_id, fill(task["form"]["fields"], scenario.decisions),
                     actor)
        assert r.status_code == 200, r.json
        case = r.json
    return case


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_route_over_http(client, people, scenario):
    case = walk(client, people, scenario)
    assert case["status"] == "closed" and case["uitkomst"] == scenario.uitkomst
    assert same_steps(case["completed_steps"], scenario.steps)
    again = client.get(f"/api/v1/cases/{case['id']}", headers=people.auth("mw")).json
    assert again["completed_steps"] == case["completed_steps"]
    assert again["tasks"] == []


def test_case_shape_and_task_form(client, people):
    case = start(client, people)
    assert set(case) >= {"id", "status", "uitkomst", "process_version", "completed_steps",
                         "tasks"}
    assert case["status"] == "open" and case["uitkomst"] is None
    assert case["completed_steps"] == []
    [task] = case["tasks"]
    assert task["step"] == "stap1_signalen" and task["lane"] == "medewerker"
    full = client.get(f"/api/v1/tasks/{task['id']}", headers=people.auth("mw")).json
    assert set(full) >= {"id", "case_id", "step", "name", "lane", "form"}
    fields = {f["name"]: f for f in full["form"]["fields"]}
    assert fields["kindcheck_kinderen"]["type"] == "boolean"
    assert fields["kindcheck_kinderen"]["required"] is True
    for f in fields.values():
        assert set(f) >= {"name", "label", "type", "required", "help"}
        # CONTRACT section 4, and "multi" of section 5 (geweldsvormen)
        assert f["type"] in ("string", "text", "boolean", "enum", "multi", "date", "integer")
    listed = client.get("/api/v1/tasks", headers=people.auth("mw")).json
    assert [t["id"] for t in listed] == [task["id"]]


def test_enum_fields_and_conditional_reason(client, people):
    case = start(client, people)
    t1 = case["tasks"][0]["id"]
    form = client.get(f"/api/v1/tasks/{t1}", headers=people.auth("mw")).json["form"]
    case = complete(client, people, t1, fill(form["fields"], {"kindcheck_kinderen": False})).json
    t2 = case["tasks"][0]
    assert t2["step"] == "stap2_overleg"
    form = client.get(f"/api/v1/tasks/{t2['id']}", headers=people.auth("mw")).json["form"]
    fields = {f["name"]: f for f in form["fields"]}
    assert [o["value"] for o in fields["gesprek_uitzondering"]["options"]] == [
        "geen", "veiligheid", "contact_verbreken"]
    data = fill(form["fields"], {"advies_veilig_thuis": False,
                                 "gesprek_uitzondering": "veiligheid"})
    data.pop("gesprek_uitzondering_reden", None)
    r = complete(client, people, t2["id"], data)
    assert r.status_code == 422
    assert "gesprek_uitzondering_reden" in r.json["errors"]
    data["gesprek_uitzondering_reden"] = "Cliënt is eerder agressief geweest tegen hulpverleners."
    r = complete(client, people, t2["id"], data)
    assert r.status_code == 200
    assert r.json["tasks"][0]["step"] == "stap4_wegen"
    assert r.json["data"]["gesprek_uitzondering_reden"].startswith("Cliënt")


def _history_len(client, people, case_id):
    return len(client.get(f"/api/v1/cases/{case_id}/history", headers=people.auth("mw")).json)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kindcheck_kinderen": "ja"}, "kindcheck_kinderen"),
        ({"kindcheck_kinderen": None}, "kindcheck_kinderen"),
        ({"onbekend_veld": 1}, "onbekend_veld"),
        ({"__class__": 1}, "__class__"),
        ({"signalen": 5}, "signalen"),
        ({"signalen": "x" * 100_000}, "signalen"),
        ({"datum_waarneming": "31-12-2026"}, "datum_waarneming"),
        ({"datum_waarneming": "2026-02-30"}, "datum_waarneming"),
    ],
)
def test_invalid_data_is_422_and_stores_nothing(client, people, data, field):
    case = start(client, people)
    task_id = case["tasks"][0]["id"]
    form = client.get(f"/api/v1/tasks/{task_id}", headers=people.auth("mw")).json["form"]
    good = fill(form["fields"], {"kindcheck_kinderen": True})
    before = _history_len(client, people, case["id"])
    r = complete(client, people, task_id, {**good, **data})
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]
    assert isinstance(r.json["error"], str)
    after = client.get(f"/api/v1/cases/{case['id']}", headers=people.auth("mw")).json
    assert after["completed_steps"] == [] and after["tasks"][0]["id"] == task_id
    assert _history_len(client, people, case["id"]) == before


def test_stap1_asks_observation_date(client, people):
    case = start(client, people)
    form = client.get(f"/api/v1/tasks/{case['tasks'][0]['id']}", headers=people.auth("mw")).json
    assert "datum_waarneming" in {f["name"] for f in form["form"]["fields"]}


def test_missing_required_fields_named(client, people):
    case = start(client, people)
    r = complete(client, people, case["tasks"][0]["id"], {})
    assert r.status_code == 422
    assert r.json["errors"]["kindcheck_kinderen"] == "Dit veld is verplicht."


def test_completing_twice_is_409(client, people):
    case = start(client, people)
    task_id = case["tasks"][0]["id"]
    form = client.get(f"/api/v1/tasks/{task_id}", headers=people.auth("mw")).json["form"]
    data = fill(form["fields"], {"kindcheck_kinderen": False})
    assert complete(client, people, task_id, data).status_code == 200
    r = complete(client, people, task_id, data)
    assert r.status_code == 409 and "error" in r.json
    # still known, never 404; but no longer offered for completion
    assert client.get(f"/api/v1/tasks/{task_id}", headers=people.auth("mw")).status_code == 200
    assert _history_len(client, people, case["id"]) == 2 + 0  # started + one completion


def test_auth_errors(client, people):
    assert client.get("/api/v1/tasks").status_code == 401
    r = client.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "error" in r.json
    assert client.get("/api/v1/tasks", headers={"Authorization": "Basic eDp5"}).status_code == 401


def test_not_found(client, people):
    h = people.auth("mw")
    assert client.get("/api/v1/cases/999999", headers=h).status_code == 404
    assert client.get("/api/v1/cases/abc", headers=h).status_code == 404
    assert client.get("/api/v1/tasks/does-not-exist", headers=h).status_code == 404
    r = complete(client, people, "does-not-exist", {})
    assert r.status_code == 404 and "error" in r.json
    r = client.get("/api/v1/geen-pad", headers=h)
    assert r.status_code == 404 and r.is_json and "error" in r.json


def test_bad_requests(client, people):
    h = {**people.auth("mw"), "Content-Type": "application/json"}
    r = client.post("/api/v1/cases", data="{not json", headers=h)
    assert r.status_code == 400 and "error" in r.json
    r = client.post("/api/v1/cases", data="[1, 2]", headers=h)
    assert r.status_code == 400
    r = client.post("/api/v1/cases", json={"client_ref": ""}, headers=people.auth("mw"))
    assert r.status_code == 422 and "client_ref" in r.json["errors"]
    r = client.post("/api/v1/cases", json={"client_ref": "x", "evil": 1},
                    headers=people.auth("mw"))
    assert r.status_code == 422 and "evil" in r.json["errors"]
    case = start(client, people)
    r = client.post(f"/api/v1/tasks/{case['tasks'][0]['id']}/complete",
                    json={"data": {}, "extra": 1}, headers=people.auth("mw"))
    assert r.status_code == 422 and "extra" in r.json["errors"]
    r = client.post(f"/api/v1/tasks/{case['tasks'][0]['id']}/complete",
                    json={"data": [1]}, headers=people.auth("mw"))
    assert r.status_code == 422


def test_json_over_one_mib_is_413(client, people):
    body = json.dumps({"client_ref": "x", "reason": "a" * (1024 * 1024)})
    r = client.post("/api/v1/cases", data=body, headers={**people.auth("mw"),
                                                         "Content-Type": "application/json"})
    assert r.status_code == 413 and "error" in r.json


def test_access_rules(client, people):
    case = start(client, people, "mw")
    task_id = case["tasks"][0]["id"]
    cid = case["id"]
    # another medewerker: neither reads nor works on it
    assert client.get(f"/api/v1/cases/{cid}", headers=people.auth("mw2")).status_code == 403
    assert client.get(f"/api/v1/tasks/{task_id}", headers=people.auth("mw2")).status_code == 403
    assert complete(client, people, task_id, {}, who="mw2").status_code == 403
    assert client.get("/api/v1/tasks", headers=people.auth("mw2")).json == []
    # the medewerker's leidinggevende reads the case of their team, but this is no lane task
    assert client.get(f"/api/v1/cases/{cid}", headers=people.auth("lg")).status_code == 200
    assert client.get(f"/api/v1/tasks/{task_id}", headers=people.auth("lg")).status_code == 403
    # auditor reads everything, changes nothing
    assert client.get(f"/api/v1/cases/{cid}", headers=people.auth("aud")).status_code == 200
    assert client.get(f"/api/v1/cases/{cid}/history",
                      headers=people.auth("aud")).status_code == 200
    assert complete(client, people, task_id, {}, who="aud").status_code == 403
    # procesbeheerder and beheerder read no case content, and may not start one
    for who in ("pb", "bh", "aud"):
        assert client.get(f"/api/v1/cases/{cid}", headers=people.auth(who)).status_code in (
            403, 200 if who == "aud" else 403)
        r = client.post("/api/v1/cases", json={"client_ref": "x"}, headers=people.auth(who))
        assert r.status_code == 403
    # an aandachtsfunctionaris reads only cases with a task in their lane
    assert client.get(f"/api/v1/cases/{cid}", headers=people.auth("af")).status_code == 403


def test_leidinggevende_and_af_may_start_and_own(client, people):
    for who in ("lg", "af"):
        case = start(client, people, who, f"own-{who}")
        assert client.get(f"/api/v1/cases/{case['id']}", headers=people.auth(who)).status_code == 200
        listed = client.get("/api/v1/tasks", headers=people.auth(who)).json
        assert case["tasks"][0]["id"] in [t["id"] for t in listed]


def test_history_shape(client, people):
    case = start(client, people)
    events = client.get(f"/api/v1/cases/{case['id']}/history", headers=people.auth("mw")).json
    assert len(events) == 1
    assert set(events[0]) >= {"seq", "at", "actor", "action", "step", "data"}
    assert events[0]["action"] == "case_started" and events[0]["actor"] == "mw"


def test_openapi_document_lists_every_route(app, client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or "<path:" in rule.rule:
            continue
        path = rule.rule.replace("<case_id>", "{id}").replace("<task_id>", "{id}") \
            .replace("<notification_id>", "{id}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)


def test_verify_and_access_log_endpoints(client, people):
    case = start(client, people)
    r = client.get(f"/api/v1/cases/{case['id']}/verify", headers=people.auth("aud"))
    assert r.status_code == 200 and r.json == {"ok": True, "events": 1, "problems": []}
    assert client.get(f"/api/v1/cases/{case['id']}/verify",
                      headers=people.auth("mw2")).status_code == 403
    assert client.get(f"/api/v1/cases/{case['id']}/access-log",
                      headers=people.auth("mw")).status_code == 403
    log = client.get(f"/api/v1/cases/{case['id']}/access-log", headers=people.auth("aud")).json
    outcomes = [(e["user"], e["action"], e["outcome"]) for e in log]
    assert ("mw", "create", "ok") in outcomes
    assert ("aud", "verify", "ok") in outcomes
    assert ("mw2", "verify", "denied") in outcomes
    assert ("mw", "read_access_log", "denied") in outcomes
    assert outcomes[-1] == ("aud", "read_access_log", "ok")
    for e in log:
        assert set(e) >= {"at", "user", "role", "action", "outcome"}


def test_only_the_contract_reasons_are_conditional(client, people):
    """A client that fills the required fields and the contract's decision variables (and the
    reden where an exception is chosen) can walk every route: no hidden requirement."""
    case = start(client, people)
    conditional = {}
    while case["tasks"]:
        task_id = case["tasks"][0]["id"]
        lane = case["tasks"][0]["lane"]  # another lane's task: that lane's person (lg)
        actor = "mw" if lane == "medewerker" else LANE_PEOPLE[lane]
        fields = client.get(f"/api/v1/tasks/{task_id}", headers=people.auth(actor)).json["form"]
        for f in fields["fields"]:
            if f.get("required_when"):
                conditional[f["name"]] = f["required_when"]
        decisions = SCENARIOS[-1].decisions
        wanted = [f for f in fields["fields"] if f["required"] or f["name"] in decisions
                  or f["name"] in KINDCHECK_WHEN_CHILDREN or f["name"] in REWEIGHING
                  or f["name"] == "kinderen_aantal_leeftijden"  # this route has children
                  or (f["name"].endswith("_reden")
                      # an exception's reason; a reason whose question is not asked is
                      # refused (issue 14b: weging_niet_besproken_reden without vermoeden false)
                      and decisions.get(f["name"].removesuffix("_reden"), "geen") != "geen")]
        data = {f["name"]: decisions.get(f["name"], "Toelichting") for f in wanted}
        data.update(fill([f for f in wanted if f["name"] not in decisions], {}))
        data.update({name: True for name in KINDCHECK_WHEN_CHILDREN if name in data})
        case = complete(client, people, task_id, data, actor).json
    assert case["status"] == "closed"
    # the contract's reasons, and the talk about a geen-vermoeden conclusion (issue 10), which
    # applies only when vermoeden is false
    assert conditional == {"gesprek_uitzondering_reden": "gesprek_uitzondering != 'geen'",
                           "melding_uitzondering_reden": "melding_uitzondering != 'geen'",
                           "weging_besproken_client": "vermoeden == False",
                           "weging_reactie_client": "weging_besproken_client == True",
                           "weging_niet_besproken_reden": "weging_besproken_client == False",
                           # CONTRACT section 5: how Veilig Thuis was contacted when no
                           # feedback came
                           "terugkoppeling_toelichting": "terugkoppeling_ontvangen == false",
                           # CONTRACT section 5: the kindcheck's questions when there are
                           # children; issue 14: the reason not to report with vgv
                           **dict.fromkeys(KINDCHECK_WHEN_CHILDREN, "kindcheck_kinderen == True"),
                           "vgv_reden_niet_melden": conditional.get("vgv_reden_niet_melden"),
                           # issue 14: after a melding on acute or structural unsafety, the
                           # re-weighing with Veilig Thuis when it reported back
                           **dict.fromkeys(REWEIGHING, "terugkoppeling_ontvangen == True"),
                           # issue 14b (67d15b4): product rules beside the contract's, which
                           # section 5 allows (a field may carry required_when)
                           **{name: when for name, when in PRODUCT_CONDITIONAL.items()
                              if name in conditional}}
    # this route asks for the children's ages and passes the Veilig Thuis advice questions
    assert {"kinderen_aantal_leeftijden", "veilig_thuis_contact"} <= set(conditional)
    assert "'vgv' in geweldsvormen" in conditional["vgv_reden_niet_melden"]


# CONTRACT section 5: required when kindcheck_kinderen is true
KINDCHECK_WHEN_CHILDREN = ("kindcheck_opvang_adequaat", "kindcheck_bescherming")
# issue 14: on the form of a case with acute or structural unsafety (shown_when), required when
# Veilig Thuis reported back
REWEIGHING = ("terugkoppeling_herweging",)
# issue 14b (67d15b4): product rules, not named by the contract: a question asked only after
# certain answers (the children's ages with children, the advice of Veilig Thuis when it was
# asked, the talk's questions when the client was reached)
PRODUCT_CONDITIONAL = {
    "kinderen_aantal_leeftijden": "kindcheck_kinderen == True",
    "veilig_thuis_contact": "advies_veilig_thuis == True",
    "veilig_thuis_advies": "advies_veilig_thuis == True",
    **dict.fromkeys(("gesprek_datum", "gesprek_afspraken", "zorgen_weggenomen"),
                    "client_niet_bereikt != True"),
}


def test_handover_and_share_over_http(client, people):
    case = start(client, people)
    url = f"/api/v1/cases/{case['id']}"
    # wrong person, bad data, unknown case: each its status, nothing changed
    r = client.post(f"{url}/handover", json={"user": "mw2", "reason": "x"}, headers=people.auth("mw2"))
    assert r.status_code == 403
    r = client.post(f"{url}/handover", json={"user": "aud"}, headers=people.auth("mw"))
    assert r.status_code == 422 and set(r.json["errors"]) == {"user", "reason"}
    r = client.post(f"{url}/handover", data="nee", headers=people.auth("mw"),
                    content_type="application/json")
    assert r.status_code == 400
    assert client.post("/api/v1/cases/999999/handover", json={"user": "mw2", "reason": "x"},
                       headers=people.auth("mw")).status_code == 404
    assert client.get(url, headers=people.auth("mw")).json["owner"] == "mw"

    r = client.post(f"{url}/shares", json={"user": "af", "reason": "meedenken"},
                    headers=people.auth("mw"))
    assert r.status_code == 200
    assert client.get(url, headers=people.auth("af")).status_code == 200
    assert client.post(f"{url}/shares", json={"user": "af", "reason": "weer"},
                       headers=people.auth("mw")).status_code == 409

    r = client.post(f"{url}/handover", json={"user": "mw2", "reason": "Met verlof"},
                    headers=people.auth("lg"))
    assert r.status_code == 200 and r.json["owner"] == "mw2"
    assert client.get(url, headers=people.auth("mw")).status_code == 403
    tasks = client.get("/api/v1/tasks", headers=people.auth("mw2")).json
    assert [t["case_id"] for t in tasks] == [case["id"]]
    history = client.get(f"{url}/history", headers=people.auth("mw2")).json
    assert [e["action"] for e in history][-2:] == ["case_shared", "case_handed_over"]
    assert history[-1]["actor"] == "lg" and history[-1]["data"]["to"] == "mw2"
    verdict = client.get(f"{url}/verify", headers=people.auth("aud")).json
    assert verdict["ok"], verdict
