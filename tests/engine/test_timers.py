"""BPMN timers (CONTRACT section 5, engine/timers.py, engine/scheduler.py): a version with an
intermediate timer on a date from a variable, one of two hours, a boundary cycle timer R2/PT1H
and an interrupting boundary timer, deployed as a process owner deploys; the engine's clock
put in place (engine/clock.py) decides when a timer is due; the scheduler fires it, once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from lxml import etree
from sqlalchemy import func, select

from engine import cases, clock, definitions, models, scheduler, store, tasks, workflow_cache
from engine.definitions import SourceFile
from tests.helpers import (
    B,
    _event,
    _flow,
    _one,
    complete_stap1,
    deploy_timers,
    events_of,
    fired,
    timer_files,
    verify,
)
from tests.scenarios.paths import fill

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Amsterdam


def start(people, ref="C-timer") -> dict:
    return cases.start_case(people["mw"], {"client_ref": ref, "reason": "zorgen"})


def open_steps(people, case_id: int) -> list[str]:
    return sorted(t["step"] for t in cases.get_case(people["mw"], case_id)["tasks"])


def test_timers_fire_at_their_time_and_not_before(people):
    deploy_timers()
    with clock.use(clock.ManualClock(T0)) as now:
        case = start(people)
        case = complete_stap1(people, case, "2026-12-02")  # 00:00 Amsterdam = 1 Dec 23:00 UTC
        assert case["tasks"] == [] and case["stalled_at"] is None  # a waiting timer: not stuck
        due = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
        assert scheduler.run_due(due - timedelta(seconds=1)) == 0
        assert fired(case["id"]) == []
        now.set(due)
        assert scheduler.run_due() == 1
        [event] = fired(case["id"])
        assert (event.actor, event.step, event.data) == ("systeem", "wacht_datum",
                                                         {"due": "2026-12-01T23:00:00.000000Z"})
        assert event.task_id and models.utcnow() == due
        assert store_time(event.at) == due
        # then two hours: not at 1:59, at 2:00
        assert scheduler.run_due(due + timedelta(hours=2) - timedelta(seconds=1)) == 0
        now.set(due + timedelta(hours=2))
        assert scheduler.run_due() == 1
        assert open_steps(people, case["id"]) == ["stap2_overleg"]
        # the cycle on stap 2: at +1h and +2h, then no more
        for hour in (3, 4):
            now.set(due + timedelta(hours=hour))
            assert scheduler.run_due() == 1
        now.set(due + timedelta(hours=5))
        assert scheduler.run_due() == 0
        assert [e.step for e in fired(case["id"])] == ["wacht_datum", "wacht_duur", "herinner",
                                                        "herinner"]
        assert open_steps(people, case["id"]) == ["stap2_overleg"]
    assert verify(case["id"])[case["id"]].ok, verify(case["id"])[case["id"]].problems


def store_time(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def test_a_timer_due_when_reached_fires_inline(people):
    deploy_timers()
    with clock.use(T0):
        case = complete_stap1(people, start(people), "2026-11-30")  # today: passed at 00:00
        # the date fired at once; the two hours wait
        assert [e.step for e in fired(case["id"])] == ["wacht_datum"]
        assert fired(case["id"])[0].data == {"due": "2026-11-29T23:00:00.000000Z"}
        assert case["tasks"] == []
    with clock.use(T0 + timedelta(hours=2)):
        assert scheduler.run_due() == 1
    assert verify(case["id"])[case["id"]].ok


def test_completing_the_activity_ends_its_boundary_timer(people):
    deploy_timers()
    with clock.use(clock.ManualClock(T0)) as now:
        case = complete_stap1(people, start(people), "2026-11-30")
        now.advance(timedelta(hours=2))
        scheduler.run_due()
        [stap2] = cases.get_case(people["mw"], case["id"])["tasks"]
        # stap 2 completed before the scheduler came round: its boundary timer ends with it
        now.advance(timedelta(hours=2, minutes=30))
        form = tasks.get_task(people["mw"], stap2["id"])["form"]["fields"]
        tasks.complete_task(people["mw"], stap2["id"], fill(form, {}))
        steps = [e.action for e in events_of(case["id"])]
        assert steps.count("timer_fired") == 2
        with store.unit_of_work() as session:
            assert session.scalar(select(func.count()).select_from(models.Timer).where(
                models.Timer.case_id == case["id"])) == 0
    assert verify(case["id"])[case["id"]].ok


def test_verify_finds_a_timer_fired_event_that_was_changed(db_url, people):
    deploy_timers()
    with clock.use(clock.ManualClock(T0)) as now:
        case = complete_stap1(people, start(people), "2026-12-02")
        now.set(datetime(2026, 12, 1, 23, 0, tzinfo=UTC))
        scheduler.run_due()
    [event] = fired(case["id"])
    from tests.helpers import drop_guards, run_sql
    drop_guards(db_url)
    run_sql(db_url, "UPDATE history_events SET data = :d WHERE id = :id",
            d='{"due": "2026-12-01T22:00:00.000000Z"}', id=event.id)
    assert not verify(case["id"])[case["id"]].ok


def _due_cases(people, count: int) -> list[int]:
    with clock.use(T0):
        return [complete_stap1(people, start(people, f"C-{n}"), "2026-12-02")["id"]
                for n in range(count)]


def test_two_workers_fire_each_due_timer_exactly_once(db_url, people):
    deploy_timers()
    ids = _due_cases(people, 30)
    # the first case's workflow is the same on every worker: one plan each, one write
    at = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    barrier = threading.Barrier(3)
    counts: list[int] = []

    def worker():
        barrier.wait()
        counts.append(scheduler.run_due(at))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 30
    with store.unit_of_work() as session:
        per_case = dict(session.execute(
            select(models.HistoryEvent.case_id, func.count())
            .where(models.HistoryEvent.action == "timer_fired")
            .group_by(models.HistoryEvent.case_id)).all())
    assert per_case == {case_id: 1 for case_id in ids}
    results = verify(*ids)
    assert all(v.ok for v in results.values())


def test_a_case_whose_timer_cannot_fire_holds_back_only_itself(people):
    """A case whose stored workflow cannot be read (damaged) fails its fire: the other cases'
    timers fire in the same round; the damaged one keeps its own due time and is tried again
    after RETRY_FIRST, then after as long as it is overdue (never more than RETRY_MOST); once
    readable again it fires, once."""
    deploy_timers()
    damaged, healthy = _due_cases(people, 2)
    due = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    with store.unit_of_work(write=True) as session:
        case = session.get(models.Case, damaged)
        kept, case.workflow_state = case.workflow_state, b"{kapot"
    workflow_cache.CACHE.entries.clear()  # the damage is what a worker reads, not its cache

    def held_until() -> set[datetime]:
        with store.unit_of_work() as session:
            rows = session.scalars(select(models.Timer).where(models.Timer.case_id == damaged))
            return {(r.due_at.replace(tzinfo=UTC), r.claimed_until.replace(tzinfo=UTC))
                    for r in rows}

    assert scheduler.run_due(due) == 1  # the healthy case fired; the damaged one did not
    assert len(fired(healthy)) == 1 and fired(damaged) == []
    assert held_until() == {(due, due + scheduler.RETRY_FIRST)}
    # not before its wait is over; then tried again, overdue by 30 s + 10 min now
    assert scheduler.run_due(due + timedelta(seconds=29)) == 0
    later = due + timedelta(minutes=10, seconds=30)
    assert scheduler.run_due(later) == 0
    assert held_until() == {(due, later + (later - due))}
    far = due + timedelta(days=3)
    scheduler.run_due(far)  # the healthy case's later timers fire meanwhile
    assert fired(damaged) == [] and len(fired(healthy)) > 1
    assert held_until() == {(due, far + scheduler.RETRY_MOST)}
    with store.unit_of_work(write=True) as session:
        session.get(models.Case, damaged).workflow_state = kept
    scheduler.run_due(far + scheduler.RETRY_MOST - timedelta(seconds=1))
    assert fired(damaged) == []
    scheduler.run_due(far + scheduler.RETRY_MOST)
    assert [e.step for e in fired(damaged)][:1] == ["wacht_datum"]
    assert [e.data["due"] for e in fired(damaged)][:1] == ["2026-12-01T23:00:00.000000Z"]
    assert verify(damaged)[damaged].ok


def test_the_proof_goes_past_timers_and_a_message_event_stays_refused():
    definition, problems = definitions.check(timer_files())
    assert definition is not None, [str(p) for p in problems]
    root = etree.fromstring(timer_files()[0].content)
    event = _one(root, "//bpmn:intermediateCatchEvent[@id='wacht_duur']")
    event.remove(event[0])
    etree.SubElement(event, B + "messageEventDefinition", id="bericht")
    files = [SourceFile("meldcode.bpmn", etree.tostring(root)), timer_files()[1]]
    definition, problems = definitions.check(files)
    assert definition is None and any("berichtgebeurtenis" in str(p) for p in problems)


def interrupting_files() -> list[SourceFile]:
    """timer_files with an interrupting boundary timer on stap 2: after a day stap 2 is
    cancelled and opened anew (a version stored as an earlier release stored it)."""
    files = timer_files()
    root = etree.fromstring(files[0].content)
    process = _one(root, "//bpmn:process[@id='meldcode']")
    _event(process, "boundaryEvent", "te_laat", "timeDuration", "P1D",
           attachedToRef="stap2_overleg", cancelActivity="true")
    _flow(process, "sf_te_laat", "te_laat", "stap2_overleg")
    etree.SubElement(_one(root, "//bpmn:lane[@id='lane_medewerker']"),
                     B + "flowNodeRef").text = "te_laat"
    return [SourceFile("meldcode.bpmn", etree.tostring(root)), files[1]]


def test_an_interrupting_boundary_timer_cancels_its_task(db_url, people, monkeypatch):
    from tests.helpers import store_version

    store_version(interrupting_files(), monkeypatch)
    with clock.use(clock.ManualClock(T0)) as now:
        case = complete_stap1(people, start(people), "2026-11-30")
        now.advance(timedelta(hours=2))
        assert scheduler.run_due() == 1
        [first] = cases.get_case(people["mw"], case["id"])["tasks"]
        now.advance(timedelta(hours=23, minutes=59))
        assert scheduler.run_due() == 1  # the cycle's two rounds, no more
        assert [e.step for e in fired(case["id"])][-2:] == ["herinner", "herinner"]
        now.advance(timedelta(minutes=1))
        assert scheduler.run_due() == 1
        assert fired(case["id"])[-1].step == "te_laat"
        [again] = cases.get_case(people["mw"], case["id"])["tasks"]
        assert again["step"] == "stap2_overleg" and again["id"] != first["id"]
        with store.unit_of_work() as session:
            assert session.get(models.TaskRecord, first["id"]).state == "cancelled"
    assert verify(case["id"])[case["id"]].ok, verify(case["id"])[case["id"]].problems


def test_a_cycle_given_by_an_expression_is_held_to_the_hourly_minimum():
    """A timeCycle written as an expression ("'R2/PT1M'", a quoted text) is not a literal the
    deploy checks can read; its value is known when a case reaches the timer. The engine refuses
    a cycle faster than MIN_CYCLE there too, so the proof finds the route that reaches it and
    the deploy is refused with that route as witness."""
    files = timer_files()
    fast = files[0].content.replace(b">R2/PT1H<", b">'R2/PT1M'<")
    assert fast != files[0].content
    definition, problems = definitions.check([SourceFile("meldcode.bpmn", fast), files[1]])
    assert definition is None
    [problem] = problems
    assert "'R2/PT1M' herhaalt vaker dan eens per uur" in str(problem)
    assert problem.path and problem.path[0]["step"] == "stap1_signalen"
    hourly = files[0].content.replace(b">R2/PT1H<", b">'R2/PT1H'<")
    assert definitions.check([SourceFile("meldcode.bpmn", hourly), files[1]])[0] is not None


def test_meldcode_check_passes_a_diagram_with_timers(tmp_path):
    from tests.helpers import cli

    paths = []
    for f in timer_files():
        path = tmp_path / f.name
        path.write_bytes(f.content)
        paths.append(str(path))
    result = cli("check", *paths)
    assert result.exit_code == 0, result.output
