"""A case that can no longer go on is never silent: the engine records where it waits
(`case_stalled`, cases.stalled_at), `meldcode cases --stuck` lists it, and verify replays it.

A stall is planted in a version that today's deploy checks would refuse: the melding's merge
after 'Uitzondering op voorbespreken?' made a parallel gateway, which waits for the flow of
the branch that was not taken. It stands for a version deployed before those checks existed,
so it is stored as a row, as a deploy of that time stored it.
"""

from __future__ import annotations

import re

from click.testing import CliRunner
from sqlalchemy import func, select

from engine import definitions, runtime, store
from engine.definitions import SourceFile
from tests.scenarios.paths import SCENARIOS, fill
from webui.cli import main as meldcode

# The melding without talking it through first: the route that meets the planted join.
STALLING = next(s for s in SCENARIOS if s.name == "hulp_niet_aanvaard_melden_zonder_voorbespreken")
JOIN = "gw_melding_samen"
LANE_PEOPLE = {"medewerker": "mw", "leidinggevende": "lg", "aandachtsfunctionaris": "af"}


def planted_files() -> list[SourceFile]:
    """The shipped meldcode with the melding's merge made a parallel join."""
    files = definitions.shipped_files()
    bpmn = next(f for f in files if f.kind == "bpmn")
    xml, count = re.subn(
        rf'<bpmn:exclusiveGateway id="{JOIN}"([^>]*)>(.*?)</bpmn:exclusiveGateway>',
        rf'<bpmn:parallelGateway id="{JOIN}"\1>\2</bpmn:parallelGateway>',
        bpmn.content.decode(), flags=re.S)
    assert count == 1, "the shipped diagram no longer merges the melding at " + JOIN
    return [SourceFile(bpmn.name, xml.encode()), *[f for f in files if f.kind == "dmn"]]


def renamed_files(old: str, new: str) -> list[SourceFile]:
    """The shipped meldcode with one user task's id renamed (a step another version lacks)."""
    files = definitions.shipped_files()
    return [SourceFile(f.name, f.content.replace(old.encode(), new.encode()))
            if f.kind == "bpmn" else f for f in files]


def store_version(files: list[SourceFile], monkeypatch, active: bool = True,
                  parse: bool = True) -> int:
    """Store a file set as a version row, the way a deploy of an earlier release did, without
    today's checks. A stored version loads without those checks (definitions.parse_stored),
    so a stricter check of a later release never strands the cases on it."""
    if parse:
        definitions.cached(definitions.set_sha256(files), lambda: files)
    with store.unit_of_work(write=True) as session:
        number = (session.scalar(select(func.max(store.ProcessVersion.version))) or 0) + 1
        if active:
            for row in session.scalars(select(store.ProcessVersion)):
                row.active = False
        row = store.ProcessVersion(version=number, sha256=definitions.set_sha256(files),
                                   deployed_by="vorige release", active=active)
        row.files = [store.ProcessFile(name=f.name, kind=f.kind, sha256=f.sha256,
                                       content=f.content) for f in files]
        session.add(row)
    return number


def activate(number: int) -> None:
    with store.unit_of_work(write=True) as session:
        for row in session.scalars(select(store.ProcessVersion)):
            row.active = row.version == number


def walk(people, case: dict, decisions: dict, stop_at: str | None = None) -> dict:
    """Complete ready tasks as their people would, with the scenario's answers, until none is
    ready (or the step stop_at is ready)."""
    while case["tasks"]:
        task = case["tasks"][0]
        if task["step"] == stop_at:
            return case
        who = people[LANE_PEOPLE[task["lane"]]]
        form = runtime.get_task(who, task["id"])["form"]["fields"]
        case = runtime.complete_task(who, task["id"], fill(form, decisions))
    return case


def stuck_case(people, ref: str = "C-vast") -> dict:
    case = runtime.start_case(people["mw"], {"client_ref": ref, "reason": "zorgen"})
    return walk(people, case, STALLING.decisions)


def events_of(case_id: int) -> list[store.HistoryEvent]:
    with store.unit_of_work() as session:
        return list(session.scalars(select(store.HistoryEvent).where(
            store.HistoryEvent.case_id == case_id).order_by(store.HistoryEvent.seq)))


def verify(*case_ids: int):
    from engine import replay

    with store.unit_of_work() as session:
        return {v.case_id: v for v in replay.verify_all(session, list(case_ids) or None)}


def cli(*args: str):
    return CliRunner().invoke(meldcode, list(args), catch_exceptions=False)


# --- the engine records a stall ------------------------------------------------------------------


def test_a_stall_is_recorded_with_where_the_case_waits(people, monkeypatch):
    version = store_version(planted_files(), monkeypatch)
    case = stuck_case(people)
    assert case["status"] == "open" and case["tasks"] == []
    assert case["stalled_at"] is not None
    assert case["completed_steps"][-1] == "melding_voorbereiden"
    last = events_of(case["id"])[-1]
    assert (last.action, last.actor, last.data) == ("case_stalled", "systeem", {"waiting_at": [JOIN]})
    with store.unit_of_work() as session:
        row = session.get(store.Case, case["id"])
        assert row.stalled_at is not None and row.process_version == version
    # The API and the case page read the same marker.
    assert runtime.get_case(people["mw"], case["id"])["stalled_at"] == case["stalled_at"]
    assert verify(case["id"])[case["id"]].ok, verify(case["id"])[case["id"]].problems


