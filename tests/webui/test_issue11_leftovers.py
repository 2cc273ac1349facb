"""Issue 11, smaller holes found by testers (task B), SQLite (none of the code differs by dialect):

1. a case whose process_version names no version opens at every read door with the damage
   named (case page, print page, auditor's page, task in the API, dossier JSON and PDF,
   `meldcode export`); every write stays refused (409);
2. `meldcode verify --all` holds process_versions.active to the admin log, by restore's rule;
3. two legacy admin-log lines (from before the chain) swapped, or the newer one removed, by a
   database writer roll no setting back at run time;
4. a mail_outbox row the product did not write sends nothing (planted, or a sent row set back
   to pending); verify names it under the mail's heading; rows from before migration 0020
   are held and noted;
5. a forged reminder row does not stop the real reminder;
6. verify's summary names the parts with findings, and a value is never Python's None.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import text as sql_text

from engine import (
    audit,
    cases,
    clock,
    consults,
    mail,
    notifications,
    organisation,
    reminders,
    restore_rows,
    schema,
    store,
    tasks,
)
from tests.conftest import free_port
from tests.helpers import Client, cli, deliver, text, use_smtp, verify, verify_all, write_raw
from tests.helpers import write_as_database_writer as write
from tests.scenarios.paths import LONGEST, fill

GONE = "geen bestaande procesversie (99)"


@pytest.fixture
def gone_version(sqlite_people, sqlite_url):
    """A case of mw past its first step whose process_version a database writer set to 99."""
    mw = sqlite_people["mw"]
    case = cases.start_case(mw, {"client_ref": "Jansen", "reason": "zorgen"})
    first = tasks.get_task(mw, case["tasks"][0]["id"])
    case = tasks.complete_task(mw, first["id"], fill(first["form"]["fields"], LONGEST.decisions))
    write(sqlite_url, "UPDATE cases SET process_version = 99 WHERE id = :c", c=case["id"])
    return case


def page(app, who: str, path: str):
    browser = Client(app)
    browser.login(who)
    return browser.http.get(path, base_url="http://localhost")


def test_a_case_whose_version_is_gone_opens_with_the_damage_named(
    ui_app, sqlite_people, gone_version, tmp_path
):
    case_id, task_id = gone_version["id"], gone_version["tasks"][0]["id"]
    for who, path in (
        ("mw", f"/casussen/{case_id}"),
        ("lg", f"/casussen/{case_id}"),
        ("mw", f"/casussen/{case_id}/afdrukken"),
        ("aud", f"/audit/casussen/{case_id}"),
    ):
        response = page(ui_app, who, path)
        assert response.status_code == 200, (who, path, text(response)[:2000])
        assert GONE in text(response), (who, path)
        assert 'id="diagram"' not in text(response)  # no diagram of a version that is not there
    # the task: the API answers it without a form, the damage named; the web page offers no
    # form either (409 naming the damage, as for a task row stored damaged)
    api = ui_app.test_client()
    answer = api.get(f"/api/v1/tasks/{task_id}", headers=sqlite_people.auth("mw"))
    assert answer.status_code == 200, text(answer)
    assert answer.get_json()["form"] == {"fields": []} and GONE in answer.get_json()["damaged"]
    response = page(ui_app, "mw", f"/taken/{task_id}")
    assert response.status_code == 409 and GONE in text(response)
    # the dossier from its history, the damage named: the web's and the command line's
    for fmt in ("json", "pdf"):
        response = page(ui_app, "mw", f"/casussen/{case_id}/dossier.{fmt}")
        assert response.status_code == 200, text(response)[:2000]
        result = cli("export", str(case_id), "--format", fmt, "-o", str(tmp_path / f"dossier.{fmt}"))
        assert result.exit_code == 0, result.output
    dossier = json.loads((tmp_path / "dossier.json").read_text())
    assert GONE in dossier["case"]["damaged"] and dossier["process_sha256"] is None
    assert [e["action"] for e in dossier["history"]][:2] == ["case_started", "task_completed"]
    assert (tmp_path / "dossier.pdf").read_bytes().startswith(b"%PDF")
    # writes stay refused, nothing stored
    done = api.post(f"/api/v1/tasks/{task_id}/complete", headers=sqlite_people.auth("mw"), json={"data": {}})
    assert done.status_code == 409, text(done)


def test_verify_holds_the_active_version_to_the_admin_log(sqlite_people, sqlite_url):
    assert verify_all()[0] == 0
    write(sqlite_url, "UPDATE process_versions SET active = 0")
    code, output = verify_all()
    assert code == 1, output
    assert "procesversies: NIET IN ORDE (1 bevinding(en))" in output, output
    with store.unit_of_work() as session:
        problem = restore_rows.active_problem(session.connection())  # restore's own rule
    assert problem is not None and "geen versie staat actief" in problem
    assert f"process_versions.active: {problem} (buiten het product gewijzigd)" in output, output
    assert "Buiten de casussen niet in orde: procesversies (1 bevinding(en))." in output, output


PHONE = "veilig_thuis_telefoon"


@pytest.fixture
def legacy_phones(tmp_path, monkeypatch):
    """A database from before 0018, migrated: two settings lines (0800-1111, then 0800-2222)
    that keep their legacy hashes over what they say, not over their place. Gives their ids
    (older, newer) and a function that runs SQL as a database writer (the admin log's
    append-only triggers dropped)."""
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'oud.sqlite'}"
    monkeypatch.setenv("MELDCODE_DATABASE_URL", url)
    monkeypatch.setenv("MELDCODE_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    command.upgrade(schema.alembic_config(url), "0017")
    engine = create_engine(url)
    with engine.begin() as conn:  # as the release before 0018 wrote them
        for phone in ("0800-1111", "0800-2222"):
            conn.execute(
                sql_text(
                    f"INSERT INTO settings (key, value) VALUES ('{PHONE}', '\"{phone}\"') "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                )
            )
            audit.log_admin(conn, "bh", "settings_changed", {"settings": {PHONE: phone}})
    engine.dispose()
    schema.upgrade(url)

    def tamper(*statements: str) -> None:
        store.dispose_engines()
        with sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None) as conn:
            for name in ("admin_log_no_update", "admin_log_no_delete"):
                conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            for statement in statements:
                conn.execute(statement)

    try:
        assert organisation.current()[PHONE] == "0800-2222"
        with store.unit_of_work() as session:
            older, newer = (
                session.execute(
                    sql_text("SELECT id FROM admin_log WHERE action = 'settings_changed' ORDER BY id")
                )
                .scalars()
                .all()
            )
        yield older, newer, tamper
    finally:
        store.dispose_engines()


def test_two_swapped_legacy_lines_roll_no_setting_back(legacy_phones):
    """A database writer swaps the ids of the two legacy lines and sets the row to the older
    number: the newer line is still the newer one (by its time, which its hash covers)."""
    older, newer, tamper = legacy_phones
    tamper(
        f"UPDATE admin_log SET id = -1 WHERE id = {older}",
        f"UPDATE admin_log SET id = {older} WHERE id = {newer}",
        f"UPDATE admin_log SET id = {newer} WHERE id = -1",
        f"UPDATE settings SET value = '\"0800-1111\"' WHERE key = '{PHONE}'",
    )
    assert organisation.current()[PHONE] == "0800-2222"
    assert verify_all()[0] == 1


def test_a_removed_legacy_line_rolls_no_setting_back(legacy_phones, caplog):
    """A database writer removes the newer legacy line and sets the row to the older number
    (tester's finding F2). The legacy lines are fewer than migration 0018 counted, so none of
    them vouches for a value at run time: the row is refused (with the log's warning) and the
    default applies, not the older number; verify names the missing line and the setting."""
    older, newer, tamper = legacy_phones
    tamper(
        f"DELETE FROM admin_log WHERE id = {newer}",
        f"UPDATE settings SET value = '\"0800-1111\"' WHERE key = '{PHONE}'",
    )
    with caplog.at_level("WARNING", logger="meldcode.seals"):
        assert organisation.current()[PHONE] == organisation.DEFAULTS[PHONE] != "0800-1111"
    assert any("no genuine admin-log line sets it" in r.getMessage() for r in caplog.records)
    code, output = verify_all()
    assert code == 1, output
    assert "het beheerlog had 2 regel(s) van vóór de keten (migratie 0018), nu 1" in output, output
    assert f"instelling {PHONE} staat niet in het beheerlog" in output, output


EMAILS = {"af": "af@zorg.example"}
PLANTED = "de rij in de uitgaande post past niet bij haar zegel (buiten het product toegevoegd of gewijzigd"


def consult_mailed(people, monkeypatch) -> int:
    """A consult asked of af, its mail sent; out: the SMTP port."""
    port = free_port()
    use_smtp(monkeypatch, port, EMAILS)
    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    consults.request(people["mw"], case["id"], {"user": "af", "question": "Een vraag aan af?"})
    assert [to for to, _ in deliver(port).messages] == [["af@zorg.example"]]
    return port


ATTACKS = {
    # the sent row removed, one of the writer's own in its place, for the same notification
    "planted": (
        "DELETE FROM mail_outbox",
        "INSERT INTO mail_outbox (notification_id, address, state, attempts, next_attempt_at) "
        "SELECT id, 'af@zorg.example', 'pending', 0, at FROM notifications",
    ),
    "set back to pending": (
        "UPDATE mail_outbox SET state = 'pending', sent_at = NULL, next_attempt_at = "
        "(SELECT at FROM notifications WHERE id = notification_id)",
    ),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_outbox_row_the_product_did_not_write_sends_nothing(
    sqlite_people, sqlite_url, monkeypatch, attack
):
    port = consult_mailed(sqlite_people, monkeypatch)
    for statement in ATTACKS[attack]:
        write_raw(sqlite_url, statement)
    assert deliver(port).messages == []  # at most once: never again
    [row] = mail.outbox()
    assert row["state"] == "held", row
    code, output = verify_all()
    assert code == 1, output
    assert "e-mail: NIET IN ORDE (1 bevinding(en))" in output, output
    assert f"e-mail {row['id']} (bericht " in output and PLANTED in output, output
    assert "Buiten de casussen niet in orde: e-mail (1 bevinding(en))." in output, output


def test_outbox_rows_from_before_the_seal_are_held_and_noted(sqlite_people, sqlite_url, monkeypatch):
    """Migration 0020 (run again: down to 0019 and up) leaves the rows it finds without a seal
    and records how many: one that waits is held, not sent; verify notes them (exit 0)."""
    port = free_port()
    use_smtp(monkeypatch, port, EMAILS)
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "Jansen"})
    consults.request(sqlite_people["mw"], case["id"], {"user": "af", "question": "Een vraag aan af?"})
    store.dispose_engines()
    command.downgrade(schema.alembic_config(sqlite_url), "0019")
    schema.upgrade(sqlite_url)
    assert deliver(port).messages == []
    assert [row["state"] for row in mail.outbox()] == ["held"]
    code, output = verify_all()
    assert code == 0, output
    assert "let op: 1 e-mail(s) in de uitgaande post van vóór migratie 0020 hebben geen zegel" in output


AMS = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize("seal", ["", ", seal"])  # none, or a genuine row's copied
def test_a_forged_reminder_row_does_not_stop_the_real_reminder(sqlite_people, sqlite_url, seal):
    with clock.use(clock.ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=AMS))) as now:  # a Monday
        case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-termijn"})
        asked = consults.request(sqlite_people["mw"], case["id"], {"user": "af", "question": "?"})
        # the consult's notification for af, copied as a task_due reminder of the same task
        write_raw(
            sqlite_url,
            f"INSERT INTO notifications (user_id, at, kind, case_id, task_id, params{seal}) "
            f"SELECT user_id, at, 'task_due', case_id, task_id, params{seal} "
            "FROM notifications WHERE kind = 'consult'",
        )
        now.set(datetime(2026, 12, 1, 10, 0, tzinfo=AMS))  # the consult is due tomorrow
        assert reminders.send_reminders(now()) == 1
        assert reminders.send_reminders(now()) == 0  # once
    due = [n for n in notifications.listing(sqlite_people["af"]) if n["kind"] == "task_due"]
    assert [n["task_id"] for n in due] == [asked["task_id"]]


def test_verify_says_leeg_not_none(sqlite_people, sqlite_url):
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "Jansen"})
    write(sqlite_url, "UPDATE cases SET uitkomst = 'hulp' WHERE id = :c", c=case["id"])
    problems = [str(p) for p in verify(case["id"])[case["id"]].problems]
    assert "de uitkomst wijkt af van de geschiedenis (opgeslagen: 'hulp', na afspelen: leeg)" in problems, (
        problems
    )
    assert not any("None" in p for p in problems), problems


def test_the_summary_names_the_parts_with_findings(sqlite_people, sqlite_url, monkeypatch):
    """A user's address changed in the database: a finding under the users and one under the
    mail (held); the summary names those two, not users, tokens, versions and settings."""
    port = free_port()
    use_smtp(monkeypatch, port, EMAILS)
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "Jansen"})
    write_raw(sqlite_url, "UPDATE users SET email = 'boef@elders.example' WHERE name = 'af'")
    consults.request(sqlite_people["mw"], case["id"], {"user": "af", "question": "Een vraag aan af?"})
    assert deliver(port).messages == []
    code, output = verify_all()
    assert code == 1, output
    summary = "Buiten de casussen niet in orde: gebruikers (1 bevinding(en)); e-mail (1 bevinding(en))."
    assert summary in output, output
