"""Issue 13 point 5 in a real browser: each role's start page, every main page of each role at
390 x 844 without sideways scrolling (also when what people typed is one long word: a client
reference, a reason, an answer, a question, a name), and the case diagram's zoom and pan
buttons."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.helpers import fill_task, start_case, submit

from .conftest import login, shot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
START = {"aud": "/audit/casussen", "pb": "/processen", "bh": "/beheer/instellingen",
         "mw": "/", "lg": "/", "af": "/"}
WIDE = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
SCROLL_WIDTH = "document.documentElement.scrollWidth"
# Words of ordinary length (3 to 15 letters, split at spaces, hyphens and slashes) on the page
# that are broken over two lines: long typed words must wrap, ordinary ones not in the middle.
SPLIT_WORDS = """() => {
  const split = [];
  const walker = document.createTreeWalker(document.querySelector('main') || document.body,
                                          NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.textContent.matchAll(/[^\\s\\-\\/\u2013\u2014]+/g)) {
      if (m[0].length < 3 || m[0].length > 15) continue;
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0)
                               .map(r => Math.round(r.top)));
      if (tops.size > 1) split.push(m[0]);
    }
  }
  return split.slice(0, 5);
}"""


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Every page of this module on a phone's screen."""
    return {**browser_context_args, "viewport": PHONE}


