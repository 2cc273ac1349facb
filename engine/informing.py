"""Informing the team after a melding (CONTRACT section 5, "Team and time").

After each completion of `melding_doen` the owner's leidinggevende and the
aandachtsfunctionarissen involved in the case (consulted, shared with, or who completed a task
of their lane in it; when none was, every active aandachtsfunctionaris) are informed: one
history event `informed` (actor "systeem", step `melding_doen`, data {"recipients": [names]}),
written in the completion's own transaction through the case's chained history
(cases.CaseChange.event). From then on they may read the case: users.may_read_case asks
`informed_names`, so who may read follows from the hash-chained history alone and replay and
verify need no other record. Notifications for the same recipients (engine/notifications,
another part of issue 13) use `recipients`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, or_, select
from sqlalchemy.orm import Session

from .driving import MELDING_STEP
from .forms import Field
from .messages import N_, Message
from .models import Case, CaseShare, Consult, HistoryEvent, TaskRecord, User
from .roles import AANDACHTSFUNCTIONARIS

INFORMED = "informed"  # the history action (CONTRACT section 5)
SYSTEM = "systeem"  # the actor of the engine's own events (as cases.SYSTEM)
# What the event records, labelled as the timelines show it (entries.event_fields).
EVENT_FIELDS = {INFORMED: [Field("recipients", N_("Ingelicht"), "string")]}
_users = User.__table__


def _candidates() -> Any:
    """One read (it runs in a completion), built once: the active users other than the owner
    who may be an aandachtsfunctionaris (the role text names it; the exact role is checked
    after) or are the owner's leidinggevende (NULL when none: then no id equals it), each with
    whether they were involved in the case (consulted, shared with, or completed an
    aandachtsfunctionaris-lane task of it)."""
    case_id: Any = bindparam("case_id")
    involved = or_(
        _users.c.id.in_(select(CaseShare.user_id).where(CaseShare.case_id == case_id)),
        _users.c.id.in_(select(Consult.user_id).where(Consult.case_id == case_id)),
        _users.c.name.in_(select(TaskRecord.completed_by).where(
            TaskRecord.case_id == case_id, TaskRecord.lane == AANDACHTSFUNCTIONARIS,
            TaskRecord.state == "completed")),
    )
    maybe_expert = _users.c.roles.contains(AANDACHTSFUNCTIONARIS, autoescape=True)
    return (select(_users.c.id, _users.c.name, _users.c.roles, involved.label("involved"))
            .where(_users.c.active.is_(True), _users.c.id != bindparam("owner_id"),
                   or_(maybe_expert, _users.c.id == bindparam("manager_id"))))


_CANDIDATES = _candidates()


def recipients(db: Session | Connection, case: Case) -> list[User]:
    """Who is informed when a melding of `case` is made, sorted by name, without duplicates.

    In: a session or a connection (the caller's transaction) and the case, its `owner` loaded
    (the owner's `manager_id` is read). Out: the active users to inform (detached User objects
    with id, name and roles): the owner's leidinggevende, and the aandachtsfunctionarissen
    involved in the case (consulted, shared with, or who completed an
    aandachtsfunctionaris-lane task of it); when none was involved, every active
    aandachtsfunctionaris. The owner (who makes the melding) is never among them; a practice
    case (engine/practice.py, its melding fictional) informs nobody: the event names no one.
    Rule: CONTRACT section 5. Raises nothing of its own (database errors pass through).
    """
    if case.practice:
        return []
    conn = db.connection() if isinstance(db, Session) else db
    manager_id = case.owner.manager_id
    candidates = conn.execute(_CANDIDATES, {"case_id": case.id, "owner_id": case.owner_id,
                                            "manager_id": manager_id}).all()
    people = {r.id: User(id=r.id, name=r.name, roles_text=r.roles, active=True)
              for r in candidates}
    experts = [r.id for r in candidates if r.involved and AANDACHTSFUNCTIONARIS in
               people[r.id].roles]
    if not experts:
        experts = [r.id for r in candidates if AANDACHTSFUNCTIONARIS in people[r.id].roles]
    found = {user_id: people[user_id] for user_id in experts}
    if manager_id is not None and manager_id in people:
        found[manager_id] = people[manager_id]
    return sorted(found.values(), key=lambda u: u.name)


def event_data(people: list[User]) -> dict[str, Any]:
    """The data of an `informed` event naming `people`: {"recipients": [their names]}."""
    return {"recipients": [u.name for u in people]}


def informed_names(session: Session, case_id: int) -> set[str]:
    """Every user name an `informed` event of case `case_id` names (empty when no melding was
    made yet). A malformed event's data names nobody; verify reports it."""
    names: set[str] = set()
    for data in session.scalars(select(HistoryEvent.data).where(
            HistoryEvent.case_id == case_id, HistoryEvent.action == INFORMED)):
        found = data.get("recipients") if isinstance(data, dict) else None
        if isinstance(found, list):
            names |= {n for n in found if isinstance(n, str)}
    return names


def replay_problem(event: Any, after_melding: bool) -> Message | None:
    """Whether a stored `informed` event fits where replay meets it (engine/replay.py), in
    Dutch, or None. It comes right after a completion of melding_doen (`after_melding`), from
    the system, with step melding_doen and data {"recipients": [names]}; who was informed is
    as recorded (the users and their leidinggevenden of that moment are not in the history)."""
    data = event.data
    if not after_melding:
        return N_("het team wordt ingelicht zonder dat er zojuist een melding is gedaan")
    if event.actor != SYSTEM or event.step != MELDING_STEP:
        return N_("het team wordt ingelicht door iemand anders dan het systeem of niet bij "
                  "'melding_doen'")
    if not (isinstance(data, dict) and set(data) == {"recipients"}
            and isinstance(data["recipients"], list)
            and all(isinstance(n, str) for n in data["recipients"])):
        return N_("het team wordt ingelicht zonder geldige lijst van ontvangers")
    return None
