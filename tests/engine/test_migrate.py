"""Moving the open cases of one process version to another: proved first, all or nothing,
recorded as `case_migrated`, replayed and verified like every other event."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from engine import cases, migration, models, oversight, store, tasks, versions
from engine.errors import BadRequest, Forbidden, NotFound
from tests.helpers import (
    JOIN,
    STALLING,
    cli,
    events_of,
    planted_files,
    relabelled,
    renamed_files,
    run_sql,
    store_version,
    stuck_case,
    verify,
    walk,
)
from tests.scenarios.paths import fill

SHIPPED = 1  # the conftest deploys the shipped meldcode as version 1


def case_row(case_id: int) -> models.Case:
    with store.unit_of_work() as session:
        return session.get(models.Case, case_id)


def ready_rows(case_id: int) -> list[tuple[str, str, str]]:
    with store.unit_of_work() as session:
        return sorted((r.id, r.step, r.state) for r in session.scalars(
            select(models.TaskRecord).where(models.TaskRecord.case_id == case_id)))


def test_a_stuck_case_moves_to_the_fixed_version_and_closes(people, monkeypatch):
    planted = store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    # A second open case on the same version, still at step 2: it moves along unchanged.
    early = walk(people, cases.start_case(people["mw"], {"client_ref": "C-vroeg"}),
                 STALLING.decisions, stop_at="stap2_overleg")
    (early_task,) = early["tasks"]
    assert cli("verify", "--all").exit_code == 0

    result = cli("migrate", "--from", str(planted), "--to", str(SHIPPED), "--user", "pb")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"casus {stuck['id']}: verplaatst van versie {planted} naar versie {SHIPPED} (kan verder)",
        f"casus {early['id']}: verplaatst van versie {planted} naar versie {SHIPPED} (kan verder)",
        f"2 casus(sen) verplaatst van versie {planted} naar versie {SHIPPED}.",
    ]

    moved = cases.get_case(people["mw"], stuck["id"])
    assert moved["process_version"] == SHIPPED and moved["stalled_at"] is None
    assert [t["step"] for t in moved["tasks"]] == ["melding_doen"]
    last = events_of(stuck["id"])[-1]
    assert (last.action, last.actor, last.data) == (
        "case_migrated", "pb", {"from": planted, "to": SHIPPED})
    assert cli("cases", "--stuck").stdout == ""
    # The other case keeps its open step, under the same task id.
    assert [t["id"] for t in cases.get_case(people["mw"], early["id"])["tasks"]] == [
        early_task["id"]]
    verify_all = cli("verify", "--all")
    assert verify_all.exit_code == 0, verify_all.output

    # Both go on on the new version and close; replay still agrees.
    closed = walk(people, moved, STALLING.decisions)
    assert (closed["status"], closed["uitkomst"]) == ("closed", STALLING.uitkomst)
    closed_early = walk(people, cases.get_case(people["mw"], early["id"]), STALLING.decisions)
    assert closed_early["status"] == "closed"
    verdicts = verify(stuck["id"], early["id"])
    assert all(v.ok for v in verdicts.values()), {c: v.problems for c, v in verdicts.items()}
    # The procesbeheerder's action is in the case's access log.
    with store.unit_of_work() as session:
        lines = session.execute(select(models.AccessLogEntry.user, models.AccessLogEntry.role)
                                .where(models.AccessLogEntry.case_id == stuck["id"],
                                       models.AccessLogEntry.action == "migrate")).all()
    assert lines == [("pb", "procesbeheerder")]


def test_the_auditors_step_through_replays_a_moved_case(people, monkeypatch):
    planted = store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    migration.move_cases(people["pb"], planted, SHIPPED)
    page = oversight.step_through(people["aud"], stuck["id"])
    assert page["verify"]["ok"], page["verify"]["problems"]
    actions = [f["action"] for f in page["frames"]]
    assert actions[-2:] == ["case_stalled", "case_migrated"]
    assert page["frames"][-2]["ready_steps"] == []
    assert page["frames"][-1]["ready_steps"] == ["melding_doen"]
    # The dossier carries both events, in PDF as in JSON (made by webui.documents).
    from flask_babel import force_locale

    from webui import create_app, documents

    with create_app({"TESTING": True}).app_context(), force_locale("nl"):
        content, _ = documents.export(people["aud"], stuck["id"], "json")
        actions = [e["action"] for e in json.loads(content)["history"]]
        assert actions[-2:] == ["case_stalled", "case_migrated"]
        assert documents.export(people["aud"], stuck["id"], "pdf")[0].startswith(b"%PDF")


def test_a_case_still_stuck_on_the_new_version_says_so_again(people, monkeypatch):
    planted = store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    # Another version with the same planted join (only a name differs): the case cannot go on.
    files = planted_files()
    files[0] = type(files[0])(files[0].name, files[0].content.replace(
        b'name="Melding doen bij Veilig Thuis"', b'name="Melding doen"'))
    other = store_version(files, monkeypatch, active=False)
    result = migration.move_cases(people["pb"], planted, other)
    assert result["moved"] == [{"id": stuck["id"], "status": "open", "stalled": True}]
    actions = [(e.action, e.data) for e in events_of(stuck["id"])[-2:]]
    assert actions == [("case_migrated", {"from": planted, "to": other}),
                       ("case_stalled", {"waiting_at": [JOIN]})]
    assert case_row(stuck["id"]).stalled_at is not None
    assert verify(stuck["id"])[stuck["id"]].ok


def test_the_move_is_refused_when_an_open_step_is_missing_and_nothing_changes(people, monkeypatch):
    renamed = store_version(renamed_files("melding_voorbereiden", "melding_klaarzetten"),
                            monkeypatch)
    waiting = walk(people, cases.start_case(people["mw"], {"client_ref": "C-klaar"}),
                   STALLING.decisions, stop_at="melding_klaarzetten")
    assert [t["step"] for t in waiting["tasks"]] == ["melding_klaarzetten"]
    movable = cases.start_case(people["mw"], {"client_ref": "C-begin"})
    before = {c: (case_row(c).event_count, case_row(c).version_id, ready_rows(c))
              for c in (waiting["id"], movable["id"])}

    result = cli("migrate", "--from", str(renamed), "--to", str(SHIPPED), "--user", "pb")
    assert result.exit_code == 1
    assert "niet verplaatst" in result.stderr and "Er is niets gewijzigd." in result.stderr
    assert (f"casus {waiting['id']}: stap 'melding_klaarzetten' staat open maar bestaat niet "
            f"in versie {SHIPPED}") in result.stderr
    assert f"casus {movable['id']}" not in result.stderr
    for case_id, (count, version, rows) in before.items():
        row = case_row(case_id)
        assert (row.event_count, row.version_id, row.process_version) == (count, version, renamed)
        assert ready_rows(case_id) == rows
    assert all(v.ok for v in verify().values())


def test_verify_fails_when_the_move_is_tampered_with(people, monkeypatch, db_url):
    planted = store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    migration.move_cases(people["pb"], planted, SHIPPED)
    seq = events_of(stuck["id"])[-1].seq
    run_sql(db_url, "update history_events set data=:d where case_id=:c and seq=:s",
            d=json.dumps({"from": planted, "to": planted}), c=stuck["id"], s=seq)
    verdict = verify(stuck["id"])[stuck["id"]]
    assert not verdict.ok
    assert verdict.problems == [f"gebeurtenis {seq} (case_migrated): de inhoud is na het "
                                "vastleggen gewijzigd (hash klopt niet)"]


def test_a_case_moved_by_hand_without_an_event_fails_verify(people, monkeypatch, db_url):
    planted = store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    with store.unit_of_work(write=True, url=db_url) as session:
        session.execute(text("update cases set process_version=:v where id=:c"),
                        {"v": SHIPPED, "c": stuck["id"]})
    verdict = verify(stuck["id"])[stuck["id"]]
    # Replayed on the version it claims, the case no longer stalls where its history says.
    assert verdict.problems[:1] == [
        f"gebeurtenis {events_of(stuck['id'])[-1].seq} (case_stalled): de engine komt bij "
        "afspelen niet tot deze stap"], verdict.problems
    assert planted != SHIPPED


def test_only_a_procesbeheerder_moves_cases(people, monkeypatch):
    planted = store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    for name in ("mw", "lg", "af", "aud", "bh"):
        with pytest.raises(Forbidden):
            migration.move_cases(people[name], planted, SHIPPED)
        with pytest.raises(Forbidden):
            migration.move_preview(people[name], planted, SHIPPED)
    refused = cli("migrate", "--from", str(planted), "--to", str(SHIPPED), "--user", "mw")
    assert refused.exit_code == 2 and "geen procesbeheerder" in refused.stderr
    assert case_row(stuck["id"]).process_version == planted


def test_only_a_procesbeheerder_is_named_as_who_deployed(people, tmp_path):
    """`meldcode deploy --user NAME`: a user of the product named must be a procesbeheerder
    (the same rule as migrate); nothing is deployed or activated otherwise."""
    bpmn = tmp_path / "meldcode.bpmn"
    bpmn.write_bytes(relabelled("-door-mw"))
    refused = cli("deploy", str(bpmn), "--user", "mw")
    assert refused.exit_code == 2 and "geen procesbeheerder" in refused.stderr
    with store.unit_of_work() as session:
        assert [v.version for v in versions.list_versions(session)] == [SHIPPED]
    assert cli("deploy", str(bpmn), "--user", "pb").exit_code == 0


def test_versions_that_do_not_exist_or_are_the_same(people):
    with pytest.raises(NotFound, match="Procesversie 9 bestaat niet"):
        migration.move_cases(people["pb"], 9, SHIPPED)
    with pytest.raises(NotFound):
        migration.move_cases(people["pb"], SHIPPED, "x")
    with pytest.raises(BadRequest, match="andere versie"):
        migration.move_cases(people["pb"], SHIPPED, SHIPPED)
    result = cli("migrate", "--from", "1", "--to", "9")
    assert result.exit_code == 2 and "Procesversie 9 bestaat niet" in result.stderr


def test_the_preview_proves_without_writing(people, monkeypatch):
    planted = store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    count = case_row(stuck["id"]).event_count
    preview = migration.move_preview(people["pb"], planted, SHIPPED)
    assert preview == {"from": planted, "to": SHIPPED, "cases": [stuck["id"]],
                       "stuck": [stuck["id"]], "problems": [], "ready": True}
    assert case_row(stuck["id"]).event_count == count


def test_moved_steps_take_the_new_versions_name(people, monkeypatch):
    """A ready step keeps its task id; its row shows the step as the new version names it."""
    files = renamed_files('name="Stap 1: Signalen in kaart brengen"', 'name="Stap 1: Signalen"')
    older = store_version(files, monkeypatch)
    case = cases.start_case(people["mw"], {"client_ref": "C-naam"})
    (task,) = case["tasks"]
    assert task["name"] == "Stap 1: Signalen"
    migration.move_cases(people["pb"], older, SHIPPED)
    (moved,) = cases.get_case(people["mw"], case["id"])["tasks"]
    assert moved["id"] == task["id"] and moved["name"] == "Stap 1: Signalen in kaart brengen"
    form = tasks.get_task(people["mw"], moved["id"])["form"]["fields"]
    after = tasks.complete_task(people["mw"], moved["id"], fill(form, STALLING.decisions))
    assert [t["step"] for t in after["tasks"]] == ["stap2_overleg"]
    assert verify(case["id"])[case["id"]].ok



def test_a_renamed_step_the_case_went_through_is_aligned_by_its_place(people, monkeypatch):
    """SpiffWorkflow aligns an element whose id changed by its place between the same
    neighbours; the case goes on, and replay makes the same alignment."""
    renamed = store_version(renamed_files("melding_voorbereiden", "melding_klaarzetten"),
                            monkeypatch)
    talk_first = {**STALLING.decisions, "melding_uitzondering": "geen"}
    case = walk(people, cases.start_case(people["mw"], {"client_ref": "C-later"}),
                talk_first, stop_at="melding_voorbespreken")
    assert "melding_klaarzetten" in case["completed_steps"]
    migration.move_cases(people["pb"], renamed, SHIPPED)
    closed = walk(people, cases.get_case(people["mw"], case["id"]), talk_first)
    assert closed["status"] == "closed"
    assert verify(case["id"])[case["id"]].ok, verify(case["id"])[case["id"]].problems


def with_extra_step() -> list:
    """The shipped meldcode with one more user task between the melding's preparation and its
    exemption question: a step that exists nowhere in the shipped version."""
    from lxml import etree

    from engine import definitions

    files = definitions.shipped_files()
    bpmn = next(f for f in files if f.kind == "bpmn")
    root = etree.fromstring(bpmn.content)
    ns = {"bpmn": definitions.BPMN_NS}
    process = root.find("bpmn:process", ns)
    flow = process.find("bpmn:sequenceFlow[@id='sf_voorbereiden_uitzondering_gw']", ns)
    flow.set("targetRef", "melding_extra")
    # Beside the flow it splits: the schema wants flow elements before the artifacts.
    flow.addnext(etree.Element(f"{{{definitions.BPMN_NS}}}sequenceFlow", id="sf_extra",
                               sourceRef="melding_extra", targetRef="gw_melding_uitzondering"))
    flow.addnext(etree.Element(f"{{{definitions.BPMN_NS}}}userTask", id="melding_extra",
                               name="Extra controle"))
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return [type(bpmn)(bpmn.name, content), *[f for f in files if f.kind == "dmn"]]


def test_the_move_is_refused_when_a_step_the_case_went_through_is_gone(people, monkeypatch):
    """Its open step exists in the target, but the route it took does not: the proof on the
    workflow itself refuses what the cheap check on open steps lets through."""
    extra = store_version(with_extra_step(), monkeypatch)
    talk_first = {**STALLING.decisions, "melding_uitzondering": "geen"}
    case = walk(people, cases.start_case(people["mw"], {"client_ref": "C-extra"}),
                talk_first, stop_at="melding_voorbespreken")
    assert "melding_extra" in case["completed_steps"]
    count = case_row(case["id"]).event_count
    preview = migration.move_preview(people["pb"], extra, SHIPPED)
    assert preview["problems"] == [
        f"casus {case['id']}: element 'melding_extra' waar de casus al langs kwam, bestaat niet "
        "in de nieuwe versie"]
    with pytest.raises(migration.MoveRefused):
        migration.move_cases(people["pb"], extra, SHIPPED)
    assert (case_row(case["id"]).process_version, case_row(case["id"]).event_count) == (extra, count)


def shipped_with_a_wait_before_the_melding() -> list:
    """The shipped meldcode with a one-hour timer between the melding's merge and melding_doen:
    a case moved here from the planted version goes on to that timer in the move itself."""
    from lxml import etree

    from engine.definitions import SourceFile, shipped_files

    files = shipped_files()
    bpmn = next(f for f in files if f.kind == "bpmn")
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    b = "{" + ns["bpmn"] + "}"
    root = etree.fromstring(bpmn.content)
    [flow] = root.xpath(f"//bpmn:sequenceFlow[@sourceRef='{JOIN}']", namespaces=ns)
    target, flow.attrib["targetRef"] = flow.get("targetRef"), "wacht_voor_melding"
    event = etree.Element(b + "intermediateCatchEvent", id="wacht_voor_melding", name="Wacht")
    etree.SubElement(etree.SubElement(event, b + "timerEventDefinition"),
                     b + "timeDuration").text = "PT1H"
    flow.addnext(event)
    event.addnext(etree.Element(b + "sequenceFlow", id="sf_wacht_melding",
                                sourceRef="wacht_voor_melding", targetRef=target))
    [lane] = root.xpath(f"//bpmn:lane[bpmn:flowNodeRef='{JOIN}']", namespaces=ns)
    etree.SubElement(lane, b + "flowNodeRef").text = "wacht_voor_melding"
    return [SourceFile(bpmn.name, etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
            ] + [f for f in files if f.kind != "bpmn"]


def test_a_timer_the_move_reaches_fires_from_the_moves_time(people, monkeypatch):
    """A timer that a case reaches in its move gets a row, timed from the move's event (so the
    scheduler fires it and replay agrees), not from whenever the engine happened to run."""
    from datetime import timedelta

    from engine import clock, scheduler

    planted = store_version(planted_files(), monkeypatch)
    stuck = stuck_case(people)
    fixed = store_version(shipped_with_a_wait_before_the_melding(), monkeypatch)
    with clock.use(clock.ManualClock(clock.now())) as now:
        migration.move_cases(people["pb"], planted, fixed)
        moved_at = events_of(stuck["id"])[-1].at
        with store.unit_of_work() as session:
            rows = [(t.step, t.due_at) for t in session.scalars(
                select(models.Timer).where(models.Timer.case_id == stuck["id"]))]
        assert [step for step, _ in rows] == ["wacht_voor_melding"]
        assert verify(stuck["id"])[stuck["id"]].ok
        now.advance(timedelta(minutes=59))
        assert scheduler.run_due() == 0
        now.advance(timedelta(minutes=2))
        assert scheduler.run_due() == 1
    fired = events_of(stuck["id"])[-1]
    assert fired.action == "timer_fired" and fired.step == "wacht_voor_melding"
    assert fired.data["due"].startswith((moved_at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    assert [t["step"] for t in cases.get_case(people["mw"], stuck["id"])["tasks"]] == [
        "melding_doen"]
    assert verify(stuck["id"])[stuck["id"]].ok


def shipped_without_the_evaluation_wait() -> list:
    """The shipped meldcode without the wait for the evaluation date: hulp_organiseren goes
    straight to hulp_evalueren (the reviewer's v3.bpmn of issue 13)."""
    from lxml import etree

    from engine.definitions import SourceFile, shipped_files

    files = shipped_files()
    bpmn = next(f for f in files if f.kind == "bpmn")
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    root = etree.fromstring(bpmn.content)
    gone = ("wacht_evaluatiedatum", "sf_evaluatiedatum_evalueren")
    for node in root.xpath("//*[@id=$a or @id=$b or @bpmnElement=$a or @bpmnElement=$b]",
                           a=gone[0], b=gone[1]):
        node.getparent().remove(node)
    for ref in root.xpath("//bpmn:flowNodeRef[text()='wacht_evaluatiedatum']", namespaces=ns):
        ref.getparent().remove(ref)
    [flow] = root.xpath("//bpmn:sequenceFlow[@id='sf_hulp_organiseren_evalueren']",
                        namespaces=ns)
    flow.set("targetRef", "hulp_evalueren")
    [incoming] = root.xpath("//bpmn:userTask[@id='hulp_evalueren']/bpmn:incoming[text()="
                            "'sf_evaluatiedatum_evalueren']", namespaces=ns)
    incoming.text = "sf_hulp_organiseren_evalueren"
    return [SourceFile(bpmn.name, etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
            ] + [f for f in files if f.kind != "bpmn"]


def test_a_refused_move_names_the_element_that_is_really_missing(people, monkeypatch):
    """A case waiting for its evaluation date cannot move to a version without that wait: the
    refusal names the wait (wacht_evaluatiedatum), not hulp_evalueren, which the new version
    has (issue 13 break-it)."""
    from datetime import timedelta

    from engine import clock
    from tests.scenarios.paths import SCENARIOS

    help_only = next(s for s in SCENARIOS if s.name == "alleen_hulp_effectief")
    later = (clock.now() + timedelta(days=30)).date().isoformat()
    case = walk(people, cases.start_case(people["mw"], {"client_ref": "C-wacht"}),
                {**help_only.decisions, "hulp_evaluatiedatum": later})
    assert "hulp_organiseren" in case["completed_steps"] and case["status"] == "open"
    without = store_version(shipped_without_the_evaluation_wait(), monkeypatch)
    result = cli("migrate", "--from", str(SHIPPED), "--to", str(without), "--user", "pb")
    assert result.exit_code != 0
    assert "'wacht_evaluatiedatum'" in result.output, result.output
    assert "'hulp_evalueren'" not in result.output, result.output
    assert case_row(case["id"]).process_version == SHIPPED


def shipped_without_the_forms_of_violence() -> list:
    """The shipped meldcode as a release before geweldsvormen had it: stap 1 without that
    field (its gateway after stap 2 reads it all the same, as the new version does)."""
    import re

    from engine import definitions
    from engine.definitions import SourceFile

    files = definitions.shipped_files()
    bpmn = next(f for f in files if f.kind == "bpmn")
    xml, count = re.subn(r'<camunda:formField id="geweldsvormen".*?</camunda:formField>\s*', "",
                         bpmn.content.decode(), flags=re.S)
    assert count == 1, "the shipped stap 1 no longer asks geweldsvormen"
    return [SourceFile(bpmn.name, xml.encode()), *[f for f in files if f.kind == "dmn"]]


def test_a_case_moved_to_a_version_that_added_a_field_goes_on(people, monkeypatch):
    """A case past stap 1 on a version without geweldsvormen, moved to the shipped version:
    the field it never answered takes its default ([]), so the gateway after stap 2 that
    reads it decides instead of stopping every completion with an unknown variable; the
    move and what follows replay and verify."""
    from tests.scenarios.paths import LONGEST

    older = store_version(shipped_without_the_forms_of_violence(), monkeypatch)
    case = walk(people, cases.start_case(people["mw"], {"client_ref": "C-ouder"}),
                LONGEST.decisions, stop_at="stap2_overleg")
    assert case["process_version"] == older
    migration.move_cases(people["pb"], older, SHIPPED)
    closed = walk(people, cases.get_case(people["mw"], case["id"]), LONGEST.decisions)
    assert (closed["status"], closed["uitkomst"]) == ("closed", LONGEST.uitkomst)
    verdicts = verify(case["id"])
    assert all(v.ok for v in verdicts.values()), {c: v.problems for c, v in verdicts.items()}


def _walk_alone(people, case: dict, decisions: dict, stop_at: str | None = None) -> dict:
    """A practice case walked by its owner (mw), who completes every lane's task in it."""
    from tests.helpers import TEAM_STEPS

    while case["tasks"]:
        task = next((t for t in case["tasks"] if t["step"] in TEAM_STEPS), case["tasks"][0])
        if task["step"] == stop_at:
            return case
        form = tasks.get_task(people["mw"], task["id"])["form"]["fields"]
        case = tasks.complete_task(people["mw"], task["id"], fill(form, decisions))
    return case


def test_practice_cases_are_not_moved_listed_or_counted(people, monkeypatch):
    """Practice mode's fictional cases (engine/practice.py) stay on their version: a practice
    case at a step the target lacks does not hold up the move of the real cases, a stuck one is
    not among the stuck cases of the versions page nor of `meldcode cases --stuck`, and the
    versions page counts the real open cases only, as the move moves them."""
    from engine import practice, process_admin

    renamed = store_version(renamed_files("melding_voorbereiden", "melding_klaarzetten"),
                            monkeypatch)
    oefen = _walk_alone(people, practice.start(people["mw"], "peuter"), STALLING.decisions,
                        stop_at="melding_klaarzetten")
    assert [t["step"] for t in oefen["tasks"]] == ["melding_klaarzetten"]
    real = cases.start_case(people["mw"], {"client_ref": "C-echt"})
    page = process_admin.versions_page(people["pb"])
    assert {v["version"]: v["open_cases"] for v in page["versions"]}[renamed] == 1
    preview = migration.move_preview(people["pb"], renamed, SHIPPED)
    assert (preview["cases"], preview["problems"], preview["ready"]) == ([real["id"]], [], True)
    result = migration.move_cases(people["pb"], renamed, SHIPPED)
    assert [m["id"] for m in result["moved"]] == [real["id"]]
    assert case_row(oefen["id"]).process_version == renamed
    assert "case_migrated" not in [e.action for e in events_of(oefen["id"])]
    # a stuck practice case is nobody's work on the versions page
    planted = store_version(planted_files(), monkeypatch)
    vast = _walk_alone(people, practice.start(people["mw"], "geld"), STALLING.decisions)
    assert case_row(vast["id"]).stalled_at is not None
    assert migration.stuck_per_version(people["pb"]) == {}
    assert cli("cases", "--stuck").stdout == ""
    real_stuck = stuck_case(people)
    assert migration.stuck_per_version(people["pb"])[planted]["ids"] == [real_stuck["id"]]
    assert all(v.ok for v in verify().values())
