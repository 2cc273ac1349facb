"""`meldcode check` refuses a condition whose outcome depends on the order of answering or whose
comparison can never hold as meant, and a defaultValue the product would not read (issue 14
break-it; engine/condition_checks.py, engine/condition_values.py, engine/form_checks.py).

Each planted fault below passed `meldcode check` before, or was refused only by the proof of
every route in other words:
- a shown_when that reads a field of its own form: worked out over the case data before the
  form is answered, the name is unknown or an earlier round's answer;
- a required_when that reads its own field: asked or not depends on its own answer;
- a text (or date) compared with a number, a number with a text (`overleg_met == 3`,
  `meldingen_gedaan == 'nul'`): never equal, and `<` or `in` cannot even be worked out;
- `defaultValue="nee"` on a ja/nee-veld, any defaultValue on another field: passed over, so
  nothing is recorded for the field left empty.
Each is one `FILE:LINE: message` in Dutch at the element, naming the field (or flow), what the
variable holds and, where it can tell, what was meant."""

from __future__ import annotations

import pytest

from tests.diagram_edits import (
    as_bytes,
    cli_finding,
    inside,
    planting,
    problems_of,
    set_condition,
    set_default,
    set_property,
    shipped_tree,
)

STAP1 = "'Stap 1: Signalen in kaart brengen' (stap1_signalen)"
HULP_FAALT = "hulp_effectief == False and besluit_melden == True"


def test_meldcode_check_refuses_a_text_field_compared_with_a_number(tmp_path):
    root = shipped_tree()
    set_property(root, "veilig_thuis_contact", "required_when", "overleg_met == 3")
    path, number, message = cli_finding(tmp_path, as_bytes(root), ["overleg_met"])
    assert inside(path.read_bytes(), number, "veilig_thuis_contact")
    assert message == (
        " required_when van formulierveld 'veilig_thuis_contact' van 'Stap 2: Collegiaal overleg "
        "en eventueel advies Veilig Thuis' (stap2_overleg) vergelijkt 'overleg_met' met 3, maar "
        "'overleg_met' is een tekstveld (het antwoord is een tekst) en 3 is een getal: die zijn "
        "nooit gelijk, dus de regel werkt niet zoals bedoeld; vergelijk met een tekst tussen "
        "aanhalingstekens; bedoelt u '3'?"
    )


# plant, element id, field (or flow), words of the one message about it
PLANTED = {
    "shown_when reads its own field": (
        planting(
            set_property, "letselduiding", "shown_when", "beroepsgroep == 'artsen' and letselduiding != ''"
        ),
        "stap1_signalen",
        "letselduiding",
        (
            f"shown_when van formulierveld 'letselduiding' van {STAP1} leest 'letselduiding', een veld "
            "van hetzelfde formulier",
            "voordat het formulier wordt ingevuld",
            "hoort in required_when",
        ),
    ),
    "shown_when reads another field of its form": (
        planting(
            set_property,
            "letselduiding",
            "shown_when",
            "beroepsgroep == 'artsen' and kindcheck_kinderen == True",
        ),
        "stap1_signalen",
        "letselduiding",
        ("shown_when", "leest 'kindcheck_kinderen', een veld van hetzelfde formulier", "van de volgorde"),
    ),
    "required_when reads its own field": (
        planting(
            set_property, "kinderen_aantal_leeftijden", "required_when", "kinderen_aantal_leeftijden == ''"
        ),
        "stap1_signalen",
        "kinderen_aantal_leeftijden",
        (
            f"required_when van formulierveld 'kinderen_aantal_leeftijden' van {STAP1} leest het eigen "
            "veld 'kinderen_aantal_leeftijden'",
            "hoort in invalid_when",
        ),
    ),
    "a text field ordered with a number": (
        planting(set_property, "veilig_thuis_contact", "required_when", "overleg_met > 3"),
        "stap2_overleg",
        "veilig_thuis_contact",
        ("'overleg_met' is een tekstveld", "3 is een getal", "niet op grootte worden vergeleken"),
    ),
    "a date field compared with a number": (
        planting(set_property, "kinderen_aantal_leeftijden", "required_when", "datum_waarneming == 2024"),
        "stap1_signalen",
        "kinderen_aantal_leeftijden",
        (
            "vergelijkt 'datum_waarneming' met 2024",
            "is een datumveld",
            "nooit gelijk",
            "vergelijk met een datum als tekst, zoals '2024-12-31'",
        ),
    ),
    "the engine's count compared with a text": (
        planting(set_condition, "sf_hulp_sluit_aan", f"{HULP_FAALT} and meldingen_gedaan == 'nul'"),
        "sf_hulp_sluit_aan",
        "sf_hulp_sluit_aan",
        (
            "de voorwaarde op stroom",
            "vergelijkt 'meldingen_gedaan' met 'nul', maar 'meldingen_gedaan' is een telling van de "
            "engine (een geheel getal) en 'nul' is een tekst: die zijn nooit gelijk",
            "vergelijk met een geheel getal zonder aanhalingstekens; bedoelt u 0?",
        ),
    ),
    "a search in the engine's count": (
        planting(set_condition, "sf_hulp_sluit_aan", f"{HULP_FAALT} and '0' in meldingen_gedaan"),
        "sf_hulp_sluit_aan",
        "sf_hulp_sluit_aan",
        ("'meldingen_gedaan' is een telling van de engine", "daarin kan niet worden gezocht"),
    ),
    "defaultValue nee on a yes/no field": (
        planting(set_default, "zorgen_weggenomen", "nee"),
        "stap3_gesprek",
        "zorgen_weggenomen",
        (
            "formulierveld 'zorgen_weggenomen' van 'Stap 3: Gesprek met de cliënt' (stap3_gesprek) heeft "
            "defaultValue 'nee', maar een ja/nee-veld kent als standaardwaarde alleen 'true' of 'false'",
            "bedoelt u 'false'?",
        ),
    ),
    "defaultValue on a text field": (
        planting(set_default, "overleg_met", "collega"),
        "stap2_overleg",
        "overleg_met",
        (
            "heeft defaultValue 'collega'",
            "alleen bij een ja/nee-veld",
            "bij type 'string'",
            "Laat defaultValue weg",
        ),
    ),
}


