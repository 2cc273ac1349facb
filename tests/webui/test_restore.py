"""`meldcode restore FILE` (issue 11 point 5, F5): a backup put back passes `meldcode verify
--all`, the sequencer sequences new writes again, and the restore is in the admin log with
what it dropped; checkpoints newer than the restored log are set aside, never deleted. A file
that is no good backup of this product is refused with exit 2 and changes nothing, and so is
a restore while a server has the database open. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, text

from engine import log_head, models, store
from tests.conftest import LiveServer, People, meldcode_cli
from tests.helpers import copy_database, operator_run, restored_lines, spare_url, walk_some_cases


def _count(url: str, model) -> int:
    with store.unit_of_work(url=url) as session:
        return session.scalar(select(func.count()).select_from(model))


def _log_size(url: str) -> int:
    with store.unit_of_work(url=url) as session:
        return session.scalar(select(func.count()).select_from(models.LogEntry))


def test_a_restored_backup_passes_verify_and_the_log_goes_on(db_url, people, tmp_path, checkpoint_dir):
    walk_some_cases(db_url, 2, "voor")
    assert operator_run("checkpoint", url=db_url).returncode == 0
    backup = tmp_path / "reserve.bak"
    assert operator_run("backup", "-o", str(backup), url=db_url).returncode == 0
    walk_some_cases(db_url, 3, "na")  # newer than the backup: dropped by the restore
    newer = operator_run("checkpoint", url=db_url)
    assert newer.returncode == 0, newer.stderr
    assert _count(db_url, models.Case) == 5
    head = log_head.read(store.get_engine(db_url))
    assert head is not None and head.tree_size == _log_size(db_url)

    result = operator_run("restore", str(backup), url=db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Teruggezet uit" in result.stdout and "database_restored" in result.stdout
    assert _count(db_url, models.Case) == 2

    verify = operator_run("verify", "--all", url=db_url)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "controlepunt van" in verify.stdout  # verify did compare with a checkpoint

    # the restore is evidence: one admin line with the sizes and the head from before
    (line,) = restored_lines(db_url)
    assert line["file"] == "reserve.bak"
    assert line["tree_size_before"] == head.tree_size
    assert line["recorded_head_before"]["tree_size"] == head.tree_size
    assert line["recorded_head_before"]["root"] == head.root
    assert line["tree_size_after"] < head.tree_size
    assert line["entries_dropped"] == head.tree_size - line["tree_size_after"]
    # the newer checkpoint was set aside, kept whole in a subfolder, and named in the line
    (moved,) = line["checkpoints_set_aside"]
    folder = Path(line["checkpoints_folder"])
    assert folder.parent == checkpoint_dir and folder.name.startswith("voor-terugzetten-")
    assert (folder / moved["file"]).is_file() and moved["tree_size"] == head.tree_size
    assert json.loads((folder / moved["file"]).read_text())["root"] == moved["root"]
    # the older checkpoint (held by the restored log) stays; a new one covers the restore
    assert len(list(checkpoint_dir.glob("checkpoint-*.json"))) == 2

    # the sequencer sequences new writes again: a case started now is in the log, and verify
    # passes once more (also against the restored database's new head)
    size = _log_size(db_url)
    walk_some_cases(db_url, 1, "daarna")
    store.dispose_engines()
    again = operator_run("verify", "--all", url=db_url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _log_size(db_url) > size
    assert log_head.read(store.get_engine(db_url)).tree_size == _log_size(db_url)


def test_without_a_restore_the_copy_put_back_by_hand_fails(sqlite_url, sqlite_people, tmp_path):
    """What the restore command repairs (F5): the copy put back by hand leaves the recorded
    head ahead of the log, and verify reports the newer entries as removed."""
    import shutil

    backup = tmp_path / "reserve.sqlite"
    assert operator_run("backup", "-o", str(backup), url=sqlite_url).returncode == 0
    walk_some_cases(sqlite_url, 1, "na")
    assert operator_run("verify", "--all", url=sqlite_url).returncode == 0
    store.dispose_engines()
    live = sqlite_url.removeprefix("sqlite:///")
    shutil.copyfile(backup, live)
    assert operator_run("verify", "--all", url=sqlite_url).returncode == 1
    assert operator_run("restore", str(backup), url=sqlite_url).returncode == 0
    assert operator_run("verify", "--all", url=sqlite_url).returncode == 0


# --- refusals: nothing changes ----------------------------------------------------------------


def _state(url: str, file: bool = True) -> tuple:
    """What a refused restore must leave as it was: the database's rows, the head record,
    and (`file`) the bytes of the SQLite file."""
    store.dispose_engines()
    head = log_head.path_for(store.get_engine(url))
    state = (
        _count(url, models.Case),
        _count(url, models.AdminLogEntry),
        _log_size(url),
        head.read_text() if head.exists() else None,
    )
    if file and url.startswith("sqlite"):
        store.dispose_engines()
        live = url.removeprefix("sqlite:///")
        state += (hashlib.sha256(Path(live).read_bytes()).hexdigest(),)
    return state


def _sqlite_backup(url: str, tmp_path: Path, name: str = "b.sqlite") -> Path:
    """A backup of a database whose writes were sequenced, as a running server's are."""
    from engine import translog

    translog.sequence(url)
    backup = tmp_path / name
    assert operator_run("backup", "-o", str(backup), url=url).returncode == 0
    return backup


