"""`meldcode export` says 'export ok' in the access log (NEN 7513) only for a dossier it wrote
(task V point 2). The line was written before the dossier was made: an export whose file could
not be written, or that was interrupted with Ctrl-C while the PDF was being made, left
'export|ok' behind with no file. The log's outcomes are ok and denied (CONTRACT section 4):
an export that was not made leaves no line, a refusal its denied line as before.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import pytest

from engine import cases, dossier, store
from tests.helpers import MELDCODE, export_outcomes, operator_run

INTERRUPTED = 130  # 128 + SIGINT


def test_an_export_whose_file_cannot_be_written_is_not_logged_as_made(db_url, people, tmp_path):
    """A folder no file can be made in, root or not (/proc/self): exit 2 naming the file,
    and no 'export ok' (the old code logged it before it tried to write)."""
    case_id = cases.start_case(people["mw"], {"client_ref": "niet-te-schrijven"})["id"]
    target = "/proc/self/dossier.json"
    result = operator_run("export", str(case_id), "--format", "json", "-o", target, url=db_url)
    assert result.returncode == 2, result.stderr
    assert target in result.stderr, result.stderr
    assert export_outcomes(case_id) == []
    # the same export to a folder that takes it: written, and logged once
    target = str(tmp_path / "dossier.json")
    result = operator_run("export", str(case_id), "--format", "json", "-o", target, url=db_url)
    assert result.returncode == 0, result.stderr
    assert os.path.getsize(target) > 0
    assert export_outcomes(case_id) == ["ok"]


def test_a_delivery_that_fails_or_is_interrupted_leaves_no_export_line(db_url, people):
    """engine.dossier.export logs the export only once its caller's delivery returned: a
    KeyboardInterrupt (Ctrl-C) or an OSError there leaves no line; a delivery that returns,
    exactly one, after the delivery."""
    case_id = cases.start_case(people["mw"], {"client_ref": "afgebroken"})["id"]

    def interrupted(_data):
        raise KeyboardInterrupt

    def disk_full(_data):
        raise OSError(28, "No space left on device")

    for deliver, raised in ((interrupted, KeyboardInterrupt), (disk_full, OSError)):
        with pytest.raises(raised):
            dossier.export("beheerder", case_id, deliver=deliver)
        assert export_outcomes(case_id) == []
    seen: list[list[str]] = []
    dossier.export("beheerder", case_id, deliver=lambda _data: seen.append(export_outcomes(case_id)))
    assert seen == [[]]  # not yet logged while it was delivered
    assert export_outcomes(case_id) == ["ok"]


def _ctrl_c_as_from_a_shell() -> None:
    # the child starts with SIGINT handled as a shell's child has it, whatever this process does
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_after_the_export_line_appears_leaves_the_file_it_names(db_url, people, tmp_path):
    """A real process, a real Ctrl-C to its process group the moment 'export ok' is in the
    access log: the old code logged before it made the PDF (about a second), so the signal
    ended it with the line and no file. Now the line comes after the file, and a Ctrl-C
    from the file's rename on waits for the line: a line always has its whole file."""
    case_id = cases.start_case(people["mw"], {"client_ref": "ctrl-c"})["id"]
    target = tmp_path / "dossier.pdf"
    store.dispose_engines()
    proc = subprocess.Popen(
        [MELDCODE, "export", str(case_id), "--format", "pdf", "-o", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "MELDCODE_DATABASE_URL": db_url},
        start_new_session=True,
        preexec_fn=_ctrl_c_as_from_a_shell,
    )
    deadline = time.monotonic() + 120
    while not export_outcomes(case_id) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    with contextlib.suppress(ProcessLookupError):  # it may have ended already
        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert export_outcomes(case_id) == ["ok"], (proc.returncode, err)
    # the signal may come after the command's work: while it exits (-SIGINT: Python has
    # given the signal its default again), which leaves file and line as they are
    assert proc.returncode in (0, INTERRUPTED, -signal.SIGINT), err
    assert target.read_bytes().startswith(b"%PDF"), (proc.returncode, err)
    assert target.read_bytes().rstrip().endswith(b"%%EOF")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
