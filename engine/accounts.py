"""The administrative use cases on users and API tokens, and reading the admin log: one command
each, whatever the door (issue 12 point 2). The beheerder's pages (webui/admin), the command
line (`meldcode user ...`, `meldcode token ...`) and the API (GET /api/v1/admin-log) call these
functions and only turn what they return or raise into a page, JSON or a line.

Each command owns its transaction (store.unit_of_work; a refusal's admin-log line gets one of
its own) and takes `who`, the caller:

- a Principal: a signed-in user or the holder of an API token. Users and tokens are the
  beheerder's (CONTRACT section 2: "a beheerder manages users"), the admin log the auditor's
  (CONTRACT section 5). Without that role the attempt is written to the admin log as action
  `refused` with detail {"method", "path", "needs"} (the door's request as `via` gives it, the
  role needed), in a transaction of its own, and the command raises Forbidden (403): the same
  line whatever the door (before, only the web wrote it).
- a str: the name of the operator at the command line (the operating-system user). The
  operator is no user of the product and has no roles: whoever may run `meldcode` against the
  database manages users and tokens (CONTRACT section 3: `meldcode user add`, `token create`).
  The admin log names them.

Rules of one caller, decided here for every door:

- A beheerder cannot take away their own role beheerder, nor switch themselves off (Invalid
  at `rollen` / `uitschakelen`): they would lose the page they are using, and with it the way
  back. These rules are about a signed-in user's self, so they do not apply to the operator at
  the command line, even when the operating-system name equals a user's name: the command line
  is where a beheerder who lost the role is given it back.
- The number of days of a token is a whole number from 1 to tokens.MAX_TOKEN_DAYS, or none
  (empty: the token does not expire), for every caller: the form's text and the command line's
  `--days` are checked here, not in the door (`token_days`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from . import audit, timezones, tokens, user_trust, users
from .errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from .form_text import trimmed
from .messages import N_, Message
from .models import User
from .roles import AUDITOR, BEHEERDER
from .store import unit_of_work
from .users import Principal

log = logging.getLogger("meldcode.accounts")

Who = Principal | str  # a user (Principal) or the operator at the command line (their name)


@dataclass(frozen=True)
class Via:
    """The request an attempt came through (a page or an API endpoint): its method and path,
    recorded with a refusal. The command line has none."""

    method: str
    path: str


NO_ROLE = N_("U heeft hiervoor niet de juiste rol.")
NOT_YOURSELF = N_("U kunt uzelf niet uitschakelen.")
NOT_YOUR_ROLE = N_("U kunt uw eigen rol beheerder niet intrekken.")
DAYS = N_("Het aantal dagen moet een heel getal zijn (of leeg: dan verloopt het token niet).")
RANGE = Message(N_("Het aantal dagen moet tussen 1 en {n} liggen."), n=tokens.MAX_TOKEN_DAYS)


def allowed(who: Who, needs: str, via: Via | None = None) -> str:
    """The name the admin log gives `who` when they may act with role `needs`: a Principal
    with that role, or the operator at the command line (a str, no roles). A Principal without
    it: one admin-log line `refused` ({"method", "path"} of `via` when given, "needs": the
    role), written in a transaction of its own, then Forbidden (Dutch)."""
    if isinstance(who, str):
        return who
    if who.has_role(needs):
        return who.name
    detail: dict[str, Any] = {"method": via.method, "path": via.path[:200]} if via else {}
    detail["needs"] = needs
    log.warning("refused: %s needs %s (%s)", who.name, needs,
                f"{via.method} {via.path[:200]}" if via else "no request")
    with unit_of_work(write=True) as session:
        audit.log_admin(session, who.name, "refused", detail)
    raise Forbidden(NO_ROLE)


def _command(who: Who, needs: str, via: Via | None, change: Any, write: bool = True,
             acts_on: tuple[Any, ...] = ()) -> Any:
    """`change(session, by)` in one transaction, once `who` may act (allowed); by: their name.
    acts_on: the names of the users it changes or names (a leidinggevende), each refused first
    when its row cannot be trusted (_trusted)."""
    by = allowed(who, needs, via)
    with unit_of_work(write=write) as session:
        _trusted(session, *acts_on)
        return change(session, by)


def _trusted(session: Session, *names: Any) -> None:
    """Raises Conflict (409, Dutch) when the users row of one of `names` (None or empty: none)
    does not match its seal or is stored damaged (user_trust.refuse_untrusted): a command on
    such a user changes nothing and never says it did (issue 11). Every door comes here."""
    for name in names:
        if isinstance(name, str) and trimmed(name):
            user_trust.refuse_untrusted(session, name)


def _named(session: Session, name: str, read: Any) -> Any:
    """read(), which looks up the user `name`; when it raises NotFound, Conflict instead if a
    row holds that name as bytes or cannot be trusted (user_trust.refuse_untrusted): the user
    is there, damaged, never called unknown."""
    try:
        return read()
    except NotFound:
        user_trust.refuse_untrusted(session, name)
        raise


def _marked(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """users.list_users's rows, each whose users row cannot be trusted but holds no damaged
    value (it does not match its seal, or holds bytes: user_trust.untrusted_users) marked as
    damaged too, as verify names it: the beheerder's pages say "beschadigd"."""
    untrusted = set(user_trust.untrusted_users(session.connection()).values())
    return [{**row, "damaged": row["damaged"] or (user_trust.CHANGED if row["name"] in untrusted
                                                  else None)} for row in rows]


