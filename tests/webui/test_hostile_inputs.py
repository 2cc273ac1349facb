"""Hostile input, tried as an attacker would (issue 11, point 6): every answer is one of the
contract's statuses (CONTRACT section 4: 400, 401, 403, 404, 409, 413, 422) with a Dutch body,
never a 500 with an English one.

The fuzz takes its endpoints from the OpenAPI document itself (GET /api/v1/openapi.json), so a
new endpoint is attacked as soon as it is documented, and adds the main web pages. Every test
runs on SQLite and on a real PostgreSQL server (the `db_url` fixture), where integers have
32 bits and text may not hold NUL.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from urllib.parse import quote

import pytest

from engine import definitions, store, versions
from tests.conftest import PASSWORD
from tests.helpers import Client, text

# Words of the English texts a framework answers with when the product's own handlers are
# bypassed (Werkzeug's and Flask's default error pages, Python exception names).
ENGLISH = re.compile(r"\b(the|requested|server|browser|Internal|Error|Traceback|exception|"
                     r"Bad Request|Not Found|Method Not Allowed|could not|Payload Too Large|"
                     r"Content Too Large|Unprocessable|Conflict)\b")
NUL = "\x00"
BIG_IDS = [str(2**31 - 1), str(2**31), str(2**32), str(2**53 + 1), str(2**63), str(10**30),
           "-" + str(2**31 + 1), "0", "-1"]
ODD_IDS = ["a" + NUL + "b", NUL, "1" + NUL, "1e309", " 1", "٣", "1.5", "x" * 300]


@pytest.fixture
def hostile_app(db_url, people):
    from webui import create_app

    # The real error handling: a handler that is missing turns into a 500, not a traceback
    # in the test run, so one run lists every hole.
    return create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False})


@pytest.fixture
def api(hostile_app):
    return hostile_app.test_client()


def dutch_json(response) -> str | None:
    """What is wrong with an API answer, or None: JSON, an 'error' in Dutch, below 500."""
    if response.status_code >= 500:
        return f"status {response.status_code}: {text(response)[:200]!r}"
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return f"status {response.status_code} without JSON: {text(response)[:200]!r}"
    message = body.get("error") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message or ENGLISH.search(message):
        return f"status {response.status_code} without a Dutch error: {body!r}"
    return None


def dutch_html(response) -> str | None:
    """What is wrong with a page: a 500, or an error page that is not the product's Dutch one."""
    if response.status_code >= 500:
        return f"status {response.status_code}: {text(response)[:200]!r}"
    if response.status_code < 400 or response.mimetype != "text/html":
        return None
    body = text(response)
    if 'lang="nl"' not in body or ENGLISH.search(re.sub(r"<[^>]+>", " ", body)):
        return f"status {response.status_code}, not a Dutch page: {body[:300]!r}"
    return None


def started_case(api, people, who="mw"):
    r = api.post("/api/v1/cases", json={"client_ref": "C-FUZZ", "reason": "zorgen"},
                 headers=people.auth(who))
    assert r.status_code == 201, r.json
    return r.json


# --- the fuzz over the OpenAPI document --------------------------------------------------------


def _documented(api) -> list[tuple[str, str]]:
    document = api.get("/api/v1/openapi.json").json
    return [(method.upper(), path) for path, operations in document["paths"].items()
            for method in operations if method in ("get", "post", "put", "patch", "delete")]


