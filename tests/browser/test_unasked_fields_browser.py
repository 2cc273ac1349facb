"""The web form asks what the server asks, also where a question is settled by what the form
opens with or by an invalid_when (issue 14 break-it):

- without JavaScript, a KNMG doctor whose client could not be reached (client_niet_bereikt)
  sends the 'nee' that zorgen_weggenomen opens with (its defaultValue) and cannot untick: the
  server took that for an answer to a question not asked, an unavoidable 422; the default is
  no answer now (engine/forms.py validate);
- with JavaScript, kindcheck_toelichting is hidden while the case has no children: the server
  refuses it then by its invalid_when (783214a); app.js follows that rule (data-unless,
  engine/form_conditions.py refusals) as it follows required_when (data-when)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.helpers import fill_task, form_step, start_case, submit, walk_to
from tests.scenarios.paths import WEGEN

from .conftest import login

pytestmark = pytest.mark.browser

NOT_REACHED = {
    **WEGEN,
    "beroepsgroep": "artsen",
    "gesprek_uitzondering": "geen",
    "client_niet_bereikt": True,
}
EXPLANATION = "#veld-kindcheck_toelichting"


def test_without_javascript_a_client_not_reached_completes_stap3(new_context, doctor):
    page = new_context(java_script_enabled=False).new_page()
    login(page, doctor)
    start_case(page, "C-ARTS-NIET-BEREIKT")
    walk_to(page, "stap3_gesprek", NOT_REACHED)
    # the question about the concerns opens with its default ticked, and a radio button
    # stays ticked: without JavaScript the doctor cannot leave it empty
    expect(page.locator("#zorgen_weggenomen-nee")).to_be_checked()
    fill_task(page, NOT_REACHED)
    expect(page.locator("#client_niet_bereikt-ja")).to_be_checked()
    submit(page)
    expect(page.locator(".field-error")).to_have_count(0)
    assert form_step(page) == "stap4_wegen"


def test_without_children_the_kindcheck_explanation_is_not_asked(page):
    login(page, "mw")
    start_case(page, "C-GEEN-KINDEREN")
    explanation = page.locator(EXPLANATION)
    expect(explanation).to_be_visible()  # not answered yet: the server takes an explanation
    page.locator("#kindcheck_kinderen-ja").check()
    expect(explanation).to_be_visible()
    page.locator("#kindcheck_toelichting").fill("Oma vangt de kinderen op")
    page.locator("#kindcheck_kinderen-nee").check()
    expect(explanation).to_be_hidden()
    expect(page.locator("#kindcheck_toelichting")).to_be_disabled()
    page.locator("#kindcheck_kinderen-ja").check()
    expect(explanation).to_be_visible()
    expect(page.locator("#kindcheck_toelichting")).to_be_enabled()
    # no children after all: the explanation is not sent, the server asks nothing more
    fill_task(page, {"kindcheck_kinderen": False})
    expect(explanation).to_be_hidden()
    submit(page)
    expect(page.locator(".field-error")).to_have_count(0)
    assert form_step(page) == "stap2_overleg"
