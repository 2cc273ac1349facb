"""A `meldcode` command imports what it uses (issue 13 point 6): the web application (Flask),
Alembic, the PostgreSQL driver and the holiday calendars cost a command that needs none of
them about half a second of CPU, at start and again at exit, and the tests run the command
hundreds of times."""

import os
import subprocess
import sys

from tests.conftest import ROOT

# Each imported only by the commands (or the database) that need it.
HEAVY = ("flask", "alembic", "psycopg", "holidays", "weasyprint")

RUN = """
import sys
from webui.cli import main
code = 0
try:
    main(sys.argv[1:], prog_name="meldcode")
except SystemExit as exc:
    code = exc.code
print("IMPORTED", *sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def imported(*args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run `meldcode ARGS` in a fresh interpreter as the installed script runs it; out: the
    finished process and which of HEAVY it had imported by the end."""
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(heavy=HEAVY), *args],
        env=dict(os.environ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = [part for part in done.stderr.splitlines() if part.startswith("IMPORTED")][-1]
    return done, line.split()[1:]


def test_help_imports_none_of_them():
    done, heavy = imported("--help")
    assert done.returncode == 0, done.stderr
    assert "cases" in done.stdout and "serve" in done.stdout
    assert heavy == []


def test_cases_on_sqlite_imports_none_of_them(sqlite_url):
    done, heavy = imported("cases")
    assert done.returncode == 0, done.stderr
    assert "Geen open casussen." in done.stderr
    assert heavy == []


def test_verify_on_sqlite_imports_none_of_them(sqlite_url):
    """verify logs in JSON (webui.observability, without the web app) and reads the traces
    of a restore (engine.restore, without Alembic)."""
    done, heavy = imported("verify", "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gecontroleerd, 0 niet in orde" in done.stdout
    assert heavy == []