def _bodies() -> list[tuple[str, bytes, str]]:
    """Hostile JSON bodies: (what, raw bytes, content type)."""
    nul = {"client_ref": "a" + NUL + "b", "reason": NUL, "user": "mw" + NUL, "data": {
        "x" + NUL: NUL, "kindcheck_kinderen": NUL}, NUL: NUL}
    return [
        ("NUL in every string", json.dumps(nul).encode(), "application/json"),
        ("NUL escaped", b'{"client_ref": "\\u0000", "user": "\\u0000", "reason": "\\u0000",'
                        b' "data": {"a": "\\u0000"}}', "application/json"),
        ("big numbers", json.dumps({"client_ref": 2**64, "user": 2**31, "reason": 10**30,
                                    "data": {"hulp_evaluatiedatum": 2**63},
                                    "linked_case": 2**31}).encode(), "application/json"),
        ("NaN", b'{"client_ref": NaN, "data": {"x": Infinity}}', "application/json"),
        ("deep list", b"[" * 100_000 + b"]" * 100_000, "application/json"),
        ("deep object", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json"),
        ("deep in data", b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
         "application/json"),
        ("not UTF-8", b'{"client_ref": "\xff\xfe"}', "application/json"),
        ("not JSON", b"<xml/>", "application/json"),
        ("NUL in XML", b"<?xml version='1.0'?><a>\x00</a>", "application/xml"),
    ]


@pytest.mark.parametrize("who", ["mw", "pb"])
def test_every_documented_endpoint_survives_hostile_input(api, people, who):
    case = started_case(api, people)
    task_id = case["tasks"][0]["id"]
    problems: dict[tuple, str] = {}  # one example per endpoint, attack and answer

    def check(key, description, response):
        problem = dutch_json(response)
        if problem:
            problems.setdefault((*key, response.status_code), f"{description}: {problem}")

    for method, template in _documented(api):
        ids = [str(case["id"]), task_id, *BIG_IDS, *(quote(i) for i in ODD_IDS)] \
            if "{" in template else [None]
        for value in ids:
            path = re.sub(r"\{[^}]+\}", value, template) if value is not None else template
            attempts = [("plain", {})]
            # the bodies once with a real id and once with one the database cannot hold
            if method == "POST" and value in (None, str(case["id"]), task_id, str(2**31)):
                attempts += [(what, {"data": raw, "content_type": kind})
                             for what, raw, kind in _bodies()]
            for what, extra in attempts:
                response = api.open(path, method=method, headers=people.auth(who), **extra)
                check((method, template, what), f"{method} {path} ({what})", response)
        # the query string and the headers, once per endpoint
        path = re.sub(r"\{[^}]+\}", str(case["id"]), template)
        for query in ("?x=%00", "?page=" + str(10**30), "?%00=1", "?pagina=%00"):
            response = api.open(path + query, method=method, headers=people.auth(who))
            check((method, template, query), f"{method} {path}{query}", response)
        for header in ({"Authorization": "Bearer " + NUL},
                       {"Authorization": f"Bearer {people.tokens[who]}{NUL}"},
                       {"Authorization": NUL + " x"},
                       {**people.auth(who), "Accept-Language": NUL},
                       {**people.auth(who), "Accept-Language": "nl;q=" + "9" * 400},
                       {**people.auth(who), "X-Forwarded-For": NUL + ", 1.2.3.4"},
                       {**people.auth(who), "Content-Type": "application/json; charset=" + NUL}):
            response = api.open(path, method=method, headers=header)
            check((method, template, repr(header)), f"{method} {path} {header!r}", response)
    assert not problems, "\n".join(problems.values())


# --- the web pages -----------------------------------------------------------------------------

# Every page gets these; the pages that read a parameter get theirs too.
QUERIES = ["", "?x=%00", "?%00=x"]
PAGE_QUERIES = {
    "/processen": ["?van=2147483648&naar=1", "?van=1&naar=" + str(10**30), "?van=%00&naar=1"],
    "/processen/{version}/verplaatsen": ["?naar=2147483648", "?naar=" + str(10**30),
                                         "?naar=-1", "?naar=%00"],
    "/casussen": ["?pagina=" + str(10**30), "?pagina=%00", "?pagina=-1", "?pagina=%D9%A3"],
    "/aanmelden": ["?next=/%0d%0aSet-Cookie:%20x=1", "?next=%0d%0a", "?next=/%00"],
    "/audit/casussen": [
        "?page=" + str(10**30), "?page=-1", "?page=1e3", "?page=%D9%A3", "?page=1_000",
        "?status=%00", "?step=%00", "?step=%0a", "?started_from=99999-01-01",
        "?started_to=9999-12-31", "?started_from=0001-01-01", "?started_to=0001-01-01",
        "?started_from=2024-02-30", "?started_to=%00", "?process_version=2147483648",
        "?process_version=" + str(10**30), "?process_version=-5"],
}


@pytest.fixture
def web(hostile_app):
    return Client(hostile_app)


def _pages(app) -> list[str]:
    """Every GET page of the staff UI, from the application's own URL map (so a new page is
    attacked as soon as it exists), as a template with {variable} slots."""
    pages = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/static/")):
            continue
        # <int:case_id> -> {case_id}; <any(pdf, json):fmt> -> its first choice
        template = re.sub(r"<any\(([^,)]+)[^>]*>", lambda m: m.group(1).strip(" '\""),
                          rule.rule)
        pages.add(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", template))
    return sorted(pages)


@pytest.mark.parametrize("who", ["mw", "aud", "bh"])
def test_every_page_survives_hostile_input(web, api, people, who):
    case = started_case(api, people)
    task_id = case["tasks"][0]["id"]
    web.login(who)
    problems: dict[tuple, str] = {}
    odd = [quote(i) for i in ODD_IDS]
    values = {"case_id": [str(case["id"]), *BIG_IDS, *odd],
              "task_id": [task_id, *BIG_IDS, *odd],
              "version": ["1", *BIG_IDS],
              "name": ["mw", "meldcode.bpmn", *odd]}
    templates = _pages(web.http.application)
    assert "/audit/casussen/{case_id}" in templates and "/taken/{task_id}" in templates
    for template in templates:
        slots = re.findall(r"\{(\w+)\}", template)
        real = {slot: values[slot][0] for slot in slots}
        # each slot in turn gets every hostile value, the others their real one
        variants = [dict(real)] + [{**real, slot: value} for slot in slots
                                   for value in values[slot][1:]]
        for chosen in variants:
            path = template.format(**chosen)
            queries = [*QUERIES, *PAGE_QUERIES.get(template, [])] if chosen == real else [""]
            for query in queries:
                response = web.http.get(path + query)  # a PDF among them: no text
                if problem := dutch_html(response):
                    problems.setdefault((template, query, response.status_code),
                                        f"GET {path}{query}: {problem}")
    assert not problems, "\n".join(problems.values())


# --- the web forms -----------------------------------------------------------------------------

HOSTILE_TEXTS = ["a" + NUL + "b", "x" * 100_000, "9" * 40]


def _forms(case_id: int, task_id: str) -> list[tuple[str, list[str]]]:
    """Every form the staff UI posts: (path, its field names)."""
    return [
        ("/aanmelden", ["naam", "wachtwoord", "next"]),
        ("/taal", ["taal", "next"]),
        ("/casussen/nieuw", ["client_ref", "reason"]),
        (f"/taken/{task_id}", ["kindcheck_kinderen", "signalen", "geweldsvormen", "actie"]),
        (f"/casussen/{case_id}/overdragen", ["user", "reason"]),
        (f"/casussen/{case_id}/delen", ["user", "reason"]),
        ("/processen/1/verplaatsen", ["naar", "doel", "version"]),
        ("/processen/1/actief", ["bevestig"]),
        ("/beheer/instellingen", ["organisatie_naam", "veilig_thuis_telefoon", "rijen",
                                  "af-0-naam", "af-0-email", "beroepsgroep"]),
        ("/beheer/gebruikers", ["naam", "weergavenaam", "rollen", "leidinggevende",
                                "wachtwoord"]),
        ("/beheer/gebruikers/mw/rollen", ["rollen"]),
        ("/beheer/gebruikers/mw/leidinggevende", ["leidinggevende"]),
        ("/beheer/gebruikers/mw/wachtwoord", ["wachtwoord"]),
        ("/beheer/gebruikers/mw/tokens", ["dagen"]),
        ("/beheer/gebruikers/mw/tokens/intrekken", ["token"]),
    ]


@pytest.mark.parametrize("who", ["mw", "bh", "pb"])
def test_every_form_survives_hostile_input(web, api, people, who):
    case = started_case(api, people)
    task_id = case["tasks"][0]["id"]
    problems: dict[tuple, str] = {}
    web.login(who)
    for path, names in _forms(case["id"], task_id):
        for value in HOSTILE_TEXTS:
            for name in names:
                data = dict.fromkeys(names, "ja")
                data[name] = value
                if name == "actie":
                    data[name] = "concept"  # the draft: stored as typed
                response = web.post(path, data)
                if problem := dutch_html(response):
                    problems.setdefault((path, name, value[:3], response.status_code),
                                        f"POST {path} {name}={value[:20]!r}: {problem}")
                if path in ("/aanmelden", "/taal") or response.status_code == 401:
                    web.login(who)  # signed in again, as who (a post may have changed that)
    # the modeler's JSON calls, deep and with NUL
    web.login(who)
    for path in ("/processen/modeler/controleren", "/processen/modeler/publiceren"):
        for raw in (b"[" * 100_000 + b"]" * 100_000,
                    json.dumps({"files": [{"name": "a" + NUL, "content": NUL}]}).encode()):
            response = web.http.post(path, data=raw, content_type="application/json",
                                     headers={"X-CSRFToken": web.token or "",
                                              "Referer": "http://localhost/"})
            if response.status_code >= 500:
                problems.setdefault((path, raw[:3]), f"POST {path}: {text(response)[:200]!r}")
    assert not problems, "\n".join(problems.values())


# --- deep JSON, big ids, filters, next -----------------------------------------------------------


@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000,
                                 b'{"data": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001,
                                 b"[" * 33 + b"]" * 33])
