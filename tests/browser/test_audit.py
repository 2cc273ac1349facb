"""The auditor's pages in a real browser: the case list with filters, a finished case's
history stepped through on the diagram, the verify badge, the access log holding the reads
and refusals made earlier in the same test (in the browser and through the JSON API), the
who-viewed overview, the dossier download; an axe-core scan and a screenshot of each page."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.scenarios.paths import SCENARIOS, fill

from .conftest import ROOT, SCREENSHOTS, axe_violations, login, shot

pytestmark = pytest.mark.browser

ACUUT = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")
LANE_USERS = {"medewerker": "mw", "leidinggevende": "lg", "aandachtsfunctionaris": "af"}
DOSSIER = ROOT / "test-artifacts" / "dossier"


class Api:
    """The JSON API of the test server, as an integrator uses it: one token per user."""

    def __init__(self, server):
        from engine import store, tokens

        self.base = server.base + "/api/v1"
        with store.unit_of_work(write=True, url=server.url) as session:
            self.tokens = {name: tokens.create_token(session, name)
                           for name in ("mw", "mw2", "lg", "af")}

    def call(self, method: str, path: str, who: str, body=None) -> requests.Response:
        return requests.request(method, self.base + path, json=body, timeout=30,
                                headers={"Authorization": f"Bearer {self.tokens[who]}"})

    def finished_case(self, client_ref: str, scenario=ACUUT) -> dict:
        """Start a case as the medewerker and complete every task, each by its lane's person."""
        case = self.call("POST", "/cases", "mw", {"client_ref": client_ref,
                                                  "reason": "Zorgen over blauwe plekken"}).json()
        for _ in range(40):
            if not case["tasks"]:
                return case
            task = case["tasks"][0]
            who = LANE_USERS.get(task.get("lane"), "mw")
            form = self.call("GET", f"/tasks/{task['id']}", who).json()
            response = self.call("POST", f"/tasks/{task['id']}/complete", who,
                                 {"data": fill(form["form"]["fields"], scenario.decisions)})
            assert response.status_code == 200, response.text
            case = response.json()
        raise AssertionError("the case did not close")


def marked(diagram, kind: str, element: str):
    return diagram.locator(f'g.djs-element.mc-{kind}[data-element-id="{element}"]')


