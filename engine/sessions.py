"""Sign-in and the web sessions of a user: the password checked outside any write
transaction, and the session version a web session carries (raised on sign-out, a password
change, deactivation and a change of roles, it ends every session of the user at once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.orm import Session

from . import config_seals, user_trust
from .form_text import trimmed
from .models import User
from .passwords import hasher_and_dummy
from .store import get_engine, unit_of_work
from .stored_counts import MAX_COUNT
from .users import Principal, name_problem


@dataclass(frozen=True)
class SignedIn:
    """The outcome of a successful sign-in: who, their full name, and the session version the
    new web session must carry."""

    principal: Principal
    display_name: str
    session_version: int


_users = User.__table__
# Every sealed field is read, so the row's seal is checked at sign-in and on every request: a
# users row changed outside the product (a role, a password hash) signs nobody in (issue 11).
_SIGN_IN_QUERY = select(_users.c.id, *config_seals.USER_COLUMNS, _users.c.seal).where(
    _users.c.name == bindparam("name"))
_SESSION_QUERY = select(_users.c.id, *config_seals.USER_COLUMNS, _users.c.seal).where(
    _users.c.id == bindparam("id"))


def sign_in(name: str, password: str, source: str | None = None) -> SignedIn | None:
    """Check a name and password (argon2); SignedIn when they match an active user, else None.

    The row is read on a plain read connection and the slow hash check runs with no
    transaction open at all: a failed sign-in never holds the write lock that case starts and
    completions wait for (issue 11). Only when argon2's parameters changed does a short write
    store the new hash, made before that write begins.
    """
    row, untrusted = None, False
    if name_problem(name) is None:  # a NUL or lone surrogate is no one's name (and no query)
        with get_engine().connect() as conn:
            row = conn.execute(_SIGN_IN_QUERY, {"name": trimmed(name or "")}).first()
            untrusted = row is not None and user_trust.holds_bytes(conn, row.id)
    hasher, dummy = hasher_and_dummy()
    # A row that does not match its seal, or holds bytes its seal cannot tell from text (SQLite:
    # roles as a BLOB), is refused as a wrong password is (the reason only in the log):
    # whoever planted a hash or a role in the database signs in as nobody (issue 11).
    if row is None or not row.active or not config_seals.user_intact(row, "sign-in") \
            or untrusted:
        try:
            hasher.verify(dummy, password or "")  # the same time, whether or not the name exists
        except VerificationError:
            pass
        return None
    try:
        hasher.verify(row.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(row.password_hash):
        new_hash = hasher.hash(password)
        with unit_of_work(write=True) as session:
            # Only if nobody changed the password in between; resealed, the row was intact.
            changed = session.execute(update(User).where(
                User.id == row.id, User.password_hash == row.password_hash,
                User.seal == row.seal).values(password_hash=new_hash))
            if cast(CursorResult[Any], changed).rowcount:
                config_seals.seal(session, row.id)
    roles = tuple(r for r in row.roles.split(",") if r)
    return SignedIn(Principal(row.id, row.name, roles, source), row.display_name or row.name,
                    row.session_version or 0)


def session_version(user_id: int) -> int | None:
    """The session version a web session of this user must carry, or None when the user is
    gone or switched off, or their row does not match its seal (config_seals, logged) or holds
    bytes in a text column (user_trust.holds_bytes, issue 11): an indexed read on a plain
    connection, on every request."""
    with get_engine().connect() as conn:
        row = conn.execute(_SESSION_QUERY, {"id": user_id}).first()
        untrusted = row is not None and user_trust.holds_bytes(conn, row.id)
    if row is None or not row.active or not config_seals.user_intact(row, "session") \
            or untrusted:
        return None
    return row.session_version or 0


def end_sessions(user_id: int) -> None:
    """End every web session of this user (sign-out ends them on every device)."""
    with unit_of_work(write=True) as session:
        row = config_seals.read_user(session, user_id, lock=True)
        # a version stored damaged (stored_counts: text, or a number the next would not fit
        # after) is left as verify names it: no session matches it (its seal) anyway
        session.execute(update(User).where(User.id == user_id, User.session_version.between(
            0, MAX_COUNT - 2)).values(session_version=User.session_version + 1))
        if row is not None and config_seals.user_intact(row, "sign-out"):
            config_seals.seal(session, user_id)  # a broken seal stays broken


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user when name and password match an active user, else None. Kept for callers
    that already hold a session; the web UI signs in through sign_in, outside any write."""
    user = (session.scalar(select(User).where(User.name == trimmed(name or "")))
            if name_problem(name) is None else None)
    hasher, dummy = hasher_and_dummy()
    if user is None or not user.active or not config_seals.user_intact(
            config_seals.read_user(session, user.id), "sign-in") \
            or user_trust.holds_bytes(session.connection(), user.id):
        try:
            hasher.verify(dummy, password or "")
        except VerificationError:
            pass
        return None
    try:
        hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user
