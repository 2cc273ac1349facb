"""Real answers of every endpoint laid against the OpenAPI document (issue 12, point 3).

Every endpoint is driven through Flask's test client, its successes and the refusals of CONTRACT
section 4 (400, 401, 403, 404, 409, 413, 422), and each answer's body is validated with
jsonschema (Draft 2020-12) against the schema the served document gives for that path, method
and status; a status the document does not name for that operation fails too. A path asked
with a method it does not take (405) is checked against the 405 every operation of that path
names (OpenAPI has no place for the answer of a method a path lacks), its Allow header against
the methods the document gives the path. The checker itself is shown to reject wrong bodies,
so a pass means something.
"""

from __future__ import annotations

import io
import json
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import update

from engine import models, store
from tests.conftest import ROOT
from tests.helpers import LANE_PEOPLE, planted_files
from tests.scenarios.paths import LONGEST, fill

DOCUMENT = "urn:meldcode:openapi"
BPMN = (ROOT / "processes" / "meldcode.bpmn").read_bytes()
DMN = (ROOT / "processes" / "afwegingskader.dmn").read_bytes()
REFUSALS = {400, 401, 403, 404, 405, 409, 413, 422}
# A busy SQLite database (503) is declared for every endpoint with a token; it is driven in
# tests/webui/test_engine_refusals_english.py, where the write lock can be held.
BUSY = 503


class Contract:
    """The served OpenAPI document and the check of one answer against it."""

    def __init__(self, document: dict):
        self.document = document
        self.registry = Registry().with_resource(DOCUMENT, DRAFT202012.create_resource(document))

    def response(self, method: str, path: str, status: int) -> dict:
        return self._declared(method, path, status)[0]

    def _declared(self, method: str, path: str, status: int) -> tuple[dict, str]:
        """The response the document declares for `status` of `method path`, and its JSON
        pointer. A method the path lacks: the 405 that each operation of the path names,
        the same for all."""
        operations = self.document["paths"].get(path)
        assert operations is not None, f"{path} is not in the document"
        if method.lower() not in operations:
            assert status == 405, (
                f"{method} {path} is not in the document, and it answered {status}, not 405")
            named = {json.dumps(op["responses"].get("405"), sort_keys=True)
                     for op in operations.values()}
            assert len(named) == 1 and "null" not in named, (
                f"not every operation of {path} names one and the same 405: {named}")
            method = next(iter(operations))
        responses = operations[method.lower()]["responses"]
        response = responses.get(str(status))
        assert response is not None, (
            f"{method} {path} answered {status}, which the document does not name for it "
            f"(it names {sorted(responses)})")
        escaped = path.replace("~", "~0").replace("/", "~1")
        base = response.get("$ref") or f"#/paths/{escaped}/{method.lower()}/responses/{status}"
        if "$ref" in response:
            response = self._pointer(response["$ref"].removeprefix("#"))
        return response, base

    def allow(self, path: str) -> set[str]:
        """The methods a 405 at `path` should name: the path's, with HEAD beside GET, and
        OPTIONS (Flask answers both)."""
        methods = {method.upper() for method in self.document["paths"][path]}
        return methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())

    def _pointer(self, pointer: str):
        node = self.document
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def errors(self, method: str, path: str, status: int, body) -> list[str]:
        """What is wrong with `body` as the answer `status` of `method path` (empty: nothing).
        The schema is reached by a reference into the document, so that its own references
        (#/components/schemas/...) resolve against the document."""
        response, base = self._declared(method, path, status)
        assert "application/json" in response.get("content", {}), (
            f"{method} {path} {status}: no JSON body documented")
        ref = f"{DOCUMENT}{base}/content/application~1json/schema"
        validator = Draft202012Validator({"$ref": ref}, registry=self.registry)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator.iter_errors(body)]


