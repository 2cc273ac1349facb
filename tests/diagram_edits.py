"""Edits of the shipped meldcode diagram for tests of `meldcode check` (tests/engine/
test_form_checks.py, test_condition_values.py, test_date_bound_checks.py): plant a fault in a
copy, ask the engine's check or the command line."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from lxml import etree

from engine import definitions
from engine.definitions import CAMUNDA_NS, NS, SourceFile
from tests.conftest import ROOT
from tests.helpers import operator_run

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


def add_property(root, key: str, prop: str, value: str) -> None:
    """Field `key` gets one more property `prop` = `value`, after its other properties (also
    when it has one of that name already)."""
    etree.SubElement(form_field(root, key).find(C + "properties"), C + "property", id=prop, value=value)


def set_default(root, key: str, value: str) -> None:
    """Field `key` gets defaultValue `value`."""
    form_field(root, key).set("defaultValue", value)


def planting(edit: Callable[..., None], *args: str) -> Callable[[object], None]:
    """A plant for a table of planted faults: applied to a tree, it runs `edit(tree, *args)`."""

    def plant(root) -> None:
        edit(root, *args)

    return plant


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


def check_tree(root):
    """The engine's check (as `meldcode check` runs it, without the proof) of the shipped set
    with this BPMN: (the definition or None, the problems)."""
    files = [
        SourceFile("meldcode.bpmn", as_bytes(root)),
        SourceFile(SHIPPED_DMN.name, SHIPPED_DMN.read_bytes()),
    ]
    return definitions.check(files, prove=False)


def check_condition(key: str, prop: str, condition: str):
    """check_tree of the shipped diagram with property `prop` of form field `key` set to
    `condition`."""
    root = shipped_tree()
    set_property(root, key, prop, condition)
    return check_tree(root)


def problems_of(root) -> list[str]:
    """What the engine's check says about the shipped set with this BPMN (check_tree), which
    must refuse it."""
    definition, problems = check_tree(root)
    assert definition is None, "expected the set to be refused"
    return [str(p) for p in problems]


def inside(content: bytes, line: int, element_id: str) -> bool:
    element = etree.fromstring(content).xpath(f"//*[@id='{element_id}']")[0]
    last = max(node.sourceline for node in element.iter())
    return element.sourceline <= line <= last


def cli_finding(tmp_path: Path, content: bytes, words: Iterable[str]) -> tuple[Path, int, str]:
    """`meldcode check` (in the test process, tests/helpers.py operator_run, on its own SQLite
    database) of `content` saved as meldcode.bpmn beside the shipped DMN. Asserts exit 1
    without a traceback and exactly one finding line holding every one of `words`. Out: the
    BPMN's path, that line's number and its message (after `FILE:LINE:`)."""
    path = tmp_path / "meldcode.bpmn"
    path.write_bytes(content)
    r = operator_run("check", str(path), str(SHIPPED_DMN), url=f"sqlite:///{tmp_path / 'cli.sqlite'}",
                     env={"MELDCODE_INSTANCE": str(tmp_path / "instance")})
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr, (r.stdout, r.stderr)
    hits = [line for line in r.stdout.splitlines() if all(w in line for w in words)]
    assert len(hits) == 1, r.stdout
    file, number, message = hits[0].split(":", 2)
    assert file == str(path), hits[0]
    return path, int(number), message
