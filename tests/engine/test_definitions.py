"""Validation as a deploy does it: the shipped set passes, hostile and broken diagrams are
refused with FILE:LINE: messages, and nothing is ever executed or crashes."""

from pathlib import Path

import pytest
from lxml import etree

from engine import definitions
from engine.definitions import NS, SourceFile

ROOT = Path(__file__).resolve().parents[2]
MIWG = ROOT.parent / "shared" / "miwg" / "reference"


def shipped():
    return definitions.shipped_files()


def bpmn_tree():
    return etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())


def with_bpmn(root) -> list[SourceFile]:
    dmn = [f for f in shipped() if f.kind == "dmn"]
    return [SourceFile("meldcode.bpmn", etree.tostring(root, xml_declaration=True,
                                                       encoding="UTF-8")), *dmn]


def problems_of(files):
    definition, problems = definitions.check(files)
    assert definition is None, "expected the set to be refused"
    assert problems
    for p in problems:
        assert p.line >= 1 and p.file and p.message
        assert str(p) == f"{p.file}:{p.line}: {p.message}"
    return problems


def test_shipped_set_is_deployable():
    definition, problems = definitions.check(shipped())
    assert problems == []
    assert set(definitions.CONTRACT_STEPS) <= set(definition.steps)
    assert all(step.fields for step in definition.steps.values()), "every task has a form"


def test_identical_content_same_hash_whatever_the_names():
    files = shipped()
    renamed = [SourceFile("x-" + f.name, f.content) for f in files]
    assert definitions.set_sha256(files) == definitions.set_sha256(renamed)
    changed = [SourceFile(files[0].name, files[0].content + b"\n"), *files[1:]]
    assert definitions.set_sha256(changed) != definitions.set_sha256(files)


def test_script_task_refused():
    root = bpmn_tree()
    task = root.xpath("//bpmn:userTask[@id='stap3_gesprek']", namespaces=NS)[0]
    task.tag = f"{{{definitions.BPMN_NS}}}scriptTask"
    for child in list(task):
        task.remove(child)
    script = etree.SubElement(task, f"{{{definitions.BPMN_NS}}}script")
    script.text = "import os; os.system('touch /tmp/pwned')"
    problems = problems_of(with_bpmn(root))
    assert any("'Stap 3: Gesprek met de cliënt' is een scripttaak" in p.message for p in problems)
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ("__import__('os').system('id')", "functie-aanroepen"),
        ("gesprek_uitzondering.__class__", "attribuuttoegang"),
        ("[x for x in ()]", "comprehensions"),
        ("9**9**9", "machtsverheffen"),
        ("gesprek_uitzondering ==", "ongeldige expressie"),
    ],
)
def test_hostile_condition_refused_at_deploy(condition, reason):
    root = bpmn_tree()
    expr = root.xpath("//bpmn:conditionExpression", namespaces=NS)[0]
    expr.text = condition
    problems = problems_of(with_bpmn(root))
    hit = [p for p in problems if reason in p.message]
    assert hit and hit[0].line == expr.sourceline or hit[0].line > 1


def test_gateway_flow_without_condition_or_default():
    root = bpmn_tree()
    gw = root.xpath("//bpmn:exclusiveGateway[@default]", namespaces=NS)[0]
    del gw.attrib["default"]
    problems = problems_of(with_bpmn(root))
    assert any("geen voorwaarde en is niet de standaardstroom" in p.message for p in problems)


def test_unreachable_element():
    root = bpmn_tree()
    process = root.xpath("//bpmn:process", namespaces=NS)[0]
    start = process.xpath("bpmn:startEvent", namespaces=NS)[0]
    loose = etree.Element(f"{{{definitions.BPMN_NS}}}task", id="losse_taak", name="Los")
    process.insert(process.index(start) + 1, loose)
    problems = problems_of(with_bpmn(root))
    assert any("'Los' is onbereikbaar" in p.message for p in problems)


