"""A checkbox (multi) question that was not asked is not given (issue 14 F1 rule, a fresh
tester): a KNMG doctor who could not reach the client is not asked who took part in the talk
(`gesprek_met_wie`, required_when `client_niet_bereikt != True`), yet the completion stored []
for it, so the dossier showed 'Wie waren uw gesprekspartners? —' as if it was asked and left
empty. Now nothing is stored for it (engine.forms.validate) and nothing is put into the
workflow either (engine.form_choices.defaults_of), so the replay agrees. Through the JSON API
and the dossier, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from engine import definitions, dossier
from engine.definitions import SourceFile
from tests.diagram_edits import SHIPPED_DMN, as_bytes, set_condition, shipped_tree
from tests.helpers import events_of, reading, to_stap3, verify
from webui import documents

QUESTION = "Wie waren uw gesprekspartners?"


@pytest.fixture
def api(doctor_api):
    return doctor_api


def test_a_multi_question_not_asked_is_neither_stored_nor_in_the_dossier(api, people):
    task, data = to_stap3(api)
    case = api("POST", f"/tasks/{task['id']}/complete", json={"data": data})
    assert [t["step"] for t in case["tasks"]] == ["stap4_wegen"]
    recorded = next(e.data for e in events_of(case["id"]) if e.step == "stap3_gesprek")
    assert "gesprek_met_wie" not in recorded, recorded
    # a multi question that WAS asked keeps its []: the forms of violence of stap 1 are
    # read by a gateway and a required_when (CONTRACT section 5)
    assert next(e.data for e in events_of(case["id"]) if e.step == "stap1_signalen")["geweldsvormen"]
    shown = api("GET", f"/cases/{case['id']}")
    assert "gesprek_met_wie" not in str(shown), shown
    with reading():
        html = documents.dossier_html(dossier.export(people["aud"], case["id"]))
    assert QUESTION not in html
    assert "Was de cliënt (of de wettelijk vertegenwoordiger) niet te bereiken?" in html  # asked: shown
    verdict = verify(case["id"])[case["id"]]
    assert verdict.ok, verdict.problems


def test_a_gateway_that_reads_a_multi_question_not_always_asked_is_refused():
    """Not asked, gesprek_met_wie has no value: a gateway reading it would stop the case with
    an unknown variable where the client was not reached. The check refuses it (the proof
    did not: the gateway reads it before the answer that decides)."""
    root = shipped_tree()
    set_condition(root, "sf_zorgen_ja", "('client' in gesprek_met_wie or True) and zorgen_weggenomen == True")
    files = [
        SourceFile("meldcode.bpmn", as_bytes(root)),
        SourceFile(SHIPPED_DMN.name, SHIPPED_DMN.read_bytes()),
    ]
    definition, problems = definitions.check(files, prove=False)
    found = [str(p) for p in problems if "'gesprek_met_wie', een meerkeuzevraag met required_when" in str(p)]
    assert definition is None and found, [str(p) for p in problems]
