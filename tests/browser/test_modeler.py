"""The process owner in a real browser: edit the diagram in the modeler, see a problem marked on
its element, fix it, publish; running cases keep their version; an older version made active
again; a refused publish changes nothing. The beheerder's settings in a form's help text and
in the organisation's meldcode (also as PDF pages). axe-core on every new page type."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, need

from .conftest import SCREENSHOTS, axe_violations, login, shot, start_server
from .test_ui_browser import fill_task, start_case, submit

pytestmark = pytest.mark.browser

MIWG = ROOT.parent / "shared" / "miwg" / "reference"
PDF_PAGES = ROOT / "test-artifacts" / "meldcode"
NEW_NAME = "Stap 1: Signalen en kindcheck"


@pytest.fixture(scope="module")
def owner_server(tmp_path_factory):
    """A server of its own: these tests publish versions."""
    server, _url = start_server(tmp_path_factory.mktemp("modeler"))
    yield server
    server.stop()


@pytest.fixture
def open_page(browser, browser_context_args, owner_server):
    """A page for one person on the owner's server (bypass_csp only where axe is injected);
    no script errors and no Content-Security-Policy violations on any of them."""
    errors: list[str] = []
    contexts = []

    def make(name: str, **context_args):
        context = browser.new_context(**{**browser_context_args, "base_url": owner_server.base,
                                         **context_args})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text
                else None)
        login(page, name)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, errors


# --- in the modeler --------------------------------------------------------------------------


def open_modeler(page) -> None:
    page.goto("/processen/modeler")
    expect(page.locator("#mc-modeler")).to_have_attribute("data-state", "ready")
    expect(page.locator("#mc-canvas")).to_have_attribute("data-state", "ready")


def select_element(page, element_id: str) -> None:
    """Bring the element into view at 100 % and click it, as a person would after scrolling."""
    page.evaluate("""(id) => {
        const modeler = MeldcodeModeler.instance();
        const canvas = modeler.get("canvas");
        canvas.zoom(1);
        canvas.scrollToElement(modeler.get("elementRegistry").get(id), { top: 200, left: 300 });
    }""", element_id)
    # a flow's hit area is a wide stroke; its box may be zero wide, so click its middle
    box = page.locator(f'#mc-canvas g[data-element-id="{element_id}"] .djs-hit').first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#mc-properties #bio-properties-panel-id")).to_have_value(element_id)


def edit_field(page, field_id: str, value: str) -> None:
    field = page.locator(f"#mc-properties #{field_id}")
    field.fill(value)
    field.press("Tab")  # the panel commits on input (debounced) and on blur


def versions_table(page) -> dict[int, dict]:
    page.goto("/processen")
    rows = {}
    for row in page.locator("table.versions tbody tr").all():
        number = int(row.get_attribute("id").split("-")[1])
        cells = row.locator("td").all_inner_texts()
        rows[number] = {"open": int(cells[2]), "active": "Actief: nieuwe casussen" in cells[3]}
    return rows


def test_rename_break_fix_publish_and_cases_keep_their_version(open_page):
    staff = open_page("mw")
    start_case(staff, "C-VOOR")
    fill_task(staff, {"kindcheck_kinderen": False})
    submit(staff)  # the case waits at stap 2, on version 1

    owner = open_page("pb")
    open_modeler(owner)
    expect(owner.locator("#mc-dirty")).to_be_hidden()
    shot(owner, "modeler")

    # rename a step in the properties panel
    select_element(owner, "stap1_signalen")
    edit_field(owner, "bio-properties-panel-name", NEW_NAME)
    expect(owner.locator('#mc-canvas g[data-element-id="stap1_signalen"]')).to_contain_text("kindcheck")
    expect(owner.locator("#mc-dirty")).to_be_visible()

    # break a condition: the check marks the flow
    select_element(owner, "sf_zorgen_ja")
    condition = owner.locator("#mc-properties #bio-properties-panel-conditionExpression")
    expect(condition).to_have_value("zorgen_weggenomen == True")
    edit_field(owner, "bio-properties-panel-conditionExpression", "__import__('os')")
    owner.get_by_role("button", name="Controleren").click()
    problems = owner.locator("#mc-problems")
    expect(problems).to_be_visible()
    expect(problems.locator("li")).to_have_count(1)
    expect(problems).to_contain_text("ongeldige voorwaarde")
    marked = owner.locator('#mc-canvas g.djs-element.mc-problem[data-element-id="sf_zorgen_ja"]')
    expect(marked).to_have_count(1)
    expect(owner.locator('#mc-canvas .djs-overlays[data-container-id="sf_zorgen_ja"] .mc-problem-badge')
           ).to_have_count(1)
    expect(owner.locator("#mc-status")).to_contain_text("kan zo niet worden gepubliceerd")
    shot(owner, "modeler-probleem")

    # publishing a broken diagram is refused before anything is sent to deploy
    owner.get_by_role("button", name="Publiceren…").click()
    expect(owner.locator("#mc-status")).to_contain_text("Niet gepubliceerd")
    expect(owner.locator("#mc-confirm")).not_to_be_visible()

    # fix it: the mark goes away
    edit_field(owner, "bio-properties-panel-conditionExpression", "zorgen_weggenomen == True")
    owner.get_by_role("button", name="Controleren").click()
    expect(owner.locator("#mc-status")).to_contain_text("Geen problemen gevonden")
    expect(owner.locator("#mc-canvas g.mc-problem")).to_have_count(0)
    expect(owner.locator("#mc-problems")).to_be_hidden()

    # publish: the confirmation names what changed
    owner.get_by_role("button", name="Publiceren…").click()
    dialog = owner.get_by_role("dialog", name="Deze versie publiceren?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Elementen")
    expect(dialog).to_contain_text("stap1_signalen")
    expect(dialog).to_contain_text(NEW_NAME)
    expect(dialog).not_to_contain_text("sf_zorgen_ja")  # broken and fixed: no change
    shot(owner, "modeler-publiceren")
    dialog.get_by_role("button", name="Ja, publiceren").click()
    expect(owner.locator("#mc-status")).to_contain_text("Gepubliceerd als versie 2")
    expect(owner.locator("#mc-active-version")).to_have_text("2")
    expect(owner.locator("#mc-dirty")).to_be_hidden()

    # the versions page: 2 is active, the running case is on 1
    assert versions_table(owner) == {2: {"open": 0, "active": True}, 1: {"open": 1, "active": False}}
    owner.get_by_label("Oude versie").select_option("1")
    owner.get_by_label("Nieuwe versie").select_option("2")
    owner.get_by_role("button", name="Vergelijken").click()
    comparison = owner.locator("#verschil")
    expect(comparison).to_contain_text("Van versie 1 naar versie 2")
    expect(comparison.get_by_role("heading", name=re.compile("Elementen"))).to_be_visible()
    expect(comparison).to_contain_text(NEW_NAME)
    shot(owner, "procesversies")

    # a new case gets the new version
    start_case(staff, "C-NA")
    expect(staff.get_by_role("heading", level=1)).to_have_text(NEW_NAME)

    # the case started before stays on version 1 and finishes there
    staff.goto("/casussen")
    with staff.expect_navigation():
        staff.get_by_role("link", name="C-VOOR").click()
    expect(staff.locator(".facts")).to_contain_text("Procesversie1")
    with staff.expect_navigation():
        staff.locator(".current-tasks").get_by_role("link").first.click()
    decisions = {"advies_veilig_thuis": False, "gesprek_uitzondering": "geen",
                 "zorgen_weggenomen": True}
    while "/taken/" in staff.url:
        fill_task(staff, decisions)
        submit(staff)
    expect(staff.locator(".facts")).to_contain_text("Afgesloten")
    expect(staff.locator(".facts")).to_contain_text("Zorgen weggenomen")
    expect(staff.locator(".facts")).to_contain_text("Procesversie1")

    # set version 1 active again, after a confirmation
    owner.goto("/processen")
    with owner.expect_navigation():
        owner.get_by_role("link", name="Versie 1 actief maken").click()
    expect(owner.get_by_role("heading", level=1)).to_have_text("Versie 1 actief maken?")
    expect(owner.locator("main")).to_contain_text("stap1_signalen")
    with owner.expect_navigation():
        owner.get_by_role("button", name="Ja, versie 1 actief maken").click()
    expect(owner.get_by_text("Versie 1 is nu actief")).to_be_visible()
    start_case(staff, "C-TERUG")
    expect(staff.get_by_role("heading", level=1)).to_have_text("Stap 1: Signalen in kaart brengen")
    assert versions_table(owner) == {2: {"open": 1, "active": False}, 1: {"open": 1, "active": True}}


def test_a_refused_publish_changes_nothing(open_page, tmp_path):
    owner = open_page("pb")
    before = versions_table(owner)
    open_modeler(owner)
    # a diagram from another modeler that is not the meldcode: it opens, but cannot be published
    owner.locator("#mc-upload").set_input_files(str(MIWG / "A.1.0.bpmn"))
    expect(owner.locator("#mc-canvas")).to_have_attribute("data-loads", "2")
    expect(owner.locator("#mc-status")).to_contain_text("A.1.0.bpmn is geopend")
    owner.get_by_role("button", name="Publiceren…").click()
    expect(owner.locator("#mc-status")).to_contain_text("Niet gepubliceerd")
    expect(owner.locator("#mc-problems")).to_contain_text("proces 'meldcode' ontbreekt")
    # and straight at the endpoint, past the browser's own check: refused, nothing stored
    token = owner.locator("#mc-modeler").get_attribute("data-csrf")
    response = owner.request.post(
        "/processen/modeler/publiceren", headers={"X-CSRFToken": token, "Content-Type": "application/json"},
        data=json.dumps({"bpmn": (MIWG / "A.1.0.bpmn").read_text()}), fail_on_status_code=False)
    assert response.status == 422
    assert versions_table(owner) == before


# --- settings in a help text, and the organisation's meldcode -----------------------------------


def test_settings_appear_in_help_texts_and_in_the_meldcode_document(open_page):
    admin = open_page("bh")
    admin.goto("/beheer/instellingen")
    admin.get_by_label("Naam van de organisatie").fill("Zorggroep De Linde")
    admin.get_by_label("Verpleegkundigen en verzorgenden: de meldcode van V&VN").check()
    admin.get_by_label("Naam, persoon 1").fill("Fatima el Amrani")
    admin.get_by_label("Functie, persoon 1").fill("GZ-psycholoog, aandachtsfunctionaris")
    admin.get_by_label("Telefoon, persoon 1").fill("06-12345678")
    admin.get_by_label("E-mail, persoon 1").fill("f.elamrani@delinde.example")
    admin.get_by_label("Naam, persoon 2").fill("Johan de Vries")
    admin.get_by_label("E-mail, persoon 2").fill("geen e-mailadres")
    admin.get_by_label("Veilig Thuis in de regio", exact=True).fill("Veilig Thuis Utrecht")
    admin.get_by_label("Telefoonnummer van de regio voor professionals").fill("bel ons")
    admin.get_by_label("Adres van Veilig Thuis in de regio").fill("Postbus 1, 3500 AA Utrecht")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Instellingen opslaan").click()
    expect(admin.locator(".error-summary")).to_be_focused()
    expect(admin.locator("#fout-veilig_thuis_regio_telefoon")).to_contain_text("Alleen cijfers")
    expect(admin.get_by_label("Telefoonnummer van de regio voor professionals")
           ).to_have_attribute("aria-invalid", "true")
    expect(admin.locator("#fout-aandachtsfunctionarissen")).to_contain_text("ongeldig e-mailadres")
    expect(admin.get_by_label("Naam van de organisatie")).to_have_value("Zorggroep De Linde")
    shot(admin, "instellingen-fouten")
    admin.get_by_label("Telefoonnummer van de regio voor professionals").fill("030 123 45 67")
    admin.get_by_label("E-mail, persoon 2").fill("j.devries@delinde.example")
    admin.get_by_label("Telefoon, persoon 2").fill("06-87654321")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Instellingen opslaan").click()
    expect(admin.get_by_text("De instellingen zijn opgeslagen.")).to_be_visible()
    expect(admin.get_by_label("Naam, persoon 3")).to_have_value("")
    shot(admin, "instellingen")

    # a medewerker sees them in the help of stap 2 (help texts with {placeholders})
    staff = open_page("mw")
    start_case(staff, "C-HULP")
    fill_task(staff, {"kindcheck_kinderen": False})
    submit(staff)
    expect(staff.locator("form.task-form")).to_have_attribute("data-step", "stap2_overleg")
    expect(staff.locator("#hulp-advies_veilig_thuis")).to_contain_text(
        "Bel Veilig Thuis Utrecht (030 123 45 67) of het landelijke nummer 0800-2000")
    guidance = staff.locator(".guidance")
    expect(guidance).to_contain_text("aandachtsfunctionaris Fatima el Amrani (06-12345678) of "
                                     "Johan de Vries (06-87654321)")
    expect(guidance).not_to_contain_text("{")
    shot(staff, "taak-met-instellingen")

    # the organisation's meldcode, for everyone signed in
    with staff.expect_navigation():
        staff.get_by_role("link", name="Onze meldcode").click()
    document = staff.locator("article.meldcode-doc")
    expect(document.get_by_role("heading", level=1)).to_have_text(
        "Meldcode huiselijk geweld en kindermishandeling")
    expect(document).to_contain_text("Zorggroep De Linde")
    expect(document).to_contain_text("Fatima el Amrani")
    expect(document).to_contain_text("Veilig Thuis Utrecht")
    expect(document).to_contain_text("de meldcode van V&VN")
    expect(document).to_contain_text("Stap 5: Beslissen")
    shot(staff, "meldcode")

    with staff.expect_download() as info:
        staff.get_by_role("link", name="Downloaden als PDF").click()
    pdf = info.value
    assert pdf.suggested_filename.startswith("meldcode-versie-")
    need(shutil.which("pdftoppm") is not None, "pdftoppm (poppler-utils) is not installed")
    if PDF_PAGES.exists():
        shutil.rmtree(PDF_PAGES)
    PDF_PAGES.mkdir(parents=True)
    pdf.save_as(PDF_PAGES / "meldcode.pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(PDF_PAGES / "meldcode.pdf"),
                    str(PDF_PAGES / "pagina")], check=True, timeout=60)
    pages = sorted(PDF_PAGES.glob("pagina-*.png"))
    assert 2 <= len(pages) <= 8, pages
    text = subprocess.run(["pdftotext", str(PDF_PAGES / "meldcode.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Zorggroep De Linde" in text and "Fatima el Amrani" in text
    assert "{" not in text


# --- accessibility of the new pages -------------------------------------------------------------


def test_axe_scan_of_the_process_owner_and_beheerder_pages(open_page):
    found = {}

    def scan(page, name: str):
        page.wait_for_load_state("networkidle")
        found[name] = axe_violations(page)
        shot(page, f"axe-{name}")

    owner = open_page("pb", bypass_csp=True)
    owner.goto("/processen")
    scan(owner, "procesversies")
    owner.goto("/processen?van=1&naar=1")
    scan(owner, "procesversies-vergelijken")
    versions = versions_table(owner)
    inactive = next((n for n, v in versions.items() if not v["active"]), None)
    if inactive:
        owner.goto(f"/processen/{inactive}/actief")
        scan(owner, "actief-maken")
    open_modeler(owner)
    expect(owner.locator("#mc-dmn")).to_have_attribute("data-state", "ready")
    owner.get_by_role("button", name="Controleren").click()
    expect(owner.locator("#mc-status")).to_be_visible()
    scan(owner, "modeler")
    admin = open_page("bh", bypass_csp=True)
    admin.goto("/beheer/instellingen")
    scan(admin, "instellingen")
    with admin.expect_navigation():
        admin.get_by_label("Landelijk telefoonnummer").fill("")
        admin.get_by_role("button", name="Instellingen opslaan").click()
    scan(admin, "instellingen-fouten")
    admin.goto("/meldcode")
    scan(admin, "meldcode")
    problems = {name: v for name, v in found.items() if v}
    if problems:
        pytest.fail("axe-core: serious or critical violations:\n" + json.dumps(problems, indent=1))
    assert SCREENSHOTS.exists()
