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
from tests.helpers import fill_task, start_case, submit

from .conftest import SCREENSHOTS, axe_violations, login, shot, start_server

pytestmark = pytest.mark.browser

MIWG = ROOT.parent / "shared" / "miwg" / "reference"
PDF_PAGES = ROOT / "test-artifacts" / "meldcode"
NEW_NAME = "Stap 1: Signalen en kindcheck"
# A diagram without static problems gets the proof of every route before "Controleren" and
# "Publiceren" answer; on a busy test machine that takes longer than expect's 5 s.
PROOF_TIMEOUT = 120_000


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
    # columns by their heading (the first, "Versie", is the row's own heading, not a td)
    headings = page.locator("table.versions thead th").all_inner_texts()[1:]
    open_cases, status = headings.index("Open casussen"), headings.index("Status")
    rows = {}
    for row in page.locator("table.versions tbody tr").all():
        number = int(row.get_attribute("id").split("-")[1])
        cells = row.locator("td").all_inner_texts()
        rows[number] = {"open": int(cells[open_cases]),
                        "active": "Actief: nieuwe casussen" in cells[status]}
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
    expect(owner.locator("#mc-status")).to_contain_text("Geen problemen gevonden", timeout=PROOF_TIMEOUT)
    expect(owner.locator("#mc-canvas g.mc-problem")).to_have_count(0)
    expect(owner.locator("#mc-problems")).to_be_hidden()

    # publish: the confirmation names what changed
    owner.get_by_role("button", name="Publiceren…").click()
    dialog = owner.get_by_role("dialog", name="Deze versie publiceren?")
    expect(dialog).to_be_visible(timeout=PROOF_TIMEOUT)
    expect(dialog).to_contain_text("Elementen")
    expect(dialog).to_contain_text("stap1_signalen")
    expect(dialog).to_contain_text(NEW_NAME)
    expect(dialog).not_to_contain_text("sf_zorgen_ja")  # broken and fixed: no change
    shot(owner, "modeler-publiceren")
    dialog.get_by_role("button", name="Ja, publiceren").click()
    expect(owner.locator("#mc-status")).to_contain_text("Gepubliceerd als versie 2", timeout=PROOF_TIMEOUT)
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


# --- what the modeler offers, in Dutch -----------------------------------------------------------


def palette_actions(page) -> dict[str, str]:
    return dict(page.eval_on_selector_all(
        "#mc-canvas .djs-palette .entry",
        "entries => entries.map(e => [e.dataset.action, e.getAttribute('aria-label') || ''])"))


def test_the_palette_offers_what_the_engine_runs_in_dutch(open_page):
    owner = open_page("pb")
    open_modeler(owner)
    actions = palette_actions(owner)
    for wanted in ("create.start-event", "create.end-event", "create.user-task",
                   "create.business-rule-task", "create.exclusive-gateway",
                   "create.parallel-gateway", "create.inclusive-gateway",
                   "create.participant-expanded", "create.group", "create.text-annotation"):
        assert wanted in actions, (wanted, actions)
    # no plain task, sub-process, intermediate (timer, message, signal) event, data objects
    for refused in ("create.task", "create.subprocess-expanded", "create.intermediate-event",
                    "create.data-object", "create.data-store"):
        assert refused not in actions, (refused, actions)
    assert not [title for title in actions.values() if re.search(r"(?i)timer|sub-?process", title)]
    assert actions["create.user-task"] == "Stap (taak voor een persoon) toevoegen"
    assert actions["create.parallel-gateway"].startswith("Splitsen of samenvoegen")


def test_the_palette_covers_nothing_of_the_diagram(open_page):
    owner = open_page("pb")
    open_modeler(owner)
    palette = owner.locator("#mc-canvas .djs-palette").bounding_box()
    for element_id in ("start_signalen", "meldcode_deelnemer", "lane_medewerker"):
        box = owner.locator(f'#mc-canvas g.djs-element[data-element-id="{element_id}"]').bounding_box()
        apart = (box["x"] >= palette["x"] + palette["width"] or palette["x"] >= box["x"] + box["width"]
                 or box["y"] >= palette["y"] + palette["height"]
                 or palette["y"] >= box["y"] + box["height"])
        assert apart, (element_id, box, palette)
    owner.locator("#mc-canvas").screenshot(path=str(SCREENSHOTS / "modeler-palet.png"))


