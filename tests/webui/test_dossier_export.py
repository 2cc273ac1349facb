"""The dossier download made by webui.documents from the engine's data: the JSON evidence file
(always Dutch, its keys and words as they have always been) and the PDF (in the reader's
language; here Dutch, as the command line makes it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

from engine import cases, dossier
from tests.conftest import need
from tests.helpers import finished_case, reading, run_sql
from webui import documents


def test_json_export_is_complete_and_logged(people):
    case = finished_case(people)
    with reading():
        content, d = documents.export(people["aud"], case["id"], "json")
    data = json.loads(content)
    assert data["case"]["uitkomst"] == "gemeld_en_hulp"
    assert [s["step"] for s in data["steps"]] == case["completed_steps"]
    questions = {row["variable"]: row["value"] for row in data["afwegingskader"]}
    assert questions["besluit_melden"] is True and questions["vermoeden"] is True
    assert any(r["variable"] == "melding_veilig_thuis_medewerker" for r in data["veilig_thuis"])
    assert data["verification"]["ok"] is True and len(data["verification"]["last_hash"]) == 64
    log = dossier.access_log(people["aud"], case["id"])
    assert ("aud", "export") in [(e["user"], e["action"]) for e in log]


def test_the_json_evidence_keeps_its_dutch_words_for_an_english_reader(sqlite_people):
    """The evidence file reads the same whoever downloads it: its keys, and the Dutch words
    beside the codes as the engine wrote them before the web layer did."""
    case = finished_case(sqlite_people)
    with reading("en"):
        content, written = documents.export(sqlite_people["aud"], case["id"], "json")
    data = json.loads(content)
    assert data == written
    assert list(data) == ["case", "steps", "afwegingskader", "veilig_thuis", "history",
                          "verification", "process_sha256", "exported_at", "exported_by"]
    assert list(data["case"]) == ["id", "client_ref", "reason", "status", "uitkomst",
                                  "uitkomst_label", "process_version", "owner", "owner_name",
                                  "started_at", "closed_at", "linked_cases"]
    assert data["case"]["uitkomst_label"] == "Gemeld bij Veilig Thuis en hulp geboden"
    rows = {row["variable"]: row for row in data["afwegingskader"]}
    assert list(rows["vermoeden"]) == ["question", "variable", "value", "display"]
    assert rows["vermoeden"]["question"] == ("1. Is er een vermoeden van (dreiging van) huiselijk "
                                             "geweld of kindermishandeling?")
    assert rows["besluit_melden"] == {"question": "Besluit: melden bij Veilig Thuis",
                                      "variable": "besluit_melden", "value": True,
                                      "display": "Ja"}
    assert all(list(f) == ["name", "label", "value", "display"]
               for s in data["steps"] for f in s["fields"])
    assert all(list(r) == ["variable", "label", "value", "display"] for r in data["veilig_thuis"])
    labels = {e["action"]: e["action_label"] for e in data["history"]}
    assert labels["case_started"] == "Casus gestart"
    assert labels["decision_made"] == "Besluit door de beslistabel"
    assert list(data["history"][0]) == ["seq", "at", "actor", "action", "action_label", "step",
                                        "step_name", "data", "hash"]


def test_pdf_export_reads_as_a_dossier(people, tmp_path):
    need(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) is not installed")
    case = finished_case(people)
    with reading():
        content, _ = documents.export(people["aud"], case["id"], "pdf")
    assert content.startswith(b"%PDF")
    path = tmp_path / "dossier.pdf"
    path.write_bytes(content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Dossier meldcode" in text
    assert "Afwegingskader en besluiten" in text and "Veilig Thuis" in text
    assert "Stap 1" in text or "Signalen" in text
    assert "In orde" in text


def test_a_client_ref_of_a_million_characters_makes_a_pdf_in_seconds(sqlite_people, sqlite_url, tmp_path):
    """Break-it (issue 14): a client_ref of 1,000,000 characters in the database (damaged or
    hostile; the product takes 200) took WeasyPrint more than 11 minutes, set whole in every
    page's running head. The PDF shows its first 200 characters and says it is shortened; the
    JSON evidence keeps it whole."""
    need(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) is not installed")
    case = cases.start_case(sqlite_people["mw"], {"client_ref": "Jansen", "reason": "zorgen"})
    run_sql(sqlite_url, "UPDATE cases SET client_ref = :ref WHERE id = :id",
            ref="J" * 1_000_000, id=case["id"])
    started = time.monotonic()
    with reading():
        content, written = documents.export(sqlite_people["aud"], case["id"], "pdf")
    assert time.monotonic() - started < 60
    assert written["case"]["client_ref"] == "J" * 1_000_000
    path = tmp_path / "dossier.pdf"
    path.write_bytes(content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "(ingekort: 1.000.000 tekens)" in " ".join(text.split()), text[:2000]
    assert "J" * 201 not in "".join(text.split())
