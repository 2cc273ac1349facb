"""Organisation settings, the difference between process versions, the meldcode document."""

import shutil
import subprocess

import pytest
from lxml import etree

from engine import audit, definitions, meldcode_doc, organisation, store, versions
from engine.errors import Forbidden, Invalid
from tests.conftest import ROOT, need


def test_settings_round_trip_and_validation(people):
    assert organisation.current()["veilig_thuis_telefoon"] == "0800-2000"
    saved = organisation.update(people["bh"], {
        "organisatie_naam": "Zorggroep De Linde",
        "veilig_thuis_regio_naam": "Veilig Thuis Utrecht",
        "veilig_thuis_regio_telefoon": "030 123 45 67",
        "beroepsgroep": "verpleegkundigen",
        "aandachtsfunctionarissen": [{"naam": "Fatima el Amrani", "functie": "GZ-psycholoog",
                                      "telefoon": "06-12345678", "email": "f.elamrani@linde.nl"},
                                     {"naam": "", "functie": "", "telefoon": "", "email": ""}],
    })
    assert saved["organisatie_naam"] == "Zorggroep De Linde"
    assert saved["beroepsgroep_label"].startswith("Verpleegkundigen")
    assert len(saved["aandachtsfunctionarissen"]) == 1
    with pytest.raises(Forbidden):
        organisation.update(people["pb"], {"organisatie_naam": "x"})
    with pytest.raises(Invalid) as info:
        organisation.update(people["bh"], {"beroepsgroep": "tandartsen", "onzin": 1,
                                           "veilig_thuis_regio_telefoon": "bel me",
                                           "aandachtsfunctionarissen": [{"naam": "A",
                                                                         "email": "geen-mail"}]})
    assert set(info.value.errors) == {"beroepsgroep", "onzin", "veilig_thuis_regio_telefoon",
                                      "aandachtsfunctionarissen"}
    assert organisation.current()["beroepsgroep"] == "verpleegkundigen"  # nothing changed


def test_version_diff_names_what_changed():
    old = definitions.shipped_files()
    root = etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())
    ns = definitions.NS
    task = root.xpath("//bpmn:userTask[@id='stap1_signalen']", namespaces=ns)[0]
    task.set("name", "Stap 1: signalen en kindcheck")
    cond = root.xpath("//bpmn:conditionExpression", namespaces=ns)[0]
    cond.text = "gesprek_uitzondering == 'geen' and True"
    field = root.xpath("//camunda:formField[@id='signalen']", namespaces=ns)[0]
    field.getparent().remove(field)
    new = [definitions.SourceFile("meldcode.bpmn", etree.tostring(root)),
           *[f for f in old if f.kind == "dmn"]]
    changes = versions.diff(old, new)
    summary = {(c["soort"], c["wijziging"], c["id"]) for c in changes}
    assert ("element", "gewijzigd", "stap1_signalen") in summary
    assert ("formulierveld", "verwijderd", "stap1_signalen/signalen") in summary
    assert any(c["soort"] == "stroom" and "voorwaarde" in [d["attribute"] for d in c["details"]]
               for c in changes)
    assert versions.diff(old, old) == []


def test_meldcode_document(people, tmp_path):
    organisation.update(people["bh"], {"organisatie_naam": "Zorggroep De Linde",
                                       "beroepsgroep": "artsen"})
    from flask_babel import force_locale

    from webui import create_app, documents

    doc = meldcode_doc.build()
    with create_app({"TESTING": True}).app_context(), force_locale("nl"):  # webui renders it
        html = documents.meldcode_html(doc)
        pdf = documents.meldcode_pdf(doc)
    assert "Zorggroep De Linde" in html and "KNMG" in html
    for step in definitions.CONTRACT_STEPS:
        assert any(s["id"] == step for s in doc["steps"])
    need(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) is not installed")
    path = tmp_path / "meldcode.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Meldcode huiselijk geweld" in text and "afwegingskader" in text.lower()


def test_open_cases_per_version(people):
    from engine import cases

    cases.start_case(people["mw"], {"client_ref": "a"})
    with store.unit_of_work() as session:
        assert versions.open_cases_per_version(session) == {1: 1}


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\x85", "\u202e", "\u200b", "\ud800"])
def test_settings_texts_refuse_controls_and_change_nothing(people, bad):
    """Every text of the settings (the organisation's name, Veilig Thuis, the
    aandachtsfunctionarissen's contact details) follows forms.clean_text: a control character
    (a newline only in the address), a lone surrogate, a bidi override or an invisible space
    is a Dutch 422 at its field, and nothing is stored (PostgreSQL cannot even hold a NUL)."""
    good = {"organisatie_naam": "Zorggroep De Linde", "veilig_thuis_regio_naam": "VT Utrecht",
            "veilig_thuis_regio_adres": "Postbus 1\n3500 AA Utrecht",
            "veilig_thuis_regio_telefoon": "030 123 45 67",
            "aandachtsfunctionarissen": [{"naam": "Fatima el Amrani", "functie": "GZ-psycholoog",
                                          "telefoon": "06-12345678",
                                          "email": "f.elamrani@linde.nl"}]}
    saved = organisation.update(people["bh"], good)
    assert saved["veilig_thuis_regio_adres"] == "Postbus 1\n3500 AA Utrecht"  # lines allowed
    with store.unit_of_work() as session:
        logged = len(audit.admin_log(session, 10_000))
    for key in ("organisatie_naam", "veilig_thuis_regio_naam", "veilig_thuis_regio_adres",
                "veilig_thuis_telefoon", "veilig_thuis_regio_telefoon"):
        with pytest.raises(Invalid) as refused:
            organisation.update(people["bh"], {**good, key: "08" + bad + "00"})
        assert set(refused.value.errors) == {key}, key
        assert f"U+{ord(bad):04X}" in refused.value.errors[key]
        assert "niet toegestaan" in refused.value.errors[key]
    for key in ("naam", "functie", "telefoon", "email"):
        person = {**good["aandachtsfunctionarissen"][0], key: "f" + bad + "@x.nl"}
        with pytest.raises(Invalid) as refused:
            organisation.update(people["bh"], {**good, "aandachtsfunctionarissen": [
                {"naam": "B"}, person]})
        assert set(refused.value.errors) == {"aandachtsfunctionarissen"}
        message = refused.value.errors["aandachtsfunctionarissen"]
        assert message.startswith("Persoon 2, ") and f"U+{ord(bad):04X}" in message, message
    with store.unit_of_work() as session:
        assert len(audit.admin_log(session, 10_000)) == logged
    current = organisation.current()
    assert {k: current[k] for k in good} == good
