"""Texts through the API, the web forms and the command line: control characters, bidi
embeddings, overrides, isolates and marks, invisible spaces and lone surrogates are a Dutch
422 (exit 2) and nothing is stored; the zero-width (non-)joiner that Persian and Arabic names
need is accepted. The rule lives in engine.forms.clean_text."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from engine import models, store
from tests.scenarios.paths import LONGEST, fill

REFUSED = {
    "newline": "Jansen\nJan",
    "carriage return": "Jansen\rJan",
    "tab": "Jansen\tJan",
    "NUL": "Jansen\x00",
    "escape": "Jansen\x1b[31m",
    "DEL": "Jansen\x7f",
    "C1 next line": "Jansen\x85Jan",
    "right-to-left override": "Jansen\u202eJan",
    "left-to-right embedding": "Jansen\u202aJan",
    "first strong isolate": "Jansen\u2068Jan",
    "pop directional isolate": "Jansen\u2069Jan",
    "zero-width space": "Jan\u200bsen",
    # The bidi marks are invisible direction controls as the embeddings are: they move the
    # digits and punctuation around them ("12\u200f-3" reads as another number).
    "left-to-right mark": "Jansen\u200e123",
    "right-to-left mark": "\u05d3\u05e0\u05d4 \u200f123",
    "arabic letter mark": "\u0645\u061c123",
    "soft hyphen": "Jan\u00adsen",
    "tag character": "Jansen\U000e0041",
    "byte order mark": "\ufeffJansen",
    "line separator": "Jansen\u2028Jan",
    "lone surrogate": "Jansen\ud800",
}
ACCEPTED = {
    "zero-width non-joiner": "Negar\u200cMohammadi",
    "zero-width joiner": "\u0645\u200d\u0645",
    "hebrew without marks": "\u05d3\u05e0\u05d4 123",
    "accents and emoji": "Zoë Brontë-Çelik 👪",
    "emoji joined by ZWJ": "\U0001f468\u200d\U0001f469\u200d\U0001f467",
}


def as_json(value) -> dict:
    """A JSON body as a client sends it: non-ASCII escaped, so "\\ud800" reaches the server."""
    return {"data": json.dumps(value), "content_type": "application/json"}


def case_count(url: str) -> int:
    with store.unit_of_work(url=url) as session:
        return session.scalar(select(func.count()).select_from(models.Case))


@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_client_ref_with_a_control_character_is_refused(client, people, db_url, text):
    before = case_count(db_url)
    response = client.post("/api/v1/cases", headers=people.auth("mw"), **as_json({"client_ref": text}))
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert "client_ref" in body["errors"], body
    message = body["errors"]["client_ref"]  # in Dutch
    assert "niet toegestaan" in message or "ongeldig teken" in message, message
    assert case_count(db_url) == before


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_client_ref_with_joiners_and_marks_is_accepted(client, people, text):
    response = client.post("/api/v1/cases", headers=people.auth("mw"), **as_json({"client_ref": text}))
    assert response.status_code == 201, response.get_json()
    case = client.get(f"/api/v1/cases/{response.get_json()['id']}", headers=people.auth("mw"))
    assert case.get_json()["client_ref"] == text


def test_lone_surrogate_as_raw_json_is_a_dutch_422(client, people, db_url):
    before = case_count(db_url)
    for raw in ('{"client_ref": "Jansen \\ud800"}', '{"client_ref": "x", "reason": "\\udfff"}',
                '{"client_ref\\ud800": "x"}'):
        response = client.post("/api/v1/cases", headers=people.auth("mw"), data=raw,
                               content_type="application/json")
        assert response.status_code == 422, (raw, response.get_data(as_text=True))
        assert response.get_json()["error"]
    assert case_count(db_url) == before


def test_reason_is_multi_line_but_refuses_other_controls(client, people, db_url):
    ok = client.post("/api/v1/cases", headers=people.auth("mw"),
                     **as_json({"client_ref": "R-1", "reason": "Eerste regel\r\n\tTweede regel"}))
    assert ok.status_code == 201, ok.get_json()
    case = client.get(f"/api/v1/cases/{ok.get_json()['id']}", headers=people.auth("mw")).get_json()
    assert case["reason"] == "Eerste regel\n\tTweede regel"
    before = case_count(db_url)
    for reason in ("Regel\x0bverticale tab", "a\u202eb", "a\x00b"):
        bad = client.post("/api/v1/cases", headers=people.auth("mw"),
                          **as_json({"client_ref": "R-2", "reason": reason}))
        assert bad.status_code == 422 and "reason" in bad.get_json()["errors"], bad.get_json()
    assert case_count(db_url) == before


def open_task(client, people):
    case = client.post("/api/v1/cases", headers=people.auth("mw"),
                       **as_json({"client_ref": "formulier"}))
    task_id = case.get_json()["tasks"][0]["id"]
    task = client.get(f"/api/v1/tasks/{task_id}", headers=people.auth("mw")).get_json()
    return case.get_json()["id"], task


def field_of_type(task, kind: str) -> str:
    names = [f["name"] for f in task["form"]["fields"] if f["type"] == kind]
    assert names, f"no {kind} field in {task['step']}"
    return names[0]


def assert_nothing_stored(client, people, case_id, task_id):
    case = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("mw")).get_json()
    assert [t["id"] for t in case["tasks"]] == [task_id]
    history = client.get(f"/api/v1/cases/{case_id}/history", headers=people.auth("mw")).get_json()
    assert [e["action"] for e in history] == ["case_started"]


@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_single_line_form_field_refuses_controls(client, people, text):
    case_id, task = open_task(client, people)
    name = field_of_type(task, "string")
    data = fill(task["form"]["fields"], LONGEST.decisions)
    data[name] = text
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=people.auth("mw"),
                           **as_json({"data": data}))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert name in response.get_json()["errors"], response.get_json()
    assert_nothing_stored(client, people, case_id, task["id"])


def test_multi_line_form_field_keeps_newlines_and_tabs_only(client, people):
    case_id, task = open_task(client, people)
    name = field_of_type(task, "text")
    data = fill(task["form"]["fields"], LONGEST.decisions)
    for bad in ("a\x00b", "a\x1bb", "a\u202eb", "a\u200bb", "a\x85b"):
        response = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=people.auth("mw"),
                               **as_json({"data": {**data, name: bad}}))
        assert response.status_code == 422 and name in response.get_json()["errors"], bad
        assert_nothing_stored(client, people, case_id, task["id"])
    good = "Eerste regel\n\tingesprongen\nNegar\u200cMohammadi"
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=people.auth("mw"),
                           **as_json({"data": {**data, name: good}}))
    assert response.status_code == 200, response.get_json()
    history = client.get(f"/api/v1/cases/{case_id}/history", headers=people.auth("mw")).get_json()
    assert history[1]["data"][name] == good


def test_lone_surrogate_in_a_form_field_is_a_dutch_422(client, people):
    case_id, task = open_task(client, people)
    name = field_of_type(task, "string")
    raw = json.dumps({"data": {name: "x"}}).replace('"x"', '"x\\ud800"')
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=people.auth("mw"),
                           data=raw, content_type="application/json")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert name in response.get_json()["errors"]
    assert_nothing_stored(client, people, case_id, task["id"])


def test_lone_surrogate_in_a_handover_reason_is_a_dutch_422(client, people):
    case = client.post("/api/v1/cases", headers=people.auth("mw"), **as_json({"client_ref": "over"}))
    raw = '{"user": "mw2", "reason": "afwezig \\ud800"}'
    response = client.post(f"/api/v1/cases/{case.get_json()['id']}/handover",
                           headers=people.auth("mw"), data=raw, content_type="application/json")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]


# --- handing over and sharing (engine.sharing) ---------------------------------------------------

# A reason is free text of several lines: newlines and tabs (and a CR, stored as a newline)
# are allowed there; every other refused character is refused in it too.
MULTI_LINE_OK = {"newline", "carriage return", "tab"}


def _history_and_shares(client, people, case_id):
    history = client.get(f"/api/v1/cases/{case_id}/history", headers=people.auth("mw")).get_json()
    case = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("mw")).get_json()
    return [e["action"] for e in history], case["owner"]


@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_handover_and_share_texts_refuse_controls(client, people, db_url, text):
    """The user and the reason of a handover or a share are stored in the history: the rule
    of forms.clean_text, a Dutch 422 at the field, nothing changed (as client_ref)."""
    case_id = client.post("/api/v1/cases", headers=people.auth("mw"),
                          **as_json({"client_ref": "delen"})).get_json()["id"]
    before = _history_and_shares(client, people, case_id)
    attempts = [("handover", {"user": text, "reason": "ziek"}, "user"),
                ("shares", {"user": "af" + text, "reason": "meedenken"}, "user")]
    if text not in (REFUSED[k] for k in MULTI_LINE_OK):
        attempts += [("handover", {"user": "mw2", "reason": "Langdurig " + text}, "reason"),
                     ("shares", {"user": "af", "reason": text + " meedenken"}, "reason")]
    for door, payload, field in attempts:
        response = client.post(f"/api/v1/cases/{case_id}/{door}", headers=people.auth("mw"),
                               **as_json(payload))
        assert response.status_code == 422, (door, payload, response.get_data(as_text=True))
        body = response.get_json()
        assert set(body["errors"]) == {field}, (door, body)
        message = body["errors"][field]  # NUL and lone surrogates: the API's own check first
        assert "niet toegestaan" in message or "ongeldig teken" in message, body
    assert _history_and_shares(client, people, case_id) == before
    af = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("af"))
    assert af.status_code == 403  # not shared


def test_a_handover_reason_keeps_its_lines(client, people):
    case_id = client.post("/api/v1/cases", headers=people.auth("mw"),
                          **as_json({"client_ref": "regels"})).get_json()["id"]
    response = client.post(f"/api/v1/cases/{case_id}/shares", headers=people.auth("mw"),
                           **as_json({"user": " af ", "reason": "Eerste regel\r\n\tTweede"}))
    assert response.status_code == 200, response.get_json()
    history = client.get(f"/api/v1/cases/{case_id}/history", headers=people.auth("mw")).get_json()
    assert history[-1]["data"] == {"with": "af", "reason": "Eerste regel\n\tTweede"}


# --- the web forms and the command line (the same rule: engine.forms.clean_text) ---------------

BIDI_MARKS = {"left-to-right mark": "\u200e", "right-to-left mark": "\u200f",
              "arabic letter mark": "\u061c"}


@pytest.mark.parametrize("mark", BIDI_MARKS.values(), ids=BIDI_MARKS.keys())
def test_web_forms_refuse_bidi_marks(app, people, db_url, mark):
    """A bidi mark in the client reference of the 'Nieuwe casus' form, or in a single-line
    field of a task form: 422, the Dutch message at the field naming the character, nothing
    stored."""
    from tests.helpers import Client, text

    web = Client(app)
    web.login("mw")
    before = case_count(db_url)
    web.get("/casussen/nieuw")
    response = web.post("/casussen/nieuw", {"client_ref": "Jansen" + mark + "12",
                                            "reason": "zorgen"})
    body = text(response)
    assert response.status_code == 422, body[:300]
    assert 'id="client_ref-fout"' in body, body[:2000]
    assert f"U+{ord(mark):04X}" in body and "niet toegestaan" in body
    assert case_count(db_url) == before

    case_id, task = open_task(web.http, people)
    name = field_of_type(task, "string")
    page = web.get(f"/taken/{task['id']}")
    assert page.status_code == 200
    response = web.post(f"/taken/{task['id']}", {name: "Kees" + mark + "12"})
    body = text(response)
    assert response.status_code == 422, body[:300]
    assert f'id="fout-{name}"' in body and f"U+{ord(mark):04X}" in body, body[:2000]
    assert_nothing_stored(web.http, people, case_id, task["id"])


@pytest.mark.parametrize("mark", BIDI_MARKS.values(), ids=BIDI_MARKS.keys())
def test_command_line_refuses_bidi_marks(people, mark):
    """meldcode user add with a bidi mark in the full name: exit 2, the Dutch message naming
    the character, no user added."""
    from click.testing import CliRunner

    from engine import users
    from webui.cli import main

    result = CliRunner().invoke(
        main, ["user", "add", "kees", "--role", "medewerker", "--password-stdin",
               "--display-name", "Kees" + mark + "12"],
        input="paarse-olifant-fietst-snel\n")
    assert result.exit_code == 2, result.output
    assert f"U+{ord(mark):04X}" in result.output and "niet toegestaan" in result.output
    with store.unit_of_work() as session:
        assert "kees" not in [u["name"] for u in users.list_users(session)]
