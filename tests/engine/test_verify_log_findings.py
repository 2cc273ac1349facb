"""What `meldcode verify --all` says about rows outside a case and across cases (issue 11
points 1 and 6, CONTRACT section 5), on SQLite and PostgreSQL where the database can hold
the value (PostgreSQL's own column types refuse invalid JSON or a text as a time or an id,
but hold 'infinity' as a time, which no Python datetime can be):

- a malformed row outside any case (an admin-log row, an access-log line of no case, a log
  entry whose case is no number) is a problem of the log that names the row (table and id),
  never a crash: every case is still checked and verify exits 1;
- a finding says what happened in Dutch: case rows swapped name both cases, a queue entry
  for a row that never existed is called that (not "verwijderd"), an entry of a kind the
  log does not know is worded too."""

from __future__ import annotations

import re
import sqlite3

import pytest
from sqlalchemy import text

from engine import audit, cases, store, translog
from tests.helpers import cli, finished_case

# Python's own words that must never reach the operator (a traceback, an English reason).
PYTHON_WORDS = ("Traceback", "Error", "Expecting", "Invalid isoformat", "invalid literal")


def tamper(url: str, sql: str, **params) -> None:
    """Run SQL as an intruder with full database access would, the append-only triggers and
    foreign keys out of the way. Rows written so far are sequenced first, as a running
    server's sequencer does within a second of each write."""
    translog.sequence(url)
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND "
                "(name LIKE '%_no_update' OR name LIKE '%_no_delete')"
            ).fetchall():
                conn.execute(f"DROP TRIGGER {name}")
            conn.execute(sql, params)
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute("SET session_replication_role = replica")  # no triggers, no FKs
            conn.execute(re.sub(r":(\w+)", r"%(\1)s", sql), params)


def _first_id(url: str, sql: str) -> int:
    with store.unit_of_work(url=url) as session:
        return session.execute(text(sql)).scalar_one()


def _admin_row(url: str) -> int:
    with store.unit_of_work(write=True, url=url) as session:
        audit.log_admin(session, "beheerder", "setting_changed", {"name": "x"})
    return _first_id(url, "SELECT max(id) FROM admin_log")


def _system_access_row(people, url: str) -> int:
    # A refused case start is an access-log line of no case (a leidinggevende-only team...):
    # an auditor may not start a case.
    with pytest.raises(Exception):  # noqa: B017 - Denied, whatever its class
        cases.start_case(people["aud"], {"client_ref": "geweigerd"})
    return _first_id(url, "SELECT max(id) FROM access_log WHERE case_id IS NULL")


def _log_entry(url: str) -> int:
    translog.sequence(url)
    return _first_id(url, "SELECT min(idx) FROM log_entries WHERE case_id IS NOT NULL")


ADMIN = "beheerlogregel {row} (tabel admin_log) is onleesbaar: "
SYSTEM = "toegangslogregel {row} (tabel access_log) is onleesbaar: "
OUT_OF_RANGE = "at: een waarde buiten het bereik ('infinity')"
# name: (the row to damage, SQL, what verify says on SQLite and on PostgreSQL (None: the
# database refuses the value))
MALFORMED = {
    "admin-detail-json": (
        _admin_row,
        "UPDATE admin_log SET detail = '{kapot' WHERE id = :row",
        ADMIN + "detail: geen geldige JSON (regel 1, kolom 2)",
        None,
    ),
    "admin-at": (
        _admin_row,
        "UPDATE admin_log SET at = 'gisteren' WHERE id = :row",
        ADMIN + "at: geen geldig tijdstip",
        None,
    ),
    "admin-at-infinity": (
        _admin_row,
        "UPDATE admin_log SET at = 'infinity' WHERE id = :row",
        ADMIN + "at: geen geldig tijdstip",
        ADMIN + OUT_OF_RANGE,
    ),
    "system-access-at": (
        _system_access_row,
        "UPDATE access_log SET at = 'xx' WHERE id = :row",
        SYSTEM + "at: geen geldig tijdstip",
        None,
    ),
    "system-access-at-infinity": (
        _system_access_row,
        "UPDATE access_log SET at = 'infinity' WHERE id = :row",
        SYSTEM + "at: geen geldig tijdstip",
        SYSTEM + OUT_OF_RANGE,
    ),
    "log-entry-case": (
        _log_entry,
        "UPDATE log_entries SET case_id = 'zeven' WHERE idx = :row",
        "logboekregel {row} (tabel log_entries) noemt casus 'zeven', wat geen casusnummer is",
        None,
    ),
}


def _cases(people) -> list[int]:
    ids = []
    for ref in ("eerste", "tweede"):
        case = cases.start_case(people["mw"], {"client_ref": ref})
        ids.append(case["id"])
    return ids


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_a_malformed_row_outside_a_case_is_a_problem_of_the_log(people, db_url, kind):
    make, sql, on_sqlite, on_postgresql = MALFORMED[kind]
    named = on_sqlite if db_url.startswith("sqlite") else on_postgresql
    if named is None:
        pytest.skip("PostgreSQL's own column types refuse this value")
    ids = _cases(people)
    row = make(people, db_url) if make is _system_access_row else make(db_url)
    tamper(db_url, sql, row=row)
    result = cli("verify", "--all")
    out = result.output
    assert result.exit_code == 1, out
    for case_id in ids:  # every case is still checked
        assert f"casus {case_id}: " in out, out
    assert "logboek: NIET IN ORDE" in out, out
    problems = out.split("logboek: NIET IN ORDE")[1]
    assert named.format(row=row) in problems, out
    assert not any(word in out for word in PYTHON_WORDS), out
    assert f"{len(ids)} casus(sen) gecontroleerd" in out, out


