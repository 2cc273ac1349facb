"""The meldcode as teamwork (issue 13 point 1, CONTRACT section 5): the leidinggevende's
afstemming beside the melding, the feedback of Veilig Thuis after each melding, the team
informed after a melding, the evaluation of help on its date. Used as the people themselves
use it: the JSON API (and the web form for a refused answer), on SQLite and PostgreSQL; every
case made here passes verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine import clock, scheduler, store, tokens, users
from tests.conftest import PASSWORD
from tests.helpers import Client, events_of, text
from tests.scenarios.paths import SCENARIOS, fill

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Amsterdam
ACUUT = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")
MELDEN = next(s for s in SCENARIOS if s.name == "geen_hulp_mogelijk_melden")
HULP = next(s for s in SCENARIOS if s.name == "alleen_hulp_effectief")


class Ticking(clock.ManualClock):
    """The engine's clock from a set time, a second on at every reading, as time goes on
    between one person's step and the next (a clock standing still would give every step
    the same moment)."""

    def __call__(self) -> datetime:
        return self.advance(timedelta(seconds=1))


def add_user(people, name: str, roles: list[str], manager: str | None = None) -> None:
    """Another user with an API token, in the People fixture."""
    with store.unit_of_work(write=True) as session:
        user = users.create_user(session, name, roles, PASSWORD, manager)
        people.tokens[name] = tokens.create_token(session, name)
        people.principals[name] = users.Principal.of(user, "127.0.0.1")


def start(client, people, who="mw", ref="C-team"):
    r = client.post("/api/v1/cases", json={"client_ref": ref}, headers=people.auth(who))
    assert r.status_code == 201, r.json
    return r.json


def task_of(case, step):
    [task] = [t for t in case["tasks"] if t["step"] == step]
    return task


def complete(client, people, who, task, answers: dict, extra: dict | None = None):
    """`who` opens the task and completes it with the form filled from `answers`."""
    form = client.get(f"/api/v1/tasks/{task['id']}", headers=people.auth(who))
    assert form.status_code == 200, form.json
    data = {**fill(form.json["form"]["fields"], answers), **(extra or {})}
    return client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data},
                       headers=people.auth(who))


def walk_owner(client, people, case, answers: dict, until: str, owner="mw"):
    """The owner completes their own ready tasks (oldest first) until a task of `until` is
    ready; tasks of other lanes stay open."""
    while not any(t["step"] == until for t in case["tasks"]):
        task = next(t for t in case["tasks"] if t["lane"] == "medewerker")
        r = complete(client, people, owner, task, answers)
        assert r.status_code == 200, r.json
        case = r.json
    return case


def my_steps(client, people, who, case_id):
    listed = client.get("/api/v1/tasks", headers=people.auth(who))
    assert listed.status_code == 200
    return sorted(t["step"] for t in listed.json if t["case_id"] == case_id)


def verified(client, people, case_id):
    return client.get(f"/api/v1/cases/{case_id}/verify", headers=people.auth("aud")).json


def test_an_acute_melding_is_the_owners_and_the_case_closes_after_the_team(client, people):
    with clock.use(Ticking(T0)):
        case = walk_owner(client, people, start(client, people), ACUUT.decisions,
                          "melding_voorbereiden")
        assert sorted(t["step"] for t in case["tasks"]) == [
            "besluit_afstemmen", "hulp_organiseren", "melding_voorbereiden"]
        afstemmen = task_of(case, "besluit_afstemmen")
        assert afstemmen["lane"] == "leidinggevende"
        # the afstemming is the leidinggevende's, the melding the owner's
        assert my_steps(client, people, "lg", case["id"]) == ["besluit_afstemmen"]
        assert my_steps(client, people, "mw", case["id"]) == ["hulp_organiseren",
                                                              "melding_voorbereiden"]
        assert client.get(f"/api/v1/tasks/{afstemmen['id']}",
                          headers=people.auth("mw")).status_code == 403
        # the melding is made without anyone else: the afstemming stays open beside it
        for step in ("melding_voorbereiden", "melding_voorbespreken", "melding_doen"):
            task = task_of(case, step)
            assert task["lane"] == "medewerker" and task["urgent"] is True
            r = complete(client, people, "mw", task, ACUUT.decisions)
            assert r.status_code == 200, r.json
            case = r.json
            assert "besluit_afstemmen" in [t["step"] for t in case["tasks"]]
        assert case["completed_steps"].count("melding_doen") == 1
        # Veilig Thuis reports back, and will again after an investigation: a second one
        first = task_of(case, "terugkoppeling_vt")
        assert first["lane"] == "medewerker"
        r = complete(client, people, "mw", first, {"terugkoppeling_ontvangen": True,
                                                   "terugkoppeling_vervolg": True})
        assert r.status_code == 200, r.json
        second = task_of(r.json, "terugkoppeling_vt")
        assert second["id"] != first["id"]
        r = complete(client, people, "mw", second, {"terugkoppeling_ontvangen": True,
                                                    "terugkoppeling_vervolg": False})
        assert r.status_code == 200, r.json
        case = r.json
        assert "terugkoppeling_vt" not in [t["step"] for t in case["tasks"]]
        # help, its evaluation date today: evaluated at once
        r = complete(client, people, "mw", task_of(case, "hulp_organiseren"),
                     {**ACUUT.decisions, "hulp_evaluatiedatum": "2026-12-01"})
        assert r.status_code == 200, r.json
        r = complete(client, people, "mw", task_of(r.json, "hulp_evalueren"), ACUUT.decisions)
        assert r.status_code == 200, r.json
        case = r.json
        # everything done but the afstemming: the case stays open for it
        assert case["status"] == "open"
        assert [t["step"] for t in case["tasks"]] == ["besluit_afstemmen"]
        r = complete(client, people, "lg", afstemmen, {"afstemming_besproken": True})
        assert r.status_code == 200, r.json
        case = r.json
    assert case["status"] == "closed" and case["uitkomst"] == "gemeld_en_hulp"
    assert case["completed_steps"].count("terugkoppeling_vt") == 2
    assert case["completed_steps"][-1] == "besluit_afstemmen"
    assert case["data"]["afstemming_besproken"] is True
    assert verified(client, people, case["id"])["ok"], verified(client, people, case["id"])


def test_no_feedback_needs_how_veilig_thuis_was_contacted(app, client, people):
    case = walk_owner(client, people, start(client, people), MELDEN.decisions,
                      "terugkoppeling_vt")
    task = task_of(case, "terugkoppeling_vt")
    for blank in ({}, {"terugkoppeling_toelichting": "   "}):
        r = complete(client, people, "mw", task, {"terugkoppeling_ontvangen": False},
                     {"terugkoppeling_toelichting": None, **blank})
        assert r.status_code == 422, r.json
        assert list(r.json["errors"]) == ["terugkoppeling_toelichting"]
    web = Client(app)
    web.login("mw")
    page = web.post(f"/taken/{task['id']}", {
        "actie": "afronden", "terugkoppeling_ontvangen": "nee", "terugkoppeling_vervolg": "nee"})
    assert page.status_code == 422
    assert 'href="#veld-terugkoppeling_toelichting"' in text(page)
    # nothing was stored; with how Veilig Thuis was contacted it is accepted
    assert [t["id"] for t in task_of_case(client, people, case["id"])] == [task["id"]]
    r = complete(client, people, "mw", task, {"terugkoppeling_ontvangen": False},
                 {"terugkoppeling_toelichting": "Zelf gebeld op 8 december; terugbelafspraak."})
    assert r.status_code == 200, r.json
    assert r.json["data"]["terugkoppeling_toelichting"].startswith("Zelf gebeld")
    assert verified(client, people, case["id"])["ok"], verified(client, people, case["id"])


def task_of_case(client, people, case_id):
    case = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("mw")).json
    return [t for t in case["tasks"] if t["step"] == "terugkoppeling_vt"]


def informed(case_id):
    return [e for e in events_of(case_id) if e.action == "informed"]


def test_after_a_melding_the_team_is_informed_and_may_read(client, people):
    add_user(people, "af2", ["aandachtsfunctionaris"])
    alone = walk_owner(client, people, start(client, people, ref="C-alleen"), MELDEN.decisions,
                       "melding_doen")
    shared = walk_owner(client, people, start(client, people, ref="C-gedeeld"),
                        MELDEN.decisions, "melding_doen")
    r = client.post(f"/api/v1/cases/{shared['id']}/shares", headers=people.auth("mw"),
                    json={"user": "af2", "reason": "Meedenken over de melding"})
    assert r.status_code in (200, 201), r.json
    for case in (alone, shared):
        assert client.get(f"/api/v1/cases/{case['id']}",
                          headers=people.auth("af")).status_code == 403
        assert informed(case["id"]) == []
        r = complete(client, people, "mw", task_of(case, "melding_doen"), MELDEN.decisions)
        assert r.status_code == 200, r.json
    # no aandachtsfunctionaris was involved: all of them; else the one involved
    [event] = informed(alone["id"])
    assert (event.actor, event.step, event.data) == ("systeem", "melding_doen",
                                                     {"recipients": ["af", "af2", "lg"]})
    [event] = informed(shared["id"])
    assert event.data == {"recipients": ["af2", "lg"]}
    history = client.get(f"/api/v1/cases/{alone['id']}/history", headers=people.auth("af")).json
    done = next(i for i, e in enumerate(history) if e["step"] == "melding_doen")
    assert history[done + 1]["action"] == "informed"
    assert history[done + 1]["data"]["recipients"] == ["af", "af2", "lg"]
    for who in ("af", "af2", "lg"):
        assert client.get(f"/api/v1/cases/{alone['id']}", headers=people.auth(who)).status_code == 200
    assert client.get(f"/api/v1/cases/{shared['id']}", headers=people.auth("af2")).status_code == 200
    assert client.get(f"/api/v1/cases/{shared['id']}", headers=people.auth("af")).status_code == 403
    for case in (alone, shared):
        assert verified(client, people, case["id"])["ok"], verified(client, people, case["id"])


def test_the_afstemming_goes_to_the_owners_leidinggevende_or_any_when_none(client, people):
    add_user(people, "lg2", ["leidinggevende"])
    # mw's leidinggevende is lg: another leidinggevende neither sees nor completes it
    team = walk_owner(client, people, start(client, people, ref="C-team"), HULP.decisions,
                      "besluit_afstemmen")
    task = task_of(team, "besluit_afstemmen")
    assert my_steps(client, people, "lg2", team["id"]) == []
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=people.auth("lg2")).status_code == 403
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", headers=people.auth("lg2"),
                       json={"data": {"afstemming_besproken": True,
                                      "afstemming_oordeel": "x"}}).status_code == 403
    assert client.get(f"/api/v1/cases/{team['id']}", headers=people.auth("lg2")).status_code == 403
    # mw2 has no leidinggevende: any leidinggevende gets it, and may read the case
    loose = walk_owner(client, people, start(client, people, "mw2", "C-los"), HULP.decisions,
                       "besluit_afstemmen", owner="mw2")
    task = task_of(loose, "besluit_afstemmen")
    for who in ("lg", "lg2"):
        assert my_steps(client, people, who, loose["id"]) == ["besluit_afstemmen"]
        assert client.get(f"/api/v1/cases/{loose['id']}", headers=people.auth(who)).status_code == 200
    r = complete(client, people, "lg2", task, {"afstemming_besproken": False})
    assert r.status_code == 200, r.json
    assert r.json["data"]["afstemming_besproken"] is False
    assert [e["actor"] for e in client.get(f"/api/v1/cases/{loose['id']}/history",
                                           headers=people.auth("mw2")).json
            if e["step"] == "besluit_afstemmen"] == ["lg2"]
    for case in (team, loose):
        assert verified(client, people, case["id"])["ok"], verified(client, people, case["id"])


def test_a_switched_off_leidinggevende_strands_no_afstemming(client, people):
    """mw's leidinggevende lg leaves (`meldcode user deactivate`): mw has no leidinggevende
    from then on, so the open afstemming goes to every leidinggevende, not to nobody."""
    from tests.helpers import cli

    add_user(people, "lg2", ["leidinggevende"])
    case = walk_owner(client, people, start(client, people, ref="C-weg"), HULP.decisions,
                      "besluit_afstemmen")
    task = task_of(case, "besluit_afstemmen")
    assert my_steps(client, people, "lg2", case["id"]) == []
    result = cli("user", "deactivate", "lg")
    assert result.exit_code == 0, result.output
    with store.unit_of_work() as session:
        assert users.get_user(session, "mw").manager_id is None
    assert my_steps(client, people, "lg2", case["id"]) == ["besluit_afstemmen"]
    r = complete(client, people, "lg2", task, {"afstemming_besproken": True})
    assert r.status_code == 200, r.json
    r = client.get("/api/v1/admin-log", headers=people.auth("aud"))
    [entry] = [e for e in r.json if e["action"] == "user_deactivated"]
    assert entry["detail"]["reports"] == ["mw"]
    assert verified(client, people, case["id"])["ok"], verified(client, people, case["id"])


def test_help_is_evaluated_on_its_date_not_before(client, people):
    with clock.use(Ticking(T0)) as now:
        case = walk_owner(client, people, start(client, people), HULP.decisions,
                          "hulp_organiseren")
        r = complete(client, people, "mw", task_of(case, "hulp_organiseren"),
                     {**HULP.decisions, "hulp_evaluatiedatum": "2026-12-15"})
        assert r.status_code == 200, r.json
        assert "hulp_evalueren" not in [t["step"] for t in r.json["tasks"]]
        # 23:59 on the 14th in Amsterdam: not yet; 00:00 on the 15th: ready
        now.set(datetime(2026, 12, 14, 22, 59, tzinfo=UTC))
        scheduler.run_due()
        steps = [t["step"] for t in client.get(f"/api/v1/cases/{case['id']}",
                                               headers=people.auth("mw")).json["tasks"]]
        assert "hulp_evalueren" not in steps
        now.set(datetime(2026, 12, 14, 23, 0, tzinfo=UTC))
        assert scheduler.run_due() == 1
        again = client.get(f"/api/v1/cases/{case['id']}", headers=people.auth("mw")).json
        assert "hulp_evalueren" in [t["step"] for t in again["tasks"]]
    [fired] = [e for e in events_of(case["id"]) if e.action == "timer_fired"]
    assert fired.step == "wacht_evaluatiedatum"
    assert verified(client, people, case["id"])["ok"], verified(client, people, case["id"])
