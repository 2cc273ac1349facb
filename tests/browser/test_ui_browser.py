"""The staff web UI in a real browser: sign in, start a case, walk the meldcode through the
forms, drafts, the diagram, refusals, protections and an axe-core scan of every page type."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.helpers import fill_task, start_case, step_fields, submit
from tests.scenarios.paths import SCENARIOS

from .conftest import PASSWORD, SCREENSHOTS, axe_violations, login, shot, start_server

pytestmark = pytest.mark.browser


def case_id_of(page) -> int:
    return int(re.search(r"/casussen/(\d+)", page.url).group(1))


# --- sign in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name,display", [
    ("mw", "Mila Medewerker"), ("lg", "Lotte Leidinggevende"), ("af", "Aziz Aandachtsfunctionaris"),
    ("aud", "Anna Auditor"), ("pb", "Peter Procesbeheerder"), ("bh", "Bart Beheerder"),
])
def test_sign_in_as_each_role(page, name, display):
    login(page, name)
    # issue 13 point 5: the auditor, procesbeheerder and beheerder start on their own page
    start = {"aud": ("/audit/casussen", "Audit: casussen"), "pb": ("/processen", "Procesversies"),
             "bh": ("/beheer/instellingen", "Instellingen van de organisatie")}
    path, heading = start.get(name, ("/", "Mijn taken"))
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator(".who-name")).to_have_text(display)
    may_start = name in ("mw", "lg", "af")
    expect(page.get_by_role("link", name="Nieuwe casus")).to_have_count(1 if may_start else 0)
    if name == "lg":
        expect(page.get_by_role("heading", name="Open taken per lane")).to_be_visible()
    page.get_by_role("button", name="Afmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Aanmelden")
    expect(page.get_by_text("U bent afgemeld.")).to_be_visible()


def test_wrong_password(page):
    login(page, "mw", "niet-het-wachtwoord")
    expect(page.get_by_role("alert")).to_have_text("Gebruikersnaam of wachtwoord klopt niet.")


# --- the whole path --------------------------------------------------------------------------


LANE_USERS = {"medewerker": "mw", "leidinggevende": "lg", "aandachtsfunctionaris": "af"}


def test_walk_acuut_melden_en_hulp_to_the_end(page, new_context):
    scenario = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")
    login(page, "mw")
    start_case(page, "C-PAD-1")
    done = []
    people = {"medewerker": page}  # a task in another lane is done by that lane's person
    case_url = None
    while True:
        while "/taken/" in page.url:
            step = fill_task(page, scenario.decisions)
            if step == "stap2_overleg":
                # the reason for the exception appears once the exception is chosen
                expect(page.get_by_label("Waarom gaat het gesprek niet door?")).to_be_visible()
                shot(page, "taak")
            submit(page)
            expect(page.locator(".field-error")).to_have_count(0)
            done.append(step)
            assert len(done) <= 14, done
        case_url = case_url or page.url
        page = people["medewerker"]
        page.goto(case_url)
        open_tasks = page.locator(".current-tasks .task-row")
        if open_tasks.count() == 0:
            break
        lane = open_tasks.first.get_attribute("data-lane")
        if lane not in people:
            people[lane] = new_context().new_page()
            login(people[lane], LANE_USERS[lane])
        page = people[lane]
        page.goto(case_url)
        with page.expect_navigation():
            page.locator(".current-tasks a.task-name").first.click()
    assert sorted(done) == sorted(scenario.steps)

    # the case page: closed with the contract's outcome, the path on the diagram
    expect(page.get_by_role("heading", level=1)).to_contain_text("C-PAD-1")
    facts = page.locator(".facts")
    expect(facts).to_contain_text("Afgesloten")
    expect(facts).to_contain_text("Gemeld bij Veilig Thuis en hulp geboden")
    expect(facts).to_contain_text("Mila Medewerker")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-state", "ready")
    for step in scenario.steps:
        expect(diagram.locator(f'g.djs-element.mc-done[data-element-id="{step}"]')).to_have_count(1)
    expect(diagram.locator('g.djs-element.mc-skipped[data-element-id="stap3_gesprek"]')).to_have_count(1)
    expect(diagram.locator("g.djs-element.mc-current")).to_have_count(0)
    timeline = page.locator(".timeline")
    expect(timeline.locator(".event-task_completed")).to_have_count(len(scenario.steps))
    expect(timeline).to_contain_text("Ik heb goede redenen om aan te nemen dat de cliënt dan het "
                                      "contact verbreekt")
    expect(page.locator(".contact-panel")).to_contain_text("0800-2000")
    expect(page.locator(".contact-panel")).to_contain_text("Aziz Aandachtsfunctionaris")
    shot(page, "casus")
    page.locator(".diagram-frame").screenshot(path=str(SCREENSHOTS / "casus-diagram.png"))

    with page.expect_navigation():
        page.get_by_role("link", name="Afdrukken").click()
    expect(page.locator("h1")).to_contain_text("C-PAD-1")
    expect(page.locator(".timeline")).to_contain_text("Vastgelegd voor")
    page.emulate_media(media="print")
    expect(page.locator(".toolbar")).to_be_hidden()
    shot(page, "afdrukken")


def test_diagram_marks_current_and_done_steps(page):
    login(page, "mw")
    start_case(page, "C-PAD-2")
    fill_task(page, {"kindcheck_kinderen": False})
    submit(page)
    with page.expect_navigation():
        page.get_by_role("link", name="C-PAD-2").first.click()
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-state", "ready")
    expect(diagram.locator('g.mc-done[data-element-id="stap1_signalen"]')).to_have_count(1)
    expect(diagram.locator('g.mc-current[data-element-id="stap2_overleg"]')).to_have_count(1)
    # only the IGJ report is out of reach already: the perpetrator is no professional carer
    # (left at its default, no); the expert's advice after stap 2 may still come
    expect(diagram.locator('g.mc-skipped[data-element-id="melding_igj"]')).to_have_count(1)
    expect(diagram.locator("g.mc-skipped")).to_have_count(1)
    expect(page.locator(".current-tasks")).to_contain_text("Stap 2")


# --- forms -----------------------------------------------------------------------------------


def test_validation_error_then_corrected(page):
    login(page, "mw")
    start_case(page, "C-FOUT-1")
    page.get_by_label("Bron van informatie van anderen").fill("De buurvrouw")
    page.get_by_label("Datum van de waarneming").fill("2026-11-02")
    submit(page)
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.locator("#fout-signalen")).to_contain_text("Dit veld is verplicht.")
    expect(page.locator("#fout-kindcheck_kinderen")).to_contain_text("Dit veld is verplicht.")
    expect(page.get_by_label("Welke signalen hebt u opgemerkt?")).to_have_attribute("aria-invalid", "true")
    # what was typed is kept
    expect(page.get_by_label("Bron van informatie van anderen")).to_have_value("De buurvrouw")
    expect(page.get_by_label("Datum van de waarneming")).to_have_value("2026-11-02")
    shot(page, "taak-fouten")
    page.get_by_label("Welke signalen hebt u opgemerkt?").fill("Blauwe plek op de arm")
    fill_task(page, {"kindcheck_kinderen": True})
    submit(page)
    expect(page.locator("form.task-form")).to_have_attribute("data-step", "stap2_overleg")
    expect(page.get_by_text("Stap afgerond.")).to_be_visible()

    # an exception to the conversation needs its reason (CONTRACT): shown once chosen
    reason = page.get_by_label("Waarom gaat het gesprek niet door?")
    expect(reason).to_be_hidden()
    fill_task(page, {"advies_veilig_thuis": False, "gesprek_uitzondering": "geen"})
    expect(reason).to_be_hidden()
    page.locator("#gesprek_uitzondering-veiligheid").check()
    expect(reason).to_be_visible()
    reason.fill("")
    submit(page)
    expect(page.locator("#fout-gesprek_uitzondering_reden")).to_contain_text("Dit veld is verplicht.")
    expect(page.locator("#gesprek_uitzondering-veiligheid")).to_be_checked()
    expect(page.get_by_label("Met wie hebt u overlegd? (naam en functie)")).to_have_value(
        "Vastgelegd voor Met wie hebt u overlegd? (naam en functi")
    page.get_by_label("Waarom gaat het gesprek niet door?").fill("De partner is agressief.")
    submit(page)
    expect(page.locator("form.task-form")).to_have_attribute("data-step", "stap4_wegen")


def test_conditional_fields_without_javascript(new_context, ui_server):
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    login(page, "mw")
    start_case(page, "C-NOJS-1")
    page.get_by_label("Welke signalen hebt u opgemerkt?").fill("Signalen")
    page.locator("#kindcheck_kinderen-nee").check()
    submit(page)
    expect(page.locator("form.task-form")).to_have_attribute("data-step", "stap2_overleg")
    # without JS every field is there, with its condition in words; the server decides
    expect(page.get_by_label("Waarom gaat het gesprek niet door?")).to_be_visible()
    # (the fields of this case's form: mw follows the organisation's afwegingskader, so the
    # KNMG reason for not asking Veilig Thuis is not on it)
    conditional = [f for f in step_fields("stap2_overleg", {"beroepsgroep": "sociaal_domein"})
                   if f.get("required_when")]
    expect(page.get_by_text("Verplicht als het antwoord bij")).to_have_count(len(conditional))
    fill_task(page, {"advies_veilig_thuis": False, "gesprek_uitzondering": "contact_verbreken"})
    page.get_by_label("Waarom gaat het gesprek niet door?").fill("")
    submit(page)
    expect(page.locator("#fout-gesprek_uitzondering_reden")).to_contain_text("Dit veld is verplicht.")


def test_draft_saved_and_restored_in_a_new_session(page, new_context):
    login(page, "mw")
    start_case(page, "C-CONCEPT-1")
    task_url = page.url
    # two lines: the browser sends a textarea's line break as CR LF, which a draft once refused
    page.get_by_label("Welke signalen hebt u opgemerkt?").fill("Half ingevuld:\nblauwe plekken")
    page.locator("#kindcheck_kinderen-ja").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Concept opslaan").click()
    expect(page.get_by_text("Concept opgeslagen")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Welke signalen hebt u opgemerkt?")).to_have_value(
        "Half ingevuld:\nblauwe plekken")
    # the browser is closed: a new session, the draft is still there
    page.context.close()
    other = new_context().new_page()
    login(other, "mw")
    other.goto(task_url)
    expect(other.get_by_text("is teruggezet")).to_be_visible()
    expect(other.get_by_label("Welke signalen hebt u opgemerkt?")).to_have_value(
        "Half ingevuld:\nblauwe plekken")
    expect(other.locator("#kindcheck_kinderen-ja")).to_be_checked()


# --- refusals and protections ----------------------------------------------------------------


def test_another_medewerkers_case_is_refused(page, new_context):
    login(page, "mw")
    start_case(page, "C-PRIVE-1")
    task_url = page.url
    page.get_by_role("link", name="C-PRIVE-1").click()
    case_url = page.url
    other = new_context().new_page()
    login(other, "mw2")
    response = other.goto(case_url)
    assert response.status == 403
    expect(other.get_by_role("heading", level=1)).to_have_text("Geen toegang")
    expect(other.get_by_text("U heeft geen toegang tot deze casus.")).to_be_visible()
    shot(other, "geen-toegang")
    assert other.goto(task_url).status == 403
    other.goto("/casussen")
    expect(other.get_by_text("C-PRIVE-1")).to_have_count(0)


def test_hand_over_a_case_to_a_colleague(page, new_context):
    login(page, "mw")
    start_case(page, "C-OVERDRACHT-1")
    page.get_by_role("link", name="C-OVERDRACHT-1").click()
    case_url = page.url
    page.get_by_text("Casus overdragen aan een collega").click()
    page.get_by_label("Nieuwe eigenaar").select_option("mw2")
    page.locator("#overdragen-reason").fill("Langdurig ziek; collega neemt het over.")
    shot(page, "casus-overdragen")
    with page.expect_navigation():
        page.get_by_role("button", name="Overdragen", exact=True).click()
    expect(page.get_by_text("De casus is overgedragen aan mw2.")).to_be_visible()
    expect(page.get_by_text("C-OVERDRACHT-1")).to_have_count(0)  # gone from my inbox

    other = new_context().new_page()
    login(other, "mw2")
    # the inbox lists tasks one by one (urgent, then by due date) or per case when sorted so
    card = other.locator("li.task-row, li.card").filter(has_text="C-OVERDRACHT-1").first
    with other.expect_navigation():
        card.locator("a.task-name").click()
    expect(other.locator("form.task-form")).to_have_attribute("data-step", "stap1_signalen")
    fill_task(other, {"kindcheck_kinderen": True})
    submit(other)
    other.goto(case_url)
    expect(other.get_by_text("Eigenaar nu")).to_be_visible()
    expect(other.locator(".event-case_handed_over")).to_contain_text("Langdurig ziek")
    expect(other.locator(".event-task_completed")).to_have_count(1)


def test_post_without_csrf_token_is_refused(page, ui_server):
    login(page, "mw")
    response = page.request.post(f"{ui_server.base}/casussen/nieuw",
                                 form={"client_ref": "C-CSRF", "reason": "x"}, max_redirects=0)
    assert response.status == 400
    assert "beveiligingscode" in response.text()
    response = page.request.post(f"{ui_server.base}/afmelden", max_redirects=0)
    assert response.status == 400
    page.goto("/casussen")
    expect(page.get_by_text("C-CSRF")).to_have_count(0)


def test_security_headers(page):
    response = page.goto("/aanmelden")
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"]
    login(page, "mw")
    cookie = next(c for c in page.context.cookies() if c["name"] == "meldcode_sessie")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_login_rate_limit(page, tmp_path):
    # Several worker processes, each attempt on a new connection: the count is shared.
    server, _url = start_server(tmp_path, MELDCODE_LOGIN_RATE_LIMIT="3 per minute",
                                MELDCODE_WORKERS="4")
    try:
        statuses = []
        for _ in range(4):
            page.goto(f"{server.base}/aanmelden")
            page.get_by_label("Gebruikersnaam").fill("mw")
            page.get_by_label("Wachtwoord").fill("fout-wachtwoord")
            with page.expect_response(lambda r: r.request.method == "POST") as info:
                page.get_by_role("button", name="Aanmelden").click()
            statuses.append(info.value.status)
        assert statuses == [401, 401, 401, 429]
        expect(page.get_by_role("heading", level=1)).to_have_text("Even wachten")
        expect(page.get_by_text("Te veel pogingen in korte tijd.")).to_be_visible()
        shot(page, "te-veel-pogingen")
    finally:
        server.stop()


# --- accessibility: every page type ----------------------------------------------------------


def test_axe_scan_of_every_page_type(new_context, ui_server):
    # bypass_csp lets the test inject axe-core; the pages themselves run under the real CSP
    page = new_context(bypass_csp=True).new_page()
    found = {}

    def scan(name: str, screenshot: bool = True):
        page.wait_for_load_state("networkidle")
        found[name] = axe_violations(page)
        if screenshot:
            shot(page, name)

    page.goto("/aanmelden")
    scan("aanmelden")
    login(page, "mw")
    start_case(page, "C-AXE-1")
    scan("taak-stap1", screenshot=False)
    page.get_by_role("button", name="Stap afronden").click()
    page.wait_for_url(re.compile("/taken/"))
    scan("taak-met-fouten", screenshot=False)
    fill_task(page, {"kindcheck_kinderen": True})
    submit(page)
    page.goto("/")
    scan("mijn-taken")
    page.goto("/casussen")
    scan("mijn-casussen")
    page.goto("/casussen/nieuw")
    scan("nieuwe-casus")
    page.goto("/casussen")
    with page.expect_navigation():
        page.get_by_role("link", name="C-AXE-1").first.click()
    expect(page.locator("#diagram")).to_have_attribute("data-state", "ready")
    scan("casus-open")
    case_url = page.url
    page.get_by_text("Casus overdragen aan een collega").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Overdragen", exact=True).click()
    expect(page.locator("#overdragen-user-fout")).to_be_visible()
    scan("casus-overdragen-fouten", screenshot=False)
    page.goto(case_url + "/afdrukken")
    scan("afdrukken-open", screenshot=False)
    page.goto("/bestaat-niet")
    scan("niet-gevonden")
    login_lg = new_context(bypass_csp=True).new_page()
    login(login_lg, "lg")
    found["mijn-taken-leidinggevende"] = axe_violations(login_lg)
    shot(login_lg, "mijn-taken-leidinggevende")
    login_lg.goto(case_url)
    expect(login_lg.locator("#diagram")).to_have_attribute("data-state", "ready")
    found["casus-leidinggevende"] = axe_violations(login_lg)
    page.goto("/taal")  # GET is not allowed: a 405 page
    scan("niet-toegestaan", screenshot=False)
    problems = {name: v for name, v in found.items() if v}
    if problems:
        pytest.fail("axe-core: serious or critical violations:\n" + json.dumps(problems, indent=1))


def test_english_pages(page):
    page.goto("/aanmelden")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("User name").fill("mw")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My tasks")
