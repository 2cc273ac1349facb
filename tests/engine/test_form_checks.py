"""A diagram whose form-field or gateway conditions silently switch a rule off is refused by
`meldcode check` (and so by deploy and the modeler's publish, which run the same
definitions.check), with a Dutch message naming the element id, the field and the property, and
"bedoelt u ...?" for a near miss (issue 14 break-it; engine/form_checks.py,
engine/condition_checks.py).

Before these checks each planted fault below passed `meldcode check`: a condition over an
unknown variable, over a value the variable never holds, or over the answer of a later step
cannot be evaluated, so it never holds (forms._holds) and the field is never shown, never
required, never refused; a property or validation rule the product does not read is ignored.
The refused examples go through the command line once and through the engine function for
the rest."""

from __future__ import annotations

import ast
import re

import pytest
from lxml import etree

from engine import condition_checks, definitions, form_checks
from engine.definitions import BPMN_NS, CAMUNDA_NS, SourceFile
from tests.conftest import ROOT
from tests.diagram_edits import (
    FIXTURES,
    SHIPPED_BPMN,
    SHIPPED_DMN,
    C,
    add_enum,
    as_bytes,
    cli_finding,
    form_field,
    inside,
    one,
    problems_of,
    rename,
    set_condition,
    set_property,
    shipped_tree,
)

# --- through the command line ------------------------------------------------------------------


def test_meldcode_check_refuses_a_misspelled_variable_in_shown_when(tmp_path):
    root = shipped_tree()
    set_property(root, "letselduiding", "shown_when", "beroepsgrope == 'artsen'")
    path, number, message = cli_finding(tmp_path, as_bytes(root), ["beroepsgrope"])
    assert inside(path.read_bytes(), number, "letselduiding")
    assert message.startswith(
        " shown_when van formulierveld 'letselduiding' van 'Stap 1: "
        "Signalen in kaart brengen' (stap1_signalen) leest 'beroepsgrope'"
    )
    assert message.endswith("; bedoelt u 'beroepsgroep'?"), message


# --- through the engine's check ----------------------------------------------------------------


def _unknown_required_when(root):
    set_property(root, "veilig_thuis_contact", "required_when", "advies_veilg_thuis == True")


def _unknown_invalid_when(root):
    set_property(
        root, "kindcheck_kinderen", "invalid_when", "kindcheck_kinderen == False and zwangerschp == True"
    )


def _unknown_in_a_gateway(root):
    set_condition(root, "sf_zorgen_ja", "zorgen_weg == True")


def _unknown_in_a_timer(root):
    one(root, "//*[@id='wacht_evaluatiedatum_timer']/bpmn:timeDate").text = "hulp_evaluatie_datum"


def _group_value(root):
    set_property(root, "letselduiding", "shown_when", "beroepsgroep == 'knmg'")


def _enum_value_case(root):
    add_enum(root, "stap1_signalen", "eigen_meldcode", ("KNMG", "VVN"))
    set_property(root, "letselduiding", "shown_when", "eigen_meldcode == 'knmg'")


def _enum_value_in_a_gateway(root):
    set_condition(root, "sf_gesprek_geen_uitzondering", "gesprek_uitzondering == 'gene'")


def _text_for_a_boolean(root):
    set_property(root, "veilig_thuis_contact", "required_when", "advies_veilig_thuis == 'ja'")


def _multi_compared_as_one(root):
    set_property(
        root, "vgv_reden_niet_melden", "required_when", "geweldsvormen == 'vgv' and hulp_mogelijk == True"
    )


def _multi_option_case(root):
    set_property(
        root, "vgv_reden_niet_melden", "required_when", "'VGV' in geweldsvormen and hulp_mogelijk == True"
    )


def _answer_of_a_later_step(root):
    set_property(root, "kinderen_aantal_leeftijden", "required_when", "vermoeden == True")


def _engine_fact_in_a_form(root):
    set_property(root, "kinderen_aantal_leeftijden", "required_when", "meldingen_gedaan == 0")


def _case_data_in_a_gateway(root):
    set_condition(root, "sf_zorgen_ja", "beroepsgroep == 'artsen'")


def _not_afer(root):
    rename(
        root,
        "//camunda:formField[@id='datum_waarneming']//camunda:property[@id='not_after']",
        "id",
        "not_afer",
    )


def _requird_when(root):
    rename(
        root,
        "//camunda:formField[@id='kinderen_aantal_leeftijden']//camunda:property[@id='required_when']",
        "id",
        "requird_when",
    )


def _requird(root):
    rename(
        root, "//camunda:formField[@id='vermoeden']//camunda:constraint[@name='required']", "name", "requird"
    )


def _default_value(root):
    node = form_field(root, "pleger_zorgverlener")
    node.set("defaultvalue", "false")


def _help_of_no_option(root):
    rename(
        root, "//camunda:formField[@id='geweldsvormen']//camunda:property[@id='help.vgv']", "id", "help.vgvv"
    )


def _unknown_element(root):
    properties = form_field(root, "signalen").find(C + "properties")
    properties.tag = C + "propertys"