def test_deeply_nested_json_is_a_dutch_400(api, people, raw):
    case = started_case(api, people)
    for path in ("/api/v1/cases", f"/api/v1/tasks/{case['tasks'][0]['id']}/complete",
                 f"/api/v1/cases/{case['id']}/handover"):
        r = api.post(path, data=raw, content_type="application/json", headers=people.auth("mw"))
        assert r.status_code == 400, (path, r.status_code, text(r)[:200])
        assert "JSON" in r.json["error"] and not ENGLISH.search(r.json["error"])


def test_a_nul_in_json_is_422_at_its_field(api, people):
    r = api.post("/api/v1/cases", json={"client_ref": "C-1", "reason": "a" + NUL},
                 headers=people.auth("mw"))
    assert r.status_code == 422 and set(r.json["errors"]) == {"reason"}
    case = started_case(api, people)
    r = api.post(f"/api/v1/cases/{case['id']}/handover", json={"user": "mw2" + NUL,
                 "reason": "ziek"}, headers=people.auth("mw"))
    assert r.status_code == 422 and set(r.json["errors"]) == {"user"}


@pytest.mark.parametrize("number", [2**31, 2**31 + 1, 2**32, 2**63, 10**30])
def test_ids_beyond_the_database_are_unknown(api, web, people, number):
    """PostgreSQL integers have 32 bits: a larger id in a query is an error there (DataError),
    so it must never reach one. Each answer is 404, in JSON for the API, a page for the web."""
    web.login("aud")
    for path in (f"/api/v1/cases/{number}", f"/api/v1/cases/{number}/history",
                 f"/api/v1/cases/{number}/verify", f"/api/v1/cases/{number}/access-log"):
        r = api.get(path, headers=people.auth("aud"))
        assert r.status_code == 404, (path, r.status_code)
        assert r.json["error"] and not ENGLISH.search(r.json["error"])
    for path in (f"/api/v1/cases/{number}/handover", f"/api/v1/cases/{number}/shares"):
        r = api.post(path, json={"user": "af", "reason": "r"}, headers=people.auth("mw"))
        assert r.status_code == 404, (path, r.status_code)
    for path in (f"/casussen/{number}", f"/casussen/{number}/afdrukken",
                 f"/casussen/{number}/dossier.pdf", f"/audit/casussen/{number}",
                 f"/audit/casussen/{number}/toegangslog", f"/audit/casussen/{number}/inzage",
                 f"/processen/{number}/diagram.bpmn",
                 f"/processen/{number}/bestanden/meldcode.bpmn"):
        r = web.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert dutch_html(r) is None


