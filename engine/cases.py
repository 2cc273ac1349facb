"""Cases: start one, open one (access checked and logged), read it and its history; what one
command changes in a case (CaseChange) and the write that stores it (write_change).

A command plans its change without any lock (load the workflow, run the engine, serialise, hash
the events) and then writes it in one short transaction that checks the case is still at the
version the plan was made from. Task commands are engine/tasks.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, Row, bindparam, insert, select
from sqlalchemy.orm import Session

from . import audit, due, forms, links, stored_rows, task_rows, workflow_cache, write_refusals
from .adapter import IdSource, dump_state
from .commands import Denied, load_case, log_denied, refusals_logged, run_command
from .driving import Advance, start_workflow, uitkomst_of
from .errors import BadRequest, Conflict, Invalid
from .messages import N_, Message, text_of
from .models import Case, Draft, HistoryEvent, TaskRecord, Timer, utcnow
from .professions import start_data  # the owner's beroepsgroep, recorded at the start
from .roles import AUDITOR, CASE_STARTERS
from .timezones import Stamp  # how a view gives its times
from .users import Principal, may_read_case
from .versions import active_version, definition_for

SYSTEM = "systeem"  # the actor of the engine's own history events

# The product's own tasks beside the diagram (a consult: engine/consults.py) keep the value of
# their name in the row (the asker's name); the words are this template, a Message the web
# layer and the API put in the reader's language. The names of the diagram's tasks are the
# process owner's text, as written.
OWN_TASK_NAMES = {"consult": N_("Vraag van {name}")}
_LEGACY_PREFIX = "Vraag van "  # rows stored before the value alone was (issue 12)


def task_name(step: str | None, stored: str | None) -> str:
    """The name of a task as people read it: for a task of the product's own (OWN_TASK_NAMES)
    a Message with the stored value filled in (Dutch as a str); else the stored name."""
    template = OWN_TASK_NAMES.get(step or "")
    if template is None or stored is None:
        return stored or ""
    return Message(template, name=stored.removeprefix(_LEGACY_PREFIX))


def task_view(row: TaskRecord | Row[Any], stamp: Stamp = audit.iso) -> dict[str, Any]:
    """A task row (the model, or a Core row with its columns) as the API and the pages show
    it: id, case_id, step, name, lane, state, ready_at and due_at (ISO 8601 UTC text, audit.iso,
    or as `stamp` gives it; due_at None without a due date) and urgent (CONTRACT section 5)."""
    return {"id": row.id, "case_id": row.case_id, "step": row.step,
            "name": task_name(row.step, row.name), "lane": row.lane, "state": row.state,
            "ready_at": stamp(row.ready_at),
            "due_at": stamp(row.due_at) if row.due_at is not None else None,
            "urgent": stored_rows.as_flag(row.urgent)}


def _ready_rows(session: Session, case_id: int) -> list[TaskRecord]:
    return list(session.scalars(
        select(TaskRecord)
        .where(TaskRecord.case_id == case_id, TaskRecord.state == "ready")
        .order_by(TaskRecord.ready_at, TaskRecord.id)
    ))


def case_view(session: Session, case: Case, stamp: Stamp = audit.iso) -> dict[str, Any]:
    """The case as the API and the pages show it (see case_dict), its ready tasks read from the
    task rows (no workflow is loaded). Checks no access: the caller has (open_case)."""
    tasks = [task_view(r, stamp) for r in _ready_rows(session, case.id)]
    return case_dict(case, stored_rows.owner_name(case), tasks, stamp, links.linked_ids(session, case.id))


def case_dict(case: Case, owner: str, tasks: list[dict[str, Any]], stamp: Stamp = audit.iso,
              linked: list[int] | None = None) -> dict[str, Any]:
    """The case as a dict: its columns (times as ISO 8601 UTC text, audit.iso, or as `stamp`
    gives them; closed_at and stalled_at None while unset), `owner` (the owner's name), `tasks`
    (task views), `linked_cases` (links.linked_ids) and, on a practice case, `practice`: true."""
    return {
        "id": case.id,
        "client_ref": case.client_ref,
        "reason": case.reason,
        "status": case.status,
        "uitkomst": case.uitkomst,
        "process_version": stored_rows.version_of(case),
        "owner": owner,
        "started_at": stamp(case.started_at),
        "closed_at": stamp(case.closed_at) if case.closed_at else None,
        "stalled_at": stamp(case.stalled_at) if case.stalled_at else None,
        "completed_steps": stored_rows.copied(case.completed_steps), "data": stored_rows.copied(case.data),
        "tasks": tasks,
        "linked_cases": list(linked or []), **({"practice": True} if case.practice else {}),
        **stored_rows.unshown(case),
    }


@dataclass
class CaseChange:
    """What one command does to a case, computed before the write transaction opens.

    Planning (load the workflow, validate, run the engine, serialise, hash the events) is
    the expensive part; it runs without any lock. The write then only checks that the case
    is still at the version the plan was made from, and stores."""

    case: Case  # detached snapshot, updated in place with the new values
    version_id: int
    events: list[dict[str, Any]] = field(default_factory=list)
    new_tasks: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    completed_task: str | None = None
    still_ready: list[dict[str, Any]] = field(default_factory=list)
    # The organisation's settings the due dates of new tasks follow (due.settings: the norm).
    settings: dict[str, Any] = field(default_factory=dict)
    timers: list[dict[str, Any]] | None = None  # the case's waiting timers after it (rows)
    header: Any = None  # the header as write_change stored it (audit.log_access(header=...))

    def event(self, actor: str, action: str, now, step=None, task_id=None, data=None) -> None:
        """Add one history event (audit.new_event: the next seq, chained to the last hash) and
        move the case's event count and last hash on."""
        case = self.case
        row = audit.new_event(case.id, case.event_count + 1, case.last_hash or audit.GENESIS,
                              actor, action, step, task_id, data, now)
        self.events.append(row)
        case.event_count = row["seq"]
        case.last_hash = row["hash"]

    def advanced(self, definition, advance: Advance, before: set[str], now) -> None:
        """Decisions, closing, and the task rows that follow from one engine advance."""
        case = self.case
        data = dict(case.data)
        for step, outputs in advance.decisions:
            data.update(outputs)
            self.event(SYSTEM, "decision_made", now, step=step, data=outputs)
        case.data = data
        for timer in advance.fired:  # timers due when reached went off (engine/timers.py)
            self.timer_fired(timer, now)
        self.timers = [dict(task_id=t.task_id, case_id=case.id, step=t.step, due_at=t.due)
                       for t in advance.timers]
        if advance.completed:
            case.status = "closed"
            case.closed_at = now
            case.uitkomst = uitkomst_of(case.completed_steps, data)
            self.event(SYSTEM, "case_closed", now, data={"uitkomst": case.uitkomst})
        # A case that can no longer go on is never silent: the history says where it waits,
        # and the marker lets listings find it without loading any workflow.
        if advance.stall is not None:
            case.stalled_at = now
            self.event(SYSTEM, "case_stalled", now, data={"waiting_at": advance.stall})
        else:
            case.stalled_at = None
        after = {str(t.id) for t in advance.ready}
        # the product's own consult tasks are no tasks of the workflow (engine/consults.py)
        self.cancelled = sorted(before - after - {self.completed_task} - {
            t["id"] for t in self.still_ready if t["step"] == "consult"})
        if advance.completed:  # an open consult is withdrawn with the closing
            from .consults import withdraw_open  # consults builds on this module

            withdraw_open(self, now)
        # due dates and urgency (engine/due.py, CONTRACT section 5), from the completed step on
        completed = case.completed_steps[-1] if self.completed_task and case.completed_steps \
            else None
        for task in advance.ready:
            if str(task.id) in before:
                continue
            step = definition.steps[task.task_spec.bpmn_id]
            urgent = due.is_urgent(step.id, definition.spec, data)
            self.new_tasks.append(task_rows.sealed(dict(  # sealed: what replay cannot give
                id=str(task.id), case_id=case.id, step=step.id, name=step.name, lane=step.lane,
                owner_id=case.owner_id, state="ready", ready_at=now,
                due_at=due.due_at(step.id, step.lane, data, now, self.settings, completed, urgent),
                urgent=urgent)))

    def timer_fired(self, timer, now) -> None:
        """The history event of a timer that went off (CONTRACT section 5): actor systeem, the
        timer's element as step, its task id, its due time (ISO 8601 UTC) as data."""
        self.event(SYSTEM, "timer_fired", now, step=timer.step, task_id=timer.task_id,
                   data={"due": audit.iso(timer.due)})

    def tasks_view(self) -> list[dict[str, Any]]:
        """The case's ready tasks after this change (task views): those still ready before it,
        less the completed and cancelled ones, then the new ones."""
        gone = set(self.cancelled) | {self.completed_task}
        kept = [t for t in self.still_ready if t["id"] not in gone]
        return kept + [task_view(cast(Any, SimpleNamespace(**row))) for row in self.new_tasks]


class Retry(Exception):
    """The case moved on between planning and writing: plan again."""


# The hot path runs prebuilt Core statements on the session's connection: building ORM
# statements per request cost more than the workflow engine itself.
_cases, _tasks = Case.__table__, TaskRecord.__table__
_UPDATE_CASE = (
    _cases.update()
    .where(_cases.c.id == bindparam("b_id"), _cases.c.version_id == bindparam("b_version"))
    .values(
        status=bindparam("status"), uitkomst=bindparam("uitkomst"),
        closed_at=bindparam("closed_at"), stalled_at=bindparam("stalled_at"),
        workflow_state=bindparam("workflow_state"),
        data=bindparam("data"), completed_steps=bindparam("completed_steps"),
        id_counter=bindparam("id_counter"), last_hash=bindparam("last_hash"),
        event_count=bindparam("event_count"), version_id=bindparam("b_version") + 1,
    )
)
# ... with the header sealed in the same statement (audit.resealed: no read back)
_UPDATE_CASE_SEALED = _UPDATE_CASE.values(header_hash=bindparam("header_hash"))
_COMPLETE_TASK = (
    _tasks.update()
    .where(_tasks.c.id == bindparam("b_id"), _tasks.c.state == "ready")
    .values(state="completed", completed_at=bindparam("at"), completed_by=bindparam("by"))
)
# A completed task needs no drafts any more, whoever kept them (engine/drafts.py): they go in
# the completion's own transaction, whichever door (API, web) completed it.
_DELETE_DRAFTS = Draft.__table__.delete().where(Draft.__table__.c.task_id == bindparam("b_id"))
# ... and so does a task the engine ended (cancelled): its drafts hold free text about a client
# that nobody can finish any more.
DELETE_DRAFTS_OF_TASKS = Draft.__table__.delete().where(
    Draft.__table__.c.task_id.in_(bindparam("ids", expanding=True)))
_CANCEL_TASKS = (
    _tasks.update()
    .where(_tasks.c.id.in_(bindparam("ids", expanding=True)), _tasks.c.state == "ready")
    .values(state="cancelled", completed_at=bindparam("at"))
)

_DELETE_TIMERS = Timer.__table__.delete().where(Timer.__table__.c.case_id == bindparam("b_id"))


def write_change(conn: Connection, change: CaseChange, who: Principal, now: datetime) -> None:
    """Store a planned change on the write connection `conn`: the case row (only if it is still
    at change.version_id, else Retry), its header sealed again, the completed task (and that
    task's drafts), cancelled task rows (their drafts deleted), new task rows, the history
    events. `now`: UTC. Raises Retry when the case moved on since the plan, Conflict when the
    completed task is no longer ready, DamagedCase (409) when the header's seal fails (audit.
    resealed, issue 11); the caller's transaction then rolls back."""
    case = change.case
    # The header as stored (locked on PostgreSQL) is read once (log_access takes it, header=).
    header = audit.read_header(conn, case.id)
    values = {
        "b_id": case.id, "b_version": change.version_id, "status": case.status,
        "uitkomst": case.uitkomst, "closed_at": case.closed_at,
        "stalled_at": case.stalled_at, "workflow_state": case.workflow_state, "data": case.data,
        "completed_steps": case.completed_steps, "id_counter": case.id_counter,
        "last_hash": case.last_hash, "event_count": case.event_count,
    }
    change.header = audit.resealed(case.id, header, {name: values[name] for name in (
        "status", "uitkomst", "closed_at", "event_count", "last_hash")})
    if change.header is not None:  # sealed anew (a broken seal was refused: resealed)
        values["header_hash"] = change.header.header_hash
    result = conn.execute(_UPDATE_CASE_SEALED if "header_hash" in values else _UPDATE_CASE,
                          values)
    if result.rowcount != 1:
        raise Retry()
    if change.completed_task:
        done = conn.execute(_COMPLETE_TASK, {"b_id": change.completed_task, "at": now,
                                             "by": who.name})
        if done.rowcount != 1:
            raise Conflict(N_("Deze taak is al afgerond of staat niet meer open."))
        conn.execute(_DELETE_DRAFTS, {"b_id": change.completed_task})
    if change.cancelled:
        conn.execute(_CANCEL_TASKS, {"ids": change.cancelled, "at": now})
        conn.execute(DELETE_DRAFTS_OF_TASKS, {"ids": change.cancelled})
    if change.new_tasks:
        conn.execute(_tasks.insert(), change.new_tasks)
    if change.events:
        conn.execute(HistoryEvent.__table__.insert(), change.events)
    if change.timers is not None:  # the waiting timers' rows follow the workflow
        conn.execute(_DELETE_TIMERS, {"b_id": case.id})
        if change.timers:
            conn.execute(Timer.__table__.insert(), change.timers)
    if change.new_tasks or change.events:  # who else must act or know hears of it (CONTRACT 5)
        from . import notifications  # notifications reads users: imported when first needed

        notifications.after_change(conn, case, change, getattr(who, "id", None), now)


START_FIELDS = {"client_ref", "reason", links.FIELD}


def start_case(who: Principal, payload: Any) -> dict[str, Any]:
    """Start a case for `who` from {"client_ref": text, "reason", "linked_case" (links.py)}; the case.

    Raises BadRequest for a payload that is not an object, Forbidden (Denied) for a user who
    may not start cases, Invalid (422) naming unknown keys and a missing, blank or too long
    text, Conflict (409) without an active process version. Every door (API, web form) comes
    here, so a refusal is in the access log whichever (NEN 7513): a line without a case, action
    "create" for a 403, "create:invalid" or "create:conflict", outcome denied."""
    with refusals_logged(who, None, "create", new_case=True):
        return _start_case(who, payload)


def _start_case(who: Principal, payload: Any, practice: bool = False) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise BadRequest(N_("Verwacht een JSON-object."))
    errors: dict[str, str] = {str(k)[:100]: N_("Onbekend veld.") for k in payload
                              if k not in START_FIELDS}
    # Texts as forms.clean_text treats them: no white space around them, white space alone is none.
    texts: dict[str, str | None] = {}
    # The client reference is one line (it heads pages and the dossier); the reason may be several.
    for name, limit in (("client_ref", 200), ("reason", 2000)):
        value = payload.get(name)
        try:
            texts[name] = None if value is None else forms.clean_text(
                value, limit, multiline=name == "reason")
        except ValueError as exc:
            errors[name] = text_of(exc)
    client_ref, reason = texts.get("client_ref"), texts.get("reason") or ""
    linked = links.parse(payload, errors)
    if client_ref is None and "client_ref" not in errors:
        errors["client_ref"] = N_("Vul een cliëntreferentie in.")
    if not who.has_role(*CASE_STARTERS):
        refused = Denied(N_("Alleen een medewerker, leidinggevende of aandachtsfunctionaris kan "
                            "een casus starten."), None, "create")
        log_denied(who, refused)  # no case yet: a line without one
        raise refused
    if errors:
        raise Invalid(N_("Ongeldige gegevens."), errors)

    started: list[Any] = []  # the cache gets the new workflow once the start committed

    def run(session: Session):
        version = active_version(session)
        if version is None:
            raise Conflict(N_("Er is geen actieve procesversie; voer 'meldcode init' uit."))
        definition = definition_for(session, version.version)
        now = utcnow()
        case = Case(client_ref=client_ref, reason=reason, owner_id=who.id, practice=practice,
                    process_version=version.version, status="open", workflow_state=b"", event_count=0,
                    data=start_data(session, who.id), completed_steps=[], started_at=now, last_hash="")
        session.add(case)
        session.flush()
        change = CaseChange(case=case, version_id=case.version_id, settings=due.settings(session))
        ids = IdSource(case.id)
        workflow, advance = start_workflow(definition, ids, at=now)
        change.event(who.name, "case_started", now,
                     data={"client_ref": case.client_ref, "reason": case.reason, **case.data})
        change.advanced(definition, advance, set(), now)
        linked_cases = links.link(session, who, change, linked, now)  # both ways, both chains
        case.id_counter, case.workflow_state = ids.counter, dump_state(workflow)
        session.flush()  # the ORM writes the case; the rows below go in as plain inserts
        if change.new_tasks:
            session.execute(insert(TaskRecord), change.new_tasks)
        session.execute(insert(HistoryEvent), change.events)
        if change.timers:
            session.execute(insert(Timer), change.timers)
        audit.seal_case(session, case.id)  # a new case: its header hash starts here
        audit.log_access(session, who, "create", "ok", case=case, source=who.source)
        # as a completion does (engine/tasks.py): the first step then skips load_state
        started[:] = [(str(session.connection().engine.url), case.id), case.version_id, workflow,
                      case.workflow_state]  # the bytes stored: take holds the row's to them
        return case_dict(case, who.name, change.tasks_view(), linked=linked_cases)

    result = run_command(who, run)
    workflow_cache.put(*started)
    return result


def open_case(session: Session, who: Principal, case_id: Any, action: str,
              auditors_only: bool = False) -> Case:
    """The case `who` reads as `action`, the read logged (NEN 7513); a refusal raises Denied,
    which run_command logs in a transaction of its own."""
    case = load_case(session, case_id)
    if auditors_only:
        if not who.has_role(AUDITOR):
            raise Denied(N_("Alleen een auditor mag dit inzien."), case.id, action)
    elif not may_read_case(session, who, case):
        raise Denied(N_("U heeft geen toegang tot deze casus."), case.id, action)
    audit.log_access(session, who, action, "ok", case=case, source=who.source)
    return case


def get_case(who: Principal, case_id: Any, action: str = "read",
             stamp: Stamp = audit.iso) -> dict[str, Any]:
    """The case (case_view, times as `stamp` gives them; write_refusals.unshown) `who` may
    read, the read logged as `action`. Raises NotFound, Denied (logged)."""

    def run(session: Session):  # a broken seal or state named as a write names it (unshown)
        case = open_case(session, who, case_id, action)
        return {**case_view(session, case, stamp), **write_refusals.unshown(case)}

    return run_command(who, run)


def history(who: Principal, case_id: Any) -> list[dict[str, Any]]:
    """The case's history events in order: seq, at (ISO 8601 UTC), actor, action, step, task_id,
    data, hash; the read logged as read_history. Raises NotFound, Denied (logged)."""

    def run(session: Session):
        case = open_case(session, who, case_id, "read_history")
        events = session.scalars(select(HistoryEvent).where(HistoryEvent.case_id == case.id)
                                 .order_by(HistoryEvent.seq))
        return [
            {"seq": e.seq, "at": audit.iso(e.at), "actor": e.actor, "action": e.action,
             "step": e.step, "task_id": e.task_id, "data": e.data, "hash": e.hash}
            for e in events
        ]

    return run_command(who, run)