def test_context_pad_and_replace_menu_of_a_user_task(open_page):
    owner = open_page("pb")
    open_modeler(owner)
    select_element(owner, "stap2_overleg")
    pad = owner.locator("#mc-canvas .djs-context-pad")
    entries = dict(pad.locator(".entry").evaluate_all(
        "entries => entries.map(e => [e.dataset.action, e.getAttribute('title') || ''])"))
    assert entries["append.append-task"] == "Stap erna toevoegen"
    assert "append.intermediate-event" not in entries
    pad.locator('.entry[data-action="replace"]').click()
    menu = owner.locator(".djs-popup")
    expect(menu).to_be_visible()
    expect(menu).to_contain_text("Soort element wijzigen")
    offered = menu.locator(".entry").evaluate_all("entries => entries.map(e => e.dataset.id)")
    assert "replace-with-rule-task" in offered
    for refused in ("replace-with-task", "replace-with-manual-task", "replace-with-script-task",
                    "replace-with-service-task", "replace-with-send-task", "replace-with-receive-task",
                    "replace-with-call-activity", "replace-with-collapsed-subprocess",
                    "replace-with-expanded-subprocess", "toggle-loop", "toggle-parallel-mi",
                    "toggle-sequential-mi"):
        assert refused not in offered, (refused, offered)
    expect(menu).not_to_contain_text("Manual")
    expect(menu).not_to_contain_text("Script")
    owner.keyboard.press("Escape")
    expect(menu).to_have_count(0)


def test_the_properties_panel_shows_what_the_engine_runs_in_dutch(open_page):
    owner = open_page("pb")
    open_modeler(owner)
    panel = owner.locator("#mc-properties")
    groups = panel.locator(".bio-properties-panel-group-header-title")

    select_element(owner, "stap1_signalen")
    expect(groups).to_have_text(["Algemeen", "Toelichting", "Formuliervelden"])
    expect(panel.locator(".bio-properties-panel-header-type")).to_have_text(
        re.compile("Stap \\(taak voor een persoon\\)", re.I))
    expect(panel.get_by_text("Toelichting bij dit element")).to_be_visible()
    for english_or_engine in ("Execution listeners", "Task listeners", "Inputs", "Outputs",
                              "Asynchronous continuations", "Job execution", "External task",
                              "Extension properties", "General", "Documentation"):
        expect(panel).not_to_contain_text(english_or_engine)
    panel.get_by_text("Formuliervelden", exact=True).click()
    panel.locator(".bio-properties-panel-collapsible-entry-header").first.click()
    expect(panel.get_by_text("Label (vraag)").first).to_be_visible()
    expect(panel.locator("select").first.locator("option", has_text="ja/nee")).to_have_count(1)

    select_element(owner, "afwegingskader_besluit")  # a business rule task: only its decision
    expect(groups).to_have_text(["Algemeen", "Toelichting", "Beslistabel"])
    panel.get_by_text("Beslistabel", exact=True).click()
    expect(panel.get_by_label("Beslissing (id)")).to_have_value("afwegingskader")

    select_element(owner, "sf_zorgen_ja")  # a flow out of a gateway: an expression or nothing
    expect(groups).to_have_text(["Algemeen", "Toelichting", "Voorwaarde"])
    kinds = panel.locator("#bio-properties-panel-conditionType option").all_inner_texts()
    assert kinds == ["<geen>", "Expressie"], kinds
    shot(owner, "modeler-eigenschappen")

    # the decision table speaks Dutch too
    table = owner.locator("#mc-dmn")
    expect(table).to_have_attribute("data-state", "ready")
    expect(table).to_contain_text("Welke regel telt")
    expect(table.locator(".input-cell.input-editor").first).to_contain_text("Als")
    expect(table).not_to_contain_text("Hit policy")


