"""Dossier export (JSON, PDF) and the NEN 7513 access log of a case."""

import json
import shutil
import subprocess

import pytest

from engine import cases, dossier
from engine.errors import Forbidden
from tests.conftest import meldcode_cli, need
from tests.helpers import finished_case


def test_access_log_holds_reads_changes_and_refusals(people):
    case = cases.start_case(people["mw"], {"client_ref": "log-1"})
    cases.get_case(people["mw"], case["id"])
    with pytest.raises(Forbidden):
        cases.get_case(people["mw2"], case["id"])
    with pytest.raises(Forbidden):
        dossier.access_log(people["mw"], case["id"])
    entries = dossier.access_log(people["aud"], case["id"])
    seen = [(e["user"], e["action"], e["outcome"]) for e in entries]
    assert ("mw", "create", "ok") in seen
    assert ("mw", "read", "ok") in seen
    assert ("mw2", "read", "denied") in seen
    assert ("mw", "read_access_log", "denied") in seen
    assert seen[-1] == ("aud", "read_access_log", "ok")  # this read is logged too
    for e in entries:
        assert set(e) >= {"at", "user", "role", "action", "outcome"}
        assert e["client_ref"] == "log-1"


def test_json_export_is_complete_and_logged(people):
    case = finished_case(people)
    content, d = dossier.export(people["aud"], case["id"], "json")
    data = json.loads(content)
    assert data["case"]["uitkomst"] == "gemeld_en_hulp"
    assert [s["step"] for s in data["steps"]] == case["completed_steps"]
    questions = {row["variable"]: row["value"] for row in data["afwegingskader"]}
    assert questions["besluit_melden"] is True and questions["vermoeden"] is True
    assert any(r["variable"] == "melding_veilig_thuis_medewerker" for r in data["veilig_thuis"])
    assert data["verification"]["ok"] is True and len(data["verification"]["last_hash"]) == 64
    log = dossier.access_log(people["aud"], case["id"])
    assert ("aud", "export") in [(e["user"], e["action"]) for e in log]


def test_pdf_export_reads_as_a_dossier(people, tmp_path):
    need(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) is not installed")
    case = finished_case(people)
    content, _ = dossier.export(people["aud"], case["id"], "pdf")
    assert content.startswith(b"%PDF")
    path = tmp_path / "dossier.pdf"
    path.write_bytes(content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Dossier meldcode" in text
    assert "Afwegingskader en besluiten" in text and "Veilig Thuis" in text
    assert "Stap 1" in text or "Signalen" in text
    assert "In orde" in text


def test_cli_verify_and_export(people, db_url, tmp_path):
    case = finished_case(people)
    env = {"MELDCODE_DATABASE_URL": db_url}
    r = meldcode_cli("verify", "--all", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"casus {case['id']}: in orde" in r.stdout
    r = meldcode_cli("verify", str(case["id"]), "999999", env=env)
    assert r.returncode == 1 and "999999: bestaat niet" in r.stdout
    out = tmp_path / "d.json"
    r = meldcode_cli("export", str(case["id"]), "--format", "json", "-o", str(out),
                     "--user", "aud", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["case"]["id"] == case["id"]
    log = dossier.access_log(people["aud"], case["id"])
    assert any(e["user"] == "aud" and e["action"] == "export" and e["role"] == "auditor"
               for e in log)
    r = meldcode_cli("export", "999999", "--format", "json", "-o", str(out), env=env)
    assert r.returncode == 2 and "niet gevonden" in r.stderr
