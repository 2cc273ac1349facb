"""Issue 11: mail is addressed only from a users row that reads and whose seal holds. A user
whose e-mail address a database writer changed (server stopped: the row no longer matches its
seal) or stored as bytes (SQLite: a BLOB, bytes that are no UTF-8) gets no mail at that
address: the mail is held ("tegengehouden"), verify --all names it (exit 1), and the mail of
every other user is still delivered. SQLite and PostgreSQL where the column takes the value."""

from __future__ import annotations

import pytest

from engine import cases, consults, mail
from tests.conftest import free_port
from tests.helpers import deliver, use_smtp, verify_all
from tests.helpers import write_raw as write

# kind -> (af's email as SQL, the database that takes it)
ADDRESSES = {
    "tampered": ("'boef@elders.example'", "both"),
    "blob-other": ("CAST('boef@elders.example' AS BLOB)", "sqlite"),
    "blob-not-utf8": ("X'ff41'", "sqlite"),
    "text-not-utf8": ("CAST(X'ff41' AS TEXT)", "sqlite"),
}




@pytest.mark.parametrize("kind", sorted(ADDRESSES))
def test_a_tampered_address_gets_no_mail_and_the_others_do(people, db_url, monkeypatch, kind):
    value, where = ADDRESSES[kind]
    if where != "both" and not db_url.startswith(where):
        pytest.skip("PostgreSQL refuses this value itself")
    port = free_port()
    use_smtp(monkeypatch, port, {"af": "af@zorg.example", "lg": "lg@zorg.example"})
    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    write(db_url, f"UPDATE users SET email = {value} WHERE name = 'af'")
    consults.request(people["mw"], case["id"], {"user": "af", "question": "Een vraag aan af?"})
    consults.request(people["mw"], case["id"], {"user": "lg", "question": "Een vraag aan lg?"})
    inbox = deliver(port)
    assert [to for to, _ in inbox.messages] == [["lg@zorg.example"]], inbox.messages
    states = sorted(item["state"] for item in mail.outbox())
    assert states == ["held", "sent"], mail.outbox()
    code, output = verify_all()
    assert code == 1, output
    assert "tegengehouden" in output and "gebruiker af" in output, output


def test_the_same_address_stored_as_bytes_is_mailed_as_text(people, db_url, monkeypatch):
    """A BLOB holding the address's own bytes reads as that address and the seal holds: the
    mail goes there, as text (it went to '97, 102, ...' before)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL keeps no bytes in a text column")
    port = free_port()
    use_smtp(monkeypatch, port, {"af": "af@zorg.example"})
    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    write(db_url, "UPDATE users SET email = CAST(email AS BLOB) WHERE name = 'af'")
    consults.request(people["mw"], case["id"], {"user": "af", "question": "Een vraag aan af?"})
    inbox = deliver(port)
    assert inbox.messages == [(["af@zorg.example"], "af@zorg.example")]


def test_a_mail_queued_before_the_row_was_changed_is_held(people, db_url, monkeypatch):
    """The address is read again when the mail is sent: a row changed after the mail was
    queued gets none; an outbox address changed by hand never chooses where mail goes."""
    port = free_port()
    use_smtp(monkeypatch, port, {"af": "af@zorg.example", "lg": "lg@zorg.example"})
    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    consults.request(people["mw"], case["id"], {"user": "af", "question": "Een vraag aan af?"})
    consults.request(people["mw"], case["id"], {"user": "lg", "question": "Een vraag aan lg?"})
    write(db_url, "UPDATE users SET email = 'boef@elders.example' WHERE name = 'af'")
    write(db_url, "UPDATE mail_outbox SET address = 'boef@elders.example' WHERE address = 'lg@zorg.example'")
    inbox = deliver(port)
    assert [to for to, _ in inbox.messages] == [["lg@zorg.example"]], inbox.messages
    assert sorted(item["state"] for item in mail.outbox()) == ["held", "sent"]
    code, output = verify_all()
    assert code == 1 and "is tegengehouden: de gebruiker is beschadigd opgeslagen" in output, output


# an outbox or notification row a database writer damaged (SQLite keeps text in any column)
ROWS = {
    "attempts-text": "UPDATE mail_outbox SET attempts = 'veel' WHERE id = :i",
    "kind-bytes": "UPDATE notifications SET kind = CAST(X'ff41' AS TEXT) "
    "WHERE id = (SELECT notification_id FROM mail_outbox WHERE id = :i)",
    "user-text": "UPDATE notifications SET user_id = 'af' "
    "WHERE id = (SELECT notification_id FROM mail_outbox WHERE id = :i)",
}


@pytest.mark.parametrize("kind", sorted(ROWS))
def test_an_outbox_row_that_does_not_read_is_held_and_the_others_go(people, db_url, monkeypatch, kind):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL refuses this value itself")
    port = free_port()
    use_smtp(monkeypatch, port, {"af": "af@zorg.example", "lg": "lg@zorg.example"})
    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    consults.request(people["mw"], case["id"], {"user": "af", "question": "Een vraag aan af?"})
    consults.request(people["mw"], case["id"], {"user": "lg", "question": "Een vraag aan lg?"})
    first = min(item["id"] for item in mail.outbox())
    write(db_url, ROWS[kind], i=first)
    inbox = deliver(port)
    assert [to for to, _ in inbox.messages] == [["lg@zorg.example"]], inbox.messages
    code, output = verify_all()
    assert code == 1 and f"e-mail {first} is tegengehouden" in output, output
