"""The organisation's meldcode page and its print version at 390 px when the beheerder typed
contact details of one long word each (issue 13 break-it: a 200-character function made
/meldcode 5338 px wide and /meldcode/document 4603 px). The settings are put back after."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import login

pytestmark = pytest.mark.browser

WIDE = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
LONG_FUNCTION = "F" * 200
LONG_EMAIL = "e" * 60 + "@" + "d" * 60 + ".example.org"


def _last_row(page) -> str:
    rows = int(page.locator("input[name='rijen']").get_attribute("value") or "0")
    return f"#af-{rows - 1}"


def _save(page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Instellingen opslaan").click()
    expect(page.locator(".error-summary")).to_have_count(0)


@pytest.mark.browser_context_args(viewport={"width": 390, "height": 844})
def test_the_meldcode_page_wraps_long_contact_details_at_390_px(new_context):
    admin = new_context().new_page()
    login(admin, "bh")
    admin.goto("/beheer/instellingen")
    row = _last_row(admin)
    admin.locator(f"{row}-naam").fill("Lange Contactpersoon")
    admin.locator(f"{row}-functie").fill(LONG_FUNCTION)
    admin.locator(f"{row}-email").fill(LONG_EMAIL)
    _save(admin)
    try:
        phone = new_context().new_page()
        login(phone, "mw")
        wide = {}
        for path in ("/meldcode", "/meldcode/document"):
            phone.goto(path)
            expect(phone.get_by_text(LONG_EMAIL)).to_be_visible()
            wide[path] = phone.evaluate(WIDE)
        assert wide == {"/meldcode": 0, "/meldcode/document": 0}, wide
    finally:
        admin.goto("/beheer/instellingen")
        for cell in admin.locator("input[id^='af-'][id$='-naam']").all():
            if cell.input_value() == "Lange Contactpersoon":
                prefix = cell.get_attribute("id")[:-len("-naam")]
                for field in ("naam", "functie", "email"):
                    admin.locator(f"#{prefix}-{field}").fill("")
        _save(admin)
