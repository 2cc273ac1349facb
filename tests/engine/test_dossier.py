"""The dossier as data (the JSON and PDF are webui.documents': tests/webui/test_dossier_export.py),
the export from the command line, and the NEN 7513 access log of a case."""

import json

import pytest

from engine import cases, dossier
from engine.errors import Forbidden
from tests.helpers import finished_case, operator_run


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


def test_the_dossier_is_data_without_words_of_the_product(people):
    """The engine gives codes and values (issue 12 point 4): webui.documents words them."""
    case = finished_case(people)
    d = dossier.export(people["aud"], case["id"])
    assert d["case"]["uitkomst"] == "gemeld_en_hulp" and "uitkomst_label" not in d["case"]
    assert all(set(row) == {"variable", "value"} for row in d["afwegingskader"])
    assert [row["variable"] for row in d["afwegingskader"]] == [
        v for v in dossier.AFWEGINGSKADER if v in {r["variable"] for r in d["afwegingskader"]}]
    assert all("action_label" not in e for e in d["history"])
    assert all("display" not in f for s in d["steps"] for f in s["fields"])
    assert d["exported_by"] == "aud" and d["exported_at"].endswith("Z")
    log = dossier.access_log(people["aud"], case["id"])
    assert ("aud", "export") in [(e["user"], e["action"]) for e in log]


def test_cli_verify_and_export(people, db_url, tmp_path):
    case = finished_case(people)
    r = operator_run("verify", "--all", url=db_url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"casus {case['id']}: in orde" in r.stdout
    r = operator_run("verify", str(case["id"]), "999999", url=db_url)
    assert r.returncode == 1 and "999999: bestaat niet" in r.stdout
    out = tmp_path / "d.json"
    r = operator_run("export", str(case["id"]), "--format", "json", "-o", str(out),
                     "--user", "aud", url=db_url)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["case"]["id"] == case["id"]
    log = dossier.access_log(people["aud"], case["id"])
    assert any(e["user"] == "aud" and e["action"] == "export" and e["role"] == "auditor"
               for e in log)
    r = operator_run("export", "999999", "--format", "json", "-o", str(out), url=db_url)
    assert r.returncode == 2 and "niet gevonden" in r.stderr
