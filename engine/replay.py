"""Verify a case: check its history chain, replay it from its process version, and compare
the result with everything stored. Problems are reported in plain Dutch, first one first."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import adapter, audit, cases, commands, driving, log_verify, migration, timezones, translog, versions
from .definitions import InvalidDefinition, ProcessDefinition
from .errors import DomainError
from .models import AccessLogEntry, Case, CaseShare, HistoryEvent, TaskRecord, User
from .store import unit_of_work

# Attributes of a stored task that replay must reproduce (timestamps cannot be).
_TASK_KEYS = ("id", "parent", "children", "state", "task_spec", "data", "delta")


@dataclass
class Verdict:
    case_id: int
    events: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "problems": list(self.problems)}


def _label(event: HistoryEvent) -> str:
    step = f", {event.step}" if event.step else ""
    return f"gebeurtenis {event.seq} ({event.action}{step})"


def check_chain(case: Case, events: list[HistoryEvent]) -> list[str]:
    problems = []
    prev = audit.GENESIS
    for index, event in enumerate(events, start=1):
        if event.seq != index:
            problems.append(
                f"gebeurtenis {index} ontbreekt of staat op de verkeerde plaats "
                f"(gevonden: volgnummer {event.seq})"
            )
            return problems
        if event.prev_hash != prev:
            problems.append(f"{_label(event)}: de keten is onderbroken (vorige hash klopt niet)")
            return problems
        content = audit.event_content(case.id, event.seq, event.at, event.actor, event.action,
                                      event.step, event.task_id, event.data)
        if audit.chain_hash(prev, content) != event.hash:
            problems.append(
                f"{_label(event)}: de inhoud is na het vastleggen gewijzigd (hash klopt niet)"
            )
            return problems
        prev = event.hash
    if case.event_count != len(events) or (case.last_hash or audit.GENESIS) != prev:
        problems.append(
            f"de casus verwacht {case.event_count} gebeurtenissen maar er zijn er {len(events)}: "
            "er is een gebeurtenis verwijderd of toegevoegd"
        )
    return problems


@dataclass
class Replayed:
    completed_steps: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    status: str = "open"
    uitkomst: str | None = None
    id_counter: int = 0
    ready: dict[str, str] = field(default_factory=dict)  # task id -> step
    owner: str | None = None  # who started the case, or who it was last handed to
    shared_with: set[str] = field(default_factory=set)
    workflow: Any = None
    stalled: bool = False  # open with no ready step and no waiting timer
    process_version: int | None = None  # known when the case was moved between versions


# Events of a person (not of the engine): none may come while the engine still owes one.
PERSON_ACTIONS = ("task_completed", "case_handed_over", "case_shared", migration.MIGRATED)
# Events the engine records itself after a start, a completion or a move.
ENGINE_ACTIONS = ("decision_made", "case_closed", migration.STALLED)


def _stored_definition(version: int) -> ProcessDefinition:
    with unit_of_work() as session:
        return versions.definition_for(session, version)


def _ready_steps(workflow) -> dict[str, str]:
    return {str(t.id): t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY)
            if isinstance(t.task_spec, UserTask)}


def replay_events(definition, case_id: int, events: list[HistoryEvent], on_event=None,
                  definition_of: Callable[[int], ProcessDefinition] | None = None,
                  ) -> tuple[Replayed, list[str]]:
    """Rebuild a case from its events; compare the engine's own events with the stored ones.

    definition: the definition of the case's process version. A case that was moved between
    versions starts on the version named "from" in its first `case_migrated` event and goes
    on, at each such event, on the version named "to": those are read via definition_of
    (default: from the database). on_event(event, replayed, workflow) is called after each
    event, for a step-through. Out: the replayed case and the problems found (Dutch, the
    first one stops the replay).
    """
    out = Replayed()
    problems: list[str] = []
    if not events or events[0].action != "case_started":
        return out, ["de eerste gebeurtenis is niet het starten van de casus"]
    definition_of = definition_of or _stored_definition
    first_move = next((e for e in events if e.action == migration.MIGRATED), None)
    if first_move is not None:
        out.process_version = (first_move.data or {}).get("from")
        if not isinstance(out.process_version, int):
            return out, [f"{_label(first_move)}: de oude procesversie ontbreekt"]
        try:
            definition = definition_of(out.process_version)
        except (DomainError, InvalidDefinition) as exc:
            return out, [f"{_label(first_move)}: {_unloadable(out.process_version, exc)}"]
    ids = adapter.IdSource(case_id)
    workflow, advance = driving.start_workflow(definition, ids)
    expected: list[tuple[str, str | None, dict]] = []

    def absorb(adv: driving.Advance) -> None:
        for step, outputs in adv.decisions:
            out.data.update(outputs)
            expected.append(("decision_made", step, outputs))
        if adv.completed:
            out.status = "closed"
            out.uitkomst = driving.uitkomst_of(out.completed_steps, out.data)
            expected.append(("case_closed", None, {"uitkomst": out.uitkomst}))
        out.stalled = adv.stall is not None
        if out.stalled:
            expected.append((migration.STALLED, None, {"waiting_at": adv.stall}))

    absorb(advance)
    out.owner = events[0].actor
    if on_event:
        on_event(events[0], out, workflow)
    for event in events[1:]:
        if event.action in PERSON_ACTIONS and expected:
            problems.append(f"{_label(event)}: verwacht werd eerst '{expected[0][0]}' van de engine")
            break
        if event.action == "case_handed_over":
            out.owner = event.data.get("to")
        elif event.action == "case_shared":
            out.shared_with.add(event.data.get("with"))
        elif event.action == "task_completed":
            try:
                advance = driving.complete_in_workflow(workflow, event.task_id, event.data, ids)
            except DomainError as exc:
                problems.append(f"{_label(event)}: kan niet opnieuw worden afgespeeld: {exc.message}")
                break
            out.completed_steps.append(event.step)
            out.data.update(event.data)
            absorb(advance)
        elif event.action == migration.MIGRATED:
            moved = _replay_move(event, out, workflow, ids, definition_of)
            if isinstance(moved, str):
                problems.append(moved)
                break
            absorb(moved)
        elif event.action in ENGINE_ACTIONS:
            if not expected:
                problems.append(f"{_label(event)}: de engine komt bij afspelen niet tot deze stap")
                break
            action, step, data = expected.pop(0)
            if (action, step, data) != (event.action, event.step, event.data):
                problems.append(
                    f"{_label(event)}: bij afspelen komt de engine tot '{action}' met {data}, "
                    f"vastgelegd is {event.data}"
                )
                break
        else:
            problems.append(f"{_label(event)}: onbekende handeling")
            break
        if on_event:
            on_event(event, out, workflow)
    if not problems and expected:
        problems.append(f"bij afspelen volgt nog '{expected[0][0]}', maar die gebeurtenis ontbreekt")
    out.id_counter = ids.counter
    out.ready = _ready_steps(workflow)
    out.workflow = workflow
    return out, problems


def _replay_move(event: HistoryEvent, out: Replayed, workflow, ids: adapter.IdSource,
                 definition_of) -> driving.Advance | str:
    """The recorded move of a case to another version, done again: the advance on the new
    version, or the problem (Dutch) when the event does not fit or the move cannot be done."""
    data = event.data or {}
    if not isinstance(data.get("to"), int) or data.get("from") != out.process_version:
        return (f"{_label(event)}: de casus stond bij afspelen op versie {out.process_version}, "
                f"niet op versie {data.get('from')}")
    try:
        target = definition_of(data.get("to"))
    except (DomainError, InvalidDefinition) as exc:
        return f"{_label(event)}: {_unloadable(data.get('to'), exc)}"
    try:
        advance = migration.move_workflow(workflow, target, ids)
    except DomainError as exc:
        return f"{_label(event)}: kan niet opnieuw worden afgespeeld: {exc.message}"
    except migration.MoveImpossible as exc:
        return f"{_label(event)}: kan niet opnieuw worden afgespeeld: {'; '.join(exc.reasons)}"
    out.process_version = data.get("to")
    return advance


def _unloadable(version, exc: Exception) -> str:
    reason = (exc.message if isinstance(exc, DomainError)
              else (str(exc).splitlines() or [type(exc).__name__])[0])
    return f"procesversie {version} laat zich niet laden: {reason}"


def frames(definition, case_id: int, events: list[HistoryEvent],
           definition_of: Callable[[int], ProcessDefinition] | None = None) -> list[dict[str, Any]]:
    """The case after each event: what was done, what was open, what was known.

    definition and definition_of as for replay_events."""
    result: list[dict[str, Any]] = []

    def capture(event, state: Replayed, workflow) -> None:
        result.append({
            "seq": event.seq, "at": audit.iso(event.at), "actor": event.actor,
            "action": event.action, "step": event.step, "event_data": event.data,
            "completed_steps": list(state.completed_steps),
            "ready_steps": sorted(set(_ready_steps(workflow).values())),
            "data": dict(state.data), "status": state.status, "uitkomst": state.uitkomst,
        })

    replay_events(definition, case_id, events, on_event=capture, definition_of=definition_of)
    return result


def _comparable_state(state: dict) -> dict:
    return {
        "completed": state.get("completed"),
        "data": state.get("data"),
        "tasks": {tid: {k: t.get(k) for k in _TASK_KEYS} for tid, t in state["tasks"].items()},
    }


def _comparable_live(workflow) -> dict:
    """_comparable_state of a live workflow, read from its tasks as SpiffWorkflow's
    TaskConverter writes them (data at the root, deltas below it), without serialising the
    whole workflow to JSON and back: that cost about as much as a third of the replay.
    Values are compared as they are; for the JSON values of this product that equals the
    serialised form, and a difference is checked again on the serialised form (_same_state)."""
    tasks = {}
    for task in workflow.tasks.values():
        parent = task.parent
        if parent is None:
            data, delta = task.data, {}
        else:
            data = {}
            delta = {"updates": DeepMerge.get_updated_keys(parent.data, task.data),
                     "deletions": DeepMerge.get_deleted_keys(parent.data, task.data)}
        tid = str(task.id)
        tasks[tid] = {"id": tid, "parent": str(parent.id) if parent is not None else None,
                      "children": [str(child.id) for child in task.children],
                      "state": task.state, "task_spec": task.task_spec.name,
                      "data": data, "delta": delta}
    return {"completed": workflow.completed, "data": workflow.data, "tasks": tasks}


def _same_state(stored: dict, workflow) -> bool:
    """Whether a stored state (_comparable_state) is the replayed workflow's."""
    if stored == _comparable_live(workflow):
        return True
    # A value whose JSON form differs from itself (a tuple, a date) would differ above even
    # when the states agree: the serialised form decides.
    return stored == _comparable_state(json.loads(adapter.snapshot(workflow)))