def test_a_case_that_goes_on_is_not_marked(people):
    case = runtime.start_case(people["mw"], {"client_ref": "C-gewoon"})
    assert case["stalled_at"] is None
    case = walk(people, case, STALLING.decisions)
    assert case["status"] == "closed" and case["stalled_at"] is None
    assert "case_stalled" not in [e.action for e in events_of(case["id"])]


def test_verify_fails_when_the_marker_or_the_stall_event_is_tampered_with(people, monkeypatch):
    store_version(planted_files(), monkeypatch)
    case = stuck_case(people)
    with store.unit_of_work(write=True) as session:
        session.get(store.Case, case["id"]).stalled_at = None
    verdict = verify(case["id"])[case["id"]]
    assert not verdict.ok and any("staat vast" in p for p in verdict.problems), verdict.problems


TIMER_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  <bpmn:process id="meldcode" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wacht_twee_weken">
      <bpmn:timerEventDefinition>
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'P14D'</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="hulp_evalueren"/>
    <bpmn:endEvent id="einde"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wacht_twee_weken"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wacht_twee_weken" targetRef="hulp_evalueren"/>
    <bpmn:sequenceFlow id="f3" sourceRef="hulp_evalueren" targetRef="einde"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_waiting_timer_is_not_a_stall():
    """A timer the scheduler will fire keeps the case going (no product timers yet: the
    diagram is run on the bare engine)."""
    from lxml import etree
    from SpiffWorkflow.bpmn import BpmnWorkflow

    parser = definitions.MeldcodeParser()
    parser.add_bpmn_xml(etree.fromstring(TIMER_BPMN.encode()).getroottree(), filename="t.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("meldcode"), script_engine=runtime.SCRIPT_ENGINE)
    workflow.do_engine_steps()
    assert not workflow.is_completed()
    assert [t.task_spec.bpmn_id for t in workflow.get_tasks(state=runtime.TaskState.WAITING)] == [
        "wacht_twee_weken"]
    assert runtime.stall_of(workflow) is None


def test_stall_of_names_the_waiting_join(monkeypatch):
    files = planted_files()
    definition = definitions.cached(definitions.set_sha256(files), lambda: files)
    ids = runtime.IdSource(1)
    workflow, advance = runtime.start_workflow(definition, ids)
    while advance.ready:
        task = advance.ready[0]
        fields = [f.as_dict() for f in definition.steps[task.task_spec.bpmn_id].fields]
        from engine import forms

        data = forms.validate(definition.steps[task.task_spec.bpmn_id].fields,
                              fill(fields, STALLING.decisions))
        advance = runtime.complete_in_workflow(workflow, str(task.id), data, ids)
    assert advance.stall == [JOIN] == runtime.stall_of(workflow)


# --- meldcode cases --stuck ----------------------------------------------------------------------


def test_cases_stuck_lists_id_version_since_and_where(people, monkeypatch):
    assert cli("cases", "--stuck").output == "Geen vastgelopen casussen.\n"
    version = store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    runtime.start_case(people["mw"], {"client_ref": "C-loopt"})  # open, but not stuck
    result = cli("cases", "--stuck")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{stuck['id']}\t{version}\t{stuck['stalled_at']}\t{JOIN}"]
    everything = cli("cases")
    assert everything.exit_code == 0
    assert len(everything.stdout.splitlines()) == 2
    assert f"{stuck['id']}\t{version}\t" in everything.stdout


def test_cases_help_is_dutch():
    result = cli("cases", "--help")
    assert "vastzitten" in result.output and "Alleen vastgelopen casussen." in result.output


def test_cases_stuck_as_an_operator_runs_it(people, monkeypatch, db_url):
    """The installed command in its own process: it reads rows only, no workflow."""
    from tests.conftest import meldcode_cli

    store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    result = meldcode_cli("cases", "--stuck", env={"MELDCODE_DATABASE_URL": db_url})
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.split("\t")[0] == str(stuck["id"]) and line.endswith("\t" + JOIN)


def test_a_version_that_no_longer_loads_is_a_finding_not_a_crash(people, db_url):
    """verify --all names the case whose version can no longer be read, and checks the
    others."""
    from sqlalchemy import text

    # A stored version whose BPMN was cut short in the database: it no longer parses.
    files = planted_files()
    files[0] = SourceFile(files[0].name, files[0].content[:2000])
    broken = store_version(files, None, active=False, parse=False)
    activate(1)
    lost = runtime.start_case(people["mw"], {"client_ref": "C-kwijt"})
    fine = runtime.start_case(people["mw"], {"client_ref": "C-goed"})
    with store.unit_of_work(write=True, url=db_url) as session:
        session.execute(text("update cases set process_version=:v where id=:c"),
                        {"v": broken, "c": lost["id"]})
    verdicts = verify()
    assert verdicts[fine["id"]].ok
    (problem,) = verdicts[lost["id"]].problems
    assert problem.startswith(f"procesversie {broken} laat zich niet laden: ")
    result = cli("verify", "--all")
    assert result.exit_code == 1
    assert f"casus {lost['id']}: NIET IN ORDE" in result.stdout
    assert f"casus {fine['id']}: in orde" in result.stdout
