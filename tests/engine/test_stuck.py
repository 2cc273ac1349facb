"""A case that can no longer go on is never silent: the engine records where it waits
(`case_stalled`, cases.stalled_at), `meldcode cases --stuck` lists it, and verify replays it.

A stall is planted in a version that today's deploy checks would refuse: the melding's merge
after 'Uitzondering op voorbespreken?' made a parallel gateway, which waits for the flow of
the branch that was not taken. It stands for a version deployed before those checks existed,
so it is stored as a row, as a deploy of that time stored it.
"""

from __future__ import annotations

from engine import adapter, cases, definitions, driving, models, store
from engine.definitions import SourceFile
from tests.helpers import (
    JOIN,
    STALLING,
    activate,
    cli,
    events_of,
    planted_files,
    store_version,
    stuck_case,
    verify,
    walk,
)
from tests.scenarios.paths import fill

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
        row = session.get(models.Case, case["id"])
        assert row.stalled_at is not None and row.process_version == version
    # The API and the case page read the same marker.
    assert cases.get_case(people["mw"], case["id"])["stalled_at"] == case["stalled_at"]
    assert verify(case["id"])[case["id"]].ok, verify(case["id"])[case["id"]].problems


def test_a_case_that_goes_on_is_not_marked(people):
    case = cases.start_case(people["mw"], {"client_ref": "C-gewoon"})
    assert case["stalled_at"] is None
    case = walk(people, case, STALLING.decisions)
    assert case["status"] == "closed" and case["stalled_at"] is None
    assert "case_stalled" not in [e.action for e in events_of(case["id"])]


def test_verify_fails_when_the_marker_or_the_stall_event_is_tampered_with(people, monkeypatch):
    store_version(planted_files(), monkeypatch)
    case = stuck_case(people)
    with store.unit_of_work(write=True) as session:
        session.get(models.Case, case["id"]).stalled_at = None
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
    from SpiffWorkflow.util.task import TaskState

    from engine.expressions import SCRIPT_ENGINE

    parser = definitions.MeldcodeParser()
    parser.add_bpmn_xml(etree.fromstring(TIMER_BPMN.encode()).getroottree(), filename="t.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("meldcode"), script_engine=SCRIPT_ENGINE)
    workflow.do_engine_steps()
    assert not workflow.is_completed()
    assert [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.WAITING)] == [
        "wacht_twee_weken"]
    assert driving.stall_of(workflow) is None


def test_stall_of_names_the_waiting_join(monkeypatch):
    files = planted_files()
    definition = definitions.cached(definitions.set_sha256(files), lambda: files)
    ids = adapter.IdSource(1)
    workflow, advance = driving.start_workflow(definition, ids)
    while advance.ready:
        task = advance.ready[0]
        fields = [f.as_dict() for f in definition.steps[task.task_spec.bpmn_id].fields]
        from engine import forms

        data = forms.validate(definition.steps[task.task_spec.bpmn_id].fields,
                              fill(fields, STALLING.decisions))
        advance = driving.complete_in_workflow(workflow, str(task.id), data, ids)
    assert advance.stall == [JOIN] == driving.stall_of(workflow)


# --- meldcode cases --stuck ----------------------------------------------------------------------


def test_cases_stuck_lists_id_version_since_and_where(people, monkeypatch):
    assert cli("cases", "--stuck").output == "Geen vastgelopen casussen.\n"
    version = store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    cases.start_case(people["mw"], {"client_ref": "C-loopt"})  # open, but not stuck
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
    lost = cases.start_case(people["mw"], {"client_ref": "C-kwijt"})
    fine = cases.start_case(people["mw"], {"client_ref": "C-goed"})
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