class CheckedApi:
    """The API through the test client; every answer is checked against the document, and
    which (method, path, status) were seen is kept to show that every operation was driven."""

    def __init__(self, client, people, contract: Contract):
        self.client, self.people, self.contract = client, people, contract
        self.seen: set[tuple[str, str, int]] = set()

    def call(self, method: str, path: str, status: int, who: str | None = "mw", ids=(),
             **kwargs):
        url = path.replace("{id}", "{}").format(*[quote(str(i), safe="") for i in ids])
        headers = {**(self.people.auth(who) if who else {}), **kwargs.pop("headers", {})}
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        if status == 204:  # no content: the document names the status without a body
            assert response.status_code == 204 and response.get_data() == b"", (method, url)
            assert "content" not in self.contract.response(method, path, 204)
            self.seen.add((method, path, 204))
            return None
        body = json.loads(response.get_data())
        assert response.status_code == status, (method, url, response.status_code, body)
        problems = self.contract.errors(method, path, response.status_code, body)
        assert not problems, (method, url, response.status_code, problems, body)
        if status == 405:  # the header the document declares for it
            assert "Allow" in self.contract.response(method, path, 405)["headers"]
            allow = {m.strip() for m in response.headers.get("Allow", "").split(",")}
            assert allow == self.contract.allow(path), (method, url, allow)
        self.seen.add((method, path, response.status_code))
        return body

    def get(self, path, status=200, **kwargs):
        return self.call("GET", path, status, **kwargs)

    def post(self, path, status, **kwargs):
        return self.call("POST", path, status, **kwargs)


@pytest.fixture
def contract(client) -> Contract:
    return Contract(client.get("/api/v1/openapi.json").get_json())


@pytest.fixture
def api(client, people, contract) -> CheckedApi:
    return CheckedApi(client, people, contract)


def walk(api: CheckedApi, case: dict) -> dict:
    """The longest route, each task read and completed by the person of its lane."""
    while case["tasks"]:
        task = LONGEST.pick(case["tasks"])
        who = LANE_PEOPLE[task["lane"]]
        detail = api.get("/api/v1/tasks/{id}", who=who, ids=[task["id"]])
        data = fill(detail["form"]["fields"], LONGEST.decisions)
        case = api.post("/api/v1/tasks/{id}/complete", 200, who=who, ids=[task["id"]],
                        json={"data": data})
    return case