@pytest.mark.parametrize("key", ["_private", "typename", "class", "a-b", "1abc", "a.b"])
def test_bad_form_keys(key):
    root = bpmn_tree()
    field = root.xpath("//camunda:formField", namespaces=NS)[0]
    field.set("id", key)
    problems = problems_of(with_bpmn(root))
    assert any(f"formulierveld '{key}'" in p.message for p in problems)


def test_lane_that_is_no_role():
    root = bpmn_tree()
    lane = root.xpath("//bpmn:lane", namespaces=NS)[0]
    lane.set("name", "Stagiair")
    problems = problems_of(with_bpmn(root))
    assert any("lane 'Stagiair' is geen rol" in p.message for p in problems)


@pytest.mark.parametrize("step", definitions.CONTRACT_STEPS)
def test_every_contract_step_required(step):
    raw = (ROOT / "processes" / "meldcode.bpmn").read_text()
    broken = raw.replace(f'"{step}"', f'"{step}_weg"')
    dmn = [f for f in shipped() if f.kind == "dmn"]
    problems = problems_of([SourceFile("meldcode.bpmn", broken.encode()), *dmn])
    assert any(f"'{step}' ontbreekt" in p.message for p in problems)


def test_missing_process_id():
    raw = (ROOT / "processes" / "meldcode.bpmn").read_text().replace(
        'id="meldcode"', 'id="ander_proces"').replace(
        'processRef="meldcode"', 'processRef="ander_proces"')
    problems = problems_of([SourceFile("m.bpmn", raw.encode())])
    assert any("proces 'meldcode' ontbreekt" in p.message for p in problems)


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">&x;</bpmn:definitions>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">&d;</bpmn:definitions>"""


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (XXE, "DOCTYPE"),
        (LAUGHS, "DOCTYPE"),
        (b"", "leeg"),
        (b"not xml at all", "geen geldige XML"),
        (b"<a><b></a>", "geen geldige XML"),
        (b"<html xmlns='http://www.w3.org/1999/xhtml'/>", "geen BPMN"),
        (b"<?xml version='1.0'?>\n<bpmn:definitions xmlns:bpmn="
         b"'http://www.omg.org/spec/BPMN/20100524/MODEL'><bpmn:bogus/></bpmn:definitions>",
         "schemafout"),
        (b"\xff\xfe\x00garbage", "XML"),
        (b" " * (5 * 1024 * 1024 + 1), "5 MiB"),
    ],
)
def test_malformed_and_hostile_files(content, reason):
    problems = problems_of([SourceFile("x.bpmn", content)])
    assert any(reason in p.message for p in problems), problems


def test_dmn_with_hostile_cell():
    files = shipped()
    dmn = next(f for f in files if f.kind == "dmn")
    root = etree.fromstring(dmn.content)
    ns = {"dmn": etree.QName(root).namespace}
    cell = root.xpath("//dmn:outputEntry/dmn:text", namespaces=ns)[0]
    cell.text = "__import__('os').getcwd()"
    broken = SourceFile(dmn.name, etree.tostring(root))
    problems = problems_of([f for f in files if f.kind == "bpmn"] + [broken])
    assert any(p.file == dmn.name and "functie-aanroepen" in p.message for p in problems)


def test_missing_decision_table():
    problems = problems_of([f for f in shipped() if f.kind == "bpmn"])
    assert any("beslistabel" in p.message for p in problems)


@pytest.mark.skipif(not MIWG.exists(), reason="shared/miwg not beside the checkout")
@pytest.mark.parametrize("path", sorted(MIWG.glob("*.bpmn")) if MIWG.exists() else [],
                         ids=lambda p: p.name)
def test_miwg_reference_diagrams_get_a_verdict(path):
    definition, problems = definitions.check([SourceFile(path.name, path.read_bytes())])
    # None of these is a meldcode: each is refused with reasons, never a crash.
    assert definition is None and problems
    assert all(isinstance(p.line, int) and p.line >= 1 for p in problems)
