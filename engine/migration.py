"""Stuck cases, and moving open cases to another process version.

A case that is open with no ready step and no waiting timer is stuck: the engine records it
(`case_stalled` in its history, `cases.stalled_at` as the marker), and the listings here find
it without loading any workflow.

A case keeps the version it started on. A procesbeheerder may move all open cases of one
version to another deployed version where their current steps exist. The move is proved on
each case's own workflow before anything is written (SpiffWorkflow's diff_workflow and
migrate_workflow carry the state over; its ready steps must be the same afterwards and it
must store and restore on the new version), then recorded per case as a `case_migrated`
event, all cases in one transaction. Replay runs the same move_workflow at that event, so a
moved case verifies. Practice cases stay on their version: they hold no move up, nor count.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import adapter, audit, driving, due, form_choices, task_rows, timers, versions, write_refusals
from .cases import DELETE_DRAFTS_OF_TASKS, CaseChange, task_view
from .commands import refusal_logged
from .definitions import ProcessDefinition
from .errors import BadRequest, Conflict, Forbidden, NotFound
from .forms import Field
from .messages import N_, Message
from .models import Case, HistoryEvent, ProcessVersion, TaskRecord, Timer, User, utcnow
from .pages import diagram_info
from .roles import AUDITOR, BEHEERDER, PROCESBEHEERDER
from .store import unit_of_work
from .users import Principal

MIGRATED, STALLED = "case_migrated", "case_stalled"
REAL = Case.practice.is_(False)  # practice cases (engine/practice.py): never moved nor listed
# What these events record, labelled as the timelines show it (entries.event_fields).
EVENT_FIELDS = {
    MIGRATED: [Field("from", N_("Van versie"), "integer"), Field("to", N_("Naar versie"), "integer")],
    STALLED: [Field("waiting_at", N_("Wacht bij"), "string")],
}

# Only reads task specs to compare them (SpecDiff): a registry of its own, not the adapter's.
_spec_registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)


class MoveImpossible(Exception):
    """One case's workflow cannot be carried over to the other version; reasons in Dutch."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class MoveRefused(Conflict):
    """The whole move is refused and nothing changed; problems: (case id, reason) pairs."""

    def __init__(self, from_version: int, to_version: int, problems: list[tuple[int, str]]):
        lines = [Message(N_("casus {case}: {reason}"), case=case_id, reason=reason)
                 for case_id, reason in problems]
        super().__init__(Message(
            N_("De open casussen van versie {old} zijn niet verplaatst naar versie {new}: {count} "
               "casus(sen) kunnen daar niet verder. Er is niets gewijzigd."),
            old=from_version, new=to_version, count=len({c for c, _ in problems})), problems=lines)
        self.problems, self.lines = problems, lines


# --- the move of one workflow (pure: shared by the command and replay) ---------------------------


def ready_steps(workflow) -> dict[str, str]:
    """The ready user tasks of a workflow: task id -> element id."""
    return {str(t.id): t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY)
            if isinstance(t.task_spec, UserTask)}


def _left_behind(workflow) -> list[str]:
    """Why a moved state would not restore: tasks kept the old version's spec. Named: their
    elements the new version lacks (the tasks behind those keep the old spec too), else all."""
    foreign, known = set[str](), set[str]()
    for part in (workflow, *workflow.subprocesses.values()):
        specs = part.spec.task_specs
        known.update(getattr(spec, "bpmn_id", None) or name for name, spec in specs.items())
        foreign.update(getattr(t.task_spec, "bpmn_id", None) or t.task_spec.name
                       for t in part.get_tasks(skip_subprocesses=True)
                       if specs.get(t.task_spec.name) is not t.task_spec)
    missing = sorted(foreign - known)
    template = (N_("element '{element}' waar de casus al langs kwam, bestaat niet in de nieuwe versie")
                if missing else N_("element '{element}' waar de casus al langs kwam, laat zich "
                                   "niet naar de nieuwe versie overzetten"))
    return [Message(template, element=e) for e in missing or sorted(foreign)]