def test_every_answer_of_every_endpoint_fits_the_document(api, people, contract):
    big_json = {"client_ref": "x" * (1024 * 1024 + 1)}
    api.get("/api/v1/openapi.json", who=None)

    # cases
    case = api.post("/api/v1/cases", 201, json={"client_ref": "C-1", "reason": "zorgen"})
    api.post("/api/v1/cases", 400, data="geen json", content_type="application/json")
    api.post("/api/v1/cases", 401, who=None, json={"client_ref": "C-1"})
    api.post("/api/v1/cases", 403, who="aud", json={"client_ref": "C-1"})
    refused = api.post("/api/v1/cases", 422, json={"client_ref": " ", "kleur": "rood"})
    assert set(refused["errors"]) == {"client_ref", "kleur"}
    api.post("/api/v1/cases", 413, json=big_json)
    # a case linked to another of the same owner (CONTRACT section 5), and one refused
    linked = api.post("/api/v1/cases", 201, json={"client_ref": "C-1b", "linked_case": case["id"]})
    assert linked["linked_cases"] == [case["id"]]
    refused = api.post("/api/v1/cases", 422, json={"client_ref": "C-1c", "linked_case": True})
    assert set(refused["errors"]) == {"linked_case"}
    api.get("/api/v1/cases/{id}", ids=[case["id"]])
    api.get("/api/v1/cases/{id}", 403, who="mw2", ids=[case["id"]])
    api.get("/api/v1/cases/{id}", 404, ids=[999999])
    api.get("/api/v1/cases/{id}", 401, who=None, ids=[case["id"]])
    api.get("/api/v1/cases/{id}", 400, ids=[case["id"]], query_string={"x": "\x00"})

    # tasks: the list, one task, completing it
    assert api.get("/api/v1/tasks")
    api.get("/api/v1/tasks", 401, who=None)
    first = case["tasks"][0]["id"]
    api.get("/api/v1/tasks/{id}", 403, who="mw2", ids=[first])
    api.get("/api/v1/tasks/{id}", 404, ids=["onbekend"])
    complete = "/api/v1/tasks/{id}/complete"
    api.post(complete, 422, ids=[first], json={"data": {}})
    api.post(complete, 422, ids=[first], json={"data": {}, "extra": 1})
    api.post(complete, 400, ids=[first], data="[", content_type="application/json")
    api.post(complete, 403, who="mw2", ids=[first], json={"data": {}})
    api.post(complete, 404, ids=["onbekend"], json={"data": {}})
    api.post(complete, 413, ids=[first], json={"data": big_json})
    closed = walk(api, case)
    assert closed["status"] == "closed" and closed["uitkomst"] is not None
    api.post(complete, 409, ids=[first], json={"data": {}})

    # the case's history, verdict and access log
    api.get("/api/v1/cases/{id}/history", ids=[case["id"]])
    api.get("/api/v1/cases/{id}/history", 403, who="mw2", ids=[case["id"]])
    api.get("/api/v1/cases/{id}/history", 404, ids=[999999])
    assert api.get("/api/v1/cases/{id}/verify", who="aud", ids=[case["id"]])["ok"] is True
    api.get("/api/v1/cases/{id}/verify", 403, who="mw2", ids=[case["id"]])
    api.get("/api/v1/cases/{id}/verify", 404, who="aud", ids=[999999])
    log = api.get("/api/v1/cases/{id}/access-log", who="aud", ids=[case["id"]])
    assert {entry["outcome"] for entry in log} == {"ok", "denied"}
    api.get("/api/v1/cases/{id}/access-log", 403, ids=[case["id"]])
    api.get("/api/v1/cases/{id}/access-log", 404, who="aud", ids=[999999])

    # hand-over and share, of an open case
    other = api.post("/api/v1/cases", 201, json={"client_ref": "C-2"})
    for path, person in (("/api/v1/cases/{id}/shares", "af"),
                         ("/api/v1/cases/{id}/handover", "mw2")):
        api.post(path, 422, ids=[other["id"]], json={"user": person})
        api.post(path, 403, who="mw2", ids=[other["id"]], json={"user": person, "reason": "x"})
        api.post(path, 404, ids=[999999], json={"user": person, "reason": "x"})
        api.post(path, 400, ids=[other["id"]], data="nee", content_type="application/json")
        api.post(path, 413, ids=[other["id"]], json={"user": person, "reason": big_json})
        api.post(path, 409, ids=[case["id"]], json={"user": person, "reason": "gesloten"})
    api.post("/api/v1/cases/{id}/shares", 200, ids=[other["id"]],
             json={"user": "af", "reason": "meedenken"})
    api.post("/api/v1/cases/{id}/shares", 409, ids=[other["id"]],
             json={"user": "af", "reason": "nog eens"})
    handed = api.post("/api/v1/cases/{id}/handover", 200, ids=[other["id"]],
                      json={"user": "mw2", "reason": "met verlof"})
    assert handed["owner"] == "mw2"

    # consultations and notifications (CONTRACT section 5)
    consults = "/api/v1/cases/{id}/consults"
    asking = api.post("/api/v1/cases", 201, json={"client_ref": "C-4"})
    asked = api.post(consults, 201, ids=[asking["id"]], json={"user": "af", "question": "Wat nu?"})
    assert set(asked) == {"id", "task_id"}
    api.post(consults, 422, ids=[asking["id"]], json={"user": "mw2", "question": "Wat nu?"})
    api.post(consults, 403, who="mw2", ids=[asking["id"]], json={"user": "af", "question": "x"})
    api.post(consults, 404, ids=[999999], json={"user": "af", "question": "x"})
    api.post(consults, 400, ids=[asking["id"]], data="nee", content_type="application/json")
    api.post(consults, 413, ids=[asking["id"]], json={"user": "af", "question": big_json})
    api.post(consults, 409, ids=[case["id"]], json={"user": "af", "question": "gesloten"})
    notes = api.get("/api/v1/notifications", who="af")
    assert notes[0]["kind"] == "consult" and notes[0]["read"] is False
    api.get("/api/v1/notifications", 401, who=None)
    api.post("/api/v1/notifications/{id}/read", 404, who="mw", ids=[notes[0]["id"]])
    api.post("/api/v1/notifications/{id}/read", 204, who="af", ids=[notes[0]["id"]])

    # process versions
    assert api.get("/api/v1/processes", who="pb")[0]["version"] == 1
    api.get("/api/v1/processes", 403, who="mw")
    xml = {"content_type": "application/xml"}
    relabelled = BPMN.replace(b'name="Stap 1', b'name="Stap 1 (nieuw)', 1)
    assert relabelled != BPMN
    assert api.post("/api/v1/processes", 201, who="pb", data=relabelled, **xml)["created"]
    again = api.post("/api/v1/processes", 200, who="pb", data=relabelled, **xml)
    assert again["created"] is False and again["version"] == 2
    api.post("/api/v1/processes", 200, who="pb", content_type="multipart/form-data", data={
        "files": [(io.BytesIO(BPMN), "meldcode.bpmn"), (io.BytesIO(DMN), "afwegingskader.dmn")]})
    api.post("/api/v1/processes", 403, who="mw", data=relabelled, **xml)
    api.post("/api/v1/processes", 400, who="pb", data=b"", **xml)
    api.post("/api/v1/processes", 413, who="pb", data=b" " * (5 * 1024 * 1024 + 10), **xml)
    broken = api.post("/api/v1/processes", 422, who="pb", **xml,
                      data=BPMN.replace(b'id="stap5_beslissen"', b'id="stap5"', 1))
    assert broken["errors"]
    unproved = BPMN.replace(b"hulp_effectief == False and besluit_melden == True and "
                            b"meldingen_gedaan == 0", b"hulp_effectief == False and "
                            b"meldingen_gedaan == 99", 1)
    assert unproved != BPMN
    refused = api.post("/api/v1/processes", 422, who="pb", data=unproved, **xml)
    assert any(error.get("path") for error in refused["errors"])  # a witness route
    planted = api.post("/api/v1/processes", 422, who="pb", content_type="multipart/form-data",
                       data={"files": [(io.BytesIO(f.content), f.name) for f in planted_files()]})
    assert planted["errors"]

    # the admin log
    assert api.get("/api/v1/admin-log", who="aud")
    assert api.get("/api/v1/admin-log", who="aud", query_string={"page": "2"}) == []
    api.get("/api/v1/admin-log", 422, who="aud", query_string={"page": "nul"})
    api.get("/api/v1/admin-log", 403, who="mw")
    api.get("/api/v1/admin-log", 401, who=None)

    # a path asked with a method it does not take: 405, in the language the request asks for
    refused = api.call("DELETE", "/api/v1/cases/{id}", 405, ids=[case["id"]])
    assert refused == {"error": "Deze handeling is hier niet mogelijk."}
    refused = api.call("PUT", "/api/v1/tasks", 405, headers={"Accept-Language": "en"},
                       json={"data": {}})
    assert refused == {"error": "This action is not possible here."}
    assert "Accept-Language" in contract.document["components"]["schemas"]["Error"][
        "properties"]["error"]["description"]
    api.call("PATCH", "/api/v1/processes", 405, who="pb")
    api.call("TRACE", "/api/v1/cases/{id}", 405, who=None, ids=[case["id"]])  # routing's own
    api.call("DELETE", "/api/v1/tasks/{id}/complete", 405, ids=[first])

    # no active version: a case cannot start
    with store.unit_of_work(write=True) as session:
        session.execute(update(models.ProcessVersion).values(active=False))
    api.post("/api/v1/cases", 409, json={"client_ref": "C-3"})

    # every operation of the document answered, with each of its answers that is no refusal,
    # and every refusal of the contract was seen
    for path, operations in contract.document["paths"].items():
        for method, operation in operations.items():
            for status in operation["responses"]:
                if int(status) not in REFUSALS | {BUSY}:
                    assert (method.upper(), path, int(status)) in api.seen, (method, path, status)
    assert {status for _m, _p, status in api.seen} >= REFUSALS


