"""The management overview for toezicht in a real browser (issue 14 point 6): the heatmap
on the diagram shows, on each step that cases reached, the same count as the table."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import start_case

from .conftest import axe_violations, login, shot

pytestmark = pytest.mark.browser


def test_the_heatmap_shows_the_counts_of_the_table_on_the_diagram(page, new_context):
    mw = new_context().new_page()
    login(mw, "mw")
    start_case(mw, "C-HEATMAP-1")  # at least one case reached stap 1 this year
    # the leidinggevende, on the page under the real CSP (watched by no_csp_violations)
    lg_page = page
    login(lg_page, "lg")
    lg_page.get_by_role("navigation").get_by_role("link", name="Overzicht voor toezicht", exact=True).click()
    expect(lg_page.locator("h1")).to_have_text("Overzicht voor toezicht")
    diagram = lg_page.locator("#heatmap")
    expect(diagram).to_have_attribute("data-heatmap-state", "ready")
    table = {
        row.get_attribute("data-step"): row.locator("[data-figure=reached]").inner_text()
        for row in lg_page.locator("#cijfers-routes tbody tr").all()
    }
    assert int(table["stap1_signalen"]) >= 1
    badges = diagram.locator(".heat-count")
    shown = {b.get_attribute("data-element"): b.inner_text() for b in badges.all()}
    assert shown == {step: n for step, n in table.items()
                     if lg_page.locator(f"#heatmap [data-element-id='{step}']").count()}
    assert "stap1_signalen" in shown
    # the overlay sits on its element, and the element is coloured by the scale
    stap1 = diagram.locator("g.djs-element[data-element-id='stap1_signalen']")
    expect(stap1).to_have_class(re.compile(r"\bheat-[1-4]\b"))
    box = stap1.bounding_box()
    badge = diagram.locator(".heat-count[data-element='stap1_signalen']").bounding_box()
    assert box and badge
    assert box["x"] - 5 <= badge["x"] <= box["x"] + box["width"] + 5
    assert "C-HEATMAP-1" not in lg_page.content()  # counts only
    shot(lg_page, "toezicht-heatmap")
    # the auditor too; bypass_csp only to inject axe-core
    aud = new_context(bypass_csp=True).new_page()
    login(aud, "aud")
    aud.goto("/toezicht")
    expect(aud.locator("#heatmap")).to_have_attribute("data-heatmap-state", "ready")
    assert axe_violations(aud) == []


def test_the_overview_fits_a_phone(new_context):
    """At 390 px nothing scrolls sideways: the tables and the diagram stay within the page."""
    phone = new_context().new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    login(phone, "aud")
    phone.goto("/toezicht")
    expect(phone.locator("#heatmap")).to_have_attribute("data-heatmap-state", "ready")
    wide = phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    shot(phone, "toezicht-390")
    assert wide <= 0
    # a step's name from another version's diagram may be one long word (the full suite's
    # server holds such versions): it wraps in its cell
    wide = phone.evaluate(
        "() => { const cell = document.querySelector('table.counts tbody th');"
        " cell.textContent = 'Stap_' + 'x'.repeat(120);"
        " return document.documentElement.scrollWidth"
        " - document.documentElement.clientWidth; }")
    assert wide <= 0
