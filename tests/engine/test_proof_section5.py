"""The proof before publishing (CONTRACT section 5, "Proof problems") keeps the rules of section
5's forms of violence: with eergerelateerd geweld, huwelijksdwang or achterlating the expert
(`deskundige_raadplegen`) before any talk with the client, and with a professional carer as
suspected perpetrator the IGJ melding (`melding_igj`) before the case closes. A diagram that
breaks one is refused by `meldcode check` with a witness route; the shipped one passes."""

from __future__ import annotations

from lxml import etree

from engine import definitions, proof
from engine.definitions import SourceFile
from tests.conftest import ROOT
from tests.helpers import cli

BPMN = (ROOT / "processes" / "meldcode.bpmn").read_bytes()
DMN = (ROOT / "processes" / "afwegingskader.dmn").read_bytes()
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
EXPERT_FIRST = {"eergerelateerd", "huwelijksdwang", "achterlating"}


def changed(flow_id: str, condition: str) -> bytes:
    root = etree.fromstring(BPMN)
    [cond] = root.xpath(f"//bpmn:sequenceFlow[@id='{flow_id}']/bpmn:conditionExpression",
                        namespaces=NS)
    cond.text = condition
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def prove(bpmn: bytes) -> list:
    files = [SourceFile("meldcode.bpmn", bpmn), SourceFile("afwegingskader.dmn", DMN)]
    definition, problems = definitions.check(files, prove=False)
    assert definition is not None, [str(p) for p in problems]
    return proof.prove(definition)


def line_of(element_id: str) -> int:
    root = etree.fromstring(BPMN)
    [node] = root.xpath(f"//*[@id='{element_id}']")
    return node.sourceline


def test_a_talk_before_the_expert_is_a_problem_at_each_talk():
    # the gateway after stap 2 sends only lichamelijk geweld to the expert
    problems = prove(changed("sf_deskundige_nodig", "'lichamelijk' in geweldsvormen"))
    found = {p.line: p for p in problems if "Deskundige raadplegen" in p.message}
    assert set(found) == {line_of("stap3_gesprek"), line_of("stap4_wegen"),
                          line_of("melding_voorbespreken")}, [str(p) for p in problems]
    talk = found[line_of("stap3_gesprek")]
    assert "vóór elk gesprek" in talk.message or "voor elk gesprek" in talk.message
    steps = [hop["step"] for hop in talk.path]
    assert steps[-1] == "stap3_gesprek" and "deskundige_raadplegen" not in steps
    assert EXPERT_FIRST & set(talk.path[0]["data"]["geweldsvormen"])


def test_a_close_without_the_igj_melding_is_a_problem_at_each_end(tmp_path):
    bpmn = changed("sf_igj_nodig", "pleger_zorgverlener == False")
    problems = [p for p in prove(bpmn) if "IGJ" in p.message]
    assert {p.line for p in problems} >= {line_of("einde_zorgen_weggenomen"),
                                          line_of("einde_geen_vermoeden")}
    for problem in problems:
        assert problem.path[0]["data"]["pleger_zorgverlener"] is True
        assert "melding_igj" not in [hop["step"] for hop in problem.path]
    # the command line refuses it, each problem with its witness route
    path = tmp_path / "meldcode.bpmn"
    path.write_bytes(bpmn)
    (tmp_path / "afwegingskader.dmn").write_bytes(DMN)
    result = cli("check", str(path), str(tmp_path / "afwegingskader.dmn"))
    assert result.exit_code == 1
    assert f"{path}:{line_of('einde_zorgen_weggenomen')}: " in result.output
    assert "pleger_zorgverlener=ja" in result.output


def test_the_shipped_diagram_keeps_both_rules():
    problems = prove(BPMN)
    assert not [p for p in problems if "IGJ" in p.message or "Deskundige" in p.message]


def field_node(root, name: str):
    [node] = root.xpath(f"//*[local-name()='formField'][@id='{name}']")
    return node


def check_problems(root) -> list:
    files = [SourceFile("meldcode.bpmn", etree.tostring(root, xml_declaration=True,
                                                        encoding="UTF-8")),
             SourceFile("afwegingskader.dmn", DMN)]
    return definitions.check(files, prove=False)[1]


def test_the_kindcheck_and_feedback_reasons_must_be_required_as_the_contract_says():
    camunda = "http://camunda.org/schema/1.0/bpmn"
    root = etree.fromstring(BPMN)
    # no condition at all: optional even with children
    [when] = field_node(root, "kindcheck_bescherming").xpath(
        "*[local-name()='properties']/*[local-name()='property'][@id='required_when']")
    when.getparent().remove(when)
    # always required, also without children
    opvang = field_node(root, "kindcheck_opvang_adequaat")
    validation = etree.SubElement(opvang, f"{{{camunda}}}validation")
    etree.SubElement(validation, f"{{{camunda}}}constraint", name="required")
    # required on the wrong answer
    [when] = field_node(root, "terugkoppeling_toelichting").xpath(
        "*[local-name()='properties']/*[local-name()='property'][@id='required_when']")
    when.set("value", "terugkoppeling_ontvangen == True")
    found = {p.line: p.message for p in check_problems(root) if "required_when" in p.message}
    root = etree.fromstring(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    lines = {field_node(root, name).sourceline: name for name in (
        "kindcheck_bescherming", "kindcheck_opvang_adequaat", "terugkoppeling_toelichting")}
    assert set(found) == set(lines), found
    assert "kindcheck_kinderen == True" in found[field_node(root, "kindcheck_bescherming").sourceline]
    assert "terugkoppeling_ontvangen == False" in \
        found[field_node(root, "terugkoppeling_toelichting").sourceline]
    # the shipped diagram has them right
    assert not [p for p in check_problems(etree.fromstring(BPMN))
                if "required_when" in p.message]