# --- the check itself can fail ------------------------------------------------------------------


CASE = {"id": 1, "client_ref": "C-1", "reason": "", "status": "open", "uitkomst": None,
        "process_version": 1, "owner": "mw", "started_at": "2026-11-29T13:05:07.000000Z",
        "closed_at": None, "stalled_at": None, "completed_steps": [], "data": {},
        "linked_cases": [],
        "tasks": [{"id": "t-1", "case_id": 1, "step": "stap1_signalen", "name": "Stap 1",
                   "lane": "medewerker", "state": "ready",
                   "ready_at": "2026-11-29T13:05:07.000000Z",
                   "due_at": "2026-12-04T22:59:00.000000Z", "urgent": False}]}


@pytest.fixture(scope="module")
def served() -> Contract:
    """The document as GET /api/v1/openapi.json serves it (no database needed to build it)."""
    from webui.api import openapi_document

    return Contract(json.loads(json.dumps(openapi_document())))


@pytest.mark.parametrize("wrong", [
    {k: v for k, v in CASE.items() if k != "tasks"},  # a key missing
    {**CASE, "geheim": "x"},  # a key the document does not name
    {**CASE, "status": "half"},  # a value outside the enum
    {**CASE, "id": "1"},  # a number as text
    {**CASE, "closed_at": "gisteren"},  # a time that is no ISO 8601 UTC
    {**CASE, "tasks": [{**CASE["tasks"][0], "case_id": None}]},  # wrong deep inside ($ref)
    {**CASE, "tasks": [{**CASE["tasks"][0], "due_at": "vrijdag"}]},  # a due date, not ISO
])
def test_the_check_rejects_a_wrong_body(served, wrong):
    assert served.errors("GET", "/api/v1/cases/{id}", 200, CASE) == []
    assert served.errors("GET", "/api/v1/cases/{id}", 200, wrong)


