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

from tests.helpers import fill_task, form_step, start_case, submit

from .conftest import login

pytestmark = pytest.mark.browser

NOTICE = "#niet-bewaard"


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
