"""A timer whose duration is absurdly long (issue 13 break-it): SpiffWorkflow counts a
duration's months one by one, so 'P99999999Y' held `meldcode check` for hours. It is refused
at once, as a literal at deploy and as a value the engine works out when a case reaches it
(engine/timers.py MAX_MONTHS); a wait ending after the last date a date field takes is refused
at deploy like a timeDate after it."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime

import pytest
from lxml import etree

from engine import timers
from tests.conftest import ROOT
from tests.helpers import MELDCODE

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
B = "{" + NS["bpmn"] + "}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _with_wait(kind: str, text: str) -> bytes:
    """The shipped diagram with an intermediate timer between stap 1 and stap 2."""
    root = etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())
    [process] = root.xpath("//bpmn:process[@id='meldcode']", namespaces=NS)
    [flow] = root.xpath("//bpmn:sequenceFlow[@id='sf_stap1_stap2']", namespaces=NS)
    flow.set("targetRef", "wacht")
    last = process.xpath("bpmn:sequenceFlow", namespaces=NS)[-1]
    event = etree.Element(B + "intermediateCatchEvent", id="wacht", name="Wacht")
    definition = etree.SubElement(event, B + "timerEventDefinition", id="wacht_def")
    etree.SubElement(definition, B + kind).text = text
    definition[0].set(XSI, "bpmn:tFormalExpression")
    last.addnext(etree.Element(B + "sequenceFlow", id="sf_wacht", sourceRef="wacht",
                               targetRef="stap2_overleg"))
    last.addnext(event)
    [lane] = root.xpath("//bpmn:lane[@id='lane_medewerker']", namespaces=NS)
    etree.SubElement(lane, B + "flowNodeRef").text = "wacht"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("text", ["P99999999Y", "P9999999999D", "P200Y"])
def test_meldcode_check_refuses_a_wait_too_long_at_once(tmp_path, text):
    bpmn = tmp_path / "meldcode.bpmn"
    bpmn.write_bytes(_with_wait("timeDuration", text))
    dmn = ROOT / "processes" / "afwegingskader.dmn"
    done = subprocess.run([MELDCODE, "check", str(bpmn), str(dmn)], capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                        "MELDCODE_INSTANCE": str(tmp_path)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"'{text}' duurt te lang: de timer zou na 31-12-2100 afgaan" in done.stdout


def test_a_ten_year_wait_still_deploys():
    assert timers.text_problem("timeDuration", "P10Y") is None


@pytest.mark.parametrize("value", ["R2/P99999999Y", "R/P99999999Y", "R2/PT99999999999999999H"])
def test_a_cycle_too_long_given_at_run_time_is_refused_not_worked_out(value):
    """What the engine does with a cycle an expression gave when a case reaches it: refused
    within seconds (before the fix the months were counted for hours)."""
    found: list[BaseException] = []

    def work():
        try:
            timers.cycle_of(value, datetime(2026, 11, 30, 9, tzinfo=UTC))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            found.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), f"{value} still being worked out after 30 s"
    assert found and isinstance(found[0], timers.TimerExpressionError), found
