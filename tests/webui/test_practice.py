"""Practice mode (issue 14 point 5): a medewerker starts a fictional case on /oefenen and walks
the real diagram; the case is marked on every page, only its owner reaches it, it is in no real
list, inbox, team overview, auditor search, API task list or `meldcode cases`, nobody else is
notified, mailed or informed, and `meldcode verify --all` checks it (and catches a case turned
into a practice case, or back, in the database)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from engine import models, reminders, store
from tests.helpers import Client, cli, dutch_in, english, run_sql, text, use_smtp
from tests.scenarios.paths import fill

BANNER = "Oefenmodus: een verzonnen casus, geen echte cliënt."
# a route through the melding, with the forms of violence that call in a deskundige
MELDEN = {"geweldsvormen": ["huwelijksdwang", "achterlating"], "kindcheck_kinderen": False,
          "advies_veilig_thuis": True, "gesprek_uitzondering": "veiligheid",
          "vermoeden": True, "acute_onveiligheid": False, "structurele_onveiligheid": True,
          "hulp_mogelijk": False, "hulp_aanvaard": False, "melding_uitzondering": "geen",
          "pleger_zorgverlener": True}


def _login(app, name: str) -> Client:
    browser = Client(app)
    browser.login(name)
    return browser


def _web_form(fields: list[dict], decisions: dict) -> dict:
    """fill()'s answers as the task page's HTML form posts them (ja/nee, ticked boxes)."""
    posted: dict = {}
    for name, value in fill(fields, decisions).items():
        posted[name] = ("ja" if value else "nee") if isinstance(value, bool) else value
    return posted


def _start(browser: Client, scenario: str = "zomer") -> tuple[int, str]:
    """Start a practice case on the practice page: (case id, first task id)."""
    assert browser.get("/oefenen").status_code == 200
    started = browser.post("/oefenen", {"scenario": scenario})
    assert started.status_code == 302, text(started)
    task_id = started.headers["Location"].rsplit("/taken/", 1)[1]
    with store.unit_of_work() as session:
        case_id = session.scalar(select(models.TaskRecord.case_id)
                                 .where(models.TaskRecord.id == task_id))
    return case_id, task_id


def _walk(client, people, case_id: int, decisions: dict, owner: str = "mw") -> dict:
    """The owner completes every ready task of the case through the API, whatever its lane."""
    case = client.get(f"/api/v1/cases/{case_id}", headers=people.auth(owner)).json
    for _ in range(40):
        if not case["tasks"]:
            return case
        task = client.get(f"/api/v1/tasks/{case['tasks'][0]['id']}", headers=people.auth(owner))
        assert task.status_code == 200, task.json
        done = client.post(f"/api/v1/tasks/{task.json['id']}/complete", headers=people.auth(owner),
                           json={"data": fill(task.json["form"]["fields"], decisions)})
        assert done.status_code == 200, done.json
        case = done.json
    raise AssertionError("the case did not close")


def test_a_practice_case_is_started_and_walked_on_the_web_marked_on_every_page(ui_app,
                                                                               sqlite_people):
    mw = _login(ui_app, "mw")
    page = mw.get("/oefenen")
    assert page.status_code == 200
    body = text(page)
    assert BANNER in body and 'class="practice-mode"' in body
    assert "Een scholiere die bang is voor de zomervakantie" in body
    assert re.search(r"<title>Oefening · Oefenen", body)
    case_id, task_id = _start(mw)
    # the first task: the real form of stap 1, the banner and the scenario's hint
    task_page = text(mw.get(f"/taken/{task_id}"))
    assert BANNER in task_page and re.search(r"<title>Oefening · ", task_page)
    assert "Kies huwelijksdwang en achterlating" in task_page
    assert 'name="geweldsvormen"' in task_page
    with store.unit_of_work() as session:
        case = session.get_one(models.Case, case_id)
        assert case.practice is True
        assert case.client_ref == "Oefening: scholiere van 15 en de zomervakantie"
    fields = ui_app.test_client().get(f"/api/v1/tasks/{task_id}",
                                      headers=sqlite_people.auth("mw")).json["form"]["fields"]
    walked = mw.post(f"/taken/{task_id}", _web_form(fields, MELDEN))
    assert walked.status_code == 302, text(walked)
    # stap 2 is next, with its hint; the case page is marked too
    next_page = text(mw.get(walked.headers["Location"]))
    assert BANNER in next_page and "Bij deze vormen vraagt u altijd advies" in next_page
    case_page = text(mw.get(f"/casussen/{case_id}"))
    assert BANNER in case_page and re.search(r"<title>Oefening · ", case_page)
    assert BANNER in text(mw.get(f"/casussen/{case_id}/afdrukken"))
    # the practice page lists it, with its open step
    listed = text(mw.get("/oefenen"))
    assert f"/casussen/{case_id}" in listed and "/taken/" in listed
    # a real case's pages carry no mark
    real = ui_app.test_client().post("/api/v1/cases", json={"client_ref": "C-echt"},
                                     headers=sqlite_people.auth("mw")).json
    for path in (f"/casussen/{real['id']}", f"/taken/{real['tasks'][0]['id']}", "/casussen",
                 "/"):
        shown = text(mw.get(path, follow_redirects=True))
        assert BANNER not in shown and "practice-mode" not in shown, path


def test_practice_cases_are_kept_apart_from_real_ones(app, people, monkeypatch):
    # mail configured and everyone with an address: any notification would be mailed too
    use_smtp(monkeypatch, 2525, {name: f"{name}@zorg.example" for name in ("mw", "lg", "af")})
    api = app.test_client()
    mw = _login(app, "mw")
    case_id, task_id = _start(mw, "peuter")
    real = api.post("/api/v1/cases", json={"client_ref": "C-echt"}, headers=people.auth("mw")).json
    # not in Mijn casussen, Mijn taken, the API's task list
    assert "Oefening:" not in text(mw.get("/casussen")) and "C-echt" in text(mw.get("/casussen"))
    inbox = text(mw.get("/"))
    assert task_id not in inbox and real["tasks"][0]["id"] in inbox
    listed = api.get("/api/v1/tasks", headers=people.auth("mw")).json
    assert [t["case_id"] for t in listed] == [real["id"]]
    # a practice case is never started through the API: the key is unknown there
    refused = api.post("/api/v1/cases", json={"client_ref": "x", "practice": True},
                       headers=people.auth("mw"))
    assert refused.status_code == 422 and "practice" in refused.json["errors"]
    # only its owner reaches it; an auditor may open it by number (CONTRACT section 2)
    for name in ("mw2", "lg", "af"):
        other = _login(app, name)
        assert other.get(f"/casussen/{case_id}").status_code == 403, name
        assert other.get(f"/taken/{task_id}").status_code == 403, name
        assert api.get(f"/api/v1/cases/{case_id}", headers=people.auth(name)).status_code == 403
        assert api.get(f"/api/v1/tasks/{task_id}", headers=people.auth(name)).status_code == 403
    # handing over, sharing and consulting are refused: it stays with its owner
    for path, body in (("handover", {"user": "mw2", "reason": "oefening"}),
                       ("shares", {"user": "af", "reason": "oefening"}),
                       ("consults", {"user": "lg", "question": "Klopt dit?"})):
        r = api.post(f"/api/v1/cases/{case_id}/{path}", json=body, headers=people.auth("mw"))
        assert r.status_code == 409 and "oefencasus" in r.json["error"], (path, r.json)
    # walked to its end by its owner alone, every lane included (besluit_afstemmen, melding_igj)
    case = _walk(api, people, case_id, MELDEN)
    assert case["status"] == "closed" and case["uitkomst"] == "gemeld"
    assert {"besluit_afstemmen", "melding_igj", "deskundige_raadplegen"} <= set(
        case["completed_steps"])
    with store.unit_of_work() as session:
        notes = session.scalar(select(func.count()).select_from(models.Notification)
                               .where(models.Notification.case_id == case_id))
        informed = session.scalars(select(models.HistoryEvent.data).where(
            models.HistoryEvent.case_id == case_id, models.HistoryEvent.action == "informed")
        ).all()
        actors = set(session.scalars(select(models.TaskRecord.completed_by).where(
            models.TaskRecord.case_id == case_id, models.TaskRecord.state == "completed")))
    assert notes == 0  # nobody was told of a task, a melding or anything else
    with store.unit_of_work() as session:
        assert not session.scalar(select(func.count()).select_from(models.MailOutbox))
    assert informed and all(d == {"recipients": []} for d in informed)
    assert actors == {"mw"}
    # the leidinggevende's team overview, the auditor's search and `meldcode cases` skip it
    lg = _login(app, "lg")
    team = text(lg.get("/team"))
    assert "C-echt" in team and "Oefening:" not in team
    aud = _login(app, "aud")
    search = text(aud.get("/audit/casussen"))
    assert "C-echt" in search and "Oefening:" not in search
    assert "Oefening:" not in text(aud.get("/audit/casussen?client_ref=Oefening"))
    # an auditor who opens it by number reads it as practice, marked like its owner's pages
    for path in (f"/casussen/{case_id}", f"/audit/casussen/{case_id}",
                 f"/audit/casussen/{case_id}/toegangslog"):
        shown = aud.get(path)
        assert shown.status_code == 200 and BANNER in text(shown), path
    assert BANNER not in text(aud.get(f"/audit/casussen/{real['id']}"))
    open_practice = _start(mw, "geld")[0]
    listing = cli("cases")
    assert listing.exit_code == 0
    assert [line.split("\t")[0] for line in listing.stdout.splitlines()] == [str(real["id"])]
    assert open_practice != real["id"]
    # reminders a month on: for the real case's open step, none for the practice case's
    assert reminders.send_reminders(datetime.now(UTC) + timedelta(days=30)) > 0
    with store.unit_of_work() as session:
        reminded = set(session.scalars(select(models.Notification.case_id)))
    assert real["id"] in reminded and open_practice not in reminded
    # its dossier says it is practice
    dossier = api.get(f"/casussen/{case_id}/dossier.json")  # not signed in: no dossier
    assert dossier.status_code in (302, 401)
    exported = mw.get(f"/casussen/{case_id}/dossier.json")
    assert exported.status_code == 200 and exported.json["case"]["practice"] is True
    real_dossier = mw.get(f"/casussen/{real['id']}/dossier.json").json
    assert "practice" not in real_dossier["case"]


def test_an_unknown_scenario_is_refused_and_only_case_starters_practise(ui_app, sqlite_people):
    mw = _login(ui_app, "mw")
    mw.get("/oefenen")
    refused = mw.post("/oefenen", {"scenario": "onbekend"})
    assert refused.status_code == 422 and "Kies een oefening." in text(refused)
    with store.unit_of_work() as session:
        assert not session.scalar(select(func.count()).select_from(models.Case))
    assert _login(ui_app, "pb").get("/oefenen").status_code == 403


def test_verify_checks_practice_cases_and_catches_a_case_turned_into_one(app, people, db_url):
    api = app.test_client()
    mw = _login(app, "mw")
    case_id, _task = _start(mw)
    _walk(api, people, case_id, MELDEN)
    real = api.post("/api/v1/cases", json={"client_ref": "C-echt"},
                    headers=people.auth("mw")).json
    assert cli("verify", "--all").exit_code == 0
    # hiding a real case among the practice cases (out of every figure) shows
    run_sql(db_url, "UPDATE cases SET practice = :yes WHERE id = :id", yes=True, id=real["id"])
    found = cli("verify", "--all")
    assert found.exit_code == 1 and f"casus {real['id']}" in found.output, found.output
    assert f"casus {case_id}: in orde" in found.output
    # and so does a practice case made to look real
    run_sql(db_url, "UPDATE cases SET practice = :no WHERE id = :id", no=False, id=case_id)
    found = cli("verify", "--all")
    assert found.exit_code == 1 and f"casus {case_id}: NIET IN ORDE" in found.output


def test_practice_pages_in_english(ui_app, sqlite_people):
    browser = english(Client(ui_app), "mw")
    page = browser.get("/oefenen")
    assert page.status_code == 200
    assert "Practice mode: a made-up case, not a real client." in text(page)
    # the product's own words all English; the client reference is data (Dutch as stored)
    assert dutch_in(text(page)) == []
    started = browser.post("/oefenen", {"scenario": "peuter"})
    task_page = browser.get(started.headers["Location"])
    task = text(task_page)
    assert "Tip for this step:" in task and "physical violence against a child" in task
    # the practice case's reference and situation are the product's words: in English too
    # (stored as the Dutch text, as the API gives them)
    assert "Practice: a toddler at the day nursery" in task
    assert "Oefening: peuter" not in task
    case_id = re.search(r"/casussen/(\d+)", task_page.get_data(as_text=True)).group(1)
    case_page = text(browser.get(f"/casussen/{case_id}"))
    assert "Practice: a toddler at the day nursery" in case_page
    assert "You work at a day nursery" in case_page or "day nursery" in case_page
    assert "Oefening: peuter" not in case_page and "U werkt op een kinderopvang" not in case_page
    inbox = text(browser.get("/"))
    assert "Oefening: peuter" not in inbox


def test_the_error_pages_and_the_viewers_page_of_a_practice_case_are_marked(ui_app,
                                                                             sqlite_people):
    """Every page of a practice case carries the mark, its error pages too: the owner's 409
    for handing over, sharing or consulting and an auditor's 403 on its task, and the
    auditor's 'wie heeft dit dossier ingezien'. Someone who may not read it gets a 403 without
    the mark (nothing said about the case)."""
    mw = _login(ui_app, "mw")
    case_id, task_id = _start(mw, "peuter")
    mw.get(f"/casussen/{case_id}")
    for path, form in ((f"/casussen/{case_id}/overdragen", {"user": "mw2", "reason": "x"}),
                       (f"/casussen/{case_id}/delen", {"user": "af", "reason": "x"}),
                       (f"/casussen/{case_id}/raadplegen", {"user": "lg", "question": "x?"})):
        refused = mw.post(path, form)
        assert refused.status_code == 409 and "oefencasus" in text(refused), path
        assert BANNER in text(refused) and "<title>Oefening · " in text(refused), path
    aud = _login(ui_app, "aud")
    assert BANNER in text(aud.get(f"/audit/casussen/{case_id}/inzage"))
    refused = aud.get(f"/taken/{task_id}")
    assert refused.status_code == 403 and BANNER in text(refused)
    other = _login(ui_app, "mw2")
    for path in (f"/casussen/{case_id}", f"/taken/{task_id}"):
        response = other.get(path)
        assert response.status_code == 403 and BANNER not in text(response), path
    # a real case's error page carries no mark
    real = ui_app.test_client().post("/api/v1/cases", json={"client_ref": "C-echt"},
                                     headers=sqlite_people.auth("mw")).json
    mw.get(f"/casussen/{real['id']}")
    wrong = mw.post(f"/casussen/{real['id']}/raadplegen", {"user": "mw2", "question": "x?"})
    assert wrong.status_code in (409, 422) and BANNER not in text(wrong)


def test_the_owners_leidinggevende_cannot_act_on_a_practice_case(app, people):
    """The owner's leidinggevende may hand over, share and consult on the owner's real cases,
    but does not read a practice case: 403 as for anyone else who may not read it (logged),
    not the owner's 409 that would tell them it is a practice case."""
    from engine import practice

    case_id = practice.start(people["mw"], "peuter")["id"]
    api = app.test_client()
    for path, body in (("handover", {"user": "mw2", "reason": "oefening"}),
                       ("shares", {"user": "af", "reason": "oefening"}),
                       ("consults", {"user": "lg", "question": "Klopt dit?"})):
        r = api.post(f"/api/v1/cases/{case_id}/{path}", json=body, headers=people.auth("lg"))
        assert r.status_code == 403 and "oefencasus" not in r.json["error"], (path, r.json)
        mine = api.post(f"/api/v1/cases/{case_id}/{path}", json=body, headers=people.auth("mw"))
        assert mine.status_code == 409, (path, mine.json)
    with store.unit_of_work() as session:
        refused = session.scalars(select(models.AccessLogEntry.action).where(
            models.AccessLogEntry.case_id == case_id, models.AccessLogEntry.user == "lg",
            models.AccessLogEntry.outcome == "denied")).all()
    assert len(refused) == 3


