"""One reading of a text at every door (tester finding F5): a draft ("Concept opslaan"), a
web completion ("Afronden") and an API completion trim a form text alike (form_text.trimmed).

The web completion trimmed with str.strip(), which also drops U+001C-001F and U+0085: those
the draft and the API refuse as control characters, so "\\x85" was "Dit veld is verplicht."
on the web and "\\x1cabc" silently stored as "abc".
"""

from __future__ import annotations

import pytest

from engine import models, store
from tests.helpers import text

DRAFT_REFUSED = "Het concept is niet opgeslagen: het formulier bevat een teken dat niet is toegestaan."
NEW_PASSWORD = "paarse-olifant-fietst-snel"  # passes the policy
INPUTS = {"\x85": "0085", "\x1f": "001F", "\x1cabc": "001C"}


def _refusal(code: str) -> str:
    return f"De tekst bevat een stuurteken (U+{code}); dat is in dit veld niet toegestaan."


def _new_case_page(browser_like, ref: str) -> str:
    browser_like.login("mw")
    return browser_like.post("/casussen/nieuw", {"client_ref": ref}).headers["Location"]


@pytest.mark.parametrize("value", list(INPUTS))
def test_draft_web_completion_and_api_completion_refuse_the_same_control_character(
    browser_like, client, people, sqlite_url, value
):
    case = client.post("/api/v1/cases", json={"client_ref": "C-api"}, headers=people.auth("mw")).get_json()
    api = client.post(
        f"/api/v1/tasks/{case['tasks'][0]['id']}/complete",
        json={"data": {"signalen": value}},
        headers=people.auth("mw"),
    )
    assert api.status_code == 422
    assert api.get_json()["errors"]["signalen"] == _refusal(INPUTS[value])
    location = _new_case_page(browser_like, "C-stuur")
    draft = browser_like.post(location, {"actie": "concept", "signalen": value})
    assert draft.status_code == 422
    assert DRAFT_REFUSED in text(draft), text(draft)
    completed = browser_like.post(location, {"actie": "afronden", "signalen": value})
    assert completed.status_code == 422, text(completed)
    assert _refusal(INPUTS[value]) in text(completed), text(completed)
    with store.unit_of_work(url=sqlite_url) as session:
        assert session.query(models.Draft).count() == 0


@pytest.mark.parametrize("value", list(INPUTS))
def test_a_name_is_trimmed_as_a_form_text_at_sign_in_and_when_a_user_is_added(
    browser_like, sqlite_url, value
):
    """The same kind for names: the sign-in and user pages trimmed with str.strip(), so
    "\\x1cmw" signed in as mw, and a user added as "\\x1cjan" was stored as "jan"."""
    browser_like.login(value + "mw")
    assert browser_like.get("/").status_code == 302  # not signed in
    browser_like.login("bh")
    added = browser_like.post(
        "/beheer/gebruikers", {"naam": value + "jan", "rollen": "medewerker", "wachtwoord": NEW_PASSWORD}
    )
    assert added.status_code == 422, text(added)
    with store.unit_of_work(url=sqlite_url) as session:
        names = {name for (name,) in session.query(models.User.name).all()}
    assert not any(name.endswith("jan") for name in names), names
