"""A case for the children in a real browser (issue 14 point 2): the medewerker fills in stap 1
with children whose safety is in doubt, finds "Casus starten voor de kinderen" on the case page,
starts the children's case from it (a refused empty reference first), and then reads the link
on both case pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import fill_task, start_case, submit

from .conftest import login, shot

pytestmark = pytest.mark.browser

IN_DOUBT = {"kindcheck_kinderen": True, "kindcheck_opvang_adequaat": False,
            "kindcheck_bescherming": True}


def case_url_of(page) -> str:
    hrefs = page.locator("a[href^='/casussen/']").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))")
    return next(h for h in hrefs if re.fullmatch(r"/casussen/\d+", h))


def test_starting_a_case_for_the_children_from_the_case_page(page):
    login(page, "mw")
    start_case(page, "C-GEZIN-1")
    parent_url = case_url_of(page)
    assert fill_task(page, IN_DOUBT) == "stap1_signalen"
    submit(page)

    page.goto(parent_url)
    section = page.locator("section.linked-cases")
    expect(section.locator(".children-doubt")).to_be_visible()
    form = section.locator("#kinderen")
    expect(form).to_have_attribute("open", "")
    parent_id = parent_url.rsplit("/", 1)[1]
    expect(form.get_by_label("Korte aanleiding")).to_have_value(
        f"Casus voor de kinderen, gestart vanuit casus {parent_id}.")
    # no client reference: the page again, the error at the field, nothing started
    with page.expect_navigation():
        form.get_by_role("button", name="Casus starten voor de kinderen").click()
    expect(page.locator("#kinderen-client_ref-fout")).to_contain_text("Vul een cliëntreferentie in.")
    expect(page.locator("#kinderen-client_ref")).to_have_attribute("aria-invalid", "true")
    page.locator("#kinderen-client_ref").fill("C-GEZIN-1-KIND")
    with page.expect_navigation():
        page.locator("#kinderen").get_by_role("button",
                                             name="Casus starten voor de kinderen").click()
    # the children's case opens at its stap 1, as any new case does
    expect(page.locator("form.task-form")).to_have_attribute("data-step", "stap1_signalen")
    expect(page.locator(".flash-success")).to_contain_text("gekoppeld aan casus " + parent_id)
    child_url = case_url_of(page)
    assert child_url != parent_url

    page.goto(child_url)
    links = page.locator("section.linked-cases .linked-list a")
    expect(links).to_have_count(1)
    expect(links.first).to_have_attribute("href", parent_url)
    expect(page.locator(".timeline-panel")).to_contain_text("Casus gekoppeld")
    shot(page, "linked-case-child")
    links.first.click()
    page.wait_for_url(re.compile(re.escape(parent_url) + "$"))
    expect(page.locator("section.linked-cases .linked-list a")).to_have_attribute("href",
                                                                                  child_url)