def move_workflow(workflow, target: ProcessDefinition, ids: adapter.IdSource) -> driving.Advance:
    """Carry a case's workflow over to another version's spec and run its engine steps.

    In: the workflow (changed in place; fields the target added to steps already done get
    their defaults), the target version's definition, the case's id source (so replay arrives
    at the same task ids). Out: the engine's advance on the target (decisions, closing, new
    ready tasks, or a stall).
    Raises MoveImpossible when a ready step is not a user task of the target, an element the
    case went through is gone, a subprocess has no counterpart, the ready steps differ after
    the move, or the engine cannot advance on the target.
    """
    before = ready_steps(workflow)
    missing = sorted({step for step in before.values() if step not in target.steps})
    if missing:
        raise MoveImpossible([Message(N_("stap '{step}' staat open maar is geen stap van de nieuwe "
                                         "versie"), step=step) for step in missing])
    top, parts = diff_workflow(_spec_registry, workflow, target.spec, target.subprocess_specs)
    gone = [sp_id for sp_id, diff in parts.items() if diff is None]
    if gone:
        raise MoveImpossible([N_("een deelproces van de casus bestaat niet in de nieuwe versie")])
    with adapter.task_ids(ids):
        migrate_workflow(top, workflow, target.spec)
        for sp_id, diff in parts.items():
            sub = workflow.subprocesses[sp_id]
            migrate_workflow(diff, sub, target.subprocess_specs[sub.spec.name])
    left_behind = _left_behind(workflow)
    if left_behind:
        raise MoveImpossible(left_behind)
    form_choices.answer_defaults(workflow, driving.CASE_FILE)
    if (after := ready_steps(workflow)) != before:
        raise MoveImpossible([Message(
            N_("na het verplaatsen zouden andere stappen openstaan ({after} in plaats van "
               "{before})"),
            after=", ".join(sorted(after.values())) or N_("geen"),
            before=", ".join(sorted(before.values())) or N_("geen"))])
    try:
        return driving.advance_workflow(workflow, ids)
    except driving.EngineFailure as exc:
        raise MoveImpossible([Message(N_("op de nieuwe versie kan het proces niet verder: {why}"),
                                      why=exc.message)]) from None


# --- moving the open cases of a version -------------------------------------------------------


def _version(session: Session, number: Any) -> ProcessVersion:
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise NotFound(N_("Procesversie niet gevonden.")) from None
    row = session.get(ProcessVersion, number) if 0 < number < 2**31 else None
    if row is None:
        raise NotFound(Message(N_("Procesversie {number} bestaat niet."), number=number))
    return row


def _open_cases(session: Session, version: int) -> list[Case]:  # practice stays; 'x' is named
    return list(session.scalars(select(Case).where(Case.process_version == version, Case.status
                                                   == "open", Case.practice.is_not(True)).order_by(Case.id)))


def _ready_rows(session: Session, case_ids: list[int]) -> tuple[dict[int, list[TaskRecord]],
                                                                 dict[int, list[dict[str, Any]]]]:
    """Per case, its ready rows of the workflow's tasks, and its open consults (task views:
    no tasks of the workflow, but a move that closes the case withdraws them, CONTRACT 5)."""
    rows: dict[int, list[TaskRecord]] = defaultdict(list)
    consults: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in session.scalars(select(TaskRecord).where(
            TaskRecord.case_id.in_(case_ids), TaskRecord.state == "ready")
            .order_by(TaskRecord.ready_at, TaskRecord.id)):
        if row.step == "consult":
            consults[row.case_id].append(task_view(row))
        else:
            rows[row.case_id].append(row)
    return rows, consults


def _plan(session: Session, from_version: Any, to_version: Any):
    """Prove the move of every open case of one version; nothing is written. Out: (source row,
    target, target definition, plans, problems); a plan is (case, moved workflow, advance,
    ids, ready task ids before, its open consults)."""
    source, target = _version(session, from_version), _version(session, to_version)
    if source.version == target.version:
        raise BadRequest(N_("Kies een andere versie om de casussen naartoe te verplaatsen."))
    old = versions.definition_for(session, source.version)
    new = versions.definition_for(session, target.version)
    cases = _open_cases(session, source.version)
    ready, consults = _ready_rows(session, [c.id for c in cases])
    # A case stored damaged (row, seal, state, any task row: seal, owner) is never moved (issue 11)
    problems: list[tuple[int, Any]] = write_refusals.damage_lines(session, cases)  # each in one run
    for case in cases:  # then the cheap check: every open step is a user task of the target
        for step in sorted({r.step for r in ready[case.id]}):
            if step not in new.steps:
                problems.append((case.id, Message(
                    N_("stap '{step}' staat open maar bestaat niet in versie {number}"),
                    step=step, number=target.version)))
    plans, named = [], {c for c, _ in problems}  # every case refused named in this one run
    for case in (c for c in cases if c.id not in named):
        ids, before = adapter.IdSource(case.id, case.id_counter), {r.id for r in ready[case.id]}
        workflow, damaged = write_refusals.state_for_move(old, case)
        if damaged is not None:
            problems.append((case.id, damaged)); continue  # noqa: E702
        try:
            if set(ready_steps(workflow)) != before:
                raise MoveImpossible([N_("de open stappen kloppen niet met de opgeslagen workflow")])
            advance = move_workflow(workflow, new, ids)
            state = adapter.dump_state(workflow)
            # Proved as stored: the moved state restores on the target version as it is.
            restored = adapter.load_state(new, state)
            if ready_steps(restored) != ready_steps(workflow):
                raise MoveImpossible([N_("de verplaatste casus laat zich niet goed herstellen")])
        except MoveImpossible as exc:
            problems.extend((case.id, reason) for reason in exc.reasons)
            continue
        plans.append((case, state, advance, ids, before, consults[case.id]))
    return source, target, new, plans, problems


