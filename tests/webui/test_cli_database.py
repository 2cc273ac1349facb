"""A database that is not ready gives the operator one Dutch line saying what to do, not the
driver's class name (issue 11: problems named in Dutch), exit 2, and changes nothing. The
commands run in the test process (tests/helpers.py operator_run)."""

import sqlite3

import pytest

from tests.conftest import free_port
from tests.helpers import operator_run


def _run(tmp_path, url, *args):
    """`meldcode ARGS` on the database at `url`, with an instance folder of the test's own."""
    return operator_run(*args, url=url, env={"MELDCODE_INSTANCE": str(tmp_path / "instance")})


def _refused(result, expected):
    assert result.returncode == 2, (result.stdout, result.stderr)
    line = result.stderr.strip()
    assert line.startswith("fout: ") and expected in line, line
    assert "Error" not in line and "Traceback" not in line and "\n" not in line


def test_a_database_without_tables_says_run_init_first(tmp_path):
    empty = tmp_path / "leeg.sqlite"
    sqlite3.connect(empty).close()
    _refused(_run(tmp_path, f"sqlite:///{empty}", "user", "deactivate", "iemand"),
             "voer eerst 'meldcode init' uit")


def test_a_database_that_cannot_be_opened_says_so(tmp_path):
    missing_folder = tmp_path / "bestaat-niet" / "db.sqlite"
    _refused(_run(tmp_path, f"sqlite:///{missing_folder}", "user", "deactivate", "iemand"),
             "niet te bereiken of te openen")
    assert not missing_folder.parent.exists()


@pytest.mark.parametrize("url", ["postgresql+psycopg://meldcode@127.0.0.1:{port}/meldcode"])
def test_a_postgresql_server_that_does_not_answer_says_so(tmp_path, url):
    closed = url.format(port=free_port())  # nothing listens there
    _refused(_run(tmp_path, closed, "user", "deactivate", "iemand"),
             "niet te bereiken of te openen")


def test_a_damaged_database_file_says_so(tmp_path):
    damaged = tmp_path / "kapot.sqlite"
    damaged.write_bytes(b"dit is geen database" * 200)
    before = damaged.read_bytes()
    _refused(_run(tmp_path, f"sqlite:///{damaged}", "user", "deactivate", "iemand"),
             "beschadigd")
    assert damaged.read_bytes() == before


def test_a_backups_size_is_written_as_dutch_writes_numbers(tmp_path):
    """'4.096 bytes', not Python's '4,096 bytes' (the CLI speaks Dutch)."""
    import re

    source = tmp_path / "bron.sqlite"
    with sqlite3.connect(source) as connection:
        connection.execute("create table t (x)")
    done = _run(tmp_path, f"sqlite:///{source}", "backup", "-o", str(tmp_path / "kopie.sqlite"))
    assert done.returncode == 0, done.stderr
    size = (tmp_path / "kopie.sqlite").stat().st_size
    assert size >= 1000
    expected = f"{size:,}".replace(",", ".")
    assert re.search(rf"\({re.escape(expected)} bytes\)", done.stdout), done.stdout
