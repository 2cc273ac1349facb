"""Users, passwords, API tokens and the access rules of CONTRACT section 2."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import zxcvbn
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from . import audit, config, forms, timezones
from .errors import Invalid, NotFound
from .messages import N_, Message, text_of
from .models import ApiToken, Case, CaseShare, TaskRecord, User, utcnow
from .roles import AANDACHTSFUNCTIONARIS, AUDITOR, LEIDINGGEVENDE, MEDEWERKER, ROLES
from .store import get_engine, unit_of_work

# The argon2id parameters per MELDCODE_ARGON2_PROFILE (engine.config): "standard" is
# argon2-cffi's default (RFC 9106's low-memory choice, 64 MiB); "fast" its cheapest, for
# development and test runs that create many users. A hash made with other parameters than
# the profile in force is remade on the next sign-in (check_needs_rehash).
ARGON2_PROFILES = {"standard": profiles.RFC_9106_LOW_MEMORY, "fast": profiles.CHEAPEST}
_hashers: dict[str, tuple[PasswordHasher, str]] = {}


def password_hasher() -> PasswordHasher:
    """The argon2 hasher of the configured profile (MELDCODE_ARGON2_PROFILE)."""
    return _hasher_and_dummy()[0]


def _hasher_and_dummy() -> tuple[PasswordHasher, str]:
    profile = config.current().argon2_profile
    made = _hashers.get(profile)
    if made is None:
        hasher = PasswordHasher.from_parameters(ARGON2_PROFILES[profile])
        # A fixed hash to verify against when the user does not exist, so timing does not
        # reveal names.
        made = _hashers[profile] = (hasher, hasher.hash("meldcode-dummy-password"))
    return made


_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")


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


# --- password policy (CONTRACT section 5) -----------------------------------------------------

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; the cap keeps a huge input from costing CPU
# zxcvbn's score 3: more than 10^8 guesses, "safely unguessable" for an online attacker and a
# fair wall against an offline one with argon2. It finds common passwords (its list of the most
# used ones), words, names, keyboard walks, repeats, sequences, dates and years.
MIN_SCORE = 3
# zxcvbn ranks words of English and a few names; these Dutch words and the product's own name
# are what a Dutch care worker reaches for first, so they count as dictionary words too.
COMMON_WORDS = (
    "meldcode", "wachtwoord", "welkom", "geheim", "hallo", "veilig", "thuis", "veiligthuis",
    "zorg", "zorgverlener", "medewerker", "beheerder", "leidinggevende", "kind", "kinderen",
    "gezin", "liefde", "schatje", "voetbal", "ajax", "feyenoord", "psv", "nederland",
    "holland", "amsterdam", "rotterdam", "utrecht", "denhaag", "eindhoven", "groningen",
    "lente", "zomer", "herfst", "winter", "januari", "februari", "maart", "april", "mei",
    "juni", "juli", "augustus", "september", "oktober", "november", "december", "maandag",
    "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag", "wijkteam", "jeugd",
    "jeugdzorg", "huiselijk", "geweld", "kindermishandeling", "inloggen", "gebruiker",
)
# Only the start is scored: zxcvbn's cost grows with the length, and a long password whose
# first 100 characters are strong is strong.
_SCORED = 100


def password_problem(password: str, name: str = "", display_name: str = "") -> str | None:
    """Why a new password is refused, in Dutch, or None when it may be used.

    In: the password and, when known, the user's name and full name (a password built from
    them is easy to guess). The rule is CONTRACT section 5: at least 12 characters and not a
    common password; "common" as zxcvbn judges it (score below 3), with Dutch words added.
    Existing passwords are never checked again: the rule applies when one is set.
    """
    password = password or ""
    # A character no keyboard types and no database stores (NUL, other control characters,
    # a lone surrogate, an invisible or direction-reversing one): the rule of forms.clean_text.
    refused = forms.refused_character(password)
    if refused is not None:
        return forms.refused_character(password, subject=N_("Het wachtwoord"))
    if len(password) < MIN_PASSWORD:
        return Message(N_("Het wachtwoord moet minstens {n} tekens hebben."), n=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return Message(N_("Het wachtwoord mag hoogstens {n} tekens hebben."), n=MAX_PASSWORD)
    if not password.strip():
        return N_("Het wachtwoord mag niet alleen uit spaties bestaan.")
    personal = [p for p in (name, display_name, *(display_name or "").split()) if p]
    result = zxcvbn.zxcvbn(password[:_SCORED], user_inputs=[*personal, *COMMON_WORDS])
    if result["score"] >= MIN_SCORE:
        return None
    return _weakness(result, {p.lower() for p in personal})


def _weakness(result: dict[str, Any], personal: set[str]) -> str:
    """The main reason zxcvbn found, in Dutch: its own feedback is English."""
    matches = sorted(result.get("sequence") or [], key=lambda m: len(m.get("token", "")),
                     reverse=True)
    for match in matches:
        pattern = match.get("pattern")
        if pattern == "dictionary":
            if match.get("dictionary_name") == "user_inputs" and \
                    match.get("matched_word", "").lower() in personal:
                return N_("Het wachtwoord lijkt op uw naam. Kies iets wat niemand met u verbindt.")
            if match.get("dictionary_name") == "passwords":
                return N_("Dit is een veelgebruikt wachtwoord (of lijkt er sterk op). Kies een "
                          "zin van een paar woorden die niet bij elkaar horen.")
            return N_("Het wachtwoord bestaat vooral uit een bekend woord. Voeg woorden toe die "
                      "niet bij elkaar horen.")
        if pattern == "repeat":
            return N_("Het wachtwoord herhaalt steeds dezelfde tekens of reeks. Kies iets anders.")
        if pattern == "sequence":
            return N_("Een reeks zoals 'abcd' of '1234' is makkelijk te raden. Kies iets anders.")
        if pattern == "spatial":
            return N_("Een rij toetsen naast elkaar op het toetsenbord is makkelijk te raden. "
                      "Kies iets anders.")
        if pattern in ("date", "regex"):
            return N_("Jaartallen en datums zijn makkelijk te raden. Kies iets anders.")
    return N_("Het wachtwoord is te makkelijk te raden. Kies een zin van een paar woorden die "
              "niet bij elkaar horen.")


def check_password(password: str, name: str = "", display_name: str = "") -> None:
    """Raise Invalid (422, field `wachtwoord`) when password_problem finds one."""
    problem = password_problem(password, name, display_name)
    if problem:
        raise Invalid(problem, {"wachtwoord": problem})


def generate_password() -> str:
    """A new random password for a reset: 20 characters from an alphabet without look-alikes
    (no 0/O, 1/l/I), in groups of five; about 110 bits."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4)]
    return "-".join(groups)


