"""Handing a case over and sharing it: who may, what changes, and that replay knows it."""

import pytest
from sqlalchemy import select, text

from engine import cases, commands, drafts, models, sharing, store, tasks, verification
from engine.errors import Conflict, Invalid
from tests.helpers import LANE_PEOPLE, person, run_sql
from tests.scenarios.paths import LONGEST, fill


def walk(who, case, steps=None):
    """Complete ready tasks (the first each time) as `who`, `steps` of them or to the end."""
    done = 0
    while case["tasks"] and (steps is None or done < steps):
        lane = case["tasks"][0]["lane"]  # another lane's task: that lane's person (lg)
        actor = who if lane == "medewerker" else person(LANE_PEOPLE[lane])
        task = tasks.get_task(actor, case["tasks"][0]["id"])
        case = tasks.complete_task(actor, task["id"],
                                   fill(task["form"]["fields"], LONGEST.decisions))
        done += 1
    return case


def history_actions(who, case_id):
    return [(e["action"], e["data"]) for e in cases.history(who, case_id)]


def verdict(url, case_id):
    with store.unit_of_work(url=url) as session:
        return verification.verify_case(session, session.get(models.Case, case_id))


def test_owner_hands_a_case_over_and_the_colleague_finishes_it(people, db_url):
    mw, mw2 = people["mw"], people["mw2"]
    case = walk(mw, cases.start_case(mw, {"client_ref": "overdracht"}), steps=1)
    task_id = case["tasks"][0]["id"]
    first_field = tasks.get_task(mw, task_id)["form"]["fields"][0]["name"]
    drafts.save(mw, task_id, {first_field: "half getypt"})

    case = sharing.hand_over(mw, case["id"], {"user": "mw2", "reason": "Langdurig ziek"})
    assert case["owner"] == "mw2"
    # the new owner has the task in the inbox and reads the case; the old owner no longer does
    assert [t["id"] for t in tasks.ready_tasks(mw2)] == [task_id]
    assert tasks.ready_tasks(mw) == []
    with pytest.raises(commands.Denied):
        cases.get_case(mw, case["id"])
    with store.unit_of_work(url=db_url) as session:
        assert session.scalar(select(models.Draft).where(models.Draft.task_id == task_id)) is None
    assert history_actions(mw2, case["id"])[-1] == (
        "case_handed_over", {"from": "mw", "to": "mw2", "reason": "Langdurig ziek"})

    case = walk(mw2, cases.get_case(mw2, case["id"]))
    assert case["status"] == "closed" and case["uitkomst"] == LONGEST.uitkomst
    assert verdict(db_url, case["id"]).ok


def test_the_leidinggevende_hands_over_a_case_of_the_team(people):
    case = cases.start_case(people["mw"], {"client_ref": "team"})
    case = sharing.hand_over(people["lg"], case["id"], {"user": "mw2", "reason": "Vertrokken"})
    assert case["owner"] == "mw2"


@pytest.mark.parametrize("actor", ["mw2", "af", "aud", "pb", "bh"])
def test_others_may_not_hand_over_and_the_refusal_is_logged(people, db_url, actor):
    case = cases.start_case(people["mw"], {"client_ref": "niet van jou"})
    with pytest.raises(commands.Denied):
        sharing.hand_over(people[actor], case["id"], {"user": "mw2", "reason": "graag"})
    assert cases.get_case(people["mw"], case["id"])["owner"] == "mw"
    with store.unit_of_work(url=db_url) as session:
        log = models.AccessLogEntry
        rows = session.execute(select(log.user, log.action, log.outcome).where(
            log.case_id == case["id"], log.outcome == "denied")).all()
    assert [tuple(r) for r in rows] == [(actor, "hand_over", "denied")]


def test_bad_handover_requests_change_nothing(people):
    mw = people["mw"]
    case = cases.start_case(mw, {"client_ref": "fout"})
    bad = [
        ({"user": "aud", "reason": "x"}, "user"),  # an auditor does no casework
        ({"user": "niemand", "reason": "x"}, "user"),
        ({"user": "mw", "reason": "x"}, "user"),  # already the owner
        ({"user": "mw2", "reason": "  "}, "reason"),
        ({"user": "mw2", "reason": "x" * 2001}, "reason"),
        ({"user": "mw2", "reason": "x", "owner_id": 1}, "owner_id"),
    ]
    for payload, field in bad:
        with pytest.raises(Invalid) as caught:
            sharing.hand_over(mw, case["id"], payload)
        assert field in caught.value.errors, payload
    after = cases.get_case(mw, case["id"])
    assert after["owner"] == "mw"
    assert [a for a, _ in history_actions(mw, case["id"])] == ["case_started"]


def test_a_closed_case_is_not_handed_over(people):
    case = walk(people["mw"], cases.start_case(people["mw"], {"client_ref": "klaar"}))
    with pytest.raises(Conflict):
        sharing.hand_over(people["mw"], case["id"], {"user": "mw2", "reason": "x"})


def test_sharing_lets_an_aandachtsfunctionaris_read(people, db_url):
    mw, af = people["mw"], people["af"]
    case = cases.start_case(mw, {"client_ref": "delen"})
    with pytest.raises(commands.Denied):
        cases.get_case(af, case["id"])
    sharing.share(mw, case["id"], {"user": "af", "reason": "Graag meedenken over stap 2"})
    assert cases.get_case(af, case["id"])["id"] == case["id"]
    with pytest.raises(Conflict):
        sharing.share(mw, case["id"], {"user": "af", "reason": "nog eens"})
    with pytest.raises(Invalid):  # only an aandachtsfunctionaris
        sharing.share(mw, case["id"], {"user": "mw2", "reason": "x"})
    assert verdict(db_url, case["id"]).ok


def test_verify_catches_an_owner_or_share_changed_behind_the_history(people, db_url):
    mw = people["mw"]
    case = cases.start_case(mw, {"client_ref": "stiekem"})
    sharing.share(mw, case["id"], {"user": "af", "reason": "advies"})
    with store.unit_of_work(url=db_url) as session:
        ids = dict(session.execute(text("SELECT name, id FROM users")).all())
    run_sql(db_url, "UPDATE cases SET owner_id = :o WHERE id = :c", o=ids["mw2"], c=case["id"])
    problems = verdict(db_url, case["id"]).problems
    assert any("de eigenaar wijkt af" in p and "'mw2'" in p for p in problems), problems

    run_sql(db_url, "UPDATE cases SET owner_id = :o WHERE id = :c", o=ids["mw"], c=case["id"])
    run_sql(db_url, "INSERT INTO case_shares (case_id, user_id, created_at) VALUES (:c, :u, :t)",
            c=case["id"], u=ids["lg"], t="2026-01-01 00:00:00")
    problems = verdict(db_url, case["id"]).problems
    assert any("gedeeld wijkt af" in p and "'lg'" in p for p in problems), problems


def test_candidates_offer_colleagues_and_aandachtsfunctionarissen(people, db_url):
    case = cases.start_case(people["mw"], {"client_ref": "kiezen"})
    with store.unit_of_work(url=db_url) as session:
        stored = session.get(models.Case, case["id"])
        offer = sharing.candidates(session, people["mw"], stored)
        assert [p["name"] for p in offer["hand_over"]] == ["af", "lg", "mw2"]
        assert [p["name"] for p in offer["share"]] == ["af"]
        assert sharing.candidates(session, people["mw2"], stored) == {"hand_over": [], "share": []}
