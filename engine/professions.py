"""The professional group of a case (issue 14 point 3): the afwegingskader follows the
professional. Each user has a beroepsgroep (users.beroepsgroep; None: the organisation's
setting, engine/organisation.py); a case records its owner's at its start, as the variable
`beroepsgroep` in the case data and in its `case_started` event, so replay and verify arrive at
the same data. The diagram's forms read it: a field's `shown_when` (engine/forms.py) puts the
KNMG points on the forms of a doctor's case only, and {afwegingskader} in a help text names
that group's afwegingskader.

The group stays what it was at the start, also after a handover to a colleague of another
group: the forms already completed were asked under it, and the case's history says so once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from . import organisation
from .models import User

VARIABLE = "beroepsgroep"  # the case data's name for it, read by the diagram's conditions


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
