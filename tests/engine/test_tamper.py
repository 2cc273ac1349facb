"""Every kind of tampering of issue 11 is caught by `meldcode verify`, on SQLite and PostgreSQL.

The intruder has the database open (not the history key, not the signing key): the
append-only triggers and foreign keys are bypassed by hand, as such a person would.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text

from engine import audit, cases, chains, log_head, merkle, models, store, tasks, translog, verification
from engine.checkpoints import signed_text
from tests.conftest import People
from tests.helpers import actor_of, from_scene, where_taken
from tests.scenarios.paths import LONGEST, SCENARIOS, fill
from webui.cli import main as meldcode


def cli(*args: str):
    return CliRunner().invoke(meldcode, list(args), catch_exceptions=False)


def walk(people, case, scenario=LONGEST, stop_before: str | None = None):
    while case["tasks"]:
        who = actor_of(people, case["tasks"][0])
        task = tasks.get_task(who, case["tasks"][0]["id"])
        if task["step"] == stop_before:
            return case
        case = tasks.complete_task(who, task["id"],
                                     fill(task["form"]["fields"], scenario.decisions))
    return case


def closed_case(people, ref="dossier"):
    return walk(people, cases.start_case(people["mw"], {"client_ref": ref, "reason": "zorg"}))


def tamper(url: str, *statements: str, **params) -> None:
    """Run SQL as an intruder with full database access: no triggers, no foreign keys.

    The rows written so far are sequenced first, as a running server's sequencer does within
    a second of each write (the intruder comes after that)."""
    translog.sequence(url)
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND "
                "(name LIKE '%_no_update' OR name LIKE '%_no_delete')")]
            for name in names:
                conn.execute(f"DROP TRIGGER {name}")
            conn.execute("BEGIN")
            for sql in statements:
                conn.execute(sql, {k: v for k, v in params.items() if f":{k}" in sql})
            conn.execute("COMMIT")
        finally:
            conn.close()
    else:
        import psycopg
        from psycopg.types.json import Json

        params = {k: Json(v) if isinstance(v, dict | list) else v for k, v in params.items()}
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            # Skips the append-only and queue triggers and the foreign keys.
            conn.execute("SET session_replication_role = replica")
            for sql in statements:
                conn.execute(_pg(sql), {k: v for k, v in params.items() if f":{k}" in sql})


def _pg(sql: str) -> str:
    import re

    return re.sub(r":(\w+)", r"%(\1)s", sql)


def read(url, sql, **params):
    with store.unit_of_work(url=url) as session:
        return session.execute(text(sql), params).all()


def verify_all(*extra):
    result = cli("verify", "--all", *extra)
    return result.exit_code, result.output


def case_block(output: str, case_id: int) -> str:
    """The lines verify printed about one case."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"casus {case_id}:"))
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("  - "):
            break
        block.append(line)
    return "\n".join(block)


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    monkeypatch.setenv("MELDCODE_CHECKPOINT_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def scenes() -> dict:
    """The scenes of this module as built once (tests/helpers.py from_scene)."""
    return {}


def _two_closed_cases(url):
    people = People(url)
    return people, closed_case(people, "eerste"), closed_case(people, "tweede")


@pytest.fixture
def two_closed_cases(db_url, scenes, tmp_path_factory):
    """The People and two cases walked to their end ('eerste', 'tweede'), not yet sequenced:
    the first test of each database kind walks them (seconds), every later one gets a copy
    of that database (from_scene); each test starts from it unchanged."""
    return from_scene(scenes, "twee-casussen", db_url, tmp_path_factory, _two_closed_cases)


# --- untouched ---------------------------------------------------------------------------------


def test_untouched_store_verifies_with_and_without_checkpoint(people, db_url, checkpoints):
    a, b = closed_case(people, "A"), cases.start_case(people["mw"], {"client_ref": "B"})
    cases.get_case(people["mw"], b["id"])
    audit_row = "beheer"
    with store.unit_of_work(write=True, url=db_url) as session:
        audit.log_admin(session, "bh", "user_created", {"name": audit_row})
    code, out = verify_all()
    assert code == 0, out
    assert "geen controlepunt" in out
    result = cli("checkpoint")
    assert result.exit_code == 0, result.output
    written = list(checkpoints.glob("checkpoint-*.json"))
    assert len(written) == 1
    checkpoint = json.loads(written[0].read_text())
    assert set(checkpoint) == {"tree_size", "root", "signature", "at"}
    assert checkpoint["tree_size"] > 0
    code, out = verify_all()  # the newest checkpoint in MELDCODE_CHECKPOINT_DIR
    assert code == 0, out
    assert f"controlepunt van {checkpoint['at']}" in out
    assert f"casus {a['id']}: in orde" in out and f"casus {b['id']}: in orde" in out


def test_admin_log_is_kept_and_read_back_oldest_first(people, db_url):
    with store.unit_of_work(write=True, url=db_url) as session:
        audit.log_admin(session, "bh", "user_created", {"name": "x", "roles": ["medewerker"]})
        audit.log_admin(session, "bh", "token_revoked", {"name": "x", "token": 3})
    with store.unit_of_work(url=db_url) as session:
        rows = audit.admin_log(session)[-2:]
        assert len(audit.admin_log(session, limit=1)) == 1
    assert [(r["user"], r["action"], r["detail"]) for r in rows] == [
        ("bh", "user_created", {"name": "x", "roles": ["medewerker"]}),
        ("bh", "token_revoked", {"name": "x", "token": 3})]
    assert rows[0]["at"].endswith("Z")
    translog.sequence(db_url)
    admin_rows = read(db_url, "SELECT count(*) FROM admin_log")[0][0]
    logged = read(db_url, "SELECT count(*) FROM log_entries WHERE kind = 'admin'")[0][0]
    assert admin_rows == logged >= 2
    tamper(db_url, "UPDATE admin_log SET detail = :d WHERE action = 'token_revoked'",
           d=json.dumps({"name": "y", "token": 3}))
    code, out = verify_all()
    assert code == 1 and "beheerlogregel" in out, out


def test_the_log_refuses_updates_and_deletes(people, db_url):
    from sqlalchemy.exc import DBAPIError

    cases.start_case(people["mw"], {"client_ref": "x"})
    with store.unit_of_work(write=True, url=db_url) as session:
        audit.log_admin(session, "bh", "setting_changed", {"key": "k"})
    translog.sequence(db_url)
    for sql in ("UPDATE log_entries SET kind = 'x'", "DELETE FROM log_entries",
                "UPDATE admin_log SET action = 'x'", "DELETE FROM admin_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            with store.unit_of_work(write=True, url=db_url) as session:
                session.execute(text(sql))


def test_a_server_process_sequences_its_writes_in_the_background(people, db_url):
    """Writers only queue their rows; the process's sequencer thread gives them their place
    in the log shortly after the commit, outside the writer's transaction."""
    queued = "SELECT count(*) FROM log_queue"
    translog.sequence(db_url)
    sequencer = translog.start_sequencer(db_url, delay=0.05, period=30)
    try:
        assert translog.start_sequencer(db_url) is sequencer  # one per process and database
        cases.start_case(people["mw"], {"client_ref": "achtergrond"})
        deadline = time.monotonic() + 10
        while read(db_url, queued)[0][0] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert read(db_url, queued)[0][0] == 0
        assert read(db_url, "SELECT count(*) FROM log_entries")[0][0] > 0
    finally:
        sequencer.stop()
    cases.start_case(people["mw"], {"client_ref": "geen-sequencer"})
    waiting = read(db_url, queued)[0][0]
    assert waiting > 0  # without a sequencer, rows wait for verify (or a checkpoint)
    logged = read(db_url, "SELECT count(*) FROM log_entries")[0][0]
    code, out = verify_all()  # sequences them first (its own read logs queue anew)
    assert code == 0, out
    assert read(db_url, "SELECT count(*) FROM log_entries")[0][0] >= logged + waiting


def test_tree_is_rfc9162():
    """RFC 9162 section 2.1.1, by its definition: split at the largest power of two."""
    import hashlib

    def mth(leaves):
        if not leaves:
            return hashlib.sha256(b"").digest()
        if len(leaves) == 1:
            return hashlib.sha256(b"\x00" + leaves[0]).digest()
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()

    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(37)]
    for n in range(38):
        assert merkle.root_of([h.hex() for h in leaves[:n]]) == mth(leaves[:n]).hex()


# --- a case row deleted ------------------------------------------------------------------------


@pytest.mark.parametrize("with_rows", [False, True], ids=["row-only", "with-events-and-access"])
def test_deleted_case_row(two_closed_cases, db_url, with_rows):
    _people, keep, gone = two_closed_cases
    statements = ["DELETE FROM tasks WHERE case_id = :c", "DELETE FROM case_shares WHERE case_id = :c"]
    if with_rows:
        statements += ["DELETE FROM history_events WHERE case_id = :c",
                       "DELETE FROM access_log WHERE case_id = :c"]
    tamper(db_url, *statements, "DELETE FROM cases WHERE id = :c", c=gone["id"])
    code, out = verify_all()
    assert code == 1, out
    assert "de casus is verwijderd" in case_block(out, gone["id"])
    assert f"casus {keep['id']}: in orde" in out


# --- the case header ---------------------------------------------------------------------------


@pytest.mark.parametrize("column,value", [
    ("client_ref", "iemand anders"), ("reason", "andere reden"),
    ("started_at", "2001-01-01 00:00:00"), ("closed_at", "2001-01-02 00:00:00"),
])
def test_changed_header_field(two_closed_cases, db_url, column, value):
    people, case, other = two_closed_cases
    tamper(db_url, f"UPDATE cases SET {column} = :v WHERE id = :c", v=value, c=case["id"])
    code, out = verify_all()
    assert code == 1, out
    assert "kop van de casus" in case_block(out, case["id"])
    assert f"casus {other['id']}: in orde" in out
    assert not verification.verify(people["aud"], case["id"])["ok"]


@pytest.mark.parametrize("column", ["client_ref", "reason", "started_at", "closed_at"])
def test_header_field_swapped_between_cases(two_closed_cases, db_url, column):
    _people, a, b = two_closed_cases
    if column == "reason":
        tamper(db_url, "UPDATE cases SET reason = 'een andere zorg' WHERE id = :c", c=b["id"])
        with store.unit_of_work(write=True, url=db_url) as session:  # an honest, sealed header
            audit.seal_case(session, b["id"])
    (va,), (vb,) = (read(db_url, f"SELECT {column} FROM cases WHERE id = :c", c=x["id"])[0]
                    for x in (a, b))
    assert va != vb
    tamper(db_url, f"UPDATE cases SET {column} = :v WHERE id = :c", v=vb, c=a["id"])
    tamper(db_url, f"UPDATE cases SET {column} = :v WHERE id = :c", v=va, c=b["id"])
    code, out = verify_all()
    assert code == 1, out
    for x in (a, b):
        assert "kop van de casus" in case_block(out, x["id"])


# --- access-log lines removed ------------------------------------------------------------------


@pytest.mark.parametrize("which", ["last", "last-two", "all"])
def test_access_lines_removed(people, db_url, which):
    case = closed_case(people)
    cases.get_case(people["mw"], case["id"])
    cases.get_case(people["mw"], case["id"])
    ids = [r.id for r in read(db_url, "SELECT id FROM access_log WHERE case_id = :c ORDER BY id",
                              c=case["id"])]
    doomed = {"last": ids[-1:], "last-two": ids[-2:], "all": ids}[which]
    tamper(db_url, *(f"DELETE FROM access_log WHERE id = {i}" for i in doomed))
    code, out = verify_all()
    assert code == 1, out
    block = case_block(out, case["id"])
    assert "toegangslog" in block
    assert not verification.verify(people["aud"], case["id"])["ok"]


@pytest.mark.parametrize("change", [
    "UPDATE access_log SET outcome = 'ok' WHERE id = :second",
    "UPDATE access_log SET \"user\" = 'aud' WHERE id = :second",
    "UPDATE access_log SET client_ref = 'X-1' WHERE id = :second",
], ids=["outcome", "user", "client-ref"])
def test_access_line_of_no_case_changed(people, db_url, change):
    """The NEN 7513 lines of no case (a refused case start) have a chain of their own: an
    edited line is caught, though no case's check reads it (break-it finding: exit 0)."""
    for _ in range(3):
        with pytest.raises(Exception):  # noqa: B017 - any refusal; the line is what counts
            cases.start_case(people["mw"], {"client_ref": "", "reason": "zorg"})
    ids = [r.id for r in read(db_url, "SELECT id FROM access_log WHERE case_id IS NULL "
                                      "ORDER BY id")]
    assert len(ids) >= 3
    code, out = verify_all()
    assert code == 0, out
    tamper(db_url, change, second=ids[1])
    code, out = verify_all()
    assert code == 1, out
    assert "toegangslog zonder casus: toegangslog regel 2: de inhoud is na het vastleggen " \
           "gewijzigd" in out


# --- the history's tail cut and the case row rewound -------------------------------------------


def _snapshot(url, case_id):
    case = [dict(r._mapping) for r in read(url, "SELECT * FROM cases WHERE id = :c", c=case_id)][0]
    tasks = [dict(r._mapping) for r in read(url, "SELECT * FROM tasks WHERE case_id = :c",
                                            c=case_id)]
    access = read(url, "SELECT max(id) FROM access_log WHERE case_id = :c", c=case_id)[0][0]
    return case, tasks, access


def _rewind(url, case_id, snapshot, drop_log_entries=False):
    """Put the case back as it was at the snapshot: later events and access lines removed,
    the case row and task rows restored to their old values (header hash included)."""
    case, tasks, access = snapshot
    statements = [
        "DELETE FROM history_events WHERE case_id = :c AND seq > :n",
        "DELETE FROM access_log WHERE case_id = :c AND id > :a",
        "DELETE FROM tasks WHERE case_id = :c",
    ]
    params = {"c": case_id, "n": case["event_count"], "a": access}
    if drop_log_entries:
        statements.append("DELETE FROM log_entries WHERE case_id = :c AND ("
                          "(kind = 'event' AND row_id NOT IN (SELECT id FROM history_events)) OR "
                          "(kind = 'access' AND row_id NOT IN (SELECT id FROM access_log)))")
    sets = ", ".join(f"{k} = :case_{k}" for k in case if k != "id")
    statements.append(f"UPDATE cases SET {sets} WHERE id = :c")
    params.update({f"case_{k}": v for k, v in case.items() if k != "id"})
    for n, task in enumerate(tasks):
        cols = ", ".join(task)
        vals = ", ".join(f":t{n}_{k}" for k in task)
        statements.append(f"INSERT INTO tasks ({cols}) VALUES ({vals})")
        params.update({f"t{n}_{k}": v for k, v in task.items()})
    tamper(url, *statements, **params)


def gemeld_case_with_snapshot(people, url):
    """A case that ends 'gemeld', and a snapshot of it while still open before melding_doen."""
    scenario = next(s for s in SCENARIOS if s.uitkomst == "gemeld" and "melding_doen" in s.steps)
    case = walk(people, cases.start_case(people["mw"], {"client_ref": "rewind"}), scenario,
                stop_before="melding_doen")
    assert case["status"] == "open"
    snapshot = _snapshot(url, case["id"])
    case = walk(people, case, scenario)
    assert case["status"] == "closed" and case["uitkomst"] == "gemeld", case["uitkomst"]
    return case, snapshot


def _gemeld(url):
    people = People(url)
    return people, *gemeld_case_with_snapshot(people, url)


@pytest.fixture
def gemeld(db_url, scenes, tmp_path_factory):
    """The People and gemeld_case_with_snapshot: walked by the first test of each database
    kind, a copy of its database for every later one (from_scene). Out: the People, the case
    and the snapshot."""
    return from_scene(scenes, "gemeld", db_url, tmp_path_factory, _gemeld)


def test_rewound_case_naive_is_caught(gemeld, db_url):
    """Tail cut, closed 'gemeld' case set open again by hand (no key: the header hash stays)."""
    _people, case, snapshot = gemeld
    old = snapshot[0]
    tamper(db_url, "DELETE FROM history_events WHERE case_id = :c AND seq > :n",
           "UPDATE cases SET status = 'open', closed_at = NULL, uitkomst = NULL, "
           "event_count = :n, last_hash = :h WHERE id = :c",
           c=case["id"], n=old["event_count"], h=old["last_hash"])
    code, out = verify_all()
    assert code == 1, out
    block = case_block(out, case["id"])
    assert "NIET IN ORDE" in block and "is verwijderd" in block, block
    with store.unit_of_work(url=db_url) as session:
        case_row = session.get(models.Case, case["id"])
        assert chains.check_header(case_row)  # the header names it too


def test_rewound_case_with_old_header_is_caught_by_the_log(gemeld, db_url):
    """Even with a complete copy of the case as it was (header hash included), the log still
    names the events and access lines that were cut."""
    people, case, snapshot = gemeld
    other = closed_case(people, "later")  # the cut entries are not the newest
    _rewind(db_url, case["id"], snapshot)
    with store.unit_of_work(url=db_url) as session:  # the case alone looks whole
        assert verification.verify_case(session, session.get(models.Case, case["id"])).ok
    code, out = verify_all()
    assert code == 1, out
    block = case_block(out, case["id"])
    assert "gebeurtenis" in block and "is verwijderd" in block, block
    assert f"casus {other['id']}: in orde" in out
    api = verification.verify(people["aud"], case["id"])
    assert not api["ok"] and any("is verwijderd" in p for p in api["problems"])


def test_rewound_case_with_its_log_entries_removed_leaves_a_gap(gemeld, db_url):
    people, case, snapshot = gemeld
    closed_case(people, "later")
    _rewind(db_url, case["id"], snapshot, drop_log_entries=True)
    code, out = verify_all()
    assert code == 1, out
    assert "ontbreken (regels uit het logboek verwijderd)" in out


def test_newest_entries_removed_seen_only_with_a_checkpoint(gemeld, db_url, checkpoints):
    """CONTRACT section 5: without a checkpoint only the removal of the newest entries can
    go unseen; with one, it is seen. The sequencer's own record of the head (outside the
    database) sees it too; a verify without that record (another machine) does not."""
    _people, case, snapshot = gemeld
    assert cli("checkpoint").exit_code == 0
    _rewind(db_url, case["id"], snapshot, drop_log_entries=True)
    kept = next(checkpoints.glob("checkpoint-*.json"))
    moved = kept.rename(kept.with_name("elders.json"))  # out of MELDCODE_CHECKPOINT_DIR's view
    code, out = verify_all()
    assert code == 1, out
    assert "de sequencer gaf" in out and "regels zijn verwijderd" in out, out
    head = log_head.path_for(store.get_engine(db_url))
    head.rename(head.with_name("elders-head.json"))  # a verify elsewhere, without the record
    code, out = verify_all()
    assert code == 0, out  # the documented limitation
    assert "geen controlepunt" in out
    code, out = verify_all("--checkpoint", str(moved))
    assert code == 1, out
    assert "controlepunt" in out and "NIET IN ORDE" in out


# --- checkpoints -------------------------------------------------------------------------------


def _checkpoint(tmp_path) -> tuple[Path, dict]:
    path = tmp_path / "cp.json"
    assert cli("checkpoint", "-o", str(path)).exit_code == 0
    return path, json.loads(path.read_text())


def test_altered_or_forged_checkpoint_is_refused(people, db_url, tmp_path):
    cases.start_case(people["mw"], {"client_ref": "x"})
    path, checkpoint = _checkpoint(tmp_path)
    assert verify_all("--checkpoint", str(path))[0] == 0
    for change in ({"tree_size": checkpoint["tree_size"] - 1},
                   {"root": "0" * 64},
                   {"at": "2000-01-01T00:00:00Z"},
                   {"signature": "AAAA"}):
        path.write_text(json.dumps({**checkpoint, **change}))
        code, out = verify_all("--checkpoint", str(path))
        assert code == 1 and "controlepunt geweigerd" in out, (change, out)
    path.write_text("{niet json")
    code, out = verify_all("--checkpoint", str(path))
    assert code == 1 and "controlepunt geweigerd" in out


def test_checkpoint_of_another_key_is_refused(people, db_url, tmp_path):
    import base64

    cases.start_case(people["mw"], {"client_ref": "x"})
    _path, checkpoint = _checkpoint(tmp_path)
    other = Ed25519PrivateKey.generate()
    forged = dict(checkpoint, signature=base64.b64encode(other.sign(signed_text(
        checkpoint["tree_size"], checkpoint["root"], checkpoint["at"]))).decode())
    path = tmp_path / "ander.json"
    path.write_text(json.dumps(forged))
    code, out = verify_all("--checkpoint", str(path))
    assert code == 1 and "andere sleutel" in out, out


def test_checkpoint_needs_a_place(people, db_url, monkeypatch):
    monkeypatch.delenv("MELDCODE_CHECKPOINT_DIR", raising=False)
    result = cli("checkpoint")
    assert result.exit_code == 2 and "MELDCODE_CHECKPOINT_DIR" in result.output


# --- malformed rows ----------------------------------------------------------------------------


MALFORMED = {
    "case-data-json": ("UPDATE cases SET data = '{niet json' WHERE id = :c", "sqlite"),
    "event-data-json": ("UPDATE history_events SET data = '[kapot' WHERE case_id = :c AND seq = 2",
                        "sqlite"),
    "event-time": ("UPDATE history_events SET at = 'gisteren' WHERE case_id = :c AND seq = 2",
                   "sqlite"),
    "case-started-at": ("UPDATE cases SET started_at = 'xx' WHERE id = :c", "sqlite"),
    "case-closed-at": ("UPDATE cases SET closed_at = 'xx' WHERE id = :c", "sqlite"),
    # SQLite keeps any bytes in a text column: a value that is no UTF-8 does not load at all.
    "case-ref-not-utf8": ("UPDATE cases SET client_ref = CAST(X'ff41' AS TEXT) WHERE id = :c",
                          "sqlite"),
    "case-reason-not-utf8": ("UPDATE cases SET reason = CAST(X'c3' AS TEXT) WHERE id = :c",
                             "sqlite"),
    "event-actor-not-utf8": ("UPDATE history_events SET actor = CAST(X'ff' AS TEXT) "
                             "WHERE case_id = :c AND seq = 2", "sqlite"),
    "unknown-version": ("UPDATE cases SET process_version = 999 WHERE id = :c", None),
    "unknown-owner": ("UPDATE cases SET owner_id = 999 WHERE id = :c", None),
    "task-without-completed-at": (
        "UPDATE tasks SET completed_at = NULL WHERE case_id = :c AND state = 'completed'", None),
}


def _three_closed_cases(url):
    people = People(url)
    return [closed_case(people, ref) for ref in ("voor", "kapot", "na")]


@pytest.fixture
def three_closed_cases(db_url, scenes, tmp_path_factory):
    """Three cases walked to their end ('voor', 'kapot', 'na'), as two_closed_cases."""
    return from_scene(scenes, "drie-casussen", db_url, tmp_path_factory, _three_closed_cases)


# each kind on SQLite, the kinds PostgreSQL's own column types take on PostgreSQL too
@where_taken({kind: only or "both" for kind, (_sql, only) in MALFORMED.items()})
def test_malformed_row_is_a_problem_of_its_case(three_closed_cases, db_url, kind):
    sql, _only = MALFORMED[kind]
    before, bad, after = three_closed_cases
    tamper(db_url, sql, c=bad["id"])
    code, out = verify_all()
    assert code == 1, out
    assert "NIET IN ORDE" in case_block(out, bad["id"])
    assert f"casus {before['id']}: in orde" in out and f"casus {after['id']}: in orde" in out
    assert "3 casus(sen) gecontroleerd, 1 niet in orde." in out
    # every case's verify read is in the access log, the malformed one's too where it can be
    logged = {r[0] for r in read(db_url, "SELECT case_id FROM access_log WHERE action = 'verify'")}
    assert {before["id"], after["id"]} <= logged


@where_taken({kind: MALFORMED[kind][1] for kind in ("case-started-at", "case-closed-at", "case-data-json")})
def test_malformed_case_row_verified_alone_and_over_the_api(two_closed_cases, db_url, client, kind):
    """`meldcode verify ID` and GET /api/v1/cases/{id}/verify report the malformed row as the
    case's problem, log the read, and never crash (no 500)."""
    sql, _only = MALFORMED[kind]
    people, good, bad = two_closed_cases
    tamper(db_url, sql, c=bad["id"])
    result = cli("verify", str(bad["id"]), str(good["id"]))
    assert result.exit_code == 1, result.output
    assert "NIET IN ORDE" in case_block(result.output, bad["id"])
    assert f"casus {good['id']}: in orde" in result.output
    assert "2 casus(sen) gecontroleerd, 1 niet in orde." in result.output
    r = client.get(f"/api/v1/cases/{bad['id']}/verify", headers=people.auth("aud"))
    assert r.status_code == 200, r.data
    assert r.json["ok"] is False and r.json["problems"], r.json
    logged = read(db_url, "SELECT outcome FROM access_log WHERE action = 'verify' "
                          "AND case_id = :c", c=bad["id"])
    assert [row[0] for row in logged] == ["ok", "ok"]


def test_a_data_difference_names_the_keys_never_the_content(people, db_url):
    """Stored data that differs from its replay: verify names the keys that differ (and for
    the completed steps where the lists part), never dumps the client's recorded data."""
    case = closed_case(people, "inhoud")
    with store.unit_of_work() as session:
        row = session.get(models.Case, case["id"])
        data, steps = dict(row.data), list(row.completed_steps)
    changed = sorted(data)[0]
    data[changed] = "GEHEIM " * 500
    data["extra_veld"] = "GEHEIM extra"
    steps = steps[:2] + ["verzonnen_stap"] + steps[2:]
    values = ({"d": data, "s": steps} if not db_url.startswith("sqlite")
              else {"d": json.dumps(data), "s": json.dumps(steps)})
    tamper(db_url, "UPDATE cases SET data = :d, completed_steps = :s WHERE id = :c",
           c=case["id"], **values)
    code, out = verify_all()
    assert code == 1, out
    block = case_block(out, case["id"])
    assert "GEHEIM" not in out, block
    assert repr(changed) in block and "'extra_veld'" in block, block
    assert "eerste verschil op plaats 3" in block and "'verzonnen_stap'" in block, block
    assert len(block) < 1000, block


# --- verify never blocks writers ---------------------------------------------------------------


@pytest.mark.alone
def test_verify_all_holds_no_write_lock_while_it_runs(people, db_url, monkeypatch):
    """A case starts while verify --all is busy, without waiting for it to finish. Verify
    checks the cases in forked processes (engine/background.py): `busy` crosses the fork."""
    for i in range(12):
        cases.start_case(people["mw"], {"client_ref": f"c{i}"})
    busy, started = multiprocessing.get_context("fork").Event(), []
    original = verification.verify_case

    def slow_verify_case(session, case, *reads):
        busy.set()
        time.sleep(0.2)  # verify is still running when the start below comes
        return original(session, case, *reads)

    monkeypatch.setattr(verification, "verify_case", slow_verify_case)
    runner = threading.Thread(target=lambda: started.append(verify_all()))
    runner.start()
    assert busy.wait(10)
    t0 = time.perf_counter()
    cases.start_case(people["mw"], {"client_ref": "tijdens"})
    waited = time.perf_counter() - t0
    still_running = runner.is_alive()
    runner.join(60)
    assert started and started[0][0] == 0, started
    assert still_running, "verify finished too soon to tell"
    assert waited < 1.0, f"a case start waited {waited:.2f} s for verify"


def test_verify_in_several_processes_gives_the_same_verdicts_in_order(people, db_url,
                                                                      monkeypatch):
    """`verify --all --jobs N` checks cases in forked processes, a few cases per task: the
    output is the one process's, line for line, a tampered case included."""
    monkeypatch.setattr(verification, "_CHUNK", 2)  # several tasks per process with a few cases
    cases = [closed_case(people, f"parallel-{i}") for i in range(5)]
    tamper(db_url, "UPDATE cases SET client_ref = 'anders' WHERE id = :c", c=cases[2]["id"])
    one = cli("verify", "--all", "--jobs", "1")
    several = cli("verify", "--all", "--jobs", "2")
    assert one.exit_code == several.exit_code == 1, several.output
    def cases_part(output):  # the log's size differs: each run logs its own reads
        return [line for line in output.splitlines()
                if not line.startswith(("logboek: ", "kop van de sequencer"))]

    assert cases_part(one.output) == cases_part(several.output)
    assert "NIET IN ORDE" in case_block(several.output, cases[2]["id"])
    assert [line.split(":")[0] for line in several.output.splitlines()
            if line.startswith("casus ")] == [f"casus {c['id']}" for c in cases]


# --- a log cut and sequenced anew (the sequencer re-signing the rows after a cut) -------------

_CUT_AND_REQUEUE = (
    "CREATE TEMP TABLE keep AS SELECT idx, kind, row_id, case_id FROM log_entries "
    "WHERE idx >= (SELECT min(idx) FROM log_entries WHERE case_id = :c) "
    "AND (case_id IS NULL OR case_id <> :c)",
    "DELETE FROM log_entries WHERE idx >= (SELECT min(idx) FROM log_entries WHERE case_id = :c)",
    "INSERT INTO log_queue (kind, row_id, case_id) SELECT kind, row_id, case_id FROM keep "
    "ORDER BY idx",
)


def _queued(url) -> int:
    with store.unit_of_work(url=url) as session:
        return session.scalar(select(func.count()).select_from(models.LogQueueItem))


def test_an_old_case_removed_and_the_log_sequenced_anew_is_seen(two_closed_cases, db_url):
    """An intruder removes an old case with its rows, cuts the log where that case began and
    queues the other rows again, so that the sequencer would give them new places with valid
    keyed hashes. The sequencer refuses to append to a log shorter than it recorded, and
    verify names the cut, without any checkpoint."""
    people, _earlier, victim = two_closed_cases
    later = closed_case(people, "later")
    tamper(db_url, *_CUT_AND_REQUEUE,
           "DELETE FROM history_events WHERE case_id = :c", "DELETE FROM access_log WHERE case_id = :c",
           "DELETE FROM tasks WHERE case_id = :c", "DELETE FROM case_shares WHERE case_id = :c",
           "DELETE FROM cases WHERE id = :c", c=victim["id"])
    queued = _queued(db_url)
    code, out = verify_all()
    assert code == 1, out
    assert "de sequencer gaf" in out and "regels zijn verwijderd" in out, out
    assert f"casus {later['id']}: in orde" in out
    assert _queued(db_url) >= queued > 0  # nothing was given a place after the cut (verify
    # itself queued its own access lines)


def test_no_checkpoint_is_signed_over_a_log_cut_behind_the_sequencers_back(
    two_closed_cases, db_url, tmp_path
):
    """`meldcode checkpoint` (by hand or from cron) never vouches for a cut log: it compares
    the log with the head the sequencer recorded and refuses, in Dutch, writing no file. On
    the untouched log it signs as before."""
    _people, _earlier, victim = two_closed_cases
    fine = cli("checkpoint", "-o", str(tmp_path / "voor.json"))
    assert fine.exit_code == 0, fine.output
    tamper(db_url, *_CUT_AND_REQUEUE, "DELETE FROM history_events WHERE case_id = :c",
           "DELETE FROM access_log WHERE case_id = :c", "DELETE FROM tasks WHERE case_id = :c",
           "DELETE FROM case_shares WHERE case_id = :c", "DELETE FROM cases WHERE id = :c",
           c=victim["id"])
    refused = cli("checkpoint", "-o", str(tmp_path / "na.json"))
    assert refused.exit_code != 0
    assert "geen controlepunt geschreven" in refused.output
    assert "Traceback" not in refused.output
    assert not (tmp_path / "na.json").exists()


def test_a_gemeld_case_rewound_with_its_log_sequenced_anew_is_seen(gemeld, db_url):
    """The rewind of the issue (a closed 'gemeld' case made open again from an old copy of its
    row) with the log cut where its later entries began and the rest queued again."""
    people, case, snapshot = gemeld
    closed_case(people, "later")
    with store.unit_of_work(url=db_url) as session:
        first_later = session.scalar(select(func.min(models.HistoryEvent.id)).where(
            models.HistoryEvent.case_id == case["id"],
            models.HistoryEvent.seq > snapshot[0]["event_count"]))
    tamper(db_url,
           "CREATE TEMP TABLE keep AS SELECT idx, kind, row_id, case_id FROM log_entries "
           "WHERE idx > (SELECT idx FROM log_entries WHERE kind = 'event' AND row_id = :e)",
           "DELETE FROM log_entries WHERE idx >= (SELECT idx FROM log_entries "
           "WHERE kind = 'event' AND row_id = :e)",
           "INSERT INTO log_queue (kind, row_id, case_id) SELECT kind, row_id, case_id FROM keep "
           "ORDER BY idx", e=first_later)
    _rewind(db_url, case["id"], snapshot)
    code, out = verify_all()
    assert code == 1, out
    assert "de sequencer gaf" in out, out
