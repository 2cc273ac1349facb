"""Decision tables as process owners bring them (issue 10, point 2): each is refused by
`meldcode check` and the deploy API with FILE:LINE and a Dutch message, or it is deployable and
the engine then decides every combination of answers as CONTRACT rule 5 says. Never a
traceback, never a 500.

The case files come from ../shared/cases beside the checkout, with a copy in
tests/fixtures/cases for when that folder is missing.
"""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from engine import adapter, definitions, dmn_coverage, driving
from engine.definitions import SourceFile
from engine.expressions import DMN_INPUT, ExpressionError, dmn_input_test, evaluate
from tests.conftest import ROOT
from tests.scenarios.paths import SCENARIOS, fill, same_steps
from webui.cli import main as meldcode

SHARED_CASES = Path(__file__).parents[3] / "shared" / "cases"
FIXTURE_CASES = ROOT / "tests" / "fixtures" / "cases"
BPMN_PATH = ROOT / "processes" / "meldcode.bpmn"
BPMN = BPMN_PATH.read_bytes()
DMN = (ROOT / "processes" / "afwegingskader.dmn").read_bytes()
DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"
DMN13_DI = "https://www.omg.org/spec/DMN/20191111/DMNDI/"


def case_path(name: str) -> Path:
    shared = SHARED_CASES / name
    return shared if shared.exists() else FIXTURE_CASES / name


# --- how a user meets the check ------------------------------------------------------------------


