"""One rule at every door that changes a case (issue 11): the write is refused, 409 with
stored_rows.REFUSED naming what is wrong and nothing stored, when the case

- has a column stored damaged, or names an owner or process version that does not exist
  (stored_rows.row_damage);
- has a header that no longer matches its keyed hash (audit.header_ok: a status set back to
  open, an uitkomst or hash changed in the database): a change built on it would carry on
  from what the product never recorded, and verify names it (chains.check_header);
- has a stored workflow state that does not load (adapter: no zlib, no JSON, another
  serializer version).

The doors: completion (engine/tasks.py), drafts, consults (request, answer), handover and
sharing, a link from a new case, the scheduler's fire, the move to another version. A door
that rewrites existing task rows (the handover their owner, the move their name and lane, a
completion or fire the rows it cancels) refuses a damaged one too (refuse_damaged_tasks).
Reads stay open and name the same damage (read_damage: the API's `damaged`, the case, print
and step-through pages, the dossier). The completion, the product's hot path, asks no question
twice: its header is judged by the HMAC its write computes anyway (audit.resealed refuses a
broken seal) and its state by the load it does anyway (state_refusal); its answer needs no
read_damage (its write just sealed the case)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from . import adapter, audit, failures, settings, stored_rows, task_rows, workflow_cache
from .messages import N_, Message
from .models import TaskRecord

# What a write says of a stored workflow state that does not load, with why (the adapter's
# Dutch reason: no zlib, no JSON, another serializer version, no workflow's shape).
STATE_BROKEN = N_("de toestand van het proces is onleesbaar: {detail}")


def unreadable(exc: BaseException) -> Any:
    """What is wrong with a stored workflow state that did not load (`exc`: adapter.UntrustedState
    with its Dutch detail, or what restoring it raised otherwise), in Dutch."""
    detail = getattr(exc, "detail", None) or failures.kind_of(exc)
    return Message(STATE_BROKEN, detail=detail)


def state_damage(state: Any) -> dict[str, Any]:
    """{"workflow_state": what is wrong} when the stored state `state` does not unpack (within
    state_bytes.MAX_STATE_BYTES), parse as JSON, or claim this release's serializer version
    (adapter.state_dict), else {}. The cheap check of a door that does not load the workflow:
    the workflow's structure itself is checked where it is loaded (completion, fire, move)."""
    try:
        adapter.state_dict(state)
    except adapter.UntrustedState as exc:
        return {"workflow_state": unreadable(exc)}
    return {}


def write_damage(case: Any, seal: bool = True, state: bool = True) -> dict[str, Any]:
    """What a write to `case` (a Case, loaded or built from a row) is refused for: column ->
    what is wrong, in Dutch; empty when nothing is. The row's damage (stored_rows.row_damage)
    alone when it has any: the seal of a header with a value that does not read cannot be
    judged. Else sealed_damage (with `seal`, the header's keyed hash; with `state`, the
    stored workflow state)."""
    return stored_rows.row_damage(case) or sealed_damage(case, seal, state)


def sealed_damage(case: Any, seal: bool = True, state: bool = True) -> dict[str, Any]:
    """What is wrong beyond the columns of case `case`, whose row reads sound (row_damage
    empty): with `seal`, a header that does not match its keyed hash (header_hash:
    stored_rows.SEAL_BROKEN), and with `state`, a state that does not load (state_damage)."""
    damage: dict[str, Any] = {}
    if seal and not audit.header_ok(case.id, case):
        damage["header_hash"] = stored_rows.SEAL_BROKEN
    if state:
        damage.update(state_damage(case.workflow_state))
    return damage


def read_damage(case: Any) -> dict[str, Any]:
    """What a read door (the API's case, the case and print pages, the dossier, the step-through)
    names of case `case` (a Case in a session) beside its damaged columns, which case_dict and
    stored_rows.damage name already: write_damage's broken seal and unloadable state, the same
    rule a write is refused by (issue 11: the damage a write names, a read names too). Empty
    when the row has damaged columns (the seal cannot be judged) or nothing is wrong. Loads
    the deferred workflow_state: never called by the completion (its answer was just sealed)."""
    return {} if stored_rows.row_damage(case) else sealed_damage(case)


