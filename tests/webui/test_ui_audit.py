"""The auditor's pages and the dossier download through Flask's test client: who may see
what (refusals are Dutch 403 pages and in the access log), the case filters and their
errors, the step-through frames, the access log, the who-viewed overview, and the downloads."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from engine import cases, commands, models, store, tasks, timezones
from tests.helpers import actor_of, text
from tests.scenarios.paths import SCENARIOS, fill

ACUUT = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")


def finish(people, scenario=ACUUT, ref="C-AUDIT-1"):
    case = cases.start_case(people["mw"], {"client_ref": ref, "reason": "blauwe plekken"})
    while case["tasks"]:
        who = actor_of(people, case["tasks"][0])
        task = tasks.get_task(who, case["tasks"][0]["id"])
        case = tasks.complete_task(who, task["id"],
                                     fill(task["form"]["fields"], scenario.decisions))
    return case


def access_rows(url, case_id=None):
    with store.unit_of_work(url=url) as session:
        query = session.query(models.AccessLogEntry)
        if case_id is not None:
            query = query.filter(models.AccessLogEntry.case_id == case_id)
        return [(e.user, e.action, e.outcome) for e in query.order_by(models.AccessLogEntry.id)]


AUDITOR_PAGES = ("/audit/casussen", "/audit/casussen/{id}", "/audit/casussen/{id}/toegangslog",
                 "/audit/casussen/{id}/inzage")


# --- who may see what -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mw", "lg", "af", "pb", "bh"])
def test_only_auditors_see_the_audit_pages(browser_like, sqlite_people, sqlite_url, name):
    case = finish(sqlite_people)
    browser_like.login(name)
    assert "/audit/casussen" not in text(browser_like.get("/"))
    for path in AUDITOR_PAGES:
        response = browser_like.get(path.format(id=case["id"]))
        assert response.status_code == 403, path
        page = text(response)
        assert "Geen toegang" in page and "auditor" in page
    # a filter with errors is refused all the same, not answered with field errors
    assert browser_like.get("/audit/casussen?status=x").status_code == 403
    rows = access_rows(sqlite_url)
    assert rows.count((name, "search", "denied")) == 2
    assert (name, "read_history", "denied") in rows
    assert (name, "read_access_log", "denied") in rows
    assert (name, "search", "denied") in rows


def test_audit_pages_need_sign_in(browser_like):
    for path in AUDITOR_PAGES + ("/casussen/{id}/dossier.pdf",):
        response = browser_like.get(path.format(id=1))
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/aanmelden?next=")


def test_auditor_has_the_audit_link(browser_like, sqlite_people):
    browser_like.login("aud")
    page = text(browser_like.get("/"))
    assert 'href="/audit/casussen"' in page
    assert 'aria-current="page"' in text(browser_like.get("/audit/casussen"))


def test_audit_pages_in_english(browser_like, sqlite_people):
    case = finish(sqlite_people)
    browser_like.login("aud")
    browser_like.post("/taal", {"taal": "en", "next": "/"})
    assert "Audit: cases" in text(browser_like.get("/audit/casussen?status=closed"))
    history = text(browser_like.get(f"/audit/casussen/{case['id']}"))
    assert "History intact" in history and "Step by step" in history
    log = text(browser_like.get(f"/audit/casussen/{case['id']}/toegangslog"))
    assert "Case created" in log and "allowed" in log
    assert "Who has viewed this dossier" in text(browser_like.get(f"/audit/casussen/{case['id']}/inzage"))


def test_unknown_case_is_a_404(browser_like):
    browser_like.login("aud")
    assert browser_like.get("/audit/casussen/999").status_code == 404
    assert browser_like.get("/audit/casussen/999/toegangslog").status_code == 404


# --- the case list ------------------------------------------------------------------------------


def test_filters(browser_like, sqlite_people):
    done = finish(sqlite_people, ref="C-KLAAR")
    cases.start_case(sqlite_people["mw"], {"client_ref": "C-OPEN"})
    browser_like.login("aud")
    page = text(browser_like.get("/audit/casussen"))
    assert "2 casussen gevonden" in page and "C-KLAAR" in page and "C-OPEN" in page
    assert f'href="/audit/casussen/{done["id"]}"' in page
    closed = text(browser_like.get("/audit/casussen?status=closed"))
    assert "1 casus gevonden" in closed and "C-KLAAR" in closed and "C-OPEN" not in closed
    assert '<option value="closed" selected>' in closed
    gemeld = text(browser_like.get("/audit/casussen?uitkomst=gemeld_en_hulp"))
    assert "C-KLAAR" in gemeld and "C-OPEN" not in gemeld
    assert "C-OPEN" not in text(browser_like.get("/audit/casussen?uitkomst=hulp")).split("</form>")[1]
    by_step = text(browser_like.get("/audit/casussen?step=stap5_beslissen"))
    assert "C-KLAAR" in by_step and "C-OPEN" not in by_step
    today = timezones.local(datetime.now(UTC)).date().isoformat()  # Dutch calendar days
    both = text(browser_like.get(f"/audit/casussen?started_from={today}&started_to={today}"))
    assert "2 casussen gevonden" in both
    nothing = text(browser_like.get("/audit/casussen?started_from=2999-01-01&process_version=1"))
    assert "Geen casussen die aan dit filter voldoen." in nothing
    assert "0 casussen gevonden" in nothing
    assert '<option value="1" selected>' in nothing


def test_invalid_filter_shows_field_errors(browser_like, sqlite_people):
    browser_like.login("aud")
    response = browser_like.get("/audit/casussen?status=x&started_from=gisteren&process_version=een")
    assert response.status_code == 422
    page = text(response)
    assert "Het filter klopt niet" in page
    assert "Kies open of afgesloten." in page
    assert "Vul een datum in als JJJJ-MM-DD." in page
    assert "Vul een getal in." in page
    assert 'id="f-started_from" name="started_from" value="gisteren"' in page
    assert page.count('aria-invalid="true"') == 3
    assert "gevonden" not in page


def test_pagination_keeps_the_filter(browser_like, sqlite_people):
    from engine import oversight

    for n in range(oversight.PER_PAGE + 1):
        cases.start_case(sqlite_people["mw"], {"client_ref": f"C-{n:03d}"})
    browser_like.login("aud")
    first = text(browser_like.get("/audit/casussen?status=open"))
    assert "Pagina 1 van 2" in first
    assert "C-050" in first and "C-000" not in first
    link = re.search(r'href="([^"]*page=2[^"]*)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "status=open" in link
    second = text(browser_like.get(link))
    assert "C-000" in second and "Pagina 2 van 2" in second


# --- the history -------------------------------------------------------------------------------


def test_history_lists_every_frame_with_its_data(browser_like, sqlite_people, sqlite_url):
    case = finish(sqlite_people)
    browser_like.login("aud")
    response = browser_like.get(f"/audit/casussen/{case['id']}")
    assert response.status_code == 200
    page = text(response)
    assert "Geschiedenis in orde" in page and "verify-ok" in page
    with store.unit_of_work(url=sqlite_url) as session:
        events = session.query(models.HistoryEvent).filter_by(case_id=case["id"]).count()
    assert page.count('<section class="frame"') == events
    assert f"Gebeurtenis {events} van {events}" in page
    # labels from the form definitions, answers as a person reads them
    assert "Zijn er kinderen die afhankelijk zijn van de zorg van de cliënt?" in page
    assert "Afgerond: Stap 1" in page
    assert "Melden bij Veilig Thuis" in page  # the decision, labelled
    assert "blauwe plekken" in page  # the reason given at the start
    # the diagram's marks per frame for the script, in a JSON block (no inline script)
    block = re.search(r'<script type="application/json" id="frames-json">(.*?)</script>', page, re.S)
    frames = json.loads(block.group(1))
    assert len(frames) == events
    assert frames[0] == {"done": [], "current": ["stap1_signalen"], "skipped": []}
    assert "stap1_signalen" in frames[1]["done"] and frames[1]["current"] == ["stap2_overleg"]
    assert frames[-1]["current"] == [] and "melding_doen" in frames[-1]["done"]
    assert "stap3_gesprek" in frames[-1]["skipped"]
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert ("aud", "read_history", "ok") in access_rows(sqlite_url, case["id"])


def test_history_shows_a_broken_chain(browser_like, sqlite_people, sqlite_url):
    from tests.helpers import run_sql

    case = finish(sqlite_people)
    run_sql(sqlite_url, "update history_events set data='{\"signalen\": \"anders\"}' "
                        "where case_id=:c and seq=2", c=case["id"])
    browser_like.login("aud")
    page = text(browser_like.get(f"/audit/casussen/{case['id']}"))
    assert "Niet in orde" in page and "verify-bad" in page
    assert "gebeurtenis 2" in page and "gewijzigd" in page
    assert "Geschiedenis in orde" not in page


def test_case_page_links_auditor_to_history(browser_like, sqlite_people):
    case = finish(sqlite_people)
    browser_like.login("aud")
    page = text(browser_like.get(f"/casussen/{case['id']}"))
    assert f'href="/audit/casussen/{case["id"]}"' in page
    assert f'href="/casussen/{case["id"]}/dossier.pdf"' in page
    browser_like.logout()
    browser_like.login("mw")
    page = text(browser_like.get(f"/casussen/{case['id']}"))
    assert f'href="/casussen/{case["id"]}/dossier.pdf"' in page
    assert f'href="/casussen/{case["id"]}/dossier.json"' in page
    assert "/audit/casussen" not in page


# --- the access log and who viewed it ------------------------------------------------------------


def test_access_log_page(browser_like, sqlite_people, sqlite_url):
    case = finish(sqlite_people)
    browser_like.login("mw")
    browser_like.get(f"/casussen/{case['id']}")
    browser_like.logout()
    browser_like.login("mw2")
    assert browser_like.get(f"/casussen/{case['id']}").status_code == 403
    browser_like.logout()
    browser_like.login("aud")
    response = browser_like.get(f"/audit/casussen/{case['id']}/toegangslog")
    assert response.status_code == 200
    page = text(response)
    rows = re.findall(r'<tr class="outcome-row-(\w+)" data-user="([^"]+)" data-action="([^"]+)"', page)
    assert ("ok", "mw", "create") in rows
    assert ("ok", "mw", "read") in rows
    assert ("denied", "mw2", "read") in rows
    assert ("ok", "aud", "read_access_log") in rows  # this very read
    assert len(rows) == len(access_rows(sqlite_url, case["id"]))
    for words in ("Casus aangemaakt", "Casus ingezien", "geweigerd", "toegestaan", "Medewerker",
                  "Toegangslog ingezien", "127.0.0.1"):
        assert words in page, words


def test_who_viewed_overview(browser_like, sqlite_people):
    case = finish(sqlite_people)
    cases.get_case(sqlite_people["lg"], case["id"])
    cases.get_case(sqlite_people["lg"], case["id"])
    with pytest.raises(commands.Denied):
        cases.get_case(sqlite_people["mw2"], case["id"])
    browser_like.login("aud")
    response = browser_like.get(f"/audit/casussen/{case['id']}/inzage")
    assert response.status_code == 200
    page = text(response)
    assert "Wie heeft dit dossier ingezien" in page
    seen, refused = page.split('id="geweigerd"')
    assert 'data-user="lg"' in seen and 'data-user="mw"' in seen and 'data-user="aud"' in seen
    assert 'data-user="mw2"' not in seen
    assert 'data-user="mw2"' in refused
    lg_row = re.search(r'<tr data-user="lg">(.*?)</tr>', seen, re.S).group(1)
    # two reads, and the afstemming of the decisions (opening the task and completing it)
    assert '<td class="num">4</td>' in lg_row and "Leidinggevende" in lg_row
    assert "print.css" in page and "data-print" in page


# --- downloads ---------------------------------------------------------------------------------


def test_download_pdf_and_json(browser_like, sqlite_people, sqlite_url):
    case = finish(sqlite_people)
    browser_like.login("mw")
    pdf = browser_like.http.get(f"/casussen/{case['id']}/dossier.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == f"attachment; filename=dossier-casus-{case['id']}.pdf"
    assert "no-store" in pdf.headers["Cache-Control"]
    dump = browser_like.get(f"/casussen/{case['id']}/dossier.json")
    assert dump.mimetype == "application/json"
    assert dump.headers["Content-Disposition"] == f"attachment; filename=dossier-casus-{case['id']}.json"
    data = json.loads(dump.data)
    assert data["case"]["id"] == case["id"] and data["case"]["uitkomst"] == "gemeld_en_hulp"
    assert data["verification"]["ok"] and data["exported_by"] == "mw"
    assert [r for r in access_rows(sqlite_url, case["id"]) if r[1] == "export"] == [
        ("mw", "export", "ok"), ("mw", "export", "ok")]
    assert browser_like.get(f"/casussen/{case['id']}/dossier.xml").status_code == 404


def test_download_is_refused_to_others(browser_like, sqlite_people, sqlite_url):
    case = finish(sqlite_people)
    browser_like.login("mw2")
    response = browser_like.get(f"/casussen/{case['id']}/dossier.json")
    assert response.status_code == 403
    assert "U heeft geen toegang tot deze casus." in text(response)
    assert "Content-Disposition" not in response.headers
    assert ("mw2", "export", "denied") in access_rows(sqlite_url, case["id"])
    browser_like.logout()
    browser_like.login("aud")  # an auditor reads every case
    assert browser_like.http.get(f"/casussen/{case['id']}/dossier.pdf").data.startswith(b"%PDF")


def test_downloaded_pdf_turns_into_readable_pages(browser_like, sqlite_people):
    """The PDF of a finished case, as downloaded from the case page, rendered to PNG pages
    (test-artifacts/dossier/) with poppler's pdftoppm; its text read back with pdftotext."""
    import shutil
    import subprocess

    from tests.conftest import ROOT, need

    need(shutil.which("pdftoppm") is not None and shutil.which("pdftotext") is not None,
         "poppler-utils is not installed (apt-get install poppler-utils)")
    case = finish(sqlite_people, ref="C-DOSSIER-1")
    browser_like.login("mw")
    pdf = browser_like.http.get(f"/casussen/{case['id']}/dossier.pdf").data
    out = ROOT / "test-artifacts" / "dossier"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("dossier-pagina-*.png"):
        old.unlink()
    path = out / "dossier.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "110", str(path), str(out / "dossier-pagina")],
                   check=True, timeout=120)
    pages = sorted(out.glob("dossier-pagina-*.png"))
    assert len(pages) >= 1
    assert all(p.stat().st_size > 10_000 for p in pages)  # not blank
    words = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, timeout=60,
                           capture_output=True, text=True).stdout
    for expected in ("Dossier meldcode", "C-DOSSIER-1", "Gemeld bij Veilig Thuis en hulp geboden",
                     "Afwegingskader", "Veilig Thuis", "Verificatie", "In orde"):
        assert expected in words, expected
