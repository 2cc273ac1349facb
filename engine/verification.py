"""Verify a case: its header and both chains (engine/chains.py), the replay of its history
from its process version (engine/replay.py) compared with everything stored; the verify
command of one case and `verify --all` (in forked processes side by side). Problems are
reported in plain Dutch (Messages, for the web layer to translate), first one first."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.deep_merge import DeepMerge
from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from . import adapter, cases, commands, consults, log_verify, task_rows, timezones, translog, versions
from .background import process_pool
from .chains import StoredCase, check_access_rows, check_chain, check_header, stored_damage
from .failures import kind_of as _reason
from .failures import named, transient
from .messages import N_, Message, shown
from .models import Case
from .problems import joined
from .replay import replay_events, timer_row_problems, timer_rows, unloadable
from .store import unit_of_work
from .stored_rows import refused
from .verify_reads import CASE_ROW, CaseReads, log, read_batch, read_snapshot, retried

# Attributes of a stored task that replay must reproduce (timestamps cannot be).
_TASK_KEYS = ("typename", "id", "parent", "children", "state", "task_spec", "data", "delta")
# The workflow's own attributes that replay reproduces; with the typenames, a state whose
# structure was changed (a typename, the root) differs as the server would refuse it.
_WORKFLOW_KEYS = ("typename", "completed", "data", "root", "last_task", "success", "correlations")


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


def _comparable_state(state: dict) -> dict:
    return {
        **{k: state.get(k) for k in _WORKFLOW_KEYS},
        "subprocesses": sorted(state.get("subprocesses") or {}),
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
        tasks[tid] = {"typename": "Task", "id": tid,
                      "parent": str(parent.id) if parent is not None else None,
                      "children": [str(child.id) for child in task.children],
                      "state": task.state, "task_spec": task.task_spec.name,
                      "data": data, "delta": delta}
    last = workflow.last_task
    return {"typename": "BpmnWorkflow", "completed": workflow.completed, "data": workflow.data,
            "root": str(workflow.task_tree.id), "last_task": str(last.id) if last else None,
            "success": workflow.success, "correlations": workflow.correlations,
            "subprocesses": sorted(str(k) for k in workflow.subprocesses), "tasks": tasks}


def _same_state(stored: dict, workflow) -> bool:
    """Whether a stored state (_comparable_state) is the replayed workflow's."""
    if stored == _comparable_live(workflow):
        return True
    # A value whose JSON form differs from itself (a tuple, a date) would differ above even
    # when the states agree: the serialised form decides.
    return stored == _comparable_state(json.loads(adapter.snapshot(workflow)))


_STEPS, _DATA = N_("de afgeronde stappen"), N_("de vastgelegde gegevens")
_PLURAL = {_STEPS, _DATA}
_DIFFERS = (N_("{what} wijkt af van de geschiedenis ({difference})"),
            N_("{what} wijken af van de geschiedenis ({difference})"))  # by what in _PLURAL
_GONE = N_("de casus is verwijderd")


def verify_case(session: Session, case: StoredCase, reads: CaseReads | None = None,
                timer_list: list | None = None) -> Verdict:
    """Check one case: its header hash, both chains and their sealed counts and heads, the
    replay of its history against everything stored. reads: the case's records, timer_list its
    timers rows (default: read through `session` when needed). A malformed row (JSON, a time,
    an unknown version or owner, a task row) is a problem of this case, never an exception.
    Out: the Verdict, problems in Dutch."""
    try:
        verdict = _verify_case(session, case, reads or CaseReads(session, case.id), timer_list)
        # The header hash last: when replay names what was changed, that says more; when
        # nothing else shows (a client reference, a date), the header still does.
        if not verdict.problems:
            verdict.problems = check_header(case)
        else:  # a hash stored damaged is named, beside the chain it breaks
            verdict.problems = stored_damage(case) + verdict.problems
        return verdict
    except Exception as exc:  # noqa: BLE001 - a malformed row is a finding of this case
        if transient(exc):
            raise  # a busy database: the batch is read again (retried), no finding
        return Verdict(case.id, 0, [Message(N_("de casus laat zich niet controleren: {reason}"),
                                            reason=named(exc, log, "unverifiable", case=case.id))])