def test_a_new_user_task_gets_a_form_and_undo_takes_both_away(open_page):
    owner = open_page("pb")
    open_modeler(owner)
    count = "MeldcodeModeler.instance().get('elementRegistry').filter(e => e.type === 'bpmn:UserTask').length"
    before = owner.evaluate(count)
    owner.locator('#mc-canvas .djs-palette .entry[data-action="create.user-task"]').click()
    # drop it in the empty right part of the leidinggevende's lane
    lane = owner.locator('#mc-canvas g.djs-element[data-element-id="lane_leidinggevende"]').bounding_box()
    x, y = lane["x"] + lane["width"] * 0.8, lane["y"] + lane["height"] / 2
    owner.mouse.move(x - 20, y - 20)
    owner.mouse.move(x, y)
    owner.mouse.click(x, y)
    assert owner.evaluate(count) == before + 1
    groups = owner.locator("#mc-properties .bio-properties-panel-group-header-title")
    expect(groups).to_have_text(["Algemeen", "Toelichting", "Formuliervelden"])
    owner.evaluate("MeldcodeModeler.instance().get('commandStack').undo()")
    assert owner.evaluate(count) == before


# --- problems by label, and witness routes on the diagram -------------------------------------------


def test_a_problem_is_named_by_its_label_and_shows_its_element(open_page):
    owner = open_page("pb")
    open_modeler(owner)
    select_element(owner, "sf_zorgen_ja")
    edit_field(owner, "bio-properties-panel-conditionExpression", "zorgen_weggenomen ==")
    owner.get_by_role("button", name="Controleren").click()
    problems = owner.locator("#mc-problems")
    expect(problems.locator("li.mc-problem")).to_have_count(1)
    label = "de pijl ‘Ja’ van ‘Zorgen weggenomen?’ naar ‘Zorgen weggenomen’"
    expect(problems.locator(".mc-problem-label")).to_have_text(label)
    expect(problems).not_to_contain_text("sf_zorgen_ja")
    owner.locator("#mc-canvas").click(position={"x": 5, "y": 5})  # nothing selected
    problems.get_by_role("button", name=f"Toon {label} in het diagram").click()
    expect(owner.locator("#mc-properties #bio-properties-panel-id")).to_have_value("sf_zorgen_ja")
    # the check's JSON carries the label, so other pages can show it too
    token = owner.locator("#mc-modeler").get_attribute("data-csrf")
    xml = owner.evaluate("async () => (await MeldcodeModeler.instance().saveXML({format: true})).xml")
    data = owner.request.post("/processen/modeler/controleren", headers={
        "X-CSRFToken": token, "Content-Type": "application/json"}, data=json.dumps({"bpmn": xml})).json()
    assert [(p["element"], p["label"]) for p in data["problems"]] == [("sf_zorgen_ja", "Ja")]


WITNESS = [
    {"step": "stap1_signalen", "data": {"kindcheck_kinderen": False}},
    {"step": "stap2_overleg", "data": {"advies_veilig_thuis": True, "gesprek_uitzondering": "geen"}},
    {"step": "stap3_gesprek", "data": {"zorgen_weggenomen": False}},
    {"step": "stap4_wegen", "data": {"vermoeden": True, "acute_onveiligheid": False}},
    {"step": "hulp_organiseren", "data": {}},
    {"step": "stap4_wegen", "data": {"vermoeden": True}},
]


