"""Users: who acts (Principal), adding and changing users (names, roles, leidinggevende,
passwords, switching off) with their admin-log lines, and the access rules of CONTRACT
section 2. Passwords are engine/passwords.py's, sign-in and web sessions
engine/sessions.py's, API tokens engine/tokens.py's.

The functions that take a session are the steps of a use case inside its transaction; the use
cases themselves (who may, the rules about oneself, one transaction, the refusal's admin-log
line) are engine/accounts.py's commands, which every door calls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from . import audit, config_seals, forms, store  # noqa: F401 - config_seals seals each users row written
from .errors import Invalid, NotFound
from .messages import N_, Message, text_of
from .models import Case, CaseShare, Consult, TaskRecord, User
from .passwords import check_password, password_hasher
from .roles import AANDACHTSFUNCTIONARIS, AUDITOR, LEIDINGGEVENDE, MEDEWERKER, ROLES
from .stored_rows import damage_fields, object_damage, refuse_damaged_version

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


# --- users ---------------------------------------------------------------------------------------


def actor(by: Any) -> str:
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
    return forms.refused_character(forms.trimmed(name or ""), subject=N_("De gebruikersnaam"))


def get_user(session: Session, name: str, field: str = "naam") -> User:
    """The user named `name` (white space around it ignored), in this session. Raises
    NotFound for a name no user has, one with a refused character included (never sent to
    the database)."""
    if name_problem(name) is not None:  # no user has such a name; never sent to the database
        raise NotFound(N_("Deze gebruiker bestaat niet."))
    user = session.scalar(select(User).where(User.name == forms.trimmed(name or "")))
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
                manager: str | None = None, display_name: str = "", by: Any = None,
                email: str | None = None, demo: bool = False,
                beroepsgroep: str | None = None) -> User:
    """Add a user. In: a name (2-80 of a-z 0-9 . _ -), roles of CONTRACT section 2, a password
    that passes the policy (password_problem), optionally the name of their leidinggevende,
    a full name, an e-mail address for notifications (CONTRACT section 5: `user add
    --email`) and who adds them (for the admin log); demo: a demo user of `init --demo`,
    who may have the published demo password; beroepsgroep: the professional group whose
    afwegingskader they follow (check_beroepsgroep; None: the organisation's). Raises Invalid
    with the field (`naam`, `rollen`, `wachtwoord`, `leidinggevende`, `email`, `weergavenaam`,
    `beroepsgroep`): every field that is wrong at once, its message the first refusal's."""
    errors: dict[str, Any] = {}
    first: list[Any] = []  # the message of the first refusal: the command line prints it

    def checked(check, *args):
        try:
            return check(*args)
        except Invalid as exc:
            first.append(exc.message)
            errors.update(exc.errors if isinstance(exc.errors, dict) else {})
            return None

    email = checked(check_email, email)
    beroepsgroep = checked(check_beroepsgroep, beroepsgroep)
    name = checked(_text, name or "", "naam") or ""
    display_name = checked(_text, display_name or "", "weergavenaam", 200) or ""
    if "naam" not in errors and not _NAME.match(name):
        message = N_("Ongeldige gebruikersnaam: 2 tot 80 kleine letters, cijfers, punt, streep of "
                     "liggend streepje, beginnend met een letter of cijfer.")
        first.append(message)
        errors["naam"] = message
    roles = checked(_check_roles, roles) or []
    checked(check_password, password, name, display_name, demo)
    store.key_lock(session, "users.name", name)  # the check and the insert: one step (issue 11)
    if "naam" not in errors and session.scalar(select(User).where(User.name == name)):
        message = Message(N_("Gebruiker '{name}' bestaat al."), name=name)
        first.append(message)
        errors["naam"] = message
    manager_user = checked(_manager, session, manager, name)
    if errors:  # every field's error at once, as a form shows them
        raise Invalid(first[0], errors)
    user = User(
        name=name,
        display_name=display_name or name,
        password_hash=password_hasher().hash(password),
        roles_text=",".join(roles),
        manager_id=manager_user.id if manager_user else None,
        session_version=0,
        email=email,
        beroepsgroep=beroepsgroep,
    )
    session.add(user)
    session.flush()
    audit.log_admin(session, actor(by), "user_added", {
        "user": name, "roles": roles, "manager": manager_user.name if manager_user else None,
        **({"beroepsgroep": beroepsgroep} if beroepsgroep else {})})
    return user


# The value that gives a user back the organisation's beroepsgroep (`user beroepsgroep NAME
# organisatie`, the beheerder's choice "zoals de organisatie").
ORGANISATION_GROUP = "organisatie"


def check_beroepsgroep(value: Any) -> str | None:
    """A user's beroepsgroep as stored: the key of organisation.BEROEPSGROEPEN that `value`
    names (a key, or a short name such as "knmg" or "vvn": organisation.beroepsgroep_key), or
    None for none (None, empty, or "organisatie"): the organisation's setting applies (issue
    14 point 3). Raises Invalid (`beroepsgroep`, Dutch, naming the choices) for anything else."""
    from . import organisation  # organisation builds on accounts, which builds on users

    if value is None or (isinstance(value, str) and value.strip().lower() in ("", ORGANISATION_GROUP)):
        return None
    key = organisation.beroepsgroep_key(value)
    if key is None:
        message = Message(N_("Onbekende beroepsgroep '{value}'. Kies uit: {choices}."),
                          value=str(value)[:40], choices=", ".join(
                              [*organisation.BEROEPSGROEP_ALIASES, *organisation.BEROEPSGROEPEN,
                               ORGANISATION_GROUP]))
        raise Invalid(message, {"beroepsgroep": message})
    return key


def set_beroepsgroep(session: Session, name: str, value: Any, by: Any = None) -> User:
    """Give a user another beroepsgroep (check_beroepsgroep; None or "organisatie": the
    organisation's), with an admin-log line `user_beroepsgroep` when it changes. Cases the user
    own keep the group recorded at their start or handover (engine/professions.py). Raises
    NotFound for an unknown name, Invalid (`beroepsgroep`) for an unknown group."""
    user = get_user(session, name)
    key = check_beroepsgroep(value)
    if user.beroepsgroep != key:
        user.beroepsgroep = key
        audit.log_admin(session, actor(by), "user_beroepsgroep",
                        {"user": user.name, "beroepsgroep": key or ORGANISATION_GROUP})
    return user


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def check_email(value: Any) -> str | None:
    """An e-mail address as stored: without white space around it; None for none (empty).
    Raises Invalid (`email`, Dutch) for text that is no address (one @, a dot in the domain,
    no spaces or control characters, at most 320 characters)."""
    text = _text(value, "email", 320) if value is not None else None
    if text and not _EMAIL.match(text):
        message = Message(N_("'{value}' is geen geldig e-mailadres."), value=text[:80])
        raise Invalid(message, {"email": message})
    return text or None


def set_email(session: Session, name: str, email: str | None, by: Any = None) -> User:
    """Give a user another e-mail address for notifications, or none (None or empty).
    Raises NotFound for an unknown name, Invalid (`email`) for a malformed address."""
    user = get_user(session, name)
    email = check_email(email)
    if user.email != email:
        user.email = email
        audit.log_admin(session, actor(by), "user_email", {"user": user.name})
    return user


def _end_sessions(user: User) -> None:
    refuse_damaged_version(user)  # a damaged version is never written over (issue 11)
    user.session_version = (user.session_version or 0) + 1


def set_password(session: Session, name: str, password: str, by: Any = None) -> User:
    """A new password (the policy applies), which ends every web session of the user.
    Raises NotFound for an unknown name, Invalid (`wachtwoord`) for a refused password."""
    user = get_user(session, name)
    check_password(password, user.name, user.display_name)
    user.password_hash = password_hasher().hash(password)
    _end_sessions(user)
    audit.log_admin(session, actor(by), "user_password", {"user": user.name})
    return user


def deactivate(session: Session, name: str, by: Any = None) -> User:
    """Switch a user off: no sign-in, every web session ended, every API token revoked.
    Their cases and history stay. A leidinggevende switched off is nobody's leidinggevende
    any more: the people who reported to them have none until the beheerder names another,
    so their leidinggevende tasks (besluit_afstemmen) go to every leidinggevende (CONTRACT
    section 5) instead of waiting for someone who cannot sign in. Raises NotFound for an
    unknown name."""
    user = get_user(session, name)
    if user.active:
        user.active = False
        _end_sessions(user)
        from . import tokens  # tokens looks users up here: imported when first needed

        revoked = tokens.revoke(session, user, None)
        reports = list(session.scalars(select(User).where(User.manager_id == user.id)
                                       .order_by(User.name)))
        for report in reports:
            report.manager_id = None
        details: dict[str, Any] = {"user": user.name, "tokens_revoked": revoked}
        if reports:
            details["reports"] = [r.name for r in reports]
        audit.log_admin(session, actor(by), "user_deactivated", details)
    return user


def set_roles(session: Session, name: str, roles: list[str], by: Any = None) -> User:
    """Replace the roles of a user; ends their web sessions (a session carries the roles).
    Raises NotFound, or Invalid (`rollen`): an unknown role, none, or taking away
    leidinggevende while others still report to them."""
    user = get_user(session, name)
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
        audit.log_admin(session, actor(by), "user_roles",
                        {"user": user.name, "before": before, "roles": roles})
    return user


def set_manager(session: Session, name: str, manager: str | None, by: Any = None) -> User:
    """Give a user another leidinggevende (or none). Raises NotFound, or Invalid
    (`leidinggevende`): unknown, not a leidinggevende, switched off, or the user themself."""
    user = get_user(session, name)
    manager_user = _manager(session, manager, user.name)
    new_id = manager_user.id if manager_user else None
    if user.manager_id != new_id:
        user.manager_id = new_id
        audit.log_admin(session, actor(by), "user_manager",
                        {"user": user.name, "manager": manager_user.name if manager_user else None})
    return user


def list_users(session: Session) -> list[dict[str, Any]]:
    """Every user for the beheerder's page: name, full name, roles, leidinggevende, active,
    e-mail, beroepsgroep (None: the organisation's), damaged: what of the row is stored
    damaged (stored_rows.damage_fields, Dutch) or None; such a user cannot sign in (issue 11)."""
    managers: dict[int | None, str] = {u.id: u.name for u in session.scalars(select(User))}
    return [
        {"name": u.name, "display_name": u.display_name, "roles": u.roles,
         "manager": managers.get(u.manager_id), "active": u.active, "email": u.email,
         "beroepsgroep": u.beroepsgroep,
         "damaged": damage_fields(found) if (found := object_damage(u)) else None}
        for u in session.scalars(select(User).order_by(User.name))
    ]


# --- access rules -------------------------------------------------------------------------


def _had_task_in(session: Session, case: Case, lane: str) -> bool:
    # A consult task carries its person's role as lane, but opens the case to that person only
    # (the Consult row, below): it is no task of the diagram's lane.
    return bool(session.scalar(select(exists().where(
        TaskRecord.case_id == case.id, TaskRecord.lane == lane, TaskRecord.step != "consult"))))


def may_read_case(session: Session, who: Principal, case: Case) -> bool:
    """May `who` read `case` (its page, history, dossier)? CONTRACT section 2, and section 5:
    a leidinggevende also reads the cases of an owner without a leidinggevende that have or had
    a leidinggevende-lane task (they may complete it), and whoever an `informed` event of the
    case names (after a melding: engine/informing.py) reads it from then on. Reads the shares,
    task rows and informed events of the case through `session`; raises nothing.
    A practice case (engine/practice.py) is read by its owner and an auditor only."""
    if who.has_role(AUDITOR) or case.owner_id == who.id:
        return True
    if case.practice:
        return False
    if session.scalar(
        select(exists().where(CaseShare.case_id == case.id, CaseShare.user_id == who.id))
    ):
        return True
    if who.has_role(LEIDINGGEVENDE) and _manager_of(case) == who.id:
        return True
    if session.scalar(select(exists().where(Consult.case_id == case.id,
                                            Consult.user_id == who.id))):
        return True  # consulted on the case (CONTRACT section 5, engine/consults.py)
    if who.has_role(LEIDINGGEVENDE) and _manager_of(case) is None and \
            _had_task_in(session, case, LEIDINGGEVENDE):
        return True
    if who.has_role(AANDACHTSFUNCTIONARIS) and _had_task_in(session, case, AANDACHTSFUNCTIONARIS):
        return True
    from . import informing  # informing reads users: imported when first needed

    return who.name in informing.informed_names(session, case.id)


def _manager_of(case: Case) -> Any:
    """The manager_id of the case's owner; for an owner that is no user (a damaged row) a value
    equal to no id and not None, so no leidinggevende reads or acts by it (fail closed)."""
    return _NO_OWNER if case.owner is None else case.owner.manager_id


_NO_OWNER = object()


def may_complete(who: Principal, case: Case, lane: str) -> bool:
    """May `who` complete a task of `lane` in `case` (its owner loaded)? CONTRACT sections 2
    and 5: the medewerker lane is the owner's; the leidinggevende lane the owner's
    leidinggevende's, or any leidinggevende's when the owner has none; the
    aandachtsfunctionaris lane any aandachtsfunctionaris's; every lane of a practice case
    (engine/practice.py) its owner's, who walks the whole diagram alone. No database read."""
    if getattr(case, "practice", False):
        return case.owner_id == who.id
    if lane == LEIDINGGEVENDE:
        return who.has_role(LEIDINGGEVENDE) and _manager_of(case) in (who.id, None)
    if lane == AANDACHTSFUNCTIONARIS:
        return who.has_role(AANDACHTSFUNCTIONARIS)
    if lane == MEDEWERKER:
        return case.owner_id == who.id
    return False
