"""Users, tokens and the admin log: one command per use case, whatever the door (issue 12,
point 2; engine/accounts.py). The beheerder's pages, `meldcode user ...`/`meldcode token ...`
and GET /api/v1/admin-log call the same engine commands, so:

- a caller without the role is refused (403) with one admin-log line `refused` ({"method",
  "path", "needs"}) through the pages and the API alike; the operator at the command line is
  no user and is never refused for a role;
- a beheerder cannot switch themselves off or take away their own role beheerder, whatever
  page they try it on; the operator at the command line may (the module's decision: the
  command line is where a beheerder who lost the role gets it back);
- the number of days of a token is one rule for the form and `--days`;
- the same changes leave the same admin-log lines through the pages and the command line.
(The API has no endpoints for users and tokens: its door here is the admin log.)
"""

from __future__ import annotations

import getpass

import pytest
from click.testing import CliRunner

from engine import accounts, audit, store, users
from engine.errors import Forbidden, Invalid
from tests.helpers import Client, text

PASSWORD_NEW = "paarse-olifant-fietst-snel"  # passes the policy


def cli(*args, input=None):
    from webui.cli import main

    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def admin_lines() -> list[tuple[str, str, dict]]:
    with store.unit_of_work() as session:
        return [(r["user"], r["action"], r["detail"]) for r in audit.admin_log(session, 10_000)]


def user_state() -> list[dict]:
    with store.unit_of_work() as session:
        return users.list_users(session)


def signed_in(app, name: str) -> Client:
    client = Client(app)
    assert client.login(name).status_code == 302
    return client


@pytest.fixture
def operator(monkeypatch):
    """The operator at the command line is 'bh' on this machine: the same name as the
    beheerder's in the product."""
    monkeypatch.setattr(getpass, "getuser", lambda: "bh")
    return "bh"


# --- refused for want of the role ----------------------------------------------------------------


def test_reading_the_admin_log_is_refused_alike_through_the_page_and_the_api(ui_app,
                                                                            sqlite_people):
    before = len(admin_lines())
    mw = signed_in(ui_app, "mw")
    assert mw.get("/beheerlog").status_code == 403
    api = ui_app.test_client().get("/api/v1/admin-log", headers=sqlite_people.auth("mw"))
    assert api.status_code == 403
    assert api.get_json()["error"] == "U heeft hiervoor niet de juiste rol."
    assert admin_lines()[before:] == [
        ("mw", "refused", {"method": "GET", "path": "/beheerlog", "needs": "auditor"}),
        ("mw", "refused", {"method": "GET", "path": "/api/v1/admin-log", "needs": "auditor"}),
    ]
    # An auditor reads it through both, the same lines.
    aud = signed_in(ui_app, "aud")
    assert aud.get("/beheerlog").status_code == 200
    listed = ui_app.test_client().get("/api/v1/admin-log", headers=sqlite_people.auth("aud"))
    assert [(r["user"], r["action"], r["detail"]) for r in listed.get_json()] == admin_lines()


def test_a_non_beheerder_is_refused_on_every_users_page_and_logged(ui_app, sqlite_people):
    before, state = len(admin_lines()), user_state()
    attempts = [
        ("GET", "/beheer/gebruikers", None),
        ("POST", "/beheer/gebruikers", {"naam": "kees", "rollen": "medewerker",
                                        "wachtwoord": PASSWORD_NEW}),
        ("GET", "/beheer/gebruikers/mw2", None),
        ("POST", "/beheer/gebruikers/mw2/rollen", {"rollen": "auditor"}),
        ("POST", "/beheer/gebruikers/mw2/leidinggevende", {"leidinggevende": "lg"}),
        ("POST", "/beheer/gebruikers/mw2/email", {"email": "mw2@zorg.example"}),
        ("POST", "/beheer/gebruikers/mw2/wachtwoord", {"wachtwoord": PASSWORD_NEW}),
        ("POST", "/beheer/gebruikers/mw2/uitschakelen", {}),
        ("POST", "/beheer/gebruikers/mw2/tokens", {"dagen": "abc"}),
        ("POST", "/beheer/gebruikers/mw2/tokens/intrekken", {"token": "abc"}),
    ]
    for name in ("mw", "aud"):
        client = signed_in(ui_app, name)
        for method, path, data in attempts:
            response = client.get(path) if method == "GET" else client.post(path, data)
            assert response.status_code == 403, (name, path, response.status_code)
    assert admin_lines()[before:] == [
        (name, "refused", {"method": method, "path": path, "needs": "beheerder"})
        for name in ("mw", "aud") for method, path, _ in attempts]
    assert user_state() == state
    # The engine command itself, as any door calls it: refused and logged the same way.
    with pytest.raises(Forbidden):
        accounts.deactivate_user(sqlite_people["mw"], "mw2",
                                 via=accounts.Via("POST", "/ergens"))
    assert admin_lines()[-1] == ("mw", "refused", {"method": "POST", "path": "/ergens",
                                                   "needs": "beheerder"})
    assert user_state() == state


