"""Edits of the shipped meldcode diagram for tests of `meldcode check` (tests/engine/
test_form_checks.py, test_condition_values.py): plant a fault in a copy, ask the engine's check."""

from __future__ import annotations

from lxml import etree

from engine import definitions
from engine.definitions import CAMUNDA_NS, NS, SourceFile
from tests.conftest import ROOT

SHIPPED_BPMN = ROOT / "processes" / "meldcode.bpmn"
SHIPPED_DMN = ROOT / "processes" / "afwegingskader.dmn"
FIXTURES = ROOT / "tests" / "fixtures" / "cases"
C = f"{{{CAMUNDA_NS}}}"


def shipped_tree():
    return etree.fromstring(SHIPPED_BPMN.read_bytes())


def one(root, xpath: str):
    found = root.xpath(xpath, namespaces=NS)
    assert len(found) == 1, xpath
    return found[0]


def form_field(root, key: str):
    return one(root, f"//camunda:formField[@id='{key}']")


def set_property(root, key: str, prop: str, value: str) -> None:
    """Field `key` gets property `prop` = `value` (its existing one changed, else added)."""
    properties = form_field(root, key).find(C + "properties")
    found = properties.xpath(f"camunda:property[@id='{prop}']", namespaces=NS)
    node = found[0] if found else etree.SubElement(properties, C + "property", id=prop)
    node.set("value", value)


def set_condition(root, flow: str, text: str) -> None:
    one(root, f"//bpmn:sequenceFlow[@id='{flow}']/bpmn:conditionExpression").text = text


def rename(root, xpath: str, attribute: str, new: str) -> None:
    one(root, xpath).set(attribute, new)


def add_enum(root, task: str, key: str, options: tuple[str, ...]) -> None:
    """An optional keuzeveld `key` with these options at the end of `task`'s form."""
    form = one(root, f"//bpmn:userTask[@id='{task}']//camunda:formData")
    node = etree.SubElement(form, C + "formField", id=key, label=key, type="enum")
    for option in options:
        etree.SubElement(node, C + "value", id=option, name=option)


def as_bytes(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def problems_of(root) -> list[str]:
    """What the engine's check (as `meldcode check` runs it, without the proof) says about the
    shipped set with this BPMN."""
    files = [
        SourceFile("meldcode.bpmn", as_bytes(root)),
        SourceFile(SHIPPED_DMN.name, SHIPPED_DMN.read_bytes()),
    ]
    definition, problems = definitions.check(files, prove=False)
    assert definition is None, "expected the set to be refused"
    return [str(p) for p in problems]


def inside(content: bytes, line: int, element_id: str) -> bool:
    element = etree.fromstring(content).xpath(f"//*[@id='{element_id}']")[0]
    last = max(node.sourceline for node in element.iter())
    return element.sourceline <= line <= last
