"""Static BPMN checks: every element the product does not execute completely is refused with
FILE:LINE: a Dutch message naming the element by its label, through `meldcode check`, the
deploy API and the engine's check alike; the shipped diagram passes.

The real-world cases (tests/fixtures/cases, copies of ../shared/cases) are checked through the
doors a process owner uses; each rule is also shown to fire on a fault planted in the shipped
diagram."""

import io
import subprocess

import pytest
from lxml import etree

from engine import bpmn_checks, definition_xml, definitions, process_admin
from engine.definitions import BPMN_NS, CAMUNDA_NS, NS, SourceFile
from tests.conftest import ROOT, People
from tests.helpers import operator_run

CASES = ROOT / "tests" / "fixtures" / "cases"
SHIPPED_BPMN = ROOT / "processes" / "meldcode.bpmn"
SHIPPED_DMN = ROOT / "processes" / "afwegingskader.dmn"
B = f"{{{BPMN_NS}}}"
C = f"{{{CAMUNDA_NS}}}"

# file -> (the element the problem is about, words of the message)
CASE_VERDICTS = {
    "06-meldcode-parallel-merge-in-loop.bpmn":
        ("gw_melding_start", "wacht op een stroom die niet altijd komt"),
    "09-meldcode-melding-subprocess-collapsed.bpmn":
        ("melding_voorbereiden", "zet de stappen in het hoofdproces"),
    "10-meldcode-call-activity-kindcheck.bpmn":
        ("kindcheck_aanroep", "zet de stappen in het hoofdproces"),
    "11-meldcode-multi-instance-stap2.bpmn":
        ("stap2_overleg", "multi-instance"),
    "12-meldcode-plain-task.bpmn":
        ("leidinggevende_informeren", "taak zonder soort"),
    "14a-meldcode-enum-without-values.bpmn":
        ("stap2_overleg", "keuzeveld zonder opties"),
    "16-meldcode-gateway-self-loop.bpmn":
        ("gw_loop", "lus zonder gebruikerstaak"),
    "17-meldcode-lane-procesbeheerder.bpmn":
        ("lane_pb", "rondt geen taken af"),
}
# what a process owner reads: the label, where the element has one
CASE_LABELS = {
    "09-meldcode-melding-subprocess-collapsed.bpmn": "'Melding bij Veilig Thuis'",
    "10-meldcode-call-activity-kindcheck.bpmn": "'Kindcheck'",
    "12-meldcode-plain-task.bpmn": "'Leidinggevende informeren over de melding'",
    "17-meldcode-lane-procesbeheerder.bpmn": "'Procesbeheerder'",
}


def element_at(content: bytes, line: int) -> str | None:
    return definition_xml.element_for_line(definition_xml.element_ids_by_line(content), line)


def is_about(content: bytes, line: int, element_id: str) -> bool:
    """A problem line is about an element: the element starts there (several may share a
    line), or the line lies inside it (a form field, a loop marker)."""
    element = etree.fromstring(content).xpath(f"//*[@id='{element_id}']")[0]
    return element.sourceline == line or element_at(content, line) == element_id


def assert_case_verdict(name: str, problems: list[dict], file: str | None = None) -> None:
    """`problems` as {"file", "line", "message"}: one names the case's element, in Dutch;
    `file` is the name the door gives the file (the case's own name by default)."""
    element, words = CASE_VERDICTS[name]
    content = (CASES / name).read_bytes()
    hits = [p for p in problems if words in p["message"]
            and is_about(content, p["line"], element)]
    assert hits, problems
    assert all(p["file"] == (file or name) for p in hits)
    if name in CASE_LABELS:
        assert CASE_LABELS[name] in hits[0]["message"]


# --- the cases through the command line and the deploy API ----------------------------------


@pytest.fixture
def cli_env(tmp_path):
    return {"MELDCODE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
            "MELDCODE_INSTANCE": str(tmp_path / "instance")}