def test_the_dossier_pdf_of_a_practice_case_says_so_on_its_pages(ui_app, sqlite_people):
    """The dossier PDF of a practice case, read back with pdftotext: the Oefenmodus mark and
    'Oefening' in the running head of its pages; a real case's PDF has neither."""
    import shutil
    import subprocess

    import pytest

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    mw = _login(ui_app, "mw")
    case_id, _task = _start(mw, "geld")
    real = ui_app.test_client().post("/api/v1/cases", json={"client_ref": "C-echt"},
                                     headers=sqlite_people.auth("mw")).json

    def read(number: int) -> str:
        response = mw.http.get(f"/casussen/{number}/dossier.pdf")
        assert response.status_code == 200 and response.data.startswith(b"%PDF")
        return subprocess.run(["pdftotext", "-", "-"], input=response.data, capture_output=True,
                              check=True).stdout.decode()

    practice_text, real_text = read(case_id), read(real["id"])
    assert BANNER in " ".join(practice_text.split())
    assert f"Oefening · Casus {case_id}" in practice_text
    assert "Oefenmodus" not in real_text and "Oefening ·" not in real_text


def test_the_api_marks_a_practice_case(app, people):
    """GET /api/v1/cases/{id} and a completion's answer say `"practice": true` for a practice
    case (its owner and an auditor read it there), so an API client never takes it for a real
    case; a real case's answer has no such key."""
    from engine import practice

    case = practice.start(people["mw"], "peuter")
    api = app.test_client()
    for who in ("mw", "aud"):
        got = api.get(f"/api/v1/cases/{case['id']}", headers=people.auth(who))
        assert got.status_code == 200 and got.json["practice"] is True, who
    task = api.get(f"/api/v1/tasks/{case['tasks'][0]['id']}", headers=people.auth("mw")).json
    done = api.post(f"/api/v1/tasks/{task['id']}/complete", headers=people.auth("mw"),
                    json={"data": fill(task["form"]["fields"], MELDEN)})
    assert done.status_code == 200 and done.json["practice"] is True
    real = api.post("/api/v1/cases", json={"client_ref": "C-echt"}, headers=people.auth("mw"))
    assert real.status_code == 201 and "practice" not in real.json
    assert "practice" not in api.get(f"/api/v1/cases/{real.json['id']}",
                                     headers=people.auth("mw")).json
