"""Handing a case over to a colleague, and sharing it with an aandachtsfunctionaris.

A medewerker who falls ill or leaves must not leave a case stuck: the owner, or the owner's
leidinggevende, hands it over; the new owner then reads it and completes its medewerker
steps (CONTRACT section 2: "cases they own or were handed"). Sharing gives an
aandachtsfunctionaris read access ("cases ... shared with them"). Both are history events
(`case_handed_over`, `case_shared`) in the case's hash chain, so replay knows who owned and
who could read the case at every moment, and verify catches an owner or a share that was
changed in the database behind the history's back.

A handover to a colleague of another beroepsgroep gives the case that group from then on
(engine/professions.py handed_over, issue 14 point 3): recorded in the same event, only when it
changes, so the history shows the change and replay makes it again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from . import audit, cases, commands, forms, professions, write_refusals
from .errors import BadRequest, Conflict, Invalid
from .forms import Field
from .messages import N_, Message, text_of
from .models import Case, CaseShare, Draft, HistoryEvent, TaskRecord, User, utcnow
from .roles import AANDACHTSFUNCTIONARIS, CASE_STARTERS, LEIDINGGEVENDE
from .users import Principal

FIELDS = {"user", "reason"}
REASON_MAX = 2000
USER_MAX = 80  # a user name (users._NAME) is at most 80 characters

# What these events record, labelled as the timelines and the dossier show it.
EVENT_FIELDS = {
    "case_handed_over": [Field("from", N_("Van"), "string"), Field("to", N_("Aan"), "string"),
                         Field("reason", N_("Reden"), "text"), *professions.HANDOVER_FIELDS],
    "case_shared": [Field("with", N_("Gedeeld met"), "string"), Field("reason", N_("Reden"), "text")],
}


def may_manage(who: Principal, case: Case) -> bool:
    """The owner and the owner's leidinggevende decide who else works on or reads a case; a
    practice case (engine/practice.py) only its owner, the one who reads it: the leidinggevende
    gets 403 as anyone else who may not read it, not a 409 that tells them what it is."""
    return case.owner_id == who.id or (  # an owner that is no user (damaged row): nobody's
        not case.practice and who.has_role(LEIDINGGEVENDE) and case.owner is not None
        and case.owner.manager_id == who.id)


def _request(session: Session, who: Principal, case_id: Any, payload: Any, action: str,
             roles: tuple[str, ...], what: str) -> tuple[Case, User, str]:
    """The case (may `who` change it, is it open), then the colleague and the reason, every
    field's error at once."""
    if not isinstance(payload, dict):
        raise BadRequest(N_("Verwacht een JSON-object."))
    case = commands.load_case(session, case_id)
    if not may_manage(who, case):
        raise commands.Denied(
            N_("Alleen de eigenaar van de casus of diens leidinggevende mag dit doen."), case.id, action)
    write_refusals.refuse_damaged(case)  # nothing is built on a damaged case (issue 11)
    if case.status != "open":
        raise Conflict(N_("Deze casus is afgesloten; er verandert niets meer aan."))
    if case.practice:  # practice mode (engine/practice.py): handed to nobody, shared with nobody
        raise Conflict(N_("Een oefencasus blijft bij u alleen: u kunt er geen collega bij "
                          "betrekken."))
    errors: dict[str, str] = {str(k)[:100]: N_("Onbekend veld.") for k in payload
                              if k not in FIELDS}
    # Both are texts as forms.clean_text takes them (the one text rule): the name one line,
    # the reason free text that keeps its newlines and tabs; a control character (NUL among
    # them), a lone surrogate, a bidi override or an invisible space is refused at its field.
    name, reason = payload.get("user"), payload.get("reason")
    colleague = None
    try:
        name = forms.clean_text(name, USER_MAX) if isinstance(name, str) else None
    except ValueError as exc:
        errors["user"] = text_of(exc)
    else:
        if name is None:
            errors["user"] = N_("Kies een collega.")
        else:
            colleague = session.scalar(select(User).where(User.name == name,
                                                          User.active.is_(True)))
            if colleague is None or not set(colleague.roles) & set(roles):
                errors["user"] = Message(N_("Geen {role} met deze gebruikersnaam."), role=what)
    reason = forms.required_note(reason, REASON_MAX, N_("Schrijf op waarom."), errors, "reason")
    if errors:
        raise Invalid(N_("Ongeldige gegevens."), errors)
    assert colleague is not None and reason is not None  # no errors: both were given
    return case, colleague, reason


