"""Issue 11, "refuse hostile state", every door: a write that builds on a case row stored
damaged (a database writer changed it, server stopped) is refused before anything is stored,
whichever door it comes through: the API (handover, sharing, a consult and its answer, a new
case linked to it: 409 naming the case in Dutch, or 403 when the person may not act on it at
all), the web (a draft), the command line (`meldcode migrate`: a Dutch line, exit 1) and the
scheduler (the timer is not fired, a log line, the other cases fire, nothing fires twice).
SQLite and PostgreSQL, each damage where the database takes it (tests/engine/
test_damaged_case_rows.py plants them)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text as sql

from engine import cases, clock, scheduler, store, tasks
from tests.helpers import (
    Client,
    cli,
    complete_stap1,
    deploy_timers,
    fired,
    renamed_files,
    store_version,
    taken,
    where_taken,
)
from tests.helpers import write_as_database_writer as write
from tests.scenarios.paths import LONGEST, fill

# damages a write builds on (as tests/engine/test_damaged_case_rows.py plants them): kind ->
# (column of the case row, value as SQL, the database that takes it)
DAMAGE = {
    "started_at-far": ("started_at", "'9999-12-31 23:59:59'", "both"),
    "owner_id-gone": ("owner_id", "999", "both"),  # a user that does not exist
    "id_counter-text": ("id_counter", "'x'", "sqlite"),
    "access_head-bytes": ("access_head", "CAST(X'ff41' AS TEXT)", "sqlite"),  # no UTF-8
    "version_id-pg-big": ("version_id", "2147483647", "postgresql"),  # the next does not fit
}
# each kind on the databases that take its value (the others refuse it themselves)
KINDS = {kind: damage[2] for kind, damage in DAMAGE.items()}
TAKEN = where_taken(KINDS)
REFUSED = "De gegevens van casus {c} zijn beschadigd opgeslagen"


def plant(db_url: str, kind: str, case_id: int) -> None:
    column, value, _ = DAMAGE[kind]
    write(db_url, f'UPDATE cases SET "{column}" = {value} WHERE id = :c', c=case_id)


def snapshot(case_id: int) -> tuple:
    """What any write on the case would change: its events, task rows, shares, consults,
    drafts, links, the number of cases, and its owner and version as stored."""
    with store.unit_of_work() as session:
        count = lambda query: session.execute(sql(query), {"c": case_id}).scalar_one()  # noqa: E731
        return (
            count("SELECT count(*) FROM history_events WHERE case_id = :c"),
            count("SELECT count(*) FROM tasks WHERE case_id = :c"),
            count("SELECT count(*) FROM tasks WHERE case_id = :c AND state = 'ready'"),
            count("SELECT count(*) FROM case_shares WHERE case_id = :c"),
            count("SELECT count(*) FROM consults WHERE case_id = :c"),
            count("SELECT count(*) FROM drafts"),
            count("SELECT count(*) FROM case_links"),
            count("SELECT count(*) FROM cases"),
            count("SELECT CAST(owner_id AS TEXT) FROM cases WHERE id = :c"),
            count("SELECT process_version FROM cases WHERE id = :c"),
        )


@pytest.fixture
def consulted(people):
    """A case of mw past its first step, with af consulted (her task open)."""
    mw = people["mw"]
    case = cases.start_case(mw, {"client_ref": "Jansen", "reason": "zorgen"})
    first = tasks.get_task(mw, case["tasks"][0]["id"])
    case = tasks.complete_task(mw, first["id"], fill(first["form"]["fields"], LONGEST.decisions))
    from engine import consults

    asked = consults.request(mw, case["id"], {"user": "af", "question": "Wat nu?"})
    return case, asked["task_id"]


def api_post(app, people, who: str, path: str, body: dict):
    return app.test_client().post(path, json=body, headers=people.auth(who))


# door -> (who acts on the row, how): each answers an HTTP response
DOORS = {
    "handover": lambda app, people, case, consult, who: api_post(
        app, people, who, f"/api/v1/cases/{case['id']}/handover", {"user": "mw2", "reason": "ziek"}
    ),
    "share": lambda app, people, case, consult, who: api_post(
        app, people, who, f"/api/v1/cases/{case['id']}/shares", {"user": "af", "reason": "advies"}
    ),
    "consult": lambda app, people, case, consult, who: api_post(
        app, people, who, f"/api/v1/cases/{case['id']}/consults", {"user": "af", "question": "En nu?"}
    ),
    "consult-answer": lambda app, people, case, consult, who: api_post(
        app, people, "af", f"/api/v1/tasks/{consult}/complete", {"data": {"antwoord": "Melden."}}
    ),
    "linked-start": lambda app, people, case, consult, who: api_post(
        app, people, "mw", "/api/v1/cases", {"client_ref": "Kind", "linked_case": case["id"]}
    ),
}


def draft(app, people, case, consult, who):
    web = Client(app)
    web.login("mw")
    return web.post(f"/taken/{case['tasks'][0]['id']}", {"actie": "concept", "toelichting": "x"})


DOORS["draft"] = draft

# An owner that is no user: the owner's leidinggevende acts (mw is no owner any more: her 403
# came before the change as well). A link and a draft are mw's own only: 422/403 before too.
NOT_APPLICABLE = {("linked-start", "owner_id-gone"), ("draft", "owner_id-gone")}


@pytest.mark.parametrize(("db_url", "kind", "door"), [
    pytest.param(*pair.values, door, id=f"{pair.id}-{door}")
    for pair in taken(KINDS) for door in DOORS if (door, pair.values[1]) not in NOT_APPLICABLE
], indirect=["db_url"])
def test_a_write_on_a_damaged_case_row_is_refused_and_stores_nothing(
    app, people, db_url, consulted, door, kind
):
    case, consult = consulted
    plant(db_url, kind, case["id"])
    before = snapshot(case["id"])
    who = "lg" if kind == "owner_id-gone" else "mw"
    response = DOORS[door](app, people, case, consult, who)
    body = response.get_data(as_text=True)
    assert response.status_code in (403, 409), (door, kind, response.status_code, body[:600])
    if response.status_code == 409:
        assert REFUSED.format(c=case["id"]) in body, body[:600]
    assert "Traceback" not in body
    assert snapshot(case["id"]) == before, body[:400]


@TAKEN
def test_a_move_to_another_version_names_the_damaged_case_and_moves_none(people, db_url, monkeypatch, kind):
    damaged = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    sound = cases.start_case(people["mw"], {"client_ref": "Pietersen", "reason": "zorgen"})
    plant(db_url, kind, damaged["id"])
    target = store_version(
        renamed_files('name="Stap 1: Signalen in kaart brengen"', 'name="Stap 1: Signalen"'), monkeypatch
    )
    before = {c: snapshot(c) for c in (damaged["id"], sound["id"])}
    result = cli("migrate", "--from", "1", "--to", str(target), "--user", "pb")
    assert result.exit_code == 1, result.output
    assert f"casus {damaged['id']}: beschadigd opgeslagen: {DAMAGE[kind][0]}" in result.output, result.output
    assert "Traceback" not in result.output
    assert {c: snapshot(c) for c in before} == before


T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # 2026-12-02 00:00 Amsterdam


@TAKEN
def test_the_scheduler_skips_a_damaged_case_and_fires_the_others_once(people, db_url, caplog, kind):
    deploy_timers()
    with clock.use(clock.ManualClock(T0)) as now:
        waiting = [
            complete_stap1(people, cases.start_case(people["mw"], {"client_ref": ref}), "2026-12-02")
            for ref in ("Jansen", "Pietersen")
        ]
        damaged, sound = (case["id"] for case in waiting)
        plant(db_url, kind, damaged)
        before = snapshot(damaged)
        now.set(DUE)
        with caplog.at_level(logging.WARNING, logger="meldcode.scheduler"):
            assert scheduler.run_due() == 1  # the sound case only
            now.set(DUE + timedelta(minutes=90))  # past any hold-back: tried again, refused again
            scheduler.run_due()
    assert snapshot(damaged) == before and fired(damaged) == []
    assert [e.step for e in fired(sound)] == ["wacht_datum"]  # once, never twice
    lines = [r.getMessage() for r in caplog.records if f"case {damaged}" in r.getMessage()]
    assert lines and all("stored damaged" in line for line in lines), lines