def check_access_chain(session: Session, case_id: int, case: Case | None = None) -> list[str]:
    """The case's access log is chained like its history: an edited, removed or inserted
    line breaks the chain. With the case: its sealed count and head must match the chain's,
    so removing the last lines, or all of them, shows too."""
    prev = audit.GENESIS
    # Plain rows, not ORM objects: this runs for every case of verify --all.
    rows = session.execute(select(_ACCESS).where(_ACCESS.c.case_id == case_id)
                           .order_by(_ACCESS.c.id))
    number = 0
    for number, entry in enumerate(rows, start=1):
        if entry.prev_hash != prev:
            return [f"toegangslog regel {number}: de keten is onderbroken (een regel is "
                    "verwijderd of tussengevoegd)"]
        if audit.chain_hash(prev, audit.access_content(entry)) != entry.hash:
            return [f"toegangslog regel {number}: de inhoud is na het vastleggen gewijzigd"]
        prev = entry.hash
    if case is not None and (case.access_count != number
                             or (case.access_head or audit.GENESIS) != prev):
        return [f"de casus verwacht {case.access_count} regels in het toegangslog maar er zijn "
                f"er {number}: er zijn regels verwijderd of toegevoegd"]
    return []


_ACCESS = AccessLogEntry.__table__
_EVENTS = HistoryEvent.__table__
_TASKS = TaskRecord.__table__
_USERS = User.__table__
_CASES = Case.__table__