def _is_self(who: Who, name: Any) -> bool:
    """Is the signed-in user `who` the user `name`? Never for the operator (a str)."""
    return isinstance(who, Principal) and isinstance(name, str) and trimmed(name) == who.name


def _view(session: Session, user: User) -> dict[str, Any]:
    """One user as users.list_users gives each."""
    session.flush()
    manager = session.get(User, user.manager_id) if user.manager_id else None
    return {"name": user.name, "display_name": user.display_name, "roles": user.roles,
            "manager": manager.name if manager else None, "active": user.active,
            "email": user.email, "beroepsgroep": user.beroepsgroep}


# --- users -------------------------------------------------------------------------------------


def list_users(who: Who, via: Via | None = None) -> list[dict[str, Any]]:
    """Every user (users.list_users: name, display_name, roles, manager, active, email), by
    name. Beheerder only (Forbidden, logged)."""
    return _command(who, BEHEERDER, via, lambda s, _by: _marked(s, users.list_users(s)), write=False)


def user_account(who: Who, name: str, stamp: timezones.Stamp = timezones.iso_seconds,
                 via: Via | None = None) -> dict[str, Any]:
    """A user with their tokens, as the beheerder's page of one user reads them, in one read:
    {"user": that user, "users": every user (list_users), "tokens": theirs (list_tokens, times
    as `stamp` gives them)}. Raises NotFound for an unknown name, Forbidden (logged)."""
    def read(session: Session, _by: str) -> dict[str, Any]:
        user = _named(session, name, lambda: users.get_user(session, name))
        rows = _marked(session, users.list_users(session))
        return {"user": next(u for u in rows if u["name"] == user.name), "users": rows,
                "tokens": tokens.list_tokens(session, user.name, stamp=stamp)}

    return _command(who, BEHEERDER, via, read, write=False)


def add_user(who: Who, name: str, roles: list[str], password: str, manager: str | None = None,
             display_name: str = "", email: str | None = None,
             via: Via | None = None, beroepsgroep: str | None = None) -> dict[str, Any]:
    """Add a user (users.create_user: its rules, every wrong field at once; beroepsgroep None:
    the organisation's); returns them as list_users gives each. Raises Invalid with the
    fields, Forbidden (logged)."""
    return _command(who, BEHEERDER, via, lambda s, by: _view(s, users.create_user(
        s, name, list(roles), password, manager, display_name, by=by, email=email,
        beroepsgroep=beroepsgroep)), acts_on=(manager,))


