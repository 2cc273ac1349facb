"""`meldcode restore` checks the backup's schema (issue 11, break-it of restore): a backup
with a trigger, table or view of its own, or one of the product's missing, was put back as
is, and a PostgreSQL dump ran whatever SQL it held as the database user (COPY ... TO PROGRAM
in a function an index calls). Now the schema objects are compared with what the migrations
make at the backup's revision (exit 2, the object named, nothing changed) and a dump is read
as data only (engine/restore_dump.py)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine import store
from tests.conftest import PG_BIN
from tests.helpers import operator_run, restored_lines, walk_some_cases

SQLITE_CHANGES = {
    "an extra trigger": (
        "CREATE TRIGGER stil_wissen AFTER INSERT ON history_events BEGIN DELETE FROM log_queue; END",
        "trigger stil_wissen",
    ),
    "a dropped trigger": (None, "ontbreekt trigger"),
    "an extra table": ("CREATE TABLE notities (id INTEGER PRIMARY KEY, tekst TEXT)", "tabel notities"),
    "an extra view": ("CREATE VIEW alle_zaken AS SELECT * FROM cases", "view alle_zaken"),
}


@pytest.mark.parametrize("kind", sorted(SQLITE_CHANGES))
def test_a_sqlite_backup_with_another_schema_is_refused(sqlite_url, sqlite_people, tmp_path, kind):
    statement, named = SQLITE_CHANGES[kind]
    walk_some_cases(sqlite_url, 1, "voor")
    backup = tmp_path / "reserve.bak"
    assert operator_run("backup", "-o", str(backup), url=sqlite_url).returncode == 0
    with sqlite3.connect(backup) as conn:
        if statement is None:
            (trigger,) = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' LIMIT 1"
            ).fetchone()
            conn.execute(f"DROP TRIGGER {trigger}")
            named = f"ontbreekt trigger {trigger}"
        else:
            conn.execute(statement)
    live = Path(sqlite_url.removeprefix("sqlite:///"))
    store.dispose_engines()
    before = live.read_bytes()
    result = operator_run("restore", str(backup), url=sqlite_url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("fout: niet teruggezet: ") and named in result.stderr, result.stderr
    assert "schema van deze versie" in result.stderr
    store.dispose_engines()
    assert live.read_bytes() == before


def _pg_backup(
    pg_server, monkeypatch, tmp_path: Path, *statements: str, source: str | None = None
) -> tuple[str, Path]:
    from tests.conftest import People

    url = source or pg_server.prepared_database()
    monkeypatch.setenv("MELDCODE_DATABASE_URL", url)
    People(url)
    walk_some_cases(url, 1, "pg")
    with store.get_engine(url).begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    store.dispose_engines()
    backup = tmp_path / "reserve.dump"
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(
        [str(PG_BIN / "pg_dump"), "--format=custom", "--no-owner", "--file", str(backup), "--dbname", dsn],
        check=True,
        capture_output=True,
    )
    return url, backup


def test_a_dump_never_runs_its_own_sql(pg_server, monkeypatch, tmp_path):
    """A CHECK constraint over a function that runs COPY ... TO PROGRAM: pg_restore ran it (as
    the server's user) for every row it loaded, in the scratch database and again in the
    database itself. Now the function is refused by name and nothing of the dump runs."""
    marker = tmp_path / "uitgevoerd"
    source = pg_server.prepared_database()
    name = make_url(source).database
    url, backup = _pg_backup(
        pg_server,
        monkeypatch,
        tmp_path,
        "CREATE FUNCTION public.stil(i integer) RETURNS boolean LANGUAGE plpgsql AS $$ "
        f"BEGIN IF current_database() <> '{name}' THEN "
        f"EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'touch {marker}-' || current_database()); "
        "END IF; RETURN true; END $$",
        "ALTER TABLE users ADD CONSTRAINT stil CHECK (public.stil(id))",
        source=source,
    )
    with store.get_engine(url).begin() as conn:  # the live database without them
        conn.execute(text("ALTER TABLE users DROP CONSTRAINT stil"))
        conn.execute(text("DROP FUNCTION public.stil(integer)"))
    store.dispose_engines()
    result = operator_run("restore", str(backup), url=url)
    assert list(tmp_path.glob("uitgevoerd*")) == []
    assert result.returncode == 2, result.stdout + result.stderr
    assert "function stil(integer)" in result.stderr, result.stderr
    assert restored_lines(url) == []
    store.dispose_engines()


def test_a_dump_with_an_extra_trigger_is_refused_and_a_good_one_goes(pg_server, monkeypatch, tmp_path):
    url, backup = _pg_backup(
        pg_server,
        monkeypatch,
        tmp_path,
        "CREATE TRIGGER stil_wissen BEFORE UPDATE ON cases FOR EACH ROW "
        "EXECUTE FUNCTION meldcode_append_only()",
    )
    monkeypatch.setenv("MELDCODE_DATABASE_URL", url)
    result = operator_run("restore", str(backup), url=url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "trigger cases stil_wissen" in result.stderr, result.stderr
    with store.get_engine(url).begin() as conn:
        conn.execute(text("DROP TRIGGER stil_wissen ON cases"))
    store.dispose_engines()
    good = tmp_path / "goed.dump"
    assert operator_run("backup", "-o", str(good), url=url).returncode == 0
    result = operator_run("restore", str(good), url=url)
    assert result.returncode == 0, result.stdout + result.stderr
    verify = operator_run("verify", "--all", url=url)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    store.dispose_engines()
