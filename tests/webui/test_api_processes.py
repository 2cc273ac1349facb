"""Deploying process versions through the API."""

import io

from tests.conftest import ROOT
from tests.helpers import SHIPPED_BPMN as BPMN
from tests.helpers import relabelled
from tests.scenarios.paths import SCENARIOS, fill

DMN = (ROOT / "processes" / "afwegingskader.dmn").read_bytes()


def versions(client, people):
    r = client.get("/api/v1/processes", headers=people.auth("pb"))
    assert r.status_code == 200
    return r.json


def test_list_roles(client, people):
    for who in ("pb", "bh", "aud"):
        r = client.get("/api/v1/processes", headers=people.auth(who))
        assert r.status_code == 200
        [v] = r.json
        assert set(v) >= {"version", "sha256", "deployed_at", "deployed_by", "active"}
        assert v["version"] == 1 and v["active"] is True
    for who in ("mw", "lg", "af"):
        assert client.get("/api/v1/processes", headers=people.auth(who)).status_code == 403
    assert client.get("/api/v1/processes").status_code == 401


def test_deploy_raw_bpmn_new_then_identical(client, people):
    h = {**people.auth("pb"), "Content-Type": "application/xml"}
    body = relabelled(" (v2)")
    r = client.post("/api/v1/processes", data=body, headers=h)
    assert r.status_code == 201, r.json
    assert r.json["version"] == 2 and r.json["active"] is True
    assert sorted(r.json["files"]) == ["afwegingskader.dmn", "meldcode.bpmn"]
    again = client.post("/api/v1/processes", data=body, headers=h)
    assert again.status_code == 200 and again.json["version"] == 2
    listed = versions(client, people)
    assert [(v["version"], v["active"]) for v in listed] == [(1, False), (2, True)]


def test_deploy_multipart_identical_to_shipped_is_200(client, people):
    r = client.post("/api/v1/processes", headers=people.auth("pb"), data={
        "files": [(io.BytesIO(BPMN), "meldcode.bpmn"), (io.BytesIO(DMN), "afwegingskader.dmn")]},
        content_type="multipart/form-data")
    assert r.status_code == 200 and r.json["version"] == 1


def test_refused_deploy_changes_nothing(client, people):
    broken = BPMN.replace(b'id="stap5_beslissen"', b'id="stap5"', 1)
    r = client.post("/api/v1/processes", data=broken,
                    headers={**people.auth("pb"), "Content-Type": "application/xml"})
    assert r.status_code == 422
    assert isinstance(r.json["errors"], list) and r.json["errors"]
    for e in r.json["errors"]:
        assert set(e) == {"file", "line", "message"} and e["line"] >= 1
    assert any("stap5_beslissen" in e["message"] for e in r.json["errors"])
    hostile = BPMN.replace(b"gesprek_uitzondering == 'geen'",
                           b"__import__('os').system('touch /tmp/meldcode-pwned')", 1)
    r = client.post("/api/v1/processes", data=hostile,
                    headers={**people.auth("pb"), "Content-Type": "application/xml"})
    assert r.status_code == 422
    assert [v["version"] for v in versions(client, people)] == [1]


def test_deploy_permissions_and_limits(client, people):
    for who in ("mw", "bh", "aud"):
        r = client.post("/api/v1/processes", data=relabelled("x"),
                        headers={**people.auth(who), "Content-Type": "application/xml"})
        assert r.status_code == 403
    big = b" " * (5 * 1024 * 1024 + 10)
    r = client.post("/api/v1/processes", data=big,
                    headers={**people.auth("pb"), "Content-Type": "application/xml"})
    assert r.status_code == 413 and "error" in r.json
    r = client.post("/api/v1/processes", data=b"",
                    headers={**people.auth("pb"), "Content-Type": "application/xml"})
    assert r.status_code == 400
    assert [v["version"] for v in versions(client, people)] == [1]


def test_running_case_keeps_its_version(client, people):
    scenario = SCENARIOS[0]
    case = client.post("/api/v1/cases", json={"client_ref": "oud"}, headers=people.auth("mw")).json
    assert case["process_version"] == 1
    r = client.post("/api/v1/processes", data=relabelled(" (nieuw)"),
                    headers={**people.auth("pb"), "Content-Type": "application/xml"})
    assert r.status_code == 201
    new = client.post("/api/v1/cases", json={"client_ref": "nieuw"}, headers=people.auth("mw")).json
    assert new["process_version"] == 2
    assert new["tasks"][0]["name"].endswith("(nieuw)")
    while case["tasks"]:
        tid = case["tasks"][0]["id"]
        form = client.get(f"/api/v1/tasks/{tid}", headers=people.auth("mw")).json
        assert not form["name"].endswith("(nieuw)")
        case = client.post(f"/api/v1/tasks/{tid}/complete", headers=people.auth("mw"),
                           json={"data": fill(form["form"]["fields"], scenario.decisions)}).json
    assert case["status"] == "closed" and case["process_version"] == 1
