"""`meldcode check FILE` names the file as it prints a finding's text (issue 14, a fresh
tester): a newline in the file's name made up a line of its own in a finding, and in the
"In orde: ..." line. The path is now escaped as problems.shown_text escapes diagram text."""

from __future__ import annotations

import shutil

from tests.diagram_edits import SHIPPED_DMN, as_bytes, shipped_tree
from tests.helpers import operator_run

NAME = "meldcode\nIn orde: nep.bpmn"


def test_a_newline_in_the_file_name_makes_up_no_line_when_the_check_passes(tmp_path):
    bpmn = tmp_path / NAME
    bpmn.write_bytes(as_bytes(shipped_tree()))
    dmn = tmp_path / SHIPPED_DMN.name
    shutil.copy(SHIPPED_DMN, dmn)
    result = operator_run("check", str(bpmn), str(dmn), url=f"sqlite:///{tmp_path / 'cli.sqlite'}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"In orde: {tmp_path}/meldcode\\nIn orde: nep.bpmn, {dmn}"]


def test_a_newline_in_the_file_name_makes_up_no_finding_line(tmp_path):
    bpmn = tmp_path / NAME
    bpmn.write_bytes(b"<definitions")  # no XML: one finding about this file
    dmn = tmp_path / SHIPPED_DMN.name
    shutil.copy(SHIPPED_DMN, dmn)
    result = operator_run("check", str(bpmn), str(dmn), url=f"sqlite:///{tmp_path / 'cli.sqlite'}")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines, result.stderr
    # every finding line starts with the file named in one piece (a witness route: indented)
    shown = f"{tmp_path}/meldcode\\nIn orde: nep.bpmn:"
    assert all(line.startswith((shown, " ")) for line in lines), lines
    assert not any(line.startswith("In orde") for line in lines), lines
