"""Issue 11 point 2: an admin-log line whose keyed hash does not hold (changed after it was
written), or that is a copy of an earlier line (replayed), is marked on the auditor's page
/beheerlog ("Gewijzigd", with what verify says of it) and in GET /api/v1/admin-log
(`changed`, `damaged`), as `meldcode verify --all` names it. SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import text as sql

from engine import admin_chain, audit, store, translog
from engine.models import AdminLogEntry
from engine.stored_rows import loaded_rows
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


def tampered(url: str, *statements: str) -> None:
    """`statements` run as a database writer would: the admin log's append-only triggers
    dropped by hand (as helpers.drop_guards does for the other logs), after the sequencer has
    logged what was queued."""
    translog.sequence(url)
    with store.unit_of_work(write=True, url=url) as session:
        if url.startswith("postgresql"):
            session.execute(sql("DROP TRIGGER IF EXISTS admin_log_append_only ON admin_log"))
        else:
            for event in ("update", "delete"):
                session.execute(sql(f"DROP TRIGGER IF EXISTS admin_log_no_{event}"))
        for statement in statements:
            session.execute(sql(statement))
    store.dispose_engines()


def positions(url: str) -> dict[int, int]:
    with store.unit_of_work(url=url) as session:
        return {row_id: seq for row_id, seq in session.execute(sql("SELECT id, seq FROM admin_log"))}


def verify_says(url: str) -> list[str]:
    with store.unit_of_work(url=url) as session:
        return admin_chain.problems(loaded_rows(session.connection(), AdminLogEntry.__table__))


def test_a_moved_line_is_marked(app, client, people, db_url):
    """Two chained lines swap their ids: each hash still holds (it covers the position, not
    the id), but the later position now stands first: verify names it, and so does the page."""
    _, second, third = written(db_url, "a", "b", "c")
    seq = positions(db_url)
    tampered(
        db_url,
        f"UPDATE admin_log SET id = -1 WHERE id = {second}",
        f"UPDATE admin_log SET id = {second} WHERE id = {third}",
        f"UPDATE admin_log SET id = {third} WHERE id = -1",
    )
    said = (
        f"beheerlogregel {third} (positie {seq[second]}) staat na positie {seq[third]}: de volgorde van het "
        "beheerlog is veranderd (regels verwisseld of verplaatst)"
    )
    assert said in verify_says(db_url)

    auditor = Client(app)
    auditor.login("aud")
    body = text(auditor.get("/beheerlog"))
    assert body.count("Verplaatst") == 1 and body.count('<tr class="damaged">') == 1, body
    row = body[body.index('<tr class="damaged">') :]
    row = row[: row.index("</tr>")]
    assert "Verplaatst" in row and said in row and "Gebruiker: b" in row, row
    assert "Gewijzigd" not in body and "Ontbreekt" not in body

    answer = client.get("/api/v1/admin-log", headers=people.auth("aud")).get_json()
    marked = [r for r in answer if r.get("moved")]
    assert [(r["detail"], r["damaged"]) for r in marked] == [({"user": "b"}, said)], marked
    assert not any(r.get("changed") or r.get("gap") for r in answer)


def test_a_removed_line_leaves_a_gap_where_it_stood(app, client, people, db_url):
    """A middle line deleted: the positions before and after it no longer follow each other;
    the page shows the missing position between the lines around it, with verify's words."""
    first, second, third = written(db_url, "a", "b", "c")
    seq = positions(db_url)
    tampered(db_url, f"DELETE FROM admin_log WHERE id = {second}")
    said = (
        f"positie {seq[second]} van het beheerlog ontbreekt (regel verwijderd)"
    )
    assert said in verify_says(db_url)

    auditor = Client(app)
    auditor.login("aud")
    body = text(auditor.get("/beheerlog"))
    badge = f"Ontbreekt: positie {seq[second]}<"
    assert body.count(badge) == 1 and body.count(said) == 1, body
    # newest first: line c, then the missing position, then line a
    assert body.index("Gebruiker: c") < body.index(badge) < body.index("Gebruiker: a"), body
    assert "Verplaatst" not in body and "Gewijzigd" not in body

    answer = client.get("/api/v1/admin-log", headers=people.auth("aud")).get_json()
    gaps = [(r["detail"], r["gap"]) for r in answer if "gap" in r]
    assert gaps == [({"user": "c"}, said)], gaps
    assert not any(r.get("changed") or r.get("moved") or r.get("damaged") for r in answer)
    english = client.get("/api/v1/admin-log", headers={**people.auth("aud"), "Accept-Language": "en"})
    assert any("gap" in r and r["gap"] != said for r in english.get_json())