def unshown(case: Any) -> dict[str, Any]:
    """{"stored_damage": read_damage} for the API's case (cases.get_case), which names it in
    `damaged` (webui/api/models.py Stored) as it names the unshown columns (stored_rows.unshown,
    never both: read_damage is empty for a row with damaged columns), else {}."""
    found = read_damage(case)
    return {"stored_damage": found} if found else {}


def refuse_damaged(case: Any, seal: bool = True, state: bool = True) -> None:
    """Nothing when a write may build on case `case` (write_damage is empty); raises DamagedCase
    (a Conflict, 409: stored_rows.refusal) naming the case and what is wrong otherwise. Every
    command that writes to a case calls it before it writes, after its access check (a reader
    without access learns nothing of the row). seal=False: the write's own header check refuses
    (cases.write_change, through audit.resealed: one HMAC); state=False: the caller loads the
    state and raises state_refusal when it does not load. A change built on a damaged counter,
    hash, flag, owner, header or state would store what was never recorded, or fail halfway
    through the write (issue 11: refuse hostile state; `meldcode verify` names the case)."""
    damage = write_damage(case, seal, state)
    if damage:
        raise stored_rows.refusal(case.id, damage)


def refuse_damaged_tasks(case_id: Any, rows: Any, ids: Any = None) -> None:
    """Nothing when no task row of case `case_id` that a write rewrites holds a value stored
    damaged; raises DamagedCase (409, naming tasks.<column>: stored_rows.task_damage) otherwise.
    `rows`: the case's task rows as read (TaskRecords or Rows); `ids`: those the write rewrites
    (cancels), every row when None. The handover (every row's owner), the completion and the
    scheduler's fire (the rows they cancel) call it before they write: a write over a damaged
    row would hide what verify names of it (issue 11)."""
    for row in rows:
        if ids is None or row.id in ids:
            stored_rows.refuse_damaged_task(case_id, row)


# What a write says of a task row whose keyed seal does not hold (task_rows.intact: its step,
# name, lane, times or urgency changed outside the product) or whose owner is not the case's
# (the writers copy the case's owner into every row); verify names both (task_rows.check_rows).
TASK_SEAL_BROKEN = N_("de taakrij klopt niet met zijn sleutelhash")
TASK_OWNER = N_("de eigenaar (gebruiker {have}) is niet die van de casus (gebruiker {want})")


def task_write_damage(owner_id: Any, row: Any, key: bytes | None = None) -> dict[str, Any]:
    """What a write that builds on or rewrites task row `row` (a TaskRecord, a Row, or a dict of
    column -> value as read) of a case owned by user `owner_id` is refused for: its damaged
    columns alone when it has any (stored_rows.task_damage: a seal over a value that does not
    read cannot be judged), else {"tasks.seal": TASK_SEAL_BROKEN} when its seal does not hold
    (one HMAC; `key`: the history key, read when not given) and {"tasks.owner_id": TASK_OWNER}
    when its owner is not the case's. Empty when the row is sound. Issue 11 (task F): a write
    over such a row would hide what verify names of it, or act on a lane no product set."""
    damage = stored_rows.task_damage(row)
    if damage:
        return damage
    values = SimpleNamespace(**row) if isinstance(row, dict) else row
    if not task_rows.intact(values, key):
        damage["tasks.seal"] = TASK_SEAL_BROKEN
    if values.owner_id != owner_id:
        damage["tasks.owner_id"] = Message(TASK_OWNER, have=values.owner_id, want=owner_id)
    return damage


