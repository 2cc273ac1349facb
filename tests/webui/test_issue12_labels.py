"""Issue 12 break-it findings: the engine gives codes and values, the web layer the words (in
Dutch and English); a wrong method on an API path is 405; every error of the add-user form at
once; the beheerder's use cases are one engine command whatever the door."""

from __future__ import annotations

import html

from lxml import etree

from engine import cases, definitions, migration, models, process_admin, store
from engine.definitions import SourceFile
from tests.conftest import ROOT
from tests.helpers import (
    STALLING,
    Client,
    english,
    events_of,
    planted_files,
    readable,
    relabelled,
    store_version,
    stuck_case,
    text,
    walk,
)

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def test_a_wrong_method_on_an_api_path_is_405_with_allow_in_the_readers_language(
        browser_like, sqlite_people):
    mw = sqlite_people.auth("mw")
    for method, path, allow in (("DELETE", "/api/v1/cases/1", {"GET"}),
                                ("PUT", "/api/v1/tasks", {"GET"}),
                                ("GET", "/api/v1/cases", {"POST"}),
                                ("PATCH", "/api/v1/processes", {"GET", "POST"}),
                                ("TRACE", "/api/v1/tasks", {"GET"})):
        for language, expected in ((None, "Deze handeling is hier niet mogelijk."),
                                   ("en", "This action is not possible here.")):
            headers = {**mw, **({"Accept-Language": language} if language else {})}
            response = browser_like.http.open(path, method=method, headers=headers)
            assert response.status_code == 405, (method, path)
            assert response.get_json() == {"error": expected}
            assert allow <= set(response.headers["Allow"].split(", ")), (method, path)
    # a path the API does not have stays 404
    unknown = browser_like.http.delete("/api/v1/bestaat-niet", headers=mw)
    assert unknown.status_code == 404 and "Allow" not in unknown.headers


# --- the difference between two versions: codes from the engine, words from the catalogues ------

MELDCODE_XML = (ROOT / "processes" / "meldcode.bpmn").read_text()


