"""Timers rows changed by hand (issue 11 tamper evidence, issue 13 F4): the timers table only
mirrors the workflow's waiting timers (models.Timer), so the scheduler fires a timer only when
the workflow says it is due and corrects a row that claims earlier (engine/scheduler.py);
replay names a timer_fired event before its due time (engine/replay.py); verify names rows
missing, extra or moved (engine/verification.py). SQLite and PostgreSQL, the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from lxml import etree
from sqlalchemy import delete, insert, select, update

from engine import cases, clock, models, replay, scheduler, store, tasks, verification, versions
from engine.definitions import SourceFile
from tests.conftest import ROOT
from tests.helpers import events_of, verify
from tests.scenarios.paths import fill

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn"}
B, C = "{" + NS["bpmn"] + "}", "{" + NS["camunda"] + "}"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Amsterdam


def _one(root, xpath):
    [found] = root.xpath(xpath, namespaces=NS)
    return found


def deploy_timers() -> int:
    """The shipped meldcode with, between stap 1 and stap 2, a wait until `wachten_tot` (a
    required date field of stap 1), deployed as a process owner does."""
    root = etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())
    process = _one(root, "//bpmn:process[@id='meldcode']")
    form = _one(root, "//bpmn:userTask[@id='stap1_signalen']//camunda:formData")
    field = etree.SubElement(form, C + "formField", id="wachten_tot", label="Wachten tot", type="date")
    etree.SubElement(etree.SubElement(field, C + "validation"), C + "constraint", name="required")
    _one(root, "//bpmn:sequenceFlow[@id='sf_stap1_stap2']").set("targetRef", "wacht_datum")
    last = process.xpath("bpmn:sequenceFlow", namespaces=NS)[-1]
    event = etree.Element(B + "intermediateCatchEvent", id="wacht_datum", name="wacht_datum")
    definition = etree.SubElement(event, B + "timerEventDefinition", id="wacht_datum_def")
    etree.SubElement(definition, B + "timeDate").text = "wachten_tot"
    definition[0].set("{http://www.w3.org/2001/XMLSchema-instance}type", "bpmn:tFormalExpression")
    last.addnext(event)
    event.addnext(
        etree.Element(
            B + "sequenceFlow", id="sf_datum_stap2", sourceRef="wacht_datum", targetRef="stap2_overleg"
        )
    )
    lane = _one(root, "//bpmn:lane[@id='lane_medewerker']")
    etree.SubElement(lane, B + "flowNodeRef").text = "wacht_datum"
    files = [
        SourceFile("meldcode.bpmn", etree.tostring(root, xml_declaration=True, encoding="UTF-8")),
        SourceFile("afwegingskader.dmn", (ROOT / "processes" / "afwegingskader.dmn").read_bytes()),
    ]
    return versions.deploy_files(files, by="pb")["version"]


def fired(case_id: int) -> list[models.HistoryEvent]:
    return [e for e in events_of(case_id) if e.action == "timer_fired"]


# wachten_tot 2026-12-10: due at 00:00 Amsterdam, 9 Dec 23:00 UTC
DUE = datetime(2026, 12, 9, 23, 0, tzinfo=UTC)
EARLY = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _waiting_case(people) -> int:
    """A case waiting at wacht_datum until 10 Dec 2026 (DUE)."""
    with clock.use(T0):
        case = cases.start_case(people["mw"], {"client_ref": "C-timer", "reason": "zorgen"})
        [task] = case["tasks"]
        form = tasks.get_task(people["mw"], task["id"])["form"]["fields"]
        tasks.complete_task(people["mw"], task["id"], fill(form, {"wachten_tot": "2026-12-10"}))
        return case["id"]


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
    deploy_timers()
    case_id = _waiting_case(people)
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
    case_id = _waiting_case(people)
    _move_rows(db_url, case_id, EARLY)
    with monkeypatch.context() as patch:
        patch.setattr(scheduler, "timers", SimpleNamespace(waiting=lambda workflow: []))
        with clock.use(T0 + timedelta(days=1)):
            assert scheduler.run_due() == 1
    return case_id


def test_verify_names_a_timer_fired_before_its_due_time(db_url, people, monkeypatch):
    deploy_timers()
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
    deploy_timers()
    case_id = _waiting_case(people)
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
    deploy_timers()
    case_id = _waiting_case(people)
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
