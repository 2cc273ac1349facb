"""Tasks: read one with its form, list the ready ones, complete one.

Completing is the hot path of the product: `complete_task` plans the change without any lock
(the workflow from the cache or the stored state, the form validated, the engine advanced) and
writes it in one short transaction (cases.write_change), planning again when another step of
the case was stored meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from . import audit, due, forms, informing, links, organisation, stored_rows, workflow_cache, write_refusals
from .adapter import IdSource, dump_state
from .cases import CaseChange, Retry, case_dict, task_view, write_change
from .commands import Denied, load_case, log_denied, log_refused, run_command
from .driving import complete_in_workflow, task_or_none
from .errors import Conflict, Invalid, NotFound
from .messages import N_
from .models import Case, Consult, TaskRecord, User, utcnow
from .professions import help_values
from .roles import AANDACHTSFUNCTIONARIS, LEIDINGGEVENDE, MEDEWERKER
from .store import get_engine, unit_of_work, write_connection
from .timezones import Stamp, to_utc
from .users import Principal, may_complete
from .versions import is_gone, readable_definition

# The read of every completion runs prebuilt Core statements on a plain connection: building
# ORM statements per request cost more than the workflow engine itself.
_cases, _tasks, _users = Case.__table__, TaskRecord.__table__, User.__table__
_PLAN_QUERY = (
    select(
        _tasks.c.id.label("task_id"), _tasks.c.step, _tasks.c.lane,
        _tasks.c.state.label("task_state"), _cases, _users.c.name.label("owner_name"),
        _users.c.manager_id.label("owner_manager_id"),
        *(c.label(f"t_{c.name}") for c in _tasks.columns),  # each read as stored: refused if damaged
        *due.NORM_COLUMNS,  # the norm the due dates of new tasks follow, and what vouches for it
    )
    .select_from(_tasks.join(_cases, _tasks.c.case_id == _cases.c.id)
                 .join(_users, _cases.c.owner_id == _users.c.id, isouter=True))
    .where(_tasks.c.id == bindparam("task_id"))
)
_READY_QUERY = (
    select(_tasks)
    .where(_tasks.c.case_id == bindparam("case_id"), _tasks.c.state == "ready")
    .order_by(_tasks.c.ready_at, _tasks.c.id)
)
_CASE_COLUMNS = [c.name for c in _cases.columns]


def task_row(session: Session, task_id: Any) -> TaskRecord:
    """The task row of an id from outside (URL or JSON), or NotFound."""
    if not isinstance(task_id, str) or len(task_id) > 36:
        raise NotFound(N_("Taak niet gevonden."))
    row = session.get(TaskRecord, task_id)
    if row is None:
        raise NotFound(N_("Taak niet gevonden."))
    return row


def get_task(who: Principal, task_id: Any, stamp: Stamp = audit.iso,
             also: Callable[[Session, dict[str, Any], dict[str, Any] | None], None] | None = None,
             ) -> dict[str, Any]:
    """The task `who` may complete, as task_view (ready_at as `stamp` gives it) with its
    documentation, its form fields ({"fields": [...]}, help texts with the organisation's
    contacts filled in) and the case's client_ref; the read logged as read_task. `also`, when
    given, adds to the view in the same read transaction, after the access check: it gets
    the session, the view and the case data (None for a consult task or damaged data). A
    case whose process version is gone (versions.readable_definition) gives the task without
    a form and `stored_damage` naming the row's damage (stored_rows.row_damage: a version
    that names nothing, or text where its number belongs). Raises NotFound, Denied (logged)."""

    def run(session: Session):
        view = read(session)
        if also is not None:
            also(session, view, view.pop("_case_data", None))
        view.pop("_case_data", None)
        return view

    def read(session: Session):
        row = task_row(session, task_id)
        if row.step == CONSULT:  # the product's own task beside the diagram
            from .consults import task_detail  # consults builds on cases: imported when needed

            return task_detail(session, who, row, stamp)
        case = load_case(session, row.case_id)
        if not may_complete(who, case, row.lane):
            raise Denied(N_("Deze taak is niet voor u."), case.id, "read_task")
        definition = readable_definition(session, case.process_version)
        audit.log_access(session, who, "read_task", "ok", case=case, source=who.source)
        view = task_view(row, stamp)
        if is_gone(definition):  # the version is gone: no form to offer, the damage named
            view.update(documentation="", form={"fields": []},
                        stored_damage=stored_rows.row_damage(case))
        else:
            step = definition.steps[row.step]
            # Help texts may name the organisation's contacts and the case's afwegingskader as
            # {placeholders}: filled in here, so the web page and the API show the same text.
            # The fields are this case's form's (its owner's beroepsgroep: forms.shown_fields).
            values = help_values(session, case.data)
            view["documentation"] = organisation.fill_in(step.documentation, values)
            view["form"] = {"fields": [
                {**f.as_dict(), "help": organisation.fill_in(f.help, values)}
                for f in forms.shown_fields(step.fields, case.data)
            ]}
        view["client_ref"] = case.client_ref
        # a DamagedData (engine/stored_text.py) reads as nothing
        view["_case_data"] = dict(case.data) if type(case.data) is dict else None
        return view

    return run_command(who, run)


def ready_tasks(who: Principal, limit: int = 500) -> list[dict[str, Any]]:
    """The ready tasks this user may complete (task views), urgent first, then by due date,
    then by ready time (ready_task_rows): one indexed read, no workflow is loaded."""
    with unit_of_work() as session:
        return [task_view(r) for r in ready_task_rows(session, who, limit)]


def ready_task_rows(session: Session, who: Principal, limit: int = 500) -> list[TaskRecord]:
    """The rows of the ready tasks `who` may complete (CONTRACT section 2: their own cases' tasks
    of the medewerker lane, their team's of the leidinggevende lane as leidinggevende, every
    aandachtsfunctionaris task as one), at most `limit`, in the order of CONTRACT section 5:
    urgent first, then by due date (none last), then by ready time (then id). No task of a
    practice case (engine/practice.py): those are on the practice page."""
    conditions = [and_(TaskRecord.lane == MEDEWERKER, TaskRecord.owner_id == who.id)]
    if who.has_role(LEIDINGGEVENDE):
        # their team's, and those of owners without a leidinggevende (CONTRACT section 5)
        team = select(User.id).where(or_(User.manager_id == who.id, User.manager_id.is_(None)))
        conditions.append(and_(TaskRecord.lane == LEIDINGGEVENDE, TaskRecord.owner_id.in_(team)))
    if who.has_role(AANDACHTSFUNCTIONARIS):
        conditions.append(TaskRecord.lane == AANDACHTSFUNCTIONARIS)
    return _with_consults(session, who, limit, list(session.scalars(
        select(TaskRecord)
        # a consult task is only for the person consulted: added by _with_consults (one query
        # per rule keeps the lane conditions on the index)
        .where(TaskRecord.state == "ready", or_(*conditions), TaskRecord.step != CONSULT,
               # practice mode's tasks are on its own page (engine/practice.py), never here
               TaskRecord.case_id.not_in(select(Case.id).where(Case.practice.is_(True))))
        .order_by(TaskRecord.urgent.desc(), TaskRecord.due_at.asc().nulls_last(),
                  TaskRecord.ready_at, TaskRecord.id)
        .limit(limit)
    )))


def _plan_completion(who: Principal, task_id: Any, data: Any, from_web: bool) -> tuple:
    """Read-only: check, validate and run the engine on a copy; no lock is held."""
    if not isinstance(task_id, str) or len(task_id) > 36:
        raise NotFound(N_("Taak niet gevonden."))
    # A plain connection, no ORM session: this read runs on every completion.
    with get_engine().connect() as conn:
        row = conn.execute(_PLAN_QUERY, {"task_id": task_id}).first()
        if row is None:
            raise NotFound(N_("Taak niet gevonden."))
        if row.step == CONSULT:
            raise _ConsultTask()
        # A detached case built from the row: planning never touches the session again.
        case = Case(**{name: getattr(row, name) for name in _CASE_COLUMNS})
        # an owner that is no user (a damaged row) stays None: refuse_damaged names it
        case.owner = None if row.owner_name is None else User(  # type: ignore[assignment]
            id=row.owner_id, name=row.owner_name, manager_id=row.owner_manager_id)
        if not may_complete(who, case, row.lane):
            raise Denied(N_("Deze taak is niet voor u."), case.id, "complete_task")
        # its row as stored: no damaged value, its seal (one HMAC) and owner hold (issue 11)
        write_refusals.refuse_broken_tasks(case, [{c.name: getattr(row, f"t_{c.name}")
                                                   for c in _tasks.columns}])
        if row.task_state != "ready":
            raise Conflict(N_("Deze taak is al afgerond of staat niet meer open."))
        # nothing is built on a damaged row (issue 11); its seal is judged by the write's own
        # HMAC (cases.write_change: audit.resealed refuses), its state by the load below
        write_refusals.refuse_damaged(case, seal=False, state=False)
        definition = readable_definition(conn, case.process_version)
        if is_gone(definition):  # the case built from the row has no session to ask: 409, no 404
            gone = stored_rows.GoneVersion(case.process_version).damage
            raise stored_rows.refusal(case.id, {"process_version": gone})
        owner = row.owner_name
        ready_rows = conn.execute(_READY_QUERY, {"case_id": case.id}).all()
        still_ready = [task_view(r) for r in ready_rows]
        settings = due.settings_of(conn, row)
        cache_key = (str(conn.engine.url), case.id)
        # after a melding the team is informed, in this completion (engine/informing.py)
        informed = None
        if row.step == informing.MELDING_STEP:
            informed = informing.event_data(informing.recipients(conn, case))
    step = definition.steps[row.step]
    try:
        clean = forms.validate(step.fields, data, context=case.data, from_web=from_web)
    except forms.FormInvalid as exc:
        raise Invalid(N_("Het formulier is niet goed ingevuld."), exc.errors) from None
    now = utcnow()
    workflow = write_refusals.workflow_for_write(cache_key, case, definition)
    # The case's ready rows mirror the workflow's ready user tasks (one transaction writes
    # both), so they stand in for a walk of the task tree.
    before = {t["id"] for t in still_ready}
    ids = IdSource(case.id, case.id_counter)
    advance = complete_in_workflow(workflow, row.task_id, clean, ids, at=now)
    change = CaseChange(case=case, version_id=case.version_id, completed_task=row.task_id,
                        still_ready=still_ready, settings=settings)
    case.completed_steps = [*case.completed_steps, row.step]
    case.data = {**case.data, **clean}
    change.event(who.name, "task_completed", now, step=row.step, task_id=row.task_id, data=clean)
    if informed is not None:
        change.event(informing.SYSTEM, informing.INFORMED, now, step=row.step, data=informed)
    change.advanced(definition, advance, before, now)
    if change.cancelled:  # a row it cancels is not written over stored damaged (issue 11)
        write_refusals.refuse_damaged_tasks(case.id, ready_rows, change.cancelled)
    case.id_counter = ids.counter
    case.workflow_state = dump_state(workflow)
    return change, owner, now, workflow, cache_key


# Steps that record what someone outside the organisation does later (Veilig Thuis's feedback
# comes days after the melding): the medewerker is led to them last, not straight after the
# melding (CONTRACT section 5).
WAITS_ON_OTHERS = frozenset({"terugkoppeling_vt"})


def next_task(workflow: BpmnWorkflow, who: Principal, case: Case, completed: str,
              ready: list[dict[str, Any]]) -> str | None:
    """Which of the `ready` tasks (views) `who` should open after completing `completed`:
    in a case with acute_onveiligheid recorded, a task of the melding branch first (the
    melding must not wait); a task that waits on someone outside (WAITS_ON_OTHERS) last; then a
    task that follows from the completed one in the workflow's task tree (the same branch);
    then the first other one. None when `who` may
    complete none of them."""
    acute = case.data.get("acute_onveiligheid") is True
    branch = due.melding_branch(workflow.spec) if acute else frozenset()

    def follows(task_id: str) -> bool:
        task = task_or_none(workflow, task_id)
        while task is not None:
            if str(task.id) == completed:
                return True
            task = task.parent
        return False

    ranked = [
        ((t["step"] not in branch), t["step"] in WAITS_ON_OTHERS, not follows(t["id"]), index,
         t["id"])
        for index, t in enumerate(ready) if may_complete(who, case, t["lane"])
    ]
    return min(ranked)[-1] if ranked else None


def complete_task(who: Principal, task_id: Any, data: Any, from_web: bool = False) -> dict[str, Any]:
    """Validate, apply, advance; from_web: values are an HTML form's strings ("ja", "12").
    The one completion command of every door: the task's drafts (anyone's) are deleted in the
    same transaction that completes it.

    Returns the case (as get_case) with `next_task`: the id of the ready task this person
    should open next (see next_task), or None. Raises Invalid (422) with field errors and
    nothing stored, Conflict when the task is no longer ready, Denied, NotFound. Each refusal
    but NotFound leaves an access-log line with outcome "denied" (NEN 7513): `complete_task`
    (403), `complete_task:invalid` (422), `complete_task:conflict` (409).
    """
    case_id = None
    try:
        for _attempt in range(5):
            try:
                change, owner, now, workflow, cache_key = _plan_completion(who, task_id, data,
                                                                           from_web)
            except Denied as denied:
                log_denied(who, denied)
                raise
            except _ConsultTask:  # answered through engine/consults.py, in one transaction
                from .consults import answer

                return answer(who, task_id, data, from_web)
            case_id = change.case.id
            try:
                with write_connection() as conn:
                    write_change(conn, change, who, now)
                    audit.log_access(conn, who, "update", "ok", case=change.case,
                                     source=who.source, header=change.header)
                    linked = links.linked_ids(conn, change.case.id)  # CONTRACT 5: linked_cases
            except Retry:
                continue  # another step of this case was stored meanwhile: plan again
            tasks = change.tasks_view()
            # before the workflow goes back to the cache, where another request may take it
            following = next_task(workflow, who, change.case, change.completed_task, tasks)
            workflow_cache.put(cache_key, change.version_id + 1, workflow, change.case.workflow_state)
            return {**case_dict(change.case, owner, tasks, linked=linked), "next_task": following}
        raise Conflict(N_("De casus is intussen door iemand anders gewijzigd; probeer opnieuw."))
    except (Invalid, Conflict) as refused:
        # 422 (the form) and 409 (no longer ready) are refused changes: logged (NEN 7513)
        log_refused(who, case_id or case_of_task(task_id), "complete_task", refused)
        raise


def _with_consults(session: Session, who: Principal, limit: int,
                   rows: list[TaskRecord]) -> list[TaskRecord]:
    """`rows` with the ready consult tasks of `who` (engine/consults.py) merged in, in the same
    order (urgent first, then by due date with none last, then ready time and id), at most
    `limit`. One small indexed read; nothing more when `who` is consulted on nothing."""
    mine = list(session.scalars(
        select(TaskRecord).join(Consult, Consult.task_id == TaskRecord.id)
        .where(Consult.user_id == who.id, TaskRecord.state == "ready")))
    if not mine:
        return rows

    def order(row: TaskRecord):
        due = to_utc(getattr(row, "due_at", None))
        return (not getattr(row, "urgent", False), due is None, due or to_utc(row.ready_at),
                to_utc(row.ready_at), row.id)

    return sorted(rows + mine, key=order)[:limit]


class _ConsultTask(Exception):
    """The task to complete is a consult (engine/consults.py), not a step of the diagram."""


CONSULT = "consult"  # the step of a consult task (engine/consults.py)


def case_of_task(task_id: Any) -> int | None:
    """The case a task id belongs to (None: no such task, or no task id at all), for the
    access log of a refusal and a link after a conflict; the case page checks access itself."""
    if not isinstance(task_id, str) or len(task_id) > 36:
        return None
    with unit_of_work() as session:
        return session.scalar(select(TaskRecord.case_id).where(TaskRecord.id == task_id))
