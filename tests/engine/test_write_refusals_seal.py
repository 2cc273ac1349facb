"""Issue 11 (tester's findings): a case whose header no longer matches its keyed hash (a hash
changed, a closed case set back to open, its uitkomst emptied), whose stored workflow state
does not load, or whose id_counter leaves no room for the next write's task ids, takes no
write through any door: the same Dutch 409 naming what is wrong (exit 1 and a named line for
`meldcode migrate`, a warning and no fire for the scheduler), nothing stored. Reads stay open,
are logged and name the damage as they name column damage; the header stays broken (never
sealed anew by a refusal or a read). A door that rewrites a task row refuses a damaged one.

The doors' code is the same on both databases except where noted: the id_counter (one more
write would not fit PostgreSQL's INTEGER) and the scheduler (a claim per case on PostgreSQL,
batches on SQLite) run on both, the rest on SQLite only (the suite's time)."""

from __future__ import annotations

import html
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text as sql

from engine import audit, cases, clock, consults, models, scheduler, store, tasks
from tests.helpers import (
    Client,
    cli,
    complete_stap1,
    deploy_timers,
    fired,
    renamed_files,
    store_version,
    text,
)
from tests.helpers import write_as_database_writer as write
from tests.scenarios.paths import LONGEST, SCENARIOS, fill

REFUSED = "De gegevens van casus {c} zijn beschadigd opgeslagen ({fields}"
SEAL = "header_hash: de kop van de casus klopt niet met zijn sleutelhash"
STATE = "workflow_state: de toestand van het proces is onleesbaar: de toestand is onleesbaar"
COUNTER = "id_counter: een waarde buiten het bereik (2147483646)"

# kind -> (SQL that plants it, per database; what the refusal names)
OPEN_KINDS = {
    "header_hash": ({"sqlite": "header_hash = '123'", "postgresql": "header_hash = '123'"}, SEAL),
    "workflow_state": (
        {"sqlite": "workflow_state = X'00'", "postgresql": "workflow_state = '\\x00'::bytea"},
        STATE,
    ),
    # the next id is 2147483647, and a step takes a few dozen: the write would not fit
    "id_counter": ({"sqlite": "id_counter = 2147483646", "postgresql": "id_counter = 2147483646"}, COUNTER),
}
# on a closed case: its header no longer matches (status and uitkomst are under its seal)
CLOSED_KINDS = {
    "status-reopened": "status = 'open'",
    "uitkomst-emptied": "uitkomst = NULL",
}


def plant(db_url: str, case_id: int, assignment: str) -> None:
    """Change the case row as someone with the database open would (server stopped)."""
    write(db_url, f"UPDATE cases SET {assignment} WHERE id = :c", c=case_id)


def snapshot(case_id: int) -> tuple:
    """What any write on the case would change: the case row as stored but for its access-log
    count, head and seal (a refusal is logged, NEN 7513), its events, task rows, shares,
    consults, drafts, links and the number of cases."""
    with store.unit_of_work() as session:
        row = session.execute(sql("SELECT * FROM cases WHERE id = :c"), {"c": case_id}).mappings().one()
        count = lambda query: session.execute(sql(query), {"c": case_id}).scalar_one()  # noqa: E731
        return (
            {k: v for k, v in row.items() if k not in ("access_count", "access_head", "header_hash")},
            count("SELECT count(*) FROM history_events WHERE case_id = :c"),
            count("SELECT count(*) FROM tasks WHERE case_id = :c AND state = 'ready'"),
            count("SELECT count(*) FROM tasks WHERE case_id = :c"),
            count("SELECT count(*) FROM case_shares WHERE case_id = :c"),
            count("SELECT count(*) FROM consults WHERE case_id = :c"),
            count("SELECT count(*) FROM drafts"),
            count("SELECT count(*) FROM case_links"),
            count("SELECT count(*) FROM cases"),
        )


def api(app, people, who: str, path: str, body: dict):
    return app.test_client().post(path, json=body, headers=people.auth(who))


def web(app, who: str, path: str, form: dict):
    client = Client(app)
    client.login(who)
    return client.post(path, form)