def change_roles(who: Who, name: str, roles: list[str], via: Via | None = None) -> dict[str, Any]:
    """Replace a user's roles (users.set_roles; their web sessions end). A beheerder cannot
    take away their own role beheerder (see the module). Raises NotFound, Invalid (`rollen`),
    Forbidden (logged)."""
    by = allowed(who, BEHEERDER, via)
    if _is_self(who, name) and BEHEERDER not in roles:
        raise Invalid(NOT_YOUR_ROLE, {"rollen": NOT_YOUR_ROLE})
    with unit_of_work(write=True) as session:
        _trusted(session, name)
        return _view(session, users.set_roles(session, name, list(roles), by=by))


def change_password(who: Who, name: str, password: str, via: Via | None = None) -> dict[str, Any]:
    """A new password for a user (users.set_password: the policy; their web sessions end).
    Raises NotFound, Invalid (`wachtwoord`), Forbidden (logged)."""
    return _command(who, BEHEERDER, via,
                    lambda s, by: _view(s, users.set_password(s, name, password, by=by)),
                    acts_on=(name,))


def deactivate_user(who: Who, name: str, via: Via | None = None) -> dict[str, Any]:
    """Switch a user off (users.deactivate: sessions end, tokens revoked, their reports lose
    them as leidinggevende). A beheerder cannot switch themselves off (see the module). A user
    whose row cannot be trusted is not switched off: Conflict saying what to do instead
    (user_trust.NOT_DEACTIVATED). Raises NotFound, Invalid (`uitschakelen`), Forbidden
    (logged)."""
    by = allowed(who, BEHEERDER, via)
    if _is_self(who, name):
        raise Invalid(NOT_YOURSELF, {"uitschakelen": NOT_YOURSELF})
    with unit_of_work(write=True) as session:
        try:
            _trusted(session, name)
        except Conflict:  # what to do instead (user_trust.NOT_DEACTIVATED)
            raise Conflict(Message(user_trust.NOT_DEACTIVATED, name=trimmed(name)[:80])) from None
        return _view(session, users.deactivate(session, name, by=by))


def change_manager(who: Who, name: str, manager: str | None,
                   via: Via | None = None) -> dict[str, Any]:
    """Give a user another leidinggevende, or none (users.set_manager). Raises NotFound,
    Invalid (`leidinggevende`), Forbidden (logged)."""
    return _command(who, BEHEERDER, via,
                    lambda s, by: _view(s, users.set_manager(s, name, manager or None, by=by)),
                    acts_on=(name, manager))


def change_email(who: Who, name: str, email: str | None, via: Via | None = None) -> dict[str, Any]:
    """Give a user another e-mail address for notifications, or none (users.set_email).
    Raises NotFound, Invalid (`email`), Forbidden (logged)."""
    return _command(who, BEHEERDER, via,
                    lambda s, by: _view(s, users.set_email(s, name, email or None, by=by)),
                    acts_on=(name,))


def change_beroepsgroep(who: Who, name: str, beroepsgroep: str | None,
                        via: Via | None = None) -> dict[str, Any]:
    """Give a user another beroepsgroep, or the organisation's (None, "" or "organisatie";
    users.set_beroepsgroep, issue 14 point 3). Raises NotFound, Invalid (`beroepsgroep`),
    Forbidden (logged)."""
    return _command(who, BEHEERDER, via,
                    lambda s, by: _view(s, users.set_beroepsgroep(s, name, beroepsgroep, by=by)),
                    acts_on=(name,))


# --- API tokens --------------------------------------------------------------------------------


