"""What verify finds, in the reader's language (issue 12, point 4).

A case is tampered with as an intruder with the database would (tests/engine/test_tamper.py):
its header changed, an event edited, an access-log line removed, its recorded data changed.
An English auditor then reads the verify result on the step-through page and through the API
(Accept-Language: en): every problem in English, no Dutch text of the catalogue in it. A Dutch
auditor, the API without Accept-Language and `meldcode verify` keep the exact Dutch texts."""

from __future__ import annotations

import html
import json
import re

import pytest
from flask_babel import force_locale

from engine import log_verify, models, store, translog, verification
from engine.messages import Message
from tests.helpers import Client, cli, dutch_in, english, finished_case, run_sql, text
from webui.texts import translate


def _change_header(url, case_id):
    run_sql(url, "UPDATE cases SET client_ref = 'C-anders' WHERE id = :c", c=case_id)


def _edit_event(url, case_id):
    run_sql(url, "UPDATE history_events SET actor = 'lg' WHERE case_id = :c AND seq = 2",
            c=case_id)


def _remove_access_line(url, case_id):
    run_sql(url, "DELETE FROM access_log WHERE id = (SELECT max(id) FROM access_log "
                 "WHERE case_id = :c)", c=case_id)


def _change_data(url, case_id):
    with store.unit_of_work(url=url) as session:
        data = dict(session.get(models.Case, case_id).data)
    run_sql(url, "UPDATE cases SET data = :d WHERE id = :c",
            d=json.dumps({**data, "extra": 1}), c=case_id)


# (the tampering, a piece of the Dutch problem it gives, the same piece in English)
TAMPERING = {
    "header": (_change_header, "de kop van de casus (cliëntreferentie, reden",
               "the header of the case (client reference, reason"),
    "event": (_edit_event, "gebeurtenis 2 (task_completed, ",
              "event 2 (task_completed, "),
    "access": (_remove_access_line, "regels in het toegangslog maar er zijn er",
               "lines in the access log but there are"),
    "data": (_change_data, "de vastgelegde gegevens wijken af van de geschiedenis (alleen "
                           "opgeslagen: 'extra')",
             "the recorded data differ from the history (stored only: 'extra')"),
}


def verify_part(page: str) -> str:
    """The verify result of the step-through page (the rest of the page shows the case's
    recorded answers: the test scenarios fill in Dutch text there, as a client's content)."""
    found = re.search(r'<div class="verify verify-bad" id="controle">.*?</div>', page, flags=re.S)
    assert found, "no failed verify on the page"
    return found.group(0)


def problems_on(page: str) -> list[str]:
    """The problems the verify result of a page lists, as a person reads them."""
    return [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", verify_part(page),
                                                   flags=re.S)]


def stored_verdict(url, case_id) -> verification.Verdict:
    """verify_case as the step-through page runs it, without opening (and logging) the case."""
    with store.unit_of_work(url=url) as session:
        return verification.verify_case(session, session.get(models.Case, case_id))


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_an_english_auditor_reads_what_verify_found_in_english(ui_app, sqlite_people, sqlite_url,
                                                               kind):
    tamper, dutch, english_text = TAMPERING[kind]
    case_id = finished_case(sqlite_people)["id"]
    translog.sequence(sqlite_url)  # the rows have their place in the log, as on a running server
    tamper(sqlite_url, case_id)

    # the step-through page of an English auditor: each problem the engine found, in English
    aud = english(Client(ui_app), "aud")
    page = aud.get(f"/audit/casussen/{case_id}")
    assert page.status_code == 200
    shown = problems_on(text(page))
    verdict = stored_verdict(sqlite_url, case_id)
    assert verdict.problems and all(isinstance(p, Message) for p in verdict.problems)
    with ui_app.test_request_context(), force_locale("en"):
        assert shown == [translate(p) for p in verdict.problems]
    assert any(english_text in p for p in shown), shown
    assert not any(dutch in p for p in shown), shown
    assert not dutch_in(verify_part(text(page))), dutch_in(verify_part(text(page)))

    # the API with Accept-Language: en, the log's findings of the case included
    http = ui_app.test_client()
    asked = http.get(f"/api/v1/cases/{case_id}/verify",
                     headers={**sqlite_people.auth("aud"), "Accept-Language": "en"})
    assert asked.status_code == 200, asked.text
    body = asked.get_json()
    assert body["ok"] is False
    assert any(english_text in p for p in body["problems"]), body
    assert not dutch_in(" | ".join(body["problems"])), body["problems"]
    assert not any(dutch in p for p in body["problems"])

    # a Dutch reader: the page, the API without Accept-Language and the command line give
    # the engine's own Dutch texts, exactly (each read is logged, so a count may have grown)
    nl = Client(ui_app)
    nl.login("aud")
    dutch_page = text(nl.get(f"/audit/casussen/{case_id}"))
    verdict = stored_verdict(sqlite_url, case_id)
    assert problems_on(dutch_page) == list(verdict.problems)
    assert any(dutch in p for p in verdict.problems), verdict.problems
    plain = http.get(f"/api/v1/cases/{case_id}/verify", headers=sqlite_people.auth("aud"))
    with store.unit_of_work(url=sqlite_url) as session:
        expected = stored_verdict(sqlite_url, case_id).problems + log_verify.verify_case_log(
            session.connection(), case_id)
    assert plain.get_json()["problems"] == expected
    assert len(expected) == len(body["problems"])
    verdict = stored_verdict(sqlite_url, case_id)
    result = cli("verify", str(case_id))
    assert result.exit_code == 1, result.output
    for problem in verdict.problems:
        assert f"  - {problem}\n" in result.output, result.output


def test_every_problem_of_verify_is_a_message_with_english_parts(sqlite_people, sqlite_url):
    """A verdict of several problems: each one a Message whose every part is translated,
    also the parts of a difference (a list that differs, and a long list of keys)."""
    case_id = finished_case(sqlite_people)["id"]
    with store.unit_of_work(url=sqlite_url) as session:
        data = dict(session.get(models.Case, case_id).data)
    keys = {f"veld_{n:02}": n for n in range(12)}
    run_sql(sqlite_url, "UPDATE cases SET data = :d, completed_steps = '[]' WHERE id = :c",
            d=json.dumps({**data, **keys}), c=case_id)
    problems = stored_verdict(sqlite_url, case_id).problems
    assert "de afgeronde stappen wijken af van de geschiedenis (opgeslagen 0, na afspelen" \
        in problems[0], problems
    assert "eerste verschil op plaats 1 (opgeslagen: (niets), na afspelen: " in problems[0]
    assert problems[1] == ("de vastgelegde gegevens wijken af van de geschiedenis (alleen "
                           "opgeslagen: " + ", ".join(repr(k) for k in list(keys)[:10])
                           + " en 2 meer)")
    from webui import create_app

    app = create_app({"TESTING": True})
    with app.test_request_context(), force_locale("en"):
        english_problems = [translate(p) for p in problems]
    assert "the completed steps differ from the history (stored 0, after replay" \
        in english_problems[0], english_problems
    assert "first difference at place 1 (stored: (nothing), after replay: " in english_problems[0]
    assert english_problems[1].endswith(" and 2 more)"), english_problems
    assert not dutch_in(" | ".join(english_problems)), english_problems
