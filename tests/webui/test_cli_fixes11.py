"""The command line against hostile input (issue 11, break-it findings): a name with a control
character given to `export --user` is refused in Dutch and stored nowhere (F11); `token list`
checks each api_tokens row against its seal and lists a row changed by hand as `beschadigd`,
never as active (CONTRACT section 5 keeps the four columns)."""

from __future__ import annotations

import getpass

import pytest
from sqlalchemy import func, select, update

from engine import cases, models, store, tokens
from tests.conftest import meldcode_cli

# --- export --user NAME with a character no name holds (F11) -----------------------------------


def _access_rows(url: str) -> list[tuple]:
    with store.unit_of_work(url=url) as session:
        rows = session.execute(
            select(
                models.AccessLogEntry.user, models.AccessLogEntry.on_behalf_of, models.AccessLogEntry.action
            ).order_by(models.AccessLogEntry.id)
        )
        return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    "name", ["mw\nmw2", "mw\r", "niemand\x1b[31m", "x\x7fy", "x\x85y", "a\u202eb", "mw\u200b", "x\udcff"]
)
def test_export_refuses_a_name_with_a_control_character_and_stores_it_nowhere(people, db_url, tmp_path, name):
    case = cases.start_case(people["mw"], {"client_ref": "C-F11", "reason": "zorgen"})
    before = _access_rows(db_url)
    with store.unit_of_work(url=db_url) as session:
        admin_before = session.scalar(select(func.count()).select_from(models.AdminLogEntry))
    out = tmp_path / "d.json"
    r = meldcode_cli(
        "export",
        str(case["id"]),
        "--format",
        "json",
        "-o",
        str(out),
        "--user",
        name,
        env={"MELDCODE_DATABASE_URL": db_url},
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("fout: De gebruikersnaam bevat ")
    assert "niet toegestaan" in r.stderr and "niets geëxporteerd" in r.stderr
    assert "Traceback" not in r.stderr
    # the refused text itself is not echoed (no terminal escape, no second line)
    assert "\x1b" not in r.stderr and r.stderr.count("\n") == 1
    assert not out.exists()
    # nothing written anywhere: no access-log line (with or without the name), no admin line
    assert _access_rows(db_url) == before
    with store.unit_of_work(url=db_url) as session:
        assert session.scalar(select(func.count()).select_from(models.AdminLogEntry)) == admin_before
        stored = session.scalars(select(models.AccessLogEntry.on_behalf_of)).all()
    assert not any(s and any(ord(c) < 32 for c in s) for s in stored)


def test_export_for_an_unknown_but_plain_name_is_still_logged(people, db_url, tmp_path):
    """The refusal above is only for names no user can have: any other unknown name is
    still a logged attempt (NEN 7513), as before."""
    case = cases.start_case(people["mw"], {"client_ref": "C-F11b", "reason": "zorgen"})
    r = meldcode_cli(
        "export",
        str(case["id"]),
        "--format",
        "json",
        "-o",
        str(tmp_path / "d.json"),
        "--user",
        "niemand",
        env={"MELDCODE_DATABASE_URL": db_url},
    )
    assert r.returncode == 2 and "geen actieve gebruiker" in r.stderr
    assert _access_rows(db_url)[-1] == (getpass.getuser(), "niemand", "export")