# --- users ---------------------------------------------------------------------------------------


def _actor(by: Any) -> str:
    """Who did it, for the admin log: from a Principal or a plain name (the command line's
    operating-system user); "systeem" when nobody is named."""
    if by is None:
        return "systeem"
    return by if isinstance(by, str) else by.name


def _text(value: Any, field: str, maxlength: int | None = None) -> str | None:
    """A text of the users' forms (a name, a full name) as forms.clean_text takes it: without
    white space around it, None when empty. A refused character (NUL, another control
    character, a lone surrogate, an invisible or direction-reversing one; PostgreSQL cannot
    even store NUL) is Invalid at `field`, before any query."""
    if value is None:
        return None
    try:
        return forms.clean_text(value, maxlength)
    except ValueError as exc:
        raise Invalid(text_of(exc), {field: text_of(exc)}) from None


def name_problem(name: str) -> str | None:
    """Why a name typed at sign-in cannot be anyone's name, in Dutch (it holds a character
    that forms.clean_text refuses, such as NUL), or None. The sign-in form shows it at once
    instead of asking the database about it."""
    return forms.refused_character((name or "").strip(), subject=N_("De gebruikersnaam"))


def _get_user(session: Session, name: str, field: str = "naam") -> User:
    if name_problem(name) is not None:  # no user has such a name; never sent to the database
        raise NotFound(N_("Deze gebruiker bestaat niet."))
    user = session.scalar(select(User).where(User.name == (name or "").strip()))
    if user is None:
        raise NotFound(Message(N_("Gebruiker '{name}' bestaat niet."), name=name))
    return user


