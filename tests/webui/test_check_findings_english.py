"""The findings of the diagram checks in the reader's language (issue 12, point 4).

A procesbeheerder who checks or publishes a broken diagram in the modeler, or deploys it through
the API, reads each finding in his language: English when the session (or Accept-Language)
says so, Dutch otherwise. The diagram's own texts (labels, ids) stay as they were written; the
command line stays Dutch. Three kinds of finding: a structural BPMN finding, a DMN lint finding
and a finding of the proof of every route (a route that strands a case on an error)."""

from __future__ import annotations

import io
import re

import pytest
from babel.messages.pofile import read_po

from engine import definitions
from engine.messages import Message
from tests.conftest import ROOT
from tests.helpers import Client

MELDCODE = (ROOT / "processes" / "meldcode.bpmn").read_text()
DMN = (ROOT / "processes" / "afwegingskader.dmn").read_text()


def script_task(xml: str) -> str:
    xml = xml.replace('<bpmn:userTask id="stap1_signalen"', '<bpmn:scriptTask id="stap1_signalen"')
    return re.sub(r'(<bpmn:scriptTask id="stap1_signalen".*?)</bpmn:userTask>',
                  r"\1</bpmn:scriptTask>", xml, count=1, flags=re.S)


# (name, BPMN, DMN, Dutch text of the finding, its English text)
BROKEN = [
    ("bpmn", script_task(MELDCODE), DMN,
     "is een scripttaak: scripts in een diagram worden niet uitgevoerd",
     "is a script task: scripts in a diagram are not run"),
    ("dmn", MELDCODE, DMN.replace('hitPolicy="UNIQUE"', 'hitPolicy="PRIORITY"', 1),
     "hit policy PRIORITY wordt niet uitgevoerd zoals bedoeld: de engine kiest de eerste "
     "passende regel",
     "hit policy PRIORITY is not executed as intended: the engine picks the first matching rule"),
    ("proof", re.sub(r"(<bpmn:sequenceFlow id=\"sf_zorgen_ja\".*?<bpmn:conditionExpression[^>]*>)"
                     r"[^<]*", r"\1zorgen_weggenomen + 1 == 2", MELDCODE, count=1, flags=re.S), DMN,
     "de route loopt vast op een fout bij", "the route gets stuck on an error at"),
    # what the libraries say that read the files: libxml2 (syntax, schema), SpiffWorkflow
    ("xml", MELDCODE.replace("</bpmn:userTask>", "</bpmn:userTaak>", 1), DMN,
     "geen geldige XML: de eindtag </userTaak> past niet bij de begintag <userTask> van regel",
     "not valid XML: the end tag </userTaak> does not match the start tag <userTask> on line"),
    ("schema", MELDCODE.replace('<bpmn:process id="meldcode"',
                                '<bpmn:process kleur="rood" id="meldcode"', 1), DMN,
     "schemafout: attribuut 'kleur' van element 'process' is hier niet toegestaan",
     "schema error: attribute 'kleur' of element 'process' is not allowed here"),
    ("spiffworkflow", MELDCODE.replace("  <bpmn:collaboration",
                                       '  <bpmn:message name="bericht"/>\n  <bpmn:collaboration', 1),
     DMN, "een element 'message' heeft geen id", "an element 'message' has no id"),
]
# Dutch words of our own texts; the diagram's own texts are quoted, and taken out first.
DUTCH = re.compile(r"\b(de|het|een|niet|geen|wordt|bij|rij|kan|zonder|loopt|vast|is een)\b")
# Words of the English sentences of libxml2 and SpiffWorkflow, which a finding never repeats.
LIBRARY = re.compile(r"\b(Opening and ending|mismatch|Expected|is not|not allowed|required|"
                     r"missing|identifier|Cannot resolve|not a valid value)\b")


def own_words(message: str) -> str:
    """A finding without the diagram's texts (quoted labels, ids, values) it names."""
    return re.sub(r"'[^']*'|\"[^\"]*\"", "", message)


def signed_in(app, language: str) -> Client:
    client = Client(app)
    client.login("pb")
    client.post("/taal", {"taal": language, "next": "/"})
    return client


def post_json(client: Client, path: str, body: dict):
    client.get("/processen/modeler")
    return client.http.post(path, json=body, headers={"Referer": "http://localhost/",
                                                       "X-CSRFToken": client.token})


