"""Issue 11: a users row a database writer changed (server stopped: it no longer matches its
seal) or stored damaged (a yes/no that is none, bytes in a text column, SQLite) is never acted
on as if sound. `meldcode user ...` and `token create` on such a user refuse with one Dutch line
(exit 2, as every refusal of these commands, CONTRACT section 5) and change nothing: no English
log line, no "uitgeschakeld" for a user that was not. The beheerder's users page and `meldcode
token list` mark the row "beschadigd" as verify names it; a token hash or user name stored as
bytes, and a token row deleted by hand, are verify findings. SQLite and PostgreSQL where the
column takes the value."""

from __future__ import annotations

import html

import pytest
from click.testing import CliRunner
from sqlalchemy import text as sql

from engine import store, users
from tests.helpers import Client, cli, text, verify_all
from tests.helpers import write_raw as write
from webui.cli import main as meldcode

# kind -> (SQL that damages mw's row, the database that takes it)
DAMAGE = {
    "roles-changed": ("UPDATE users SET roles = 'medewerker,auditor' WHERE name = 'mw'", "both"),
    "email-changed": ("UPDATE users SET email = 'boef@elders.example' WHERE name = 'mw'", "both"),
    "active-bytes": ("UPDATE users SET active = CAST(X'ff41' AS TEXT) WHERE name = 'mw'", "sqlite"),
    "name-blob": ("UPDATE users SET name = CAST(name AS BLOB) WHERE name = 'mw'", "sqlite"),
    "email-blob": ("UPDATE users SET email = CAST('mw@zorg.example' AS BLOB) WHERE name = 'mw'", "sqlite"),
}
COMMANDS = {
    "deactivate": (("user", "deactivate", "mw"), None),
    "roles": (("user", "roles", "mw", "--role", "medewerker"), None),
    "password": (("user", "password", "mw", "--password-stdin"), "Lange-Zomeravond-Aan-Zee-93\n"),
    "beroepsgroep": (("user", "beroepsgroep", "mw", "knmg"), None),
    "token-create": (("token", "create", "mw"), None),
}
REFUSED = "Gebruiker 'mw' is buiten het product gewijzigd of beschadigd opgeslagen"




def snapshot() -> tuple:
    """The users rows, the token rows and the admin log's length, as stored (bytes as bytes)."""
    with store.unit_of_work() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        columns = ("id", "name", "roles", "active", "session_version", "manager_id", "email", "seal")
        shown = ", ".join(f"hex({c})" if sqlite else c for c in columns)  # bytes as they are
        users = session.execute(sql(f"SELECT {shown} FROM users ORDER BY id")).all()
        tokens = session.execute(sql("SELECT id, revoked_at, seal FROM api_tokens ORDER BY id")).all()
        log = session.execute(sql("SELECT count(*) FROM admin_log")).scalar()
    return [tuple(u) for u in users], [tuple(t) for t in tokens], log


def damage(db_url: str, kind: str) -> None:
    statement, where = DAMAGE[kind]
    if where != "both" and not db_url.startswith(where):
        pytest.skip("PostgreSQL refuses this value itself")
    if kind == "email-blob":  # a sealed address first, then the same bytes as a BLOB
        with store.unit_of_work(write=True) as session:
            users.set_email(session, "mw", "mw@zorg.example")
    write(db_url, statement)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_command_on_an_untrusted_user_refuses_and_changes_nothing(people, db_url, kind, command):
    damage(db_url, kind)
    before = snapshot()
    args, stdin = COMMANDS[command]
    result = CliRunner().invoke(meldcode, list(args), input=stdin)
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert REFUSED in result.output, result.output
    assert "seal" not in result.output and "Traceback" not in result.output, result.output
    assert snapshot() == before


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_the_users_page_and_token_list_mark_an_untrusted_user(app, people, db_url, kind):
    damage(db_url, kind)
    bh = Client(app)
    bh.login("bh")
    page = bh.get("/beheer/gebruikers")
    assert page.status_code == 200
    rows = html.unescape(text(page)).split('id="gebruiker-')
    marked = next(r for r in rows if r.startswith('mw"')).split("</tr>")[0]
    assert "beschadigd: buiten het product gewijzigd" in marked, marked
    assert "beschadigd" not in next(r for r in rows if r.startswith('mw2"')).split("</tr>")[0]
    code, output = verify_all()
    assert code == 1 and "gebruiker mw (id " in output, output
    listed = cli("token", "list", "mw")
    assert listed.exit_code == 0, listed.output
    assert [line.split("\t")[3] for line in listed.output.splitlines()] == ["beschadigd"], listed.output
    assert cli("token", "list", "mw2").output.split("\t")[3].strip() == "active"
    result = cli("user", "deactivate", "mw2")  # a sound user beside it is still changed
    assert result.exit_code == 0 and "uitgeschakeld" in result.output, result.output


def test_a_name_stored_as_bytes_is_named_not_called_unknown(people, db_url):
    damage(db_url, "name-blob")
    # token list only reads: it finds the name by the same text and marks the tokens (issue 11)
    listed = cli("token", "list", "mw")
    assert listed.exit_code == 0 and listed.output.split("\t")[3].strip() == "beschadigd", listed.output
    code, output = verify_all()
    assert "gebruiker mw (id " in output and "name: bytes in plaats van tekst (BLOB)" in output, output


def test_a_token_hash_stored_as_bytes_is_named_and_marked(app, people, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL keeps no bytes in a text column")
    write(
        db_url,
        "UPDATE api_tokens SET token_hash = CAST(token_hash AS BLOB) WHERE user_id = "
        "(SELECT id FROM users WHERE name = 'mw')",
    )
    assert app.test_client().get("/api/v1/tasks", headers=people.auth("mw")).status_code == 401
    listed = cli("token", "list", "mw")
    assert listed.output.split("\t")[3].strip() == "beschadigd", listed.output
    code, output = verify_all()
    assert code == 1 and "token_hash: bytes in plaats van tekst (BLOB)" in output, output


def test_a_token_row_deleted_by_hand_is_named(people, db_url):
    with store.unit_of_work() as session:
        tid = session.execute(
            sql("SELECT min(id) FROM api_tokens WHERE user_id = (SELECT id FROM users WHERE name = 'mw')")
        ).scalar_one()
    assert verify_all()[0] == 0
    write(db_url, "DELETE FROM api_tokens WHERE id = :i", i=tid)
    code, output = verify_all()
    assert code == 1, output
    assert (
        f"API-token {tid} van gebruiker mw: het beheerlog legde het aanmaken vast, maar de rij "
        "ontbreekt (buiten het product verwijderd)"
    ) in output, output