def _check_roles(roles: list[str]) -> list[str]:
    if not roles:
        raise Invalid(N_("Geef minstens één rol op."), {"rollen": N_("Kies minstens één rol.")})
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        message = Message(N_("Onbekende rol: {unknown}. Rollen: {roles}."), unknown=", ".join(unknown),
                          roles=", ".join(ROLES))
        raise Invalid(message, {"rollen": message})
    return list(dict.fromkeys(roles))


def _manager(session: Session, manager: str | None, of: str | None = None) -> User | None:
    manager = _text(manager, "leidinggevende")
    if not manager:
        return None
    user = session.scalar(select(User).where(User.name == manager))
    if user is None:
        message = Message(N_("Leidinggevende '{name}' bestaat niet."), name=manager)
    elif user.name == of:
        message = N_("Iemand kan niet zijn of haar eigen leidinggevende zijn.")
    elif LEIDINGGEVENDE not in user.roles:
        message = Message(N_("'{name}' heeft niet de rol leidinggevende."), name=manager)
    elif not user.active:
        message = Message(N_("'{name}' is uitgeschakeld."), name=manager)
    else:
        return user
    raise Invalid(message, {"leidinggevende": message})


def create_user(session: Session, name: str, roles: list[str], password: str,
                manager: str | None = None, display_name: str = "", by: Any = None) -> User:
    """Add a user. In: a name (2-80 of a-z 0-9 . _ -), roles of CONTRACT section 2, a password
    that passes the policy (password_problem), optionally the name of their leidinggevende,
    a full name and who adds them (for the admin log). Raises Invalid with the field
    (`naam`, `rollen`, `wachtwoord`, `leidinggevende`)."""
    name = _text(name or "", "naam") or ""
    display_name = _text(display_name or "", "weergavenaam", 200) or ""
    if not _NAME.match(name):
        message = N_("Ongeldige gebruikersnaam: 2 tot 80 kleine letters, cijfers, punt, streep of "
                     "liggend streepje, beginnend met een letter of cijfer.")
        raise Invalid(message, {"naam": message})
    roles = _check_roles(roles)
    check_password(password, name, display_name)
    if session.scalar(select(User).where(User.name == name)):
        message = Message(N_("Gebruiker '{name}' bestaat al."), name=name)
        raise Invalid(message, {"naam": message})
    manager_user = _manager(session, manager, name)
    user = User(
        name=name,
        display_name=display_name or name,
        password_hash=password_hasher().hash(password),
        roles_text=",".join(roles),
        manager_id=manager_user.id if manager_user else None,
        session_version=0,
    )
    session.add(user)
    session.flush()
    audit.log_admin(session, _actor(by), "user_added", {
        "user": name, "roles": roles, "manager": manager_user.name if manager_user else None})
    return user


def _end_sessions(user: User) -> None:
    user.session_version = (user.session_version or 0) + 1


def set_password(session: Session, name: str, password: str, by: Any = None) -> User:
    """A new password (the policy applies), which ends every web session of the user.
    Raises NotFound for an unknown name, Invalid (`wachtwoord`) for a refused password."""
    user = _get_user(session, name)
    check_password(password, user.name, user.display_name)
    user.password_hash = password_hasher().hash(password)
    _end_sessions(user)
    audit.log_admin(session, _actor(by), "user_password", {"user": user.name})
    return user


def deactivate(session: Session, name: str, by: Any = None) -> User:
    """Switch a user off: no sign-in, every web session ended, every API token revoked.
    Their cases and history stay. Raises NotFound for an unknown name."""
    user = _get_user(session, name)
    if user.active:
        user.active = False
        _end_sessions(user)
        revoked = _revoke(session, user, None)
        audit.log_admin(session, _actor(by), "user_deactivated",
                        {"user": user.name, "tokens_revoked": revoked})
    return user


