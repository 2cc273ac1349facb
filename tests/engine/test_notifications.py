"""Notifications written with the changes of a case (CONTRACT section 5), on SQLite and
PostgreSQL: `informed` after each melding to everyone the history's `informed` event names,
`task_ready` to whoever else must act on a new task, never to the person who just acted."""

from engine import cases, consults, definitions, migration, notifications, tasks
from engine.definitions import SourceFile
from tests.helpers import events_of, relabelled, store_version, verify, walk
from tests.scenarios.paths import LONGEST


def kinds(who):
    return [(n["kind"], n["case_id"]) for n in notifications.listing(who)]


def test_informed_after_each_melding_and_task_ready_for_others(people):
    case = cases.start_case(people["mw"], {"client_ref": "C-team", "reason": "zorgen"})
    case = walk(people, case, LONGEST.decisions)
    informed = [e for e in events_of(case["id"]) if e.action == "informed"]
    assert informed  # the team was informed after the melding (engine/informing.py)
    names = {n for e in informed for n in e.data["recipients"]}
    for name in names:
        got = [k for k in kinds(people[name]) if k[0] == "informed"]
        assert len(got) == sum(name in e.data["recipients"] for e in informed)
        assert got[0] == ("informed", case["id"])
    # the medewerker completed their own steps: no task_ready for them
    assert all(kind != "task_ready" for kind, _ in kinds(people["mw"]))
    # every task that became ready in another lane was announced to its person
    lg_tasks = [e for e in events_of(case["id"])
                if e.action == "task_completed" and e.actor == "lg"]
    lg_ready = [k for k in kinds(people["lg"]) if k[0] == "task_ready"]
    assert len(lg_ready) >= len(lg_tasks)
    assert verify(case["id"])[case["id"]].ok


def test_a_case_with_an_open_consult_moves_to_another_version(people, monkeypatch):
    files = [SourceFile(f.name, relabelled(" (oud)")) if f.kind == "bpmn" else f
             for f in definitions.shipped_files()]
    older = store_version(files, monkeypatch)
    case = cases.start_case(people["mw"], {"client_ref": "C-verhuis"})
    asked = consults.request(people["mw"], case["id"], {"user": "af", "question": "Wat nu?"})
    migration.move_cases(people["pb"], older, 1)  # the consult is no step of the workflow
    moved = cases.get_case(people["mw"], case["id"])
    assert moved["process_version"] == 1
    assert asked["task_id"] in [t["id"] for t in moved["tasks"]]
    tasks.complete_task(people["af"], asked["task_id"], {"antwoord": "Bel VT."})
    assert verify(case["id"])[case["id"]].ok