def _require_procesbeheerder(who: Principal | User | str) -> None:
    if isinstance(who, Principal) and not who.has_role(PROCESBEHEERDER):
        raise Forbidden(N_("Alleen een procesbeheerder mag casussen naar een andere versie verplaatsen."))


def move_preview(who: Principal, from_version: Any, to_version: Any) -> dict[str, Any]:
    """What a move would do, for the confirm step: proved in full, nothing written.

    Out: {"from", "to", "cases": [case ids that would move], "stuck": [ids of those now stuck],
    "problems": ["casus N: reason"]}. Only ids and element ids: the procesbeheerder never reads
    case content. Raises Forbidden, NotFound, BadRequest (as move_cases).
    """
    _require_procesbeheerder(who)
    with unit_of_work() as session:
        source, target, _new, plans, problems = _plan(session, from_version, to_version)
        cases = _open_cases(session, source.version)
    return {"from": source.version, "to": target.version, "cases": [c.id for c in cases],
            "stuck": [c.id for c in cases if c.stalled_at is not None],
            "problems": [Message(N_("casus {case}: {reason}"), case=c, reason=r)
                         for c, r in problems],
            "ready": not problems and bool(plans)}


def move_cases(who: Principal | User | str, from_version: Any, to_version: Any) -> dict[str, Any]:
    """Move every open case of `from_version` to `to_version`, all of them or none.

    In: who moves them (a Principal from the web UI, which must be a procesbeheerder; a User
    or an operator's name from the command line), the two version numbers. Each case gets a
    `case_migrated` event {"from", "to"} and then what its engine does on the new version
    (decisions, closing, or `case_stalled` when it still cannot go on), its process version,
    workflow state and task rows, and an access-log line `migrate`, in one transaction.
    Out: {"from", "to", "moved": [{"id", "status", "stalled"}]}.
    Raises Forbidden (not a procesbeheerder), NotFound (a version does not exist), BadRequest
    (the same version twice), MoveRefused (a case cannot go on there or is stored damaged: each
    such case logged migrate:conflict, denied), Conflict (a case changed meanwhile); nothing changed.
    """
    _require_procesbeheerder(who)
    actor = who if isinstance(who, str) else who.name
    try:
        with unit_of_work(write=True) as session:
            now = utcnow()
            # A timer the moved case reaches is timed from the move's event, as replay times it.
            with timers.at(now):
                source, target, new, plans, problems = _plan(session, from_version, to_version)
            if problems:
                raise MoveRefused(source.version, target.version, problems)
            moved = []
            norm = due.settings(session)  # the due dates of new tasks (engine/due.py)
            for case, state, advance, ids, before, still_ready in plans:
                # its seal is intact: a broken one was named in _plan and refused the move
                change = CaseChange(case=case, version_id=case.version_id, settings=norm,
                                    still_ready=still_ready)
                change.event(actor, MIGRATED, now, data={"from": source.version, "to": target.version})
                change.advanced(new, advance, before, now)
                case.process_version = target.version
                case.id_counter = ids.counter
                case.workflow_state = state
                _store_rows(session, case, change, new, before, now)
                audit.seal_case(session, case.id)
                audit.log_access(session, who, "migrate", "ok", case=case,
                                 source=getattr(who, "source", None))
                moved.append({"id": case.id, "status": case.status,
                              "stalled": case.stalled_at is not None})
            audit.log_admin(session, actor, "cases_migrated", {
                "from": source.version, "to": target.version, "cases": [m["id"] for m in moved]})
            session.flush()
    except MoveRefused as refused:  # each case it names gets its line (NEN 7513), after the rollback
        raise refusal_logged(who, [c for c, _ in refused.problems], "migrate", refused) from None
    except StaleDataError:
        raise Conflict(N_("Een casus is intussen gewijzigd; er is niets verplaatst. Probeer het "
                          "opnieuw.")) from None
    return {"from": source.version, "to": target.version, "moved": moved}