def set_roles(session: Session, name: str, roles: list[str], by: Any = None) -> User:
    """Replace the roles of a user; ends their web sessions (a session carries the roles).
    Raises NotFound, or Invalid (`rollen`): an unknown role, none, or taking away
    leidinggevende while others still report to them."""
    user = _get_user(session, name)
    roles = _check_roles(roles)
    if LEIDINGGEVENDE in user.roles and LEIDINGGEVENDE not in roles:
        reports = session.scalars(
            select(User.name).where(User.manager_id == user.id).order_by(User.name)
        ).all()
        if reports:
            message = Message(N_("{name} is nog leidinggevende van {reports}: geef hen eerst een "
                                 "andere leidinggevende."), name=user.name, reports=", ".join(reports))
            raise Invalid(message, {"rollen": message})
    before = user.roles
    if before != roles:
        user.roles_text = ",".join(roles)
        _end_sessions(user)
        audit.log_admin(session, _actor(by), "user_roles",
                        {"user": user.name, "before": before, "roles": roles})
    return user


def set_manager(session: Session, name: str, manager: str | None, by: Any = None) -> User:
    """Give a user another leidinggevende (or none). Raises NotFound, or Invalid
    (`leidinggevende`): unknown, not a leidinggevende, switched off, or the user themself."""
    user = _get_user(session, name)
    manager_user = _manager(session, manager, user.name)
    new_id = manager_user.id if manager_user else None
    if user.manager_id != new_id:
        user.manager_id = new_id
        audit.log_admin(session, _actor(by), "user_manager",
                        {"user": user.name, "manager": manager_user.name if manager_user else None})
    return user


def list_users(session: Session) -> list[dict[str, Any]]:
    """Every user for the beheerder's page: name, full name, roles, leidinggevende, active."""
    managers = {u.id: u.name for u in session.scalars(select(User))}
    return [
        {"name": u.name, "display_name": u.display_name, "roles": u.roles,
         "manager": managers.get(u.manager_id), "active": u.active}
        for u in session.scalars(select(User).order_by(User.name))
    ]


# --- sessions of the web UI ------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    """The outcome of a successful sign-in: who, their full name, and the session version the
    new web session must carry."""

    principal: Principal
    display_name: str
    session_version: int


_users = User.__table__
_SIGN_IN_QUERY = select(
    _users.c.id, _users.c.name, _users.c.display_name, _users.c.roles, _users.c.active,
    _users.c.password_hash, _users.c.session_version,
).where(_users.c.name == bindparam("name"))
_SESSION_QUERY = select(_users.c.active, _users.c.session_version).where(
    _users.c.id == bindparam("id"))


def sign_in(name: str, password: str, source: str | None = None) -> SignedIn | None:
    """Check a name and password (argon2); SignedIn when they match an active user, else None.

    The row is read on a plain read connection and the slow hash check runs with no
    transaction open at all: a failed sign-in never holds the write lock that case starts and
    completions wait for (issue 11). Only when argon2's parameters changed does a short write
    store the new hash, made before that write begins.
    """
    row = None
    if name_problem(name) is None:  # a NUL or lone surrogate is no one's name (and no query)
        with get_engine().connect() as conn:
            row = conn.execute(_SIGN_IN_QUERY, {"name": (name or "").strip()}).first()
    hasher, dummy = _hasher_and_dummy()
    if row is None or not row.active:
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
            # Only if nobody changed the password in between.
            session.execute(update(User).where(User.id == row.id,
                                               User.password_hash == row.password_hash)
                            .values(password_hash=new_hash))
    roles = tuple(r for r in row.roles.split(",") if r)
    return SignedIn(Principal(row.id, row.name, roles, source), row.display_name or row.name,
                    row.session_version or 0)


def session_version(user_id: int) -> int | None:
    """The session version a web session of this user must carry, or None when the user is
    gone or switched off: one indexed read on a plain connection, on every request."""
    with get_engine().connect() as conn:
        row = conn.execute(_SESSION_QUERY, {"id": user_id}).first()
    if row is None or not row.active:
        return None
    return row.session_version or 0


def end_sessions(user_id: int) -> None:
    """End every web session of this user (sign-out ends them on every device)."""
    with unit_of_work(write=True) as session:
        session.execute(update(User).where(User.id == user_id)
                        .values(session_version=User.session_version + 1))


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user when name and password match an active user, else None. Kept for callers
    that already hold a session; the web UI signs in through sign_in, outside any write."""
    user = (session.scalar(select(User).where(User.name == (name or "").strip()))
            if name_problem(name) is None else None)
    hasher, dummy = _hasher_and_dummy()
    if user is None or not user.active:
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


