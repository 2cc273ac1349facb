"""One set of words and one text rule at every door (task W point 2), through the paths a user
takes: the task page's "Concept opslaan", the case page's "Raadplegen" form and the API.

a. A draft with more ticked boxes than a draft keeps was refused under the banner "een veld is
   te lang": it now says that too many options are ticked, and the maximum.
b. A consult question with a NUL was refused in words of its own ("Bevat een ongeldig teken
   (NUL ...)") on the web page and in the API, where every other text field names the character
   (form_text.refused_character).
c. A draft of white space only was stored as typed, where a completion reads it as no answer:
   the stored draft now leaves the field empty.
"""

from __future__ import annotations

import re

from engine import drafts, models, store
from tests.helpers import text

NUL = "\x00"
NUL_REFUSED = "De tekst bevat een stuurteken (U+0000); dat is in dit veld niet toegestaan."


def _stored_drafts(url: str) -> list[dict]:
    with store.unit_of_work(url=url) as session:
        return [dict(d.data) for d in session.query(models.Draft).all()]


def _new_case_page(browser_like, ref: str) -> str:
    browser_like.login("mw")
    return browser_like.post("/casussen/nieuw", {"client_ref": ref}).headers["Location"]


def test_a_draft_with_too_many_ticked_boxes_says_so_and_the_maximum(browser_like, sqlite_url):
    location = _new_case_page(browser_like, "C-veel")
    ticked = [f"keuze-{i}" for i in range(drafts.MAX_CHOSEN + 1)]
    response = browser_like.post(location, {"actie": "concept", "geweldsvormen": ticked})
    assert response.status_code == 422
    page = text(response)
    assert (
        f"Het concept is niet opgeslagen: bij een vraag zijn meer dan {drafts.MAX_CHOSEN} "
        "mogelijkheden aangevinkt." in page
    ), page
    assert "te lang" not in page
    assert f"Kies hoogstens {drafts.MAX_CHOSEN} mogelijkheden." in page  # at the field
    assert _stored_drafts(sqlite_url) == []


def test_the_same_banner_in_english(browser_like, sqlite_url):
    location = _new_case_page(browser_like, "C-many")
    browser_like.post("/taal", {"taal": "en", "next": "/"})
    ticked = [f"keuze-{i}" for i in range(drafts.MAX_CHOSEN + 1)]
    response = browser_like.post(location, {"actie": "concept", "geweldsvormen": ticked})
    assert response.status_code == 422
    assert (
        f"The draft was not saved: more than {drafts.MAX_CHOSEN} options are ticked for one question."
        in text(response)
    ), text(response)


def test_a_consult_question_with_a_nul_is_refused_in_the_words_of_every_text_field_api(client, people):
    case = client.post("/api/v1/cases", json={"client_ref": "C-vraag"}, headers=people.auth("mw")).get_json()
    asked = client.post(
        f"/api/v1/cases/{case['id']}/consults",
        json={"user": "af", "question": "Wat " + NUL + "nu?"},
        headers=people.auth("mw"),
    )
    assert asked.status_code == 422
    # a form's text field through the API, the same character
    task_id = case["tasks"][0]["id"]
    completed = client.post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"data": {"signalen": "Wat " + NUL + "nu?"}},
        headers=people.auth("mw"),
    )
    assert completed.status_code == 422
    assert completed.get_json()["errors"]["signalen"] == NUL_REFUSED
    assert asked.get_json()["errors"] == {"question": NUL_REFUSED}


def test_a_consult_question_with_a_nul_is_refused_in_the_words_of_every_text_field_web(
    browser_like, sqlite_url
):
    location = _new_case_page(browser_like, "C-vraag")
    with store.unit_of_work(url=sqlite_url) as session:
        case_id = session.query(models.Case.id).one()[0]
    asked = browser_like.post(
        f"/casussen/{case_id}/raadplegen", {"user": "af", "question": "Wat " + NUL + "nu?"}
    )
    assert asked.status_code == 422
    completed = browser_like.post(location, {"actie": "afronden", "signalen": "Wat " + NUL + "nu?"})
    assert completed.status_code == 422
    assert NUL_REFUSED in text(completed)
    assert NUL_REFUSED in text(asked), text(asked)
    assert "ongeldig teken" not in text(asked)


def _textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None, page
    return found.group(1)


def test_a_draft_of_white_space_only_keeps_the_field_empty(browser_like, sqlite_url):
    location = _new_case_page(browser_like, "C-leeg")
    saved = browser_like.post(location, {"actie": "concept", "signalen": "  \r\n\t \u00a0 "})
    assert saved.status_code == 302, text(saved)
    assert _stored_drafts(sqlite_url) == [{}]
    assert _textarea(text(browser_like.get(location)), "signalen").strip("\n") == ""
    # white space around a text is dropped as a completion drops it
    browser_like.post(location, {"actie": "concept", "signalen": "  blauwe plekken \r\n"})
    assert _stored_drafts(sqlite_url) == [{"signalen": "blauwe plekken"}]
