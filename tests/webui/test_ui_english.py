"""The English UI shows no Dutch text from the product's own code (issue 12, point 4).

Each role signs in, switches to English and opens its pages, also with validation errors and
refusals (403, 404). What a person reads on a page (the text, and the titles, labels and
placeholders of its elements) may not hold a Dutch text of the catalogue whose English differs,
once the diagram's own texts are taken out: those stay as the process owner wrote them."""

from __future__ import annotations

import re
import shutil
import subprocess

from markupsafe import escape

from engine import organisation
from tests.conftest import need
from tests.helpers import diagram_texts, dutch_in, english, finished_case, readable, text


def check(responses: dict, also_own: tuple[str, ...] = ()) -> None:
    found = {path: dutch_in(text(r), also_own) for path, r in responses.items()}
    found = {path: pieces for path, pieces in found.items() if pieces}
    assert not found, f"Dutch in the English UI: {found}"


def test_the_english_ui_of_a_medewerker_shows_no_dutch(browser_like):
    mw = english(browser_like, "mw")
    pages = {"inbox": mw.get("/"), "nieuw": mw.get("/casussen/nieuw"),
             "nieuw, leeg": mw.post("/casussen/nieuw", {"client_ref": " "})}
    assert pages["nieuw, leeg"].status_code == 422
    started = mw.post("/casussen/nieuw", {"client_ref": "C-en", "reason": "Worried"})
    task_path = started.headers["Location"]
    pages["taak"] = mw.get(task_path)
    pages["taak, fout"] = mw.post(task_path, {"actie": "afronden", "onbekend": "x"})
    assert pages["taak, fout"].status_code == 422
    pages.update({
        "casus": mw.get("/casussen/1"),
        "overdragen, fout": mw.post("/casussen/1/overdragen", {"user": "niemand", "reason": ""}),
        "afdrukken": mw.get("/casussen/1/afdrukken"),
        "casussen": mw.get("/casussen"),
        "403": mw.get("/audit/casussen"),
        "404": mw.get("/bestaat-niet"),
        "taak 404": mw.get("/taken/bestaat-niet"),
    })
    assert pages["overdragen, fout"].status_code == 422
    # the engine's field errors, in English (and so the check below sees translated pages)
    assert "This field is required." in text(pages["taak, fout"])
    assert "Enter a client reference." in text(pages["nieuw, leeg"])
    assert pages["403"].status_code == 403 and pages["404"].status_code == 404
    assert '<html lang="en">' in text(pages["casus"])
    check(pages)


def test_the_english_ui_of_a_leidinggevende_and_aandachtsfunctionaris_shows_no_dutch(
        browser_like, ui_app):
    from tests.helpers import Client

    english(Client(ui_app), "mw").post("/casussen/nieuw", {"client_ref": "C-en"})
    lg = english(browser_like, "lg")
    pages = {"lg inbox": lg.get("/"), "lg casussen": lg.get("/casussen"),
             "lg casus": lg.get("/casussen/1")}
    af = english(Client(ui_app), "af")
    pages.update({"af inbox": af.get("/"), "af casussen": af.get("/casussen")})
    check(pages)


def test_the_english_ui_of_an_auditor_shows_no_dutch(browser_like, ui_app):
    from tests.helpers import Client

    english(Client(ui_app), "mw").post("/casussen/nieuw", {"client_ref": "C-en"})
    aud = english(browser_like, "aud")
    pages = {
        "zoeken": aud.get("/audit/casussen"),
        "zoeken, fout": aud.get("/audit/casussen?status=x&uitkomst=y&started_from=gisteren"
                                "&process_version=nul&page=0"),
        "geschiedenis": aud.get("/audit/casussen/1"),
        "toegangslog": aud.get("/audit/casussen/1/toegangslog"),
        "inzage": aud.get("/audit/casussen/1/inzage"),
        "404": aud.get("/audit/casussen/999"),
    }
    assert pages["zoeken, fout"].status_code == 422
    check(pages)