# door -> how it is tried: (app, people, case id, the diagram task and its answers, the consult task)
DOORS = {
    "completion": lambda app, people, c, task, consult: api(
        app, people, "mw", f"/api/v1/tasks/{task[0]}/complete", {"data": task[1]}
    ),
    "draft": lambda app, people, c, task, consult: web(
        app, "mw", f"/taken/{task[0]}", {"actie": "concept", "toelichting": "x"}
    ),
    "consult": lambda app, people, c, task, consult: api(
        app, people, "mw", f"/api/v1/cases/{c}/consults", {"user": "lg", "question": "En nu?"}
    ),
    "consult-answer": lambda app, people, c, task, consult: api(
        app, people, "af", f"/api/v1/tasks/{consult}/complete", {"data": {"antwoord": "Melden."}}
    ),
    "handover": lambda app, people, c, task, consult: api(
        app, people, "mw", f"/api/v1/cases/{c}/handover", {"user": "mw2", "reason": "ziek"}
    ),
    "share": lambda app, people, c, task, consult: api(
        app, people, "mw", f"/api/v1/cases/{c}/shares", {"user": "af", "reason": "advies"}
    ),
    "linked-start": lambda app, people, c, task, consult: api(
        app, people, "mw", "/api/v1/cases", {"client_ref": "Kind", "linked_case": c}
    ),
    "children-start": lambda app, people, c, task, consult: web(
        app, "mw", f"/casussen/{c}/kinderen", {"client_ref": "Kind", "reason": "de kinderen"}
    ),
}
# What a closed case offers a write at all (no open task, no consult)
CASE_DOORS = ("consult", "handover", "share", "linked-start", "children-start")


def try_doors(app, people, case_id: int, doors, named: str, task=None, consult=None) -> list:
    """Each door tried in turn on the damaged case: what did not answer the refusal (409 with
    REFUSED naming `named`) or stored something."""
    wrong = []
    for door in doors:
        before = snapshot(case_id)
        response = DOORS[door](app, people, case_id, task, consult)
        body = response.get_data(as_text=True)
        refused = REFUSED.format(c=case_id, fields=named)
        if response.status_code != 409 or refused not in body.replace("&#39;", "'"):
            wrong.append((door, response.status_code, body[:300]))
        if snapshot(case_id) != before:
            wrong.append((door, "stored"))
    return wrong


def reads_stay_open(app, people, case_id: int) -> None:
    """The case still reads (its page and the API), each read in its access log (NEN 7513)."""
    client = Client(app)
    client.login("mw")
    before = len(access_lines(case_id))
    assert app.test_client().get(f"/api/v1/cases/{case_id}", headers=people.auth("mw")).status_code == 200
    assert client.http.get(f"/casussen/{case_id}", base_url="http://localhost").status_code == 200
    assert access_lines(case_id)[before:] == [("read", "ok"), ("read", "ok")]


def access_lines(case_id: int) -> list[tuple[str, str]]:
    with store.unit_of_work() as session:
        return [
            tuple(row)
            for row in session.execute(
                sql("SELECT action, outcome FROM access_log WHERE case_id = :c ORDER BY id"), {"c": case_id}
            )
        ]


def seal_holds(case_id: int) -> bool:
    with store.unit_of_work() as session:
        case = session.get(models.Case, case_id)
        return audit.header_ok(case.id, case)


@pytest.fixture
def open_case(people):
    """A case of mw past stap 1 with af consulted: its next step (id and answers) and the
    consult task open."""
    mw = people["mw"]
    case = cases.start_case(mw, {"client_ref": "Jansen", "reason": "zorgen"})
    first = tasks.get_task(mw, case["tasks"][0]["id"])
    case = tasks.complete_task(mw, first["id"], fill(first["form"]["fields"], LONGEST.decisions))
    step = next(t for t in case["tasks"] if t["lane"] == "medewerker")
    task = tasks.get_task(mw, step["id"])
    asked = consults.request(mw, case["id"], {"user": "af", "question": "Wat nu?"})
    return case["id"], (step["id"], fill(task["form"]["fields"], LONGEST.decisions)), asked["task_id"]


