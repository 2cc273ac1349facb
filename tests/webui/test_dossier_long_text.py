"""The dossier PDF of issue 14 (a fresh tester, webui/documents.py, documents/dossier.html):

- a multi-choice answer showed as the Python list "['vgv']" (and "[]" for no box ticked)
  instead of the options' labels the case page shows: the dossier now renders a recorded
  value through the case page's own functions (engine.entries.option_label, webui.web.answer);
- long unbroken text (a client_ref of 200 characters, a reason that is one URL of 2000, an
  answer of 4000 without a space) ran off the right edge of the page and was cut: it wraps
  now (overflow-wrap: anywhere, table-layout: fixed). Read back with pdftotext: every
  character is there, and no word lies beyond the page's width."""

from __future__ import annotations

import re
import shutil
import subprocess

from engine import cases, dossier, entries, tasks
from tests.conftest import need
from tests.helpers import LANE_PEOPLE, reading
from tests.scenarios.paths import SCENARIOS, fill
from webui import documents
from webui.web import answer

VGV = next(s for s in SCENARIOS if s.name == "vgv_hulp_zonder_melding_met_reden")
LONG_REF = "R" * 200
LONG_URL = "https://voorbeeld.nl/" + "pad/" * 494 + "ein"  # 2000 characters, no space
LONG_ANSWER = "".join(chr(ord("a") + n % 26) for n in range(4000))


def first_step(people, ref: str, reason: str, answers: dict):
    case = cases.start_case(people["mw"], {"client_ref": ref, "reason": reason})
    who = people[LANE_PEOPLE[case["tasks"][0]["lane"]]]
    task = tasks.get_task(who, case["tasks"][0]["id"])
    tasks.complete_task(who, task["id"], fill(task["form"]["fields"], {**VGV.decisions, **answers}))
    return case


def test_a_multi_choice_answer_reads_as_on_the_case_page(sqlite_people):
    case = first_step(sqlite_people, "C-VGV-DOSSIER", "zorgen", {"geweldsvormen": ["vgv", "lichamelijk"]})
    data = dossier.export(sqlite_people["aud"], case["id"])
    with reading():
        html = documents.dossier_html(data)
        recorded = next(f for s in data["steps"] for f in s["fields"] if f["name"] == "geweldsvormen")
        shown = documents.display(recorded)
        # the case page's rendering of the same answer (engine.entries.labelled, web.answer)
        step = data["steps"][0]
        fields = next(iter(case_fields(sqlite_people, case["id"], step["seq"])))
        assert shown == answer(fields)
        assert documents.display({"value": [], "type": "multi", "option_label": None}) == "—"
    assert shown == "Lichamelijk geweld, Vrouwelijke genitale verminking", shown
    assert "Vrouwelijke genitale verminking" in html
    assert "[&#39;vgv&#39;" not in html and "['vgv'" not in html and "[]" not in html


def case_fields(people, case_id: int, seq: int) -> list[dict]:
    """The geweldsvormen entry of the event as the case page labels it."""
    from engine import definitions

    definition = definitions.load(definitions.shipped_files())
    data = dossier.export(people["aud"], case_id)
    step = next(s for s in data["steps"] if s["seq"] == seq)
    values = {f["name"]: f["value"] for f in step["fields"]}
    labelled = entries.labelled(definition.steps[step["step"]].fields, values)
    return [e for e in labelled if e["name"] == "geweldsvormen"]


def test_long_unbroken_text_wraps_within_the_page(sqlite_people, tmp_path):
    need(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) is not installed")
    assert len(LONG_URL) == 2000
    case = first_step(sqlite_people, LONG_REF, LONG_URL, {"signalen": LONG_ANSWER})
    data = dossier.export(sqlite_people["aud"], case["id"])
    with reading():
        path = tmp_path / "dossier.pdf"
        path.write_bytes(documents.dossier_pdf(data))
    # the body of each A4 page (points; margins 22 mm top, 20 mm bottom): a value that goes on
    # over a page break is read without the running head and foot between its parts
    body = ["pdftotext", "-x", "0", "-y", "63", "-W", "596", "-H", "721", str(path), "-"]
    text = subprocess.run(body, capture_output=True, text=True, check=True).stdout
    joined = "".join(text.split())
    for value in (LONG_REF, LONG_URL, LONG_ANSWER):
        assert value in joined, value[:40]
    # every word pdftotext finds lies within its page's width
    boxes = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    outside = []
    for page in re.finditer(r'<page width="([\d.]+)" height="[\d.]+">(.*?)</page>', boxes, re.S):
        width = float(page.group(1))
        for word in re.finditer(
            r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"[^>]*>([^<]*)</word>', page.group(2)
        ):
            if float(word.group(2)) > width - 10 * 72 / 25.4:  # inside the 18 mm margin, nearly
                outside.append((word.group(3)[:30], word.group(2), width))
    assert not outside, outside[:5]