def test_the_english_ui_of_a_procesbeheerder_shows_no_dutch(browser_like):
    pb = english(browser_like, "pb")
    pages = {
        "processen": pb.get("/processen"),
        "vergelijken": pb.get("/processen?van=1&naar=1"),
        "modeler": pb.get("/processen/modeler"),
        "actief": pb.get("/processen/1/actief"),
        "verplaatsen": pb.get("/processen/1/verplaatsen"),
        "404": pb.get("/processen/99/actief"),
    }
    check(pages)
    # the modeler's JSON: the engine's refusal, with its field errors, in English too
    refused = pb.http.post("/processen/modeler/controleren", json={"onbekend": 1},
                           headers={"X-CSRFToken": pb.token, "Referer": "http://localhost/"})
    assert refused.status_code == 422, text(refused)
    assert refused.get_json()["error"] == "Send the diagram along."
    check({"controleren": refused})


def test_the_english_ui_of_a_beheerder_shows_no_dutch(browser_like):
    bh = english(browser_like, "bh")
    pages = {
        "instellingen": bh.get("/beheer/instellingen"),
        "instellingen, fout": bh.post("/beheer/instellingen", {
            "veilig_thuis_telefoon": "bel me", "organisatie_naam": "x" * 300}),
        "gebruikers": bh.get("/beheer/gebruikers"),
        "gebruiker, fout": bh.post("/beheer/gebruikers", {"naam": "kees", "rollen": "medewerker",
                                                          "wachtwoord": "password1234"}),
        "gebruiker, naam": bh.post("/beheer/gebruikers", {"naam": "K", "wachtwoord": "x"}),
        "gebruiker": bh.get("/beheer/gebruikers/mw"),
        "beheerlog": bh.get("/beheerlog"),
        "403": bh.get("/processen/modeler"),
    }
    assert pages["instellingen, fout"].status_code == 422
    assert pages["gebruiker, fout"].status_code == 422
    check(pages)


def test_the_api_speaks_english_when_asked(browser_like, sqlite_people):
    asked = browser_like.http.get("/api/v1/tasks/bestaat-niet",
                                  headers={**sqlite_people.auth("mw"), "Accept-Language": "en"})
    assert asked.status_code == 404 and asked.get_json()["error"] == "Task not found."
    plain = browser_like.http.get("/api/v1/tasks/bestaat-niet", headers=sqlite_people.auth("mw"))
    assert plain.get_json()["error"] == "Taak niet gevonden."


def test_the_apis_own_refusals_speak_english_when_asked_and_dutch_otherwise(
        browser_like, sqlite_people):
    """The texts of webui/api itself (no token, no such path, a body that is too large, no JSON
    or too deep, a missing key, the wrong role) and those webui.web gives an API path (no such
    method) are catalogue texts too; the Dutch ones as they always were."""
    mw = sqlite_people.auth("mw")
    deep = b"[" * 40 + b"]" * 40
    requests = [
        ("GET", "/api/v1/tasks", {}, None, 401,
         "Geen of ongeldig token.", "No token or an invalid token.", None),
        ("GET", "/api/v1/bestaat-niet", mw, None, 404,
         "Onbekend API-pad.", "Unknown API path.", None),
        ("TRACE", "/api/v1/tasks", mw, None, 405,  # refused in routing: webui.web answers
         "Deze handeling is hier niet mogelijk.", "This action is not possible here.", None),
        ("POST", "/api/v1/cases", mw, b"[" + b" " * (1 << 20) + b"]", 413,
         "Het verzoek is te groot (maximaal 1 MiB).",
         "The request is too large (at most 1 MiB).", None),
        ("POST", "/api/v1/cases", mw, b"{", 400,
         "De body is geen geldige JSON.", "The body is not valid JSON.", None),
        ("POST", "/api/v1/cases", mw, deep, 400,
         "De JSON is te diep genest (maximaal 32 niveaus).",
         "The JSON is nested too deeply (at most 32 levels).", None),
        ("POST", "/api/v1/tasks/bestaat-niet/complete", mw, b"{}", 422,
         "'data' ontbreekt.", "'data' is missing.",
         ("Dit veld is verplicht.", "This field is required.")),
        ("GET", "/api/v1/admin-log", mw, None, 403,
         "U heeft hiervoor niet de juiste rol.", "You do not have the right role for this.",
         None),
    ]
    for method, path, auth, body, status, dutch, english_text, field in requests:
        for language, expected in (("en", english_text), (None, dutch)):
            headers = {**auth, "Content-Type": "application/json",
                       **({"Accept-Language": language} if language else {})}
            response = browser_like.http.open(path, method=method, headers=headers, data=body)
            assert response.status_code == status, (method, path)
            answer = response.get_json()
            assert answer["error"] == expected, (method, path, language)
            if field:
                assert answer["errors"]["data"] == field[0 if language is None else 1]