@pytest.mark.parametrize("name,bpmn,dmn,dutch,english", BROKEN, ids=[b[0] for b in BROKEN])
def test_the_modeler_gives_the_findings_in_the_readers_language(ui_app, name, bpmn, dmn, dutch,
                                                                 english):
    # the check itself: one finding of this kind, as `meldcode check` gives it (Dutch)
    _, problems = definitions.check([definitions.SourceFile("meldcode.bpmn", bpmn.encode()),
                                     definitions.SourceFile("afwegingskader.dmn", dmn.encode())])
    assert any(dutch in p.message for p in problems), [str(p) for p in problems]
    assert any(dutch in str(p) for p in problems)
    en, nl = signed_in(ui_app, "en"), signed_in(ui_app, "nl")
    for path in ("/processen/modeler/controleren", "/processen/modeler/publiceren"):
        answer = post_json(en, path, {"bpmn": bpmn, "dmn": dmn})
        assert answer.status_code == (200 if path.endswith("controleren") else 422), answer.text
        body = answer.get_json()
        found = body["problems"] if "problems" in body else body["errors"]
        messages = [p["message"] for p in found]
        assert len(messages) == len(problems)
        assert any(english in m for m in messages), messages
        assert not any(dutch in m for m in messages), messages
        assert not [m for m in messages if DUTCH.search(own_words(m))], messages
        dutch_answer = post_json(nl, path, {"bpmn": bpmn, "dmn": dmn}).get_json()
        found = dutch_answer["problems"] if "problems" in dutch_answer else dutch_answer["errors"]
        assert [p["message"] for p in found] == [p.message for p in problems]
        assert not [p["message"] for p in found if LIBRARY.search(own_words(p["message"]))]


@pytest.mark.parametrize("name,bpmn,dmn,dutch,english", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_refused_deploy_through_the_api_speaks_english_when_asked(ui_app, sqlite_people, name,
                                                                     bpmn, dmn, dutch, english):
    http = ui_app.test_client()

    def deploy(**language):
        return http.post("/api/v1/processes", headers={**sqlite_people.auth("pb"), **language},
                         content_type="multipart/form-data", data={"files": [
                             (io.BytesIO(bpmn.encode()), "meldcode.bpmn"),
                             (io.BytesIO(dmn.encode()), "afwegingskader.dmn")]})

    asked = deploy(**{"Accept-Language": "en"})
    assert asked.status_code == 422, asked.text
    assert asked.get_json()["error"] == "The process cannot be published."
    messages = [e["message"] for e in asked.get_json()["errors"]]
    assert any(english in m for m in messages), messages
    assert not [m for m in messages if DUTCH.search(own_words(m))], messages
    plain = deploy()
    assert plain.status_code == 422
    assert plain.get_json()["error"] == "Het proces kan niet worden gepubliceerd."
    assert any(dutch in e["message"] for e in plain.get_json()["errors"])
    assert not [e for e in plain.get_json()["errors"] if LIBRARY.search(own_words(e["message"]))]
    if name == "proof":  # the witness route stays as the check gives it
        assert [e.get("path") for e in asked.get_json()["errors"]] == \
            [e.get("path") for e in plain.get_json()["errors"]]


def templates(value) -> list[str]:
    """Every template of a Message and of the Messages among its values."""
    if not isinstance(value, Message):
        return []
    return [value.template, *(t for v in value.params.values() for t in templates(v))]


MORE = [  # further findings of other checks: flows, lanes, forms, tables, the loader
    (MELDCODE.replace('name="Leidinggevende"', 'name="Auditor"', 1), DMN),
    (MELDCODE.replace('<bpmn:incoming>sf_zorgen_ja</bpmn:incoming>', '', 1)
     .replace('targetRef="einde_zorgen_weggenomen"', 'targetRef="stap4_wegen"', 1), DMN),
    (MELDCODE.replace('type="boolean"', 'type="string"', 1), DMN),
    (MELDCODE, re.sub(r"<rule id=\"[^\"]*\">.*?</rule>", "", DMN, count=1, flags=re.S)),
    (MELDCODE, DMN.replace("<text>false</text>", "<text>\"nee\" ?</text>", 1)),
    (MELDCODE, DMN.replace("<text>false</text>", "<text>__import__('os')</text>", 1)),
    (MELDCODE.replace('id="stap5_beslissen"', 'id="stap5"', 1), DMN),
    ("<bpmn:definitions", DMN),
]


def test_every_finding_is_a_message_of_the_catalogue():
    """No finding of ours is plain text: each is a Message whose templates the English
    catalogue translates (a template of placeholders and punctuation only joins parts)."""
    with open(ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        english = {m.id: m.string for m in read_po(fh) if m.id}
    seen = 0
    for bpmn, dmn in [(b, d) for _n, b, d, _nl, _en in BROKEN] + MORE:
        _, problems = definitions.check([definitions.SourceFile("meldcode.bpmn", bpmn.encode()),
                                         definitions.SourceFile("afwegingskader.dmn", dmn.encode())])
        assert problems
        for problem in problems:
            assert isinstance(problem.message, Message), str(problem)
            for template in templates(problem.message):
                if re.fullmatch(r"[\s\W]*(\{\w+\}[\s\W]*)*", template.replace("=", " ")):
                    continue
                assert english.get(template), (template, str(problem))
            seen += 1
    assert seen >= 10
