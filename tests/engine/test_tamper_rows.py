"""Tampering with the rows that belong to a case beside its history (issue 11 point 1, "no
blind spot"): the consults table and the task rows. Each kind is caught by `meldcode verify
--all` (read in batches, engine/verify_reads.read_batch) and by the verify of one case (read
case by case), on SQLite and PostgreSQL. The intruder has the database open, not the history
key. An unparsable time in a task row (SQLite keeps any text) is a problem of its case, and
the inbox and the case page still open (tests/webui/test_damaged_texts.py's rule)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text as sql_text

from engine import cases, consults, store, tasks, verification
from tests.helpers import Client, actor_of, cli, run_sql, text
from tests.scenarios.paths import LONGEST, fill

LATER = datetime(2031, 1, 1, tzinfo=UTC)


def tamper(url, sql, **params):
    """As an intruder with the database open (tests/helpers.run_sql)."""
    run_sql(url, sql, **params)


def read(url, sql, **params):
    with store.unit_of_work(url=url) as session:
        return session.execute(sql_text(sql), params).all()


def verify_all():
    result = cli("verify", "--all")
    return result.exit_code, result.output


def case_block(output: str, case_id: int) -> str:
    """The lines verify printed about one case."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"casus {case_id}:"))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("  - "):
            break
        block.append(line)
    return "\n".join(block)


def _complete_first(people, case):
    who = actor_of(people, case["tasks"][0])
    task = tasks.get_task(who, case["tasks"][0]["id"])
    return tasks.complete_task(who, task["id"], fill(task["form"]["fields"], LONGEST.decisions))


def _case_with_rows(people, ref):
    """A case with a completed task (stap 1), a ready one after it, and an open consult."""
    case = _complete_first(people, cases.start_case(people["mw"], {"client_ref": ref}))
    asked = consults.request(people["mw"], case["id"], {"user": "af", "question": "Wat nu?"})
    return case, asked["task_id"]


def _user_id(db_url, name):
    return read(db_url, "SELECT id FROM users WHERE name = :n", n=name)[0][0]


def _caught(people, case_id, words, *others):
    """verify --all fails on `case_id` naming `words`, the other cases pass; the verify of
    that case alone (its rows read on their own) names it too."""
    code, out = verify_all()
    assert code == 1, out
    block = case_block(out, case_id)
    assert "NIET IN ORDE" in block and words in block, block
    for other in others:
        assert f"casus {other}: in orde" in out, out
    alone = verification.verify(people["aud"], case_id)
    assert not alone["ok"] and any(words in p for p in alone["problems"]), alone
    return block


@pytest.fixture
def two(people):
    """The case tampered with, and a case beside it that must stay in order."""
    return _case_with_rows(people, "doelwit"), _case_with_rows(people, "ernaast")[0]["id"]


def test_untampered_rows_verify(people, two):
    (case, _consult), other = two
    code, out = verify_all()
    assert code == 0, out
    assert verification.verify(people["aud"], case["id"])["ok"]


# --- the consults table ------------------------------------------------------------------------


def test_consult_given_to_another_user(people, db_url, two):
    (case, consult), other = two
    tamper(
        db_url, "UPDATE consults SET user_id = :u WHERE task_id = :t", u=_user_id(db_url, "mw2"), t=consult
    )
    _caught(people, case["id"], "raadpleging", other)


def test_consult_row_deleted(people, db_url, two):
    (case, consult), other = two
    tamper(db_url, "DELETE FROM consults WHERE task_id = :t", t=consult)
    _caught(people, case["id"], "raadpleging", other)


def test_consult_row_added(people, db_url, two):
    """A consults row on a task of the diagram lets mw2 read the case and open that task."""
    (case, _consult), other = two
    ready = case["tasks"][0]["id"]
    tamper(
        db_url,
        "INSERT INTO consults (case_id, task_id, user_id) VALUES (:c, :t, :u)",
        c=case["id"],
        t=ready,
        u=_user_id(db_url, "mw2"),
    )
    _caught(people, case["id"], "raadpleging", other)


# --- the task rows -----------------------------------------------------------------------------


def _row(db_url, case_id, state):
    return read(
        db_url,
        "SELECT id FROM tasks WHERE case_id = :c AND state = :s AND step <> 'consult' ORDER BY ready_at",
        c=case_id,
        s=state,
    )[0][0]


