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
from tests.helpers import cli, verify_all

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
    # task V point 1: a well-formed hash that is not the entry's own (that of another entry)
    "other_hash": (
        "UPDATE log_entries SET entry_hash = (SELECT entry_hash FROM log_entries WHERE idx = 4) "
        "WHERE idx = 3",
        True,
        "logboekregel 3 (tabel log_entries) klopt niet: ",
    ),
}

# name: (SQL as for DAMAGE, what is said with the head record kept, and with it gone), each
# with {last}: the index of the newest entry, {event}: that of the newest event
LATER_DAMAGE = {
    # the newest entry removed: its row is in no entry, and the head record counts it
    "last_removed": (
        "DELETE FROM log_entries WHERE idx = {last}",
        # one entry: in the singular (finding: "logboekregels 47 tot en met 47 ... ontbreken")
        "logboekregel {last} (tabel log_entries) ontbreekt; de sequencer gaf haar tot ",
        # its place is not named: verify's own access-log lines took it since (no head record
        # to stop the sequencer)
        "staat niet in het logboek (buiten de applicatie toegevoegd, of de wachtrij van het "
        "logboek is bewerkt); de logboekregel ervan is verwijderd of er nooit geweest",
    ),
    # the newest event's own hash replaced by another well-formed one: its entry fits it no more
    "row_hash_replaced": (
        "UPDATE history_events SET hash = (SELECT entry_hash FROM log_entries WHERE idx = 0) "
        "WHERE id = (SELECT row_id FROM log_entries WHERE kind = 'event' AND idx = {event})",
        "logboekregel {event} (tabel log_entries) klopt niet: gebeurtenis ",
        "logboekregel {event} (tabel log_entries) klopt niet: gebeurtenis ",
    ),
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
            conn.execute("DROP TRIGGER IF EXISTS history_events_no_update")
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


@pytest.mark.parametrize("head_record", ["kept", "gone"])
@pytest.mark.parametrize("damage", list(LATER_DAMAGE))
def test_a_checkpoint_over_a_removed_or_unfitting_entry_is_refused_naming_it(
    db_url, people, tmp_path, damage, head_record
):
    """Task V point 1: the newest entry removed, or an entry whose keyed hash is not that of
    its row, as verify names them. The old code refused with the head record only by the head
    (exit 2, no entry named) and without it signed the log (exit 0)."""
    for i in range(3):
        cases.start_case(people["mw"], {"client_ref": f"cp-{i}"})
    translog.sequence(db_url)
    with store.unit_of_work(url=db_url) as session:
        event = session.execute(text(
            "SELECT max(idx) FROM log_entries WHERE kind = 'event'")).scalar()
        last = session.execute(text("SELECT max(idx) FROM log_entries")).scalar()
    sql, said_kept, said_gone = (part.format(last=last, event=event)
                                 for part in LATER_DAMAGE[damage])
    _plant(db_url, sql)
    if head_record == "gone":
        log_head.path_for(store.get_engine(db_url)).unlink()
    code, report = verify_all()
    assert code == 1, report  # verify calls the log damaged: so must checkpoint
    folder = tmp_path / "controlepunten"
    folder.mkdir()
    result = cli("checkpoint", "-o", str(folder / "controlepunt.json"))
    assert result.exit_code == 1, result.output
    assert (said_kept if head_record == "kept" else said_gone) in result.output, result.output
    assert list(folder.iterdir()) == []


def test_a_sound_log_is_still_signed(db_url, people, tmp_path):
    cases.start_case(people["mw"], {"client_ref": "cp-goed"})
    target = tmp_path / "controlepunt.json"
    result = cli("checkpoint", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.exists()


def test_an_admin_entry_that_does_not_fit_is_named_without_a_doubled_logboek(db_url, people, tmp_path):
    """An admin-log entry is a problem of the log as a whole, which verify lists as "logboek:
    ..."; the checkpoint's line already names the entry and read "klopt niet: logboek:
    beheerlogregel 4 ..."."""
    translog.sequence(db_url)
    with store.unit_of_work(url=db_url) as session:
        admin = session.execute(text("SELECT max(idx) FROM log_entries WHERE kind = 'admin'")).scalar()
    assert admin is not None
    _plant(
        db_url,
        "UPDATE log_entries SET entry_hash = (SELECT entry_hash FROM log_entries WHERE idx = 0) "
        f"WHERE idx = {admin}",
    )
    result = cli("checkpoint", "-o", str(tmp_path / "controlepunt.json"))
    assert result.exit_code == 1, result.output
    said = f"logboekregel {admin} (tabel log_entries) klopt niet: beheerlogregel "
    assert said in result.output, result.output
    assert "logboek: " not in result.output


def test_an_entry_at_a_negative_index_is_named_as_such(db_url, people, tmp_path):
    """An entry moved to index -1: the checkpoint said "logboekregel 0 ontbreekt" (the first
    index it expected) and verify "de posities 0 tot en met -2 ontbreken". Now both say the
    entry stands at a negative position, and verify names the place it left, in the singular."""
    for i in range(3):
        cases.start_case(people["mw"], {"client_ref": f"cp-{i}"})
    translog.sequence(db_url)
    _plant(db_url, f"UPDATE log_entries SET idx = -1 WHERE idx = {PLANTED}")
    negative = (
        "een logboekregel (tabel log_entries) staat op positie -1: een negatieve positie is geen "
        "plaats in het logboek"
    )
    result = cli("checkpoint", "-o", str(tmp_path / "controlepunt.json"))
    assert result.exit_code == 1, result.output
    assert f"geen controlepunt geschreven: {negative}" in result.output, result.output
    assert "ontbreekt" not in result.output
    code, report = verify_all()
    assert code == 1, report
    assert negative in report, report
    assert f"positie {PLANTED} ontbreekt (regel uit het logboek verwijderd)" in report, report
    assert "tot en met" not in report, report