def check_open_kind(app, people, db_url, open_case, kind):
    case_id, task, consult = open_case
    assignments, named = OPEN_KINDS[kind]
    plant(db_url, case_id, assignments[db_url.split(":")[0].split("+")[0]])
    # the workflow cache of this process still holds the case: a worker that served its last
    # step must refuse the damaged state all the same
    wrong = try_doors(app, people, case_id, DOORS, named, task, consult)
    assert wrong == [], wrong
    reads_stay_open(app, people, case_id)
    if kind == "header_hash":
        assert not seal_holds(case_id)  # neither a refusal nor a read sealed it anew


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["header_hash", "workflow_state"])
def test_every_door_refuses_a_broken_seal_or_state(app, people, db_url, open_case, kind):
    check_open_kind(app, people, db_url, open_case, kind)


def test_every_door_refuses_a_counter_the_next_write_does_not_fit(app, people, db_url, open_case):
    """PostgreSQL: the step would have failed at the database (a 500), SQLite stored a counter
    no id fits after."""
    check_open_kind(app, people, db_url, open_case, "id_counter")


def closed_case(people) -> int:
    """A case of mw closed by the shortest route (zorgen weggenomen), with children recorded."""
    scenario = next(s for s in SCENARIOS if s.name == "zorgen_weggenomen")
    case = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    while case["tasks"]:
        task = tasks.get_task(people["mw"], case["tasks"][0]["id"])
        case = tasks.complete_task(people["mw"], task["id"], fill(task["form"]["fields"], scenario.decisions))
    assert case["status"] == "closed" and case["data"]["kindcheck_kinderen"] is True
    return case["id"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", list(CLOSED_KINDS))
def test_a_closed_case_changed_behind_its_seal_takes_no_write(app, people, db_url, kind):
    """Set back to open, every door that a case without open steps has refuses; with its
    uitkomst emptied, a case for the children is not linked to it (API and case page)."""
    case_id = closed_case(people)
    plant(db_url, case_id, CLOSED_KINDS[kind])
    doors = CASE_DOORS if kind == "status-reopened" else ("linked-start", "children-start")
    wrong = try_doors(app, people, case_id, doors, SEAL)
    assert wrong == [], wrong
    reads_stay_open(app, people, case_id)
    assert not seal_holds(case_id)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["header_hash", "status-reopened", "id_counter"])
def test_a_move_to_another_version_names_the_case_and_moves_none(people, db_url, monkeypatch, kind):
    damaged = (
        closed_case(people)
        if kind == "status-reopened"
        else cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})["id"]
    )
    sound = cases.start_case(people["mw"], {"client_ref": "Pietersen", "reason": "zorgen"})["id"]
    assignment = CLOSED_KINDS.get(kind) or OPEN_KINDS[kind][0]["sqlite"]
    plant(db_url, damaged, assignment)
    target = store_version(
        renamed_files('name="Stap 1: Signalen in kaart brengen"', 'name="Stap 1: Signalen"'), monkeypatch
    )
    before = {c: snapshot(c) for c in (damaged, sound)}
    result = cli("migrate", "--from", "1", "--to", str(target), "--user", "pb")
    assert result.exit_code == 1, result.output
    named = COUNTER if kind == "id_counter" else SEAL
    assert f"casus {damaged}: beschadigd opgeslagen: {named}" in result.output, result.output
    assert "Traceback" not in result.output
    assert {c: snapshot(c) for c in before} == before


T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # 2026-12-02 00:00 Amsterdam


@pytest.mark.parametrize("kind", list(OPEN_KINDS))
def test_the_scheduler_fires_no_timer_of_such_a_case(people, db_url, caplog, kind):
    """Its timer is not fired (a warning naming it, no traceback), the other case's fires once."""
    deploy_timers()
    with clock.use(clock.ManualClock(T0)) as now:
        damaged, sound = (
            complete_stap1(people, cases.start_case(people["mw"], {"client_ref": ref}), "2026-12-02")["id"]
            for ref in ("Jansen", "Pietersen")
        )
        plant(db_url, damaged, OPEN_KINDS[kind][0][db_url.split(":")[0].split("+")[0]])
        before = snapshot(damaged)
        now.set(DUE)
        with caplog.at_level(logging.WARNING, logger="meldcode.scheduler"):
            assert scheduler.run_due() == 1  # the sound case only
            now.set(DUE + timedelta(minutes=90))  # past any hold-back: tried again, refused again
            scheduler.run_due()
    assert snapshot(damaged) == before and fired(damaged) == []
    assert [e.step for e in fired(sound)] == ["wacht_datum"]
    lines = [r.getMessage() for r in caplog.records if f"case {damaged}" in r.getMessage()]
    assert lines and all("stored damaged" in line and OPEN_KINDS[kind][1] in line for line in lines), lines
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