def test_the_operator_at_the_command_line_is_never_refused_for_a_role(sqlite_people, operator):
    before = len(admin_lines())
    assert cli("token", "list", "mw").exit_code == 0
    result = cli("user", "roles", "mw2", "--role", "auditor")
    assert result.exit_code == 0, result.output
    assert admin_lines()[before:] == [
        ("bh", "user_roles", {"user": "mw2", "before": ["medewerker"], "roles": ["auditor"]})]


# --- rules about oneself -------------------------------------------------------------------------


def test_a_beheerder_cannot_switch_themselves_off_or_drop_their_own_role(ui_app, sqlite_people):
    before, state = len(admin_lines()), user_state()
    bh = signed_in(ui_app, "bh")
    off = bh.post("/beheer/gebruikers/bh/uitschakelen", {})
    assert off.status_code == 422 and "U kunt uzelf niet uitschakelen." in text(off)
    roles = bh.post("/beheer/gebruikers/bh/rollen", {"rollen": ["medewerker"]})
    assert roles.status_code == 422
    assert "U kunt uw eigen rol beheerder niet intrekken." in text(roles)
    # The engine command refuses it for a signed-in beheerder whatever door calls it.
    for attempt, field in ((lambda: accounts.deactivate_user(sqlite_people["bh"], " bh "),
                            "uitschakelen"),
                           (lambda: accounts.change_roles(sqlite_people["bh"], "bh", ["auditor"]),
                            "rollen")):
        with pytest.raises(Invalid) as refused:
            attempt()
        assert set(refused.value.errors) == {field}
    assert user_state() == state and len(admin_lines()) == before
    # Keeping the role while adding another is no loss of it.
    assert bh.post("/beheer/gebruikers/bh/rollen",
                   {"rollen": ["beheerder", "auditor"]}).status_code == 302


def test_the_operator_named_like_a_beheerder_may_change_that_beheerder(sqlite_people, operator):
    """The command line's operator has no self in the product: `meldcode user roles bh` and
    `meldcode user deactivate bh` by an operating-system user called bh are done."""
    result = cli("user", "roles", "bh", "--role", "auditor")
    assert result.exit_code == 0, result.output
    result = cli("user", "deactivate", "bh")
    assert result.exit_code == 0, result.output
    assert {u["name"]: (u["roles"], u["active"]) for u in user_state()}["bh"] == (
        ["auditor"], False)
    assert [a for _u, a, _d in admin_lines()[-2:]] == ["user_roles", "user_deactivated"]


# --- the number of days of a token ---------------------------------------------------------------


@pytest.mark.parametrize(("days", "message"), [
    ("abc", "Het aantal dagen moet een heel getal zijn (of leeg: dan verloopt het token niet)."),
    ("-3", "Het aantal dagen moet een heel getal zijn (of leeg: dan verloopt het token niet)."),
    ("0", "Het aantal dagen moet tussen 1 en 3650 liggen."),
    ("3651", "Het aantal dagen moet tussen 1 en 3650 liggen."),
])
def test_the_days_of_a_token_are_one_rule_for_the_form_and_the_command_line(
        ui_app, sqlite_people, days, message):
    before = len(admin_lines())
    bh = signed_in(ui_app, "bh")
    page = bh.post("/beheer/gebruikers/mw/tokens", {"dagen": days})
    assert page.status_code == 422
    assert 'id="fout-dagen"' in text(page) and message in text(page)
    result = cli("token", "create", "mw", "--days", days)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(admin_lines()) == before
    # a whole number with white space around it is that number, through either door
    assert bh.post("/beheer/gebruikers/mw/tokens", {"dagen": " 7 "}).status_code == 200
    assert cli("token", "create", "mw", "--days", " 7 ").exit_code == 0


