"""`meldcode checkpoint` never signs a log that verify reports as damaged in a way that changes
the tree (task U point 3): an entry whose entry_hash is no hash ('zz', a NUL, other than
ASCII, bytes that are no UTF-8) was signed with that leaf as b"" (merkle.leaf_of), an entry
removed (a gap in the indexes) was left out of the tree. Now the command refuses: exit 1, a
Dutch line naming the entry's index, no file written. SQLite and PostgreSQL, where the
database can hold the value (PostgreSQL refuses a NUL and bytes that are no UTF-8 in text).
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from engine import cases, log_head, store, translog
from tests.helpers import cli

PLANTED = 3  # the entry damaged (the brief's example: WHERE idx=3)

# name: (SQL that damages entry PLANTED, whether PostgreSQL can hold it, what is said)
DAMAGE = {
    "no_hex": (
        "UPDATE log_entries SET entry_hash = 'zz' WHERE idx = 3",
        True,
        "logboekregel 3 (tabel log_entries) heeft geen geldige hash",
    ),
    "nul": (
        "UPDATE log_entries SET entry_hash = substr(entry_hash, 1, 63) || char(0) WHERE idx = 3",
        False,
        "logboekregel 3 (tabel log_entries) heeft geen geldige hash",
    ),
    "non_ascii": (
        "UPDATE log_entries SET entry_hash = repeat('é', 64) WHERE idx = 3",
        True,
        "logboekregel 3 (tabel log_entries) heeft geen geldige hash",
    ),
    "no_utf8": (
        "UPDATE log_entries SET entry_hash = CAST(X'ff00ff' AS TEXT) WHERE idx = 3",
        False,
        "logboekregel 3 (tabel log_entries) heeft geen geldige hash",
    ),
    "gap": ("DELETE FROM log_entries WHERE idx = 3", True, "logboekregel 3 (tabel log_entries) ontbreekt"),
}


def _plant(url: str, sql: str) -> None:
    """SQL as an intruder with full database access runs it: the log's append-only triggers
    out of the way (SQLite: dropped; PostgreSQL: the replica role fires none)."""
    store.dispose_engines()
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.execute("DROP TRIGGER IF EXISTS log_entries_no_update")
            conn.execute("DROP TRIGGER IF EXISTS log_entries_no_delete")
            conn.execute(sql.replace("repeat('é', 64)", "'" + "é" * 64 + "'"))
        finally:
            conn.close()
        return
    with store.unit_of_work(write=True, url=url) as session:
        session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(text(sql))


@pytest.mark.parametrize("head_record", ["kept", "gone"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_checkpoint_over_a_damaged_entry_is_refused_naming_it(
    db_url, people, tmp_path, damage, head_record
):
    """With the sequencer's head record (engine/log_head.py) the old code refused, exit 2,
    without naming the entry; without one (another machine, the record lost) it signed."""
    sql, postgresql_holds_it, said = DAMAGE[damage]
    if not db_url.startswith("sqlite") and not postgresql_holds_it:
        pytest.skip("PostgreSQL refuses this value in a text column")
    for i in range(3):  # a case start writes an event and an access-log line: 6 entries
        cases.start_case(people["mw"], {"client_ref": f"cp-{i}"})
    translog.sequence(db_url)
    _plant(db_url, sql)
    if head_record == "gone":
        log_head.path_for(store.get_engine(db_url)).unlink()
    folder = tmp_path / "controlepunten"
    folder.mkdir()
    result = cli("checkpoint", "-o", str(folder / "controlepunt.json"))
    assert result.exit_code == 1, result.output
    assert said in result.output, result.output
    assert "Traceback" not in result.output
    assert list(folder.iterdir()) == []  # nothing written, no temporary file either


def test_a_sound_log_is_still_signed(db_url, people, tmp_path):
    cases.start_case(people["mw"], {"client_ref": "cp-goed"})
    target = tmp_path / "controlepunt.json"
    result = cli("checkpoint", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.exists()