@pytest.mark.parametrize(("query", "field"), [
    ("page=" + str(10**30), "page"), ("page=0", "page"), ("page=-3", "page"),
    ("page=1_0", "page"), ("process_version=2147483648", "process_version"),
    ("process_version=" + str(10**30), "process_version"),
    ("started_from=99999-01-01", "started_from"), ("started_to=9999-12-31", "started_to"),
    ("started_from=0001-01-01", "started_from"), ("started_to=2024-02-30", "started_to"),
])
def test_the_auditors_filters_answer_at_the_filter(web, people, query, field):
    web.login("aud")
    r = web.get(f"/audit/casussen?{query}")
    assert r.status_code == 422, (query, r.status_code)
    assert dutch_html(r) is None
    # the message sits at the field of the filter form (the page number below the form)
    body = text(r)
    assert f'id="{field}-fout"' in body or (field == "page" and 'id="f-page"' in body)
    assert "Het filter klopt niet" in body


def test_a_page_beyond_the_last_one_is_empty_not_an_error(web, people):
    web.login("aud")
    r = web.get("/audit/casussen?page=999999")
    assert r.status_code == 200


@pytest.mark.parametrize("target", ["/%0d%0aSet-Cookie:%20evil=1", "/taken%0aX-Evil:%201",
                                    "%0d%0a/casussen", "/%00", "/\t/evil.example"])
