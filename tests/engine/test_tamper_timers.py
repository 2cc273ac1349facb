"""Timers rows changed by hand (issue 11 tamper evidence, issue 13 F4): the timers table only
mirrors the workflow's waiting timers (models.Timer), so the scheduler fires a timer only when
the workflow says it is due and corrects a row that claims earlier (engine/scheduler.py);
replay names a timer_fired event before its due time (engine/replay.py); verify names rows
missing, extra or moved (engine/verification.py). SQLite and PostgreSQL, the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import delete, insert, select, update

from engine import clock, models, replay, scheduler, store, verification, versions
from tests.helpers import DATE_WAIT_START, deploy_date_wait, events_of, verify, waiting_date_case

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn"}
B, C = "{" + NS["bpmn"] + "}", "{" + NS["camunda"] + "}"
T0 = DATE_WAIT_START


def fired(case_id: int) -> list[models.HistoryEvent]:
    return [e for e in events_of(case_id) if e.action == "timer_fired"]


# wachten_tot 2026-12-10: due at 00:00 Amsterdam, 9 Dec 23:00 UTC
DUE = datetime(2026, 12, 9, 23, 0, tzinfo=UTC)
EARLY = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _rows(db_url, case_id: int) -> list:
    with store.unit_of_work(url=db_url) as session:
        return list(
            session.execute(
                select(models.Timer.task_id, models.Timer.step, models.Timer.due_at).where(
                    models.Timer.case_id == case_id
                )
            )
        )


def _move_rows(db_url, case_id: int, due_at: datetime) -> None:
    """As someone with database access would: UPDATE timers SET due_at = ..."""
    with store.unit_of_work(write=True, url=db_url) as session:
        session.execute(update(models.Timer).where(models.Timer.case_id == case_id).values(due_at=due_at))


def _problems(case_id: int) -> str:
    return " | ".join(str(p) for p in verify(case_id)[case_id].problems)


def test_a_row_moved_forward_does_not_fire_and_is_corrected(db_url, people, caplog):
    deploy_date_wait()
    case_id = waiting_date_case(people)
    _move_rows(db_url, case_id, EARLY)
    with clock.use(clock.ManualClock(T0 + timedelta(days=1))) as now:
        assert scheduler.run_due() == 0
        assert fired(case_id) == []
        assert "not fired" in caplog.text
        [(_task, step, due_at)] = _rows(db_url, case_id)
        assert (step, due_at.replace(tzinfo=UTC) if due_at.tzinfo is None else due_at) == ("wacht_datum", DUE)
        assert verify(case_id)[case_id].ok, _problems(case_id)
        now.set(DUE - timedelta(seconds=1))
        assert scheduler.run_due() == 0
        now.set(DUE)
        assert scheduler.run_due() == 1
    assert [e.data for e in fired(case_id)] == [{"due": "2026-12-09T23:00:00.000000Z"}]
    assert verify(case_id)[case_id].ok, _problems(case_id)


def _fire_early(db_url, people, monkeypatch) -> int:
    """The old scheduler's fire (it trusted the row): an early timer_fired, well chained."""
    case_id = waiting_date_case(people)
    _move_rows(db_url, case_id, EARLY)
    with monkeypatch.context() as patch:
        patch.setattr(scheduler, "timers", SimpleNamespace(waiting=lambda workflow: []))
        with clock.use(T0 + timedelta(days=1)):
            assert scheduler.run_due() == 1
    return case_id


def test_verify_names_a_timer_fired_before_its_due_time(db_url, people, monkeypatch):
    deploy_date_wait()
    case_id = _fire_early(db_url, people, monkeypatch)
    problems = _problems(case_id)
    assert (
        "de timer ging af op 01-12-2026 10:00:00, vóór het tijdstip dat de workflow hem "
        "geeft (10-12-2026 00:00:00)" in problems
    ), problems


def _replayed(case_id: int, events) -> list[str]:
    with store.unit_of_work() as session:
        version = session.get(models.Case, case_id).process_version
        definition = versions.definition_for(session, version)
    return [str(p) for p in replay.replay_events(definition, case_id, events)[1]]


def test_replay_names_an_early_fire_and_another_due(db_url, people):
    deploy_date_wait()
    case_id = waiting_date_case(people)
    with clock.use(DUE):
        assert scheduler.run_due() == 1
    events = [
        SimpleNamespace(
            **{c: getattr(e, c) for c in ("seq", "at", "actor", "action", "step", "task_id", "data")}
        )
        for e in events_of(case_id)
    ]
    assert _replayed(case_id, events) == []
    at = next(i for i, e in enumerate(events) if e.action == "timer_fired")
    early = list(events)
    early[at] = SimpleNamespace(**{**vars(events[at]), "at": EARLY})
    [problem] = _replayed(case_id, early)
    assert "vóór het tijdstip dat de workflow hem geeft" in problem, problem
    other = list(events)
    other[at] = SimpleNamespace(**{**vars(events[at]), "data": {"due": "2026-11-01T09:00:00.000000Z"}})
    [problem] = _replayed(case_id, other)
    assert "gaat timer 'wacht_datum' af met" in problem, problem


def test_verify_names_a_timer_row_deleted_added_or_moved(db_url, people):
    deploy_date_wait()
    case_id = waiting_date_case(people)
    assert verify(case_id)[case_id].ok
    [row] = _rows(db_url, case_id)
    _move_rows(db_url, case_id, DUE + timedelta(days=30))  # the timer would fire a month late
    assert "de timers-rij van 'wacht_datum'" in _problems(case_id)
    with store.unit_of_work(write=True, url=db_url) as session:
        session.execute(delete(models.Timer).where(models.Timer.case_id == case_id))
    assert "heeft geen rij in de timers-tabel: hij zou nooit afgaan" in _problems(case_id)
    with store.unit_of_work(write=True, url=db_url) as session:
        session.execute(
            insert(models.Timer),
            [
                dict(task_id=row.task_id, case_id=case_id, step=row.step, due_at=DUE),
                dict(task_id="f" * 36, case_id=case_id, step="verzonnen", due_at=DUE),
            ],
        )
    problems = _problems(case_id)
    assert "de timers-tabel heeft een rij 'verzonnen'" in problems, problems
    assert "geen rij" not in problems and "timers-rij" not in problems
    # verify --all reads the rows of a batch in one statement and finds the same
    [verdict] = verification.verify_all(case_ids=[case_id], url=db_url)
    assert [str(p) for p in verdict.problems] == problems.split(" | ")
