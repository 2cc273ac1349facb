"""Issue 11 (fresh tester on 60e3c20): a users row that cannot be trusted acts as nobody at
every door, and the commands that only take access away or only read still reach it.

SQLite keeps bytes (a BLOB) in a text column: they read back as the same text, so the row's
seal holds while verify calls the row untrusted. Before: the user's API token still answered
200 and (name as BLOB) started a case, with roles as BLOB the user signed in on the web, and
`token revoke` said the user did not exist while `token list` was refused. A row whose seal
is broken (both databases) was still taken by the command line's --user."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text as sql

from engine import store
from tests.helpers import Client, cli

BLOB = {
    "name": "UPDATE users SET name = CAST(name AS BLOB) WHERE name = 'mw'",
    "roles": "UPDATE users SET roles = CAST(roles AS BLOB) WHERE name = 'mw'",
}


def as_writer(db_url: str, statement: str) -> None:
    """SQL as a database writer runs it, without the product (SQLite: its own driver)."""
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement)
        return
    with store.unit_of_work(write=True) as session:
        session.execute(sql(statement))


def sqlite_only(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL keeps no bytes in a text column")


def open_tokens(name_id_of: str = "mw") -> int:
    with store.unit_of_work() as session:
        return session.execute(
            sql(
                "SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL AND user_id = "
                "(SELECT id FROM users WHERE CAST(name AS TEXT) = :n)"
            ),
            {"n": name_id_of},
        ).scalar_one()


@pytest.mark.parametrize("column", sorted(BLOB))
def test_a_user_row_with_bytes_acts_as_nobody_through_the_api(app, people, db_url, column):
    sqlite_only(db_url)
    http = app.test_client()
    assert http.get("/api/v1/tasks", headers=people.auth("mw")).status_code == 200
    as_writer(db_url, BLOB[column])
    assert http.get("/api/v1/tasks", headers=people.auth("mw")).status_code == 401
    started = http.post("/api/v1/cases", json={"client_ref": "X-1"}, headers=people.auth("mw"))
    assert started.status_code == 401, started.get_data(as_text=True)
    assert http.get("/api/v1/tasks", headers=people.auth("mw2")).status_code == 200


def test_roles_as_bytes_sign_nobody_in_and_end_a_session(app, people, db_url):
    sqlite_only(db_url)
    before = Client(app)
    before.login("mw")
    assert before.get("/").status_code == 200
    as_writer(db_url, BLOB["roles"])
    assert before.get("/").status_code == 302  # the open session ends on the next request
    fresh = Client(app)
    fresh.login("mw")
    assert fresh.get("/").status_code == 302  # signed in as nobody


def test_token_list_and_revoke_reach_a_name_stored_as_bytes(people, db_url):
    sqlite_only(db_url)
    with store.unit_of_work() as session:
        tid = session.execute(
            sql("SELECT min(id) FROM api_tokens WHERE user_id = (SELECT id FROM users WHERE name = 'mw')")
        ).scalar_one()
    as_writer(db_url, BLOB["name"])
    listed = cli("token", "list", "mw")
    assert listed.exit_code == 0, listed.output
    assert [line.split("\t")[3] for line in listed.output.splitlines()] == ["beschadigd"]
    assert open_tokens() == 1
    revoked = cli("token", "revoke", "mw", str(tid))
    assert revoked.exit_code == 0, revoked.output
    assert open_tokens() == 0


def test_deactivate_on_an_untrusted_user_says_what_to_do(people, db_url):
    as_writer(db_url, "UPDATE users SET roles = 'medewerker,auditor' WHERE name = 'mw'")
    result = cli("user", "deactivate", "mw")
    assert result.exit_code == 2
    assert "kan zich nu al niet aanmelden" in result.output, result.output
    assert "meldcode token revoke mw" in result.output, result.output


@pytest.mark.parametrize("damage", ["roles-changed", "roles-blob"])
def test_the_command_line_user_option_takes_no_untrusted_user(people, db_url, damage):
    if damage == "roles-blob":
        sqlite_only(db_url)
        as_writer(db_url, "UPDATE users SET roles = CAST(roles AS BLOB) WHERE name = 'pb'")
    else:
        as_writer(db_url, "UPDATE users SET display_name = 'Piet' WHERE name = 'pb'")
    result = cli("migrate", "--from", "1", "--to", "2", "--user", "pb")
    assert result.exit_code == 2
    assert "Gebruiker 'pb' is buiten het product gewijzigd" in result.output, result.output