def test_next_with_line_breaks_never_becomes_a_header(hostile_app, people, target):
    signed_out = hostile_app.test_client()
    page = signed_out.get(f"/aanmelden?next={target}")
    assert page.status_code in (200, 400)
    token = re.search(r'name="csrf_token" value="([^"]+)"', text(page))
    r = signed_out.post(f"/aanmelden?next={target}", headers={"Referer": "http://localhost/"},
                        data={"naam": "mw", "wachtwoord": PASSWORD,
                              "csrf_token": token.group(1) if token else ""})
    assert r.status_code in (302, 400), r.status_code
    if r.status_code == 302:
        assert r.headers["Location"] == "/"
    assert "evil" not in str(r.headers).lower()
    again = signed_out.get(f"/aanmelden?next={target}")  # signed in: straight on
    assert again.status_code in (302, 400)
    if again.status_code == 302:
        assert again.headers["Location"] == "/"
    assert "evil" not in str(again.headers).lower()


# --- chunked bodies, through a real server ------------------------------------------------------


def _chunked(server, path: str, body: bytes, token: str, content_type: str):
    """POST `body` with Transfer-Encoding: chunked and no Content-Length, as curl -T - does."""
    host, port = server.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for start in range(0, len(body), 64 * 1024):
            piece = body[start:start + 64 * 1024]
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def _shipped_bpmn() -> bytes:
    return next(f.content for f in definitions.shipped_files() if f.kind == "bpmn")


def test_chunked_bodies_over_the_limits_are_413(live_server, people):
    """A chunked body has no Content-Length; Werkzeug stops reading it at MAX_CONTENT_LENGTH
    without a word, so a deploy of 5 MiB + a bit used to be cut off and then refused as broken
    BPMN (422). Over the limit is 413, as with a Content-Length."""
    bpmn = _shipped_bpmn()
    padded = bpmn + b"<!--" + b"x" * (5 * 1024 * 1024 + 1000 - len(bpmn)) + b"-->"
    status, body = _chunked(live_server, "/api/v1/processes", padded, people.tokens["pb"],
                            "application/xml")
    assert status == 413, (status, body)
    assert "te groot" in body["error"]
    # just under the limit, chunked: read whole (the shipped set again: 200, nothing new)
    status, body = _chunked(live_server, "/api/v1/processes", bpmn, people.tokens["pb"],
                            "application/xml")
    assert status == 200, (status, body)
    # a JSON body over 1 MiB, chunked
    big = json.dumps({"client_ref": "C-1", "reason": "x" * (1024 * 1024 + 10)}).encode()
    status, body = _chunked(live_server, "/api/v1/cases", big, people.tokens["mw"],
                            "application/json")
    assert status == 413, (status, body)
    # and one over 5 MiB
    status, body = _chunked(live_server, "/api/v1/cases", big * 6, people.tokens["mw"],
                            "application/json")
    assert status == 413, (status, body)