def _store_rows(session: Session, case: Case, change: CaseChange,
                new: ProcessDefinition, before: set[str], now) -> None:
    """The task rows after a move: rows still ready take the step's name and lane on the new
    version, ready rows the engine ended (and consults withdrawn with a closing) are
    cancelled, new ready tasks are inserted; the timer rows follow the moved workflow."""
    for row in session.scalars(select(TaskRecord).where(
            TaskRecord.id.in_(before | set(change.cancelled)))):
        if row.id in change.cancelled:
            row.state, row.completed_at = "cancelled", now
        elif row.step != "consult":
            step = new.steps[row.step]  # the new version's name, lane and branch; sealed anew
            task_rows.resealed(row, name=step.name, lane=step.lane,
                               urgent=due.is_urgent(row.step, new.spec, case.data))
    if change.cancelled:
        session.execute(DELETE_DRAFTS_OF_TASKS, {"ids": change.cancelled})
    for values in change.new_tasks:
        session.add(TaskRecord(**values))
    if change.timers is not None:
        session.execute(Timer.__table__.delete().where(Timer.__table__.c.case_id == case.id))
        if change.timers:
            session.execute(Timer.__table__.insert(), change.timers)
    session.flush()  # the case row first: the events point at it
    for event in change.events:
        session.add(HistoryEvent(**event))


# --- stuck cases ----------------------------------------------------------------------------------


def _latest_stalls(session: Session, case_ids: list[int]) -> dict[int, list[str]]:
    """Per case, the element ids of its latest `case_stalled` event."""
    found: dict[int, list[str]] = {}
    if case_ids:
        for case_id, data in session.execute(
                select(HistoryEvent.case_id, HistoryEvent.data)
                .where(HistoryEvent.case_id.in_(case_ids), HistoryEvent.action == STALLED)
                .order_by(HistoryEvent.case_id, HistoryEvent.seq)):
            waiting = (data or {}).get("waiting_at")
            found[case_id] = [str(w) for w in waiting] if isinstance(waiting, list) else []
    return found


def stuck_cases(session: Session) -> list[dict[str, Any]]:
    """Open real cases that are stuck, oldest first: [{"id", "version", "since", "waiting_at"}].

    Ids, versions, times and diagram element ids only: no case content.
    """
    rows = session.execute(
        select(Case.id, Case.process_version, Case.stalled_at)
        .where(Case.status == "open", Case.stalled_at.is_not(None), REAL)
        .order_by(Case.stalled_at, Case.id)).all()
    waiting = _latest_stalls(session, [r[0] for r in rows])
    return [{"id": case_id, "version": version, "since": audit.iso(since),
             "waiting_at": waiting.get(case_id, [])}
            for case_id, version, since in rows if since is not None]  # the query's condition too


def stuck_per_version(who: Principal) -> dict[int, dict[str, Any]]:
    """For the versions page: per version the stuck cases' ids, their number, and the
    elements where they wait. Readers of the versions page only (no case content).

    Raises Forbidden for anyone else.
    """
    if not who.has_role(PROCESBEHEERDER, BEHEERDER, AUDITOR):
        raise Forbidden(N_("U heeft geen toegang tot de procesversies."))
    with unit_of_work() as session:
        listing = stuck_cases(session)
    result: dict[int, dict[str, Any]] = {}
    for case in listing:
        entry = result.setdefault(case["version"], {"count": 0, "ids": [], "waiting_at": []})
        entry["count"] += 1
        entry["ids"] = sorted([*entry["ids"], case["id"]])
        entry["waiting_at"] = sorted(set(entry["waiting_at"]) | set(case["waiting_at"]))
    return result


def open_cases(session: Session) -> list[dict[str, Any]]:
    """Every open real case, oldest first: [{"id", "version", "since", "steps"}] with the element
    ids of its ready steps (no case content), for `meldcode cases`."""
    rows = session.execute(select(Case.id, Case.process_version, Case.started_at)
                           .where(Case.status == "open", REAL).order_by(Case.id)).all()
    ready, _consults = _ready_rows(session, [r[0] for r in rows])
    return [{"id": r[0], "version": r[1], "since": audit.iso(r[2]),
             "steps": sorted({t.step for t in ready[r[0]]})} for r in rows]


def case_notice(page: dict[str, Any]) -> dict[str, Any]:
    """What the case page says about being stuck and about moves between versions.

    In: engine.pages.case_page's result (its case and timeline). Out: {"stalled": None or
    {"since", "waiting": [{"id", "name"}]}, "migrations": [{"at", "actor", "from", "to"}]}.
    """
    case, timeline = page["case"], page["timeline"]
    migrations = [{"at": e["at"], "actor": e.get("actor_name") or e["actor"],
                   "from": e["data"].get("from"), "to": e["data"].get("to")}
                  for e in timeline if e["action"] == MIGRATED]
    stalled = None
    if case.get("stalled_at") and case.get("status") == "open":
        latest = next((e for e in reversed(timeline) if e["action"] == STALLED), None)
        waiting = list((latest or {}).get("data", {}).get("waiting_at") or [])
        with unit_of_work() as session:
            names = diagram_info(versions.definition_for(session, case["process_version"])).names
        stalled = {"since": latest["at"] if latest else None,
                   "waiting": [{"id": w, "name": names.get(w) or ""} for w in waiting]}
    return {"stalled": stalled, "migrations": migrations}