# --- the read doors name what the write doors refuse (issue 11, task D) ----------------------

GONE_TWICE = ("beschadigd opgeslagen: beschadigd opgeslagen", "<p>beschadigd opgeslagen")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["header_hash", "workflow_state", *CLOSED_KINDS])
def test_every_read_door_names_a_broken_seal_or_state(app, people, db_url, kind):
    """The API's case (`damaged`), the case page, its print page, the step-through and the
    dossier name a broken seal or a state that does not load as they name column damage: a
    closed case set back to open no longer reads as an open case without tasks. The notice
    says "beschadigd opgeslagen" once."""
    if kind in CLOSED_KINDS:
        case_id, named = closed_case(people), SEAL
        plant(db_url, case_id, CLOSED_KINDS[kind])
    else:
        case_id = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})["id"]
        named = OPEN_KINDS[kind][1]
        plant(db_url, case_id, OPEN_KINDS[kind][0]["sqlite"])
    answer = app.test_client().get(f"/api/v1/cases/{case_id}", headers=people.auth("mw"))
    assert answer.status_code == 200 and named in answer.get_json().get("damaged", ""), answer.get_json()
    for who, path in (("mw", f"/casussen/{case_id}"), ("mw", f"/casussen/{case_id}/afdrukken"),
                      ("aud", f"/audit/casussen/{case_id}")):
        browser = Client(app)
        browser.login(who)
        body = html.unescape(text(browser.http.get(path, base_url="http://localhost")))
        assert "Deze casus is beschadigd opgeslagen" in body and named in body, (path, body[:3000])
        assert not [twice for twice in GONE_TWICE if twice in body], path
    browser = Client(app)
    browser.login("mw")
    dossier = json.loads(text(browser.http.get(f"/casussen/{case_id}/dossier.json", base_url="http://localhost")))
    assert named in dossier["case"]["damaged"], dossier["case"]
    assert not seal_holds(case_id) or kind == "workflow_state"  # no read sealed it anew


# --- a task row stored damaged: no door writes over it (issue 11, task D F4) ------------------

TASK_DUE = "tasks.due_at: geen geldig tijdstip"


def task_owners(case_id: int) -> list:
    with store.unit_of_work() as session:
        query = sql("SELECT id, owner_id FROM tasks WHERE case_id = :c ORDER BY id")
        return list(session.execute(query, {"c": case_id}))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_handover_writes_over_no_damaged_task_row(app, people, db_url, open_case):
    case_id, task, _consult = open_case
    write(db_url, "UPDATE tasks SET due_at = 'garbage' WHERE id = :t", t=task[0])
    owners = task_owners(case_id)
    wrong = try_doors(app, people, case_id, ["handover"], TASK_DUE)
    assert wrong == [], wrong
    assert task_owners(case_id) == owners
    assert access_lines(case_id)[-1] == ("hand_over:conflict", "denied")