def test_a_chunked_multipart_deploy_over_the_limit_is_413(live_server, people):
    boundary = "grens-12345"
    bpmn = _shipped_bpmn()
    padding = b"<!--" + b"x" * (5 * 1024 * 1024 + 1000) + b"-->"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"meldcode.bpmn\"\r\nContent-Type: application/xml\r\n\r\n").encode() \
        + bpmn + padding + f"\r\n--{boundary}--\r\n".encode()
    status, answer = _chunked(live_server, "/api/v1/processes", body, people.tokens["pb"],
                              f"multipart/form-data; boundary={boundary}")
    assert status == 413, (status, answer)


# --- two deploys at once ------------------------------------------------------------------------


def test_concurrent_deploys_each_get_their_own_version(api, people, db_url):
    """Two (here three) procesbeheerders publish different files at the same moment. Each
    deploy numbers its version max + 1; on PostgreSQL both read the same max, and the second
    insert broke the version number's unique constraint (500). Now every deploy gets a version
    of its own (or 409 when it cannot), never a 500. (Each variant is proved once first, about
    the suite's longest wait: three, not more.)"""
    variants = [_shipped_bpmn() + f"<!-- variant {i} -->".encode() for i in range(3)]
    for content in variants:  # the proof outside the race (definitions.check keeps verdicts)
        versions.check_first([definitions.SourceFile("meldcode.bpmn", content)])
    barrier = threading.Barrier(len(variants))
    answers: list = [None] * len(variants)

    def deploy(i):
        client = api.application.test_client()
        barrier.wait()
        r = client.post("/api/v1/processes", data=variants[i], content_type="application/xml",
                        headers=people.auth("pb"))
        answers[i] = (r.status_code, r.get_json())

    threads = [threading.Thread(target=deploy, args=(i,)) for i in range(len(variants))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(status in (201, 409) for status, _ in answers), answers
    made = sorted(body["version"] for status, body in answers if status == 201)
    assert len(made) == len(set(made)) >= 1
    with store.unit_of_work() as session:
        listed = versions.list_versions(session)
        assert [v.version for v in listed] == list(range(1, len(listed) + 1))
        assert sum(v.active for v in listed) == 1


# --- version numbers beyond the database --------------------------------------------------------


@pytest.mark.parametrize("number", [2**31, 2**32, 2**63, 10**30, -(2**31) - 1])
def test_version_numbers_beyond_the_database_are_unknown(web, people, number):
    """A process version is a 32-bit integer on PostgreSQL (commands.MAX_ID). A larger number in
    the query of the versions page (compare), as the migrate target, or given to the engine's
    version lookup names no version: 404 in Dutch, never the last-resort 400 or a 500."""
    from engine import migration, process_admin
    from engine.errors import NotFound

    for call in (lambda: process_admin.version_summary(people["pb"], number),
                 lambda: process_admin.activate(people["pb"], number),
                 lambda: process_admin.version_file(people["pb"], number, "meldcode.bpmn"),
                 lambda: process_admin.versions_page(people["pb"], number, 1),
                 lambda: process_admin.versions_page(people["pb"], 1, str(number)),
                 lambda: migration.move_preview(people["pb"], 1, number),
                 lambda: migration.move_cases(people["pb"], number, 1)):
        with pytest.raises(NotFound) as raised:
            call()
        assert not ENGLISH.search(raised.value.message)
    web.login("pb")
    for path in (f"/processen?van={number}&naar=1", f"/processen?van=1&naar={number}",
                 f"/processen/1/verplaatsen?naar={number}"):
        r = web.get(path)
        assert r.status_code == 404, (path, r.status_code, text(r)[:300])
        assert dutch_html(r) is None and "Procesversie" in text(r)
    r = web.post("/processen/1/verplaatsen", {"naar": str(number)})
    assert r.status_code == 404, (r.status_code, text(r)[:300])
    assert dutch_html(r) is None
    with store.unit_of_work() as session:
        assert [v.version for v in versions.list_versions(session)] == [1]
