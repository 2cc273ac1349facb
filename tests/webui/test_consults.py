"""Consultations and notifications through the API (CONTRACT section 5), on SQLite and
PostgreSQL: asking, the consulted person's task, notification and read access, answering
through the normal task endpoints, withdrawal when the case closes, and verify."""

from sqlalchemy import update

from engine import models, pages, store
from tests.helpers import run_sql, verify
from tests.scenarios.paths import LONGEST, fill


def api(client, people, who, method, path, **kw):
    return client.open(path, method=method, headers=people.auth(who), **kw)


def start(client, people, ref="C-raad"):
    r = api(client, people, "mw", "POST", "/api/v1/cases", json={"client_ref": ref,
                                                                 "reason": "geheime reden"})
    assert r.status_code == 201
    return r.get_json()


def complete_first(client, people, case):
    task = case["tasks"][0]
    detail = api(client, people, "mw", "GET", f"/api/v1/tasks/{task['id']}").get_json()
    r = api(client, people, "mw", "POST", f"/api/v1/tasks/{task['id']}/complete",
            json={"data": fill(detail["form"]["fields"], LONGEST.decisions)})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_consult_gives_a_task_a_notification_and_read_access(client, people):
    case = start(client, people)
    path = f"/api/v1/cases/{case['id']}/consults"
    # the aandachtsfunctionaris may not read the case before
    assert api(client, people, "af", "GET", f"/api/v1/cases/{case['id']}").status_code == 403

    r = api(client, people, "mw", "POST", path, json={"user": "af", "question": "Wat nu?"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) == {"id", "task_id"}

    # the consulted person reads the case, has the task in the task list, and a notification
    assert api(client, people, "af", "GET", f"/api/v1/cases/{case['id']}").status_code == 200
    # the case is in their "Mijn casussen" too
    assert case["id"] in [c["id"] for c in pages.list_cases(people["af"])["cases"]]
    listed = api(client, people, "af", "GET", "/api/v1/tasks").get_json()
    task = next(t for t in listed if t["id"] == body["task_id"])
    assert task["step"] == "consult" and task["lane"] == "aandachtsfunctionaris"
    detail = api(client, people, "af", "GET", f"/api/v1/tasks/{task['id']}").get_json()
    assert [f["name"] for f in detail["form"]["fields"]] == ["antwoord"]
    assert detail["form"]["fields"][0]["required"] is True
    assert "Wat nu?" in detail["documentation"]
    notes = api(client, people, "af", "GET", "/api/v1/notifications").get_json()
    assert [(n["kind"], n["case_id"], n["task_id"], n["read"]) for n in notes] == [
        ("consult", case["id"], task["id"], False)]
    assert "C-raad" not in notes[0]["text"] and "geheime" not in notes[0]["text"]
    english = client.get("/api/v1/notifications",
                         headers={**people.auth("af"), "Accept-Language": "en"}).get_json()
    assert english[0]["text"] == f"mw asks for your advice on case {case['id']}."
    assert notes[0]["text"] == f"mw vraagt uw advies over casus {case['id']}."
    # nobody else gets that task; the owner may not answer it
    assert all(t["id"] != task["id"] for t in api(client, people, "mw", "GET",
                                                  "/api/v1/tasks").get_json())
    complete = f"/api/v1/tasks/{task['id']}/complete"
    assert api(client, people, "mw", "POST", complete,
               json={"data": {"antwoord": "x"}}).status_code == 403
    assert api(client, people, "af", "POST", complete,
               json={"data": {"antwoord": "  "}}).get_json()["errors"].keys() == {"antwoord"}

    # answered through the normal task endpoint; the case goes on meanwhile
    case = complete_first(client, people, case)
    r = api(client, people, "af", "POST", complete, json={"data": {"antwoord": "Bel VT."}})
    assert r.status_code == 200, r.get_json()
    assert "consult" not in r.get_json()["completed_steps"]
    assert api(client, people, "af", "POST", complete,
               json={"data": {"antwoord": "nog eens"}}).status_code == 409
    history = api(client, people, "mw", "GET", f"/api/v1/cases/{case['id']}/history").get_json()
    actions = [(e["action"], e["data"]) for e in history if e["action"].startswith("consult")]
    assert actions == [("consult_requested", {"user": "af", "question": "Wat nu?"}),
                       ("consult_answered", {"antwoord": "Bel VT."})]
    assert verify(case["id"])[case["id"]].ok

    # marking read: one's own only
    note = notes[0]["id"]
    assert api(client, people, "mw", "POST", f"/api/v1/notifications/{note}/read").status_code == 404
    r = api(client, people, "af", "POST", f"/api/v1/notifications/{note}/read")
    assert r.status_code == 204 and r.get_data() == b""
    assert api(client, people, "af", "GET", "/api/v1/notifications").get_json()[0]["read"] is True
    assert api(client, people, "af", "POST",
               "/api/v1/notifications/999999/read").status_code == 404


def test_a_consult_opens_the_case_to_the_person_asked_only(client, people):
    """Another aandachtsfunctionaris, not asked, neither reads the case nor finds it in their
    list, before or after the consult is answered (the consult task's lane is no task of the
    aandachtsfunctionaris lane of the diagram)."""
    from engine import users

    with store.unit_of_work(write=True) as session:
        other = users.Principal.of(users.create_user(
            session, "af2", ["aandachtsfunctionaris"], "een-lang-genoeg-wachtwoord-9"))
    case = start(client, people)
    r = api(client, people, "mw", "POST", f"/api/v1/cases/{case['id']}/consults",
            json={"user": "af", "question": "Alleen voor af"})
    assert r.status_code == 201, r.get_json()
    task_id = r.get_json()["task_id"]

    def af2_sees() -> tuple[bool, bool]:
        with store.unit_of_work() as session:
            case_row = session.get(models.Case, case["id"])
            readable = users.may_read_case(session, other, case_row)
        listed = case["id"] in [c["id"] for c in pages.list_cases(other)["cases"]]
        return readable, listed

    assert af2_sees() == (False, False)
    r = api(client, people, "af", "POST", f"/api/v1/tasks/{task_id}/complete",
            json={"data": {"antwoord": "Bel VT."}})
    assert r.status_code == 200, r.get_json()
    assert af2_sees() == (False, False)
    assert case["id"] in [c["id"] for c in pages.list_cases(people["af"])["cases"]]


def test_consult_refusals(client, people):
    case = start(client, people)
    path = f"/api/v1/cases/{case['id']}/consults"
    for payload, field in (({"user": "mw2", "question": "?"}, "user"),
                           ({"user": "aud", "question": "?"}, "user"),
                           ({"user": "mw", "question": "?"}, "user"),
                           ({"user": "af", "question": "   "}, "question"),
                           ({"user": "af"}, "question")):
        r = api(client, people, "mw", "POST", path, json=payload)
        assert r.status_code == 422 and field in r.get_json()["errors"], (payload, r.get_json())
    assert api(client, people, "mw2", "POST", path,
               json={"user": "af", "question": "?"}).status_code == 403
    assert api(client, people, "af", "POST", path,
               json={"user": "lg", "question": "?"}).status_code == 403
    assert api(client, people, "mw", "POST", "/api/v1/cases/999999/consults",
               json={"user": "af", "question": "?"}).status_code == 404
    # the owner's leidinggevende asks an aandachtsfunctionaris; the owner asks the leidinggevende
    assert api(client, people, "lg", "POST", path,
               json={"user": "af", "question": "Mee kijken?"}).status_code == 201
    r = api(client, people, "mw", "POST", path, json={"user": "lg", "question": "Akkoord?"})
    assert r.status_code == 201
    lg_tasks = api(client, people, "lg", "GET", "/api/v1/tasks").get_json()
    assert [t["lane"] for t in lg_tasks if t["id"] == r.get_json()["task_id"]] == ["leidinggevende"]
    with store.unit_of_work(write=True) as session:
        session.execute(update(models.Case).where(models.Case.id == case["id"])
                        .values(status="closed"))
    assert api(client, people, "mw", "POST", path,
               json={"user": "af", "question": "?"}).status_code == 409


def test_an_open_consult_is_withdrawn_when_the_case_closes(client, people):
    case = start(client, people, "C-dicht")
    r = api(client, people, "mw", "POST", f"/api/v1/cases/{case['id']}/consults",
            json={"user": "af", "question": "Nog iets?"})
    task_id = r.get_json()["task_id"]
    while case["status"] == "open":
        case["tasks"] = [t for t in case["tasks"] if t["step"] != "consult"]
        task = LONGEST.pick(case["tasks"])
        who = {"medewerker": "mw", "leidinggevende": "lg", "aandachtsfunctionaris": "af"}[
            task["lane"]]
        detail = api(client, people, who, "GET", f"/api/v1/tasks/{task['id']}").get_json()
        r = api(client, people, who, "POST", f"/api/v1/tasks/{task['id']}/complete",
                json={"data": fill(detail["form"]["fields"], LONGEST.decisions)})
        assert r.status_code == 200, r.get_json()
        case = r.get_json()
        if case["status"] == "open":
            assert task_id in [t["id"] for t in case["tasks"]]  # never cancelled by a step
    assert case["tasks"] == [] and "consult" not in case["completed_steps"]
    history = api(client, people, "mw", "GET", f"/api/v1/cases/{case['id']}/history").get_json()
    assert history[-1]["action"] == "consult_withdrawn" and history[-1]["task_id"] == task_id
    assert api(client, people, "af", "POST", f"/api/v1/tasks/{task_id}/complete",
               json={"data": {"antwoord": "te laat"}}).status_code == 409
    assert verify(case["id"])[case["id"]].ok


def test_verify_catches_a_changed_consult(client, people, db_url):
    case = start(client, people, "C-knoei")
    asked = api(client, people, "mw", "POST", f"/api/v1/cases/{case['id']}/consults",
                json={"user": "af", "question": "Klopt dit?"}).get_json()
    r = api(client, people, "af", "POST", f"/api/v1/tasks/{asked['task_id']}/complete",
            json={"data": {"antwoord": "Ja."}})
    assert r.status_code == 200 and verify(case["id"])[case["id"]].ok
    # the consult's task row put back to ready behind the history's back
    run_sql(db_url, "UPDATE tasks SET state = 'ready' WHERE id = :id", id=asked["task_id"])
    problems = [str(p) for p in verify(case["id"])[case["id"]].problems]
    assert any("raadplegingen" in p for p in problems), problems
    run_sql(db_url, "UPDATE tasks SET state = 'completed' WHERE id = :id", id=asked["task_id"])
    assert verify(case["id"])[case["id"]].ok
    # the answer edited in the history: the chain is broken
    run_sql(db_url, "UPDATE history_events SET data = '{\"antwoord\": \"Nee.\"}' "
                    "WHERE action = 'consult_answered'")
    assert not verify(case["id"])[case["id"]].ok