def _tampered(backup: Path, *statements: str) -> Path:
    """The backup changed past its append-only triggers, which are put back afterwards (a
    backup without them is refused for its schema)."""
    with sqlite3.connect(backup) as conn:
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        for trigger, _sql in triggers:
            conn.execute(f"DROP TRIGGER {trigger}")
        for statement in statements:
            assert conn.execute(statement).rowcount >= 1, statement
        for _trigger, sql in triggers:
            conn.execute(sql)
    return backup


# kind -> (the candidate made from a copy of a good backup `b.sqlite` in the folder, what the
# refusal says)
NOT_BACKUPS = {
    "random bytes": (lambda good, tmp: _bytes(tmp, os.urandom(8192)), "geen SQLite-database"),
    "empty file": (lambda good, tmp: _bytes(tmp, b""), "geen SQLite-database"),
    "another application's database": (lambda good, tmp: _other_app(tmp), "tabellen van Meldcode ontbreken"),
    "a changed event": (
        lambda good, tmp: _tampered(
            good,
            "UPDATE history_events SET data = replace(data, 'voor-0', 'vervalst') "
            "WHERE id = (SELECT min(id) FROM history_events)",
        ),
        "niet in orde",
    ),
    "an entry cut from the log": (
        lambda good, tmp: _tampered(good, "DELETE FROM log_entries WHERE idx = 2"),
        "niet in het logboek",  # the row whose entry was cut (checkpoint's own log pass)
    ),
    "an event removed with its log entry": (
        lambda good, tmp: _tampered(
            good,
            "DELETE FROM log_entries WHERE kind = 'event' AND row_id = (SELECT max(id) FROM history_events)",
            "DELETE FROM history_events WHERE id = (SELECT max(id) FROM history_events)",
        ),
        "niet in orde",
    ),
    "a newer product's schema": (
        lambda good, tmp: _tampered(good, "UPDATE alembic_version SET version_num = '9999'"),
        "databaseschema",
    ),
}


def _bytes(tmp: Path, content: bytes) -> Path:
    path = tmp / "geen-reservekopie.bin"
    path.write_bytes(content)
    return path


def _other_app(tmp: Path) -> Path:
    path = tmp / "ander.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('hallo')")
    return path


@pytest.fixture(scope="module")
def built_before_refusal() -> list:
    """The database and good backup of `before_refusal` as built once for this module."""
    return []


@pytest.fixture
def before_refusal(sqlite_url, tmp_path, built_before_refusal, tmp_path_factory) -> Path:
    """The People, two cases sequenced and backed up (as a server's writes are), one case
    more, verify passing: built by the first test (two command-line runs, seconds), copied
    for every later one (milliseconds); each test starts from it unchanged. Out: the good
    backup, `b.sqlite` beside the database."""
    if not built_before_refusal:
        People(sqlite_url)
        walk_some_cases(sqlite_url, 2, "voor")
        good = _sqlite_backup(sqlite_url, tmp_path)
        walk_some_cases(sqlite_url, 1, "na")
        assert operator_run("verify", "--all", url=sqlite_url).returncode == 0
        kept = spare_url(sqlite_url, tmp_path_factory.mktemp("voor-weigering"))
        copy_database(sqlite_url, kept)
        built_before_refusal.extend([kept, good.read_bytes()])
        return good
    kept, content = built_before_refusal
    copy_database(kept, sqlite_url)
    good = tmp_path / "b.sqlite"
    good.write_bytes(content)
    return good