# A log entry's text column holding bytes that are no UTF-8 (SQLite keeps them): verify crashed
# with the driver's decoding error (found by a tester); it is a finding of the entry's case.
ENTRY_BYTES = {
    "entry_hash": "gebeurtenis 1 of logboekpositie {row} is gewijzigd",
    "kind": "logboekpositie {row} staat voor regel 1 van een onbekende soort ('\ufffd\\x00\ufffd')",
}


@pytest.mark.parametrize("column", list(ENTRY_BYTES))
def test_a_log_entry_with_bytes_that_are_no_text_is_a_finding(people, db_url, column):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL refuses bytes that are no UTF-8 in a text column")
    ids = _cases(people)
    row = _log_entry(db_url)
    tamper(db_url, f"UPDATE log_entries SET {column} = CAST(X'ff00ff' AS TEXT) WHERE idx = :row",
           row=row)
    result = cli("verify", "--all", "--jobs", "2")
    out = result.output
    assert result.exit_code == 1, out
    for case_id in ids:
        assert f"casus {case_id}: " in out, out
    assert ENTRY_BYTES[column].format(row=row) in out, out
    assert "\x00" not in out.replace("\\x00", ""), out  # the NUL is shown, never printed
    assert not any(word in out for word in PYTHON_WORDS), out


# --- the wording of findings ---------------------------------------------------------------


def case_block(output: str, case_id: int) -> str:
    """The lines verify printed about one case."""
    lines = output.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"casus {case_id}:")))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("  - "):
            break
        block.append(line)
    return "\n".join(block)


# "verwacht 19 gebeurtenissen maar er zijn er 19": a count that is no difference
SAME_COUNT = re.compile(
    r"verwacht (\d+) (gebeurtenissen|regels in het toegangslog) maar er "
    r"zijn er \1\b"
)


def test_case_rows_swapped_name_both_cases(people, db_url):
    a, b = (finished_case(people)["id"] for _ in range(2))
    for sql in (
        "UPDATE cases SET id = -1 WHERE id = :a",
        "UPDATE cases SET id = :a WHERE id = :b",
        "UPDATE cases SET id = :b WHERE id = -1",
    ):
        tamper(db_url, sql, a=a, b=b)
    result = cli("verify", "--all")
    assert result.exit_code == 1, result.output
    for case, other in ((a, b), (b, a)):
        block = case_block(result.output, case)
        assert not SAME_COUNT.search(block), block
        assert (
            f"de kop van casus {case} verzegelt de geschiedenis en het toegangslog van casus "
            f"{other}: de casussen {case} en {other} zijn verwisseld"
        ) in block, block
        assert "19 gebeurtenissen van de casus zijn niet die welke haar kop verzegelde" in block, block


def test_events_swapped_between_cases_name_both_cases(people, db_url):
    a, b = (finished_case(people)["id"] for _ in range(2))
    first = _first_id(db_url, f"SELECT min(id) FROM history_events WHERE case_id = {a}")
    for sql in (
        "UPDATE history_events SET case_id = -1 WHERE case_id = :a",
        "UPDATE history_events SET case_id = :a WHERE case_id = :b",
        "UPDATE history_events SET case_id = :b WHERE case_id = -1",
    ):
        tamper(db_url, sql, a=a, b=b)
    result = cli("verify", "--all")
    assert result.exit_code == 1, result.output
    assert (
        f"gebeurtenis {first} hoort volgens het logboek bij casus {a}, maar staat nu bij casus {b}"
    ) in case_block(result.output, a), result.output
    assert "naar een andere casus verplaatst" not in result.output


def test_a_queue_entry_for_a_row_that_never_existed(people, db_url):
    case = finished_case(people)["id"]
    tamper(db_url, "INSERT INTO log_queue (kind, row_id, case_id) VALUES ('event', 99999, :c)", c=case)
    result = cli("verify", "--all")
    assert result.exit_code == 1, result.output
    block = case_block(result.output, case)
    assert (
        "de wachtrij van het logboek had een regel voor gebeurtenis 99999, die niet bestond "
        "toen die regel een plaats kreeg"
    ) in block, block
    assert "verwijderd" not in block, block


def test_an_entry_of_an_unknown_kind_is_worded_in_dutch(people, db_url):
    finished_case(people)
    tamper(db_url, "INSERT INTO log_queue (kind, row_id, case_id) VALUES ('raar', 5, NULL)")
    result = cli("verify", "--all")
    assert result.exit_code == 1, result.output
    problems = result.output.split("logboek: NIET IN ORDE")[1]
    assert re.search(
        r"logboekpositie \d+ staat voor regel 5 van een onbekende soort \(raar\): "
        r"het logboek kent alleen gebeurtenissen, toegangslogregels en "
        r"beheerlogregels",
        problems,
    ), problems
    assert "raar 5" not in problems, problems
