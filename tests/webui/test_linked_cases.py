"""Linked cases (issue 14 point 2, CONTRACT section 5): `"linked_case": id` in POST
/api/v1/cases links the new case to a case of the same owner, both ways (`linked_cases`), with
an event `case_linked` in both hash chains that verify checks; the case page's "Casus starten
voor de kinderen" does the same for its owner only. Through the API, the web form as a browser
posts it, and the command line."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from sqlalchemy import func, select

from engine import models, store
from tests.conftest import need
from tests.helpers import LANE_PEOPLE, cli, dutch_in, english, run_sql, verify, walk
from tests.scenarios.paths import SCENARIOS, fill

CHILDREN_IN_DOUBT = {"kindcheck_kinderen": True, "kindcheck_opvang_adequaat": False,
                     "kindcheck_bescherming": False}


@pytest.fixture
def api(client, people):
    def call(who, method, path, headers=None, **kw):
        return client.open(path, method=method, headers={**people.auth(who), **(headers or {})},
                           **kw)
    return call


def start(api, ref="C-ouder", who="mw", status=201, **extra):
    r = api(who, "POST", "/api/v1/cases", json={"client_ref": ref, **extra})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def complete_stap1(api, case, decisions=CHILDREN_IN_DOUBT):
    task = case["tasks"][0]
    assert task["step"] == "stap1_signalen"
    form = api("mw", "GET", f"/api/v1/tasks/{task['id']}").get_json()["form"]["fields"]
    r = api("mw", "POST", f"/api/v1/tasks/{task['id']}/complete",
            json={"data": fill(form, decisions)})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def counts() -> tuple[int, int, int]:
    with store.unit_of_work() as session:
        return (session.scalar(select(func.count()).select_from(models.Case)),
                session.scalar(select(func.count()).select_from(models.CaseLink)),
                session.scalar(select(func.count()).select_from(models.HistoryEvent)))


def test_a_case_started_for_the_children_is_linked_both_ways(api):
    parent = start(api)
    assert parent["linked_cases"] == []
    parent = complete_stap1(api, parent)
    child = start(api, "C-kinderen", linked_case=parent["id"], reason="Voor de kinderen")
    assert child["linked_cases"] == [parent["id"]]
    for case_id, other in ((parent["id"], child["id"]), (child["id"], parent["id"])):
        got = api("mw", "GET", f"/api/v1/cases/{case_id}").get_json()
        assert got["linked_cases"] == [other]
        # each case's own history holds the link, naming the other case
        history = api("mw", "GET", f"/api/v1/cases/{case_id}/history").get_json()
        linked = [e for e in history if e["action"] == "case_linked"]
        assert [(e["actor"], e["data"]) for e in linked] == [("mw", {"case": other})]
        assert api("mw", "GET", f"/api/v1/cases/{case_id}/verify").get_json()["ok"] is True
    # the parent's link came after its own steps; the child's right after its start
    history = api("mw", "GET", f"/api/v1/cases/{parent['id']}/history").get_json()
    assert history[-1]["action"] == "case_linked"
    # the completion's answer carries the links too
    task = next(t for t in parent["tasks"] if t["lane"] == "medewerker")
    form = api("mw", "GET", f"/api/v1/tasks/{task['id']}").get_json()["form"]["fields"]
    after = api(LANE_PEOPLE["medewerker"], "POST", f"/api/v1/tasks/{task['id']}/complete",
                json={"data": fill(form, {})}).get_json()
    assert after["linked_cases"] == [child["id"]]
    # the auditor reads the access line of the link on the parent
    log = api("aud", "GET", f"/api/v1/cases/{parent['id']}/access-log").get_json()
    assert ("mw", "link", "ok") in [(e["user"], e["action"], e["outcome"]) for e in log]
    verdicts = verify(parent["id"], child["id"])
    assert all(v.ok for v in verdicts.values()), {k: v.problems for k, v in verdicts.items()}
    result = cli("verify", "--all")
    assert result.exit_code == 0, result.output


def test_the_dossier_names_the_linked_cases(api, tmp_path):
    parent = start(api)
    child = start(api, "C-kinderen", linked_case=parent["id"])
    for case_id, other in ((parent["id"], child["id"]), (child["id"], parent["id"])):
        out = tmp_path / f"dossier-{case_id}.json"
        result = cli("export", str(case_id), "--format", "json", "-o", str(out), "--user", "mw")
        assert result.exit_code == 0, result.output
        dossier = json.loads(out.read_text())
        assert dossier["case"]["linked_cases"] == [other]
        assert [e["data"] for e in dossier["history"] if e["action"] == "case_linked"] == [
            {"case": other}]
        assert dossier["verification"]["ok"] is True
    # the PDF names them too, in its case table and its history
    need(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) is not installed")
    pdf = tmp_path / "dossier.pdf"
    result = cli("export", str(child["id"]), "--format", "pdf", "-o", str(pdf), "--user", "mw")
    assert result.exit_code == 0, result.output
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert f"Gekoppelde casussen Casus {parent['id']}" in text
    assert f"Casus gekoppeld met casus {parent['id']}" in text


@pytest.mark.parametrize("value", ["1", True, False, -1, 0, 1.0, 2**31, [1], {"id": 1}],
                         ids=repr)
def test_a_linked_case_that_is_no_case_id_is_refused(api, value):
    start(api)
    before = counts()
    r = api("mw", "POST", "/api/v1/cases", json={"client_ref": "C-2", "linked_case": value})
    assert r.status_code == 422, r.get_json()
    assert set(r.get_json()["errors"]) == {"linked_case"}
    assert counts() == before


def test_only_a_case_of_the_same_owner_may_be_linked(api, people):
    mine = start(api)
    theirs = start(api, "C-ander", who="mw2")
    before = counts()
    for target in (theirs["id"], 999_999):
        r = api("mw", "POST", "/api/v1/cases", json={"client_ref": "C-2", "linked_case": target})
        assert r.status_code == 422, r.get_json()
        # another's case reads as no case at all: the same words
        assert r.get_json()["errors"] == {"linked_case": "U heeft geen eigen casus met dit nummer."}
    # a leidinggevende reads mw's case but does not own it
    r = api("lg", "POST", "/api/v1/cases", json={"client_ref": "C-3", "linked_case": mine["id"]})
    assert r.status_code == 422 and "linked_case" in r.get_json()["errors"]
    # in English for an English reader
    r = api("mw", "POST", "/api/v1/cases", json={"client_ref": "C-2", "linked_case": theirs["id"]},
            headers={"Accept-Language": "en"})
    assert r.status_code == 422
    assert r.get_json()["errors"]["linked_case"] == "You have no case of your own with this number."
    assert counts() == before
    for case in (mine, theirs):  # nothing in their histories, nothing to verify differently
        got = api("aud", "GET", f"/api/v1/cases/{case['id']}").get_json()
        assert got["linked_cases"] == []
    # the attempts on mw2's case are in its access log (NEN 7513), and one on mw's by lg
    log = api("aud", "GET", f"/api/v1/cases/{theirs['id']}/access-log").get_json()
    assert [(e["user"], e["action"], e["outcome"]) for e in log
            if e["action"].startswith("link")] == [("mw", "link:invalid", "denied")] * 2
    log = api("aud", "GET", f"/api/v1/cases/{mine['id']}/access-log").get_json()
    assert ("lg", "link:invalid", "denied") in [(e["user"], e["action"], e["outcome"])
                                                for e in log]
    # a refused start is in the access log, as every refused start is
    with store.unit_of_work() as session:
        actions = list(session.scalars(select(models.AccessLogEntry.action)
                                       .where(models.AccessLogEntry.case_id.is_(None))))
    assert actions.count("create:invalid") >= 3


def test_practice_and_real_cases_are_not_linked(api, people):
    from engine import cases
    from engine.errors import Invalid

    real = start(api)
    practice = cases._start_case(people["mw"], {"client_ref": "Oefen-1"}, practice=True)
    before = counts()
    r = api("mw", "POST", "/api/v1/cases", json={"client_ref": "C-2", "linked_case": practice["id"]})
    assert r.status_code == 422 and "oefencasus" in r.get_json()["errors"]["linked_case"]
    with pytest.raises(Invalid) as refused:
        cases._start_case(people["mw"], {"client_ref": "Oefen-2", "linked_case": real["id"]},
                          practice=True)
    assert set(refused.value.errors) == {"linked_case"}
    assert counts() == before
    # practice with practice is a link like any other
    linked = cases._start_case(people["mw"], {"client_ref": "Oefen-3",
                                              "linked_case": practice["id"]}, practice=True)
    assert linked["linked_cases"] == [practice["id"]]


def test_verify_finds_a_link_changed_behind_the_history(api, db_url):
    parent = start(api)
    child = start(api, "C-kinderen", linked_case=parent["id"])
    run_sql(db_url, "DELETE FROM case_links")
    verdicts = verify(parent["id"], child["id"])
    for case_id in (parent["id"], child["id"]):
        assert not verdicts[case_id].ok
        assert any("gekoppelde casussen" in str(p) for p in verdicts[case_id].problems)
    assert cli("verify", "--all").exit_code == 1
    # a link that no history knows of is found as well
    other = start(api, "C-los")
    run_sql(db_url, "INSERT INTO case_links (case_id, linked_id, created_at) "
                    "VALUES (:a, :b, CURRENT_TIMESTAMP)", a=other["id"], b=parent["id"])
    assert not verify(other["id"])[other["id"]].ok


# --- the case page ------------------------------------------------------------------------------


def web_parent(sqlite_people, decisions=CHILDREN_IN_DOUBT) -> dict:
    from engine import cases, tasks

    case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-OUDER"})
    task = tasks.get_task(sqlite_people["mw"], case["tasks"][0]["id"])
    return tasks.complete_task(sqlite_people["mw"], task["id"],
                               fill(task["form"]["fields"], decisions))


def test_the_owner_starts_a_case_for_the_children_from_the_case_page(browser_like,
                                                                     sqlite_people):
    from engine import cases

    parent = web_parent(sqlite_people)
    url = f"/casussen/{parent['id']}"
    browser_like.login("mw")
    page = browser_like.get(url).get_data(as_text=True)
    assert "Casus starten voor de kinderen" in page
    assert "veiligheid van de kinderen niet zeker" in page
    assert f"Casus voor de kinderen, gestart vanuit casus {parent['id']}." in page
    before = counts()
    # without the CSRF token: refused, nothing stored
    refused = browser_like.post(f"{url}/kinderen", {"client_ref": "C-KIND"}, csrf=False)
    assert refused.status_code == 400 and counts() == before
    # no client reference: the page again with the error at the field, the reason kept
    bad = browser_like.post(f"{url}/kinderen", {"client_ref": "  ", "reason": "Eigen woorden"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert 'id="kinderen-client_ref-fout"' in text and "Vul een cliëntreferentie in." in text
    assert "Eigen woorden</textarea>" in text
    assert '<details class="person-form" id="kinderen" open>' in text
    assert counts() == before
    done = browser_like.post(f"{url}/kinderen", {"client_ref": "C-KIND",
                                                 "reason": "Voor de kinderen"})
    assert done.status_code == 302 and "/taken/" in done.headers["Location"]
    [child_id] = cases.get_case(sqlite_people["mw"], parent["id"])["linked_cases"]
    child = cases.get_case(sqlite_people["mw"], child_id)
    assert (child["client_ref"], child["owner"], child["linked_cases"]) == (
        "C-KIND", "mw", [parent["id"]])
    # each page links to the other
    assert f'href="/casussen/{child_id}"' in browser_like.get(url).get_data(as_text=True)
    child_page = browser_like.get(f"/casussen/{child_id}").get_data(as_text=True)
    assert f'href="/casussen/{parent["id"]}"' in child_page and "Gekoppelde casussen" in child_page
    assert "Casus gekoppeld" in child_page  # the timeline's event
    verdicts = verify(parent["id"], child_id)
    assert all(v.ok for v in verdicts.values())


def test_someone_else_may_not_start_a_case_for_the_children(browser_like, sqlite_people):
    parent = web_parent(sqlite_people)
    url = f"/casussen/{parent['id']}"
    before = counts()
    for name in ("lg", "mw2"):  # the leidinggevende reads the case, mw2 does not
        browser_like.login(name)
        page = browser_like.get(url)
        if name == "lg":
            assert page.status_code == 200
            assert "Casus starten voor de kinderen" not in page.get_data(as_text=True)
        refused = browser_like.post(f"{url}/kinderen", {"client_ref": "C-KIND"})
        assert refused.status_code == 403
        browser_like.logout()
    assert counts() == before
    with store.unit_of_work() as session:
        denied = list(session.execute(
            select(models.AccessLogEntry.user, models.AccessLogEntry.outcome)
            .where(models.AccessLogEntry.case_id == parent["id"],
                   models.AccessLogEntry.action == "link")))
    assert sorted(denied) == [("lg", "denied"), ("mw2", "denied")]


def test_no_button_without_children_and_a_linked_case_unreadable_shows_no_data(browser_like,
                                                                                sqlite_people):
    from engine import cases, sharing

    parent = web_parent(sqlite_people, {"kindcheck_kinderen": False})
    url = f"/casussen/{parent['id']}"
    browser_like.login("mw")
    assert "Casus starten voor de kinderen" not in browser_like.get(url).get_data(as_text=True)
    # linked through the API, then handed over to a colleague: mw may no longer read it
    child = cases.start_case(sqlite_people["mw"], {"client_ref": "GEHEIM-KIND",
                                                   "linked_case": parent["id"]})
    sharing.hand_over(sqlite_people["mw"], child["id"], {"user": "mw2", "reason": "Verlof"})
    page = browser_like.get(url).get_data(as_text=True)
    assert f"Casus {child['id']}" in page and f'href="/casussen/{child["id"]}"' not in page
    assert "GEHEIM-KIND" not in page and "geen toegang tot deze casus" in page
    # in mw2's view of the child, the parent (mw's) is a number without a link
    browser_like.logout()
    browser_like.login("mw2")
    page = browser_like.get(f"/casussen/{child['id']}").get_data(as_text=True)
    assert f"Casus {parent['id']}" in page and f'href="/casussen/{parent["id"]}"' not in page
    assert "C-OUDER" not in page


def link_lines(case_id: int) -> list[tuple[str, str, str]]:
    with store.unit_of_work() as session:
        return [tuple(row) for row in session.execute(
            select(models.AccessLogEntry.user, models.AccessLogEntry.action,
                   models.AccessLogEntry.outcome)
            .where(models.AccessLogEntry.case_id == case_id,
                   models.AccessLogEntry.action.startswith("link")))]


def test_the_server_refuses_the_children_case_where_the_page_offers_no_button(browser_like,
                                                                              sqlite_people):
    """One rule for page and server (links.children_refusal): posted by the owner to a case
    whose page shows no "Casus starten voor de kinderen" (the kindcheck recorded no children;
    the case is closed), the start is refused with the reason at the form, nothing stored, and
    the refusal is in the case's access log; where the page shows it, the start goes ahead."""
    closing = next(s for s in SCENARIOS if s.name == "zorgen_weggenomen")
    assert closing.decisions["kindcheck_kinderen"] is True
    without = web_parent(sqlite_people, {"kindcheck_kinderen": False})
    closed = walk(sqlite_people, web_parent(sqlite_people, {**closing.decisions,
                                                            **CHILDREN_IN_DOUBT}),
                  closing.decisions)
    assert closed["status"] == "closed" and closed["data"]["kindcheck_kinderen"] is True
    browser_like.login("mw")
    refusals = ((without, 422, "link:invalid", "Volgens de kindcheck van deze casus zijn er geen "
                 "kinderen bij betrokken"),
                (closed, 409, "link:conflict", "Deze casus is afgesloten: vanuit een afgesloten "
                 "casus start u geen casus voor de kinderen."))
    for case, status, action, reason in refusals:
        url = f"/casussen/{case['id']}"
        assert "Casus starten voor de kinderen" not in browser_like.get(url).get_data(as_text=True)
        before = counts()
        refused = browser_like.post(f"{url}/kinderen", {"client_ref": "KX", "reason": "Eigen"})
        assert refused.status_code == status
        page = refused.get_data(as_text=True)
        assert 'id="kinderen-koppeling-fout"' in page and reason in page
        assert counts() == before
        assert link_lines(case["id"]) == [("mw", action, "denied")]
    # in English for an English reader
    english(browser_like, "mw")
    refused = browser_like.post(f"/casussen/{without['id']}/kinderen", {"client_ref": "KX"})
    assert refused.status_code == 422
    assert "According to the child check of this case no children are involved" in (
        refused.get_data(as_text=True))
    # the open case with children: the button, and the start goes ahead
    parent = web_parent(sqlite_people)
    url = f"/casussen/{parent['id']}"
    assert "Start a case for the children" in browser_like.get(url).get_data(as_text=True)
    done = browser_like.post(f"{url}/kinderen", {"client_ref": "KX"})
    assert done.status_code == 302
    assert link_lines(parent["id"]) == [("mw", "link", "ok")]


