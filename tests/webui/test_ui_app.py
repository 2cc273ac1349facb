"""The staff web UI through Flask's test client: sign-in, sessions, CSRF, headers, rate limit,
the inbox, the case page, task forms and drafts."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD
from tests.helpers import Client, text

# --- sign-in and sessions --------------------------------------------------------------------


def test_pages_need_sign_in(browser_like):
    for path in ("/", "/casussen", "/casussen/1", "/casussen/nieuw", "/taken/x"):
        response = browser_like.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/aanmelden?next=")


def test_sign_in_and_out(browser_like):
    response = browser_like.login("mw")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = browser_like.get("/")
    assert page.status_code == 200
    assert "Mijn taken" in text(page)
    assert '<html lang="nl">' in text(page)
    response = browser_like.logout()
    assert response.status_code == 302
    assert browser_like.get("/").status_code == 302


def test_wrong_password_is_refused_in_dutch(browser_like):
    response = browser_like.login("mw", "verkeerd-wachtwoord")
    assert response.status_code == 401
    assert "Gebruikersnaam of wachtwoord klopt niet." in text(response)
    assert browser_like.get("/").status_code == 302


def test_next_is_local_only(browser_like):
    browser_like.get("/aanmelden")
    for target, expected in (("//evil.example/x", "/"), ("https://evil.example/", "/"),
                             ("/casussen", "/casussen"), ("/\\evil.example", "/")):
        browser_like.get("/aanmelden")
        response = browser_like.post(f"/aanmelden?next={target}",
                                     {"naam": "mw", "wachtwoord": PASSWORD})
        assert response.headers["Location"] == expected, target
        browser_like.logout()


def test_session_cookie_flags(browser_like):
    response = browser_like.login("mw")
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("meldcode_sessie=")]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_secure_cookie_when_https(sqlite_url, sqlite_people, monkeypatch):
    from webui import create_app

    monkeypatch.setenv("MELDCODE_HTTPS", "1")
    client = Client(create_app({"TESTING": True}), base_url="https://localhost")
    response = client.login("mw")
    assert response.status_code == 302
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("meldcode_sessie=")]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert client.get("/").status_code == 200
    assert "max-age" in client.get("/aanmelden").headers["Strict-Transport-Security"]


def test_idle_session_expires(sqlite_url, sqlite_people):
    from webui import create_app

    app = create_app({"TESTING": True, "PERMANENT_SESSION_LIFETIME": timedelta(seconds=1)})
    client = Client(app)
    client.login("mw")
    assert client.http.get("/").status_code == 200
    time.sleep(2.2)
    assert client.http.get("/").status_code == 302


def test_default_idle_timeout_is_30_minutes(ui_app):
    assert ui_app.permanent_session_lifetime == timedelta(minutes=30)
    assert ui_app.config["SESSION_REFRESH_EACH_REQUEST"] is True


def test_deactivated_user_loses_the_session(browser_like, sqlite_url):
    from engine import models, store

    browser_like.login("mw")
    with store.unit_of_work(write=True) as session:
        from sqlalchemy import select

        session.scalar(select(models.User).where(models.User.name == "mw")).active = False
    assert browser_like.http.get("/").status_code == 302


# --- CSRF, headers, rate limit ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/aanmelden", "/afmelden", "/casussen/nieuw", "/taken/x", "/taal"])
def test_post_without_csrf_token_is_refused(browser_like, path):
    browser_like.login("mw")
    response = browser_like.post(path, {"naam": "mw", "wachtwoord": PASSWORD,
                                        "client_ref": "C-1"}, csrf=False)
    assert response.status_code == 400
    assert "beveiligingscode" in text(response)
    assert '<html lang="nl">' in text(response)


def test_post_with_a_wrong_csrf_token_is_refused(browser_like):
    browser_like.login("mw")
    response = browser_like.http.post("/casussen/nieuw", data={"csrf_token": "nep",
                                                               "client_ref": "C-1"})
    assert response.status_code == 400


def test_api_needs_no_csrf_token(browser_like, sqlite_people):
    response = browser_like.http.post("/api/v1/cases", json={"client_ref": "C-api"},
                                      headers=sqlite_people.auth("mw"))
    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/aanmelden", "/api/v1/openapi.json", "/static/css/meldcode.css",
                                  "/bestaat-niet"])
def test_security_headers_on_every_response(browser_like, path):
    response = browser_like.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"]


def test_no_inline_script_in_pages(browser_like):
    browser_like.login("mw")
    response = browser_like.post("/casussen/nieuw", {"client_ref": "C-1", "reason": "r"})
    task = browser_like.get(response.headers["Location"])
    case = browser_like.get("/casussen/1")
    for page in (task, case, browser_like.get("/"), browser_like.get("/casussen/1/afdrukken")):
        for tag in re.findall(r"<script[^>]*>", text(page)):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert " on" + "click=" not in text(page)


def test_unknown_page_is_a_dutch_404(browser_like):
    response = browser_like.get("/bestaat-niet")
    assert response.status_code == 404
    assert "Deze pagina bestaat niet" in text(response)
    assert browser_like.get("/api/v1/bestaat-niet").is_json


def test_failed_logins_are_rate_limited(sqlite_url, sqlite_people):
    from webui import create_app

    client = Client(create_app({"TESTING": True, "LOGIN_RATE_LIMIT": "3 per minute"}))
    client.get("/aanmelden")
    statuses = [client.post("/aanmelden", {"naam": "mw", "wachtwoord": "fout-fout-fout"}).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    response = client.post("/aanmelden", {"naam": "mw", "wachtwoord": PASSWORD})
    assert response.status_code == 429
    assert "Te veel pogingen" in text(response)


def test_successful_logins_do_not_use_up_the_limit(sqlite_url, sqlite_people):
    from webui import create_app

    client = Client(create_app({"TESTING": True, "LOGIN_RATE_LIMIT": "3 per minute"}))
    for _ in range(5):
        assert client.login("mw").status_code == 302
        assert client.logout().status_code == 302


# --- pages -------------------------------------------------------------------------------------


def test_roles_see_what_they_may(browser_like):
    browser_like.login("aud")
    inbox = text(browser_like.get("/"))
    assert "Nieuwe casus" not in inbox
    assert browser_like.get("/casussen/nieuw").status_code == 403
    browser_like.logout()
    browser_like.login("lg")
    assert "Open taken per lane" in text(browser_like.get("/"))


def test_start_case_validation_and_redirect(browser_like):
    browser_like.login("mw")
    response = browser_like.post("/casussen/nieuw", {"client_ref": " ", "reason": "x"})
    assert response.status_code == 422
    assert "Vul een cliëntreferentie in." in text(response)
    response = browser_like.post("/casussen/nieuw", {"client_ref": "C-7", "reason": "zorgen"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/taken/")
    task = browser_like.get(response.headers["Location"])
    assert "Stap 1: Signalen in kaart brengen" in text(task)
    inbox = text(browser_like.get("/"))
    assert "C-7" in inbox and "wacht" in inbox


def test_task_form_errors_keep_what_was_typed(browser_like):
    browser_like.login("mw")
    location = browser_like.post("/casussen/nieuw", {"client_ref": "C-8"}).headers["Location"]
    browser_like.get(location)
    response = browser_like.post(location, {"actie": "afronden", "bronnen_derden": "de buurvrouw",
                                            "datum_waarneming": "gisteren"})
    assert response.status_code == 422
    page = text(response)
    assert "Dit veld is verplicht." in page
    assert "Vul een geldige datum in" in page
    assert "de buurvrouw</textarea>" in page
    assert 'aria-invalid="true"' in page


def test_draft_is_kept_per_person_and_dropped_on_completion(browser_like, sqlite_url):
    from engine import models, store

    browser_like.login("mw")
    location = browser_like.post("/casussen/nieuw", {"client_ref": "C-9"}).headers["Location"]
    browser_like.get(location)
    response = browser_like.post(location, {"actie": "concept", "signalen": "half af",
                                            "onbekend_veld": "weg"})
    assert response.status_code == 302
    page = text(browser_like.get(location))
    assert "half af</textarea>" in page and "teruggezet" in page
    with store.unit_of_work(url=sqlite_url) as session:
        (draft,) = session.query(models.Draft).all()
        assert draft.data == {"signalen": "half af"}
    response = browser_like.post(location, {"actie": "afronden", "signalen": "klaar",
                                            "kindcheck_kinderen": "nee"})
    assert response.status_code == 302
    with store.unit_of_work(url=sqlite_url) as session:
        assert session.query(models.Draft).count() == 0


def test_another_medewerkers_case_and_task_are_refused(browser_like):
    browser_like.login("mw")
    location = browser_like.post("/casussen/nieuw", {"client_ref": "C-10"}).headers["Location"]
    browser_like.logout()
    browser_like.login("mw2")
    response = browser_like.get("/casussen/1")
    assert response.status_code == 403
    assert "U heeft geen toegang tot deze casus." in text(response)
    assert browser_like.get(location).status_code == 403
    assert browser_like.post(location, {"actie": "concept", "signalen": "x"}).status_code == 403
    assert "C-10" not in text(browser_like.get("/casussen"))


def test_case_page_and_print_view(browser_like):
    browser_like.login("mw")
    location = browser_like.post("/casussen/nieuw", {"client_ref": "C-11", "reason": "blauwe plekken"}
                                 ).headers["Location"]
    browser_like.get(location)
    browser_like.post(location, {"actie": "afronden", "signalen": "blauwe plek op arm",
                                 "kindcheck_kinderen": "ja", "kinderen_aantal_leeftijden": "1, 4 jaar",
                                 "kindcheck_opvang_adequaat": "ja", "kindcheck_bescherming": "nee",
                                 "kindcheck_toelichting": "opvang bij oma"})
    page = text(browser_like.get("/casussen/1"))
    assert "blauwe plek op arm" in page
    assert "Zijn er kinderen die afhankelijk zijn van de zorg van de cliënt?" in page
    assert '"done": ["stap1_signalen"]' in page and '"current": ["stap2_overleg"]' in page
    assert "0800-2000" in page
    printed = browser_like.get("/casussen/1/afdrukken")
    assert printed.status_code == 200 and "blauwe plek op arm" in text(printed)
    diagram = browser_like.get("/processen/1/diagram.bpmn")
    assert diagram.mimetype == "application/xml" and b"stap1_signalen" in diagram.data


def test_case_reads_are_in_the_access_log(browser_like, sqlite_url):
    from engine import models, store

    browser_like.login("mw")
    browser_like.post("/casussen/nieuw", {"client_ref": "C-12"})
    browser_like.get("/casussen/1")
    browser_like.get("/casussen/1/afdrukken")
    browser_like.logout()
    browser_like.login("mw2")
    browser_like.get("/casussen/1")
    with store.unit_of_work(url=sqlite_url) as session:
        rows = [(e.user, e.action, e.outcome, e.source) for e in session.query(models.AccessLogEntry)]
    assert ("mw", "read", "ok", "127.0.0.1") in rows
    assert ("mw", "print", "ok", "127.0.0.1") in rows
    assert ("mw2", "read", "denied", "127.0.0.1") in rows


def test_english_is_available(browser_like):
    browser_like.get("/aanmelden")
    browser_like.post("/taal", {"taal": "en", "next": "/aanmelden"})
    page = text(browser_like.get("/aanmelden"))
    assert '<html lang="en">' in page
    assert "Sign in" in page


def test_case_page_shows_the_organisations_contacts(browser_like, sqlite_people):
    from engine import organisation

    # as the beheerder stores them: a row written beside the admin log is a tampering
    # (engine/settings_seal.py) and is not shown
    organisation.update(sqlite_people["bh"], {
        "veilig_thuis_regio_naam": "Veilig Thuis Utrecht",
        "veilig_thuis_regio_telefoon": "030-1234567",
        "aandachtsfunctionarissen": [
            {"naam": "Fatma Yilmaz", "functie": "aandachtsfunctionaris", "telefoon": "06-12345678",
             "email": "f.yilmaz@example.org"}]})
    browser_like.login("mw")
    browser_like.post("/casussen/nieuw", {"client_ref": "C-13"})
    page = text(browser_like.get("/casussen/1"))
    for expected in ("Veilig Thuis Utrecht", "030-1234567", "Fatma Yilmaz", "06-12345678",
                     "mailto:f.yilmaz@example.org", "0800-2000"):
        assert expected in page


def test_completing_a_task_twice_shows_a_clear_conflict(browser_like):
    browser_like.login("mw")
    location = browser_like.post("/casussen/nieuw", {"client_ref": "C-14"}).headers["Location"]
    browser_like.get(location)
    form = {"actie": "afronden", "signalen": "x", "kindcheck_kinderen": "nee"}
    assert browser_like.post(location, form).status_code == 302
    response = browser_like.post(location, form)  # e.g. a second tab, or the back button
    assert response.status_code == 409
    assert "Deze taak is al afgerond of staat niet meer open." in text(response)
    assert "Naar de casus" in text(response)
    # opening it again leads to the case page
    response = browser_like.get(location)
    assert response.status_code == 302 and response.headers["Location"] == "/casussen/1"
    assert "al afgerond" in text(browser_like.get("/casussen/1"))


# --- handing over and sharing from the case page -------------------------------------------------


def test_hand_over_and_share_from_the_case_page(browser_like, sqlite_people):
    from engine import cases

    case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-OVER"})
    page_url = f"/casussen/{case['id']}"
    browser_like.login("mw")
    page = browser_like.get(page_url).get_data(as_text=True)
    assert "Overdragen of delen" in page
    assert '<option value="mw2"' in page and '<option value="mw"' not in page
    # without the CSRF token: refused, nothing changed
    refused = browser_like.post(f"{page_url}/overdragen", {"user": "mw2", "reason": "ziek"}, csrf=False)
    assert refused.status_code == 400
    # no reason: the page again, the error at the field, the choice kept
    bad = browser_like.post(f"{page_url}/overdragen", {"user": "mw2", "reason": ""})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert 'id="overdragen-reason-fout"' in text and "Schrijf op waarom." in text
    assert '<option value="mw2" selected>' in text
    assert '<details class="person-form" id="overdragen" open>' in text
    assert cases.get_case(sqlite_people["mw"], case["id"])["owner"] == "mw"

    shared = browser_like.post(f"{page_url}/delen", {"user": "af", "reason": "Meedenken"})
    assert shared.status_code == 302 and shared.headers["Location"].endswith(page_url)
    done = browser_like.post(f"{page_url}/overdragen", {"user": "mw2", "reason": "Langdurig ziek"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/")
    assert browser_like.get(page_url).status_code == 403  # no longer ours

    browser_like.logout()
    browser_like.login("mw2")
    inbox = browser_like.get("/").get_data(as_text=True)
    assert "C-OVER" in inbox
    page = browser_like.get(page_url).get_data(as_text=True)
    assert "Eigenaar nu" in page and "Casus overgedragen" in page and "Langdurig ziek" in page
    assert "Casus gedeeld met een aandachtsfunctionaris" in page
