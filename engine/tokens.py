"""API tokens (CONTRACT section 5): made for an active user, valid for a number of days or
until revoked, stored only as their SHA-256; the admin log names a token's number, never the
token. principal_for_token is the one read every API request makes. Creating, listing and
revoking tokens as a use case (who may, one transaction) are engine/accounts.py's commands;
the functions here that take a session are their steps."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from . import audit, config_seals, settings, timezones, user_trust
from .commands import MAX_ID
from .errors import Invalid, NotFound
from .messages import N_, Message
from .models import ApiToken, User, utcnow
from .store import get_engine
from .stored_rows import damage_fields, damage_of, value_damage
from .stored_time import damaged_time
from .users import Principal, actor, get_user

log = logging.getLogger("meldcode.seals")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MAX_TOKEN_DAYS = 3650

# --- the seal of an api_tokens row (issue 11 F1) --------------------------------------------
# A row inserted, moved to another user, un-revoked or given a later expiry by a database
# writer would give access without a trace: every row carries a keyed seal, as users rows do
# (config_seals.user_seal), written by create_token and revoke, checked on every use and by
# `meldcode verify --all`.
TOKEN_FIELDS = ("id", "user_id", "token_hash", "created_at", "expires_at", "revoked_at")
_u, _t = User.__table__, ApiToken.__table__
TOKEN_TEXTS = ("token_hash", "seal")  # SQLite may hold bytes (a BLOB) there: no hash equals them
TOKEN_ROWS = select(*(_t.c[name] for name in TOKEN_FIELDS), _t.c.seal)


def token_seal(row: Any) -> str:
    """HMAC-SHA-256 (history key) over TOKEN_FIELDS of `row` (a Row or object with them), hex:
    what api_tokens.seal must hold. Raises TypeError/ValueError on a value no product writes."""
    content = {name: getattr(row, name) for name in TOKEN_FIELDS}
    if any(value_damage(value) is not None for value in content.values()):
        raise ValueError("a stored value read as damaged")  # never what was sealed
    for name in ("created_at", "expires_at", "revoked_at"):
        at = content[name]
        content[name] = None if at is None else audit.iso(at)
    return hmac.new(settings.history_key(), b"api_token\n" + audit.canonical(content),
                    hashlib.sha256).hexdigest()


def token_intact(row: Any, why: str = "") -> bool:
    """Whether `row` (TOKEN_FIELDS and seal) matches its seal. A mismatch is logged when `why`
    (where it was seen) is given, with the token's number and user id, never the hash."""
    try:
        ok = hmac.compare_digest(token_seal(row), row.seal or "")
    except (TypeError, ValueError, AttributeError):  # a value no product writes
        ok = False
    if not ok and why:
        log.warning("api_tokens row does not match its seal: changed outside the product",
                    extra={"token_id": row.id, "user_id": row.user_id, "seen_at": why})
    return ok


def store_seals(conn: Connection, ids: list[int]) -> None:
    """Write the seal of the rows `ids` as this transaction sees them (create_token, revoke,
    migration 0016), in batches."""
    for start in range(0, len(ids), 500):
        rows = conn.execute(TOKEN_ROWS.where(_t.c.id.in_(ids[start:start + 500]))).all()
        conn.execute(update(_t).where(_t.c.id == bindparam("tid")).values(seal=bindparam("value")),
                     [{"tid": r.id, "value": token_seal(r)} for r in rows])


def token_problems(conn: Connection) -> list[str]:
    """Every api_tokens row that holds a value stored damaged or bytes in a text column (SQLite:
    user_trust.stored_as_bytes; naming each column and what is wrong, issue 11) or else does
    not match its seal, and every token the admin log says was made whose row is gone (GONE),
    in Dutch, for `meldcode verify --all`: added, moved to another user, un-revoked, given
    another expiry or deleted by hand. Raises only what the database raises."""
    found: list[str] = []
    as_bytes = user_trust.stored_as_bytes(conn, _t, TOKEN_TEXTS)
    present = set()
    for r in conn.execute(TOKEN_ROWS.order_by(_t.c.id)):
        present.add(r.id)
        damage = damage_of(r) or as_bytes.get(r.id)
        if damage:
            found.append(Message(N_("API-token {id} (gebruiker-id {user}) is beschadigd opgeslagen "
                                    "({fields}): buiten het product gewijzigd; het geeft geen "
                                    "toegang"), id=r.id, user=r.user_id, fields=damage_fields(damage)))
        elif not token_intact(r):
            found.append(Message(N_("API-token {id} (gebruiker-id {user}): buiten het product "
                                    "toegevoegd of gewijzigd (gebruiker, vervaldatum of "
                                    "intrekking): past niet bij het zegel"), id=r.id, user=r.user_id))
    # a row deleted by hand: its token_created line in the admin log (keyed hash) still names it
    for detail in config_seals.genuine_details(conn, ("token_created",)):
        if type(detail.get("token_id")) is int and detail["token_id"] not in present:
            found.append(Message(GONE, id=detail["token_id"], user=str(detail.get("user"))[:80]))
    return found


