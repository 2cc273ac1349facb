"""A question hidden by the other answers is not given: what was filled in there is not saved
(issue 14, a fresh tester). Before, the text typed at a question that the page then hid was
dropped on completion without a word. Now the page names each such question above the buttons
while the page is open ('Niet bewaard'), the text stays in the hidden field (undoing the answer
brings it back), and completing the step stores nothing for it (webui/static/js/app.js
warnUnsaved, webui/templates/tasks/task.html)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.helpers import fill_task, form_step, start_case, submit, walk_to
from tests.scenarios.paths import WEGEN

from .conftest import login

pytestmark = pytest.mark.browser

NOTICE = "#niet-bewaard"
# a doctor whose client could not be reached (tests/browser/test_unasked_fields_browser.py)
NOT_REACHED = {**WEGEN, "beroepsgroep": "artsen", "gesprek_uitzondering": "geen"}


def recorded(url: str, client_ref: str) -> dict:
    """Every answer the case's history records, by field."""
    from engine import models, store

    with store.unit_of_work(url=url) as session:
        case_id = session.scalar(select(models.Case.id).where(models.Case.client_ref == client_ref))
        events = session.scalars(select(models.HistoryEvent).where(models.HistoryEvent.case_id == case_id))
        return {k: v for e in events for k, v in dict(e.data or {}).items()}


def test_the_page_names_a_hidden_answer_that_is_not_saved(page, ui_server):
    login(page, "mw")
    start_case(page, "C-VERBORGEN-ANTWOORD")
    notice = page.locator(NOTICE)
    explanation = page.locator("#kindcheck_toelichting")
    expect(notice).to_be_hidden()
    page.locator("#kindcheck_kinderen-ja").check()
    explanation.fill("Oma vangt de kinderen op")
    expect(notice).to_be_hidden()  # asked: it will be saved
    # no children after all: the explanation is not asked, and the page says it is not saved
    page.locator("#kindcheck_kinderen-nee").check()
    expect(page.locator("#veld-kindcheck_toelichting")).to_be_hidden()
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Niet bewaard")
    expect(notice.locator("li")).to_have_text(["Toelichting op de kindcheck"])
    # undone: the text is back and the notice gone
    page.locator("#kindcheck_kinderen-ja").check()
    expect(explanation).to_have_value("Oma vangt de kinderen op")
    expect(notice).to_be_hidden()
    # completed without children: the step is done, the explanation not stored
    page.locator("#kindcheck_kinderen-nee").check()
    expect(notice).to_be_visible()
    fill_task(page, {"kindcheck_kinderen": False})
    submit(page)
    expect(page.locator(".field-error")).to_have_count(0)
    assert form_step(page) == "stap2_overleg"
    answers = recorded(ui_server.url, "C-VERBORGEN-ANTWOORD")
    assert answers.get("kindcheck_kinderen") is False, answers
    assert "kindcheck_toelichting" not in answers, answers


# Issue 14, a fresh tester: a radio or checkbox answer counted as filled in only when it
# differed from what the page opened with, so an answer from a draft or kept on a page shown
# again after a 422 was dropped without a word. Every hidden question holding an answer is
# named, whatever its source; a radio button at the diagram's default is not (the server
# reads that default for a question not asked: nothing is lost).

CHILDREN = "Aantal kinderen en hun leeftijden"
SHELTER = "Kindcheck: is er voor deze kinderen nu adequate (tijdelijke) opvang?"
PROTECTION = "Kindcheck: kan de cliënt de kinderen blijvend voldoende beschermen, verzorgen en opvoeden?"


def save_draft(page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Concept opslaan").click()


def test_answers_from_a_draft_are_named_when_hidden(page, ui_server):
    login(page, "mw")
    start_case(page, "C-CONCEPT-VERBORGEN")
    page.locator("#kindcheck_kinderen-ja").check()
    page.locator("#kinderen_aantal_leeftijden").fill("2 kinderen, 4 en 7 jaar")
    page.locator("#kindcheck_opvang_adequaat-nee").check()
    page.locator("#kindcheck_bescherming-ja").check()
    save_draft(page)  # the page opens again with the draft
    expect(page.locator("#kindcheck_opvang_adequaat-nee")).to_be_checked()
    notice = page.locator(NOTICE)
    expect(notice).to_be_hidden()
    page.locator("#kindcheck_kinderen-nee").check()
    expect(notice).to_be_visible()
    expect(notice.locator("li")).to_have_text([CHILDREN, SHELTER, PROTECTION])


def test_a_draft_saved_without_javascript_names_its_hidden_answer(new_context, ui_server):
    without = new_context(java_script_enabled=False).new_page()
    login(without, "mw")
    start_case(without, "C-CONCEPT-ZONDER-JS")
    # without JavaScript every question is on the page: an answer to one the others exclude
    without.locator("#kindcheck_kinderen-nee").check()
    without.locator("#kindcheck_opvang_adequaat-ja").check()
    save_draft(without)
    task_url = without.url
    page = new_context().new_page()
    login(page, "mw")
    page.goto(task_url)
    expect(page.locator("#veld-kindcheck_opvang_adequaat")).to_be_hidden()
    notice = page.locator(NOTICE)
    expect(notice).to_be_visible()
    expect(notice.locator("li")).to_have_text([SHELTER])


def test_a_box_ticked_before_a_422_is_named_when_hidden(page, doctor):
    login(page, doctor)
    start_case(page, "C-422-VERBORGEN")
    walk_to(page, "stap3_gesprek", NOT_REACHED)
    page.locator("#gesprek_met_wie-client").check()
    submit(page)  # the talk's other questions are left empty: shown again with the box ticked
    expect(page.locator(".field-error").first).to_be_visible()
    expect(page.locator("#gesprek_met_wie-client")).to_be_checked()
    notice = page.locator(NOTICE)
    expect(notice).to_be_hidden()
    page.locator("#client_niet_bereikt-ja").check()
    expect(page.locator("#veld-gesprek_met_wie")).to_be_hidden()
    expect(notice).to_be_visible()
    # zorgen_weggenomen, hidden too, holds only its default 'nee': nothing is lost there
    expect(notice.locator("li")).to_have_text(["Wie waren uw gesprekspartners?"])
