"""Who may learn that a case is stored damaged, and what of it (issue 11): access first, then
damage. The web layer answers an error on a damaged case with 409 and the damaged fields
(webui/web.py); only a reader of the case (users.may_read_case, CONTRACT section 2) may get
that answer, anyone else gets the 403 of any case they may not read.

A case row that does not load at all (SQLite: bytes that are no UTF-8 in a column) is judged
from what of it reads (stored_rows.loaded_rows): its owner_id, its practice flag, the owner's
manager_id, and the case's shares, consults, tasks and informed events by its id. What does
not read grants nothing (fail closed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from . import store, users
from .mail_addresses import stored_value_error
from .models import Case, User
from .roles import AUDITOR
from .stored_rows import DamagedRow, loaded_rows

_cases, _users = Case.__table__, User.__table__


@dataclass
class _Owner:
    manager_id: int | None


@dataclass
class _ReadCase:
    """What users.may_read_case asks of a case, from the columns that read."""

    id: int
    owner_id: int | None
    practice: bool
    owner: _Owner | None


def may_read_damaged(who: users.Principal, case_id: Any) -> bool:
    """Whether `who` may read case `case_id` (an int; anything else: a case that is not known,
    as a task whose case number is damaged) while it is stored damaged. An auditor may read
    every case; otherwise users.may_read_case on the case as it loads, or, when it does not
    load, on what of its row reads (module docstring). False when the case is not there or
    what decides does not read. Raises only what the database raises."""
    if who.has_role(AUDITOR):
        return True
    if type(case_id) is not int:
        return False
    with store.unit_of_work() as session:
        try:
            case = session.get(Case, case_id)
            return case is not None and users.may_read_case(session, who, case)
        except Exception as exc:  # noqa: BLE001 - judged below
            if not stored_value_error(exc):
                raise
        session.rollback()  # the failed load leaves nothing in the session
        return users.may_read_case(session, who, cast(Case, _as_read(session.connection(), case_id)))


def _as_read(conn: Any, case_id: int) -> _ReadCase:
    rows = loaded_rows(conn, _cases, _cases.c.id == case_id)
    row = rows[0] if rows else None
    owner_id = getattr(row, "owner_id", None)
    owner_id = owner_id if type(owner_id) is int else None
    # a flag that does not read as "no" is taken for a practice case: owner and auditor only
    practice = getattr(row, "practice", None) is not False
    owner = None
    if owner_id is not None:
        found = loaded_rows(conn, _users, _users.c.id == owner_id)
        manager = getattr(found[0], "manager_id", None) if found else "gone"
        if found and isinstance(found[0], DamagedRow) and "manager_id" in found[0].damage:
            manager = "unread"  # a DamagedRow holds None for a column that does not read
        if manager is None or type(manager) is int:
            owner = _Owner(manager)
    return _ReadCase(case_id, owner_id, practice, owner)