def check(*args: str, env: dict):
    """`meldcode check ARGS` with the variables of `env`, in the test process (operator_run)."""
    return operator_run("check", *args, url=env["MELDCODE_DATABASE_URL"], env=env)


@pytest.mark.parametrize("name", sorted(CASE_VERDICTS))
def test_meldcode_check_refuses_each_case(name, cli_env):
    path = CASES / name
    r = check(str(path), str(SHIPPED_DMN), env=cli_env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    problems = []
    for line in r.stdout.splitlines():
        if line.startswith("  "):  # a witness route of a proof problem
            continue
        file, number, message = line.split(":", 2)
        assert file == str(path) and int(number) >= 1 and message.strip(), line
        problems.append({"file": name, "line": int(number), "message": message.strip()})
    assert_case_verdict(name, problems)


@pytest.mark.alone
def test_a_self_looping_gateway_is_refused_quickly():
    # The engine would spin on this diagram for ever: the check must answer at once. It runs in
    # a process of its own, so a hang fails this test instead of blocking the suite.
    program = (
        "import sys, time\n"
        "from engine import definitions\n"
        "files = definitions.read_paths(sys.argv[1:])\n"
        "started = time.monotonic()\n"
        "definition, problems = definitions.check(files)\n"
        "print(time.monotonic() - started)\n"
        "print(*problems, sep='\\n')\n"
    )
    r = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", program,
         str(CASES / "16-meldcode-gateway-self-loop.bpmn"), str(SHIPPED_DMN)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    seconds, *problems = r.stdout.splitlines()
    assert float(seconds) < 3
    assert any("lus zonder gebruikerstaak" in p for p in problems), r.stdout


@pytest.fixture
def api(sqlite_url):
    from webui import create_app

    return create_app({"TESTING": True}).test_client(), People(sqlite_url)


@pytest.mark.parametrize("name", sorted(CASE_VERDICTS))
def test_deploy_api_refuses_each_case_with_422(name, api):
    client, people = api
    body = (CASES / name).read_bytes()
    r = client.post("/api/v1/processes", data={
        "files": [(io.BytesIO(body), name),
                  (io.BytesIO(SHIPPED_DMN.read_bytes()), SHIPPED_DMN.name)]},
        headers=people.auth("pb"), content_type="multipart/form-data")
    assert r.status_code == 422, r.get_data(as_text=True)
    errors = r.json["errors"]
    assert errors and all({"file", "line", "message"} <= set(e) for e in errors)
    assert_case_verdict(name, errors)
    listed = client.get("/api/v1/processes", headers=people.auth("pb")).json
    assert [v["version"] for v in listed] == [1]


def test_the_modelers_check_refuses_each_case(sqlite_url):
    # "Controleren" in the modeler: the diagram as the modeler sends it, nothing stored
    people = People(sqlite_url)
    for name in sorted(CASE_VERDICTS):
        result = process_admin.check_edited(people["pb"],
                                            {"bpmn": (CASES / name).read_text("utf-8")})
        assert result["ok"] is False, name
        assert_case_verdict(name, result["problems"], file=SHIPPED_BPMN.name)


def test_deploy_api_refuses_a_plain_bpmn_body(api):
    # a BPMN-only deploy takes the active version's tables: the same verdict
    client, people = api
    r = client.post("/api/v1/processes", data=(CASES / "12-meldcode-plain-task.bpmn").read_bytes(),
                    headers={**people.auth("pb"), "Content-Type": "application/xml"})
    assert r.status_code == 422
    assert any("taak zonder soort" in e["message"] for e in r.json["errors"])


def test_the_shipped_diagram_passes():
    # (`meldcode check` on the shipped set: tests/webui/test_cli.py)
    definition, problems = definitions.check(definitions.shipped_files())
    assert problems == [] and definition is not None
    source = SourceFile(SHIPPED_BPMN.name, SHIPPED_BPMN.read_bytes())
    assert bpmn_checks.lint(source, etree.fromstring(source.content)) == []


# --- planted faults in the shipped diagram -----------------------------------------------------


def shipped_tree():
    return etree.fromstring(SHIPPED_BPMN.read_bytes())


def node(root, element_id):
    return root.xpath(f"//*[@id='{element_id}']")[0]


def process(root):
    return node(root, "meldcode")


def add_node(root, tag, element_id, name=None, **attrs):
    """A new flow node in the main process, placed where the schema wants it."""
    element = etree.Element(B + tag, id=element_id, **attrs)
    if name:
        element.set("name", name)
    start = node(root, "start_signalen")
    start.addnext(element)
    return element


def add_flow(root, flow_id, source, target, condition=None):
    flow = etree.Element(B + "sequenceFlow", id=flow_id, sourceRef=source, targetRef=target)
    if condition:
        etree.SubElement(flow, B + "conditionExpression").text = condition
    root.xpath("//bpmn:sequenceFlow", namespaces=NS)[-1].addnext(flow)
    return flow


def insert_on(root, flow_id, element):
    """Put `element` (already in the process) on flow `flow_id`: the flow ends at it and a new
    flow goes on from it to where the flow went."""
    flow = node(root, flow_id)
    add_flow(root, flow_id + "_verder", element.get("id"), flow.get("targetRef"))
    flow.set("targetRef", element.get("id"))


def insert_task(root, tag, name="Ingevoegd element", definition=None, flow="sf_stap1_stap2"):
    element = add_node(root, tag, "ingevoegd", name)
    if definition:
        event_definition = etree.SubElement(element, B + definition, id="ingevoegd_def")
        if definition == "linkEventDefinition":
            event_definition.set("name", "naar_stap2")
        if definition == "conditionalEventDefinition":
            etree.SubElement(event_definition, B + "condition").text = "vermoeden == True"
    insert_on(root, flow, element)
    return element


def refused(root) -> list[definitions.Problem]:
    files = [SourceFile("meldcode.bpmn", etree.tostring(root, xml_declaration=True,
                                                        encoding="UTF-8")),
             SourceFile(SHIPPED_DMN.name, SHIPPED_DMN.read_bytes())]
    definition, problems = definitions.check(files)
    assert definition is None and problems, "expected the diagram to be refused"
    for p in problems:
        assert str(p) == f"{p.file}:{p.line}: {p.message}" and p.line >= 1
    return problems


def lint_of(root) -> list[definitions.Problem]:
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return bpmn_checks.lint(SourceFile("meldcode.bpmn", content), etree.fromstring(content))


def assert_refused(root, element_id, *words):
    """The diagram is refused with a problem on the line of `element_id` holding `words`."""
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    problems = refused(root)
    hits = [p for p in problems if all(w in p.message for w in words)
            and is_about(content, p.line, element_id)]
    assert hits, [str(p) for p in problems]
    return hits[0]


@pytest.mark.parametrize("tag,words", [
    ("task", "taak zonder soort"),
    ("manualTask", "handmatige taak"),
    ("sendTask", "verstuurt geen berichten"),
    ("receiveTask", "ontvangt geen berichten"),
    ("serviceTask", "servicetaak"),
    ("complexGateway", "complexe gateway"),
    ("eventBasedGateway", "gebeurtenisgestuurde gateway"),
    ("callActivity", "zet de stappen in het hoofdproces"),
])
def test_elements_nobody_completes_are_refused(tag, words):
    root = shipped_tree()
    insert_task(root, tag, name="Collega bellen")
    hit = assert_refused(root, "ingevoegd", words)
    assert "'Collega bellen'" in hit.message  # named by its label, not its id


@pytest.mark.parametrize("tag,definition,words", [
    ("intermediateCatchEvent", "messageEventDefinition", "berichtgebeurtenis"),
    ("intermediateThrowEvent", "messageEventDefinition", "berichtgebeurtenis"),
    ("intermediateCatchEvent", "signalEventDefinition", "signaalgebeurtenis"),
    ("intermediateThrowEvent", "signalEventDefinition", "signaalgebeurtenis"),
    ("intermediateCatchEvent", "conditionalEventDefinition", "voorwaardelijke gebeurtenis"),
    ("intermediateThrowEvent", "escalationEventDefinition", "escalatiegebeurtenis"),
    ("intermediateThrowEvent", "linkEventDefinition", "koppelingsgebeurtenis"),
    ("intermediateThrowEvent", "compensateEventDefinition", "compensatiegebeurtenis"),
    ("intermediateCatchEvent", None, "wacht op een gebeurtenis zonder te zeggen welke"),
])
def test_events_nothing_fires_are_refused(tag, definition, words):
    root = shipped_tree()
    insert_task(root, tag, name="Wachten op bericht", definition=definition)
    hit = assert_refused(root, "ingevoegd", words)
    assert "'Wachten op bericht'" in hit.message


def test_a_plain_intermediate_event_passes():
    # a milestone without a definition runs straight through in the engine
    root = shipped_tree()
    insert_task(root, "intermediateThrowEvent", name="Signalen vastgelegd")
    assert lint_of(root) == []


@pytest.mark.parametrize("element_id,definition,words", [
    ("start_signalen", "timerEventDefinition", "een casus begint doordat iemand haar start"),
    ("start_signalen", "messageEventDefinition", "berichtgebeurtenis"),
    ("start_signalen", "signalEventDefinition", "signaalgebeurtenis"),
    ("einde_gemeld", "messageEventDefinition", "berichtgebeurtenis"),
    ("einde_gemeld", "signalEventDefinition", "signaalgebeurtenis"),
    ("einde_gemeld", "escalationEventDefinition", "escalatiegebeurtenis"),
])
def test_start_and_end_events_with_a_definition_are_refused(element_id, definition, words):
    root = shipped_tree()
    event = node(root, element_id)
    etree.SubElement(event, B + definition, id="def_x")
    assert_refused(root, element_id, words)


@pytest.mark.parametrize("definition,words", [
    ("messageEventDefinition", "berichtgebeurtenis"),
    ("signalEventDefinition", "signaalgebeurtenis"),
    ("errorEventDefinition", "nooit een fout"),
])
def test_boundary_events_are_refused(definition, words):
    root = shipped_tree()
    boundary = add_node(root, "boundaryEvent", "rappel", "Te laat",
                        attachedToRef="hulp_evalueren", cancelActivity="false")
    etree.SubElement(boundary, B + definition, id="rappel_def")
    end = add_node(root, "endEvent", "rappel_einde")
    add_flow(root, "sf_rappel", "rappel", end.get("id"))
    hit = assert_refused(root, "rappel", words)
    assert "'Te laat'" in hit.message


def test_the_timer_event_as_camunda_modeler_writes_it_is_refused_by_reference():
    # an event may name a definition kept elsewhere in the file
    root = shipped_tree()
    timer = etree.Element(B + "timerEventDefinition", id="drie_maanden")
    node(root, "meldcode").addprevious(timer)
    event = insert_task(root, "intermediateCatchEvent", name="Drie maanden wachten")
    etree.SubElement(event, B + "eventDefinitionRef").text = "drie_maanden"
    assert_refused(root, "ingevoegd", "timerdefinitie elders")


def wrap_in_subprocess(root, tag="subProcess", **attrs):
    """melding_doen inside an expanded sub-process of kind `tag`, on the main route."""
    task = node(root, "melding_doen")
    sub = etree.Element(B + tag, id="melding_sub", name="Melding afronden", **attrs)
    task.addprevious(sub)
    for flow_id in ("sf_samen_melding_doen", "sf_melding_doen_einde"):
        flow = node(root, flow_id)
        flow.set("sourceRef" if flow.get("sourceRef") == "melding_doen" else "targetRef",
                 "melding_sub")
    for ref in task.xpath("bpmn:incoming | bpmn:outgoing", namespaces=NS):
        task.remove(ref)
    etree.SubElement(sub, B + "startEvent", id="sub_start")
    sub.append(task)
    etree.SubElement(sub, B + "endEvent", id="sub_einde")
    etree.SubElement(sub, B + "sequenceFlow", id="sub_1", sourceRef="sub_start",
                     targetRef="melding_doen")
    etree.SubElement(sub, B + "sequenceFlow", id="sub_2", sourceRef="melding_doen",
                     targetRef="sub_einde")
    for ref in root.xpath("//bpmn:flowNodeRef[text()='melding_doen']", namespaces=NS):
        ref.text = "melding_sub"
    return sub


def test_a_user_task_in_a_sub_process_is_refused():
    root = shipped_tree()
    wrap_in_subprocess(root)
    hit = assert_refused(root, "melding_doen", "zet de stappen in het hoofdproces")
    assert "'Melding doen bij Veilig Thuis'" in hit.message and "'Melding afronden'" in hit.message


@pytest.mark.parametrize("tag,attrs,words", [
    ("transaction", {}, "transactie"),
    ("adHocSubProcess", {}, "ad-hocsubproces"),
])
def test_transactions_and_ad_hoc_sub_processes_are_refused(tag, attrs, words):
    root = shipped_tree()
    wrap_in_subprocess(root, tag, **attrs)
    assert_refused(root, "melding_sub", words)


def test_an_event_sub_process_is_refused():
    root = shipped_tree()
    sub = add_node(root, "subProcess", "bij_bericht", "Bij een bericht", triggeredByEvent="true")
    start = etree.SubElement(sub, B + "startEvent", id="bij_bericht_start")
    etree.SubElement(start, B + "messageEventDefinition", id="bij_bericht_def")
    etree.SubElement(sub, B + "endEvent", id="bij_bericht_einde")
    etree.SubElement(sub, B + "sequenceFlow", id="bij_bericht_1", sourceRef="bij_bericht_start",
                     targetRef="bij_bericht_einde")
    assert_refused(root, "bij_bericht", "gebeurtenissubproces")
    assert_refused(root, "bij_bericht_start", "berichtgebeurtenis")


@pytest.mark.parametrize("characteristics", [
    "multiInstanceLoopCharacteristics", "standardLoopCharacteristics"])
def test_repeated_activities_are_refused(characteristics):
    root = shipped_tree()
    task = node(root, "stap4_wegen")
    task.xpath("bpmn:outgoing", namespaces=NS)[-1].addnext(etree.Element(B + characteristics))
    hit = assert_refused(root, "stap4_wegen", "multi-instance of lus")
    assert "'Stap 4: Wegen'" in hit.message


def form_field(root, key):
    return root.xpath(f"//camunda:formField[@id='{key}']", namespaces=NS)[0]


def test_an_enum_field_without_options_is_refused():
    root = shipped_tree()
    field = etree.Element(C + "formField", id="overleg_vorm", label="Vorm", type="enum")
    form_field(root, "overleg_met").addprevious(field)
    hit = assert_refused(root, "stap2_overleg", "keuzeveld zonder opties")
    assert "'overleg_vorm'" in hit.message and "'Stap 2:" in hit.message


@pytest.mark.parametrize("key,change,words", [
    ("vermoeden", {"type": "string"}, "ja/nee-veld"),
    ("acute_onveiligheid", {"type": "enum"}, "ja/nee-veld"),
    ("hulp_effectief", {"type": "long"}, "ja/nee-veld"),
    ("gesprek_uitzondering", {"type": "boolean"}, "keuzeveld"),
    ("gesprek_uitzondering_reden", {"type": "boolean"}, "tekstveld"),
    ("melding_uitzondering_reden", {"type": "date"}, "tekstveld"),
    ("hulp_evaluatiedatum", {"type": "string"}, "datumveld"),
])
def test_contract_variables_keep_their_types(key, change, words):
    root = shipped_tree()
    field = form_field(root, key)
    for name, value in change.items():
        field.set(name, value)
    for value in field.findall(C + "value"):
        field.remove(value)
    owner = field.xpath("ancestor::bpmn:userTask", namespaces=NS)[0].get("id")
    hit = assert_refused(root, owner, words, "contract")
    assert f"'{key}'" in hit.message


@pytest.mark.parametrize("options", [
    ("geen", "veiligheid"),
    ("geen", "veiligheid", "contact_verbreken", "anders"),
    ("ja", "veiligheid", "contact_verbreken"),
])
def test_contract_enum_keeps_its_options(options):
    root = shipped_tree()
    field = form_field(root, "melding_uitzondering")
    for value in field.findall(C + "value"):
        field.remove(value)
    for option in options:
        etree.SubElement(field, C + "value", id=option, name=option)
    assert_refused(root, "melding_voorbereiden", "precies de opties geen, veiligheid, "
                                                 "contact_verbreken")


@pytest.mark.parametrize("key,kind,words", [
    ("terugkoppeling_ontvangen", "string", "ja/nee-veld"),
    ("terugkoppeling_toelichting", "boolean", "tekstveld"),
])
def test_section_5_variables_keep_their_types_when_present(key, kind, words):
    root = shipped_tree()
    form_field(root, "melding_datum").addprevious(
        etree.Element(C + "formField", id=key, label=key, type=kind))
    assert_refused(root, "melding_doen", words)
    # with their contract type they pass
    form_field(root, key).set("type", "boolean" if kind == "string" else "string")
    assert lint_of(root) == []


@pytest.mark.parametrize("role", ["Procesbeheerder", "auditor", "BEHEERDER", "Stagiair"])
def test_a_lane_must_name_a_role_that_completes_tasks(role):
    root = shipped_tree()
    lane = node(root, "lane_leidinggevende")
    lane.set("name", role)
    hit = assert_refused(root, "lane_leidinggevende", "lane")
    assert f"'{role}'" in hit.message and "aandachtsfunctionaris" in hit.message


def test_a_lane_name_is_read_case_insensitively():
    root = shipped_tree()
    node(root, "lane_leidinggevende").set("name", "  LEIDINGGEVENDE ")
    assert lint_of(root) == []


def test_a_cycle_without_a_user_task_is_refused():
    root = shipped_tree()
    first = add_node(root, "exclusiveGateway", "gw_nog_eens", "Nog eens?", default="sf_nog_eens_verder")
    add_node(root, "exclusiveGateway", "gw_terug")
    insert_on(root, "sf_stap1_stap2", first)
    node(root, "sf_stap1_stap2_verder").set("id", "sf_nog_eens_verder")
    add_flow(root, "sf_nog_eens_terug", "gw_nog_eens", "gw_terug", "kindcheck_kinderen == True")
    add_flow(root, "sf_terug", "gw_terug", "gw_nog_eens")
    hit = assert_refused(root, "gw_nog_eens", "lus zonder gebruikerstaak")
    assert "'Nog eens?'" in hit.message


def test_a_cycle_with_a_user_task_passes_the_static_checks():
    # doing stap 3 again is a loop a person walks through, not one the engine spins in
    root = shipped_tree()
    add_flow(root, "sf_gesprek_opnieuw", "gw_zorgen_weggenomen", "stap3_gesprek",
             "gesprek_uitzondering == 'veiligheid'")
    assert lint_of(root) == []


def parallel_block(root):
    """stap 1 -> split -> (extra_a | extra_b) -> join -> stap 2, a user task on each branch,
    and a choice on branch a that comes together again before the join."""
    split = add_node(root, "parallelGateway", "gw_splits", "Tegelijk")
    join = add_node(root, "parallelGateway", "gw_samen", "Beide klaar")
    insert_on(root, "sf_stap1_stap2", split)
    node(root, "sf_stap1_stap2_verder").set("sourceRef", "gw_samen")
    for task_id in ("extra_a", "extra_b"):
        add_node(root, "userTask", task_id, f"Taak {task_id}")
    choice = add_node(root, "exclusiveGateway", "gw_keuze", "Kinderen?", default="sf_keuze_nee")
    add_node(root, "exclusiveGateway", "gw_keuze_samen")
    add_flow(root, "sf_splits_a", "gw_splits", "extra_a")
    add_flow(root, "sf_splits_b", "gw_splits", "extra_b")
    add_flow(root, "sf_a_keuze", "extra_a", choice.get("id"))
    add_flow(root, "sf_keuze_ja", "gw_keuze", "gw_keuze_samen", "kindcheck_kinderen == True")
    add_flow(root, "sf_keuze_nee", "gw_keuze", "gw_keuze_samen")
    add_flow(root, "sf_keuze_samen", "gw_keuze_samen", join.get("id"))
    add_flow(root, "sf_b_samen", "extra_b", "gw_samen")
    return root


def test_a_parallel_block_passes_the_static_checks():
    assert lint_of(parallel_block(shipped_tree())) == []


def test_a_parallel_merge_of_alternatives_is_refused():
    # case 06 planted: the merge of "melden" and "opnieuw melden" as a parallel gateway
    root = shipped_tree()
    node(root, "gw_melding_start").tag = B + "parallelGateway"
    hit = assert_refused(root, "gw_melding_start", "wacht op een stroom die niet altijd komt",
                         "'Melden en/of hulp?'")
    assert "alternatieven" in hit.message


def test_a_parallel_join_where_a_branch_can_turn_away_is_refused():
    root = parallel_block(shipped_tree())
    end = add_node(root, "endEvent", "einde_zijspoor")
    node(root, "sf_keuze_ja").set("targetRef", end.get("id"))
    hit = assert_refused(root, "gw_samen", "wacht op een stroom die niet altijd komt")
    assert "'Kinderen?'" in hit.message


def test_a_parallel_join_that_a_loop_comes_back_to_is_refused():
    root = parallel_block(shipped_tree())
    # after stap 2, the exemption route goes back to the join instead of on
    add_flow(root, "sf_terug_naar_samen", "gw_gesprek_uitzondering", "gw_samen",
             "gesprek_uitzondering == 'veiligheid'")
    hit = assert_refused(root, "gw_samen", "wacht op een stroom die niet altijd komt")
    assert "lus" in hit.message


def test_an_activity_or_gateway_without_a_way_on_is_refused():
    root = shipped_tree()
    flow = node(root, "sf_melding_doen_einde")
    flow.getparent().remove(flow)
    hit = assert_refused(root, "melding_doen", "geen uitgaande stroom")
    assert "'Melding doen bij Veilig Thuis'" in hit.message
    root = shipped_tree()
    for flow in root.xpath("//bpmn:sequenceFlow[@sourceRef='gw_hulp_effectief']", namespaces=NS):
        flow.getparent().remove(flow)
    assert_refused(root, "gw_hulp_effectief", "geen uitgaande stroom")


def test_gateway_problems_name_flows_and_gateways_by_label():
    root = shipped_tree()
    del node(root, "gw_zorgen_weggenomen").attrib["default"]
    hit = assert_refused(root, "sf_zorgen_nee", "heeft geen voorwaarde")
    assert "stroom 'Nee' uit gateway 'Zorgen weggenomen?'" in hit.message


def test_invalid_when_goes_through_the_safe_evaluator():
    """A form rule (invalid_when) is an expression like any condition: refused when unsafe."""
    bpmn = (ROOT / "processes" / "meldcode.bpmn").read_text().replace(
        "acute_onveiligheid == True and vermoeden == False", "__import__('os')")
    files = [definitions.SourceFile("meldcode.bpmn", bpmn.encode()),
             *[f for f in definitions.shipped_files() if f.kind == "dmn"]]
    definition, problems = definitions.check(files, prove=False)
    assert definition is None
    assert [p.message for p in problems if "acute_onveiligheid" in p.message and
            "functie-aanroepen" in p.message], [str(p) for p in problems]


# --- ids the product reserves, and timer texts (issue 13 break-it) ------------------------------


def test_an_element_with_an_id_the_product_reserves_is_refused(cli_env, tmp_path):
    """A user task `consult` was deployable and then taken for the product's own consult task
    (its owner got 403, verify failed): check and deploy refuse the id, naming it."""
    root = shipped_tree()
    task = add_node(root, "userTask", "consult", "Overleg")
    insert_on(root, "sf_stap1_stap2", task)
    hit = assert_refused(root, "consult", "'consult'", "vraag aan een collega", "kies een andere id")
    assert "'Overleg'" in hit.message
    path = tmp_path / "meldcode.bpmn"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    r = check(str(path), str(SHIPPED_DMN), env=cli_env)
    assert r.returncode == 1 and "In orde" not in r.stdout, r.stdout
    [line] = [line for line in r.stdout.splitlines() if "heeft id 'consult'" in line]
    file, number, message = line.split(":", 2)
    assert file == str(path) and is_about(path.read_bytes(), int(number), "consult")
    assert message.startswith(" 'Overleg' heeft id 'consult'"), line


def test_the_reserved_ids_are_the_steps_the_product_gives_a_meaning():
    from engine import cases, consults, tasks

    assert {consults.STEP, tasks.CONSULT, *cases.OWN_TASK_NAMES} <= set(bpmn_checks.RESERVED_IDS)


def boundary_timer(root, kind, text, interrupting=False):
    """A timer on hulp_evalueren's boundary (to an end event) with `text` as its `kind`."""
    boundary = add_node(root, "boundaryEvent", "herinnering", "Herinnering",
                        attachedToRef="hulp_evalueren",
                        cancelActivity="true" if interrupting else "false")
    definition = etree.SubElement(boundary, B + "timerEventDefinition", id="herinnering_def")
    etree.SubElement(definition, B + kind).text = text
    add_node(root, "endEvent", "herinnering_einde")
    add_flow(root, "sf_herinnering", "herinnering", "herinnering_einde")
    return definition[0]


@pytest.mark.parametrize("kind,text,words", [
    ("timeCycle", "R/PT1S", "vaker dan eens per uur"),
    ("timeCycle", "R/PT59M", "vaker dan eens per uur"),
    ("timeCycle", "R5/2027-01-01T09:00/PT10M", "vaker dan eens per uur"),
    ("timeCycle", "0 0 9 * * ?", "alleen ISO 8601"),
    ("timeCycle", "0 9 * * MON-FRI", "alleen ISO 8601"),
    ("timeDate", "9999-12-31", "tussen 01-01-1900 en 31-12-2100"),
    ("timeDate", "0001-01-01", "tussen 01-01-1900 en 31-12-2100"),
    ("timeDuration", "P1Q", "geen duur"),
    ("timeDuration", "  ", "zegt niet wanneer"),
    ("timeDate", "hulp_evaluatiedatum +", "timer van 'Herinnering'"),
])
def test_a_timer_text_the_product_cannot_keep_to_is_refused(kind, text, words):
    """A never-ending timer every second made 86,400 history events a day per case; a cron
    text was refused only by the proof, as 'een gegeven ontbreekt'. Each is refused at the
    timer, saying why (engine/timers.py MIN_CYCLE, text_problem)."""
    root = shipped_tree()
    boundary_timer(root, kind, text)
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    problems = [p for p in lint_of(root) if words in p.message]
    assert problems, [str(p) for p in lint_of(root)]
    assert is_about(content, problems[0].line, "herinnering"), problems
    assert "'Herinnering'" in problems[0].message


@pytest.mark.parametrize("kind,text", [("timeCycle", "R/PT1H"), ("timeCycle", "R3/P1D"),
                                       ("timeDuration", "P5D"), ("timeDate", "2027-01-04"),
                                       ("timeDate", "${hulp_evaluatiedatum}")])
def test_a_timer_text_the_product_keeps_to_passes_the_static_checks(kind, text):
    root = shipped_tree()
    boundary_timer(root, kind, text)
    assert lint_of(root) == []