def test_the_check_rejects_an_undocumented_status_and_a_wrong_error(served):
    with pytest.raises(AssertionError, match="does not name"):
        served.errors("GET", "/api/v1/cases/{id}", 201, CASE)
    with pytest.raises(AssertionError, match="does not name"):
        served.errors("GET", "/api/v1/tasks", 409, {"error": "x"})
    # a method a path lacks: its 405 only, at a path the document has
    assert served.errors("DELETE", "/api/v1/cases/{id}", 405, {"error": "x"}) == []
    assert served.errors("DELETE", "/api/v1/cases/{id}", 405, {"fout": "x"})
    with pytest.raises(AssertionError, match="not 405"):
        served.errors("DELETE", "/api/v1/cases/{id}", 404, {"error": "x"})
    with pytest.raises(AssertionError, match="not in the document"):
        served.errors("DELETE", "/api/v1/onbekend", 405, {"error": "x"})
    assert served.errors("POST", "/api/v1/tasks/{id}/complete", 422,
                         {"error": "x", "errors": {"veld": "fout"}}) == []
    assert served.errors("POST", "/api/v1/tasks/{id}/complete", 422, {"errors": {}})
    assert served.errors("POST", "/api/v1/processes", 422, {"error": "x", "errors": {"a": "b"}})


def test_the_document_holds_valid_schemas(served):
    for schema in served.document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_an_engine_answer_that_does_not_fit_its_model_is_an_error():
    """A view serialises through its model: a key the model does not name, or a value of the
    wrong type, fails loudly (a 500 in a test run) instead of reaching a client unchecked."""
    from pydantic import ValidationError

    from webui.api import models
    from webui.api.openapi import Reply

    reply = Reply(models.Case, "de casus")
    assert reply.dump(CASE) == CASE
    with pytest.raises(ValidationError):
        reply.dump({**CASE, "nieuw": 1})
    with pytest.raises(ValidationError):
        reply.dump({**CASE, "process_version": "1"})
