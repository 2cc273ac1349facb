"""The procesbeheerder's difference between two versions shows a change of a form field's
`shown_when` (whether the field is on a case's form at all: the KNMG points of a doctor's
case, issue 14 point 3) like the field's other properties, on the versions page and in the
modeler's preview of what a publish would change."""

from __future__ import annotations

import html

from engine import versions
from engine.definitions import SourceFile
from tests.conftest import ROOT
from tests.helpers import Client, text

MELDCODE = (ROOT / "processes" / "meldcode.bpmn").read_text()
DMN = SourceFile("afwegingskader.dmn", (ROOT / "processes" / "afwegingskader.dmn").read_bytes())
KNMG = "beroepsgroep == 'artsen'"
WIDER = "beroepsgroep != 'sociaal_domein'"
LETSEL = '<camunda:formField id="letselduiding"'
REASON = '<camunda:formField id="advies_vt_niet_reden"'


def edited() -> str:
    """The shipped diagram with letselduiding asked of doctors and nurses, and the reason for
    not asking Veilig Thuis's advice of every group (its shown_when dropped)."""
    start = MELDCODE.index(LETSEL)
    end = MELDCODE.index("</camunda:formField>", start)
    xml = MELDCODE[:start] + MELDCODE[start:end].replace(KNMG, WIDER) + MELDCODE[end:]
    start = xml.index(REASON)
    end = xml.index("</camunda:formField>", start)
    reason = xml[start:end]
    line = next(row for row in reason.splitlines(keepends=True) if "shown_when" in row)
    return xml[:start] + reason.replace(line, "") + xml[end:]


def bpmn(xml: str) -> list[SourceFile]:
    return [SourceFile("meldcode.bpmn", xml.encode()), DMN]


def test_the_engine_names_each_changed_shown_when_as_a_detail_of_its_field():
    changes = versions.diff(bpmn(MELDCODE), bpmn(edited()))
    by_id = {c["id"]: c for c in changes}
    assert set(by_id) == {"stap1_signalen/letselduiding", "stap2_overleg/advies_vt_niet_reden"}
    assert by_id["stap1_signalen/letselduiding"] == {
        "soort": "formulierveld",
        "wijziging": "gewijzigd",
        "id": "stap1_signalen/letselduiding",
        "details": [{"attribute": "shown_when", "before": KNMG, "after": WIDER}],
    }
    assert by_id["stap2_overleg/advies_vt_niet_reden"]["details"] == [
        {"attribute": "shown_when", "before": KNMG, "after": ""}
    ]
    assert versions.diff(bpmn(MELDCODE), bpmn(MELDCODE)) == []


def test_the_versions_page_shows_the_change(ui_app):
    pb = Client(ui_app)
    pb.login("pb")
    pb.get("/processen/modeler")
    headers = {"Referer": "http://localhost/", "X-CSRFToken": pb.token}
    # the modeler's check shows what a publish would change
    checked = pb.http.post("/processen/modeler/controleren", json={"bpmn": edited()}, headers=headers)
    assert checked.get_json()["ok"] is True
    [fields] = [g for g in checked.get_json()["groups"] if g["soort"] == "formulierveld"]
    assert [c["id"] for c in fields["wijzigingen"]] == [
        "stap1_signalen/letselduiding",
        "stap2_overleg/advies_vt_niet_reden",
    ]
    assert f"alleen op het formulier als: '{KNMG}' → '{WIDER}'" in fields["wijzigingen"][0]["omschrijving"]
    published = pb.http.post("/processen/modeler/publiceren", json={"bpmn": edited()}, headers=headers)
    assert published.status_code == 201, published.get_json()
    page = html.unescape(text(pb.get("/processen?van=1&naar=2")))
    comparison = page[page.index('id="verschil"') :]
    assert 'Formuliervelden <span class="muted">(2)</span>' in comparison
    assert "stap1_signalen/letselduiding" in comparison
    assert f"alleen op het formulier als: '{KNMG}' → '{WIDER}'" in comparison
    assert f"alleen op het formulier als: '{KNMG}' → ''" in comparison
