"""Issue 11, damaged case rows on every read door: a case row with a damaged or dangling value
(a process_version naming no version, as an owner naming no user; a status or uitkomst that is
no code; a hash, counter or flag the API does not show) is never a 404 or a 409 on the API: it
answers 200 with `damaged` naming every damaged column. The web names it too (a notice on the
case page, or the 409 naming the case where a page needs the missing version) and never answers
404 "Niet gevonden" for a case that exists. `meldcode migrate` names a case whose workflow state
or practice flag is damaged and refuses the whole move (exit 1). SQLite; PostgreSQL where the
column takes the value."""

from __future__ import annotations

import pytest
from sqlalchemy import text as sql

from engine import cases, store
from tests.helpers import Client, cli, renamed_files, store_version, where_taken
from tests.helpers import write_as_database_writer as write

# kind -> (column, value as SQL, the database that takes it, what `damaged` says of it)
DAMAGE = {
    "process_version-gone": ("process_version", "99", "sqlite", "geen bestaande procesversie (99)"),
    "status-bogus": ("status", "'bogus'", "both", "status: geen bekende waarde ('bogus')"),
    "uitkomst-bogus": ("uitkomst", "'bogus'", "both", "uitkomst: geen bekende waarde ('bogus')"),
    "last_hash-bytes": ("last_hash", "CAST(X'ff41' AS TEXT)", "sqlite", "last_hash: bytes die geen"),
    "access_count-big": ("access_count", "9223372036854775807", "sqlite", "access_count: een waarde buiten"),
    "access_count-pg-big": ("access_count", "2147483647", "postgresql", "access_count: een waarde buiten"),
    "access_head-bytes": ("access_head", "CAST(X'ff41' AS TEXT)", "sqlite", "access_head: bytes die geen"),
    "practice-text": ("practice", "'x'", "sqlite", "practice: geen ja/nee-waarde ('x')"),
}


# the kinds the doors open, each on the databases that take its value (the others refuse it)
OPENED = where_taken({kind: damage[2] for kind, damage in DAMAGE.items() if not kind.endswith("-bogus")})


def plant(db_url: str, kind: str, case_id: int) -> None:
    column, value, _, _ = DAMAGE[kind]
    write(db_url, f'UPDATE cases SET "{column}" = {value} WHERE id = :c', c=case_id)


@OPENED
def test_the_api_opens_and_names_every_damaged_column(app, people, db_url, kind):
    case = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    plant(db_url, kind, case["id"])
    for role in ("mw", "aud"):
        response = app.test_client().get(f"/api/v1/cases/{case['id']}", headers=people.auth(role))
        body = response.get_json()
        assert response.status_code == 200, (kind, role, response.status_code, body)
        assert DAMAGE[kind][3] in body.get("damaged", ""), (kind, role, body)


@OPENED
def test_the_web_names_the_damage_and_never_says_not_found(app, people, db_url, kind):
    case = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    plant(db_url, kind, case["id"])
    client = Client(app)
    client.login("mw")
    routes = [
        f"/casussen/{case['id']}",
        f"/casussen/{case['id']}/afdrukken",
        f"/casussen/{case['id']}/dossier.json",
        f"/taken/{case['tasks'][0]['id']}",
    ]
    for route in routes:
        response = client.http.get(route, base_url="http://localhost")
        body = response.get_data(as_text=True)
        assert response.status_code in (200, 409), (kind, route, response.status_code, body[:600])
        assert "Traceback" not in body
        if route == routes[0]:  # the case page (or its 409) names the column
            assert DAMAGE[kind][3].split("(")[0] in body, (kind, route, body[:2000])


@pytest.mark.parametrize("column, value", [("workflow_state", "X'00'"), ("practice", "'x'")])
def test_a_move_names_a_case_whose_state_or_practice_flag_is_damaged(
    sqlite_people, sqlite_url, monkeypatch, column, value
):
    """On SQLite only: PostgreSQL refuses 'x' in a boolean; a state of one byte is the same
    on both."""
    people = sqlite_people
    damaged = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    sound = cases.start_case(people["mw"], {"client_ref": "Klaassen", "reason": "zorgen"})
    write(sqlite_url, f"UPDATE cases SET {column} = {value} WHERE id = :c", c=damaged["id"])
    target = store_version(
        renamed_files('name="Stap 1: Signalen in kaart brengen"', 'name="Stap 1: Signalen"'), monkeypatch
    )
    result = cli("migrate", "--from", "1", "--to", str(target), "--user", "pb")
    assert result.exit_code == 1, result.output
    assert f"casus {damaged['id']}: beschadigd opgeslagen: {column}" in result.output, result.output
    assert "Traceback" not in result.output
    with store.unit_of_work() as session:  # refused as a whole: the sound case stays too
        version = session.execute(sql("SELECT process_version FROM cases WHERE id = :c"), {"c": sound["id"]})
        assert version.scalar_one() == 1
