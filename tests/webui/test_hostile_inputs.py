"""Hostile input, tried as an attacker would (issue 11, point 6): every answer is one of the
contract's statuses (CONTRACT section 4: 400, 401, 403, 404, 409, 413, 422) with a Dutch body,
never a 500 with an English one.

The fuzz takes its endpoints from the OpenAPI document itself (GET /api/v1/openapi.json), so a
new endpoint is attacked as soon as it is documented, and adds the main web pages. Every test
runs on SQLite and on a real PostgreSQL server (the `db_url` fixture), where integers have
32 bits and text may not hold NUL.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from tests.webui.test_ui_app import Client, text

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

PAGES = ["/", "/casussen", "/casussen/nieuw", "/casussen/{case}", "/casussen/{case}/afdrukken",
         "/casussen/{case}/dossier.json", "/taken/{task}", "/audit/casussen",
         "/audit/casussen/{case}", "/audit/casussen/{case}/toegangslog",
         "/audit/casussen/{case}/inzage", "/processen", "/processen/{version}/diagram.bpmn",
         "/processen/{version}/bestanden/meldcode.bpmn", "/processen/{version}/verplaatsen",
         "/processen/{version}/actief", "/meldcode", "/beheer/instellingen", "/aanmelden"]
# Every page gets these; the pages that read a parameter get theirs too.
QUERIES = ["", "?x=%00", "?%00=x"]
PAGE_QUERIES = {
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


@pytest.mark.parametrize("who", ["mw", "aud"])
def test_every_page_survives_hostile_input(web, api, people, who):
    case = started_case(api, people)
    task_id = case["tasks"][0]["id"]
    web.login(who)
    problems: dict[tuple, str] = {}
    values = {"case": [str(case["id"]), *BIG_IDS, *(quote(i) for i in ODD_IDS)],
              "task": [task_id, *BIG_IDS, *(quote(i) for i in ODD_IDS)],
              "version": ["1", *BIG_IDS]}
    for template in PAGES:
        slot = re.search(r"\{(\w+)\}", template)
        for value in values[slot.group(1)] if slot else [None]:
            path = template.replace(slot.group(0), value) if slot else template
            real = value in (None, "1", str(case["id"]), task_id)
            for query in [*QUERIES, *PAGE_QUERIES.get(template, [])] if real else [""]:
                response = web.get(path + query)
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