def _edited(xml: str, edit) -> str:
    root = etree.fromstring(xml.encode())
    edit(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()


def _publish(client, xml: str):
    client.get("/processen/modeler")
    return client.http.post("/processen/modeler/publiceren", json={"bpmn": xml},
                            headers={"Referer": "http://localhost/", "X-CSRFToken": client.token})


def _check(client, xml: str):
    client.get("/processen/modeler")
    return client.http.post("/processen/modeler/controleren", json={"bpmn": xml},
                            headers={"Referer": "http://localhost/", "X-CSRFToken": client.token})


def test_the_version_difference_is_worded_in_the_readers_language(browser_like):
    def rename(root):
        root.xpath("//bpmn:userTask[@id='stap1_signalen']",
                   namespaces=definitions.NS)[0].set("name", "Stap 1: signalen en kindcheck")

    xml = _edited(MELDCODE_XML, rename)
    pb = english(browser_like, "pb")
    checked = _check(pb, xml).get_json()
    change = next(c for g in checked["groups"] for c in g["wijzigingen"]
                  if c["id"] == "stap1_signalen")
    assert change["wijziging"] == "gewijzigd" and change["wijziging_tekst"] == "changed"
    assert [(d["attribute"], d["after"]) for d in change["details"]] == [
        ("naam", "Stap 1: signalen en kindcheck")]
    assert change["omschrijving"].startswith("name: '")
    assert _publish(pb, xml).status_code == 201
    page = html.unescape(text(pb.get("/processen?van=1&naar=2")))
    comparison = page[page.index('id="verschil"'):]
    assert "Elements" in comparison and "changed" in comparison
    assert "name: '" in comparison and "→ 'Stap 1: signalen en kindcheck'" in comparison
    shown = readable(comparison)
    assert " naam:" not in shown and "gewijzigd" not in shown, shown
    nl = Client(browser_like.http.application)
    nl.login("pb")
    page = html.unescape(text(nl.get("/processen?van=1&naar=2")))
    assert "naam: '" in page and "gewijzigd" in page


def test_a_change_of_documentation_only_is_a_difference(browser_like):
    """Only bpmn:documentation differs (of the process, of a flow): the comparison names the
    change of the documentation, never 'no differences'."""
    def document(root):
        process = root.xpath("//bpmn:process", namespaces=definitions.NS)[0]
        process.find(f"{{{BPMN}}}documentation").text = "Een andere toelichting op het proces."
        flow = root.xpath("//bpmn:sequenceFlow", namespaces=definitions.NS)[0]
        note = etree.SubElement(flow, f"{{{BPMN}}}documentation")
        flow.insert(0, note)
        note.text = "Waarom deze pijl er is."

    xml = _edited(MELDCODE_XML, document)
    pb = Client(browser_like.http.application)
    pb.login("pb")
    checked = _check(pb, xml).get_json()
    assert {c["soort"] for c in checked["changes"]} == {"element", "stroom"}
    assert all([d["attribute"] for d in c["details"]] == ["toelichting"]
               for c in checked["changes"])
    assert _publish(pb, xml).status_code == 201
    page = html.unescape(text(pb.get("/processen?van=1&naar=2")))
    assert "Geen inhoudelijke verschillen" not in page
    comparison = page[page.index('id="verschil"'):]
    assert "toelichting: '" in comparison and "Een andere toelichting op het proces." in comparison
    assert "Waarom deze pijl er is." in comparison
    pb.post("/taal", {"taal": "en", "next": "/"})
    english_page = html.unescape(text(pb.get("/processen?van=1&naar=2")))
    assert "documentation: '" in english_page


# --- what history events and admin-log lines record, labelled where they are shown --------------


def test_history_and_admin_log_details_are_labelled_in_the_readers_language(
        ui_app, sqlite_people, monkeypatch):
    """The people informed after a melding, a case moved from one version to another and the
    admin log's details (a refused page: method, path, role required; a deploy: files) carry
    labels from the catalogues on the case page, the auditor's history and the admin log, in
    Dutch and English; the JSON API keeps the stored keys."""
    version = store_version(planted_files(), monkeypatch)
    case = stuck_case(sqlite_people, ref="C-labels")
    migration.move_cases(sqlite_people["pb"], version, 1)
    walk(sqlite_people, cases.get_case(sqlite_people["mw"], case["id"]), STALLING.decisions)
    actions = {e.action for e in events_of(case["id"])}
    assert {"informed", "case_migrated", "case_stalled"} <= actions
    refused = Client(ui_app)
    refused.login("mw")
    assert refused.get("/beheer/gebruikers").status_code == 403  # an admin-log line: refused
    process_admin.deploy(sqlite_people["pb"], [SourceFile("meldcode.bpmn", relabelled(" (2)"))])

    expected = {
        "nl": ("Ingelicht", "Van versie", "Naar versie", "Wacht bij", "Methode", "Pad",
               "Vereiste rol", "Beheerder", "Bestanden"),
        "en": ("Informed", "From version", "To version", "Waiting at", "Method", "Path",
               "Role needed", "Administrator", "Files"),
    }
    raw = ("recipients", "from:", "to:", "waiting_at", "method:", "path:", "needs:", "files:")
    for language, labels in expected.items():
        mw, aud = Client(ui_app), Client(ui_app)
        mw.login("mw")
        aud.login("aud")
        if language == "en":
            mw.post("/taal", {"taal": "en", "next": "/"})
            aud.post("/taal", {"taal": "en", "next": "/"})
        shown = {
            "case page": readable(text(mw.get(f"/casussen/{case['id']}"))),
            "auditor's history": readable(text(aud.get(f"/audit/casussen/{case['id']}"))),
            "admin log": readable(text(aud.get("/beheerlog"))),
        }
        for where in ("case page", "auditor's history"):
            for wanted in labels[:4]:
                assert wanted in shown[where], (language, where, wanted)
        for wanted in labels[4:]:
            assert wanted in shown["admin log"], (language, wanted)
        for where, page in shown.items():
            for key in raw:
                assert key not in page, (language, where, key)
    api = ui_app.test_client().get(f"/api/v1/cases/{case['id']}/history",
                                   headers=sqlite_people.auth("aud")).get_json()
    informed = next(e for e in api if e["action"] == "informed")
    assert set(informed["data"]) == {"recipients"}
    log = ui_app.test_client().get("/api/v1/admin-log", headers=sqlite_people.auth("aud"))
    refusal = next(r for r in log.get_json() if r["action"] == "refused")
    assert set(refusal["detail"]) >= {"method", "path", "needs"}


# --- the beheerder's add-user form -----------------------------------------------------------


def test_the_add_user_form_reports_every_fields_error_at_once(browser_like):
    bh = browser_like
    bh.login("bh")
    bh.get("/beheer/gebruikers")
    refused = bh.post("/beheer/gebruikers", {
        "naam": "X!", "weergavenaam": "Jan", "wachtwoord": "kort", "leidinggevende": "niemand",
        "email": "geen adres"})
    assert refused.status_code == 422
    page = html.unescape(text(refused))
    for message in ("Ongeldige gebruikersnaam", "Kies minstens één rol.",
                    "Leidinggevende 'niemand' bestaat niet.", "'geen adres' is geen geldig "
                    "e-mailadres."):
        assert message in page, message
    for field in ("naam", "rollen", "wachtwoord", "leidinggevende", "email"):
        assert f'id="fout-{field}"' in page, field
    # the command line says the first of them, as before
    from engine import store, users
    from engine.errors import Invalid
    try:
        with store.unit_of_work(write=True) as session:
            users.create_user(session, "X!", [], "kort", "niemand", email="geen adres")
    except Invalid as exc:
        assert set(exc.errors) == {"naam", "rollen", "wachtwoord", "leidinggevende", "email"}
        assert exc.message == exc.errors["email"]
    else:
        raise AssertionError("no refusal")


# --- a consult task's name: the asker's name stored, the words in the reader's language --------


def test_a_consult_tasks_name_is_in_the_readers_language(ui_app, sqlite_people):
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-vraag"})
    http = ui_app.test_client()
    asked = http.post(f"/api/v1/cases/{case['id']}/consults", headers=sqlite_people.auth("mw"),
                      json={"user": "af", "question": "Wat vind jij?"})
    assert asked.status_code == 201
    task_id = asked.get_json()["task_id"]
    with store.unit_of_work() as session:
        assert session.get(models.TaskRecord, task_id).name == "mw"  # the value, no words
    af = sqlite_people.auth("af")
    for language, name in ((None, "Vraag van mw"), ("en", "Question from mw")):
        headers = {**af, **({"Accept-Language": language} if language else {})}
        listed = http.get("/api/v1/tasks", headers=headers).get_json()
        assert [t["name"] for t in listed if t["id"] == task_id] == [name], language
        assert http.get(f"/api/v1/tasks/{task_id}", headers=headers).get_json()["name"] == name
    page = english(Client(ui_app), "af")
    for path in ("/", f"/taken/{task_id}"):
        shown = readable(text(page.get(path)))
        assert "Question from mw" in shown and "Vraag van" not in shown, path
    # a reminder of its due date names it in words too (webui.notifications.text)
    with ui_app.test_request_context("/api/v1/notifications", headers={"Accept-Language": "en"}):
        from webui.notifications import text as notification_text

        assert "Question from mw" in notification_text(
            "task_overdue", {"step": "mw", "task_step": "consult", "case": case["id"]})



def test_the_consult_question_is_shown_once_on_the_consult_task_page(ui_app, sqlite_people):
    """The question is the consult task's documentation: shown under "De vraag", not a second
    time as the step's guidance beside the form."""
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-eenmaal"})
    asked = ui_app.test_client().post(
        f"/api/v1/cases/{case['id']}/consults", headers=sqlite_people.auth("mw"),
        json={"user": "af", "question": "Is een melding nodig volgens jou?"})
    assert asked.status_code == 201
    page = Client(ui_app)
    page.login("af")
    shown = readable(text(page.get(f"/taken/{asked.get_json()['task_id']}")))
    assert shown.count("Is een melding nodig volgens jou?") == 1, shown
    assert "De vraag" in shown and "Een collega vraagt uw advies" in shown


# --- values the engine records shown in words: a timer's due time, the settings changed --------


def test_a_fired_timers_due_time_is_shown_in_dutch_time_in_the_readers_language(
        ui_app, sqlite_people):
    """timer_fired records its due time as ISO 8601 UTC text; the case page and the auditor's
    history show it as a date and time in Europe/Amsterdam (summer time: UTC+2), in Dutch and
    English; the JSON API keeps the stored text."""
    from datetime import UTC, datetime, timedelta

    from bench.timer_bench import waiting_bpmn
    from engine import clock, scheduler, versions

    versions.deploy_files([SourceFile("meldcode.bpmn", waiting_bpmn("PT1M")),
                           SourceFile("afwegingskader.dmn",
                                      (ROOT / "processes" / "afwegingskader.dmn").read_bytes())],
                          by="pb")
    started = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    with clock.use(started):
        case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-wacht", "reason": "zorgen"})
    assert scheduler.run_due(started + timedelta(minutes=2)) == 1
    [fired] = [e for e in events_of(case["id"]) if e.action == "timer_fired"]
    assert fired.data == {"due": "2026-07-01T10:01:00.000000Z"}
    for language, wanted in ((None, ("Gewacht tot", "1 juli 2026 om 12:01")),
                             ("en", ("Waited until", "1 July 2026 at 12:01"))):
        mw, aud = Client(ui_app), Client(ui_app)
        mw.login("mw")
        aud.login("aud")
        if language:
            mw.post("/taal", {"taal": language, "next": "/"})
            aud.post("/taal", {"taal": language, "next": "/"})
        for where, page in (("case page", mw.get(f"/casussen/{case['id']}")),
                            ("auditor's history", aud.get(f"/audit/casussen/{case['id']}"))):
            shown = readable(html.unescape(text(page)))
            for words in wanted:
                assert words in shown, (language, where, words)
            assert "2026-07-01T10:01" not in shown and "due" not in shown.split(), (language,
                                                                                      where)
    api = ui_app.test_client().get(f"/api/v1/cases/{case['id']}/history",
                                   headers=sqlite_people.auth("aud")).get_json()
    assert next(e for e in api if e["action"] == "timer_fired")["data"] == {
        "due": "2026-07-01T10:01:00.000000Z"}


def test_the_settings_changed_are_named_in_the_admin_log_as_the_settings_page_names_them(
        ui_app, sqlite_people):
    from engine import organisation

    current = organisation.settings_page(sqlite_people["bh"])
    current.pop("beroepsgroep_label", None)
    organisation.update(sqlite_people["bh"], {
        **current, "organisatie_naam": "Zorg West", "norm_werkdagen_per_stap": 7,
        "beroepsgroep": "artsen",
        "aandachtsfunctionarissen": [{"naam": "Anna de Vries", "functie": "aandachtsfunctionaris",
                                      "telefoon": "030 123 4567", "email": ""}]})
    for language, labels in ((None, ("Naam van de organisatie", "Werkdagen per stap")),
                             ("en", ("Name of the organisation", "Working days per step"))):
        aud = Client(ui_app)
        aud.login("aud")
        if language:
            aud.post("/taal", {"taal": language, "next": "/"})
        shown = readable(html.unescape(text(aud.get("/beheerlog"))))
        assert "Zorg West" in shown
        for wanted in labels:
            assert f"{wanted}: " in shown, (language, wanted)
        for key in ("organisatie_naam", "norm_werkdagen_per_stap", "veilig_thuis_telefoon",
                    "artsen", "'naam'", "{", "["):
            assert key not in shown, (language, key)
        # each person as the settings page lists them; the beroepsgroep by its name
        assert "Anna de Vries (aandachtsfunctionaris, 030 123 4567)" in shown, language
        assert ("KNMG" in shown), language
    log = ui_app.test_client().get("/api/v1/admin-log", headers=sqlite_people.auth("aud"))
    changed = next(r for r in log.get_json() if r["action"] == "settings_changed")
    assert changed["detail"]["settings"]["organisatie_naam"] == "Zorg West"


def test_a_multi_choice_answer_shows_the_diagrams_option_names(ui_app):
    """A multi-choice field records a list of option ids (CONTRACT: type "multi"); the case
    page and the auditor's history (entries.labelled through the `answer` filter) show
    the options' names as the diagram gives them, not the ids. The shipped diagram has no such
    field yet, so the field is made here as the form parser makes one."""
    from engine import entries
    from engine.forms import Field, Option
    from webui.web import answer

    field = Field("geweldsvormen", "Vormen van geweld", "multi", options=(
        Option("lichamelijk", "Lichamelijk geweld"),
        Option("vgv", "Vrouwelijke genitale verminking")))
    [entry] = entries.labelled([field], {"geweldsvormen": ["lichamelijk", "vgv", "nieuw"]})
    assert entry["value"] == ["lichamelijk", "vgv", "nieuw"]  # the codes stay the data
    for language in ("nl", "en"):  # texts from the diagram stay as the process owner wrote them
        with ui_app.test_request_context("/", headers={"Accept-Language": language}):
            assert answer(entry) == "Lichamelijk geweld, Vrouwelijke genitale verminking, nieuw"
    [single] = entries.labelled([Field("keuze", "Keuze", "enum", options=(
        Option("ja_graag", "Ja, graag"),))], {"keuze": "ja_graag"})
    assert single["option_label"] == "Ja, graag"
