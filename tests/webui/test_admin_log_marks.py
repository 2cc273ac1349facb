"""Issue 11 point 2: an admin-log line whose keyed hash does not hold (changed after it was
written), or that is a copy of an earlier line (replayed), is marked on the auditor's page
/beheerlog ("Gewijzigd", with what verify says of it) and in GET /api/v1/admin-log
(`changed`, `damaged`), as `meldcode verify --all` names it. SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import text as sql

from engine import audit, store, translog
from tests.helpers import Client, text


def written(url: str, *names: str) -> list[int]:
    with store.unit_of_work(write=True, url=url) as session:
        for name in names:
            audit.log_admin(session, "beheerder", "user_added", {"user": name})
    with store.unit_of_work(url=url) as session:
        return list(session.execute(sql("SELECT id FROM admin_log ORDER BY id")).scalars())[-len(names) :]


def changed(url: str, row: int) -> None:
    """The detail of line `row` rewritten, the append-only trigger out of the way."""
    translog.sequence(url)
    statement = f'UPDATE admin_log SET detail = \'{{"user": "indringer"}}\' WHERE id = {row}'
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.execute("DROP TRIGGER IF EXISTS admin_log_no_update")
            conn.execute(statement)
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute(statement)


def replayed(url: str, row: int) -> int:
    """Line `row` copied as a new row, as a plain INSERT does it."""
    with store.unit_of_work(write=True, url=url) as session:
        session.execute(
            sql(
                'INSERT INTO admin_log (at, "user", action, detail, hash) '
                f'SELECT at, "user", action, detail, hash FROM admin_log WHERE id = {row}'
            )
        )
        return session.execute(sql("SELECT max(id) FROM admin_log")).scalar()


def test_a_changed_and_a_replayed_line_are_marked(app, client, people, db_url):
    first, second, third = written(db_url, "a", "b", "c")
    changed(db_url, second)
    copy = replayed(db_url, first)

    auditor = Client(app)
    auditor.login("aud")
    page = auditor.get("/beheerlog")
    assert page.status_code == 200
    body = text(page)
    assert f"beheerlogregel {second} is na het vastleggen gewijzigd (de sleutelhash klopt niet)" in body
    assert f"beheerlogregel {copy} is herhaald: een kopie van de oudere beheerlogregel {first}" in body
    assert body.count("Gewijzigd") == 2 and body.count('<tr class="damaged">') == 2, body

    response = client.get("/api/v1/admin-log", headers=people.auth("aud"))
    assert response.status_code == 200, response.data
    marked = {r["detail"]["user"]: r for r in response.get_json() if r.get("changed")}
    assert set(marked) == {"indringer", "a"}, marked
    assert "gewijzigd" in marked["indringer"]["damaged"]
    english = client.get("/api/v1/admin-log", headers={**people.auth("aud"), "Accept-Language": "en"})
    assert any(
        "is replayed: a copy of the older admin log line" in r.get("damaged", "") for r in english.get_json()
    )
