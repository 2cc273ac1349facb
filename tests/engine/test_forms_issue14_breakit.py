"""Issue 14 break-it, on the shipped forms (engine.forms.validate, the one validation of every
door) and the proof of every route:

(a) a doctor (KNMG) who could not reach the client (`client_niet_bereikt`, attempts recorded)
    is not asked to describe a conversation that never took place; every other group's stap 3
    still requires it; the proof walks a doctor's case too;
(b) a date that records what happened is never in the future, a date that plans (the
    evaluation of help) never in the past: declared per field in the diagram.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from engine import clock, definitions, forms, proof
from engine.definitions import SourceFile
from tests.conftest import ROOT

DEFINITION = definitions.load(definitions.shipped_files())
STAP3 = DEFINITION.steps["stap3_gesprek"].fields
# the questions about the conversation (issue 14b: its date and agreements too)
CONVERSATION = ("gesprek_met", "gesprek_met_wie", "gesprek_besproken", "gesprek_reactie_client",
                "gesprek_datum", "gesprek_afspraken")
DOCTOR = {"beroepsgroep": "artsen"}
NURSE = {"beroepsgroep": "verpleegkundigen"}
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn"}


def errors_of(fields, data, **kw) -> dict[str, str]:
    with pytest.raises(forms.FormInvalid) as caught:
        forms.validate(fields, data, **kw)
    return caught.value.errors


def test_a_doctor_who_could_not_reach_the_client_invents_no_conversation():
    not_reached = {
        "client_niet_bereikt": True,
        "bereik_pogingen": "2x gebeld (1 en 3 december), brief gestuurd",
    }
    clean = forms.validate(STAP3, not_reached, context=DOCTOR)
    assert not set(CONVERSATION) & {k for k, v in clean.items() if v not in ([], None)}
    # on the web form the four are shown only while the answer is not "ja"
    doctors_form = {f.name: f for f in forms.shown_fields(STAP3, DOCTOR)}
    assert {doctors_form[n].required_when for n in CONVERSATION} == {"client_niet_bereikt != True"}
    # the attempts stay required, and a doctor who did reach the client (or left the
    # question at its default, nee) still records the conversation
    assert set(errors_of(STAP3, {**not_reached, "bereik_pogingen": " "}, context=DOCTOR)) == {
        "bereik_pogingen"
    }
    reached = {"zorgen_weggenomen": False}
    assert set(errors_of(STAP3, reached, context=DOCTOR)) == set(CONVERSATION)
    assert set(errors_of(STAP3, {**reached, "client_niet_bereikt": False}, context=DOCTOR)) == set(
        CONVERSATION
    )
    # another group's form has no such question: the conversation is plainly required there
    nurses_form = {f.name: f for f in forms.shown_fields(STAP3, NURSE)}
    assert "client_niet_bereikt" not in nurses_form
    assert all(nurses_form[n].required and not nurses_form[n].required_when for n in CONVERSATION)
    assert set(errors_of(STAP3, reached, context=NURSE)) == set(CONVERSATION)
    assert "client_niet_bereikt" in errors_of(STAP3, not_reached, context=NURSE)


def test_the_proof_walks_a_doctors_case():
    """A fault on a doctor's form only (bereik_pogingen always required and never accepted) is
    found, with a witness that says it is a doctor's case; the shipped diagram proves clean
    for both kinds of case."""
    root = etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())
    [props] = root.xpath("//camunda:formField[@id='bereik_pogingen']/camunda:properties", namespaces=NS)
    [required_when] = props.xpath("camunda:property[@id='required_when']", namespaces=NS)
    required_when.set("value", "True")
    etree.SubElement(props, f"{{{NS['camunda']}}}property", id="invalid_when", value="True")
    files = [
        SourceFile("meldcode.bpmn", etree.tostring(root, xml_declaration=True, encoding="UTF-8")),
        SourceFile("afwegingskader.dmn", (ROOT / "processes" / "afwegingskader.dmn").read_bytes()),
    ]
    definition, problems = definitions.check(files, prove=False)
    assert definition is not None, [str(p) for p in problems]
    found = proof.prove(definition)
    assert [p for p in found if "Stap 3" in p.message and "geen enkel antwoord" in p.message], [
        str(p) for p in found
    ]
    witness = found[0].path
    assert witness[0] == {"step": "start_signalen", "data": {"beroepsgroep": "artsen"}}
    assert witness[-1]["step"] != "stap3_gesprek"  # it stops there: stap 3 never completes
    assert proof.prove(DEFINITION) == []


def date_fields() -> dict[str, list[forms.Field]]:
    found: dict[str, list[forms.Field]] = {}
    for step in DEFINITION.steps.values():
        for f in step.fields:
            if f.type == "date":
                found.setdefault(f.name, []).append(f)
    return found


def test_every_date_field_says_whether_it_records_or_plans():
    fields = date_fields()
    assert "igj_melddatum" in fields and "hulp_evaluatiedatum" in fields
    for name, each in fields.items():
        for f in each:
            bounds = (f.not_after, f.not_before)
            expected = (None, forms.TODAY) if name == "hulp_evaluatiedatum" else (forms.TODAY, None)
            assert bounds == expected, name


@pytest.mark.parametrize(
    "name", ["igj_melddatum", "melding_datum", "gesprek_datum", "datum_waarneming", "terugkoppeling_datum"]
)
def test_a_date_of_what_happened_is_not_in_the_future(name):
    [field] = date_fields()[name][:1]
    asked = {"client_niet_bereikt": False}  # gesprek_datum is asked when the client was reached
    # 23:30 UTC on 1 December is 00:30 on 2 December in the Netherlands: that day is today
    with clock.use(datetime(2026, 12, 1, 23, 30, tzinfo=UTC)):
        assert forms.validate([field], {name: "2026-12-02"}, context=asked)[name] == "2026-12-02"
        assert forms.validate([field], {name: "2025-06-30"}, context=asked)[name] == "2025-06-30"
        errors = errors_of([field], {name: "2026-12-03"}, context=asked)
        web = errors_of([field], {name: "2026-12-03"}, from_web=True, context=asked)
    assert list(errors) == [name] and list(web) == [name]
    assert "toekomst" in str(errors[name]) and "02-12-2026" in str(errors[name])


def test_a_planned_evaluation_is_not_in_the_past():
    [field] = date_fields()["hulp_evaluatiedatum"]
    with clock.use(datetime(2026, 12, 1, 23, 30, tzinfo=UTC)):
        errors = errors_of([field], {"hulp_evaluatiedatum": "2026-12-01"})
        assert forms.validate([field], {"hulp_evaluatiedatum": "2026-12-02"})
        assert forms.validate([field], {"hulp_evaluatiedatum": "2027-03-01"})
    assert list(errors) == ["hulp_evaluatiedatum"]
    assert "verleden" in str(errors["hulp_evaluatiedatum"])