def _verify_case(session: Session, case: StoredCase, reads: CaseReads,
                 timer_list: list | None) -> Verdict:
    try:
        events = reads.events()
    except Exception as exc:  # noqa: BLE001 - an unreadable event (JSON, time) is a finding
        return Verdict(case.id, 0, [Message(N_("de geschiedenis is onleesbaar (een gebeurtenis "
                                               "met ongeldige gegevens of tijd): {reason}"),
                                            reason=_reason(exc))])
    verdict = Verdict(case.id, len(events))
    try:
        access = check_access_rows(reads.access(), case)
    except Exception as exc:  # noqa: BLE001
        access = [Message(N_("het toegangslog is onleesbaar: {reason}"), reason=_reason(exc))]
    verdict.problems = check_chain(case, events) + access
    if verdict.problems:
        return verdict
    owner = reads.owner(case.owner_id)
    if owner is None:
        verdict.problems = [Message(N_("de eigenaar (gebruiker {user}) bestaat niet"),
                                    user=case.owner_id)]
        return verdict
    try:
        definition = versions.definition_for(session, case.process_version)
    except Exception as exc:  # noqa: BLE001 - a version that does not load is a finding, not a crash
        verdict.problems = [unloadable(case.process_version, exc)]
        return verdict
    replayed, problems = replay_events(
        definition, case.id, events,
        definition_of=lambda version: versions.definition_for(session, version))
    if problems:
        verdict.problems = problems
        return verdict
    stored = {
        _STEPS: (case.completed_steps, replayed.completed_steps),
        _DATA: (case.data, replayed.data),
        N_("de status"): (case.status, replayed.status),
        N_("de uitkomst"): (case.uitkomst, replayed.uitkomst),
        N_("de teller van taak-id's"): (case.id_counter, replayed.id_counter),
        N_("de markering 'staat vast'"): (case.stalled_at is not None, replayed.stalled),
        N_("de eigenaar"): (owner, replayed.owner),
        N_("de lijst van collega's met wie de casus is gedeeld"): (
            reads.sharers(), sorted(replayed.shared_with)),
        N_("de lijst van gekoppelde casussen"): (reads.links(), sorted(replayed.linked)),
    }
    if replayed.process_version is not None:
        stored[N_("de procesversie")] = (case.process_version, replayed.process_version)
    for what, (have, want) in stored.items():
        if have != want:
            verdict.problems.append(Message(_DIFFERS[what in _PLURAL], what=what,
                                            difference=difference(have, want)))
    stored_rows = reads.tasks()
    rows = consults.diagram_rows(stored_rows, replayed.consults, verdict.problems)
    # who each consult asks, and every task row's sealed and derived columns (no blind spot)
    verdict.problems += consults.check_consults(reads.consults(), replayed.consulted)
    verdict.problems += task_rows.check_rows(case, stored_rows, replayed.ended)
    # the scheduler fires by these rows: one missing, extra or moved is a timer gone wrong
    verdict.problems += timer_row_problems(timer_rows(session, [case.id]).get(case.id, [])
                                           if timer_list is None else timer_list,
                                           replayed.workflow)
    ready_rows = {r.id: r.step for r in rows if r.state == "ready"}
    if ready_rows != replayed.ready:
        verdict.problems.append(Message(_DIFFERS[1], what=N_("de open taken"), difference=(
            difference(sorted(ready_rows.values()), sorted(replayed.ready.values())))))
    completed_rows = [r for r in rows if r.state == "completed"]
    undated = sorted(r.step for r in completed_rows if r.completed_at is None)
    if undated:
        verdict.problems.append(Message(N_("afgeronde taak zonder tijdstip van afronden: {steps}"),
                                        steps=", ".join(undated)))
        return verdict
    # by time; rows of one instant (one transaction, a coarse clock) in the history's order
    place = {e.task_id: i for i, e in enumerate(events) if e.action == "task_completed"}
    completed_rows.sort(key=lambda r: (timezones.to_utc(r.completed_at),
                                       place.get(r.id, len(place)), r.step))
    if [r.step for r in completed_rows] != replayed.completed_steps:
        verdict.problems.append(N_("de afgeronde taakrijen wijken af van de geschiedenis"))
    try:
        stored_state = _comparable_state(adapter.state_dict(case.workflow_state))
    except Exception:  # noqa: BLE001 - unreadable state is a finding, not a crash
        verdict.problems.append(N_("de opgeslagen workflowstatus is onleesbaar"))
        return verdict
    if not _same_state(stored_state, replayed.workflow):
        verdict.problems.append(N_("de opgeslagen workflowstatus wijkt af van het afspelen van "
                                   "de geschiedenis"))
    return verdict