def check_cli(tmp_path: Path, dmn: bytes | Path, name: str = "afwegingskader.dmn"):
    """`meldcode check meldcode.bpmn TABLE`: (exit code, output lines)."""
    if isinstance(dmn, Path):
        path = dmn
    else:
        path = tmp_path / name
        path.write_bytes(dmn)
    result = CliRunner().invoke(meldcode, ["check", str(BPMN_PATH), str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output.splitlines(), str(path)


def refused(tmp_path: Path, dmn: bytes | Path, pattern: str, name: str = "afwegingskader.dmn"):
    """Assert the check refuses the table with a FILE:LINE: message matching `pattern`; the
    line number of that problem."""
    code, lines, path = check_cli(tmp_path, dmn, name)
    assert code == 1, lines
    found = [m for m in (re.match(rf"^{re.escape(path)}:(\d+): (.*)$", line) for line in lines)
             if m and re.search(pattern, m.group(2))]
    assert found, lines
    return int(found[0].group(1))


def deploy(client, people, dmn: bytes, name: str):
    return client.post("/api/v1/processes", headers=people.auth("pb"), data={
        "files": [(io.BytesIO(BPMN), "meldcode.bpmn"), (io.BytesIO(dmn), name)]},
        content_type="multipart/form-data")


LANE_USER = {"medewerker": "mw", "leidinggevende": "lg", "aandachtsfunctionaris": "af"}


def drive(client, people, scenario) -> dict:
    """A case through the API on the active version, each task completed by its lane's user."""
    r = client.post("/api/v1/cases", json={"client_ref": f"dmn-{scenario.name}"},
                    headers=people.auth("mw"))
    assert r.status_code == 201, r.json
    case = r.json
    for _ in range(40):
        if not case["tasks"]:
            break
        task = scenario.pick(case["tasks"])
        who = LANE_USER.get(task["lane"], "mw")
        form = client.get(f"/api/v1/tasks/{task['id']}", headers=people.auth(who)).json
        r = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=people.auth(who),
                        json={"data": fill(form["form"]["fields"], scenario.decisions)})
        assert r.status_code == 200, (task["step"], r.json)
        case = r.json
    return case


# Answers that take a case straight to stap 5 (no talk with the client: an exemption).
TO_STAP5 = {"kindcheck_kinderen": False, "advies_veilig_thuis": False,
            "gesprek_uitzondering": "veiligheid", "vermoeden": True}


def decided(files: list[SourceFile]) -> dict[tuple[bool, ...], dict]:
    """What the engine decides on the loaded version for every combination of the four
    answers: each a workflow in memory run up to the business rule task, as cases run."""
    definition = definitions.load(files)
    out = {}
    for combo in itertools.product([False, True], repeat=4):
        answers = {**TO_STAP5, **dict(zip(dmn_coverage.CONTRACT_INPUTS, combo, strict=True))}
        ids = adapter.IdSource(1)
        workflow, advance = driving.start_workflow(definition, ids)
        for _ in range(12):
            if advance.decisions or not advance.ready:
                break
            task = advance.ready[0]
            fields = [f.as_dict() for f in definition.steps[task.task_spec.bpmn_id].fields]
            advance = driving.complete_in_workflow(workflow, str(task.id),
                                                   fill(fields, answers), ids)
        assert advance.decisions, (combo, "geen besluit")
        out[combo] = dict(advance.decisions[0][1])
    return out


def assert_contract(files: list[SourceFile]) -> None:
    for combo, outputs in decided(files).items():
        expected = dmn_coverage.contract_outputs(
            dict(zip(dmn_coverage.CONTRACT_INPUTS, combo, strict=True)))
        assert outputs == expected, combo


def with_table(dmn: bytes, name: str = "afwegingskader.dmn") -> list[SourceFile]:
    return [SourceFile("meldcode.bpmn", BPMN), SourceFile(name, dmn)]


# --- planting faults in the shipped table --------------------------------------------------------


def edit(change) -> bytes:
    """The shipped table after `change(root, ns)`."""
    root = etree.fromstring(DMN)
    change(root, {"dmn": DMN13})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def cell(root, ns, entry_id: str):
    return root.xpath(f"//*[@id='{entry_id}']/dmn:text", namespaces=ns)[0]


def set_cell(entry_id: str, text: str):
    def change(root, ns):
        cell(root, ns, entry_id).text = text
    return change


def set_policy(policy: str, **attributes):
    def change(root, ns):
        table = root.xpath("//dmn:decisionTable", namespaces=ns)[0]
        table.set("hitPolicy", policy)
        for key, value in attributes.items():
            table.set(key, value)
    return change


def line_of_id(dmn: bytes, element_id: str) -> int:
    return etree.fromstring(dmn).xpath(f"//*[@id='{element_id}']")[0].sourceline


def in_version(model: str, di: str | None) -> bytes:
    text = DMN.replace(DMN13.encode(), model.encode())
    if di is None:  # DMN 1.1 has no diagram interchange
        root = etree.fromstring(text)
        for node in root.xpath("//*[local-name()='DMNDI']"):
            node.getparent().remove(node)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return text.replace(DMN13_DI.encode(), di.encode())


VERSIONS = {
    "1.1": ("http://www.omg.org/spec/DMN/20151101/dmn.xsd", None),
    "1.2": ("http://www.omg.org/spec/DMN/20180521/MODEL/",
            "http://www.omg.org/spec/DMN/20180521/DMNDI/"),
    "1.3": (DMN13, DMN13_DI),
    "1.4": ("https://www.omg.org/spec/DMN/20211108/MODEL/", DMN13_DI),
    "1.5": ("https://www.omg.org/spec/DMN/20230324/MODEL/",
            "https://www.omg.org/spec/DMN/20230324/DMNDI/"),
}


# --- the cells as FEEL reads them ----------------------------------------------------------------


@pytest.mark.parametrize(("cell_text", "value", "matches"), [
    ("true,false", True, True),
    ("true, false", False, True),
    ('"veiligheid","contact_verbreken"', "veiligheid", True),
    ('"veiligheid","contact_verbreken"', "geen", False),
    ('not("geen")', "veiligheid", True),
    ('not("geen", "veiligheid")', "veiligheid", False),
    ("not(true)", False, True),
    ("[1..5]", 5, True),
    ("[1..5[", 5, False),
    ("]1..5]", 1, False),
    ("< 3, > 10", 11, True),
    ("< 3, > 10", 5, False),
    ("1 <= ? <= 4", 4, True),
    ('"a,b"', "a,b", True),
    ("true", True, True),
    ("false", True, False),
])
def test_input_cells_read_as_feel(cell_text, value, matches):
    assert evaluate(dmn_input_test(cell_text), {DMN_INPUT: value}) is matches


@pytest.mark.parametrize("cell_text", ["(true, false)", '["a", "b"]', "a,", "[1..]", "f(x)"])
def test_cells_the_evaluator_would_misread_are_errors(cell_text):
    with pytest.raises(ExpressionError):
        dmn_input_test(cell_text)


def test_empty_and_dash_match_everything():
    assert dmn_input_test("-") is None and dmn_input_test("  ") is None


# --- the shipped set ------------------------------------------------------------------------------


def test_shipped_table_passes_and_decides_as_the_contract(tmp_path):
    code, lines, _ = check_cli(tmp_path, ROOT / "processes" / "afwegingskader.dmn")
    assert code == 0 and lines[-1].startswith("In orde"), lines
    assert_contract(with_table(DMN))


# --- the real-world cases ------------------------------------------------------------------------

REFUSED_CASES = {
    "01-afwegingskader-collect.dmn": r"hit policy COLLECT.*één waarde",
    "03-afwegingskader-gap.dmn": (r"geen regel voor acute_onveiligheid=nee, "
                                  r"structurele_onveiligheid=nee, hulp_mogelijk=ja, "
                                  r"hulp_aanvaard=nee.*loopt vast"),
}
# Deployable, with a scenario whose route runs through the changed part of the table.
DEPLOYABLE_CASES = {
    "04-afwegingskader-feel-list.dmn": "geen_hulp_mogelijk_melden",
    "05-afwegingskader-dmn12.dmn": "acuut_melden_en_hulp",
}


def test_fixture_copies_match_the_shared_cases():
    for name in [*REFUSED_CASES, *DEPLOYABLE_CASES]:
        assert (FIXTURE_CASES / name).exists(), name
        if (SHARED_CASES / name).exists():
            assert (FIXTURE_CASES / name).read_bytes() == (SHARED_CASES / name).read_bytes()


@pytest.mark.parametrize("name", sorted(REFUSED_CASES))
def test_refused_case_on_the_command_line(tmp_path, name):
    line = refused(tmp_path, case_path(name), REFUSED_CASES[name])
    assert line == line_of_id(case_path(name).read_bytes(), "afwegingskader_tabel")


@pytest.mark.parametrize("name", sorted(DEPLOYABLE_CASES))
def test_deployable_case_on_the_command_line(tmp_path, name):
    code, lines, _ = check_cli(tmp_path, case_path(name))
    assert code == 0 and lines[-1].startswith("In orde"), lines


@pytest.mark.parametrize("name", sorted(REFUSED_CASES))
def test_refused_case_through_the_deploy_api(client, people, name):
    r = deploy(client, people, case_path(name).read_bytes(), name)
    assert r.status_code == 422, r.json
    errors = r.json["errors"]
    assert errors and all(e["file"] and e["line"] >= 1 and e["message"] for e in errors)
    assert any(e["file"] == name and re.search(REFUSED_CASES[name], e["message"]) for e in errors)
    assert [v["version"] for v in client.get("/api/v1/processes",
                                             headers=people.auth("pb")).json] == [1]


@pytest.mark.parametrize("name", sorted(DEPLOYABLE_CASES))
def test_deployable_case_runs_through_the_api(client, people, name):
    r = deploy(client, people, case_path(name).read_bytes(), name)
    assert r.status_code == 201, r.json
    assert sorted(r.json["files"]) == sorted(["meldcode.bpmn", name])
    scenario = next(s for s in SCENARIOS if s.name == DEPLOYABLE_CASES[name])
    case = drive(client, people, scenario)
    assert case["process_version"] == r.json["version"]
    assert case["status"] == "closed", case
    assert case["uitkomst"] == scenario.uitkomst
    assert same_steps(case["completed_steps"], scenario.steps), case["completed_steps"]


def test_feel_list_case_decides_every_combination_as_the_contract():
    name = "04-afwegingskader-feel-list.dmn"
    assert_contract(with_table(case_path(name).read_bytes(), name))


# --- planted faults of each kind -----------------------------------------------------------------


def test_gap_is_refused_naming_the_combination(tmp_path):
    def drop_help_rule(root, ns):
        rule = root.xpath("//dmn:rule[@id='regel_hulp_bieden']", namespaces=ns)[0]
        rule.getparent().remove(rule)
    refused(tmp_path, edit(drop_help_rule),
            r"geen regel voor acute_onveiligheid=nee, structurele_onveiligheid=nee, "
            r"hulp_mogelijk=ja, hulp_aanvaard=ja")


@pytest.mark.parametrize("policy", ["UNIQUE", "ANY"])
def test_overlap_with_different_outputs_is_refused(tmp_path, policy):
    # "hulp bieden" without the condition on structural unsafety overlaps the structural rule.
    table = edit(lambda root, ns: (set_cell("regel_hulp_bieden_in_2", "-")(root, ns),
                                   set_policy(policy)(root, ns)))
    first, second = (line_of_id(table, r) for r in ("regel_structureel_onveilig",
                                                    "regel_hulp_bieden"))
    line = refused(tmp_path, table, (
        rf"rij 4 \(regel {first}\) en rij 5 \(regel {second}\) passen allebei bij "
        r"acute_onveiligheid=nee, structurele_onveiligheid=ja, hulp_mogelijk=ja, "
        rf"hulp_aanvaard=ja.*{policy}"))
    assert line == second


def test_overlap_under_first_takes_the_first_rule_and_is_deployable():
    table = edit(lambda root, ns: (set_cell("regel_hulp_bieden_in_2", "-")(root, ns),
                                   set_policy("FIRST")(root, ns)))
    assert_contract(with_table(table))


def test_overlap_with_equal_outputs_under_any_is_deployable():
    def duplicate_first_rule(root, ns):
        rule = root.xpath("//dmn:rule", namespaces=ns)[0]
        twin = etree.fromstring(etree.tostring(rule))
        for node in twin.iter():
            if node.get("id"):
                node.set("id", node.get("id") + "_bis")
        rule.getparent().append(twin)
        set_policy("ANY")(root, ns)
    assert_contract(with_table(edit(duplicate_first_rule)))


def test_output_against_the_contract_is_refused_with_expected_and_actual(tmp_path):
    table = edit(set_cell("regel_hulp_bieden_uit_1", "true"))
    line = refused(tmp_path, table, (
        r"bij acute_onveiligheid=nee, structurele_onveiligheid=nee, hulp_mogelijk=ja, "
        r"hulp_aanvaard=ja geeft rij 5 besluit_melden=ja, besluit_hulp=ja, maar de meldcode "
        r"\(regel 5\) vraagt besluit_melden=nee, besluit_hulp=ja"))
    assert line == line_of_id(table, "regel_hulp_bieden")


def test_output_of_the_wrong_type_is_refused(tmp_path):
    refused(tmp_path, edit(set_cell("regel_hulp_bieden_uit_2", '"ja"')),
            r"besluit_hulp.*\"ja\".*type boolean|vraagt")


@pytest.mark.parametrize("policy", ["PRIORITY", "RULE ORDER", "OUTPUT ORDER"])
def test_hit_policies_the_engine_does_not_execute_are_refused(tmp_path, policy):
    table = edit(set_policy(policy))
    line = refused(tmp_path, table, rf"hit policy {policy} wordt niet uitgevoerd")
    assert line == line_of_id(table, "afwegingskader_tabel")


def test_collect_with_an_aggregation_is_refused(tmp_path):
    refused(tmp_path, edit(set_policy("COLLECT", aggregation="SUM")), r"aggregatie SUM")


def test_first_is_executed_as_written():
    assert_contract(with_table(edit(set_policy("FIRST"))))


@pytest.mark.parametrize(("text", "pattern"), [
    ('"true"', r'vergelijkt \'hulp_mogelijk\' met "true".*past dus nooit'),
    ("ja", r"leest 'ja' als variabele.*\"ja\""),
    ("(true, false)", r"lijst als één waarde"),
    ("[1..5]", r"met 1.*past dus nooit"),
    ("1 <=", r"ongeldige invoercel"),
])
def test_cells_the_engine_would_misread_are_refused(tmp_path, text, pattern):
    table = edit(set_cell("regel_geen_hulp_mogelijk_in_3", text))
    line = refused(tmp_path, table, pattern)
    assert line == etree.fromstring(table).xpath(
        "//*[@id='regel_geen_hulp_mogelijk_in_3']/*")[0].sourceline


@pytest.mark.parametrize(("entry_id", "text"), [
    ("regel_geen_hulp_mogelijk_in_3", "not(true)"),
    ("regel_hulp_bieden_in_1", "not(true)"),
    ("regel_geen_hulp_mogelijk_in_1", "true, false"),
    ("regel_hulp_niet_aanvaard_in_4", "not(true), false"),
])
def test_feel_cells_are_executed_as_written(entry_id, text):
    assert_contract(with_table(edit(set_cell(entry_id, text))))


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_every_dmn_version_is_deployable_and_decides_as_the_contract(version):
    assert_contract(with_table(in_version(*VERSIONS[version])))


def test_dmn_15_passes_the_command_line(tmp_path):
    # DMN 1.2 on the command line: case 05 above.
    code, lines, _ = check_cli(tmp_path, in_version(*VERSIONS["1.5"]))
    assert code == 0 and lines[-1].startswith("In orde"), lines


def test_dmn_11_with_a_diagram_is_refused_with_its_line(tmp_path):
    table = DMN.replace(DMN13.encode(), VERSIONS["1.1"][0].encode())
    line = refused(tmp_path, table, r"schemafout: element 'DMNDI' hoort hier niet")
    assert line == etree.fromstring(table).xpath("//*[local-name()='DMNDI']")[0].sourceline


def test_schema_errors_of_newer_versions_name_the_line_and_the_schema_used(tmp_path):
    table = in_version(*VERSIONS["1.4"]).replace(
        b'<output id="uitvoer_besluit_hulp"', b'<output kleur="rood" id="uitvoer_besluit_hulp"')
    line = refused(tmp_path, table, r"kleur.*DMN 1\.4 gecontroleerd met het schema van DMN 1\.3")
    assert line == line_of_id(table, "uitvoer_besluit_hulp")


def test_unknown_dmn_namespace_is_refused(tmp_path):
    table = DMN.replace(DMN13.encode(), b"https://www.omg.org/spec/DMN/20990101/MODEL/")
    assert refused(tmp_path, table, r"onbekende DMN-versie") == 2


def test_prefixed_namespace_and_table_annotations_are_deployable():
    text = re.sub(rb"<(/?)(definitions|decision|description|decisionTable|input|inputExpression|"
                  rb"text|output|rule|inputEntry|outputEntry)\b", rb"<\1dmn:\2", DMN)
    text = text.replace(b'xmlns="' + DMN13.encode(), b'xmlns:dmn="' + DMN13.encode())
    text = text.replace(b'hitPolicy="UNIQUE">', b'hitPolicy="UNIQUE">\n      '
                        b'<dmn:description>Twee losse besluiten.</dmn:description><!-- c -->')
    assert etree.QName(etree.fromstring(text)).namespace == DMN13
    assert_contract(with_table(text))


def test_dmn_file_under_another_name_is_still_checked_as_dmn():
    definition, problems = definitions.check(
        with_table(case_path("03-afwegingskader-gap.dmn").read_bytes(), "afwegingskader.xml"))
    assert definition is None and any("geen regel voor" in p.message for p in problems)


def test_table_reading_an_unknown_variable_is_refused(tmp_path):
    table = edit(lambda root, ns: setattr(root.xpath(
        "//dmn:inputExpression[@id='invoer_expr_hulp_aanvaard']/dmn:text", namespaces=ns)[0],
        "text", "hulp_geaccepteerd"))
    refused(tmp_path, table, r"leest 'hulp_geaccepteerd', maar geen formulierveld")


def test_two_decisions_in_one_file_are_refused(tmp_path):
    def second_decision(root, ns):
        decision = root.xpath("//dmn:decision", namespaces=ns)[0]
        twin = etree.fromstring(etree.tostring(decision))
        for node in twin.iter():
            if node.get("id"):
                node.set("id", node.get("id") + "_2")
        decision.addnext(twin)
    refused(tmp_path, edit(second_decision), r"tweede beslissing")


# --- a table over a choice (enum) field -----------------------------------------------------------


def exemption_table(*cells: str) -> bytes:
    """A second decision over stap 2's choice gesprek_uitzondering, one rule per input cell."""
    rules = "".join(f"""
      <rule id="r{n}">
        <inputEntry id="r{n}_in"><text>{c}</text></inputEntry>
        <outputEntry id="r{n}_uit"><text>"{n}"</text></outputEntry>
      </rule>""" for n, c in enumerate(cells, 1))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{DMN13}" id="uitzondering_defs" name="Uitzondering" namespace="https://meldcode.example/dmn">
  <decision id="uitzondering" name="Uitzondering op het gesprek">
    <decisionTable id="uitzondering_tabel" hitPolicy="UNIQUE">
      <input id="in_1" label="Uitzondering"><inputExpression id="in_1_expr" typeRef="string">
        <text>gesprek_uitzondering</text></inputExpression></input>
      <output id="uit_1" name="uitzondering_route" typeRef="string"/>{rules}
    </decisionTable>
  </decision>
</definitions>""".encode()


def problems_with(extra: bytes) -> list[str]:
    files = [*with_table(DMN), SourceFile("uitzondering.dmn", extra)]
    with pytest.raises(definitions.InvalidDefinition) as refusal:
        definitions.load(files)
    return [str(p) for p in refusal.value.problems]


def test_enum_table_with_a_feel_list_is_deployable():
    definitions.load([*with_table(DMN), SourceFile(
        "uitzondering.dmn", exemption_table('"geen"', '"veiligheid", "contact_verbreken"'))])


def test_enum_table_without_an_option_is_refused_naming_it():
    problems = problems_with(exemption_table('"geen"', '"veiligheid"'))
    assert any(p.startswith("uitzondering.dmn:4: ") and
               'geen regel voor gesprek_uitzondering="contact_verbreken"' in p
               for p in problems), problems


@pytest.mark.parametrize(("cells", "pattern"), [
    (("geen", 'not("geen")'), r"uitzondering\.dmn:9: .*leest 'geen' als variabele"),
    (('"geen"', '"veiligheid", "contact verbreken"', '"contact_verbreken"'),
     r'uitzondering\.dmn:13: .*met "contact verbreken".*past dus nooit'),
])
def test_enum_cells_the_engine_would_misread_are_refused(cells, pattern):
    problems = problems_with(exemption_table(*cells))
    assert any(re.search(pattern, p) for p in problems), problems