@pytest.mark.parametrize("name", list(START))
def test_each_role_starts_on_its_own_page(page, name):
    login(page, name)
    expect(page).to_have_url(re.compile(re.escape(START[name]) + "$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(re.escape(START[name]) + "$"))


def _case_with_history(page) -> tuple[str, str]:
    """A case of mw at stap 2: the paths of its case page and of its open task."""
    start_case(page, "S-390")
    fill_task(page, {"kindcheck_kinderen": False})
    submit(page)
    task = urlsplit(page.url).path
    page.get_by_role("link", name="S-390").first.click()
    page.wait_for_url(re.compile(r"/casussen/\d+$"))
    return urlsplit(page.url).path, task


def _no_sideways_scroll(page, paths: list[str], label: str,
                        split: dict[str, list[str]] | None = None) -> dict[str, int]:
    """The paths (of `label`'s pages) wider than the phone, with how many px; with `split`, the
    ordinary words broken over two lines go in there per path."""
    wide = {}
    for path in paths:
        page.goto(path)
        if page.locator(".diagram[data-src], .diagram[data-history-src]").count():
            expect(page.locator("#diagram")).to_have_attribute("data-state", "ready")
        overflow = max(page.evaluate(WIDE), page.evaluate(SCROLL_WIDTH) - PHONE["width"])
        if overflow > 0:
            wide[path] = overflow
            shot(page, f"390-{label}-{path.strip('/').replace('/', '-') or 'start'}")
        if split is not None and (words := page.evaluate(SPLIT_WORDS)):
            split[path] = words
    return wide


def test_no_page_scrolls_sideways_at_390_px(new_context):
    found: dict[str, int] = {}
    split: dict[str, list[str]] = {}
    mw = new_context().new_page()
    login(mw, "mw")
    case_path, task_path = _case_with_history(mw)
    case_id = case_path.rsplit("/", 1)[1]
    pages = {
        "mw": ["/", "/casussen", "/casussen?client_ref=S-", "/casussen/nieuw", case_path,
               case_path + "/afdrukken", task_path, "/meldcode", "/berichten"],
        "lg": ["/", "/team", "/casussen", case_path],
        "af": ["/", "/casussen"],
        "aud": ["/audit/casussen", f"/audit/casussen/{case_id}",
                f"/audit/casussen/{case_id}/toegangslog", f"/audit/casussen/{case_id}/inzage",
                "/beheerlog"],
        "pb": ["/processen", "/processen/1/actief", "/processen/1/verplaatsen",
               "/processen/modeler"],
        "bh": ["/beheer/instellingen", "/beheer/gebruikers", "/beheer/gebruikers/mw"],
    }
    for name, paths in pages.items():
        page = mw if name == "mw" else new_context().new_page()
        if name != "mw":
            login(page, name)
        found.update({f"{name} {p}": w for p, w in
                      _no_sideways_scroll(page, paths, name, split).items()})
    assert not found, f"pages wider than 390 px (extra px): {found}"
    assert not split, f"ordinary words broken over two lines: {split}"


# What people type, as one long word each (issue 13 break-it: a pasted URL or a dossier number
# without spaces made pages up to 19590 px wide): the longest the forms allow, or near it.
LONG_USER = "lang-" + "n" * 60
LONG_NAME = "Naam" + "N" * 146
LONG_REF = "REF" + "R" * 147  # 150 characters, no space (at most 200 allowed)
LONG_REASON = "A" * 2000
LONG_ANSWER = "T" * 1000
LONG_QUESTION = "Y" * 2000
LONG_SHARE = "V" * 2000
LONG_ADVICE = "W" * 3000


def _add_long_named_medewerker(bh) -> None:
    """The beheerder adds a medewerker of lg whose name and full name are one long word each."""
    bh.goto("/beheer/gebruikers")
    bh.locator("#naam").fill(LONG_USER)
    bh.locator("#weergavenaam").fill(LONG_NAME)
    bh.locator("input[name='rollen'][value='medewerker']").check()
    bh.locator("#leidinggevende").select_option("lg")
    bh.locator("#wachtwoord").fill(PASSWORD)
    with bh.expect_navigation():
        bh.get_by_role("button", name="Gebruiker toevoegen").click()
    expect(bh.locator(".error-summary")).to_have_count(0)


def _long_case(page) -> tuple[str, str]:
    """A case of the long-named medewerker at stap 2 with long words everywhere: its reference,
    reason and answers, a question to the aandachtsfunctionaris and a share with them. The
    paths of its case page and of its open task."""
    start_case(page, LONG_REF, reason=LONG_REASON)
    fill_task(page, {"kindcheck_kinderen": False})
    for box in page.locator("form.task-form textarea:visible").all():
        # kindcheck_toelichting belongs to a case with children only (783214a)
        if box.get_attribute("id") != "kindcheck_toelichting":
            box.fill(LONG_ANSWER)
    submit(page)
    expect(page.locator(".field-error")).to_have_count(0)
    task = urlsplit(page.url).path
    page.get_by_role("link", name=LONG_REF).first.click()
    page.wait_for_url(re.compile(r"/casussen/\d+$"))
    case = urlsplit(page.url).path
    page.locator("#raadplegen summary").click()
    page.get_by_label(re.compile("Aziz Aandachtsfunctionaris")).check()
    page.get_by_label("Uw vraag").fill(LONG_QUESTION)
    with page.expect_navigation():
        page.locator("#raadplegen").get_by_role("button", name="Vraag stellen").click()
    expect(page.locator(".field-error")).to_have_count(0)
    page.get_by_text("Delen met een aandachtsfunctionaris").click()
    page.locator("#delen-user").select_option("af")
    page.locator("#delen-reason").fill(LONG_SHARE)
    with page.expect_navigation():
        page.get_by_role("button", name="Delen", exact=True).click()
    expect(page.locator(".field-error")).to_have_count(0)
    return case, task


def test_long_words_do_not_widen_any_page_at_390_px(new_context):
    """Every page of every role, and the pages showing what was typed (case, history, team,
    the consult's task, messages, dossier and audit pages), stay 390 px wide when each text
    typed is one long word; tables may scroll inside their own box."""
    found: dict[str, int] = {}
    split: dict[str, list[str]] = {}
    people = {name: new_context().new_page() for name in ("bh", "mw", "af", "lg", "aud", "pb")}
    for name, page in people.items():
        login(page, LONG_USER if name == "mw" else name)
        if name == "bh":
            _add_long_named_medewerker(page)
    mw, af = people["mw"], people["af"]
    case_path, task_path = _long_case(mw)
    case_id = case_path.rsplit("/", 1)[1]
    expect(mw.locator("h1")).to_contain_text(LONG_REF)

    # the aandachtsfunctionaris opens the question from their messages, answers it at length
    af.goto("/berichten")
    message = af.locator("li.notification").filter(has_text=LONG_NAME).filter(
        has=af.get_by_role("link", name="Naar de taak")).first
    consult_path = message.get_by_role("link", name="Naar de taak").get_attribute("href") or ""
    assert consult_path.startswith("/taken/"), consult_path
    af.goto(consult_path)
    expect(af.locator("main")).to_contain_text(LONG_QUESTION)
    found.update({f"af {p}": w for p, w in _no_sideways_scroll(
        af, ["/", "/casussen", "/berichten", consult_path, case_path], "lang-af", split).items()})
    af.goto(consult_path)
    af.locator("#antwoord").fill(LONG_ADVICE)
    submit(af)
    expect(af.locator(".field-error")).to_have_count(0)

    search = f"?client_ref={LONG_REF}"
    pages = {
        "mw": ["/", "/casussen", "/casussen" + search, "/casussen/nieuw", case_path,
               case_path + "/afdrukken", task_path, "/meldcode", "/berichten"],
        "af": ["/", "/casussen", "/casussen" + search, case_path, case_path + "/afdrukken"],
        "lg": ["/", "/team", "/casussen", "/casussen" + search, case_path, "/berichten"],
        "aud": ["/audit/casussen", "/audit/casussen" + search, f"/audit/casussen/{case_id}",
                f"/audit/casussen/{case_id}/toegangslog", f"/audit/casussen/{case_id}/inzage",
                case_path, "/beheerlog"],
        "pb": ["/processen", "/processen/1/actief", "/processen/1/verplaatsen",
               "/processen/modeler"],
        "bh": ["/beheer/instellingen", "/beheer/gebruikers", f"/beheer/gebruikers/{LONG_USER}",
               "/beheerlog"],
    }
    for name, paths in pages.items():
        found.update({f"{name} {p}": w for p, w in
                      _no_sideways_scroll(people[name], paths, f"lang-{name}", split).items()})
    # the long words are on the pages checked (else the check above proves nothing)
    mw.goto(case_path)
    for text in (LONG_REASON, LONG_ANSWER, LONG_QUESTION, LONG_SHARE, LONG_ADVICE, LONG_NAME):
        expect(mw.locator("main")).to_contain_text(text)
    people["lg"].goto("/team")
    expect(people["lg"].locator("main")).to_contain_text(LONG_REF)
    assert not found, f"pages wider than 390 px with long words (extra px): {found}"
    assert not split, f"ordinary words broken over two lines: {split}"
    # a wide table still scrolls inside its own box rather than squeezing its words
    aud = people["aud"]
    aud.goto(f"/audit/casussen/{case_id}/toegangslog")
    box = aud.locator(".table-wrap").filter(has=aud.locator("table.access-log"))
    assert box.evaluate("el => el.scrollWidth > el.clientWidth")


def test_the_navigation_works_at_390_px(new_context):
    page = new_context().new_page()
    login(page, "lg")
    nav = page.get_by_role("navigation", name="Hoofdmenu")
    team = nav.get_by_role("link", name="Mijn team")
    expect(team).to_be_in_viewport()
    team.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mijn team")


def _transform(page) -> str:
    return page.locator("#diagram svg .viewport").first.get_attribute("transform") or ""


def _scale(page) -> float:
    found = re.search(r"matrix\(([-\d.e]+)", _transform(page))
    return float(found.group(1)) if found else 1.0


def test_the_case_diagram_zooms_and_pans_on_a_phone(new_context):
    page = new_context().new_page()
    login(page, "mw")
    start_case(page, "S-zoom")
    page.get_by_role("link", name="S-zoom").first.click()
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-state", "ready")
    # full width: the frame spans the screen
    box = page.locator(".diagram-frame").bounding_box()
    assert box and box["x"] <= 1 and box["width"] >= PHONE["width"] - 2
    # opened readable at the current step, not shrunk to fit
    assert _scale(page) >= 0.75
    toolbar = page.get_by_role("toolbar", name="Diagram zoomen en verschuiven")
    before = _scale(page)
    toolbar.get_by_role("button", name="Inzoomen").click()
    assert _scale(page) > before
    toolbar.get_by_role("button", name="Uitzoomen").click()
    toolbar.get_by_role("button", name="Uitzoomen").click()
    assert _scale(page) < before
    moved = _transform(page)
    toolbar.get_by_role("button", name="Naar rechts schuiven").click()
    assert _transform(page) != moved
    moved = _transform(page)
    toolbar.get_by_role("button", name="Omlaag schuiven").click()
    assert _transform(page) != moved
    toolbar.get_by_role("button", name="Hele diagram tonen").click()
    assert _scale(page) < 0.75  # the whole diagram fitted into 390 px is small
    assert page.evaluate(WIDE) <= 0
