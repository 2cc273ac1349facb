"""Issue 14 break-it (d): a draft kept answers to fields this case's form leaves off (shown_when:
a KNMG point in a case of another beroepsgroep). Such an answer is never posted on completion,
can contradict the answers shown, and kept free text about a client in the draft for good. A
draft now keeps only the answers to fields on the case's form, the rule of the completion."""

from __future__ import annotations

from engine import models, store
from tests.helpers import text


def stored_drafts(url: str) -> list[dict]:
    with store.unit_of_work(url=url) as session:
        return [dict(d.data) for d in session.query(models.Draft).all()]


def test_a_draft_keeps_only_the_answers_on_the_cases_form(browser_like, sqlite_url):
    browser_like.login("mw")  # the organisation's group (sociaal_domein): no KNMG points
    location = browser_like.post("/casussen/nieuw", {"client_ref": "C-concept"}).headers["Location"]
    page = text(browser_like.get(location))
    assert 'name="letselduiding"' not in page  # on a doctor's form only
    response = browser_like.post(
        location,
        {
            "actie": "concept",
            "signalen": "blauwe plekken op de arm",
            "letselduiding": "Hematoom bovenarm, foto in het dossier",
        },
    )
    assert response.status_code == 302
    assert stored_drafts(sqlite_url) == [{"signalen": "blauwe plekken op de arm"}]
    reloaded = text(browser_like.get(location))
    assert "blauwe plekken op de arm</textarea>" in reloaded and "Hematoom" not in reloaded
    done = browser_like.post(
        location, {"actie": "afronden", "signalen": "blauwe plekken op de arm", "kindcheck_kinderen": "nee"}
    )
    assert done.status_code == 302
    assert stored_drafts(sqlite_url) == []
