"""An admin-log row damaged outside the application (issue 11 points 1 and 6, CONTRACT
section 5): GET /api/v1/admin-log and the auditor's page "Beheerlog" show it marked as
damaged, in Dutch (or English when asked), never a 500; the API's answer still follows its
OpenAPI document. On SQLite and PostgreSQL where the database holds the value
(PostgreSQL's own types refuse invalid JSON or text as a time, but hold the time 'infinity'
and JSON that is no object)."""

from __future__ import annotations

import re
import sqlite3

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from engine import audit, store, translog
from tests.helpers import Client, text

# name: (SQL, the Dutch and English words of the damage, or None where the database refuses)
DAMAGE = {
    "detail-json": (
        "UPDATE admin_log SET detail = '{kapot' WHERE id = :row",
        (
            "beschadigd opgeslagen: gegevens: geen geldige JSON (regel 1, kolom 2)",
            "stored damaged: details: not valid JSON (line 1, column 2)",
        ),
        None,
    ),
    "at-text": (
        "UPDATE admin_log SET at = 'gisteren' WHERE id = :row",
        ("beschadigd opgeslagen: tijdstip: geen geldig tijdstip", "stored damaged: time: not a valid time"),
        None,
    ),
    "at-infinity": (
        "UPDATE admin_log SET at = 'infinity' WHERE id = :row",
        ("beschadigd opgeslagen: tijdstip: geen geldig tijdstip", "stored damaged: time: not a valid time"),
        (
            "beschadigd opgeslagen: tijdstip: een waarde buiten het bereik ('infinity')",
            "stored damaged: time: a value out of range ('infinity')",
        ),
    ),
    "detail-list": (
        "UPDATE admin_log SET detail = '[1, 2]' WHERE id = :row",
        (
            "beschadigd opgeslagen: gegevens: geen object (JSON) maar een andere waarde",
            "stored damaged: details: not an object (JSON) but another value",
        ),
        "same",
    ),
    "detail-null": (
        "UPDATE admin_log SET detail = 'null' WHERE id = :row",
        (
            "beschadigd opgeslagen: gegevens: geen object (JSON) maar een andere waarde",
            "stored damaged: details: not an object (JSON) but another value",
        ),
        "same",
    ),
}


def damaged_row(url: str, sql: str) -> int:
    """A new admin-log row, then damaged as someone with the database open would (the
    append-only triggers out of the way). Returns its id."""
    with store.unit_of_work(write=True, url=url) as session:
        audit.log_admin(session, "beheerder", "setting_changed", {"name": "kapot"})
        row = session.connection().exec_driver_sql("SELECT max(id) FROM admin_log").scalar()
    translog.sequence(url)
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.execute("DROP TRIGGER IF EXISTS admin_log_no_update")
            conn.execute(sql, {"row": row})
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute("SET session_replication_role = replica")  # no append-only trigger
            conn.execute(sql.replace(":row", "%(row)s"), {"row": row})
    return row


def words(db_url: str, kind: str) -> tuple[str, str]:
    sql, on_sqlite, on_postgresql = DAMAGE[kind]
    found = (
        on_sqlite
        if db_url.startswith("sqlite")
        else (on_sqlite if on_postgresql == "same" else on_postgresql)
    )
    if found is None:
        pytest.skip("PostgreSQL's own column types refuse this value")
    return found


def check_against_openapi(client, body) -> list[str]:
    """What is wrong with `body` as the 200 answer of GET /api/v1/admin-log, by the served
    OpenAPI document (empty: nothing)."""
    document = client.get("/api/v1/openapi.json").get_json()
    uri = "urn:meldcode:openapi"
    registry = Registry().with_resource(uri, DRAFT202012.create_resource(document))
    ref = f"{uri}#/paths/~1api~1v1~1admin-log/get/responses/200/content/application~1json/schema"
    validator = Draft202012Validator({"$ref": ref}, registry=registry)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_the_api_shows_a_damaged_row_marked(client, people, db_url, kind):
    dutch, english = words(db_url, kind)
    damaged_row(db_url, DAMAGE[kind][0])
    response = client.get("/api/v1/admin-log", headers=people.auth("aud"))
    assert response.status_code == 200, response.data
    rows = response.get_json()
    assert check_against_openapi(client, rows) == []
    marked = [r for r in rows if "damaged" in r]
    assert len(marked) == 1, rows
    assert marked[0]["damaged"] == dutch
    assert marked[0]["user"] == "beheerder" and marked[0]["action"] == "setting_changed"
    assert ("tijdstip" in dutch) == (marked[0]["at"] is None)
    assert ("gegevens" in dutch) == (marked[0]["detail"] is None)
    assert all(set(r) == {"at", "user", "action", "detail"} for r in rows if r is not marked[0])
    english_rows = client.get(
        "/api/v1/admin-log", headers={**people.auth("aud"), "Accept-Language": "en"}
    ).get_json()
    assert [r["damaged"] for r in english_rows if "damaged" in r] == [english]


@pytest.mark.parametrize("kind", ["detail-json", "at-infinity", "detail-list"])
def test_the_page_shows_a_damaged_row_marked(app, people, db_url, kind):
    dutch, _english = words(db_url, kind)
    damaged_row(db_url, DAMAGE[kind][0])
    auditor = Client(app)
    auditor.login("aud")
    page = auditor.get("/beheerlog")
    assert page.status_code == 200, text(page)[:2000]
    body = text(page)
    assert re.search(r"<tr class=\"damaged\">", body), body
    assert "Beschadigd" in body and dutch.replace("'", "&#39;") in body, body
    assert body.count("<tr") >= 3  # the other rows are still there