def test_the_meldcode_document_of_an_english_reader_shows_no_dutch(browser_like, ui_app):
    """The organisation's meldcode (webui.documents) on its page and as the standalone
    document: the product's texts in English, the diagram's steps as written, a set contact."""
    from tests.helpers import Client

    english(Client(ui_app), "bh").post("/beheer/instellingen", {
        "organisatie_naam": "Zorggroep De Linde", "veilig_thuis_telefoon": "0800-2000",
        "veilig_thuis_regio_naam": "Veilig Thuis Utrecht",
        "veilig_thuis_regio_telefoon": "030 123 45 67", "beroepsgroep": "sociaal_domein",
        "rijen": "2", "af-0-naam": "Fatima el Amrani", "af-0-telefoon": "06-12345678",
        "af-1-naam": "Kees de Vries", "af-1-email": "kees@linde.example"})
    mw = english(browser_like, "mw")
    pages = {"meldcode": mw.get("/meldcode"), "meldcode, los": mw.get("/meldcode/document")}
    assert "Meldcode for domestic violence and child abuse" in text(pages["meldcode"])
    assert '<html lang="en">' in text(pages["meldcode, los"])
    assert "Zorggroep De Linde" in text(pages["meldcode"])
    # The diagram's help texts with the settings filled in stay in the diagram's language,
    # the professional group's name inside them too.
    values = organisation.placeholder_values(organisation.current())
    check(pages, tuple(organisation.fill_in(t, values) for t in diagram_texts() if "{" in t))
    pdf = mw.http.get("/meldcode.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")


def test_the_dossier_of_an_english_reader_shows_no_dutch(browser_like, sqlite_people, tmp_path):
    """The dossier as an English reader downloads it: the HTML that becomes the PDF holds no
    Dutch of the product's own (webui.documents.dossier_html), and the PDF is made and tagged
    (PDF/UA-1) as in Dutch."""
    from flask_babel import force_locale

    from engine import dossier
    from webui import documents

    case = finished_case(sqlite_people)
    with browser_like.http.application.app_context(), force_locale("en"):
        data = dossier.export(sqlite_people["aud"], case["id"])
        page = documents.dossier_html(data)
    assert '<html lang="en">' in page and "Assessment framework and decisions" in page
    assert "In order" in page and not re.search(r"\b(Ja|Nee)\b", readable(page))
    # what the case records is the case's (the test's answers are Dutch), not the product's
    recorded = {str(f["value"]) for s in data["steps"] for f in s["fields"]}
    for value in sorted(recorded, key=len, reverse=True):
        page = page.replace(str(escape(value)), " ")
    found = dutch_in(page)
    assert not found, f"Dutch in the English dossier: {found}"

    aud = english(browser_like, "aud")
    pdf = aud.http.get(f"/casussen/{case['id']}/dossier.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    need(shutil.which("pdfinfo") is not None, "pdfinfo (poppler-utils) is not installed")
    path = tmp_path / "dossier.pdf"
    path.write_bytes(pdf.data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Tagged:\s+yes$", info, re.M), info
    meta = subprocess.run(["pdfinfo", "-meta", str(path)], capture_output=True, text=True,
                          check=True).stdout
    assert 'pdfuaid:part="1"' in meta
    if shutil.which("pdftotext"):
        shown = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                               check=True).stdout
        assert "Meldcode dossier" in shown and "Page 1 of" in shown
