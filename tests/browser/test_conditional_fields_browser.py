"""The web form asks what the server asks (issue 14 break-it): a field whose required_when
reads the case data is settled on the page (engine/form_conditions.py), the rest app.js checks
with the server's rule, a field left empty read as its default (engine/forms.py
condition_scope)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.helpers import fill_task, form_step, start_case, submit, walk_to
from tests.scenarios.paths import SCENARIOS, WEGEN

from .conftest import login

pytestmark = pytest.mark.browser

ALLEEN_HULP = next(s for s in SCENARIOS if s.name == "alleen_hulp_effectief")
VGV = next(s for s in SCENARIOS if s.name == "vgv_hulp_zonder_melding_met_reden")
REASON = "#veld-vgv_reden_niet_melden"
TALK = (
    "gesprek_met",
    "gesprek_met_wie",
    "gesprek_datum",
    "gesprek_besproken",
    "gesprek_reactie_client",
    "gesprek_afspraken",
    "zorgen_weggenomen",
)


def test_without_vgv_the_vgv_reason_is_not_on_stap5(page):
    login(page, "mw")
    start_case(page, "C-VGV-NEE")
    walk_to(page, "stap5_beslissen", ALLEEN_HULP.decisions)
    page.locator("#hulp_mogelijk-ja").check()
    page.locator("#hulp_aanvaard-ja").check()
    # the case has no vgv: the question is not asked, not even hidden on the page
    expect(page.locator(REASON)).to_have_count(0)
    fill_task(page, ALLEEN_HULP.decisions)
    submit(page)
    expect(page.locator(".field-error")).to_have_count(0)
    assert form_step(page) == "hulp_organiseren"


def test_with_vgv_the_reason_is_asked_only_when_help_is_possible_and_accepted(page):
    login(page, "mw")
    start_case(page, "C-VGV-JA")
    walk_to(page, "stap5_beslissen", VGV.decisions)
    reason = page.locator(REASON)
    expect(reason).to_be_hidden()
    page.locator("#hulp_mogelijk-ja").check()
    expect(reason).to_be_hidden()
    page.locator("#hulp_aanvaard-ja").check()
    expect(reason).to_be_visible()
    page.locator("#hulp_aanvaard-nee").check()
    expect(reason).to_be_hidden()
    page.locator("#hulp_aanvaard-ja").check()
    expect(reason).to_be_visible()
    page.locator("#hulp_mogelijk-nee").check()
    expect(reason).to_be_hidden()
    expect(page.locator("#vgv_reden_niet_melden")).to_be_disabled()
    # the server asks the same: with help possible and accepted the reason is required
    page.locator("#hulp_mogelijk-ja").check()
    expect(reason).to_be_visible()
    fill_task(page, VGV.decisions)
    page.locator("#vgv_reden_niet_melden").fill("")
    submit(page)
    expect(page.locator("#fout-vgv_reden_niet_melden")).to_contain_text("Dit veld is verplicht.")
    expect(reason).to_be_visible()


def test_without_javascript_the_vgv_reason_names_both_answers(new_context):
    page = new_context(java_script_enabled=False).new_page()
    login(page, "mw")
    start_case(page, "C-VGV-NOJS")
    walk_to(page, "stap5_beslissen", VGV.decisions)
    expect(page.locator(REASON)).to_contain_text(
        "Verplicht als het antwoord bij ‘Kunt u effectieve hulp bieden of organiseren?’ ‘ja’ is"
        " en het antwoord bij ‘Aanvaarden de betrokkenen de hulp en werken zij eraan mee?’ "
        "‘ja’ is."
    )


def test_a_not_equal_condition_reads_an_unanswered_field_as_its_default(page, doctor):
    decisions = {
        **WEGEN,
        "beroepsgroep": "artsen",
        "gesprek_uitzondering": "geen",
        "zorgen_weggenomen": False,
    }
    login(page, doctor)
    start_case(page, "C-ARTS-BEREIKT")
    walk_to(page, "stap3_gesprek", decisions)
    talk = [page.locator(f"#veld-{name}") for name in TALK]
    attempts = page.locator("#veld-bereik_pogingen")
    # client_niet_bereikt opens with its default 'nee': the talk is asked
    for wrapper in talk:
        expect(wrapper).to_be_visible()
    expect(attempts).to_be_hidden()
    page.locator("#client_niet_bereikt-ja").check()
    for wrapper in talk:
        expect(wrapper).to_be_hidden()
    expect(attempts).to_be_visible()
    # no choice at all (both unticked): the server reads the default false, so
    # 'client_niet_bereikt != True' holds and the talk is asked
    page.evaluate("""() => {
        for (const input of document.querySelectorAll('[name="client_niet_bereikt"]')) {
            input.checked = false;
        }
        document.querySelector('form.task-form').dispatchEvent(new Event('change'));
    }""")
    for wrapper in talk:
        expect(wrapper).to_be_visible()
    expect(attempts).to_be_hidden()
    fill_task(page, decisions)
    page.evaluate("""() => {
        for (const input of document.querySelectorAll('[name="client_niet_bereikt"]')) {
            input.checked = false;
        }
    }""")
    submit(page)
    expect(page.locator(".field-error")).to_have_count(0)
    assert form_step(page) == "stap4_wegen"
