"""Linked cases (issue 14 point 2, CONTRACT section 5: `linked_case`, `linked_cases`).

When the children of a client are in doubt (the kindcheck), the medewerker starts a case of
its own for them, linked to the case it came from. `POST /api/v1/cases` (and the web form) takes
`"linked_case": id`: a case of the same owner, practice with practice and real with real
(engine/models.py `Case.practice`). The link is one row in `case_links`, read both ways, and one
history event `case_linked` in each case's hash chain (data {"case": the other case's id}),
written in the same transaction that starts the new case; replay and verify hold the rows
against those events, so a link added or removed behind the history's back is a finding.
"""

from __future__ import annotations

import contextvars
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, insert, select, union
from sqlalchemy.orm import Session, defer

from . import audit, write_refusals
from .commands import MAX_ID, Denied, load_case, refusals_logged, run_command
from .errors import Conflict, DomainError, Invalid
from .forms import Field
from .messages import N_
from .models import Case, CaseLink, HistoryEvent
from .roles import CASE_STARTERS
from .users import Principal, may_read_case

FIELD = "linked_case"  # the key of POST /api/v1/cases
LINKED = "case_linked"  # the history action, in both cases
# What the event records, labelled as the timelines show it (entries.event_fields).
EVENT_FIELDS = {LINKED: [Field("case", N_("Gekoppelde casus"), "integer")]}

# practice with practice, real with real: the refusal of check and of children_refusal
_APART = N_("Een oefencasus en een echte casus kunnen niet aan elkaar gekoppeld worden.")
_links = CaseLink.__table__
_ID: BindParameter[int] = bindparam("case_id")
# Both ways: the cases this one was linked to, and those linked to it.
_LINKED_IDS = union(select(_links.c.linked_id.label("id")).where(_links.c.case_id == _ID),
                    select(_links.c.case_id.label("id")).where(_links.c.linked_id == _ID))


def parse(payload: dict[str, Any], errors: dict[str, Any]) -> int | None:
    """The id given as `linked_case` in a start payload: an int from 1 to MAX_ID (not a bool,
    not a number as text), or None when the key is absent or null. Anything else sets
    errors["linked_case"] (a Dutch Message) and gives None. Never raises."""
    value = payload.get(FIELD)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        errors[FIELD] = N_("Geef het nummer van een eigen casus (een geheel getal).")
        return None
    return value


def linked_ids(db: Session | Connection, case_id: int) -> list[int]:
    """The ids of the cases linked to case `case_id`, either way, ascending (CONTRACT section
    5: `linked_cases`). One indexed read in the caller's transaction; checks no access."""
    return sorted(db.execute(_LINKED_IDS, {"case_id": case_id}).scalars())


def check(session: Session, who: Principal, linked_id: int, practice: bool) -> Case:
    """The case `linked_id` that a new case of `who` (a practice case or not: `practice`) may
    be linked to: a case `who` owns, practice with practice. Raises Invalid (422) with
    errors["linked_case"] otherwise; a case of someone else reads as no case at all, so the
    refusal tells nothing about it. The case is read without its workflow state."""
    other = session.get(Case, linked_id, options=[defer(Case.workflow_state)])
    if other is None or other.owner_id != who.id:
        raise Invalid(N_("Ongeldige gegevens."),
                      {FIELD: N_("U heeft geen eigen casus met dit nummer.")})
    if bool(other.practice) != bool(practice):
        raise Invalid(N_("Ongeldige gegevens."), {FIELD: _APART})
    # its chain moves on: never on a damaged row, a broken seal or an unreadable state (issue 11)
    write_refusals.refuse_damaged(other)
    return other


def link(session: Session, who: Principal, change: Any, linked_id: int | None, now) -> list[int]:
    """Link the case being started (change: its cases.CaseChange, the case flushed, so it has
    its id and practice flag) to case `linked_id` of the same owner, in the start's transaction:
    the `case_links` row, the event `case_linked` in the new case (added to change.events, which
    the start inserts) and in the other case's chain (inserted here, its header sealed again
    when it was intact, the change in its access log). Out: the new case's `linked_cases`
    ([] without a link). Raises Invalid (check), Conflict (409) when the other case was
    changed meanwhile (the flush's version check, commands.run_command)."""
    if linked_id is None:
        return []
    case = change.case
    other = check(session, who, linked_id, bool(case.practice))
    if _for_children.get():
        # the page's rule again, on the row as this transaction reads it: a case closed
        # between start_for_children's check and this start gets no case for the children
        refusal = children_refusal(who, other)
        if refusal is not None:
            raise refusal
    change.event(who.name, LINKED, now, data={"case": other.id})
    event = audit.new_event(other.id, other.event_count + 1, other.last_hash or audit.GENESIS,
                            who.name, LINKED, data={"case": case.id}, at=now)
    other.event_count, other.last_hash = event["seq"], event["hash"]
    session.flush()  # the other case's row, at the version it was read (else 409)
    audit.seal_case(session, other.id)  # intact: check refused a broken seal
    session.execute(insert(HistoryEvent), [event])
    session.execute(insert(CaseLink), [{"case_id": case.id, "linked_id": other.id,
                                        "created_at": now}])
    audit.log_access(session, who, "link", "ok", case=other, source=who.source)
    return [other.id]


def replay_problem(data: Any) -> str | None:
    """What is wrong with the data of a stored `case_linked` event (None: nothing): it names
    the other case as {"case": id}. For engine/replay.py."""
    case_id = data.get("case") if isinstance(data, dict) else None
    if isinstance(case_id, bool) or not isinstance(case_id, int) or set(data) != {"case"}:
        return N_("de gekoppelde casus ontbreekt in de gebeurtenis")
    return None