GONE = N_("API-token {id} van gebruiker {user}: het beheerlog legde het aanmaken vast, maar de rij "
          "ontbreekt (buiten het product verwijderd)")


def create_token(session: Session, name: str, days: int | None = None, by: Any = None) -> str:
    """A new API token for an active user, valid for `days` days (None: until revoked).
    Returns the token itself, shown once; only its SHA-256 is stored and the admin log names
    its number, never the token. Raises NotFound, or Invalid (`days`: 1 to 3650)."""
    user = get_user(session, name)
    if not user.active:
        message = Message(N_("Gebruiker '{name}' is uitgeschakeld."), name=user.name)
        raise Invalid(message, {"naam": message})
    if days is not None and not (isinstance(days, int) and 1 <= days <= MAX_TOKEN_DAYS):
        message = Message(N_("Het aantal dagen moet tussen 1 en {n} liggen."), n=MAX_TOKEN_DAYS)
        raise Invalid(message, {"days": message})
    token = "mc_" + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(user_id=user.id, token_hash=_token_hash(token), created_at=now,
                   expires_at=now + timedelta(days=days) if days else None)
    session.add(row)
    session.flush()
    store_seals(session.connection(), [row.id])
    audit.log_admin(session, actor(by), "token_created", {
        "user": user.name, "token_id": row.id,
        "expires": timezones.iso_seconds(row.expires_at) if row.expires_at else None})
    return token


_aware = timezones.to_utc  # SQLite gives back naive datetimes; every stored time is UTC.


NEVER = "-"  # list_tokens: the expiry of a token that never expires


DAMAGED = "beschadigd"  # list_tokens: a row that does not match its seal (issue 11)


def token_status(token: ApiToken, now: datetime | None = None) -> str:
    """`active`, `revoked` or `expired` (CONTRACT section 5), or DAMAGED (`beschadigd`) when
    the row does not match its seal (token_intact): un-revoked, given a later expiry, moved to
    another user or added by a database writer. Such a row is never listed as active, since
    principal_for_token refuses it anyway; the fields it shows cannot be trusted."""
    if not token_intact(token):
        return DAMAGED
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and _aware(token.expires_at) <= (now or utcnow()):
        return "expired"
    return "active"


def list_tokens(session: Session, name: str,
                stamp: timezones.Stamp = timezones.iso_seconds) -> list[dict[str, Any]]:
    """A user's tokens, oldest first: id, created, expires ("-" for never) and status
    (token_status: active, revoked, expired, or beschadigd for a row that does not fit its
    seal or holds a value stored damaged). A row whose user number is stored damaged (SQLite:
    text in it) may be anyone's: it is in every user's list, as beschadigd (issue 11).

    The times as `stamp` gives them: ISO 8601 UTC to the second by default (the command line's
    `token list`), an aware UTC datetime with timezones.to_utc (the beheerder's page); a time
    stored damaged is DAMAGED ("beschadigd"), never the 1970 it reads as.
    A user whose name is stored as bytes is found by the same text (user_trust.find_user).
    Raises NotFound for an unknown name."""
    user = user_trust.find_user(session, name)
    now = utcnow()
    mine = ApiToken.user_id == user.id
    if session.get_bind().dialect.name == "sqlite":  # PostgreSQL keeps only integers there
        mine = or_(mine, func.typeof(ApiToken.user_id) != "integer")

    def shown(at: Any) -> Any:
        return DAMAGED if damaged_time(at) else stamp(at)

    # a token of a user whose row cannot be trusted gives no access (principal_for_token), nor
    # one whose hash is stored as bytes (no token's hash equals it): never listed as active
    conn = session.connection()
    all_damaged = not user_trust.trusted(conn, user.id)
    as_bytes = user_trust.stored_as_bytes(conn, _t, TOKEN_TEXTS)
    return [
        {"id": t.id, "created": shown(t.created_at),
         "expires": shown(t.expires_at) if t.expires_at is not None else NEVER,
         "status": DAMAGED if all_damaged or t.id in as_bytes else token_status(t, now)}
        for t in session.scalars(select(ApiToken).where(mine).order_by(ApiToken.id))
    ]


