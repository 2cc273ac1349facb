"""Problems tied to diagram elements, settings placeholders, and the process owner's services."""

import pytest

from engine import definition_xml, organisation, process_admin
from engine.errors import Forbidden, Invalid
from tests.conftest import ROOT

SHIPPED = (ROOT / "processes" / "meldcode.bpmn").read_bytes()


def line_of(text: str) -> int:
    return SHIPPED.decode().splitlines().index(next(
        line for line in SHIPPED.decode().splitlines() if text in line)) + 1


@pytest.mark.parametrize("text,element", [
    ('<bpmn:userTask id="stap1_signalen"', "stap1_signalen"),
    ('camunda:formField id="signalen"', "stap1_signalen"),  # a form field: its task
    ("zorgen_weggenomen == True</bpmn:conditionExpression>", "sf_zorgen_ja"),  # its flow
    ('<bpmn:process id="meldcode"', "meldcode"),
    ('<bpmndi:BPMNShape id="stap1_signalen_di"', "stap1_signalen"),  # what it draws
])
def test_a_problem_line_names_its_element(text, element):
    index = definition_xml.element_ids_by_line(SHIPPED)
    assert definition_xml.element_for_line(index, line_of(text)) == element


def test_unreadable_xml_has_no_elements():
    assert definition_xml.element_ids_by_line(b"<niet-af") == []
    assert definition_xml.element_for_line([], 5) is None


def test_placeholders_with_and_without_settings():
    empty = organisation.placeholder_values(organisation.DEFAULTS)
    text = "Bel {veilig_thuis_regio} of {veilig_thuis_telefoon}; vraag {aandachtsfunctionaris}. {x}"
    assert organisation.fill_in(text, empty) == (
        "Bel Veilig Thuis in de regio van de cliënt of 0800-2000; vraag de aandachtsfunctionaris. {x}")
    full = organisation.placeholder_values({
        **organisation.DEFAULTS, "organisatie_naam": "De Linde", "veilig_thuis_regio_naam": "VT Utrecht",
        "veilig_thuis_regio_telefoon": "030 1234567", "beroepsgroep": "artsen",
        "aandachtsfunctionarissen": [{"naam": "A", "telefoon": "06-1"}, {"naam": "B"}, {"naam": ""}]})
    assert full["veilig_thuis_regio"] == "VT Utrecht (030 1234567)"
    assert full["aandachtsfunctionaris"] == "aandachtsfunctionaris A (06-1) of B"
    assert full["organisatie"] == "De Linde" and "KNMG" in full["afwegingskader"]
    assert organisation.fill_in(None, full) == ""


def test_only_a_procesbeheerder_changes_versions(people):
    for name in ("mw", "bh", "aud"):
        with pytest.raises(Forbidden):
            process_admin.publish(people[name], {"bpmn": SHIPPED.decode()})
        with pytest.raises(Forbidden):
            process_admin.activate(people[name], 1)
    with pytest.raises(Forbidden):
        process_admin.versions_page(people["mw"])
    assert process_admin.versions_page(people["aud"])["may_change"] is False
    with pytest.raises(Invalid):
        process_admin.check_edited(people["pb"], {"dmn": "x"})
