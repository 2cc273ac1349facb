"""No door that saves a text drops or cuts it silently (task U point 4): "concept opslaan" with a
NUL in a field silently left that field out of the saved draft (engine/drafts.py), so what
was typed before was lost without a word. Now the draft is refused as a completion is
(forms.refused_character, the rule forms.validate applies): a Dutch error at the field,
status 422, and the draft stays as it was. SQLite and PostgreSQL for the engine's door. The
same for a text too long where a door cut it to fit: a draft (at 100,000 characters), a user's
name, full name and e-mail on the beheer page (the engine refuses them; the page cut them
first, so a name of 81 characters became another user's name of 80), an aandachtsfunctionaris
in the settings (cut at 200)."""

from __future__ import annotations

import pytest

from engine import cases, drafts, models, store, tasks
from engine.errors import Invalid
from tests.helpers import text

NUL = "\x00"


def stored_drafts() -> list[dict]:
    with store.unit_of_work() as session:
        return [dict(d.data) for d in session.query(models.Draft).all()]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("signalen", "blauwe " + NUL + "plekken"),  # a text field (several lines)
        ("signalen", "omgekeerd \u202e"),  # a bidi override, refused by a completion too
        ("geweldsvormen", ["lichamelijk", "psychisch" + NUL]),  # a multi field's ticked boxes
    ],
)
def test_a_draft_with_a_refused_character_is_refused_and_the_old_one_kept(db_url, people, field, value):
    mw = people["mw"]
    case = cases.start_case(mw, {"client_ref": "C-concept"})
    task_id = case["tasks"][0]["id"]
    drafts.save(mw, task_id, {"signalen": "eerste versie"})
    with pytest.raises(Invalid) as refused:
        drafts.save(mw, task_id, {"signalen": "tweede versie", field: value})
    assert set(refused.value.errors) == {field}
    assert "niet toegestaan" in str(refused.value.errors[field])
    assert stored_drafts() == [{"signalen": "eerste versie"}]
    # a completion with the same value is refused at the same field
    form = tasks.get_task(mw, task_id)["form"]["fields"]
    assert field in {f["name"] for f in form}
    with pytest.raises(Invalid) as completed:
        tasks.complete_task(mw, task_id, {"kindcheck_kinderen": False, field: value})
    assert field in completed.value.errors


def test_concept_opslaan_with_a_nul_says_so_and_keeps_the_draft(browser_like, sqlite_url):
    browser_like.login("mw")
    location = browser_like.post("/casussen/nieuw", {"client_ref": "C-nul"}).headers["Location"]
    first = browser_like.post(location, {"actie": "concept", "signalen": "eerste versie"})
    assert first.status_code == 302
    response = browser_like.post(location, {"actie": "concept", "signalen": "tweede " + NUL + "versie"})
    assert response.status_code == 422
    page = text(response)
    assert "Het concept is niet opgeslagen" in page
    assert "U+0000" in page and "niet toegestaan" in page
    assert stored_drafts() == [{"signalen": "eerste versie"}]


@pytest.mark.parametrize("typed", ["eerste regel\r\ntweede regel", "eerste regel\rtweede regel"])
def test_concept_opslaan_keeps_a_browsers_line_breaks(browser_like, sqlite_url, typed):
    """A browser sends a textarea's line breaks as CR LF: a draft of two lines is saved (as a
    completion keeps them, one newline each), not refused as a control character."""
    browser_like.login("mw")
    location = browser_like.post("/casussen/nieuw", {"client_ref": "C-regels"}).headers["Location"]
    response = browser_like.post(location, {"actie": "concept", "signalen": typed})
    assert response.status_code == 302, text(response)
    assert stored_drafts() == [{"signalen": "eerste regel\ntweede regel"}]


# --- the same rule at the other doors that save a text: too long is refused, never cut ------


def test_a_draft_too_long_is_refused_not_cut(db_url, people):
    mw = people["mw"]
    task_id = cases.start_case(mw, {"client_ref": "C-lang"})["tasks"][0]["id"]
    drafts.save(mw, task_id, {"signalen": "eerste versie"})
    with pytest.raises(Invalid) as refused:
        drafts.save(mw, task_id, {"signalen": "x" * (drafts.MAX_VALUE + 1)})
    assert "Maximaal 100000 tekens" in str(refused.value.errors["signalen"])
    assert str(refused.value.message) == "Het concept is niet opgeslagen: een veld is te lang."
    assert stored_drafts() == [{"signalen": "eerste versie"}]


def test_a_user_name_too_long_is_refused_not_cut(browser_like, sqlite_url):
    browser_like.login("bh")
    response = browser_like.post(
        "/beheer/gebruikers", {"naam": "a" * 81, "weergavenaam": "Lange Naam", "rollen": "medewerker"}
    )
    assert response.status_code == 422
    assert "Ongeldige gebruikersnaam" in text(response)
    with store.unit_of_work() as session:
        assert session.query(models.User).filter(models.User.name.like("aaaa%")).count() == 0


def test_an_aandachtsfunctionaris_too_long_is_refused_not_cut():
    from engine import organisation

    with pytest.raises(Invalid) as refused:
        organisation.validate({"aandachtsfunctionarissen": [{"naam": "n" * 201}]})
    assert "Maximaal 200 tekens" in str(refused.value.errors["aandachtsfunctionarissen"])