# --- API tokens ----------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MAX_TOKEN_DAYS = 3650


def create_token(session: Session, name: str, days: int | None = None, by: Any = None) -> str:
    """A new API token for an active user, valid for `days` days (None: until revoked).
    Returns the token itself, shown once; only its SHA-256 is stored and the admin log names
    its number, never the token. Raises NotFound, or Invalid (`days`: 1 to 3650)."""
    user = _get_user(session, name)
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
    audit.log_admin(session, _actor(by), "token_created", {
        "user": user.name, "token_id": row.id,
        "expires": _stamp(row.expires_at) if row.expires_at else None})
    return token


_aware = timezones.to_utc  # SQLite gives back naive datetimes; every stored time is UTC.


def _stamp(value: datetime | None) -> str:
    return timezones.iso_seconds(value) if value else "-"


def token_status(token: ApiToken, now: datetime | None = None) -> str:
    """`active`, `revoked` or `expired` (CONTRACT section 5)."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and _aware(token.expires_at) <= (now or utcnow()):
        return "expired"
    return "active"


def list_tokens(session: Session, name: str) -> list[dict[str, Any]]:
    """A user's tokens, oldest first: id, created, expires (ISO 8601 UTC, "-" for never) and
    status. Raises NotFound for an unknown name."""
    user = _get_user(session, name)
    now = utcnow()
    return [
        {"id": t.id, "created": _stamp(t.created_at), "expires": _stamp(t.expires_at),
         "status": token_status(t, now)}
        for t in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                 .order_by(ApiToken.id))
    ]


def _revoke(session: Session, user: User, token_id: int | None) -> int:
    query = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if token_id is not None:
        query = query.where(ApiToken.id == token_id)
    return session.execute(query.values(revoked_at=utcnow())).rowcount


def revoke_tokens(session: Session, name: str, token_id: int | None = None, by: Any = None) -> int:
    """Revoke one token of a user (by its number) or, without a number, all of them; returns
    how many were still open. Raises NotFound for an unknown user or a number that is not one
    of theirs."""
    user = _get_user(session, name)
    if token_id is not None and session.scalar(
        select(func.count()).select_from(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    ) == 0:
        raise NotFound(Message(N_("Gebruiker '{name}' heeft geen token {token}."), name=user.name,
                               token=token_id))
    count = _revoke(session, user, token_id)
    audit.log_admin(session, _actor(by), "token_revoked",
                    {"user": user.name, "token_id": token_id, "revoked": count})
    return count


_u, _t = User.__table__, ApiToken.__table__
_TOKEN_QUERY = (
    select(_u.c.id, _u.c.name, _u.c.roles.label("roles_text"))
    .select_from(_t.join(_u, _t.c.user_id == _u.c.id))
    .where(_t.c.token_hash == bindparam("h"), _u.c.active.is_(True), _t.c.revoked_at.is_(None),
           or_(_t.c.expires_at.is_(None), _t.c.expires_at > bindparam("now")))
)


def principal_for_token(token: str, source: str | None = None) -> Principal | None:
    """Who holds this API token, or None when it is unknown, revoked, expired or its user is
    switched off: one indexed read on a plain connection (no ORM session), on every API
    request."""
    if not token or len(token) > 200:
        return None
    with get_engine().connect() as conn:
        row = conn.execute(_TOKEN_QUERY, {"h": _token_hash(token), "now": utcnow()}).first()
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