def refuse_broken_tasks(case: Any, rows: Any) -> None:
    """Nothing when every task row of `rows` (as read) of case `case` is sound (task_write_damage
    against the case's owner); raises DamagedCase (409, naming tasks.<column>) otherwise. The
    completion (its task's row), a draft (its task's row) and the handover (every row it gives
    the new owner) call it after their access check, before they write (issue 11, task F)."""
    key = settings.history_key()
    for row in rows:
        if damage := task_write_damage(case.owner_id, row, key):
            raise stored_rows.refusal(case.id, damage)


def state_refusal(case_id: Any, exc: BaseException) -> stored_rows.DamagedCase:
    """The refusal of a write to case `case_id` whose stored state did not load (`exc`, as
    adapter.load_state raised it): the same 409 as every door's (refuse_damaged)."""
    return stored_rows.refusal(case_id, {"workflow_state": unreadable(exc)})


def workflow_for_write(cache_key: tuple[str, int], case: Any, definition: Any) -> Any:
    """The workflow (a BpmnWorkflow) of `case` (a Case as read in the write's plan) for a
    command that changes it: this worker's cached one (workflow_cache, keyed `cache_key`)
    while the row still holds the version and bytes it stored, else loaded from the row by
    `definition`. Raises DamagedCase (409, state_refusal) when the stored state does not load:
    the completion and the scheduler's fire judge the state by this load (issue 11)."""
    workflow = workflow_cache.take(cache_key, case.version_id, case.workflow_state)
    if workflow is not None:
        return workflow
    try:
        return adapter.load_state(definition, case.workflow_state)
    except adapter.UntrustedState as exc:
        raise state_refusal(case.id, exc) from None


def damage_line(case: Any, tasks: Any = (), key: bytes | None = None) -> Message | None:
    """What a move to another version (engine/migration.py) is refused for, for case `case`
    and its task rows the move rewrites (`tasks`, as read), in Dutch: "beschadigd opgeslagen:
    started_at: een waarde buiten het bereik (...)", "... header_hash: de kop van de casus
    klopt niet met zijn sleutelhash", "... workflow_state: ...", "... tasks.due_at: ..."; None
    when nothing is (write_damage, stored_rows.task_damage). The state's cheap check here, so
    that one run names every damaged case (a state that decodes but no workflow's shape is
    named when the move loads it: state_for_move); a task row's seal and owner too
    (task_write_damage, `key`: the history key)."""
    damage = write_damage(case)
    for row in tasks:
        damage.update(task_write_damage(case.owner_id, row, key))
    if not damage:
        return None
    return Message(N_("beschadigd opgeslagen: {fields}"), fields=stored_rows.damage_fields(damage))


def damage_lines(session: Any, cases: Any) -> list[tuple[int, Any]]:
    """(case id, damage_line) for each case of `cases` (Cases in `session`) stored damaged, with
    every task row of it (read here, any state: a state no product writes is named, never
    taken for a closed row; a completed row's damage too, which verify names), in order: all
    of them in one run of `meldcode migrate` (issue 11: a refusal names every case, never in
    stages)."""
    tasks: dict[int, list[Any]] = {case.id: [] for case in cases}
    if tasks:
        for row in session.scalars(select(TaskRecord).where(TaskRecord.case_id.in_(list(tasks)))
                                   .order_by(TaskRecord.ready_at, TaskRecord.id)):
            tasks[row.case_id].append(row)
    key = settings.history_key()
    return [(case.id, line) for case in cases if (line := damage_line(case, tasks[case.id], key))]


def state_for_move(definition: Any, case: Any) -> tuple[Any, Message | None]:
    """(the workflow of `case` loaded by `definition`, None) for a move to another version, or
    (None, what is wrong, as damage_line names a case) when its stored state does not load:
    "beschadigd opgeslagen: workflow_state: de toestand van het proces is onleesbaar: ..."."""
    try:
        return adapter.load_state(definition, case.workflow_state), None
    except (adapter.UntrustedState, ValueError, LookupError, TypeError, RecursionError) as exc:
        return None, Message(N_("beschadigd opgeslagen: {fields}"),
                             fields=stored_rows.damage_fields({"workflow_state": unreadable(exc)}))