def test_a_witness_route_is_drawn_on_the_diagram_and_listed(open_page):
    """The route of a proof problem (CONTRACT section 5), given to the page's own problem list
    as the check would send it."""
    owner = open_page("pb")
    open_modeler(owner)
    owner.evaluate("""(path) => MeldcodeModeler.renderProblems([
        {file: "meldcode.bpmn", line: 290, element: "stap4_wegen", label: "Stap 4: Wegen",
         message: "stap 4 wordt vaker gedaan dan het diagram toestaat", path}])""", WITNESS)
    problems = owner.locator("#mc-problems")
    def name(element_id: str) -> str:
        return owner.evaluate("(id) => MeldcodeModeler.instance().get('elementRegistry').get(id)"
                              ".businessObject.name", element_id)

    expect(problems.locator(".mc-problem-label")).to_have_text(f"‘{name('stap4_wegen')}’")
    route = problems.locator(".mc-route")
    expect(route).to_be_hidden()
    expect(owner.locator("#mc-canvas .mc-route-badge")).to_have_count(0)

    show = problems.get_by_role("button", name=re.compile("Toon de route"))
    show.click()
    expect(show).to_have_attribute("aria-expanded", "true")
    expect(route).to_be_visible()
    steps = route.locator("li.mc-route-step")
    expect(steps).to_have_count(6)
    expect(steps.nth(0)).to_have_text(re.compile("^‘Stap 1: [^’]+’ — kindcheck_kinderen: nee$"))
    expect(steps.nth(1)).to_contain_text("advies_veilig_thuis: ja; gesprek_uitzondering: geen")
    expect(steps.nth(4)).to_have_text(f"‘{name('hulp_organiseren')}’")  # no answers
    # on the diagram: each step marked and numbered in the order of the route
    badges = {}
    for step in {hop["step"] for hop in WITNESS}:
        overlay = owner.locator(f'#mc-canvas .djs-overlays[data-container-id="{step}"] .mc-route-badge')
        expect(overlay).to_have_count(1)
        badges[step] = overlay.inner_text()
        expect(owner.locator(f'#mc-canvas g.djs-element.mc-route[data-element-id="{step}"]')).to_have_count(1)
    assert badges == {"stap1_signalen": "1", "stap2_overleg": "2", "stap3_gesprek": "3",
                      "stap4_wegen": "4, 6", "hulp_organiseren": "5"}
    expect(owner.locator("#mc-canvas g.mc-route")).to_have_count(5)
    shot(owner, "modeler-route")

    # a second click hides the route again
    show.click()
    expect(route).to_be_hidden()
    expect(owner.locator("#mc-canvas .mc-route-badge")).to_have_count(0)
    expect(owner.locator("#mc-canvas g.mc-route")).to_have_count(0)


def planted_stall(path) -> None:
    """The shipped diagram with a gateway on which a route stalls: after stap 3 "Zorgen
    weggenomen?" has no default flow, and its "Nee" flow holds only when no advice was asked."""
    from lxml import etree

    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    tree = etree.parse(str(ROOT / "processes" / "meldcode.bpmn"))
    gateway = tree.find(".//bpmn:exclusiveGateway[@id='gw_zorgen_weggenomen']", ns)
    flow = tree.find(".//bpmn:sequenceFlow[@id='sf_zorgen_nee']", ns)
    assert gateway is not None and flow is not None and flow.find("bpmn:conditionExpression", ns) is None
    del gateway.attrib["default"]
    condition = etree.SubElement(flow, f"{{{ns['bpmn']}}}conditionExpression")
    condition.set("{http://www.w3.org/2001/XMLSchema-instance}type", "bpmn:tFormalExpression")
    condition.text = "zorgen_weggenomen == False and advies_veilig_thuis == False"
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")


def test_the_proof_s_witness_route_of_a_planted_stall_is_drawn(open_page, tmp_path):
    """The same, end to end: a diagram that the proof of every route refuses, checked in the
    modeler; its problem comes with the route that stalls."""
    pytest.importorskip("engine.proof", reason="the proof of every route has not landed yet")
    owner = open_page("pb")
    open_modeler(owner)
    planted = tmp_path / "vastloper.bpmn"
    planted_stall(planted)
    owner.locator("#mc-upload").set_input_files(str(planted))
    expect(owner.locator("#mc-canvas")).to_have_attribute("data-loads", "2")
    owner.get_by_role("button", name="Controleren").click()
    show = owner.locator("#mc-problems").get_by_role("button", name=re.compile("Toon de route"))
    expect(show.first).to_be_visible(timeout=PROOF_TIMEOUT)
    item = owner.locator("#mc-problems li.mc-problem").filter(
        has=owner.get_by_role("button", name=re.compile("Toon de route"))).first
    item.get_by_role("button", name=re.compile("Toon de route")).click()
    steps = item.locator("li.mc-route-step")
    expect(steps.last).to_contain_text("Gesprek met de cliënt")
    expect(steps.last).to_contain_text("zorgen_weggenomen: nee")
    expect(item.locator(".mc-route")).to_contain_text("advies_veilig_thuis: ja")
    for step in ("stap1_signalen", "stap2_overleg", "stap3_gesprek"):
        expect(owner.locator(f'#mc-canvas .djs-overlays[data-container-id="{step}"] .mc-route-badge')
               ).to_have_count(1)
    shot(owner, "modeler-route-bewijs")


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
    # a page or two per step of the diagram (with the expert's advice and the IGJ report of
    # issue 14) and the sections of the handreiking (issue 14 point 4: about eleven pages in
    # all), never an empty or runaway document
    assert 2 <= len(pages) <= 16, pages
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
