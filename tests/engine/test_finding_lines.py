"""One finding of `meldcode check` is one line, whatever the diagram holds (issue 14, F3 of a
fresh tester): a formField id, a camunda:value id (in the '(bekend: ...)' list of a help.X
property), an element id or a DMN output name holding '&#10;' made up a finding line of its
own. Every piece of diagram text a finding quotes goes through problems.shown_text, and
problems.Problem writes what is not printable in any value filled in as an escape.

Also: a maxlength, min or max constraint whose config is no whole number (maxlength: no
positive one) passed the check, and forms._int then dropped the rule in silence or took -5 as
a maximum length: the check refuses it (form_checks)."""

from __future__ import annotations

import pytest
from lxml import etree

from engine import definitions
from engine.definitions import SourceFile
from engine.messages import N_, Message
from engine.problems import Problem
from tests.diagram_edits import (
    SHIPPED_DMN,
    C,
    add_property,
    as_bytes,
    cli_finding,
    form_field,
    one,
    problems_of,
    shipped_tree,
)

FAKE = "meldcode.bpmn:1: verzonnen bevinding"


def value_id(root) -> None:
    etree.SubElement(form_field(root, "gesprek_met_wie"), C + "value", id=f"x\n{FAKE}", name="X")
    add_property(root, "gesprek_met_wie", "help.onzin", "Uitleg")  # names the known help.X keys


def field_id(root) -> None:
    form_field(root, "overleg_met").set("id", f"overleg_met\n{FAKE}")


def element_id(root) -> None:
    task = one(root, "//bpmn:userTask[@id='melding_igj']")
    task.set("id", f"melding_igj\n{FAKE}")


def constraint_config(root) -> None:
    validation = form_field(root, "overleg_met").find(C + "validation")
    etree.SubElement(validation, C + "constraint", name="max", config=f"5\n{FAKE}")


@pytest.mark.parametrize(
    "plant",
    [value_id, field_id, element_id, constraint_config],
    ids=["value id", "field id", "element id", "constraint config"],
)
def test_a_newline_in_diagram_text_makes_no_finding_line(plant):
    root = shipped_tree()
    plant(root)
    found = problems_of(root)
    assert found, "the planted fault must be found"
    assert not [p for p in found if len(p.splitlines()) != 1], found
    assert [p for p in found if f"\\n{FAKE}" in p], found  # shown, written as \n


def test_the_known_list_names_a_value_id_on_one_line_at_the_command_line(tmp_path):
    root = shipped_tree()
    value_id(root)
    # cli_finding asserts one line holds the finding; the made-up one is no line of its own
    _, _, message = cli_finding(tmp_path, as_bytes(root), ["help.onzin"])
    assert f"help.x\\n{FAKE})" in message, message


def dmn_with_output_id(output_id: str) -> bytes:
    """The shipped DMN whose first output column has no label or name, only `output_id`."""
    root = etree.fromstring(SHIPPED_DMN.read_bytes())
    output = root.xpath("//*[local-name()='output']")[0]
    for attribute in ("label", "name"):
        output.attrib.pop(attribute, None)
    output.set("id", output_id)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_a_newline_in_a_dmn_column_id_makes_no_finding_line():
    files = [
        SourceFile("meldcode.bpmn", as_bytes(shipped_tree())),
        SourceFile(SHIPPED_DMN.name, dmn_with_output_id(f"uitkomst\n{FAKE}")),
    ]
    definition, problems = definitions.check(files, prove=False)
    assert definition is None
    lines = [line for p in problems for line in [str(p), *p.witness_lines()]]
    assert [line for line in lines if f"uitkomst\\n{FAKE}" in line], lines
    assert not [line for line in lines if "\n" in line], lines


def test_a_problem_escapes_any_value_filled_in_and_keeps_its_template():
    inner = Message(N_("formulierveld '{field}'"), field=f"a\n{FAKE}")
    problem = Problem(
        "x.bpmn",
        3,
        Message(N_("{where} is fout"), where=inner),
        path=({"step": f"stap\n{FAKE}", "data": {"veld": f"ja\r{FAKE}"}},),
    )
    assert str(problem).splitlines() == [f"x.bpmn:3: formulierveld 'a\\n{FAKE}' is fout"]
    assert problem.message.template == "{where} is fout"
    assert all(len(line.splitlines()) == 1 for line in problem.witness_lines()), problem.witness_lines()
    assert Problem("x", 1, f"libxml2\n{FAKE}").message == f"libxml2\\n{FAKE}"


@pytest.mark.parametrize(
    ("rule", "config", "good"),
    [
        ("maxlength", "abc", "200"),
        ("maxlength", "-5", "1"),
        ("maxlength", "", "4000"),
        ("maxlength", "0", "200"),
        ("maxlength", None, "200"),
        ("max", "tien", "0"),
        ("min", "1.5", "-5"),
        ("min", "", "0"),
    ],
)
def test_a_constraint_config_that_is_no_whole_number_is_refused(rule, config, good):
    root = shipped_tree()
    node = one(
        root,
        "//camunda:formField[@id='overleg_met']/camunda:validation/camunda:constraint[@name='maxlength']",
    )
    node.set("name", rule)
    if config is None:
        del node.attrib["config"]
    else:
        node.set("config", config)
    found = problems_of(root)
    hits = [p for p in found if f"validatieregel '{rule}' heeft config '{config or ''}'" in p]
    assert len(hits) == 1, found
    assert "overleg_met" in hits[0] and "geheel getal" in hits[0], hits
    # the same rule with a whole number (maxlength: a positive one) passes
    node.set("config", good)
    files = [
        SourceFile("meldcode.bpmn", as_bytes(root)),
        SourceFile(SHIPPED_DMN.name, SHIPPED_DMN.read_bytes()),
    ]
    definition, problems = definitions.check(files, prove=False)
    assert definition is not None, [str(p) for p in problems]