def damaged_and_sound(people, db_url, monkeypatch) -> tuple[dict, int, int]:
    """Open cases on version 1: kind -> a case stored damaged so, and a sound one; the target
    version (its step 1 renamed)."""
    start = lambda ref: cases.start_case(people["mw"], {"client_ref": ref, "reason": "zorgen"})["id"]  # noqa: E731
    damaged = {kind: start(kind) for kind in ("header_hash", "workflow_state", "task")}
    plant(db_url, damaged["header_hash"], OPEN_KINDS["header_hash"][0]["sqlite"])
    plant(db_url, damaged["workflow_state"], OPEN_KINDS["workflow_state"][0]["sqlite"])
    write(db_url, "UPDATE tasks SET due_at = 'garbage' WHERE case_id = :c", c=damaged["task"])
    sound = start("Pietersen")
    target = store_version(
        renamed_files('name="Stap 1: Signalen in kaart brengen"', 'name="Stap 1: Signalen"'), monkeypatch
    )
    return damaged, sound, target


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_move_names_every_damaged_case_in_one_run_and_logs_each(people, db_url, monkeypatch):
    """Row or seal damage, a state that does not load and a damaged task row it would rewrite:
    one run names all three cases (exit 1, nothing moved) and writes each its access-log line
    migrate:conflict, outcome denied, as every web and API refusal is logged (NEN 7513)."""
    damaged, sound, target = damaged_and_sound(people, db_url, monkeypatch)
    before = {c: snapshot(c) for c in (*damaged.values(), sound)}
    logged = {c: access_lines(c) for c in before}
    result = cli("migrate", "--from", "1", "--to", str(target), "--user", "pb")
    assert result.exit_code == 1, result.output
    for kind, named in (("header_hash", SEAL), ("workflow_state", STATE), ("task", TASK_DUE)):
        assert f"casus {damaged[kind]}: beschadigd opgeslagen: {named}" in result.output, result.output
    assert f"casus {sound}:" not in result.output and "Traceback" not in result.output
    assert {c: snapshot(c) for c in before} == before
    for case_id in damaged.values():
        assert access_lines(case_id) == [*logged[case_id], ("migrate:conflict", "denied")]
    assert access_lines(sound) == logged[sound]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_notice_says_stored_damaged_once(app, people, db_url):
    """A case whose process_version names no version: the case page and its print page head
    the damage "Deze casus is beschadigd opgeslagen" and then name it, never the words twice."""
    case_id = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})["id"]
    plant(db_url, case_id, "process_version = 99")
    browser = Client(app)
    browser.login("mw")
    for path in (f"/casussen/{case_id}", f"/casussen/{case_id}/afdrukken"):
        body = html.unescape(text(browser.http.get(path, base_url="http://localhost")))
        assert "process_version: geen bestaande procesversie (99)" in body, body[:3000]
        assert not [twice for twice in GONE_TWICE if twice in body], path


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_completion_cancels_no_damaged_task_row(app, people, db_url):
    """The step that closes a case cancels its open consult's task row (consults.withdraw_open):
    with that row stored damaged, the step is refused (409 naming it) and nothing is stored;
    the steps before it, which leave the row alone, go through."""
    scenario = next(s for s in SCENARIOS if s.name == "zorgen_weggenomen")
    case = cases.start_case(people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    asked = consults.request(people["mw"], case["id"], {"user": "af", "question": "Wat nu?"})
    write(db_url, "UPDATE tasks SET due_at = 'garbage' WHERE id = :t", t=asked["task_id"])
    while True:
        step = next(t for t in case["tasks"] if t["step"] != "consult")
        task = tasks.get_task(people["mw"], step["id"])
        before = snapshot(case["id"])
        response = api(app, people, "mw", f"/api/v1/tasks/{task['id']}/complete",
                       {"data": fill(task["form"]["fields"], scenario.decisions)})
        if response.status_code != 200:
            break
        case = response.get_json()
        assert case["status"] == "open", "the case closed over its damaged consult row"
    assert response.status_code == 409, response.get_data(as_text=True)
    assert REFUSED.format(c=case["id"], fields=TASK_DUE) in response.get_data(as_text=True)
    assert snapshot(case["id"]) == before


# --- a task row whose seal fails or whose owner is not the case's (issue 11, task F) ----------

TASK_SEAL = "tasks.seal: de taakrij klopt niet met zijn sleutelhash"
TASK_OWNER = "tasks.owner_id: de eigenaar (gebruiker 9999) is niet die van de casus"
# kind -> (assignment to the case's ready rows, what the refusal names first)
TASK_KINDS = {
    "owner": ("owner_id = 9999", TASK_OWNER),
    "name": ("name = 'Andere stap'", TASK_SEAL),
    "seal": ("seal = 'x'", TASK_SEAL),
}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", list(TASK_KINDS))
def test_no_door_builds_on_a_task_row_changed_behind_its_seal(app, people, db_url, open_case, kind):
    """F1: the handover would give every row the new owner (wiping what verify names), the
    completion and the draft would build on the row: each is refused (409 naming the column,
    nothing stored, each logged as refused: F6 for the draft); the row stays as planted."""
    case_id, task, consult = open_case
    write(db_url, f"UPDATE tasks SET {TASK_KINDS[kind][0]} WHERE case_id = :c AND state = 'ready'", c=case_id)
    owners = task_owners(case_id)
    for door, action in (("handover", "hand_over"), ("completion", "complete_task"), ("draft", "save_draft")):
        wrong = try_doors(app, people, case_id, [door], TASK_KINDS[kind][1], task, consult)
        assert wrong == [], wrong
        assert access_lines(case_id)[-1] == (f"{action}:conflict", "denied"), door
    assert task_owners(case_id) == owners


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_another_role_completes_no_step_whose_lane_was_changed(app, people, db_url, open_case):
    """F7: the medewerker's step set to the aandachtsfunctionaris's lane (and owner) in the
    database is not completed by the aandachtsfunctionaris: its seal fails."""
    case_id, task, _consult = open_case
    write(db_url, "UPDATE tasks SET lane = 'aandachtsfunctionaris', owner_id = :af WHERE id = :t",
          af=people["af"].id, t=task[0])
    before = snapshot(case_id)
    response = api(app, people, "af", f"/api/v1/tasks/{task[0]}/complete", {"data": task[1]})
    assert response.status_code == 409, response.get_data(as_text=True)
    assert REFUSED.format(c=case_id, fields=TASK_SEAL) in response.get_data(as_text=True)
    assert snapshot(case_id) == before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_move_names_every_case_with_a_broken_task_row_in_one_run(people, db_url, monkeypatch):
    """F2/F3: a step, lane or owner changed, a seal replaced, a completed row's time made
    garbage, a state no product writes: one run of `meldcode migrate` names every such case
    (exit 1), a sound one moves with them or not at all (nothing moved)."""
    start = lambda ref: cases.start_case(people["mw"], {"client_ref": ref, "reason": "zorgen"})  # noqa: E731
    planted = {
        "step": ("step = 'stap2'", "tasks.seal"),
        "lane": ("lane = 'aandachtsfunctionaris'", TASK_SEAL),
        "owner": ("owner_id = 9999", TASK_OWNER),
        "seal": ("seal = 'x'", TASK_SEAL),
        "state": ("state = 'bogus'", "tasks.state: "),
    }
    damaged = {}
    for kind, (assignment, _named) in planted.items():
        damaged[kind] = start(kind)["id"]
        write(db_url, f"UPDATE tasks SET {assignment} WHERE case_id = :c AND state = 'ready'",
              c=damaged[kind])
    first = start("completed")
    task = tasks.get_task(people["mw"], first["tasks"][0]["id"])
    tasks.complete_task(people["mw"], task["id"], fill(task["form"]["fields"], LONGEST.decisions))
    damaged["completed"] = first["id"]
    write(db_url, "UPDATE tasks SET completed_at = 'garbage' WHERE case_id = :c AND state = 'completed'",
          c=first["id"])
    planted["completed"] = ("", "tasks.completed_at: geen geldig tijdstip")
    sound = start("Pietersen")["id"]
    target = store_version(
        renamed_files('name="Stap 1: Signalen in kaart brengen"', 'name="Stap 1: Signalen"'), monkeypatch
    )
    before = {c: snapshot(c) for c in (*damaged.values(), sound)}
    result = cli("migrate", "--from", "1", "--to", str(target), "--user", "pb")
    assert result.exit_code == 1, result.output
    for kind, case_id in damaged.items():
        named = f"casus {case_id}: beschadigd opgeslagen: {planted[kind][1]}"
        assert named in result.output, (kind, result.output)
    assert f"casus {sound}:" not in result.output and "Traceback" not in result.output
    assert {c: snapshot(c) for c in before} == before
