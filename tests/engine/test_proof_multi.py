"""The proof of every route over a multi field (issue 14 point 1): it tries the subsets of the
options that the diagram's conditions name, so a fault on a route that only some forms of
violence take is found, with the answer that takes it in the witness."""

from __future__ import annotations

from lxml import etree

from engine import definitions, forms, proof
from engine.definitions import SourceFile
from engine.proof_diagram import read_diagram
from engine.proof_explorer import _domain
from tests.conftest import ROOT

BPMN = (ROOT / "processes" / "meldcode.bpmn").read_bytes()
DMN = (ROOT / "processes" / "afwegingskader.dmn").read_bytes()
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def prove(root) -> list:
    files = [SourceFile("meldcode.bpmn", etree.tostring(root, xml_declaration=True,
                                                        encoding="UTF-8")),
             SourceFile("afwegingskader.dmn", DMN)]
    definition, problems = definitions.check(files, prove=False)
    assert definition is not None, [str(p) for p in problems]
    return proof.prove(definition)


def test_a_fault_only_after_the_expert_is_found_with_the_form_of_violence_that_leads_there():
    root = etree.fromstring(BPMN)
    # after deskundige_raadplegen the route ends without an uitkomst
    [flow] = root.xpath("//bpmn:sequenceFlow[@id='sf_deskundige_gesprek_gw']", namespaces=NS)
    flow.set("targetRef", "einde_geen_vermoeden")
    problems = [p for p in prove(root) if "zonder uitkomst" in p.message]
    assert problems, "the proof did not take the route of eergerelateerd geweld"
    path = problems[0].path
    assert [hop["step"] for hop in path] == ["stap1_signalen", "stap2_overleg",
                                             "deskundige_raadplegen"]
    chosen = path[0]["data"]["geweldsvormen"]
    assert {"eergerelateerd", "huwelijksdwang", "achterlating"} & set(chosen)


def test_the_subsets_tried_for_a_multi_field():
    field = forms.Field("vormen", "Vormen", "multi", options=tuple(
        forms.Option(v, v) for v in ("a", "b", "c", "d", "e")))
    # at most three options named: every subset of them
    assert _domain(field, {"a", "c"}) == [[], ["a"], ["c"], ["a", "c"]]
    assert len(_domain(field, {"a", "b", "c"})) == 8
    # more: none, each alone, and all together (each condition seen true and false)
    assert _domain(field, {"a", "b", "c", "d"}) == [[], ["a"], ["b"], ["c"], ["d"],
                                                    ["a", "b", "c", "d"]]
    assert _domain(field, set()) == [[]]


def test_subsets_alike_for_every_condition_are_tried_once():
    field = forms.Field("vormen", "Vormen", "multi", options=tuple(
        forms.Option(v, v) for v in ("a", "b", "c", "d")))
    either = ("'a' in vormen or 'b' in vormen", frozenset({"a", "b"}), True)
    # ['a'], ['b'] and both route alike under a condition that asks for either
    assert _domain(field, {"a", "b"}, [either]) == [[], ["a"]]
    # a condition that also reads another answer sees which of its options were chosen
    also = ("'a' in vormen and x", frozenset({"a"}), False)
    assert _domain(field, {"a", "b"}, [either, also]) == [[], ["a"], ["b"]]
    # without conditions (a decision table reads the field): every subset stays
    assert len(_domain(field, {"a", "b"})) == 4


def test_the_shipped_forms_of_violence_are_tried_as_four_kinds():
    definition, problems = definitions.check([SourceFile("meldcode.bpmn", BPMN),
                                              SourceFile("afwegingskader.dmn", DMN)],
                                             prove=False)
    assert definition is not None, problems
    diagram = read_diagram(definition)
    [field] = [f for f in definition.steps["stap1_signalen"].fields if f.name == "geweldsvormen"]
    tried = _domain(field, diagram.constants["geweldsvormen"],
                    diagram.conditions["geweldsvormen"])
    # none; one that asks for the expert first; vgv (a reason not to report); both
    assert tried == [[], ["eergerelateerd"], ["vgv"],
                     ["eergerelateerd", "huwelijksdwang", "achterlating", "vgv"]]
