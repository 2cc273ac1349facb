"""The professional group of a case (issue 14 point 3): the afwegingskader follows the
professional. Each user has a beroepsgroep (users.beroepsgroep; None: the organisation's
setting, engine/organisation.py); a case records its owner's at its start, as the variable
`beroepsgroep` in the case data and in its `case_started` event, so replay and verify arrive at
the same data. The diagram's forms read it: a field's `shown_when` (engine/forms.py) puts the
KNMG points on the forms of a doctor's case only, and {afwegingskader} in a help text names
that group's afwegingskader.

From a handover on, the case follows its NEW owner's group (issue 14 point 3: "the forms and
help texts of a case follow its owner's"): when the group changes, the `case_handed_over`
event records it (`beroepsgroep`, and `beroepsgroep_van` when the case had one) and the case
data takes it in the same transaction (handed_over); replay does the same at that event
(replayed_handover), so verify compares the stored data with it. The answers recorded before
stay as they are (history); the open task's form and a draft of it follow the new group
(prune_drafts). The workflow's own data never holds the group: a gateway or timer may not read
it (engine/condition_checks.py), only the form conditions do, over the case data. A change of
a user's own group (users.set_beroepsgroep) changes no case: only a start or a handover does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import forms, organisation
from .forms import Field, Option
from .messages import N_, Message
from .models import Case, Draft, TaskRecord, User

VARIABLE = "beroepsgroep"  # the case data's name for it, read by the diagram's conditions
HANDED_FROM = "beroepsgroep_van"  # a handover's event: the group the case had before

_GROUPS = tuple(Option(key, label) for key, label in organisation.BEROEPSGROEPEN.items())
# What a handover's event records of the group, labelled for the history (engine/sharing.py
# EVENT_FIELDS): the group's own name in Dutch, not its key.
HANDOVER_FIELDS = [Field(HANDED_FROM, N_("Beroepsgroep van de casus tot nu toe"), "string",
                         options=_GROUPS),
                   Field(VARIABLE, N_("Beroepsgroep van de casus vanaf nu"), "string",
                         options=_GROUPS)]


def group_of(session: Session, user_id: int) -> str:
    """The key of organisation.BEROEPSGROEPEN that the user `user_id` follows: their own, else
    the organisation's setting. Reads the user and (when needed) the settings through
    `session`. Raises nothing (an unknown id: the organisation's)."""
    user = session.get(User, user_id)
    own = organisation.beroepsgroep_key(user.beroepsgroep) if user is not None else None
    return own or organisation.read(session)["beroepsgroep"]


def start_data(session: Session, owner_id: int) -> dict[str, Any]:
    """The case data a new case of the owner `owner_id` starts with, also written into its
    `case_started` event: {"beroepsgroep": group_of}. Raises nothing."""
    return {VARIABLE: group_of(session, owner_id)}


def replayed_start(event_data: Any) -> dict[str, Any]:
    """The case data a `case_started` event gives a replay (engine/replay.py): its
    beroepsgroep when it records one (cases started before issue 14 do not: {}). Raises
    nothing."""
    if isinstance(event_data, dict) and isinstance(event_data.get(VARIABLE), str):
        return {VARIABLE: event_data[VARIABLE]}
    return {}


def help_values(session: Session, case_data: dict[str, Any] | None) -> dict[str, str]:
    """The placeholder values (organisation.placeholder_values) for the help texts of a case
    with this data: the organisation's contacts, and {afwegingskader} for the case's group.
    Raises nothing."""
    group = (case_data or {}).get(VARIABLE)
    return organisation.placeholder_values(organisation.read(session),
                                           group if isinstance(group, str) else None)


def handed_over(session: Session, case: Case, new_owner_id: int) -> dict[str, str]:
    """A handover of `case` to the user `new_owner_id` (engine/sharing.py, before the event is
    recorded): when that user's group (group_of) differs from the case's, the case data takes
    it and the answer is what the `case_handed_over` event records of it: {"beroepsgroep": the
    new key} with {"beroepsgroep_van": the old one} when the case had one (a case started
    before groups were recorded has none); {} when the group stays the same, so the event is
    as it was before issue 14. Drafts of the case's open tasks are cut to the new form
    (prune_drafts). Raises nothing. Rule: issue 14 point 3, the forms follow the owner's
    group."""
    new = group_of(session, new_owner_id)
    old = case.data.get(VARIABLE) if isinstance(case.data, dict) else None
    if old == new:
        return {}
    case.data = {**case.data, VARIABLE: new}
    prune_drafts(session, case)
    return {**({HANDED_FROM: old} if isinstance(old, str) else {}), VARIABLE: new}


def prune_drafts(session: Session, case: Case) -> None:
    """Cut every draft of `case`'s ready tasks to the answers to fields on that task's form as
    the case data now has it (forms.shown_fields, the rule engine/drafts.py applies when a
    draft is saved): after a change of group a KNMG point typed in a doctor's draft is not kept
    for a nurse's form. A consult's draft (its own form) is left alone. Raises nothing for a
    step the version does not know (that draft is left as it is)."""
    from .versions import definition_for  # versions builds on much of the engine

    steps = definition_for(session, case.process_version).steps
    rows = session.execute(select(Draft, TaskRecord.step).join(TaskRecord, TaskRecord.id == Draft.task_id)
                           .where(TaskRecord.case_id == case.id, TaskRecord.state == "ready"))
    for draft, step in rows:
        if step not in steps or step == "consult":
            continue
        on_form = {f.name for f in forms.shown_fields(steps[step].fields, case.data)}
        kept = {k: v for k, v in dict(draft.data or {}).items() if k in on_form}
        if kept != dict(draft.data or {}):
            draft.data = kept


def replayed_handover(event_data: Any, data: dict[str, Any]) -> Message | None:
    """A `case_handed_over` event met by replay (engine/replay.py) with the replayed case
    data `data`: a group it records (handed_over) is put into `data`, as the handover did; an
    event without one (no change, or recorded before issue 14) changes nothing. Out: None, or
    the problem (Dutch) when the event names no known group or another group than the case
    had. Raises nothing."""
    if not isinstance(event_data, dict) or VARIABLE not in event_data:
        return None
    new = event_data[VARIABLE]
    if new not in organisation.BEROEPSGROEPEN:
        return Message(N_("de overdracht geeft de casus een onbekende beroepsgroep: {group}"),
                       group=str(new)[:60])
    if HANDED_FROM in event_data and event_data[HANDED_FROM] != data.get(VARIABLE):
        return Message(N_("de overdracht zegt dat de casus beroepsgroep {was} had, bij afspelen "
                          "is dat {have}"), was=str(event_data[HANDED_FROM])[:60],
                       have=str(data.get(VARIABLE)))
    data[VARIABLE] = new
    return None
