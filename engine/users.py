"""Users, passwords, API tokens and the access rules of CONTRACT section 2."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from .errors import BadRequest
from .roles import AANDACHTSFUNCTIONARIS, AUDITOR, LEIDINGGEVENDE, MEDEWERKER, ROLES
from .store import ApiToken, Case, CaseShare, TaskRecord, User, get_engine


def _make_hasher() -> PasswordHasher:
    # The test suite creates hundreds of users; it may ask for argon2's cheapest parameters.
    # Hashes made that way are upgraded on the next sign-in by check_needs_rehash.
    if os.environ.get("MELDCODE_TEST_FAST_HASH") == "1":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


_hasher = _make_hasher()
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
MIN_PASSWORD = 8
# A fixed hash to verify against when the user does not exist, so timing does not reveal names.
_DUMMY_HASH = _hasher.hash("meldcode-dummy-password")


@dataclass(frozen=True)
class Principal:
    """Who is acting, as the engine needs to know it: no ORM object crosses a transaction."""

    id: int
    name: str
    roles: tuple[str, ...]
    source: str | None = None

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def role_text(self) -> str:
        return ",".join(self.roles)

    @classmethod
    def of(cls, user: User, source: str | None = None) -> Principal:
        return cls(user.id, user.name, tuple(user.roles), source)


def create_user(session: Session, name: str, roles: list[str], password: str,
                manager: str | None = None, display_name: str = "") -> User:
    name = (name or "").strip()
    if not _NAME.match(name):
        raise BadRequest(
            "Ongeldige gebruikersnaam: 2 tot 80 kleine letters, cijfers, punt, streep of "
            "liggend streepje, beginnend met een letter of cijfer."
        )
    if not roles:
        raise BadRequest("Geef minstens één rol op.")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise BadRequest(f"Onbekende rol: {', '.join(unknown)}. Rollen: {', '.join(ROLES)}.")
    if len(password or "") < MIN_PASSWORD:
        raise BadRequest(f"Het wachtwoord moet minstens {MIN_PASSWORD} tekens hebben.")
    if session.scalar(select(User).where(User.name == name)):
        raise BadRequest(f"Gebruiker '{name}' bestaat al.")
    manager_user = None
    if manager:
        manager_user = session.scalar(select(User).where(User.name == manager))
        if manager_user is None:
            raise BadRequest(f"Leidinggevende '{manager}' bestaat niet.")
        if LEIDINGGEVENDE not in manager_user.roles:
            raise BadRequest(f"'{manager}' heeft niet de rol leidinggevende.")
    user = User(
        name=name,
        display_name=display_name or name,
        password_hash=_hasher.hash(password),
        roles_text=",".join(dict.fromkeys(roles)),
        manager_id=manager_user.id if manager_user else None,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.name == (name or "").strip()))
    if user is None or not user.active:
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except VerificationError:
            pass
        return None
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str) -> str:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise BadRequest(f"Gebruiker '{name}' bestaat niet.")
    token = "mc_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token)))
    return token


_u, _t = User.__table__, ApiToken.__table__
_TOKEN_QUERY = (
    select(_u.c.id, _u.c.name, _u.c.roles.label("roles_text"))
    .select_from(_t.join(_u, _t.c.user_id == _u.c.id))
    .where(_t.c.token_hash == bindparam("h"), _u.c.active.is_(True))
)


def principal_for_token(token: str, source: str | None = None) -> Principal | None:
    """Who holds this API token: one indexed read on a plain connection (no ORM session),
    on every API request."""
    if not token or len(token) > 200:
        return None
    with get_engine().connect() as conn:
        row = conn.execute(_TOKEN_QUERY, {"h": _token_hash(token)}).first()
    if row is None:
        return None
    return Principal(row.id, row.name, tuple(r for r in row.roles_text.split(",") if r), source)


# --- access rules -------------------------------------------------------------------------


def may_read_case(session: Session, who: Principal, case: Case) -> bool:
    if who.has_role(AUDITOR) or case.owner_id == who.id:
        return True
    if session.scalar(
        select(exists().where(CaseShare.case_id == case.id, CaseShare.user_id == who.id))
    ):
        return True
    if who.has_role(LEIDINGGEVENDE) and case.owner.manager_id == who.id:
        return True
    if who.has_role(AANDACHTSFUNCTIONARIS) and session.scalar(
        select(exists().where(TaskRecord.case_id == case.id,
                              TaskRecord.lane == AANDACHTSFUNCTIONARIS))
    ):
        return True
    return False


def may_complete(who: Principal, case: Case, lane: str) -> bool:
    if lane == LEIDINGGEVENDE:
        return who.has_role(LEIDINGGEVENDE) and case.owner.manager_id == who.id
    if lane == AANDACHTSFUNCTIONARIS:
        return who.has_role(AANDACHTSFUNCTIONARIS)
    if lane == MEDEWERKER:
        return case.owner_id == who.id
    return False