def token_days(value: Any) -> int | None:
    """The number of days of a new token as a door got it: None or empty text for none (the
    token does not expire), a whole number (an int, or text of the digits 0-9 with white space
    around it) from 1 to tokens.MAX_TOKEN_DAYS. Raises Invalid (`days`) for anything else."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        if not (value.isascii() and value.isdigit()):
            raise Invalid(DAYS, {"days": DAYS})
        value = int(value) if len(value) <= 6 else 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(DAYS, {"days": DAYS})
    if not 1 <= value <= tokens.MAX_TOKEN_DAYS:
        raise Invalid(RANGE, {"days": RANGE})
    return value


def create_token(who: Who, name: str, days: Any = None, via: Via | None = None) -> str:
    """A new API token for an active user (tokens.create_token), valid for `days` days
    (token_days: a number or its text; none: until revoked). Returns the token, shown once.
    Raises NotFound, Invalid (`days`, `naam` for a user switched off), Forbidden (logged)."""
    by = allowed(who, BEHEERDER, via)
    number = token_days(days)
    with unit_of_work(write=True) as session:
        _trusted(session, name)
        return tokens.create_token(session, name, number, by=by)


def list_tokens(who: Who, name: str, stamp: timezones.Stamp = timezones.iso_seconds,
                via: Via | None = None) -> list[dict[str, Any]]:
    """A user's tokens, oldest first (tokens.list_tokens: id, created, expires, status; the
    times as `stamp` gives them). Raises NotFound, Forbidden (logged)."""
    return _command(who, BEHEERDER, via,
                    lambda s, _by: _named(s, name, lambda: tokens.list_tokens(s, name, stamp=stamp)),
                    write=False)


NO_TOKEN_NUMBER = N_("Dat is geen tokennummer.")


def revoke_tokens(who: Who, name: str, token_id: Any = None, via: Via | None = None) -> int:
    """Revoke a user's token `token_id` (a number, or its digits as text) or, with None or
    empty text, every one of theirs (tokens.revoke_tokens); returns how many were still open.
    Raises BadRequest for a token number that is no whole number, NotFound (the user, or a
    number that is not one of their tokens), Forbidden (logged)."""
    by = allowed(who, BEHEERDER, via)
    if isinstance(token_id, str):
        raw = token_id.strip()
        if raw and not (raw.isascii() and raw.isdigit() and len(raw) < 12):
            raise BadRequest(NO_TOKEN_NUMBER)
        token_id = int(raw) if raw else None
    if token_id is not None and (isinstance(token_id, bool) or not isinstance(token_id, int)):
        raise BadRequest(NO_TOKEN_NUMBER)
    with unit_of_work(write=True) as session:
        return tokens.revoke_tokens(session, name, token_id, by=by)


# --- the admin log -----------------------------------------------------------------------------


PAGE = N_("Geef een paginanummer: een heel getal van 1 of hoger.")


def admin_log_page_number(value: Any) -> int:
    """The page of the admin log asked for (a query parameter's text, or None for the first):
    a whole number of 1 or more, else Invalid at `page` (Dutch). A page beyond the log is
    asked for rightly and is empty (audit.admin_log)."""
    if value is None or value == "":
        return 1
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not text.strip("0"):
        raise Invalid(PAGE, {"page": PAGE})
    if len(text.lstrip("0")) > 12:  # beyond any log (and beyond what int() reads quickly)
        return audit.MAX_ADMIN_LOG_PAGE + 1
    return int(text)


def read_admin_log(who: Who, limit: int = 1000, stamp: timezones.Stamp = audit.iso,
                   via: Via | None = None, page: int = 1) -> list[dict[str, Any]]:
    """One page of `limit` admin-log lines, oldest first; page 1 the newest (audit.admin_log:
    at as `stamp` gives it, user, action, detail; every line is on some page). Auditors only
    (CONTRACT section 5): anyone else is refused with a `refused` line, as on the beheerder's
    pages (Forbidden). Raises ValueError for a page below 1 (admin_log_page_number checks
    what a person typed)."""
    return _command(who, AUDITOR, via,
                    lambda s, _by: audit.admin_log(s, limit, stamp=stamp, page=page),
                    write=False)