def children_in_doubt(data: dict[str, Any]) -> bool:
    """Whether the kindcheck of stap 1 (case data) says the children's safety is in doubt:
    there are children and either their care now or the client's lasting protection of them
    was answered no (CONTRACT section 5: `kindcheck_opvang_adequaat`, `kindcheck_bescherming`)."""
    return data.get("kindcheck_kinderen") is True and (
        data.get("kindcheck_opvang_adequaat") is False or data.get("kindcheck_bescherming") is False)


def page_part(session: Session, who: Principal, case: Case, linked: list[int]) -> dict[str, Any]:
    """What the case page shows of links (no client data of another case): `linked`, each
    {"id", "readable": may `who` read that case (then the page links to it)}, and
    `for_children`: None, or {"doubt": children_in_doubt} exactly when `who` may start a case
    for the children from here (children_refusal gives None: the server takes the same rule)."""
    shown = []
    for other_id in linked:
        other = session.get(Case, other_id, options=[defer(Case.workflow_state)])
        shown.append({"id": other_id,
                      "readable": other is not None and may_read_case(session, who, other)})
    offer = children_refusal(who, case) is None
    doubt = children_in_doubt(dict(case.data or {}))
    return {"linked": shown, "for_children": {"doubt": doubt} if offer else None}


def children_refusal(who: Principal, case: Case) -> DomainError | None:
    """Why `who` may not start a case for the children from `case` ("Casus starten voor de
    kinderen", issue 14 point 2), or None when they may: the owner (with a role that starts
    cases), of an open real case whose kindcheck recorded children (`kindcheck_kinderen` true).
    Out: Denied (403, access-log action "link") for anyone else; Invalid (422, errors
    ["linked_case"]) for a practice case or a case without children; Conflict (409) for a
    closed case. One rule for both doors: the case page offers the form exactly when this is
    None (page_part) and start_for_children raises what it gives, so they cannot drift."""
    if case.owner_id != who.id:
        return Denied(N_("Alleen de eigenaar van deze casus kan hier een casus voor de "
                         "kinderen starten."), case.id, "link")
    if not who.has_role(*CASE_STARTERS):
        return Denied(N_("Alleen een medewerker, leidinggevende of aandachtsfunctionaris kan "
                         "een casus starten."), case.id, "link")
    if case.practice:
        return Invalid(N_("Ongeldige gegevens."), {FIELD: _APART})
    if case.status != "open":
        return Conflict(N_("Deze casus is afgesloten: vanuit een afgesloten casus start u geen "
                           "casus voor de kinderen. Start zo nodig een nieuwe casus."))
    data = case.data if isinstance(case.data, dict) else {}
    if data.get("kindcheck_kinderen") is not True:
        return Invalid(N_("Ongeldige gegevens."), {FIELD: N_(
            "Volgens de kindcheck van deze casus zijn er geen kinderen bij betrokken; een casus "
            "voor de kinderen start u hier pas als de kindcheck kinderen noemt.")})
    return None


def start(who: Principal, payload: Any) -> dict[str, Any]:
    """Start a case (cases.start_case, the door of the API and the case page): when `payload`
    names a linked case by an int, a refusal (422, 409) is also written to that case's access
    log as `link:invalid` or `link:conflict` (NEN 7513: a refused attempt to change that case;
    nothing for an id of no case). Returns and raises what cases.start_case does."""
    from .cases import start_case  # cases builds on this module

    target = payload.get(FIELD) if isinstance(payload, dict) else None
    if isinstance(target, bool) or not isinstance(target, int):
        return start_case(who, payload)
    with refusals_logged(who, target, "link"):
        return start_case(who, payload)


def start_for_children(who: Principal, case_id: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The case page's "Casus starten voor de kinderen": a new case from `values`
    ({"client_ref", "reason"}: texts of a form) linked to case `case_id`, only when the page
    offers it (children_refusal, which it raises: Denied 403, Invalid 422, Conflict 409, each
    in the case's access log as "link", "link:invalid", "link:conflict"; nothing stored).
    NotFound for no such case. Then as cases.start_case (Invalid 422 with field errors,
    nothing stored). Out: the new case (cases.case_dict)."""

    def allowed(session: Session) -> int:
        case = load_case(session, case_id)
        refusal = children_refusal(who, case)
        if isinstance(refusal, Denied):  # who may not act on it learns nothing of its damage
            raise refusal
        write_refusals.refuse_damaged(case)  # the same 409 as the link's own check (issue 11)
        if refusal is not None:
            raise refusal
        return case.id

    with refusals_logged(who, case_id, "link"):  # 422 and 409; run_command logs a Denied
        linked = run_command(who, allowed, write=False)
    # A read first (its refusal names the case page's reasons before the form is checked),
    # then the same rule in the start's own write transaction (link), where the case's row
    # is read under the write lock and its version held to the end: no window between them.
    token = _for_children.set(True)
    try:
        return start(who, {"client_ref": values.get("client_ref"),
                           "reason": values.get("reason"), FIELD: linked})
    finally:
        _for_children.reset(token)


# Set while start_for_children starts its case: link() then holds the linked case to
# children_refusal as well as to check (the API's linked_case keeps CONTRACT section 5's rule).
_for_children: contextvars.ContextVar[bool] = contextvars.ContextVar("for_children", default=False)