def check_header(case: Case) -> list[str]:
    """The case row's header (audit.HEADER_FIELDS) under its keyed hash: a changed client
    reference, reason, date, owner, count or chain head, a swap between cases or a rewound
    case row shows here."""
    if not hmac.compare_digest(audit.header_hash(case.id, case), case.header_hash or ""):
        return ["de kop van de casus (cliëntreferentie, reden, start- of einddatum, eigenaar, "
                "status, tellers) is buiten de applicatie gewijzigd: de sleutelhash klopt niet"]
    return []


_PLURAL = {"de afgeronde stappen", "de vastgelegde gegevens"}


def verify_case(session: Session, case: Case) -> Verdict:
    """Check one case: its header hash, both chains and their sealed counts and heads, the
    replay of its history against everything stored. A malformed row (JSON, a time, an
    unknown version or owner, a task row) is a problem of this case, never an exception.
    Out: the Verdict, problems in Dutch."""
    try:
        verdict = _verify_case(session, case)
        # The header hash last: when replay names what was changed, that says more; when
        # nothing else shows (a client reference, a date), the header still does.
        if not verdict.problems:
            verdict.problems = check_header(case)
        return verdict
    except Exception as exc:  # noqa: BLE001 - a malformed row is a finding of this case
        return Verdict(case.id, 0, [f"de casus laat zich niet controleren: {_reason(exc)}"])