def revoke(session: Session, user: User, token_id: int | None) -> int:
    """Revoke the user's token `token_id`, or with None every one of theirs, that is still
    open (not revoked; an expired one counts too). Returns how many were revoked; no admin
    log line (the caller writes one)."""
    conn = session.connection()
    query = TOKEN_ROWS.where(_t.c.user_id == user.id, _t.c.revoked_at.is_(None))
    if token_id is not None:
        query = query.where(_t.c.id == token_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    rows = conn.execute(query).all()
    if not rows:
        return 0
    conn.execute(update(_t).where(_t.c.id.in_([r.id for r in rows])).values(revoked_at=utcnow()))
    # Only rows that matched their seal before are resealed: a revoke never launders a row
    # changed outside the product (it stays named by verify --all, issue 11).
    store_seals(conn, [r.id for r in rows if token_intact(r)])
    return len(rows)


def revoke_tokens(session: Session, name: str, token_id: int | None = None, by: Any = None) -> int:
    """Revoke one token of a user (by its number) or, without a number, all of them; returns
    how many were still open. It only takes access away, so it reaches a user whose row cannot
    be trusted too, found also when the name is stored as bytes (user_trust.find_user, issue
    11). Raises NotFound for an unknown user or a number that is not one of theirs."""
    user = user_trust.find_user(session, name)
    if token_id is not None and (not 0 < token_id <= MAX_ID or session.scalar(
        select(func.count()).select_from(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    ) == 0):  # a number out of the column's range is no token either (PostgreSQL refuses it)
        raise NotFound(Message(N_("Gebruiker '{name}' heeft geen token {token}."), name=user.name,
                               token=token_id))
    count = revoke(session, user, token_id)
    audit.log_admin(session, actor(by), "token_revoked",
                    {"user": user.name, "token_id": token_id, "revoked": count})
    return count


_TOKEN_QUERY = (
    # every sealed field: a users row changed outside the product acts as nobody (issue 11)
    select(_u.c.id, *config_seals.USER_COLUMNS, _u.c.seal,
           *(c.label("token_" + c.name) for c in TOKEN_ROWS.selected_columns))
    .select_from(_t.join(_u, _t.c.user_id == _u.c.id))
    .where(_t.c.token_hash == bindparam("h"), _u.c.active.is_(True), _t.c.revoked_at.is_(None),
           or_(_t.c.expires_at.is_(None), _t.c.expires_at > bindparam("now")))
)
# SQLite: whether the user's row holds bytes (user_trust.holds_bytes) read in the same statement
_TOKEN_QUERY_SQLITE = _TOKEN_QUERY.add_columns(user_trust.BYTES_COLUMN)


def principal_for_token(token: str, source: str | None = None) -> Principal | None:
    """Who holds this API token, or None when it is unknown, revoked, expired or its user is
    switched off: one indexed read on a plain connection (no ORM session), on every API
    request; None too when the token's row (token_intact) or the user's row (config_seals)
    does not match its seal or the user's row holds bytes (user_trust.holds_bytes), logged,
    or its stored expiry is no time (issue 11)."""
    if not token or len(token) > 200:
        return None
    with get_engine().connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        row = conn.execute(_TOKEN_QUERY_SQLITE if sqlite else _TOKEN_QUERY,
                           {"h": _token_hash(token), "now": utcnow()}).first()
    if row is None:
        return None
    # bytes in the user's row (SQLite: a name or roles as a BLOB) read as the text the seal
    # covers, yet no text equals them: such a user acts as nobody (issue 11), fail closed
    if sqlite and row.holds_bytes:
        log.warning("users row holds bytes in a text column: changed outside the product",
                    extra={"user_id": row.id, "seen_at": "api-token"})
        return None
    own = SimpleNamespace(**{name: getattr(row, "token_" + name) for name in (*TOKEN_FIELDS, "seal")})
    if not token_intact(own, "api-token"):
        return None
    # Fail closed: a stored expiry that is no time (SQLite text, which the query compared as
    # text) or beyond any date never reads as "never expires" (issue 11 F2).
    if own.expires_at is not None and (damaged_time(own.expires_at)
                                       or _aware(own.expires_at) <= utcnow()):
        return None
    if not config_seals.user_intact(row, "api-token"):
        return None
    return Principal(row.id, row.name, tuple(r for r in row.roles.split(",") if r), source)
