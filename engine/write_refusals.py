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
sharing, a link from a new case, the scheduler's fire, the move to another version. Reads stay
open and name the damage as before. The completion, the product's hot path, asks no question
twice: its header is judged by the HMAC its write computes anyway (audit.resealed refuses a
broken seal) and its state by the load it does anyway (state_refusal)."""

from __future__ import annotations

from typing import Any

from . import adapter, audit, failures, stored_rows, workflow_cache
from .messages import N_, Message

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
    judged. Else, with `seal`, a header that does not match its keyed hash (header_hash:
    stored_rows.SEAL_BROKEN), and with `state`, a state that does not load (state_damage)."""
    damage = stored_rows.row_damage(case)
    if damage:
        return damage
    if seal and not audit.header_ok(case.id, case):
        damage["header_hash"] = stored_rows.SEAL_BROKEN
    if state:
        damage.update(state_damage(case.workflow_state))
    return damage


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


def damage_line(case: Any) -> Message | None:
    """What a move to another version (engine/migration.py) is refused for, for case `case`,
    in Dutch: "beschadigd opgeslagen: started_at: een waarde buiten het bereik (...)", or
    "... header_hash: de kop van de casus klopt niet met zijn sleutelhash"; None when nothing
    is (write_damage; the move loads each state itself and names it with moved_state_damage)."""
    damage = write_damage(case, state=False)
    if not damage:
        return None
    return Message(N_("beschadigd opgeslagen: {fields}"), fields=stored_rows.damage_fields(damage))


def moved_state_damage(exc: BaseException) -> Message:
    """A state that did not load in a move (`exc`), as damage_line names a case:
    "beschadigd opgeslagen: workflow_state: de toestand van het proces is onleesbaar: ..."."""
    return Message(
        N_("beschadigd opgeslagen: {fields}"),
        fields=stored_rows.damage_fields({"workflow_state": unreadable(exc)}),
    )