# --- the same changes, the same admin-log lines ---------------------------------------------------


def _normalised(lines: list[tuple[str, str, dict]], name: str) -> list[tuple[str, str, dict]]:
    """The lines with the changed user's name as NAME and a token's number and expiry (which
    differ from one token to the next) left out."""
    out = []
    for user, action, detail in lines:
        detail = {k: ("NAME" if v == name else v) for k, v in detail.items()
                  if k not in ("token_id", "expires")}
        out.append((user, action, detail))
    return out


def test_the_pages_and_the_command_line_leave_the_same_admin_log_lines(ui_app, sqlite_people,
                                                                      operator):
    bh = signed_in(ui_app, "bh")
    start = len(admin_lines())
    assert bh.post("/beheer/gebruikers", {"naam": "kees", "rollen": "medewerker",
                                          "leidinggevende": "lg",
                                          "wachtwoord": PASSWORD_NEW}).status_code == 302
    assert bh.post("/beheer/gebruikers/kees/rollen",
                   {"rollen": ["medewerker", "aandachtsfunctionaris"]}).status_code == 302
    assert bh.post("/beheer/gebruikers/kees/wachtwoord",
                   {"wachtwoord": PASSWORD_NEW + "-2"}).status_code == 302
    assert bh.post("/beheer/gebruikers/kees/tokens", {"dagen": "7"}).status_code == 200
    assert bh.post("/beheer/gebruikers/kees/tokens/intrekken", {}).status_code == 302
    assert bh.post("/beheer/gebruikers/kees/uitschakelen", {}).status_code == 302
    web = admin_lines()[start:]

    middle = len(admin_lines())
    for args, given in (
            (("user", "add", "piet", "--role", "medewerker", "--manager", "lg",
              "--password-stdin"), PASSWORD_NEW + "\n"),
            (("user", "roles", "piet", "--role", "medewerker", "--role",
              "aandachtsfunctionaris"), None),
            (("user", "password", "piet", "--password-stdin"), PASSWORD_NEW + "-2\n"),
            (("token", "create", "piet", "--days", "7"), None),
            (("token", "revoke", "piet"), None),
            (("user", "deactivate", "piet"), None)):
        result = cli(*args, input=given)
        assert result.exit_code == 0, (args, result.output)
    command_line = admin_lines()[middle:]

    assert [a for _u, a, _d in web] == ["user_added", "user_roles", "user_password",
                                        "token_created", "token_revoked", "user_deactivated"]
    # bh signed in, and the operator whose operating-system name is bh: the same lines.
    assert _normalised(web, "kees") == _normalised(command_line, "piet")


# --- the doors: one engine command each, no transaction of their own --------------------------


def test_the_doors_call_the_account_commands_and_open_no_transaction():
    import inspect
    import re

    from webui import admin, api
    from webui import cli as commands

    views = [admin.users_list, admin.user_add, admin.user_detail, admin.user_roles,
             admin.user_manager, admin.user_email, admin.user_deactivate, admin.user_password,
             admin.token_create, admin.token_revoke, admin.admin_log, admin._users_page,
             admin._detail_page, admin._change, api.admin_log]
    views += [command.callback for command in (
        commands.user_add, commands.user_deactivate, commands.user_password, commands.user_roles,
        commands.token_create, commands.token_list, commands.token_revoke)]
    for view in views:
        source = inspect.getsource(view)
        assert "unit_of_work" not in source and "session" not in source, view.__name__
        # no step of a use case called from the door (users.set_roles, tokens.create_token...)
        assert not re.search(r"(?<![\w/])(users|tokens|audit|store)\.\w+\(", source), \
            view.__name__
    # _change runs the command it is given; two pages are _users_page and _detail_page
    for view in set(views) - {admin._change, admin.users_list, admin.user_detail}:
        assert "accounts." in inspect.getsource(view), view.__name__