def _reason(exc: Exception) -> str:
    text = (str(exc).splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _verify_case(session: Session, case: Case) -> Verdict:
    try:
        events = list(session.execute(  # plain rows: they carry the same attributes
            select(_EVENTS).where(_EVENTS.c.case_id == case.id)
            .order_by(_EVENTS.c.seq, _EVENTS.c.id)
        ))
    except Exception as exc:  # noqa: BLE001 - an unreadable event (JSON, time) is a finding
        return Verdict(case.id, 0, [f"de geschiedenis is onleesbaar (een gebeurtenis met "
                                    f"ongeldige gegevens of tijd): {_reason(exc)}"])
    verdict = Verdict(case.id, len(events))
    try:
        access = check_access_chain(session, case.id, case)
    except Exception as exc:  # noqa: BLE001
        access = [f"het toegangslog is onleesbaar: {_reason(exc)}"]
    verdict.problems = check_chain(case, events) + access
    if verdict.problems:
        return verdict
    owner = session.execute(select(_USERS.c.name).where(_USERS.c.id == case.owner_id)).first()
    if owner is None:
        verdict.problems = [f"de eigenaar (gebruiker {case.owner_id}) bestaat niet"]
        return verdict
    try:
        definition = versions.definition_for(session, case.process_version)
    except Exception as exc:  # noqa: BLE001 - a version that does not load is a finding, not a crash
        verdict.problems = [_unloadable(case.process_version, exc)]
        return verdict
    replayed, problems = replay_events(
        definition, case.id, events,
        definition_of=lambda version: versions.definition_for(session, version))
    if problems:
        verdict.problems = problems
        return verdict
    stored = {
        "de afgeronde stappen": (case.completed_steps, replayed.completed_steps),
        "de vastgelegde gegevens": (case.data, replayed.data),
        "de status": (case.status, replayed.status),
        "de uitkomst": (case.uitkomst, replayed.uitkomst),
        "de teller van taak-id's": (case.id_counter, replayed.id_counter),
        "de markering 'staat vast'": (case.stalled_at is not None, replayed.stalled),
        "de eigenaar": (owner.name, replayed.owner),
        "de lijst van collega's met wie de casus is gedeeld": (
            sorted(session.scalars(select(User.name).join(CaseShare, CaseShare.user_id == User.id)
                                   .where(CaseShare.case_id == case.id))),
            sorted(replayed.shared_with)),
    }
    if replayed.process_version is not None:
        stored["de procesversie"] = (case.process_version, replayed.process_version)
    for what, (have, want) in stored.items():
        if have != want:
            verb = "wijken" if what in _PLURAL else "wijkt"
            verdict.problems.append(
                f"{what} {verb} af van de geschiedenis (opgeslagen: {have!r}, na afspelen: {want!r})"
            )
    rows = session.execute(select(_TASKS.c.id, _TASKS.c.step, _TASKS.c.state,
                                  _TASKS.c.completed_at).where(_TASKS.c.case_id == case.id)).all()
    ready_rows = {r.id: r.step for r in rows if r.state == "ready"}
    if ready_rows != replayed.ready:
        verdict.problems.append(
            f"de open taken wijken af van de geschiedenis (opgeslagen: {sorted(ready_rows.values())}, "
            f"na afspelen: {sorted(replayed.ready.values())})"
        )
    completed_rows = [r for r in rows if r.state == "completed"]
    undated = sorted(r.step for r in completed_rows if r.completed_at is None)
    if undated:
        verdict.problems.append(f"afgeronde taak zonder tijdstip van afronden: {', '.join(undated)}")
        return verdict
    completed_rows.sort(key=lambda r: (_utc(r.completed_at), r.step))
    if [r.step for r in completed_rows] != replayed.completed_steps:
        verdict.problems.append("de afgeronde taakrijen wijken af van de geschiedenis")
    try:
        stored_state = _comparable_state(adapter.state_dict(case.workflow_state))
    except Exception:  # noqa: BLE001 - unreadable state is a finding, not a crash
        verdict.problems.append("de opgeslagen workflowstatus is onleesbaar")
        return verdict
    if not _same_state(stored_state, replayed.workflow):
        verdict.problems.append("de opgeslagen workflowstatus wijkt af van het afspelen van de geschiedenis")
    return verdict


# --- commands ------------------------------------------------------------------------------------


def verify(who, case_id: Any) -> dict[str, Any]:
    """Verify one case for someone who may read it (the read is logged): verify_case, and the
    case's entries in the log across all cases (log_verify.verify_case_log). Out: Verdict.as_dict.
    Raises NotFound, Denied as cases.open_case."""
    translog.sequence()

    def run(session: Session):
        case = cases.open_case(session, who, case_id, "verify")
        verdict = verify_case(session, case)
        verdict.problems += log_verify.verify_case_log(session.connection(), case.id)
        return verdict.as_dict()

    return commands.run_command(who, run)


def verify_all(session: Session | None = None, case_ids: list[int] | None = None,
               log: log_verify.LogReport | None = None, url: str | None = None,
               jobs: int = 1):
    """Verdicts for the given cases, or all, in case order, as it goes (for the command line).

    session: check within it (one transaction); None: each case in a read transaction of
    its own, so writers never wait on a long verify. log: the result of log_verify.verify_log;
    its problems of a case join that case's verdict, and a case that the log names but that
    no longer exists gets a verdict of its own (when all cases are checked). A case that
    cannot be read is a problem of that case; the next case is still checked.
    jobs (without a session): the number of processes that check cases side by side (forked
    from this one, each at a lower priority, nice 10, so the server's requests go first)."""
    query = select(Case.id).order_by(Case.id)
    if case_ids is not None:
        query = query.where(Case.id.in_(case_ids))
    if session is not None:
        ids = list(session.scalars(query))
    else:
        with unit_of_work(url=url) as reader:
            ids = list(reader.scalars(query))
    by_case = log.by_case if log is not None else {}
    gone = set(by_case) - set(ids) if case_ids is None else {
        c for c in case_ids if c in by_case and c not in ids}
    ordered = sorted(set(ids) | gone)
    if session is None and jobs > 1 and len(ids) > _CHUNK:
        verdicts = _verify_in_processes([c for c in ordered if c not in gone], url, jobs)
    else:
        verdicts = (_verify_one(session, cid, url) for cid in ordered if cid not in gone)
    for cid in ordered:
        if cid in gone:
            yield Verdict(cid, 0, list(by_case[cid]))
            continue
        verdict = next(verdicts)
        verdict.problems += by_case.get(cid, [])
        yield verdict


_CHUNK = 25  # cases per task of a verify process: small enough to show progress evenly


def _verify_one(session: Session | None, case_id: int, url: str | None) -> Verdict:
    if session is not None:
        verdict = _load_and_verify(session, case_id)
        session.expunge_all()  # keep memory flat over many cases
        return verdict
    with unit_of_work(url=url) as reader:
        return _load_and_verify(reader, case_id)


def _verify_in_processes(ids: list[int], url: str | None, jobs: int):
    """Verdicts of `ids` in their order, checked by `jobs` forked processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                             initializer=_verify_process_start) as pool:
        for verdicts in pool.map(_verify_chunk, chunks, [url] * len(chunks)):
            yield from verdicts


def _verify_process_start() -> None:
    import os

    from . import store

    store.forget_engines_after_fork()
    os.nice(10)


def _verify_chunk(ids: list[int], url: str | None) -> list[Verdict]:
    return [_verify_one(None, cid, url) for cid in ids]


def _load_and_verify(session: Session, case_id: int) -> Verdict:
    try:  # a plain row: it carries the same attributes as a Case, without the ORM's bookkeeping
        case = session.execute(select(_CASES).where(_CASES.c.id == case_id)).first()
    except Exception as exc:  # noqa: BLE001 - invalid JSON or time in the case row
        session.rollback()
        return Verdict(case_id, 0, [f"de casusrij is onleesbaar (ongeldige gegevens of tijd): "
                                    f"{_reason(exc)}"])
    if case is None:
        return Verdict(case_id, 0, ["de casus is verwijderd"])
    return verify_case(session, case)


def _utc(at):
    return timezones.to_utc(at)