_NAMES = 10  # keys named at most in one difference
_SHORT = 60  # characters of one name or value at most
_NOTHING = N_("(niets)")


def _short(value: Any) -> str:
    return shown(value, _SHORT)  # None as "leeg", never Python's word


def _names(keys: list[Any]) -> str:
    shown, more = ", ".join(_short(k) for k in keys[:_NAMES]), len(keys) - _NAMES
    return Message(N_("{names} en {count} meer"), names=shown, count=more) if more > 0 else shown


def _both(have: str, want: str) -> Message:
    return Message(N_("opgeslagen: {have}, na afspelen: {want}"), have=have, want=want)


def difference(have: Any, want: Any) -> str:
    """How a stored value differs from the replayed one, short, in Dutch (a Message): for
    recorded data (a dict) only the keys that differ, never their values (the client's content);
    for a list its lengths and the first place where it differs; otherwise both values, short."""
    if isinstance(have, dict) and isinstance(want, dict):
        parts = []
        changed = sorted((k for k in have.keys() & want.keys() if have[k] != want[k]), key=str)
        only_stored = sorted(have.keys() - want.keys(), key=str)
        only_replayed = sorted(want.keys() - have.keys(), key=str)
        if changed:
            parts.append(Message(N_("andere waarde: {names}"), names=_names(changed)))
        if only_stored:
            parts.append(Message(N_("alleen opgeslagen: {names}"), names=_names(only_stored)))
        if only_replayed:
            parts.append(Message(N_("alleen na afspelen: {names}"),
                                 names=_names(only_replayed)))
        return joined(parts, "; ") or N_("anders van soort")
    if isinstance(have, list) and isinstance(want, list):
        at = next((i for i, (a, b) in enumerate(zip(have, want, strict=False)) if a != b),
                  min(len(have), len(want)))
        first = _both(_short(have[at]) if at < len(have) else _NOTHING,
                      _short(want[at]) if at < len(want) else _NOTHING)
        return Message(N_("opgeslagen {have}, na afspelen {want}; eerste verschil op plaats "
                          "{place} ({first})"), have=len(have), want=len(want), place=at + 1,
                       first=first)
    return _both(_short(have), _short(want))


# --- commands ------------------------------------------------------------------------------------


def verify(who, case_id: Any) -> dict[str, Any]:
    """Verify one case for someone who may read it (the read is logged): verify_case, and the
    case's entries in the log across all cases (log_verify.verify_case_log). Out: Verdict.as_dict.
    Raises NotFound, Denied as cases.open_case."""
    translog.sequence()

    def run(session: Session):
        # Only what the access check needs goes through the ORM: a malformed value elsewhere
        # in the row (a time, JSON) is a problem of the case, reported, not an error. Loaded
        # first (and held: the session keeps it by a weak reference), open_case's load finds
        # it in the session (Session.get) and reads no more.
        held = _load_for_access(session, case_id)
        case = cases.open_case(session, who, case_id, "verify")
        del held
        verdict = _load_and_verify(session, case.id, rollback=False)
        verdict.problems += log_verify.verify_case_log(session.connection(), case.id)
        return verdict.as_dict()

    return commands.run_command(who, run)


def _load_for_access(session: Session, case_id: Any) -> Case | None:
    """Case `case_id` into the session with only the columns an access check reads, when it
    is a case number at all (load_case judges the rest)."""
    try:
        number = int(case_id)
    except (TypeError, ValueError):
        return None
    if not 0 < number <= commands.MAX_ID:
        return None
    return session.get(Case, number, options=[load_only(Case.id, Case.owner_id, Case.client_ref)])


