"""Issue 13 point 5 in a real browser: each role's start page, every main page of each role at
390 x 844 without sideways scrolling, and the case diagram's zoom and pan buttons."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.helpers import fill_task, start_case, submit

from .conftest import login, shot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
START = {"aud": "/audit/casussen", "pb": "/processen", "bh": "/beheer/instellingen",
         "mw": "/", "lg": "/", "af": "/"}
WIDE = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


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


def _no_sideways_scroll(page, paths: list[str], label: str) -> dict[str, int]:
    wide = {}
    for path in paths:
        page.goto(path)
        if page.locator(".diagram[data-src], .diagram[data-history-src]").count():
            expect(page.locator("#diagram")).to_have_attribute("data-state", "ready")
        overflow = page.evaluate(WIDE)
        if overflow > 0:
            wide[path] = overflow
            shot(page, f"390-{label}-{path.strip('/').replace('/', '-') or 'start'}")
    return wide


def test_no_page_scrolls_sideways_at_390_px(new_context):
    found: dict[str, dict[str, int]] = {}
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
        found.update({f"{name} {p}": w for p, w in _no_sideways_scroll(page, paths, name).items()})
    assert not found, f"pages wider than 390 px (extra px): {found}"


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