def test_the_links_in_english_and_on_the_auditors_pages(browser_like, sqlite_people):
    from engine import cases

    parent = web_parent(sqlite_people)
    child = cases.start_case(sqlite_people["mw"], {"client_ref": "C-KIND",
                                                   "linked_case": parent["id"]})
    english(browser_like, "mw")
    page = browser_like.get(f"/casussen/{parent['id']}").get_data(as_text=True)
    assert "Linked cases" in page and "Start a case for the children" in page
    assert f"Case for the children, started from case {parent['id']}." in page
    assert "the children's safety is not assured" in page
    assert dutch_in(page, ("C-OUDER", "C-KIND")) == []
    refused = browser_like.post(f"/casussen/{parent['id']}/kinderen", {"client_ref": ""})
    assert refused.status_code == 422 and dutch_in(refused.get_data(as_text=True),
                                                   ("C-OUDER",)) == []
    browser_like.logout()
    browser_like.login("aud")  # the auditor replays the history with the link in it (English)
    for case_id in (parent["id"], child["id"]):
        history = browser_like.get(f"/audit/casussen/{case_id}")
        assert history.status_code == 200 and "Case linked" in history.get_data(as_text=True)


def test_a_link_to_a_case_that_moved_on_meanwhile_is_a_conflict(api, people, db_url, monkeypatch):
    """The linked case's row is written at the version the start read: a step stored in
    between (PostgreSQL: writers side by side; SQLite has one writer at a time) makes the
    start a 409 with nothing of it stored, and the step's chain intact."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite: one writer at a time, so nothing moves on in between")
    from engine import links, tasks

    parent = start(api)
    task = tasks.get_task(people["mw"], parent["tasks"][0]["id"])
    data = fill(task["form"]["fields"], CHILDREN_IN_DOUBT)
    check = links.check

    def check_then_step(session, who, linked_id, practice):
        other = check(session, who, linked_id, practice)
        tasks.complete_task(people["mw"], task["id"], data)  # another transaction, committed
        return other

    monkeypatch.setattr(links, "check", check_then_step)
    before = counts()
    r = api("mw", "POST", "/api/v1/cases", json={"client_ref": "C-2", "linked_case": parent["id"]})
    assert r.status_code == 409, r.get_json()
    cases_now, links_now, _events = counts()
    assert (cases_now, links_now) == before[:2]
    got = api("mw", "GET", f"/api/v1/cases/{parent['id']}").get_json()
    assert got["linked_cases"] == [] and got["completed_steps"] == ["stap1_signalen"]
    assert verify(parent["id"])[parent["id"]].ok
    monkeypatch.setattr(links, "check", check)  # (undo() would also undo the database URL)
    child = start(api, "C-2", linked_case=parent["id"])  # again: now it links
    assert child["linked_cases"] == [parent["id"]]
    assert all(v.ok for v in verify(parent["id"], child["id"]).values())


def test_the_form_on_a_practice_case_names_why_it_is_refused(browser_like, sqlite_people):
    """A practice case offers no such form; posted anyway by its owner, the refusal is on the
    page (a real case is not linked to a practice case) and nothing is stored."""
    from engine import cases

    practice = cases._start_case(sqlite_people["mw"], {"client_ref": "Oefen-1"}, practice=True)
    browser_like.login("mw")
    url = f"/casussen/{practice['id']}"
    assert "Casus starten voor de kinderen" not in browser_like.get(url).get_data(as_text=True)
    before = counts()
    refused = browser_like.post(f"{url}/kinderen", {"client_ref": "C-KIND"})
    assert refused.status_code == 422
    assert "Een oefencasus en een echte casus kunnen niet" in refused.get_data(as_text=True)
    assert counts() == before


def test_a_case_closed_between_the_check_and_the_start_gets_no_case_for_the_children(
        browser_like, sqlite_people, monkeypatch):
    """start_for_children checks the page's rule in a read, then starts the case in a write
    transaction of its own. A tester closed the case in between (the leidinggevende's last
    completion at the same moment as the owner's click) and a closed case got a case for the
    children. The rule is now held again in the start's transaction: here the case is closed
    (by a real walk to its end) exactly in between, and the start is refused (409), nothing
    of it stored."""
    from engine import links

    closing = next(s for s in SCENARIOS if s.name == "zorgen_weggenomen")
    parent = web_parent(sqlite_people, {**closing.decisions, **CHILDREN_IN_DOUBT})
    assert parent["status"] == "open"
    started = links.start

    def closed_meanwhile(who, payload):
        assert walk(sqlite_people, parent, closing.decisions)["status"] == "closed"
        monkeypatch.setattr(links, "start", started)
        before.append(counts())
        return started(who, payload)

    before: list = []
    monkeypatch.setattr(links, "start", closed_meanwhile)
    browser_like.login("mw")
    url = f"/casussen/{parent['id']}"
    assert "Casus starten voor de kinderen" in browser_like.get(url).get_data(as_text=True)
    refused = browser_like.post(f"{url}/kinderen", {"client_ref": "KX", "reason": "Eigen"})
    assert refused.status_code == 409, refused.get_data(as_text=True)[:500]
    assert "Deze casus is afgesloten" in refused.get_data(as_text=True)
    assert counts() == before[0]  # no case, no link, no event after the close
    assert link_lines(parent["id"]) == [("mw", "link:conflict", "denied")]