def test_auditor_steps_through_a_finished_case(page, new_context, ui_server):
    api = Api(ui_server)
    ref = "C-AUDIT-" + uuid.uuid4().hex[:6]
    case = api.finished_case(ref)
    assert case["status"] == "closed" and case["uitkomst"] == "gemeld_en_hulp"
    case_id = case["id"]

    # the owner reads the case in the browser and downloads the dossier
    login(page, "mw")
    page.goto(f"/casussen/{case_id}")
    expect(page.get_by_role("link", name="Geschiedenis afspelen")).to_have_count(0)
    with page.expect_download() as info:
        page.get_by_role("link", name="Dossier (JSON)").click()
    assert info.value.suggested_filename == f"dossier-casus-{case_id}.json"
    assert json.loads(open(info.value.path(), "rb").read())["case"]["client_ref"] == ref
    # another medewerker is refused, in the browser and on the auditor's page
    other = new_context().new_page()
    login(other, "mw2")
    assert other.goto(f"/casussen/{case_id}").status == 403
    response = other.goto(f"/audit/casussen/{case_id}")
    assert response.status == 403
    expect(other.get_by_role("heading", level=1)).to_have_text("Geen toegang")
    expect(other.get_by_text("Alleen een auditor mag dit inzien.")).to_be_visible()
    expect(other.get_by_role("link", name="Audit")).to_have_count(0)
    # and through the JSON API: one refusal, one read by the leidinggevende
    assert api.call("GET", f"/cases/{case_id}", "mw2").status_code == 403
    assert api.call("GET", f"/cases/{case_id}", "lg").status_code == 200

    # the auditor: bypass_csp only to inject axe-core; the pages run under the real CSP
    aud = new_context(bypass_csp=True).new_page()
    messages: list[str] = []
    aud.on("console", lambda m: messages.append(m.text))
    found = {}

    def scan(name: str):
        aud.wait_for_load_state("networkidle")
        found[name] = axe_violations(aud)
        shot(aud, name)

    login(aud, "aud")  # the auditor starts on the case list (issue 13 point 5), which names cases
    with aud.expect_navigation():
        aud.get_by_role("link", name="Audit", exact=True).click()
    expect(aud.get_by_role("heading", level=1)).to_have_text("Audit: casussen")
    aud.get_by_label("Status").select_option("closed")
    aud.get_by_label("Uitkomst").select_option("gemeld_en_hulp")
    aud.get_by_label("Stap (open of afgerond)").select_option("melding_doen")
    with aud.expect_navigation():
        aud.get_by_role("button", name="Filteren").click()
    assert "status=closed" in aud.url and "uitkomst=gemeld_en_hulp" in aud.url
    expect(aud.get_by_label("Status")).to_have_value("closed")
    table = aud.locator("#casussen")
    expect(table.get_by_role("link", name=ref)).to_have_count(1)
    expect(table.locator("tbody tr").filter(has_text="Gemeld bij Veilig Thuis en hulp geboden")
           ).not_to_have_count(0)
    expect(table).not_to_contain_text("Open")
    scan("audit-casussen")

    # the history: the diagram as the case was at each event
    with aud.expect_navigation():
        table.get_by_role("link", name=ref).click()
    expect(aud.get_by_role("heading", level=1)).to_contain_text(ref)
    badge = aud.locator(".verify")
    expect(badge).to_have_class(re.compile("verify-ok"))
    expect(badge).to_contain_text("Geschiedenis in orde")
    frames = aud.locator("section.frame")
    count = frames.count()
    assert count >= len(ACUUT.steps) + 3  # started, the steps, a decision, closed
    diagram = aud.locator("#diagram")
    expect(diagram).to_have_attribute("data-state", "ready")
    # it opens at the last event: the case as it is now
    expect(diagram).to_have_attribute("data-frame", str(count))
    expect(aud.locator("section.frame:visible")).to_have_count(1)
    expect(aud.locator(f"#gebeurtenis-{count}")).to_be_visible()
    expect(marked(diagram, "done", "melding_doen")).to_have_count(1)
    expect(marked(diagram, "done", "hulp_evalueren")).to_have_count(1)
    expect(marked(diagram, "skipped", "stap3_gesprek")).to_have_count(1)
    expect(diagram.locator("g.mc-current")).to_have_count(0)
    scan("audit-geschiedenis")
    aud.locator(".diagram-frame").screenshot(path=str(SCREENSHOTS / "audit-geschiedenis-diagram.png"))

    # the first event, chosen in the list: only stap 1 is open
    first = aud.locator('.frame-list a[data-frame="1"]')
    first.click()
    expect(diagram).to_have_attribute("data-frame", "1")
    expect(first).to_have_attribute("aria-current", "step")
    expect(marked(diagram, "current", "stap1_signalen")).to_have_count(1)
    expect(diagram.locator("g.mc-done")).to_have_count(0)
    expect(diagram.locator("g.mc-skipped")).to_have_count(0)
    expect(aud.locator("#gebeurtenis-1")).to_contain_text("Casus gestart")
    expect(aud.locator("#gebeurtenis-1")).to_contain_text("Zorgen over blauwe plekken")
    expect(aud.locator("#stepper-status")).to_contain_text(f"1 / {count}")
    assert "#gebeurtenis-1" in aud.url

    # the keyboard: arrow down in the list, then the slider and the buttons
    first.press("ArrowDown")
    second = aud.locator('.frame-list a[data-frame="2"]')
    expect(second).to_be_focused()
    expect(diagram).to_have_attribute("data-frame", "2")
    expect(marked(diagram, "done", "stap1_signalen")).to_have_count(1)
    expect(marked(diagram, "current", "stap2_overleg")).to_have_count(1)
    expect(marked(diagram, "current", "stap1_signalen")).to_have_count(0)
    frame2 = aud.locator("#gebeurtenis-2")
    expect(frame2).to_be_visible()
    expect(frame2).to_contain_text("Afgerond: Stap 1")
    expect(frame2).to_contain_text("Welke signalen hebt u opgemerkt?")
    expect(aud.locator("#gebeurtenis-1")).to_be_hidden()
    slider = aud.get_by_label("Gebeurtenis", exact=True)
    slider.focus()
    slider.press("ArrowRight")
    expect(diagram).to_have_attribute("data-frame", "3")
    expect(marked(diagram, "done", "stap2_overleg")).to_have_count(1)
    # the exception on the gesprek skips stap 3: the next open step is stap 4
    expect(marked(diagram, "current", "stap4_wegen")).to_have_count(1)
    expect(marked(diagram, "skipped", "stap3_gesprek")).to_have_count(1)
    aud.locator(".diagram-frame").screenshot(path=str(SCREENSHOTS / "audit-geschiedenis-stap-3.png"))
    aud.get_by_role("button", name="Volgende →").click()
    expect(diagram).to_have_attribute("data-frame", "4")
    expect(marked(diagram, "done", "stap4_wegen")).to_have_count(1)
    aud.get_by_role("button", name="← Vorige").click()
    expect(diagram).to_have_attribute("data-frame", "3")
    # the data as it was then: after stap 4 is the vermoeden known, not before
    frame3 = aud.locator("#gebeurtenis-3")
    frame3.locator("summary").click()
    expect(frame3.locator(".known")).not_to_contain_text("Is er een vermoeden")
    aud.get_by_role("button", name="Volgende →").click()
    frame4 = aud.locator("#gebeurtenis-4")
    frame4.locator("summary").click()
    expect(frame4.locator(".known")).to_contain_text("vermoeden")
    slider.focus()
    slider.press("End")
    expect(diagram).to_have_attribute("data-frame", str(count))
    expect(aud.locator(f"#gebeurtenis-{count}")).to_contain_text("Casus afgesloten")
    expect(aud.get_by_role("button", name="Volgende →")).to_be_disabled()

    # the access log: the reads and refusals above, from the browser and from the API
    with aud.expect_navigation():
        aud.locator(".case-tabs").get_by_role("link", name="Toegangslog").click()
    expect(aud.get_by_role("heading", level=1)).to_contain_text("Toegangslog")
    log = aud.locator("#toegangslog")

    def rows(user, action, outcome):
        return log.locator(f'tr[data-user="{user}"][data-action="{action}"][data-outcome="{outcome}"]')

    expect(rows("mw", "create", "ok")).to_have_count(1)
    expect(rows("mw", "read", "ok")).to_have_count(1)  # the case page
    expect(rows("mw", "export", "ok")).to_have_count(1)
    expect(rows("mw2", "read", "denied")).to_have_count(2)  # the browser and the API
    expect(rows("mw2", "read_history", "denied")).to_have_count(1)
    expect(rows("lg", "read", "ok")).to_have_count(1)
    expect(rows("aud", "read_history", "ok")).to_have_count(1)
    expect(rows("aud", "read_access_log", "ok")).to_have_count(1)
    expect(rows("mw2", "read", "denied").first).to_contain_text("geweigerd")
    expect(rows("mw2", "read", "denied").first).to_contain_text("Mo Medewerker")
    expect(rows("mw", "export", "ok")).to_contain_text("Dossier gedownload")
    scan("audit-toegangslog")

    # who has seen it: a page to hand to the client
    with aud.expect_navigation():
        aud.locator(".case-tabs").get_by_role("link", name="Wie heeft dit dossier ingezien").click()
    expect(aud.get_by_role("heading", level=1)).to_have_text("Wie heeft dit dossier ingezien")
    seen = aud.locator("#inzage")
    expect(seen.locator('tr[data-user="mw"]')).to_contain_text("Mila Medewerker")
    expect(seen.locator('tr[data-user="lg"]')).to_contain_text("Lotte Leidinggevende")
    expect(seen.locator('tr[data-user="mw2"]')).to_have_count(0)
    refused = aud.locator("#geweigerde-pogingen")
    expect(refused.locator('tr[data-user="mw2"]')).to_contain_text("Mo Medewerker")
    expect(refused.locator('tr[data-user="mw2"] td.num')).to_have_text("3")
    scan("audit-inzage")
    aud.emulate_media(media="print")
    expect(aud.locator(".toolbar")).to_be_hidden()
    shot(aud, "audit-inzage-afdrukken")
    aud.emulate_media(media="screen")

    # the dossier from the history page, as a PDF
    aud.go_back()
    with aud.expect_download() as info:
        aud.locator(".case-tabs").get_by_role("link", name="Dossier (PDF)").click()
    download = info.value
    assert download.suggested_filename == f"dossier-casus-{case_id}.pdf"
    DOSSIER.mkdir(parents=True, exist_ok=True)
    target = DOSSIER / "browser-download.pdf"
    download.save_as(str(target))
    assert target.read_bytes().startswith(b"%PDF")

    problems = {name: v for name, v in found.items() if v}
    if problems:
        pytest.fail("axe-core: serious or critical violations:\n" + json.dumps(problems, indent=1))
    violations = [m for m in messages if "Content Security Policy" in m]
    assert not violations, violations


def test_history_without_javascript_lists_every_event(new_context, ui_server):
    api = Api(ui_server)
    case = api.finished_case("C-AUDIT-NOJS-" + uuid.uuid4().hex[:4])
    page = new_context(java_script_enabled=False).new_page()
    login(page, "aud")
    page.goto(f"/audit/casussen/{case['id']}")
    frames = page.locator("section.frame")
    expect(frames.first).to_be_visible()
    count = frames.count()
    expect(page.locator("section.frame:visible")).to_have_count(count)
    expect(page.locator(".stepper-controls")).to_be_hidden()
    expect(page.get_by_text("Het diagram heeft JavaScript nodig")).to_be_visible()
    # each event says what was open and done then, in words
    expect(page.locator("#gebeurtenis-1 .frame-facts")).to_contain_text("Stap 1")
    expect(page.locator(f"#gebeurtenis-{count}")).to_contain_text("Casus afgesloten")
    page.locator('.frame-list a[data-frame="2"]').click()
    assert page.url.endswith("#gebeurtenis-2")