def test_task_owner_changed(people, db_url, two):
    (case, _consult), other = two
    tamper(
        db_url,
        "UPDATE tasks SET owner_id = :u WHERE id = :t",
        u=_user_id(db_url, "mw2"),
        t=_row(db_url, case["id"], "ready"),
    )
    _caught(people, case["id"], "eigenaar", other)


def test_consult_task_owner_changed(people, db_url, two):
    (case, consult), other = two
    tamper(db_url, "UPDATE tasks SET owner_id = :u WHERE id = :t", u=_user_id(db_url, "mw2"), t=consult)
    _caught(people, case["id"], "eigenaar", other)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE tasks SET urgent = NOT urgent WHERE id = :t",
        "UPDATE tasks SET due_at = NULL WHERE id = :t",
        "UPDATE tasks SET due_at = :later WHERE id = :t",
        "UPDATE tasks SET ready_at = :later WHERE id = :t",
        "UPDATE tasks SET lane = 'aandachtsfunctionaris' WHERE id = :t",
        "UPDATE tasks SET name = 'iets anders' WHERE id = :t",
    ],
    ids=["urgent", "due_at-removed", "due_at-later", "ready_at", "lane", "name"],
)
def test_task_row_field_changed(people, db_url, two, sql):
    (case, _consult), other = two
    params = {"later": LATER} if ":later" in sql else {}
    tamper(db_url, sql, t=_row(db_url, case["id"], "ready"), **params)
    _caught(people, case["id"], "na het vastleggen gewijzigd", other)


def test_consult_task_lane_changed(people, db_url, two):
    (case, consult), other = two
    tamper(db_url, "UPDATE tasks SET lane = 'leidinggevende' WHERE id = :t", t=consult)
    _caught(people, case["id"], "na het vastleggen gewijzigd", other)


def test_task_completed_by_changed(people, db_url, two):
    (case, _consult), other = two
    tamper(
        db_url, "UPDATE tasks SET completed_by = 'mw2' WHERE id = :t", t=_row(db_url, case["id"], "completed")
    )
    block = _caught(people, case["id"], "afgerond door", other)
    assert "'mw2'" in block and "'mw'" in block, block


def test_task_completed_at_changed(people, db_url, two):
    (case, _consult), other = two
    tamper(
        db_url,
        "UPDATE tasks SET completed_at = :later WHERE id = :t",
        later=LATER,
        t=_row(db_url, case["id"], "completed"),
    )
    _caught(people, case["id"], "tijdstip van afronden", other)


# --- an unparsable time in a task row (SQLite keeps any text in a time column) --------------


@pytest.mark.parametrize("column", ["ready_at", "due_at", "completed_at"])
def test_unparsable_task_time(people, db_url, two, column):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's timestamp column refuses such a value")
    (case, _consult), other = two
    state = "completed" if column == "completed_at" else "ready"
    tamper(db_url, f"UPDATE tasks SET {column} = 'gisteren' WHERE id = :t", t=_row(db_url, case["id"], state))
    block = _caught(people, case["id"], "onleesbaar", other)
    assert column in block, block


def test_pages_open_with_an_unparsable_task_time(app, people, db_url, two, caplog):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's timestamp column refuses such a value")
    (case, _consult), other = two
    tamper(
        db_url,
        "UPDATE tasks SET ready_at = 'gisteren', due_at = 'morgen' WHERE id = :t",
        t=_row(db_url, case["id"], "ready"),
    )
    web = Client(app)
    web.login("mw")
    inbox = web.get("/")
    assert inbox.status_code == 200
    body = text(inbox)
    assert "beschadigd opgeslagen" in body and "doelwit" in body and "ernaast" in body, body
    page = web.get(f"/casussen/{case['id']}")
    assert page.status_code == 200
    assert "beschadigd opgeslagen" in text(page)
    assert "beschadigd opgeslagen" not in text(web.get(f"/casussen/{other}"))
    assert web.get(f"/taken/{case['tasks'][0]['id']}").status_code == 200
    assert any("beschadigd" in r.getMessage() or "unreadable" in r.getMessage() for r in caplog.records), (
        caplog.records
    )