# plant, element id, field (or flow/event), words of the one message about it
PLANTED = {
    "unknown variable in required_when": (
        _unknown_required_when,
        "stap2_overleg",
        "veilig_thuis_contact",
        (
            "required_when",
            "leest 'advies_veilg_thuis'",
            "geen formulierveld",
            "bedoelt u 'advies_veilig_thuis'?",
        ),
    ),
    "unknown variable in invalid_when": (
        _unknown_invalid_when,
        "stap1_signalen",
        "kindcheck_kinderen",
        ("invalid_when", "leest 'zwangerschp'", "bedoelt u 'zwangerschap'?"),
    ),
    "unknown variable on a gateway's flow": (
        _unknown_in_a_gateway,
        "sf_zorgen_ja",
        "sf_zorgen_ja",
        (
            "de voorwaarde op stroom 'Ja' (sf_zorgen_ja)",
            "leest 'zorgen_weg'",
            "bedoelt u 'zorgen_weggenomen'?",
        ),
    ),
    "unknown variable in a timer": (
        _unknown_in_a_timer,
        "wacht_evaluatiedatum",
        "wacht_evaluatiedatum",
        (
            "timer van 'Wachten tot de evaluatiedatum' (wacht_evaluatiedatum)",
            "leest 'hulp_evaluatie_datum'",
            "bedoelt u 'hulp_evaluatiedatum'?",
        ),
    ),
    "a beroepsgroep that does not exist": (
        _group_value,
        "stap1_signalen",
        "letselduiding",
        (
            "shown_when",
            "vergelijkt 'beroepsgroep' met 'knmg'",
            "kan die waarde nooit hebben",
            "bedoelt u 'artsen'?",
        ),
    ),
    "an option in the wrong case": (
        _enum_value_case,
        "stap1_signalen",
        "letselduiding",
        ("shown_when", "vergelijkt 'eigen_meldcode' met 'knmg'", "'KNMG', 'VVN'", "bedoelt u 'KNMG'?"),
    ),
    "an option that does not exist, on a gateway": (
        _enum_value_in_a_gateway,
        "sf_gesprek_geen_uitzondering",
        "sf_gesprek_geen_uitzondering",
        ("de voorwaarde op stroom", "vergelijkt 'gesprek_uitzondering' met 'gene'", "bedoelt u 'geen'?"),
    ),
    "a text for a yes/no field": (
        _text_for_a_boolean,
        "stap2_overleg",
        "veilig_thuis_contact",
        ("required_when", "vergelijkt 'advies_veilig_thuis' met 'ja'", "bedoelt u True?"),
    ),
    "a multi field compared as one value": (
        _multi_compared_as_one,
        "stap5_beslissen",
        "vgv_reden_niet_melden",
        ("required_when", "het meerkeuzeveld 'geweldsvormen'", "bedoelt u 'vgv' in geweldsvormen?"),
    ),
    "a multi field's option in the wrong case": (
        _multi_option_case,
        "stap5_beslissen",
        "vgv_reden_niet_melden",
        ("required_when", "vergelijkt 'geweldsvormen' met 'VGV'", "bedoelt u 'vgv'?"),
    ),
    "the answer of a later step": (
        _answer_of_a_later_step,
        "stap1_signalen",
        "kinderen_aantal_leeftijden",
        (
            "required_when",
            "leest 'vermoeden'",
            "pas ingevuld in 'Stap 4: Wegen' (stap4_wegen)",
            "op geen route vóór deze",
        ),
    ),
    "an engine fact in a form condition": (
        _engine_fact_in_a_form,
        "stap1_signalen",
        "kinderen_aantal_leeftijden",
        ("required_when", "leest 'meldingen_gedaan'", "alleen de voorwaarden op stromen"),
    ),
    "the case's beroepsgroep on a gateway": (
        _case_data_in_a_gateway,
        "sf_zorgen_ja",
        "sf_zorgen_ja",
        ("leest 'beroepsgroep'", "alleen de voorwaarden van formuliervelden"),
    ),
    "not_afer": (
        _not_afer,
        "stap1_signalen",
        "datum_waarneming",
        ("de eigenschap 'not_afer'", "stil negeren", "bedoelt u 'not_after'?"),
    ),
    "requird_when": (
        _requird_when,
        "stap1_signalen",
        "kinderen_aantal_leeftijden",
        ("de eigenschap 'requird_when'", "bedoelt u 'required_when'?"),
    ),
    "requird": (
        _requird,
        "stap4_wegen",
        "vermoeden",
        ("de validatieregel 'requird'", "bedoelt u 'required'?"),
    ),
    "defaultvalue": (
        _default_value,
        "stap1_signalen",
        "pleger_zorgverlener",
        ("het attribuut 'defaultvalue'", "bedoelt u 'defaultValue'?"),
    ),
    "help of an option the field lacks": (
        _help_of_no_option,
        "stap1_signalen",
        "geweldsvormen",
        ("de eigenschap 'help.vgvv'", "bedoelt u 'help.vgv'?"),
    ),
    "a misspelled Camunda element": (
        _unknown_element,
        "stap1_signalen",
        "signalen",
        ("het element 'propertys'", "bedoelt u 'properties'?"),
    ),
}


