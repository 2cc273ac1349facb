"""The process owner's and the beheerder's pages through Flask's test client: versions, the
difference, activation, the modeler's check and publish endpoints, organisation settings in
help texts, and the organisation's meldcode document."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from engine import cases, definitions, models, store, versions
from tests.conftest import ROOT
from tests.helpers import Client, text

MELDCODE = (ROOT / "processes" / "meldcode.bpmn").read_text()
MIWG = ROOT.parent / "shared" / "miwg" / "reference"


@pytest.fixture
def as_role(ui_app):
    def make(name):
        client = Client(ui_app)
        client.login(name)
        return client

    return make


def post_json(client, path, body, csrf=True):
    if client.token is None:
        client.get("/")
    headers = {"X-CSRFToken": client.token} if csrf else {}
    return client.http.post(path, json=body, headers={"Referer": "http://localhost/", **headers})


def renamed(xml: str, step: str, name: str) -> str:
    root = etree.fromstring(xml.encode())
    root.xpath(f"//bpmn:userTask[@id='{step}']", namespaces=definitions.NS)[0].set("name", name)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()


def active_version() -> int:
    with store.unit_of_work() as session:
        return next(v.version for v in versions.list_versions(session) if v.active)


def version_count() -> int:
    with store.unit_of_work() as session:
        return len(versions.list_versions(session))


# --- who may do what -------------------------------------------------------------------------


@pytest.mark.parametrize("name,path,status", [
    ("mw", "/processen", 403), ("mw", "/processen/modeler", 403), ("mw", "/beheer/instellingen", 403),
    ("bh", "/processen/modeler", 403), ("pb", "/beheer/instellingen", 403),
    ("aud", "/processen", 200), ("bh", "/processen", 200), ("pb", "/processen/modeler", 200),
    ("bh", "/beheer/instellingen", 200),
    ("mw", "/meldcode", 200), ("aud", "/meldcode", 200), ("pb", "/meldcode", 200),
])
def test_pages_per_role(as_role, name, path, status):
    response = as_role(name).get(path)
    assert response.status_code == status, text(response)[:500]


def test_pages_need_sign_in(ui_app):
    client = Client(ui_app)
    for path in ("/processen", "/processen/modeler", "/beheer/instellingen", "/meldcode",
                 "/meldcode.pdf"):
        assert client.get(path).status_code == 302


def test_navigation_per_role(as_role):
    mw, pb, bh = as_role("mw").get("/"), as_role("pb").get("/"), as_role("bh").get("/")
    assert "Onze meldcode" in text(mw) and "Processen" not in text(mw)
    assert 'href="/processen"' in text(pb) and "Instellingen" not in text(pb)
    assert 'href="/beheer/instellingen"' in text(bh) and 'href="/processen"' not in text(bh)


def test_only_a_procesbeheerder_checks_publishes_and_activates(as_role):
    for name in ("mw", "bh", "aud"):
        client = as_role(name)
        assert post_json(client, "/processen/modeler/controleren", {"bpmn": MELDCODE}).status_code == 403
        assert post_json(client, "/processen/modeler/publiceren", {"bpmn": MELDCODE}).status_code == 403
        assert client.post("/processen/1/actief").status_code == 403
    assert version_count() == 1


# --- versions --------------------------------------------------------------------------------


def test_versions_page_shows_the_active_version_and_open_cases(as_role, sqlite_people):
    cases.start_case(sqlite_people["mw"], {"client_ref": "C-1"})
    page = text(as_role("pb").get("/processen"))
    assert "Nieuwe casussen starten op de actieve versie: versie 1." in page
    row = re.search(r'<tr id="versie-1".*?</tr>', page, re.S).group(0)
    assert "test" in row and "Actief: nieuwe casussen" in row
    assert re.search(r'<td class="num">1</td>', row)
    assert "Diagram bewerken" in page


def test_auditor_reads_versions_but_changes_nothing(as_role):
    page = text(as_role("aud").get("/processen"))
    assert "Versie 1" in page and "Diagram bewerken" not in page and "Actief maken" not in page


def test_download_a_versions_file(as_role):
    response = as_role("aud").get("/processen/1/bestanden/meldcode.bpmn")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="meldcode-v1.bpmn"'
    assert response.data == (ROOT / "processes" / "meldcode.bpmn").read_bytes()
    assert as_role("aud").get("/processen/1/bestanden/../../etc/passwd").status_code == 404
    assert as_role("aud").get("/processen/9/bestanden/meldcode.bpmn").status_code == 404


def test_difference_between_two_versions_grouped_in_dutch(as_role):
    pb = as_role("pb")
    xml = renamed(MELDCODE, "stap1_signalen", "Stap 1: signalen en kindcheck")
    xml = xml.replace("zorgen_weggenomen == True", "zorgen_weggenomen == True and True")
    response = post_json(pb, "/processen/modeler/publiceren", {"bpmn": xml})
    assert response.status_code == 201
    page = text(pb.get("/processen?van=1&naar=2"))
    assert "Van versie 1 naar versie 2" in page
    comparison = page[page.index('id="verschil"'):]
    assert "Elementen" in comparison and "Stromen en voorwaarden" in comparison
    assert "Formuliervelden" not in comparison
    assert "stap1_signalen" in comparison and "sf_zorgen_ja" in comparison
    assert "Stap 1: signalen en kindcheck" in comparison
    same = text(pb.get("/processen?van=2&naar=2"))
    assert "Geen inhoudelijke verschillen" in same
    assert pb.get("/processen?van=1&naar=77").status_code == 404


# --- the modeler's check ---------------------------------------------------------------------


def test_check_needs_the_csrf_token_and_json(as_role):
    pb = as_role("pb")
    assert post_json(pb, "/processen/modeler/controleren", {"bpmn": MELDCODE}, csrf=False).status_code == 400
    response = pb.http.post("/processen/modeler/controleren", data={"bpmn": MELDCODE},
                            headers={"X-CSRFToken": pb.token})
    assert response.status_code == 400
    response = post_json(pb, "/processen/modeler/controleren", {"bpmn": MELDCODE, "extra": 1})
    assert response.status_code == 422 and "extra" in response.get_json()["errors"]


def test_check_of_the_active_diagram_is_clean(as_role):
    result = post_json(as_role("pb"), "/processen/modeler/controleren", {"bpmn": MELDCODE}).get_json()
    assert result["ok"] is True and result["problems"] == []
    assert result["same_as_version"] == 1 and result["changes"] == []


@pytest.mark.parametrize("change,element,message", [
    (("zorgen_weggenomen == True", "__import__('os')"), "sf_zorgen_ja", "ongeldige voorwaarde"),
    ((' default="sf_zorgen_nee"', ""), "sf_zorgen_nee", "heeft geen voorwaarde"),
    (('<bpmn:userTask id="stap1_signalen"', '<bpmn:scriptTask id="stap1_signalen"'),
     "stap1_signalen", "scripttaak"),
])
def test_check_ties_each_problem_to_its_element(as_role, change, element, message):
    xml = MELDCODE.replace(*change)
    if change[0].startswith("<bpmn:userTask"):
        xml = re.sub(r'(<bpmn:scriptTask id="stap1_signalen".*?)</bpmn:userTask>',
                     r"\1</bpmn:scriptTask>", xml, count=1, flags=re.S)
    result = post_json(as_role("pb"), "/processen/modeler/controleren", {"bpmn": xml}).get_json()
    assert result["ok"] is False
    assert any(p["element"] == element and message in p["message"] for p in result["problems"]), \
        result["problems"]
    # exactly what `meldcode check` says
    files = [definitions.SourceFile("meldcode.bpmn", xml.encode()),
             *[f for f in definitions.shipped_files() if f.kind == "dmn"]]
    _, problems = definitions.check(files)
    assert [p.as_dict() for p in problems] == [
        {k: v for k, v in p.items() if k not in ("element", "label")} for p in result["problems"]]


def test_check_of_broken_xml_and_of_an_edited_table(as_role):
    pb = as_role("pb")
    result = post_json(pb, "/processen/modeler/controleren", {"bpmn": "<bpmn:definitions"}).get_json()
    assert result["ok"] is False and "geen geldige XML" in result["problems"][0]["message"]
    dmn = (ROOT / "processes" / "afwegingskader.dmn").read_text()
    result = post_json(pb, "/processen/modeler/controleren", {
        "bpmn": MELDCODE, "dmn": dmn.replace("<text>false</text>", "<text>__import__('os')</text>", 1),
    }).get_json()
    assert result["ok"] is False
    assert result["problems"][0]["file"] == "afwegingskader.dmn"
    assert any(c["soort"] == "beslistabel" for c in result["changes"])


@pytest.mark.skipif(not MIWG.exists(), reason="shared/miwg not beside the checkout")
def test_every_miwg_diagram_gets_a_verdict_from_the_modeler_check(as_role):
    pb = as_role("pb")
    for path in sorted(MIWG.glob("*.bpmn")):
        response = post_json(pb, "/processen/modeler/controleren", {"bpmn": path.read_text()})
        assert response.status_code == 200, path.name
        result = response.get_json()
        assert result["ok"] is False and result["problems"], path.name  # none holds `meldcode`
        assert all(p["message"] and "Traceback" not in p["message"] for p in result["problems"])


# --- publishing and activating ---------------------------------------------------------------


def test_refused_publish_changes_nothing(as_role):
    pb = as_role("pb")
    # only the gateway's condition: since 67d15b4 stap3_gesprek's invalid_when also reads
    # "zorgen_weggenomen == True and ..."
    broken = MELDCODE.replace(">zorgen_weggenomen == True<", ">__import__('os')<")
    assert broken != MELDCODE
    response = post_json(pb, "/processen/modeler/publiceren", {"bpmn": broken})
    assert response.status_code == 422
    body = response.get_json()
    assert "niet gepubliceerd" in body["error"]
    assert body["errors"][0]["element"] == "sf_zorgen_ja"
    assert version_count() == 1 and active_version() == 1


def test_publish_then_activate_an_older_version(as_role, sqlite_people):
    before = cases.start_case(sqlite_people["mw"], {"client_ref": "C-voor"})
    pb = as_role("pb")
    response = post_json(pb, "/processen/modeler/publiceren",
                         {"bpmn": renamed(MELDCODE, "stap1_signalen", "Stap 1: nieuw")})
    assert response.status_code == 201
    assert response.get_json()["version"] == 2 and active_version() == 2
    # the same diagram again: nothing new
    again = post_json(pb, "/processen/modeler/publiceren",
                      {"bpmn": renamed(MELDCODE, "stap1_signalen", "Stap 1: nieuw")})
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert version_count() == 2

    after = cases.start_case(sqlite_people["mw"], {"client_ref": "C-na"})
    assert after["process_version"] == 2 and after["tasks"][0]["name"] == "Stap 1: nieuw"
    assert cases.get_case(sqlite_people["mw"], before["id"])["process_version"] == 1

    # the confirmation names the difference; the POST needs the CSRF token
    confirm = text(pb.get("/processen/1/actief"))
    assert "Versie 1 actief maken?" in confirm and "stap1_signalen" in confirm
    assert pb.post("/processen/1/actief", csrf=False).status_code == 400
    assert active_version() == 2
    response = pb.post("/processen/1/actief")
    assert response.status_code == 302 and active_version() == 1
    assert "Versie 1 is nu actief" in text(pb.get("/processen"))
    third = cases.start_case(sqlite_people["mw"], {"client_ref": "C-terug"})
    assert third["process_version"] == 1
    page = text(pb.get("/processen"))
    assert re.search(r'<tr id="versie-1".*?<td class="num">2</td>', page, re.S)
    assert re.search(r'<tr id="versie-2".*?<td class="num">1</td>', page, re.S)


def test_publishing_the_content_of_an_older_version_makes_it_active(as_role):
    pb = as_role("pb")
    post_json(pb, "/processen/modeler/publiceren", {"bpmn": renamed(MELDCODE, "stap1_signalen", "X")})
    assert active_version() == 2
    check = post_json(pb, "/processen/modeler/controleren", {"bpmn": MELDCODE}).get_json()
    assert check["same_as_version"] == 1
    response = post_json(pb, "/processen/modeler/publiceren", {"bpmn": MELDCODE})
    assert response.status_code == 200 and response.get_json()["reactivated"] is True
    assert active_version() == 1 and version_count() == 2


def test_publish_with_an_edited_decision_table(as_role):
    pb = as_role("pb")
    dmn = (ROOT / "processes" / "afwegingskader.dmn").read_text()
    edited = dmn.replace("Geen effectieve hulp mogelijk: melden.", "Geen hulp mogelijk: altijd melden.")
    response = post_json(pb, "/processen/modeler/publiceren", {"bpmn": MELDCODE, "dmn": edited})
    assert response.status_code == 201
    with store.unit_of_work() as session:
        row = session.get(models.ProcessVersion, 2)
        assert {f.name for f in row.files} == {"meldcode.bpmn", "afwegingskader.dmn"}
        assert b"altijd melden" in next(f.content for f in row.files if f.kind == "dmn")


# --- the modeler page --------------------------------------------------------------------------


def test_modeler_page_carries_the_active_version_and_no_inline_script(as_role):
    page = text(as_role("pb").get("/processen/modeler"))
    assert 'src="/static/build/modeler.js"' in page and 'src="/static/build/dmn-editor.js"' in page
    assert 'data-check-url="/processen/modeler/controleren"' in page
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "stap1_signalen" in page and "{veilig_thuis_telefoon}" in page


# --- settings ----------------------------------------------------------------------------------


SETTINGS = {
    "organisatie_naam": "Zorggroep De Linde",
    "beroepsgroep": "verpleegkundigen",
    "veilig_thuis_telefoon": "0800-2000",
    "veilig_thuis_regio_naam": "Veilig Thuis Utrecht",
    "veilig_thuis_regio_telefoon": "030 123 45 67",
    "veilig_thuis_regio_adres": "Postbus 1, 3500 AA Utrecht",
    "rijen": "3",
    "af-0-naam": "Fatima el Amrani", "af-0-functie": "GZ-psycholoog",
    "af-0-telefoon": "06-12345678", "af-0-email": "f.elamrani@linde.example",
}


def test_settings_errors_are_shown_at_the_fields_and_nothing_is_stored(as_role):
    bh = as_role("bh")
    response = bh.post("/beheer/instellingen", {**SETTINGS, "veilig_thuis_regio_telefoon": "bel me",
                                                "veilig_thuis_telefoon": "", "af-1-email": "geen-mail"})
    assert response.status_code == 422
    page = text(response)
    assert re.search(r'id="fout-veilig_thuis_regio_telefoon">.*Alleen cijfers', page)
    assert re.search(r'id="fout-veilig_thuis_telefoon">.*landelijke nummer is verplicht', page)
    assert re.search(r'id="fout-aandachtsfunctionarissen">.*Persoon 2: vul een naam in', page)
    assert 'aria-invalid="true"' in page and 'value="Zorggroep De Linde"' in page  # kept
    assert "Zorggroep De Linde" not in text(bh.get("/meldcode"))


def test_settings_with_a_control_character_are_refused_at_the_field(as_role):
    bh = as_role("bh")
    response = bh.post("/beheer/instellingen", {**SETTINGS, "organisatie_naam": "De\x00Linde",
                                                "af-0-email": "f\u202e@linde.example"})
    assert response.status_code == 422
    page = text(response)
    assert re.search(r'id="fout-organisatie_naam">.*stuurteken \(U\+0000\)', page)
    assert re.search(r'id="fout-aandachtsfunctionarissen">.*Persoon 1, e-mail: de tekst bevat '
                     r'een teken dat de schrijfrichting omkeert', page)
    assert "Zorggroep De Linde" not in text(bh.get("/meldcode"))


def test_settings_saved_and_shown_in_help_texts_and_the_meldcode(as_role, sqlite_people):
    bh = as_role("bh")
    response = bh.post("/beheer/instellingen", SETTINGS)
    assert response.status_code == 302
    page = text(bh.get("/beheer/instellingen"))
    assert "De instellingen zijn opgeslagen." in page
    assert 'value="Fatima el Amrani"' in page  # one filled + 2 empty rows
    assert 'id="af-2-naam"' in page and 'id="af-3-naam"' not in page
    assert 'id="beroepsgroep-verpleegkundigen" name="beroepsgroep" value="verpleegkundigen" checked' in page

    # a diagram whose help texts name the settings
    pb = as_role("pb")
    root = etree.fromstring(MELDCODE.encode())
    task = root.xpath("//bpmn:userTask[@id='stap1_signalen']", namespaces=definitions.NS)[0]
    docs = task.find(f"{{{definitions.BPMN_NS}}}documentation")
    docs.text = "Twijfel? Bel {aandachtsfunctionaris} of {veilig_thuis_regio}; {organisatie}."
    prop = root.xpath("//camunda:formField[@id='signalen']//camunda:property[@id='help']",
                      namespaces=definitions.NS)[0]
    prop.set("value", "Veilig Thuis: {veilig_thuis_telefoon}. Kader: {afwegingskader}. {onbekend}")
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()
    assert post_json(pb, "/processen/modeler/publiceren", {"bpmn": xml}).status_code == 201

    mw = as_role("mw")
    response = mw.post("/casussen/nieuw", {"client_ref": "C-hulp", "reason": "r"})
    task_page = text(mw.get(response.headers["Location"]))
    assert ("Twijfel? Bel aandachtsfunctionaris Fatima el Amrani (06-12345678) of Veilig Thuis "
            "Utrecht (030 123 45 67); Zorggroep De Linde.") in task_page
    assert "Veilig Thuis: 0800-2000. Kader: Verpleegkundigen en verzorgenden: de meldcode van "\
           "V&amp;VN. {onbekend}" in task_page

    doc = text(mw.get("/meldcode"))
    assert "Zorggroep De Linde" in doc and "Fatima el Amrani" in doc and "V&amp;VN" in doc
    assert "Twijfel? Bel aandachtsfunctionaris Fatima el Amrani" in doc
    assert "{aandachtsfunctionaris}" not in doc


# --- the organisation's meldcode ----------------------------------------------------------------


def test_meldcode_document_page_standalone_and_pdf(as_role):
    mw = as_role("mw")
    page = text(mw.get("/meldcode"))
    assert "<h1>Meldcode huiselijk geweld en kindermishandeling</h1>" in page
    assert 'href="/meldcode.pdf"' in page and "site-header" in page
    for step in definitions.CONTRACT_STEPS[:5]:
        assert definitions.load(definitions.shipped_files()).steps[step].name in page
    standalone = mw.get("/meldcode/document")
    assert standalone.mimetype == "text/html" and "<!doctype html>" in text(standalone)
    assert "site-header" not in text(standalone)
    pdf = mw.http.get("/meldcode.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="meldcode-versie-1.pdf"'


def test_the_api_shows_the_same_filled_in_help_texts(as_role, sqlite_people, ui_app):
    as_role("bh").post("/beheer/instellingen", SETTINGS)
    client = ui_app.test_client()
    case = client.post("/api/v1/cases", json={"client_ref": "C-api"}, headers=sqlite_people.auth("mw"))
    task_id = case.get_json()["tasks"][0]["id"]
    client.post(f"/api/v1/tasks/{task_id}/complete", headers=sqlite_people.auth("mw"), json={"data": {
        "signalen": "s", "kindcheck_kinderen": False}})
    tasks = client.get("/api/v1/tasks", headers=sqlite_people.auth("mw")).get_json()
    task = client.get(f"/api/v1/tasks/{tasks[0]['id']}", headers=sqlite_people.auth("mw")).get_json()
    assert task["step"] == "stap2_overleg"
    advice = next(f for f in task["form"]["fields"] if f["name"] == "advies_veilig_thuis")
    assert "Bel Veilig Thuis Utrecht (030 123 45 67) of het landelijke nummer 0800-2000" in advice["help"]
    assert "{" not in advice["help"] and "{" not in task.get("documentation", "")
