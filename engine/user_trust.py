"""A users row that cannot be trusted (issue 11): it does not match its seal
(engine/config_seals.py), holds a value stored damaged (engine/stored_text.py), or holds bytes
(SQLite: a BLOB) in a text column, which read back as the same text while no text equals them
in a query (a name no longer found, a token hash that never matches). Such a user acts as
nobody at every door (sign-in, web session, API token, the command line's --user: holds_bytes
beside the seal check). The beheerder's pages and `meldcode token list` mark every such row
(untrusted_users); a command that would change the user or make them a token refuses
(refuse_untrusted) instead of changing a row it cannot reseal, or saying it did what it did
not; the commands that only read or take access away (`token list`, `token revoke`) still
reach them, by a name stored as bytes too (find_user)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, LargeBinary, bindparam, func, or_, select
from sqlalchemy.orm import Session

from .config_seals import USER_COLUMNS, read_user, user_intact
from .errors import Conflict, NotFound
from .form_text import trimmed
from .messages import N_, Message
from .models import User
from .users import name_problem

_users = User.__table__
_ALL = select(_users.c.id, *USER_COLUMNS, _users.c.seal)

UNTRUSTED = N_(
    "Gebruiker '{name}' is buiten het product gewijzigd of beschadigd opgeslagen (de rij "
    "past niet bij haar zegel): er is niets veranderd. 'meldcode verify --all' noemt wat "
    "er mis is."
)
# `user deactivate` on such a user: switching it off would write a row whose other fields no
# one can vouch for, and the user already acts as nobody (sign-in, session, token, --user), so
# the beheerder is told what does take access away and how the row is put right (issue 11)
NOT_DEACTIVATED = N_(
    "Gebruiker '{name}' is buiten het product gewijzigd of beschadigd opgeslagen (de rij "
    "past niet bij haar zegel): er is niets veranderd. Deze gebruiker kan zich nu al niet "
    "aanmelden en geen API-token gebruiken. Trek de tokens in met 'meldcode token revoke "
    "{name}' en zet de rij terug uit een reservekopie van vóór de wijziging ('meldcode "
    "restore'); 'meldcode verify --all' noemt wat er mis is."
)
CHANGED = N_("buiten het product gewijzigd: de rij past niet bij haar zegel")
AS_BYTES = N_("bytes in plaats van tekst (BLOB)")
BYTES_FOUND = N_(
    "gebruiker {name} (id {id}) is beschadigd opgeslagen ({fields}): buiten het "
    "product gewijzigd; beheerhandelingen op deze gebruiker worden geweigerd"
)
# the text columns of users: SQLite keeps bytes (a BLOB) there, which read as the same text
USER_TEXTS = ("name", "display_name", "password_hash", "roles", "email", "beroepsgroep", "seal")


def stored_as_bytes(
    conn: Connection, table: Any, names: tuple[str, ...], *where: Any
) -> dict[Any, dict[str, Any]]:
    """Per row id of `table` (matching `where`), {column: AS_BYTES} for each text column of
    `names` that holds bytes (a BLOB) instead of text: SQLite keeps them, and they read back as
    the text (the seal still holds) while no text equals them in a query (a name or token hash
    no longer found). Empty on PostgreSQL, which keeps text only."""
    if conn.dialect.name != "sqlite":
        return {}
    tests = {name: func.typeof(table.c[name]) == "blob" for name in names}
    query = select(table.c.id, *(test.label("b_" + name) for name, test in tests.items()))
    rows = conn.execute(query.where(or_(*tests.values()), *where))
    return {row.id: {name: AS_BYTES for name in names if getattr(row, "b_" + name)} for row in rows}


def untrusted_users(conn: Connection) -> dict[int, str]:
    """The users rows that hold a value stored damaged or bytes in a text column
    (stored_as_bytes), or do not match their seal, id -> name (as read): commands on them are
    refused, and the beheerder's pages and `meldcode token list` say so."""
    blobs = stored_as_bytes(conn, _users, USER_TEXTS)
    return {row.id: row.name for row in conn.execute(_ALL) if row.id in blobs or not user_intact(row)}


def refuse_untrusted(session: Session, name: str) -> None:
    """Raises Conflict (409, Dutch UNTRUSTED) when the users row named `name` (white space
    around it ignored) cannot be trusted: it does not match its seal, holds a value stored
    damaged or bytes in a text column, or holds that name as bytes (SQLite: no text name
    equals it, so the user would be called unknown). A command that changes a user or makes
    them a token asks this first (engine/accounts.py): it changes nothing then, and never
    says it did. Nothing for a name no row has (the command's own NotFound follows)."""
    conn = session.connection()
    name = trimmed(name or "")
    if not name or name_problem(name) is not None:  # no user has it; never sent to the database
        return
    for uid in conn.execute(select(_users.c.id).where(named_as(conn, name))).scalars():
        if not trusted(conn, uid):
            raise Conflict(Message(UNTRUSTED, name=name[:80]))


def named_as(conn: Connection, name: str) -> Any:
    """The condition on users that finds the row named `name` (stripped, no refused character:
    the caller checked name_problem) whether its name is stored as text or, on SQLite, as the
    same text's bytes (a BLOB no text equals, issue 11)."""
    named = _users.c.name == name
    if conn.dialect.name == "sqlite":
        named = or_(named, _users.c.name == bindparam("raw", name.encode(), LargeBinary))
    return named


def find_user(session: Session, name: str) -> User:
    """The user named `name` (white space around it ignored), found also when the name is
    stored as bytes (named_as): for the commands that only read or only take access away
    (`token list`, `token revoke`), which must reach an untrusted user too (issue 11). Raises
    NotFound (Dutch) for a name no row has, or one with a refused character."""
    name = trimmed(name or "")
    if name and name_problem(name) is None:
        found = session.scalars(select(User).where(named_as(session.connection(), name))
                                .order_by(User.id)).first()
        if found is not None:
            return found
    raise NotFound(Message(N_("Gebruiker '{name}' bestaat niet."), name=name[:80]))


# holds_bytes runs on every API request and page (tokens, sessions): one condition built once,
# as stored_as_bytes would build it for a single row. SQLite only (typeof): a read of the users
# row can take it as one more column (BYTES_COLUMN, tokens.principal_for_token) instead of a
# second statement.
_BYTES_TEST = or_(*(func.typeof(_users.c[name]) == "blob" for name in USER_TEXTS))
BYTES_COLUMN = _BYTES_TEST.label("holds_bytes")
_HOLDS_BYTES = select(_users.c.id).where(_BYTES_TEST, _users.c.id == bindparam("user_id")).limit(1)


def holds_bytes(conn: Connection, user_id: Any) -> bool:
    """Whether the users row `user_id` holds bytes (SQLite: a BLOB) in a text column: its seal
    holds (the bytes read as the same text) yet the row cannot be trusted, so every door that
    checks the seal asks this too and lets the user act as nobody (issue 11). Always False on
    PostgreSQL, which keeps text only (stored_as_bytes)."""
    if conn.dialect.name != "sqlite":
        return False
    return conn.execute(_HOLDS_BYTES, {"user_id": user_id}).first() is not None


def trusted(conn: Connection, user_id: Any) -> bool:
    """Whether the users row `user_id` exists, matches its seal, and holds no damaged value
    and no bytes in a text column (one user's untrusted_users)."""
    row = read_user(conn, user_id)
    return (
        row is not None
        and user_intact(row)
        and not stored_as_bytes(conn, _users, USER_TEXTS, _users.c.id == user_id)
    )