@pytest.mark.parametrize("case", list(PLANTED))
def test_the_check_refuses_a_condition_or_key_that_switches_a_rule_off(case):
    plant, element, target, words = PLANTED[case]
    root = shipped_tree()
    plant(root)
    content = as_bytes(root)
    hits = [p for p in problems_of(root) if all(w in p for w in words)]
    assert len(hits) == 1, problems_of(root)
    file, number, message = hits[0].split(":", 2)
    assert file == "meldcode.bpmn"
    assert inside(content, int(number), target), hits[0]
    assert f"({element})" in message  # the element's id beside its label
    if target != element:  # a form field: named with its property
        assert f"formulierveld '{target}' van" in message


def test_the_shipped_set_and_the_real_world_cases_pass_these_checks():
    """The shipped set, the deployable tables and the case with a boundary timer (refused by
    the proof of every route, not here) have nothing these checks refuse."""
    shipped = [
        SourceFile(SHIPPED_BPMN.name, SHIPPED_BPMN.read_bytes()),
        SourceFile(SHIPPED_DMN.name, SHIPPED_DMN.read_bytes()),
    ]
    assert definitions.check(shipped, prove=False)[1] == []
    for name in ("04-afwegingskader-feel-list.dmn", "05-afwegingskader-dmn12.dmn"):
        files = [shipped[0], SourceFile(name, (FIXTURES / name).read_bytes())]
        assert definitions.check(files, prove=False)[1] == [], name
    files = [SourceFile("08.bpmn", (FIXTURES / "08-meldcode-timer-boundary.bpmn").read_bytes()), shipped[1]]
    assert definitions.check(files, prove=False)[1] == []


# --- routes: loops and parallel branches, on a small process -----------------------------------


def small_process(flows: list[tuple[str, str]], split: str = "exclusiveGateway") -> dict:
    """A process start -> a -> b -> g -> ... with the flows given between start, a, b, c, g
    and end: a asks `x` (required when y == True), b asks `y`, c asks `z` (required when
    y == True). g is a gateway of kind `split`."""

    def task(task_id: str, key: str, condition: str | None) -> str:
        props = f'<camunda:property id="required_when" value="{condition}"/>' if condition else ""
        return (
            f'<bpmn:userTask id="{task_id}" name="{task_id.upper()}"><bpmn:extensionElements>'
            f'<camunda:formData><camunda:formField id="{key}" type="boolean">'
            f"<camunda:properties>{props}</camunda:properties></camunda:formField>"
            f"</camunda:formData></bpmn:extensionElements></bpmn:userTask>"
        )

    body = "".join(
        f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{b}"/>' for n, (a, b) in enumerate(flows)
    )
    xml = (
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:camunda="{CAMUNDA_NS}" id="d">'
        f'<bpmn:process id="p"><bpmn:startEvent id="start"/>'
        f"{task('a', 'x', 'y == True')}{task('b', 'y', None)}{task('c', 'z', 'y == True')}"
        f'<bpmn:{split} id="g"/><bpmn:endEvent id="end"/>{body}</bpmn:process>'
        f"</bpmn:definitions>"
    )
    return {"p.bpmn": etree.fromstring(xml.encode())}


def later_step_problems(roots: dict) -> list[str]:
    return [str(p) for p in condition_checks.check_set(roots) if "op geen route" in str(p)]


def test_in_a_loop_an_answer_of_a_step_after_it_is_known_from_the_second_round():
    # a reads y, which b asks after a; without the flow back to a, a never sees it
    straight = [("start", "a"), ("a", "b"), ("b", "g"), ("g", "c"), ("c", "end")]
    problems = later_step_problems(small_process(straight))
    assert (
        len(problems) == 1
        and "required_when van formulierveld 'x' van 'A' (a)" in problems[0]
        and "'B' (b)" in problems[0]
    ), problems
    # with it, a comes after b in the second round: y is known, as forms read the case data
    assert later_step_problems(small_process([*straight, ("g", "a")])) == []


def test_an_answer_of_a_parallel_branch_is_no_answer_before():
    flows = [("start", "g"), ("g", "b"), ("g", "c"), ("b", "end"), ("c", "end")]
    problems = later_step_problems(small_process(flows, split="parallelGateway"))
    assert [p for p in problems if "formulierveld 'z' van 'C' (c) leest 'y'" in p], problems


# --- the keys are those the product reads --------------------------------------------------------


def _literals_of(path, method: str) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", None) == method
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def test_the_known_keys_are_exactly_what_the_forms_read():
    read = _literals_of(ROOT / "engine" / "forms.py", "get_property") | _literals_of(
        ROOT / "engine" / "form_choices.py", "get_property"
    )
    assert read == set(form_checks.PROPERTIES)
    assert _literals_of(ROOT / "engine" / "forms.py", "get_validation") | {"required"} == set(
        form_checks.CONSTRAINTS
    )
    parser = (ROOT / "engine" / "definitions.py").read_text()
    assert set(re.findall(r'xml_field\.get\("(\w+)"\)', parser)) == set(form_checks.ATTRIBUTES)
