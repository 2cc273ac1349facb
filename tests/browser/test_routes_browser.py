"""The routes of the meldcode in a real browser: the stap 4 contradiction refused with its
message at both answers, and in an acute case the melding opened first after each step."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.helpers import fill_task, form_step, start_case, submit
from tests.scenarios.paths import SCENARIOS

from .conftest import login, shot

pytestmark = pytest.mark.browser

ACUUT = next(s for s in SCENARIOS if s.name == "acuut_melden_en_hulp")


def test_contradiction_then_the_acute_melding_first(page, new_context):
    login(page, "mw")
    start_case(page, "C-ACUUT-VOLGORDE")
    while form_step(page) != "stap4_wegen":
        fill_task(page, ACUUT.decisions)
        submit(page)

    # "geen vermoeden" while acute unsafety is answered: refused, the message at both answers
    fill_task(page, {**ACUUT.decisions, "vermoeden": False})
    # with "geen vermoeden" the form asks about the talk with the client
    expect(page.locator("#veld-weging_besproken_client")).to_be_visible()
    submit(page)
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator("#fout-vermoeden")).to_contain_text("'Geen vermoeden' kan niet samen met")
    expect(page.locator("#fout-acute_onveiligheid")).to_contain_text("Acute onveiligheid kan niet")
    expect(page.locator("#fout-structurele_onveiligheid")).to_have_count(0)
    expect(page.locator(".error-summary")).to_contain_text("Hebt u een vermoeden")
    assert form_step(page) == "stap4_wegen"
    shot(page, "tegenspraak-stap4")

    # corrected: the case goes on to stap 5, and from there the medewerker is led through the
    # melding before the help, although both became ready at once
    page.locator("#vermoeden-ja").check()
    submit(page)
    expect(page.locator(".field-error")).to_have_count(0)
    assert form_step(page) == "stap5_beslissen"
    opened = []
    while "/taken/" in page.url:
        fill_task(page, ACUUT.decisions)
        submit(page)
        expect(page.locator(".field-error")).to_have_count(0)
        if "/taken/" in page.url:
            opened.append(form_step(page))
    # Veilig Thuis's feedback (CONTRACT section 5) comes days later: recorded last
    assert opened == ["melding_voorbereiden", "melding_voorbespreken", "melding_doen",
                      "hulp_organiseren", "hulp_evalueren", "terugkoppeling_vt"]
    # the case closes once the leidinggevende has recorded the afstemming (CONTRACT section 5)
    case_url = page.url
    lg = new_context().new_page()
    login(lg, "lg")
    lg.goto(case_url)
    with lg.expect_navigation():
        lg.locator(".current-tasks a.task-name").first.click()
    assert form_step(lg) == "besluit_afstemmen"
    fill_task(lg, ACUUT.decisions)
    submit(lg)
    page.goto(case_url)
    expect(page.locator(".facts")).to_contain_text("Gemeld bij Veilig Thuis en hulp geboden")