def _record(session: Session, who: Principal, case: Case, event: str, access: str,
            data: dict[str, Any]) -> None:
    """Store the change to the case with its history event (chained) and access-log line, its
    header sealed again (intact: _request refused a broken seal). The flush checks the case's
    version: a step stored meanwhile makes this a 409."""
    change = cases.CaseChange(case=case, version_id=case.version_id)
    change.event(who.name, event, utcnow(), data=data)
    session.flush()
    audit.seal_case(session, case.id)
    session.execute(insert(HistoryEvent), change.events)
    audit.log_access(session, who, access, "ok", case=case, source=who.source)


def hand_over(who: Principal, case_id: Any, payload: Any) -> dict[str, Any]:
    """Make another colleague the owner of an open case; returns the case (cases.case_view).

    payload: {"user": the colleague's name, "reason"}. The case follows the new owner's
    beroepsgroep from now on (professions.handed_over: the case data, the event's data, drafts
    of its open tasks cut to the new form), all in this transaction. Raises BadRequest,
    Denied (not the owner or their leidinggevende), Conflict (closed, practice, changed
    meanwhile), Invalid (every wrong field). CONTRACT section 2; issue 14 point 3."""

    def run(session: Session):
        case, new_owner, reason = _request(session, who, case_id, payload, "hand_over",
                                           CASE_STARTERS, N_("medewerker"))
        if new_owner.id == case.owner_id:
            raise Invalid(N_("Ongeldige gegevens."), {"user": N_("Deze collega is al eigenaar.")})
        # the inbox rows carry the owner: none is written over stored damaged, over a broken
        # seal or an owner not the case's (the evidence verify names, issue 11)
        write_refusals.refuse_broken_tasks(case, session.scalars(
            select(TaskRecord).where(TaskRecord.case_id == case.id)))
        old_owner = case.owner
        case.owner_id = new_owner.id
        # the old owner's drafts of this case go with the case
        session.execute(update(TaskRecord).where(TaskRecord.case_id == case.id)
                        .values(owner_id=new_owner.id))
        task_ids = select(TaskRecord.id).where(TaskRecord.case_id == case.id)
        session.execute(delete(Draft).where(Draft.user_id == old_owner.id,
                                            Draft.task_id.in_(task_ids)))
        group = professions.handed_over(session, case, new_owner.id)  # the new owner's group
        _record(session, who, case, "case_handed_over", "hand_over",
                {"from": old_owner.name, "to": new_owner.name, "reason": reason, **group})
        session.expire(case, ["owner"])
        return cases.case_view(session, case)

    return commands.run_command(who, run)


def share(who: Principal, case_id: Any, payload: Any) -> dict[str, Any]:
    """Let an aandachtsfunctionaris read an open case; returns the case."""

    def run(session: Session):
        case, reader, reason = _request(session, who, case_id, payload, "share",
                                        (AANDACHTSFUNCTIONARIS,), N_("aandachtsfunctionaris"))
        if session.scalar(select(CaseShare.id).where(CaseShare.case_id == case.id,
                                                     CaseShare.user_id == reader.id)):
            raise Conflict(N_("De casus is al met deze collega gedeeld."))
        _record(session, who, case, "case_shared", "share", {"with": reader.name, "reason": reason})
        session.add(CaseShare(case_id=case.id, user_id=reader.id))
        return cases.case_view(session, case)

    return commands.run_command(who, run)


def candidates(session: Session, who: Principal, case: Case) -> dict[str, list[dict[str, str]]]:
    """Whom the case page offers: colleagues to hand over to, aandachtsfunctionarissen to
    share with (not those who already read it); nobody for a practice case."""
    if not may_manage(who, case) or case.status != "open" or case.practice:
        return {"hand_over": [], "share": []}
    shared = set(session.scalars(select(CaseShare.user_id).where(CaseShare.case_id == case.id)))
    people = session.scalars(select(User).where(User.active.is_(True)).order_by(User.display_name,
                                                                               User.name))
    hand_over, share_with = [], []
    for user in people:
        entry = {"name": user.name, "label": user.display_name or user.name}
        if user.id != case.owner_id and set(user.roles) & set(CASE_STARTERS):
            hand_over.append(entry)
        if AANDACHTSFUNCTIONARIS in user.roles and user.id not in shared:
            share_with.append(entry)
    return {"hand_over": hand_over, "share": share_with}
