"""Issue 11, admin log: each line's keyed hash covers its place in the chain (position and the
line before it, engine/admin_chain.py, migration 0018). A line copied as a new row (an older
settings change replayed, or the newest one twice), two lines swapped and a line removed are
named by `meldcode verify --all` in Dutch, with and without a checkpoint file, and a replayed
or moved settings line rolls nothing back. SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from engine import organisation, store, translog
from tests.helpers import verify_all
from webui.cli import main as meldcode

PHONE = "veilig_thuis_telefoon"


def intrude(*statements: str) -> None:
    """SQL as a database writer runs it: no product code, the triggers as they are (a new
    row is queued for the log and sequenced like any)."""
    with store.unit_of_work(write=True) as session:
        for sql in statements:
            session.execute(text(sql))


def bypass(url: str, *statements: str) -> None:
    """SQL with the append-only triggers out of the way, as someone with the database open
    would run it (after the sequencer gave every row its place)."""
    translog.sequence(url)
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            for name in ("admin_log_no_update", "admin_log_no_delete"):
                conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            for sql in statements:
                conn.execute(sql)
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute("SET session_replication_role = replica")
            for sql in statements:
                conn.execute(sql)


def settings_lines() -> list[int]:
    with store.unit_of_work() as session:
        return list(
            session.execute(
                text("SELECT id FROM admin_log WHERE action = 'settings_changed' ORDER BY id")
            ).scalars()
        )


@pytest.fixture
def two_phones(people):
    """The beheerder set the phone number twice: 0800-1111, then 0800-2222."""
    organisation.update(people["bh"], {PHONE: "0800-1111"})
    organisation.update(people["bh"], {PHONE: "0800-2222"})
    code, output = verify_all()
    assert code == 0, output
    return settings_lines()


@pytest.fixture(params=["zonder controlepunt", "met controlepunt"])
def checkpoint(request, tmp_path, monkeypatch):
    """Verify with no checkpoint file, or with one written before the intruder came."""
    folder = tmp_path / "checkpoints"
    monkeypatch.setenv("MELDCODE_CHECKPOINT_DIR", str(folder))
    return request.param == "met controlepunt"


def take_checkpoint(wanted: bool) -> None:
    if wanted:
        result = CliRunner().invoke(meldcode, ["checkpoint"])
        assert result.exit_code == 0, result.output


COPY = (
    'INSERT INTO admin_log (at, "user", action, detail, hash) '
    'SELECT at, "user", action, detail, hash FROM admin_log WHERE id = {row}'
)


def test_a_replayed_settings_line_is_named_and_rolls_nothing_back(two_phones, checkpoint, db_url):
    """The tester's input: the older settings change copied as a new row, and the setting
    rolled back to what it says. Before, verify passed and every page used 0800-1111."""
    take_checkpoint(checkpoint)
    older, newer = two_phones[-2:]
    intrude(COPY.format(row=older), f"UPDATE settings SET value = '\"0800-1111\"' WHERE key = '{PHONE}'")
    with store.unit_of_work() as session:
        copy = session.execute(text("SELECT max(id) FROM admin_log")).scalar()

    code, output = verify_all()
    assert code == 1, output
    assert f"beheerlogregel {copy} is herhaald: een kopie van de oudere beheerlogregel {older}" in output
    assert f"instelling {PHONE} wijkt af van het beheerlog" in output
    if checkpoint:
        assert "controlepunt van" in output
    assert organisation.current()[PHONE] == "0800-2222"


def test_a_replayed_line_with_its_position_is_named(two_phones, checkpoint, db_url):
    """A careful intruder copies the position and the link too (the unique index on the
    position dropped first): still a copy, named as one."""
    take_checkpoint(checkpoint)
    older = two_phones[-2]
    intrude(
        "DROP INDEX ix_admin_log_seq",
        'INSERT INTO admin_log (at, "user", action, detail, hash, seq, prev_hash) '
        'SELECT at, "user", action, detail, hash, seq, prev_hash FROM admin_log '
        f"WHERE id = {older}",
        f"UPDATE settings SET value = '\"0800-1111\"' WHERE key = '{PHONE}'",
    )
    code, output = verify_all()
    assert code == 1, output
    assert f"een kopie van de oudere beheerlogregel {older}" in output
    assert organisation.current()[PHONE] == "0800-2222"


def test_a_duplicated_line_is_named(two_phones, checkpoint):
    take_checkpoint(checkpoint)
    with store.unit_of_work() as session:
        newest = session.execute(text("SELECT max(id) FROM admin_log")).scalar()
    intrude(COPY.format(row=newest))
    code, output = verify_all()
    assert code == 1, output
    assert f"beheerlogregel {newest + 1} is dubbel: dezelfde regel als beheerlogregel {newest}" in output


def test_two_swapped_lines_are_named_and_roll_nothing_back(two_phones, checkpoint, db_url):
    take_checkpoint(checkpoint)
    older, newer = two_phones[-2:]
    bypass(
        db_url,
        f"UPDATE admin_log SET id = -1 WHERE id = {older}",
        f"UPDATE admin_log SET id = {older} WHERE id = {newer}",
        f"UPDATE admin_log SET id = {newer} WHERE id = -1",
    )
    code, output = verify_all()
    assert code == 1, output
    assert f"beheerlogregel {newer} (positie " in output
    assert "de volgorde van het beheerlog is veranderd (regels verwisseld of verplaatst)" in output
    assert organisation.current()[PHONE] == "0800-2222"  # the newer change is still the newer


def test_a_removed_line_is_named_as_a_gap(two_phones, checkpoint, db_url):
    take_checkpoint(checkpoint)
    with store.unit_of_work() as session:
        row, seq = session.execute(text(f"SELECT id, seq FROM admin_log WHERE id = {two_phones[-2]}")).one()
    bypass(db_url, f"DELETE FROM admin_log WHERE id = {row}")
    code, output = verify_all()
    assert code == 1, output
    assert f"positie {seq} van het beheerlog ontbreekt (regel verwijderd)" in output


def test_an_existing_admin_log_is_chained_by_the_migration(tmp_path, monkeypatch):
    """A database from before 0018 (lines hashed over their content only) migrates: its lines
    keep their hashes, a first chained line counts them, verify passes, and a legacy line
    replayed afterwards is named and rolls nothing back. SQLite: the migration is the same
    SQL on PostgreSQL."""
    from alembic import command
    from sqlalchemy import create_engine

    from engine import audit, schema

    url = f"sqlite:///{tmp_path / 'oud.sqlite'}"
    monkeypatch.setenv("MELDCODE_DATABASE_URL", url)
    monkeypatch.setenv("MELDCODE_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    command.upgrade(schema.alembic_config(url), "0017")
    engine = create_engine(url)
    with engine.begin() as conn:  # as the release before 0018 wrote them
        for phone in ("0800-1111", "0800-2222"):
            conn.execute(
                text(
                    f"INSERT INTO settings (key, value) VALUES ('{PHONE}', '\"{phone}\"') "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                )
            )
            audit.log_admin(conn, "bh", "settings_changed", {"settings": {PHONE: phone}})
    engine.dispose()
    schema.upgrade(url)
    try:
        with store.unit_of_work() as session:
            lines = session.execute(text("SELECT id, action, seq, detail FROM admin_log ORDER BY id")).all()
        assert [line.seq for line in lines[:-1]] == [None] * (len(lines) - 1)
        assert lines[-1].action == "admin_log_chained" and lines[-1].seq == 1
        assert verify_all()[0] == 0
        older = [line.id for line in lines if line.action == "settings_changed"][0]
        intrude(COPY.format(row=older), f"UPDATE settings SET value = '\"0800-1111\"' WHERE key = '{PHONE}'")
        code, output = verify_all()
        assert code == 1, output
        assert f"een kopie van de oudere beheerlogregel {older}" in output
        assert organisation.current()[PHONE] == "0800-2222"
    finally:
        store.dispose_engines()
