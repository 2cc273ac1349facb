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
from tests.helpers import operator_run

# --- export --user NAME with a character no name holds (F11) -----------------------------------


def _access_rows(url: str) -> list[tuple]:
    with store.unit_of_work(url=url) as session:
        rows = session.execute(
            select(
                models.AccessLogEntry.user, models.AccessLogEntry.on_behalf_of, models.AccessLogEntry.action
            ).order_by(models.AccessLogEntry.id)
        )
        return [tuple(r) for r in rows]


NAMES = ["mw\nmw2", "mw\r", "niemand\x1b[31m", "x\x7fy", "x\x85y", "a\u202eb", "mw\u200b", "x\udcff"]
# PostgreSQL: a line break, an escape sequence and a lone surrogate (which its text refuses)
ON_POSTGRESQL = ["mw\nmw2", "niemand\x1b[31m", "x\udcff"]


@pytest.mark.parametrize(("db_url", "name"), [*(("sqlite", name) for name in NAMES),
                                              *(("postgresql", name) for name in ON_POSTGRESQL)],
                         indirect=["db_url"])
def test_export_refuses_a_name_with_a_control_character_and_stores_it_nowhere(people, db_url, tmp_path, name):
    """Every name on SQLite, three on PostgreSQL: the command refuses the name before it
    opens the case or writes a line, the same code whatever the database; the database only
    shows that nothing was written."""
    case = cases.start_case(people["mw"], {"client_ref": "C-F11", "reason": "zorgen"})
    before = _access_rows(db_url)
    with store.unit_of_work(url=db_url) as session:
        admin_before = session.scalar(select(func.count()).select_from(models.AdminLogEntry))
    out = tmp_path / "d.json"
    r = operator_run(
        "export",
        str(case["id"]),
        "--format",
        "json",
        "-o",
        str(out),
        "--user",
        name,
        url=db_url,
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
    r = operator_run(
        "export",
        str(case["id"]),
        "--format",
        "json",
        "-o",
        str(tmp_path / "d.json"),
        "--user",
        "niemand",
        url=db_url,
    )
    assert r.returncode == 2 and "geen actieve gebruiker" in r.stderr
    assert _access_rows(db_url)[-1] == (getpass.getuser(), "niemand", "export")


# --- token list checks the seal of each row ------------------------------------------------------


def _list(db_url: str, name: str) -> list[list[str]]:
    r = operator_run("token", "list", name, url=db_url)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines()]


def _token_of(db_url: str, name: str) -> int:
    with store.unit_of_work(url=db_url) as session:
        return session.scalar(select(models.ApiToken.id).join(models.User).where(models.User.name == name))


TAMPERINGS = {
    # a revoked token made valid again
    "un-revoked": ("revoke", {"revoked_at": None}),
    # a token that expired given a later expiry
    "later expiry": ("expire", {"expires_at": models.utcnow().replace(year=2099)}),
    # another user's token moved to this user
    "moved": ("move", None),
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_token_list_names_a_tampered_row_and_never_as_active(people, db_url, client, how):
    step, values = TAMPERINGS[how]
    token_id = _token_of(db_url, "mw")
    with store.unit_of_work(write=True, url=db_url) as session:
        if step == "revoke":  # revoked through the product: sealed as revoked
            tokens.revoke_tokens(session, "mw", token_id)
        elif step == "expire":  # made with an expiry, sealed, then moved into the past properly
            session.execute(
                update(models.ApiToken)
                .where(models.ApiToken.id == token_id)
                .values(expires_at=models.utcnow().replace(year=2020))
            )
            tokens.store_seals(session.connection(), [token_id])
        else:
            token_id = _token_of(db_url, "mw2")
    if step != "move":
        assert _list(db_url, "mw")[0][3] in ("revoked", "expired")  # sealed: listed as it is
    with store.unit_of_work(write=True, url=db_url) as session:
        if step == "move":
            mw = session.scalar(select(models.User.id).where(models.User.name == "mw"))
            values = {"user_id": mw}
        session.execute(update(models.ApiToken).where(models.ApiToken.id == token_id).values(**values))
    rows = _list(db_url, "mw")
    tampered = [row for row in rows if row[0] == str(token_id)]
    assert len(tampered) == 1 and len(tampered[0]) == 4  # the contract's four columns
    assert tampered[0][3] == "beschadigd"
    assert not any(row[3] == "active" for row in rows if row[0] == str(token_id))
    # and indeed it gives no access
    holder = "mw2" if step == "move" else "mw"
    assert client.get("/api/v1/tasks", headers=people.auth(holder)).status_code == 401


def test_token_list_shows_untouched_rows_as_before(people, db_url):
    rows = _list(db_url, "mw")
    assert [row[3] for row in rows] == ["active"]
    first = int(rows[0][0])
    with store.unit_of_work(write=True, url=db_url) as session:
        tokens.create_token(session, "mw", days=3)
        tokens.revoke_tokens(session, "mw", first)
    assert sorted(row[3] for row in _list(db_url, "mw")) == ["active", "revoked"]


def test_token_list_help_names_the_damaged_state():
    r = meldcode_cli("token", "list", "--help")
    assert r.returncode == 0 and "beschadigd" in r.stdout
