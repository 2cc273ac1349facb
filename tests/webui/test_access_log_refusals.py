"""NEN 7513: every attempt to read or change a case is in the access log, refused ones
included (CONTRACT section 4), and so is every list that shows a client reference.

A refused change keeps outcome "denied" (the contract allows only "ok" | "denied"); the
reason rides in the action, as the log has no detail column: `complete_task` (403),
`complete_task:invalid` (422), `complete_task:conflict` (409), and the same for `hand_over`
and `share`. Lists log one line per case shown (see engine/listings.py for why). Every test
runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import models, store, tasks
from tests.helpers import LANE_PEOPLE, Client, text
from tests.scenarios.paths import SCENARIOS, fill

SHORT = next(s for s in SCENARIOS if s.name == "zorgen_weggenomen")
NUL = "\x00"


def lines(case_id: int) -> list[tuple[str, str, str]]:
    with store.unit_of_work() as session:
        rows = session.scalars(
            select(models.AccessLogEntry).where(models.AccessLogEntry.case_id == case_id)
            .order_by(models.AccessLogEntry.id))
        return [(r.user, r.action, r.outcome) for r in rows]


def new_lines(case_id: int, before: list) -> list[tuple[str, str, str]]:
    return lines(case_id)[len(before):]


def start(client, people, who="mw", ref="C-LOG-1"):
    r = client.post("/api/v1/cases", json={"client_ref": ref, "reason": "zorgen"},
                    headers=people.auth(who))
    assert r.status_code == 201, r.json
    return r.json


def form(client, people, task_id, who="mw"):
    return client.get(f"/api/v1/tasks/{task_id}", headers=people.auth(who)).json["form"]["fields"]


def finish(client, people, case, scenario=SHORT, who="mw"):
    while case["tasks"]:
        task_id = case["tasks"][0]["id"]
        lane = case["tasks"][0]["lane"]  # another lane's task: that lane's person (lg)
        actor = who if lane == "medewerker" else LANE_PEOPLE[lane]
        r = client.post(f"/api/v1/tasks/{task_id}/complete", headers=people.auth(actor),
                        json={"data": fill(form(client, people, task_id, actor),
                                           scenario.decisions)})
        assert r.status_code == 200, r.json
        case = r.json
    return case


@pytest.fixture
def web(app, people):
    return Client(app)


# --- refused completions -------------------------------------------------------------------


def test_a_completion_refused_for_its_form_is_logged(client, people):
    case = start(client, people)
    task_id = case["tasks"][0]["id"]
    before = lines(case["id"])
    r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}},
                    headers=people.auth("mw"))
    assert r.status_code == 422
    assert new_lines(case["id"], before) == [("mw", "complete_task:invalid", "denied")]


def test_a_nul_in_a_form_answer_is_a_logged_422(client, people):
    case = start(client, people)
    task_id = case["tasks"][0]["id"]
    data = fill(form(client, people, task_id), SHORT.decisions)
    text_field = next(k for k, v in data.items() if isinstance(v, str) and len(v) > 3)
    data[text_field] = "a" + NUL + "b"
    before = lines(case["id"])
    r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data},
                    headers=people.auth("mw"))
    assert r.status_code == 422, r.json
    assert text_field in r.json["errors"]
    assert new_lines(case["id"], before) == [("mw", "complete_task:invalid", "denied")]


def test_completing_a_task_again_is_a_logged_409(client, people):
    case = start(client, people)
    task_id = case["tasks"][0]["id"]
    data = fill(form(client, people, task_id), SHORT.decisions)
    ok = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data},
                     headers=people.auth("mw"))
    assert ok.status_code == 200
    before = lines(case["id"])
    again = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data},
                        headers=people.auth("mw"))
    assert again.status_code == 409
    assert new_lines(case["id"], before) == [("mw", "complete_task:conflict", "denied")]


def test_a_forbidden_completion_is_still_logged_as_before(client, people):
    case = start(client, people)
    task_id = case["tasks"][0]["id"]
    before = lines(case["id"])
    r = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}},
                    headers=people.auth("mw2"))
    assert r.status_code == 403
    assert new_lines(case["id"], before) == [("mw2", "complete_task", "denied")]


def test_refused_completions_through_the_web_form_are_logged(web, client, people):
    case = start(client, people)
    task_id = case["tasks"][0]["id"]
    web.login("mw")
    before = lines(case["id"])
    r = web.post(f"/taken/{task_id}", {})
    assert r.status_code == 422
    assert ("mw", "complete_task:invalid", "denied") in new_lines(case["id"], before)
    tasks.complete_task(people["mw"], task_id,
                          fill(form(client, people, task_id), SHORT.decisions))
    before = lines(case["id"])
    r = web.post(f"/taken/{task_id}", {"kindcheck_kinderen": "nee"})
    assert r.status_code == 409
    assert new_lines(case["id"], before)[-1] == ("mw", "complete_task:conflict", "denied")


# --- refused case starts ---------------------------------------------------------------------


def refused_starts() -> list[tuple[str, str, str]]:
    """The access-log lines of refused case starts: there is no case, so no case id."""
    with store.unit_of_work() as session:
        rows = session.scalars(
            select(models.AccessLogEntry).where(models.AccessLogEntry.case_id.is_(None),
                                                models.AccessLogEntry.action.like("create%"))
            .order_by(models.AccessLogEntry.id))
        return [(r.user, r.action, r.outcome) for r in rows]


def test_refused_case_starts_over_the_api_are_logged(client, people):
    r = client.post("/api/v1/cases", json={"client_ref": "a\nb"}, headers=people.auth("mw"))
    assert r.status_code == 422
    assert refused_starts() == [("mw", "create:invalid", "denied")]
    r = client.post("/api/v1/cases", json={"client_ref": "C-X"}, headers=people.auth("aud"))
    assert r.status_code == 403
    assert refused_starts()[-1] == ("aud", "create", "denied")
    start(client, people)  # a start that goes through: its line has its case
    assert len(refused_starts()) == 2


def test_a_case_start_without_an_active_version_is_a_logged_409(client, people):
    from sqlalchemy import update

    with store.unit_of_work(write=True) as session:
        session.execute(update(models.ProcessVersion).values(active=False))
    r = client.post("/api/v1/cases", json={"client_ref": "C-X"}, headers=people.auth("mw"))
    assert r.status_code == 409, r.json
    assert refused_starts() == [("mw", "create:conflict", "denied")]


def test_refused_case_starts_through_the_web_form_are_logged(web, people):
    web.login("mw")
    r = web.post("/casussen/nieuw", {"client_ref": "", "reason": ""})
    assert r.status_code == 422
    assert refused_starts() == [("mw", "create:invalid", "denied")]
    web.logout()
    web.login("aud")
    r = web.post("/casussen/nieuw", {"client_ref": "C-X", "reason": ""})
    assert r.status_code == 403
    assert refused_starts()[-1] == ("aud", "create", "denied")
    assert web.get("/casussen/nieuw").status_code == 403  # showing the form changes nothing
    assert len(refused_starts()) == 2


# --- refused hand-overs and shares -----------------------------------------------------------


def test_refused_handover_and_share_are_logged(client, people):
    case = start(client, people)
    before = lines(case["id"])
    r = client.post(f"/api/v1/cases/{case['id']}/handover", json={"user": "niemand",
                    "reason": "ziek"}, headers=people.auth("mw"))
    assert r.status_code == 422
    r = client.post(f"/api/v1/cases/{case['id']}/shares", json={"user": "af", "reason": NUL},
                    headers=people.auth("mw"))
    assert r.status_code == 422
    ok = client.post(f"/api/v1/cases/{case['id']}/shares", json={"user": "af",
                     "reason": "advies"}, headers=people.auth("mw"))
    assert ok.status_code == 200
    again = client.post(f"/api/v1/cases/{case['id']}/shares", json={"user": "af",
                        "reason": "advies"}, headers=people.auth("mw"))
    assert again.status_code == 409
    assert new_lines(case["id"], before) == [
        ("mw", "hand_over:invalid", "denied"), ("mw", "share:invalid", "denied"),
        ("mw", "share", "ok"), ("mw", "share:conflict", "denied")]


def test_a_handover_of_a_closed_case_is_a_logged_409(client, people):
    case = finish(client, people, start(client, people))
    assert case["status"] == "closed"
    before = lines(case["id"])
    r = client.post(f"/api/v1/cases/{case['id']}/handover", json={"user": "mw2",
                    "reason": "ziek"}, headers=people.auth("mw"))
    assert r.status_code == 409
    assert new_lines(case["id"], before) == [("mw", "hand_over:conflict", "denied")]


def test_refused_handover_through_the_web_is_logged(web, client, people):
    case = start(client, people)
    web.login("mw")
    before = lines(case["id"])
    r = web.post(f"/casussen/{case['id']}/overdragen", {"user": "mw2", "reason": "a" + NUL})
    assert r.status_code == 422
    assert "De tekst bevat een stuurteken (U+0000)" in text(r)  # the words of every text field
    r = web.post(f"/casussen/{case['id']}/delen", {"user": "mw2", "reason": "advies"})
    assert r.status_code == 422  # mw2 is no aandachtsfunctionaris
    shown = new_lines(case["id"], before)
    assert ("mw", "hand_over:invalid", "denied") in shown
    assert ("mw", "share:invalid", "denied") in shown


def test_the_auditor_reads_the_refusals_in_dutch(web, client, people):
    case = start(client, people)
    client.post(f"/api/v1/tasks/{case['tasks'][0]['id']}/complete", json={"data": {}},
                headers=people.auth("mw"))
    web.login("aud")
    page = text(web.get(f"/audit/casussen/{case['id']}/toegangslog"))
    assert "Stap afronden: niet goed ingevuld" in page
    log = client.get(f"/api/v1/cases/{case['id']}/access-log", headers=people.auth("aud")).json
    assert {"action": "complete_task:invalid", "outcome": "denied", "user": "mw"}.items() <= \
        next(e for e in log if e["action"] == "complete_task:invalid").items()


# --- lists that show client references -------------------------------------------------------


def test_mijn_casussen_logs_each_case_shown(web, client, people):
    mine = [start(client, people, "mw", f"C-MIJN-{i}") for i in range(3)]
    other = start(client, people, "mw2", "C-ANDER")
    web.login("mw")
    before = {c["id"]: lines(c["id"]) for c in [*mine, other]}
    page = text(web.get("/casussen"))
    assert all(c["client_ref"] in page for c in mine) and "C-ANDER" not in page
    for c in mine:
        assert new_lines(c["id"], before[c["id"]]) == [("mw", "list_cases", "ok")]
    assert new_lines(other["id"], before[other["id"]]) == []


def test_the_inbox_logs_each_case_it_names(web, client, people):
    mine = [start(client, people, "mw", f"C-TAAK-{i}") for i in range(2)]
    other = start(client, people, "mw2", "C-ANDER")
    web.login("mw")
    before = {c["id"]: lines(c["id"]) for c in [*mine, other]}
    page = text(web.get("/"))
    assert all(c["client_ref"] in page for c in mine)
    for c in mine:
        assert new_lines(c["id"], before[c["id"]]) == [("mw", "list_inbox", "ok")]
    assert new_lines(other["id"], before[other["id"]]) == []


def test_the_auditors_search_logs_each_case_shown(web, client, people):
    cases = [start(client, people, "mw", f"C-ZOEK-{i}") for i in range(2)]
    closed = finish(client, people, start(client, people, "mw", "C-DICHT"))
    web.login("aud")
    before = {c["id"]: lines(c["id"]) for c in [*cases, closed]}
    page = text(web.get("/audit/casussen?status=open"))
    assert all(c["client_ref"] in page for c in cases) and "C-DICHT" not in page
    for c in cases:
        assert new_lines(c["id"], before[c["id"]]) == [("aud", "list_search", "ok")]
    assert new_lines(closed["id"], before[closed["id"]]) == []
    with store.unit_of_work() as session:  # that a search was made stays logged as well
        searches = session.scalars(select(models.AccessLogEntry).where(
            models.AccessLogEntry.case_id.is_(None), models.AccessLogEntry.action == "search"))
        assert [(e.user, e.outcome) for e in searches] == [("aud", "ok")]
