"""Issue 11 (fresh tester point 5): verify's line for a users row that no longer matches its
seal named 'rollen, wachtwoord, leidinggevende, actief of naam' also when the e-mail address
was changed. It now names every sealed field (config_seals.USER_FIELDS), in Dutch and in the
English catalogue."""

from __future__ import annotations

from babel.support import Translations
from sqlalchemy import text as sql

from engine import config_seals, store
from tests.helpers import verify_all

# a word for each sealed field, as the Dutch and the English line name it
WORDS = {
    "name": ("naam", "name"),
    "display_name": ("weergavenaam", "display name"),
    "password_hash": ("wachtwoord", "password"),
    "roles": ("rollen", "roles"),
    "manager_id": ("leidinggevende", "manager"),
    "active": ("actief", "active"),
    "session_version": ("sessieversie", "session version"),
    "email": ("e-mailadres", "e-mail address"),
    "beroepsgroep": ("beroepsgroep", "professional group"),
    "created_at": ("aanmaaktijd", "creation time"),
}


def test_a_changed_email_is_named_with_every_sealed_field(people, db_url):
    assert set(WORDS) == set(config_seals.USER_FIELDS)
    with store.unit_of_work(write=True) as session:
        session.execute(sql("UPDATE users SET email = 'boef@elders.example' WHERE name = 'mw'"))
    code, output = verify_all()
    assert code == 1, output
    line = next(line for line in output.splitlines() if "gebruiker mw (id " in line)
    for dutch, _english in WORDS.values():
        assert dutch in line, (dutch, line)
    english = Translations.load("webui/translations", ["en"]).gettext(config_seals.USER_CHANGED)
    for _dutch, word in WORDS.values():
        assert word in english, (word, english)
