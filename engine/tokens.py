"""API tokens (CONTRACT section 5): made for an active user, valid for a number of days or
until revoked, stored only as their SHA-256; the admin log names a token's number, never the
token. principal_for_token is the one read every API request makes. Creating, listing and
revoking tokens as a use case (who may, one transaction) are engine/accounts.py's commands;
the functions here that take a session are their steps."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from . import audit, config_seals, timezones
from .commands import MAX_ID
from .errors import Invalid, NotFound
from .messages import N_, Message
from .models import ApiToken, User, utcnow
from .store import get_engine
from .users import Principal, actor, get_user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MAX_TOKEN_DAYS = 3650


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
    audit.log_admin(session, actor(by), "token_created", {
        "user": user.name, "token_id": row.id,
        "expires": timezones.iso_seconds(row.expires_at) if row.expires_at else None})
    return token


_aware = timezones.to_utc  # SQLite gives back naive datetimes; every stored time is UTC.


NEVER = "-"  # list_tokens: the expiry of a token that never expires


def token_status(token: ApiToken, now: datetime | None = None) -> str:
    """`active`, `revoked` or `expired` (CONTRACT section 5)."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and _aware(token.expires_at) <= (now or utcnow()):
        return "expired"
    return "active"


def list_tokens(session: Session, name: str,
                stamp: timezones.Stamp = timezones.iso_seconds) -> list[dict[str, Any]]:
    """A user's tokens, oldest first: id, created, expires ("-" for never) and status.

    The times as `stamp` gives them: ISO 8601 UTC to the second by default (the command line's
    `token list`), an aware UTC datetime with timezones.to_utc (the beheerder's page).
    Raises NotFound for an unknown name."""
    user = get_user(session, name)
    now = utcnow()
    return [
        {"id": t.id, "created": stamp(t.created_at),
         "expires": stamp(t.expires_at) if t.expires_at is not None else NEVER,
         "status": token_status(t, now)}
        for t in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                 .order_by(ApiToken.id))
    ]


def revoke(session: Session, user: User, token_id: int | None) -> int:
    """Revoke the user's token `token_id`, or with None every one of theirs, that is still
    open (not revoked; an expired one counts too). Returns how many were revoked; no admin
    log line (the caller writes one)."""
    query = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if token_id is not None:
        query = query.where(ApiToken.id == token_id)
    # An UPDATE gives a CursorResult (Session.execute is typed as any Result).
    return cast(CursorResult[Any], session.execute(query.values(revoked_at=utcnow()))).rowcount


def revoke_tokens(session: Session, name: str, token_id: int | None = None, by: Any = None) -> int:
    """Revoke one token of a user (by its number) or, without a number, all of them; returns
    how many were still open. Raises NotFound for an unknown user or a number that is not one
    of theirs."""
    user = get_user(session, name)
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


_u, _t = User.__table__, ApiToken.__table__
_TOKEN_QUERY = (
    # every sealed field: a users row changed outside the product acts as nobody (issue 11)
    select(_u.c.id, *config_seals.USER_COLUMNS, _u.c.seal)
    .select_from(_t.join(_u, _t.c.user_id == _u.c.id))
    .where(_t.c.token_hash == bindparam("h"), _u.c.active.is_(True), _t.c.revoked_at.is_(None),
           or_(_t.c.expires_at.is_(None), _t.c.expires_at > bindparam("now")))
)


def principal_for_token(token: str, source: str | None = None) -> Principal | None:
    """Who holds this API token, or None when it is unknown, revoked, expired or its user is
    switched off: one indexed read on a plain connection (no ORM session), on every API
    request; None too when the user's row does not match its seal (config_seals, logged)."""
    if not token or len(token) > 200:
        return None
    with get_engine().connect() as conn:
        row = conn.execute(_TOKEN_QUERY, {"h": _token_hash(token), "now": utcnow()}).first()
    if row is None or not config_seals.user_intact(row, "api-token"):
        return None
    return Principal(row.id, row.name, tuple(r for r in row.roles.split(",") if r), source)