@pytest.mark.parametrize("kind", sorted(NOT_BACKUPS))
def test_what_is_no_good_backup_is_refused_and_changes_nothing(sqlite_url, before_refusal, tmp_path, kind):
    make, why = NOT_BACKUPS[kind]
    candidate = make(before_refusal, tmp_path)
    before = _state(sqlite_url)
    folder = sorted(os.listdir(Path(sqlite_url.removeprefix("sqlite:///")).parent))

    result = operator_run("restore", str(candidate), url=sqlite_url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("fout: niet teruggezet: ") and why in result.stderr
    assert "Traceback" not in result.stderr
    assert _state(sqlite_url) == before
    # no scratch copy left beside the database
    assert sorted(os.listdir(Path(sqlite_url.removeprefix("sqlite:///")).parent)) == folder
    assert operator_run("verify", "--all", url=sqlite_url).returncode == 0


def test_a_backup_of_another_installation_is_refused(sqlite_url, sqlite_people, tmp_path):
    """Made with another history key: no entry of its log fits this instance's key."""
    backup = _sqlite_backup(sqlite_url, tmp_path)
    before = _state(sqlite_url)
    store.dispose_engines()
    other = meldcode_cli(
        "restore",
        str(backup),
        env={"MELDCODE_DATABASE_URL": sqlite_url, "MELDCODE_HISTORY_KEY": "een-andere-sleutel-" + "ab" * 16},
    )
    assert other.returncode == 2 and "niet in orde" in other.stderr, other.stderr
    assert _state(sqlite_url) == before


def test_a_restore_while_the_server_runs_is_refused(db_url, people, tmp_path):
    walk_some_cases(db_url, 1, "voor")
    store.dispose_engines()
    if db_url.startswith("sqlite"):
        backup = _sqlite_backup(db_url, tmp_path)
    else:
        backup = tmp_path / "b.dump"
        assert operator_run("backup", "-o", str(backup), url=db_url).returncode == 0
    walk_some_cases(db_url, 1, "na")
    from engine import translog

    translog.sequence(db_url)  # what the server's sequencer would do on its own meanwhile
    before = _state(db_url, file=False)
    store.dispose_engines()
    server = LiveServer(db_url, dict(os.environ, MELDCODE_DATABASE_URL=db_url))
    try:
        assert requests.get(f"{server.base}/healthz", timeout=10).status_code == 200
        result = meldcode_cli("restore", str(backup), env={"MELDCODE_DATABASE_URL": db_url})
    finally:
        server.stop()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "in gebruik" in result.stderr and "stop die eerst" in result.stderr
    assert _state(db_url, file=False) == before
    # stopped: now it goes
    store.dispose_engines()
    assert operator_run("restore", str(backup), url=db_url).returncode == 0
    assert operator_run("verify", "--all", url=db_url).returncode == 0


# --- PostgreSQL: what is no dump of this product -------------------------------------------------


def _databases(url: str) -> set[str]:
    with store.get_engine(url).connect() as conn:
        return set(conn.execute(text("SELECT datname FROM pg_database")).scalars())


@pytest.mark.parametrize("kind", ["random bytes", "a SQLite backup", "a dump of another database"])
def test_postgresql_refuses_what_is_no_dump_of_this_product(pg_server, monkeypatch, tmp_path, kind):
    from tests.conftest import PG_BIN

    url = pg_server.prepared_database()
    monkeypatch.setenv("MELDCODE_DATABASE_URL", url)
    _walk_some_cases_as_new(url)
    if kind == "random bytes":
        candidate = _bytes(tmp_path, os.urandom(8192))
    elif kind == "a SQLite backup":
        candidate = _other_app(tmp_path)
    else:  # a valid custom-format dump, of a database that is not Meldcode's
        other = pg_server.create_database()
        with store.get_engine(other).begin() as conn:
            conn.execute(text("CREATE TABLE notes (id integer PRIMARY KEY, body text)"))
        store.dispose_engines()
        candidate = tmp_path / "ander.dump"
        from sqlalchemy.engine import make_url

        dsn = make_url(other).set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run(
            [str(PG_BIN / "pg_dump"), "--format=custom", "--file", str(candidate), "--dbname", dsn],
            check=True,
            capture_output=True,
        )
    before = _state(url)
    databases = _databases(url)
    result = operator_run("restore", str(candidate), url=url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("fout: niet teruggezet: ") and "Traceback" not in result.stderr
    assert _state(url) == before
    assert _databases(url) == databases  # no scratch database left
    store.dispose_engines()


def _walk_some_cases_as_new(url: str) -> None:
    from tests.conftest import People

    People(url)
    walk_some_cases(url, 1, "pg")
    store.dispose_engines()