def verify_all(session: Session | None = None, case_ids: list[int] | None = None,
               log: log_verify.LogReport | None = None, url: str | None = None,
               jobs: int = 1, background: bool = False):
    """Verdicts for the given cases, or all, in case order, as it goes (for the command line).

    session: check within it (one transaction); None: the cases read in batches of _CHUNK,
    each batch in a short read transaction of its own (one consistent view, a few statements),
    so writers never wait on a long verify. log: the result of log_verify.verify_log;
    its problems of a case join that case's verdict, and a case that the log names but that
    no longer exists gets a verdict of its own (when all cases are checked). A case that
    cannot be read is a problem of that case; the next case is still checked.
    jobs (without a session): the number of processes that check cases side by side (forked
    from this one, each at background priority, engine/background.py, so the server's
    requests go first). background: check them in forked processes even for jobs=1, so this
    process keeps its priority for its writes (the command line's access-log lines)."""
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
    checked = [c for c in ordered if c not in gone]
    if session is not None:
        verdicts = (_verify_one(session, cid, url) for cid in checked)
    elif background or (jobs > 1 and len(ids) > _CHUNK):
        verdicts = _verify_in_processes(checked, url, jobs)
    else:
        verdicts = (v for i in range(0, len(checked), _CHUNK)
                    for v in _verify_chunk(checked[i:i + _CHUNK], url))
    for cid in ordered:
        if cid in gone:
            yield Verdict(cid, 0, list(by_case[cid]))
            continue
        verdict = next(verdicts)
        verdict.problems += by_case.get(cid, [])
        yield verdict


# Cases read together in one read transaction (verify_reads.read_batch), and per task of a
# verify process: small enough to show progress evenly and to keep each read short.
_CHUNK = 25


def _verify_one(session: Session | None, case_id: int, url: str | None) -> Verdict:
    if session is not None:
        verdict = _load_and_verify(session, case_id)
        session.expunge_all()  # keep memory flat over many cases
        return verdict
    with unit_of_work(url=url) as reader:
        read_snapshot(reader)
        return _load_and_verify(reader, case_id)


def _verify_in_processes(ids: list[int], url: str | None, jobs: int):
    """Verdicts of `ids` in their order, checked by `jobs` forked processes."""
    chunks = [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    with process_pool(jobs) as pool:
        for verdicts in pool.map(_verify_chunk, chunks, [url] * len(chunks)):
            yield from verdicts


@retried
def _verify_chunk(ids: list[int], url: str | None) -> list[Verdict]:
    """Verdicts of `ids`, read in one read transaction (a consistent view; again while the
    database is busy: retried), or, when a row of one does not load, each case in a read
    transaction of its own, so the problem is that case's and names the row."""
    with unit_of_work(url=url) as reader:
        read_snapshot(reader)
        try:
            batch = read_batch(reader, ids)
        except Exception:  # noqa: BLE001 - a malformed row: found again case by case below
            reader.rollback()
            batch = None
        if batch is not None:
            held = timer_rows(reader, ids)  # one statement for the batch's timers rows
            return [verify_case(reader, *batch[cid], held.get(cid, [])) if cid in batch
                    else Verdict(cid, 0, [_GONE]) for cid in ids]
    return [_verify_one(None, cid, url) for cid in ids]


def _load_and_verify(session: Session, case_id: int, rollback: bool = True) -> Verdict:
    """verify_case of the case row as stored (a plain row). rollback: end the session's read
    transaction when the row does not load (the one-case command keeps its logged read)."""
    try:  # a plain row: it carries the same attributes as a Case, without the ORM's bookkeeping
        case = refused([session.execute(CASE_ROW, {"case_id": case_id}).first()])[0]
    except Exception as exc:  # noqa: BLE001 - invalid JSON or time in the case row
        if rollback:
            session.rollback()
        return Verdict(case_id, 0, [Message(N_("de casusrij is onleesbaar (ongeldige gegevens "
                                               "of tijd): {reason}"), reason=_reason(exc))])
    return Verdict(case_id, 0, [_GONE]) if case is None else verify_case(session, case)
