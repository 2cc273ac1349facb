"""Practice mode in a real browser (issue 14 point 5): the medewerker opens Oefenen from the
menu, starts a practice case, sees the banner and the hint on the task, completes stap 1 and
finds the case marked on its own page and absent from Mijn casussen; no serious accessibility
problem on the practice page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import fill_task, submit

from .conftest import axe_violations, login, shot

pytestmark = pytest.mark.browser

BANNER = "Oefenmodus: een verzonnen casus, geen echte cliënt."
DECISIONS = {"geweldsvormen": ["financieel"], "kindcheck_kinderen": False}


def test_practising_a_case_in_the_browser(new_context):
    # bypass_csp only to inject axe-core; the pages run under the real CSP
    page = new_context(bypass_csp=True).new_page()
    login(page, "mw")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Oefenen").click()
    expect(page).to_have_title(re.compile(r"^Oefening · Oefenen"))
    banner = page.locator("[data-practice-banner]")
    expect(banner).to_contain_text(BANNER)
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []
    scenario = page.locator(".practice-scenario").filter(
        has=page.get_by_role("heading", name="Een oudere cliënt die geld kwijtraakt"))
    with page.expect_navigation():
        scenario.get_by_role("button", name="Start deze oefening").click()
    # the first task: the real form of stap 1 under the banner, with the scenario's hint
    expect(page.locator("form.task-form")).to_have_attribute("data-step", "stap1_signalen")
    expect(banner).to_contain_text(BANNER)
    expect(page.locator(".practice-hint")).to_contain_text("ouderenmishandeling")
    expect(page).to_have_title(re.compile(r"^Oefening · "))
    shot(page, "practice-task")
    fill_task(page, DECISIONS)
    submit(page)
    expect(page.locator("form.task-form")).to_have_attribute("data-step", "stap2_overleg")
    expect(banner).to_be_visible()
    # the practice page lists it; its case page is marked too
    page.goto("/oefenen")
    row = page.locator("tr").filter(has_text="Een oudere cliënt die geld kwijtraakt")
    with page.expect_navigation():
        row.get_by_role("link", name="Een oudere cliënt die geld kwijtraakt").click()
    expect(page).to_have_url(re.compile(r"/casussen/\d+$"))
    expect(banner).to_contain_text(BANNER)
    # Mijn casussen shows no practice case and no banner
    page.goto("/casussen")
    expect(page.locator("[data-practice-banner]")).to_have_count(0)
    expect(page.get_by_text("Oefening: oudere cliënt in de thuiszorg")).to_have_count(0)
