"""Consultations (CONTRACT section 5): the owner of a case, or the owner's leidinggevende, asks
the owner's leidinggevende or an aandachtsfunctionaris a question; that person may read the
case from then on and gets a task (a row of `tasks` with step "consult", lane their role)
whose form has one field, `antwoord`.

These are the product's own tasks beside the diagram: the workflow does not know them. The
history holds `consult_requested` (data: user, question), `consult_answered` (data: antwoord)
and `consult_withdrawn` (a consult still open when its case closes, in the closing
transaction: cases.CaseChange.advanced); replay and verify check the task rows and the rows of
`consults` (who is asked) against those events (diagram_rows, check_consults). A consult never
enters completed_steps and never holds a case open.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from . import audit, commands, due, forms, notifications, organisation, write_refusals
from .cases import CaseChange, case_view, task_view
from .errors import BadRequest, Conflict, Invalid, NotFound
from .messages import N_, Message, text_of
from .models import Case, Consult, Draft, HistoryEvent, TaskRecord, User, utcnow
from .roles import AANDACHTSFUNCTIONARIS, LEIDINGGEVENDE
from .task_rows import sealed
from .timezones import Stamp
from .users import Principal

STEP = "consult"
REQUESTED, ANSWERED, WITHDRAWN = "consult_requested", "consult_answered", "consult_withdrawn"
ACTIONS = (REQUESTED, ANSWERED, WITHDRAWN)
QUESTION_MAX = 2000
ANSWER_MAX = 5000
FIELDS = {"user", "question"}
# The form of a consult task: the answer, nothing else.
FORM = [forms.Field("antwoord", N_("Antwoord"), "text", required=True, maxlength=ANSWER_MAX)]
# What the events record, labelled as the timelines show it (entries.event_fields).
EVENT_FIELDS = {
    REQUESTED: [forms.Field("user", N_("Gevraagd aan"), "string"),
                forms.Field("question", N_("Vraag"), "text")],
    ANSWERED: FORM,
}


def may_ask(who: Principal, case: Case) -> bool:
    """The owner and the owner's leidinggevende ask (CONTRACT section 5); on a practice case
    (engine/practice.py), which only its owner reads, only the owner (who then gets 409)."""
    return case.owner_id == who.id or (  # an owner that is no user (damaged row): nobody's
        not case.practice and who.has_role(LEIDINGGEVENDE) and case.owner is not None
        and case.owner.manager_id == who.id)


def _lane(user: User, case: Case) -> str | None:
    """The role in which `user` can be consulted on `case`: leidinggevende when they lead its
    owner, aandachtsfunctionaris when they have that role; None: they cannot."""
    if LEIDINGGEVENDE in user.roles and case.owner.manager_id == user.id:
        return LEIDINGGEVENDE
    if AANDACHTSFUNCTIONARIS in user.roles:
        return AANDACHTSFUNCTIONARIS
    return None


def candidates(session: Session, who: Principal, case: Case) -> list[dict[str, Any]]:
    """Whom the case page offers to consult (empty when `who` may not ask or the case is
    closed): the owner's leidinggevende, then every active aandachtsfunctionaris, each once,
    {"name", "label", "role", "functie", "telefoon", "email"} with the contact details from
    the organisation's settings where the name matches (one list, not two); nobody for a
    practice case."""
    if not may_ask(who, case) or case.status != "open" or case.practice:
        return []
    contacts = {}
    for person in organisation.read(session).get("aandachtsfunctionarissen") or []:
        if isinstance(person, dict) and person.get("naam"):
            contacts[str(person["naam"]).strip().casefold()] = person
    out: list[dict[str, Any]] = []
    people = session.scalars(select(User).where(User.active.is_(True))
                             .order_by(User.display_name, User.name))
    for user in people:
        lane = _lane(user, case)
        if lane is None or user.id == who.id:
            continue
        label = user.display_name or user.name
        found = contacts.get(label.casefold()) or contacts.get(user.name.casefold()) or {}
        entry = {"name": user.name, "label": label, "role": lane,
                 "functie": found.get("functie") or "", "telefoon": found.get("telefoon") or "",
                 "email": found.get("email") or ""}
        out.insert(0, entry) if lane == LEIDINGGEVENDE else out.append(entry)
    return out


def _check(session: Session, who: Principal, case_id: Any, payload: Any):
    if not isinstance(payload, dict):
        raise BadRequest(N_("Verwacht een JSON-object."))
    case = commands.load_case(session, case_id)
    if not may_ask(who, case):
        raise commands.Denied(N_("Alleen de eigenaar van de casus of diens leidinggevende kan "
                                 "een collega raadplegen."), case.id, "consult")
    write_refusals.refuse_damaged(case)  # nothing is built on a damaged case (issue 11)
    if case.status != "open":
        raise Conflict(N_("Deze casus is afgesloten; er verandert niets meer aan."))
    if case.practice:  # practice mode (engine/practice.py) asks nobody
        raise Conflict(N_("Een oefencasus blijft bij u alleen: u kunt er geen collega bij "
                          "betrekken."))
    errors: dict[str, Any] = {str(k)[:100]: N_("Onbekend veld.") for k in payload
                              if k not in FIELDS}
    user = None
    name, question = payload.get("user"), payload.get("question")
    try:
        name = forms.clean_text(name, 80) if isinstance(name, str) else None
    except ValueError as exc:
        errors["user"] = text_of(exc)
    else:
        user = session.scalar(select(User).where(User.name == name, User.active.is_(True))) \
            if name else None
        if user is None or user.id == who.id or _lane(user, case) is None:
            errors["user"] = N_("Kies de leidinggevende van de eigenaar of een "
                                "aandachtsfunctionaris.")
    question = forms.required_note(question, QUESTION_MAX, N_("Schrijf uw vraag op."), errors,
                                   "question")
    if errors:
        raise Invalid(N_("Ongeldige gegevens."), errors)
    assert user is not None and question is not None
    return case, user, question


def request(who: Principal, case_id: Any, payload: Any) -> dict[str, Any]:
    """Ask a colleague on an open case: payload {"user": name, "question": text}. Out:
    {"id": the consult's number, "task_id"}. The colleague gets a task (step "consult", lane
    their role, its name the asker's name: cases.task_name words it) and a `consult`
    notification, and may read the case from then on; the history gets `consult_requested`
    (data: user, question).
    Raises BadRequest (not an object), NotFound, Denied (403: not the owner nor their
    leidinggevende; logged), Conflict (409: closed, or a practice case), Invalid (422: `user` not the owner's
    leidinggevende nor an aandachtsfunctionaris, or the asker; `question` missing or blank).
    CONTRACT section 5: POST /api/v1/cases/{id}/consults."""

    def run(session: Session):
        case, user, question = _check(session, who, case_id, payload)
        now = utcnow()
        task_id = str(uuid.uuid4())
        asker = session.get_one(User, who.id)
        change = CaseChange(case=case, version_id=case.version_id)
        change.event(who.name, REQUESTED, now, step=STEP, task_id=task_id,
                     data={"user": user.name, "question": question})
        session.flush()  # the case's version is checked: a step stored meanwhile is a 409
        audit.seal_case(session, case.id)  # intact: a broken seal was refused (_check)
        session.execute(insert(HistoryEvent), change.events)
        # the value of the task's name; its words are cases.OWN_TASK_NAMES's
        name = (asker.display_name or asker.name)[:300]
        session.execute(insert(TaskRecord), [sealed(dict(  # task_rows: what replay cannot give
            id=task_id, case_id=case.id, step=STEP, name=name,
            lane=_lane(user, case), owner_id=case.owner_id, state="ready", ready_at=now,
            due_at=due.due_at(STEP, _lane(user, case), case.data, now, {}), urgent=False))])
        consult = Consult(case_id=case.id, task_id=task_id, user_id=user.id)
        session.add(consult)
        session.flush()
        notifications.notify(session, [{
            "user_id": user.id, "at": now, "kind": notifications.CONSULT, "case_id": case.id,
            "task_id": task_id, "params": {"step": name, "task_step": STEP, "case": case.id,
                                           "by": asker.display_name or asker.name}}])
        audit.log_access(session, who, "consult", "ok", case=case, source=who.source)
        return {"id": consult.id, "task_id": task_id}

    return commands.run_command(who, run)


def consulted(session: Session, who: Principal, task_id: str) -> bool:
    """Whether `who` is the person consulted in the consult task `task_id`."""
    return session.scalar(select(Consult.user_id).where(Consult.task_id == task_id)) == who.id


def question_of(session: Session, case_id: int, task_id: str) -> str:
    """The question of a consult task, from its consult_requested event."""
    data = session.scalar(select(HistoryEvent.data).where(
        HistoryEvent.case_id == case_id, HistoryEvent.action == REQUESTED,
        HistoryEvent.task_id == task_id))
    return str((data or {}).get("question") or "")


def task_detail(session: Session, who: Principal, row: TaskRecord,
                stamp: Stamp) -> dict[str, Any]:
    """A consult task as tasks.get_task gives a task (its question as documentation, the
    form FORM); only for the person consulted (else Denied, logged). The read is logged."""
    case = commands.load_case(session, row.case_id)
    if not consulted(session, who, row.id):
        raise commands.Denied(N_("Deze taak is niet voor u."), case.id, "read_task")
    audit.log_access(session, who, "read_task", "ok", case=case, source=who.source)
    return {**task_view(row, stamp), "documentation": question_of(session, case.id, row.id),
            "form": {"fields": [f.as_dict() for f in FORM]}, "client_ref": case.client_ref}


def answer(who: Principal, task_id: str, data: Any, from_web: bool = False) -> dict[str, Any]:
    """Complete a consult task with {"antwoord": text} (the normal task doors call this via
    tasks.complete_task). Out: the case (as cases.get_case) with next_task None. The history
    gets `consult_answered` (data: antwoord). Raises NotFound, Denied (not the person
    consulted; logged), Conflict (no longer ready), Invalid (antwoord missing or too long)."""

    def run(session: Session):
        row = session.get(TaskRecord, task_id)
        if row is None or row.step != STEP:
            raise NotFound(N_("Taak niet gevonden."))
        case = commands.load_case(session, row.case_id)
        if not consulted(session, who, row.id):
            raise commands.Denied(N_("Deze taak is niet voor u."), case.id, "complete_task")
        write_refusals.refuse_damaged(case)  # nothing is built on a damaged case (issue 11)
        if row.state != "ready":
            raise Conflict(N_("Deze taak is al afgerond of staat niet meer open."))
        try:
            clean = forms.validate(FORM, data, from_web=from_web)
        except forms.FormInvalid as exc:
            raise Invalid(N_("Het formulier is niet goed ingevuld."), exc.errors) from None
        now = utcnow()
        change = CaseChange(case=case, version_id=case.version_id)
        change.event(who.name, ANSWERED, now, step=STEP, task_id=row.id, data=clean)
        session.flush()
        audit.seal_case(session, case.id)  # intact: a broken seal was refused above
        session.execute(insert(HistoryEvent), change.events)
        session.execute(update(TaskRecord).where(TaskRecord.id == row.id).values(
            state="completed", completed_at=now, completed_by=who.name))
        session.execute(delete(Draft).where(Draft.task_id == row.id))
        audit.log_access(session, who, "update", "ok", case=case, source=who.source)
        session.expire(row)
        return {**case_view(session, case), "next_task": None}

    return commands.run_command(who, run)


def withdraw_open(change: CaseChange, now) -> None:
    """When a change closes its case: each consult task still ready (change.still_ready) is
    withdrawn (event `consult_withdrawn`, actor systeem) and cancelled with the change."""
    for task in change.still_ready:
        if task["step"] == STEP and task["id"] != change.completed_task:
            change.event("systeem", WITHDRAWN, now, step=STEP, task_id=task["id"])
            change.cancelled.append(task["id"])


def replay_event(event: Any, out: Any, label: Any) -> Any:
    """Apply a consult event during replay to `out` (a replay.Replayed): its consults (task id
    -> "ready", "completed" or "cancelled": what the task row must say), consulted (task id ->
    the name of the person asked: what the consults row must say) and ended (task id -> time
    and actor of its answer, or time of its withdrawal). label: how a problem names the event.
    Out: the problem (a Message, Dutch) when the event does not follow from those before, else
    None."""
    task_id = event.task_id or ""
    state = out.consults.get(task_id)
    if event.action == REQUESTED and state is None and out.status == "open":
        out.consults[task_id] = "ready"
        out.consulted[task_id] = (event.data or {}).get("user")
    elif event.action == ANSWERED and state == "ready":
        out.consults[task_id] = "completed"
        out.ended[task_id] = (event.at, event.actor)
    elif event.action == WITHDRAWN and state == "ready" and out.status == "closed":
        out.consults[task_id] = "cancelled"
        out.ended[task_id] = (event.at, None)
    else:
        return Message(N_("{event}: deze raadpleging past niet bij de gebeurtenissen ervoor"),
                       event=label)
    return None


def diagram_rows(rows: list[Any], consults: dict[str, str], problems: list[Any]) -> list[Any]:
    """verify's split of a case's task rows: the rows of the diagram's tasks are returned (to
    be compared with the workflow's replay); the consult rows are compared with the replayed
    consults (replay_event), a difference added to `problems` (Dutch)."""
    stored = {r.id: r.state for r in rows if r.step == STEP}
    if stored != consults:
        problems.append(Message(N_("de taken van raadplegingen wijken af van de geschiedenis "
                                   "(opgeslagen {have}, na afspelen {want})"),
                                have=len(stored), want=len(consults)))
    return [r for r in rows if r.step != STEP]


def check_consults(stored: list[Any], consulted: dict[str, str]) -> list[Any]:
    """verify's check of a case's rows of the consults table (each with task_id and user: the
    name of the user it names, None for a user that does not exist) against the replayed
    consults (task id -> the name of the person asked, replay_event): a row missing, one the
    history does not hold (it would let its user read the case and answer the task:
    consulted), or one naming someone else. Out: the problems (Dutch)."""
    problems: list[Any] = []
    have = {row.task_id: row.user for row in stored}
    for task_id in sorted(consulted.keys() | have.keys()):
        task = str(task_id)[:8]
        if task_id not in have:
            problems.append(Message(N_("raadpleging {task}: de rij ontbreekt (gevraagd aan "
                                       "{want})"), task=task, want=consulted[task_id]))
        elif task_id not in consulted:
            problems.append(Message(N_("raadpleging {task}: deze rij staat niet in de "
                                       "geschiedenis (voor {have})"), task=task,
                                    have=have[task_id] or "-"))
        elif have[task_id] != consulted[task_id]:
            problems.append(Message(N_("raadpleging {task}: opgeslagen voor {have}, volgens de "
                                       "geschiedenis gevraagd aan {want}"), task=task,
                                    have=have[task_id] or "-", want=consulted[task_id]))
    return problems