@pytest.mark.parametrize("case", list(PLANTED))
def test_the_check_refuses_an_order_dependent_or_mistyped_condition(case):
    plant, element, target, words = PLANTED[case]
    root = shipped_tree()
    plant(root)
    content = as_bytes(root)
    found = problems_of(root)
    hits = [p for p in found if all(w in p for w in words)]
    assert len(hits) == 1 and len(found) == 1, found
    file, number, message = hits[0].split(":", 2)
    assert file == "meldcode.bpmn"
    assert inside(content, int(number), target), hits[0]
    assert f"({element})" in message


def test_only_invalid_when_may_read_its_own_field():
    """invalid_when judges the answer given: reading its own field is what it is for (the
    shipped kindcheck_kinderen and zorgen_weggenomen do), and a date compared with a date is
    fine; the same reading in required_when is refused."""
    root = shipped_tree()
    set_property(
        root,
        "kinderen_aantal_leeftijden",
        "invalid_when",
        "kinderen_aantal_leeftijden == '0' and kindcheck_kinderen",
    )
    # a date of an earlier step: the page knows it (over a date of the same form the page
    # cannot follow '<', which check refuses for that reason since b4b0afd)
    set_property(root, "overgedragen_aan", "required_when", "datum_waarneming < '2000-01-01'")
    set_property(root, "kindcheck_toelichting", "required_when", "kindcheck_toelichting != ''")
    found = problems_of(root)
    assert len(found) == 1 and "required_when van formulierveld 'kindcheck_toelichting'" in found[0], found


@pytest.mark.parametrize("text", ["②", "--1", "+-3", "²"])
def test_a_number_like_text_is_a_finding_and_hides_no_other(text):
    """Break-it: '②' passes str.isdigit() but not int(); the hint crashed the condition
    check, whose catch-all then hid every other finding behind one line-1 message."""
    root = shipped_tree()
    set_condition(root, "sf_hulp_sluit_aan", f"{HULP_FAALT} and meldingen_gedaan == '{text}'")
    set_property(root, "veilig_thuis_contact", "required_when", "overleg_met == 3")
    found = problems_of(root)
    assert not [p for p in found if "kunnen niet worden gecontroleerd" in p], found
    assert [p for p in found if f"met '{text}'" in p and "meldingen_gedaan" in p], found
    assert [p for p in found if "'overleg_met' is een tekstveld" in p], found


@pytest.mark.parametrize("name", ["false", "true", "null"])
def test_a_field_named_like_a_constant_is_refused(name):
    """Break-it: a form field `false` passed the check, and the evaluator read the case data
    before its constants, so `terugkoppeling_ontvangen == false` turned around."""
    from lxml import etree

    from engine import expressions
    from engine.definitions import NS

    root = shipped_tree()
    form = root.xpath("//bpmn:userTask[@id='stap1_signalen']//camunda:formData", namespaces=NS)[0]
    etree.SubElement(form, form[0].tag, id=name, label="Is er iets?", type="boolean")
    found = problems_of(root)
    assert [p for p in found if f"'{name}'" in p and "vaste waarde" in p], found
    # and the evaluator reads the constant, whatever the case data holds
    assert expressions.evaluate("x == false", {"x": True, "false": True}) is False
