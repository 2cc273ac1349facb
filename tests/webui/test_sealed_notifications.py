"""Issue 11 (break-it tester): a notification is sealed (engine/notification_seals.py). With the
server stopped, a database writer who moves a queued notification to another user, or adds a
notification with a mail_outbox row, gets no mail sent and nothing shown to that user: the mail
is held, the row is not listed, counted or marked read, and `meldcode verify --all` names it
under its own heading (exit 1). Rows from before migration 0019 have no seal and get none:
verify notes them apart, and names a row without a seal added later. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import select, text

from engine import cases, consults, mail, models, notification_seals, notifications, schema, store
from engine.errors import NotFound
from tests.conftest import free_port
from tests.helpers import deliver, use_smtp, verify_all
from tests.helpers import write_raw as write

EMAILS = {"af": "af@zorg.example", "lg": "lg@zorg.example"}


def note_of(user_id: int) -> int:
    """The id of the one notification of user `user_id`."""
    with store.unit_of_work() as session:
        return session.scalars(
            select(models.Notification.id).where(models.Notification.user_id == user_id)
        ).one()


def consulted(people) -> dict:
    """A case of mw with a consult asked of af and one of lg (each a notification, mailed)."""
    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    consults.request(people["mw"], case["id"], {"user": "af", "question": "Een vraag aan af?"})
    consults.request(people["mw"], case["id"], {"user": "lg", "question": "Een vraag aan lg?"})
    return case


def listed(client, people, name: str) -> list[int]:
    response = client.get("/api/v1/notifications", headers=people.auth(name))
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()]


def test_a_queued_notification_moved_to_another_user_reaches_nobody(client, people, db_url, monkeypatch):
    port = free_port()
    use_smtp(monkeypatch, port, EMAILS)
    consulted(people)
    moved, own = note_of(people["af"].id), note_of(people["lg"].id)
    write(db_url, "UPDATE notifications SET user_id = :lg WHERE id = :n", lg=people["lg"].id, n=moved)
    inbox = deliver(port)
    assert [to for to, _ in inbox.messages] == [["lg@zorg.example"]], inbox.messages  # its own only
    assert sorted(item["state"] for item in mail.outbox()) == ["held", "sent"], mail.outbox()
    assert listed(client, people, "lg") == [own]
    assert [n["id"] for n in notifications.listing(people["lg"])] == [own]
    assert notifications.unread_count(people["lg"].id) == 1
    with pytest.raises(NotFound):
        notifications.mark_read(people["lg"], moved)
    notifications.mark_read(people["lg"], own)  # read_at is outside the seal: still works
    assert [n["read"] for n in notifications.listing(people["lg"])] == [True]
    assert notifications.mark_all_read(people["lg"]) == 0
    code, output = verify_all()
    assert code == 1, output
    assert "berichten: NIET IN ORDE (1 bevinding(en))" in output, output
    assert f"bericht {moved} aan gebruiker lg (id {people['lg'].id})" in output, output


# the forged row's seal: none (the column not named), or a genuine row's copied
@pytest.mark.parametrize("seal", ["", ", seal"])
def test_a_forged_notification_with_an_outbox_row_is_not_mailed(client, people, db_url, monkeypatch, seal):
    port = free_port()
    use_smtp(monkeypatch, port, EMAILS)
    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    consults.request(people["mw"], case["id"], {"user": "af", "question": "Een vraag aan af?"})
    assert [to for to, _ in deliver(port).messages] == [["af@zorg.example"]]
    genuine = note_of(people["af"].id)
    write(
        db_url,
        f"INSERT INTO notifications (user_id, at, kind, case_id, task_id, params, read_at{seal}) "
        f"SELECT :lg, at, 'task_ready', case_id, task_id, params, NULL{seal} FROM notifications "
        "WHERE id = :n",
        lg=people["lg"].id,
        n=genuine,
    )
    forged = note_of(people["lg"].id)
    write(
        db_url,
        "INSERT INTO mail_outbox (notification_id, address, state, attempts, next_attempt_at) "
        "SELECT :f, 'lg@zorg.example', 'pending', 0, at FROM notifications WHERE id = :n",
        f=forged,
        n=genuine,
    )
    assert deliver(port).messages == []
    assert [item["state"] for item in mail.outbox()] == ["sent", "held"], mail.outbox()
    assert listed(client, people, "lg") == [] and notifications.unread_count(people["lg"].id) == 0
    assert listed(client, people, "af") == [genuine]
    code, output = verify_all()
    assert code == 1, output
    assert f"bericht {forged} aan gebruiker lg" in output and f"bericht {genuine} " not in output, output


def test_notifications_from_before_the_seal_stay_unsealed_and_one_added_later_is_named(
    client, people, db_url, monkeypatch
):
    """Migration 0019 (run again: down to 0018 and up) leaves the rows it finds without a seal
    and records how many there are: verify notes them (exit 0) and names a row without a seal
    added later, above the last of them or in a gap below it."""
    consulted(people)
    before = sorted([note_of(people["af"].id), note_of(people["lg"].id)])
    store.dispose_engines()
    command.downgrade(schema.alembic_config(db_url), "0018")
    schema.upgrade(db_url)
    with store.unit_of_work() as session:
        seals = session.execute(text("SELECT seal FROM notifications")).scalars().all()
    assert seals == [None, None]
    assert listed(client, people, "af") == [] and notifications.unread_count(people["af"].id) == 0
    code, output = verify_all()
    assert code == 0, output
    assert "let op: 2 bericht(en) van vóór migratie 0019 hebben geen zegel" in output, output
    assert "berichten: NIET IN ORDE" not in output, output
    # written by the product from now on: sealed, listed
    case = cases.start_case(people["mw"], {"client_ref": "Pietersen"})
    consults.request(people["mw"], case["id"], {"user": "af", "question": "Nog een vraag?"})
    (newer,) = listed(client, people, "af")
    assert newer > before[-1]
    added = (
        "INSERT INTO notifications (id, user_id, at, kind, case_id, task_id, params, read_at, seal) "
        "SELECT :id, user_id, at, 'informed', case_id, NULL, params, NULL, NULL FROM notifications "
        "WHERE id = :n"
    )
    write(db_url, added, id=newer + 1, n=newer)
    write(db_url, added, id=0, n=newer)  # below the last row the migration found
    assert listed(client, people, "af") == [newer]
    code, output = verify_all()
    assert code == 1, output
    assert f"bericht {newer + 1} aan gebruiker af" in output, output
    assert "1 bericht(en) zonder zegel meer dan migratie 0019 er vond" in output, output
    assert f"bericht {newer} " not in output and "let op: 2 bericht(en)" in output, output
    with store.unit_of_work() as session:
        lines = [
            line.detail
            for line in session.scalars(
                select(models.AdminLogEntry).where(models.AdminLogEntry.action == notification_seals.RECORDED)
            )
        ]
    assert lines == [{notification_seals.LAST: before[-1], notification_seals.COUNT: 2}]
