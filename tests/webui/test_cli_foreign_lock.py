"""A SQLite database another program holds (its `BEGIN IMMEDIATE`: an sqlite3 shell, a backup
tool) ends every `meldcode` command that must write with one Dutch line and exit 2, as an
unreachable database does (fresh tester F1). engine.store begins SQLite's transactions on the
driver's own connection, so the lock came as sqlite3's own OperationalError, unwrapped by
SQLAlchemy: a traceback, exit 1, after SQLite's busy wait (30 s: engine/store.py).

Also: `meldcode export -o -` writes the dossier to standard output, as `meldcode document -o -`
does, where it made a file named "-" in the current folder.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess

import pytest

from engine import cases, store
from tests.helpers import MELDCODE, export_outcomes, operator_run

BUSY = "fout: de database is bezet door een ander proces; probeer het zo opnieuw\n"


@pytest.mark.parametrize(
    "args",
    [
        ("token", "create", "mw"),
        ("export", "{case}", "--format", "json", "-o", "{tmp}/dossier.json"),
        ("verify", "--all"),
    ],
)
def test_a_database_another_program_holds_is_one_dutch_line_exit_2(sqlite_url, sqlite_people, tmp_path, args):
    case_id = cases.start_case(sqlite_people["mw"], {"client_ref": "slot-1"})["id"]
    store.dispose_engines()
    args = [a.format(case=case_id, tmp=tmp_path) for a in args]
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the foreign program's write lock
    try:
        result = subprocess.run(
            [MELDCODE, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "MELDCODE_DATABASE_URL": sqlite_url},
            timeout=120,
        )
    finally:
        holder.rollback()
        holder.close()
    assert (result.returncode, result.stderr) == (2, BUSY), result.stderr[-2000:]


def test_export_to_dash_writes_the_dossier_to_standard_output(
    sqlite_url, sqlite_people, tmp_path, monkeypatch
):
    case_id = cases.start_case(sqlite_people["mw"], {"client_ref": "streep-1"})["id"]
    monkeypatch.chdir(tmp_path)
    result = operator_run("export", str(case_id), "--format", "json", "-o", "-", url=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "-").exists()
    assert json.loads(result.stdout)["case"]["id"] == case_id
    assert "geschreven naar de standaarduitvoer" in result.stderr
    assert export_outcomes(case_id) == ["ok"]
