"""What verify reads of a case: its row, history events, access-log lines, owner's name,
sharers, linked cases, task rows and consults. One case at a time (CaseReads, a statement per
kind when asked), or a batch of cases in seven statements (read_batch, for `verify --all`): per
case that saved about as much time as the replay of a short case costs. Rows are plain rows (no
ORM bookkeeping), the statements built once, each read in the caller's transaction
(read_snapshot: one consistent view)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Row, bindparam, null, select, union_all
from sqlalchemy.orm import Session

from . import failures, links
from .models import AccessLogEntry, Case, CaseLink, CaseShare, Consult, HistoryEvent, TaskRecord, User
from .stored_rows import refused

_CASES = Case.__table__
_EVENTS = HistoryEvent.__table__
_ACCESS = AccessLogEntry.__table__
_TASKS = TaskRecord.__table__
_USERS = User.__table__
_SHARES = CaseShare.__table__
_LINKS = CaseLink.__table__
_CONSULTS = Consult.__table__

_ONE: BindParameter[int] = bindparam("case_id")
_MANY: BindParameter[list[int]] = bindparam("ids", expanding=True)

# Built once: building a statement cost more than running it on SQLite.
CASE_ROW = select(_CASES).where(_CASES.c.id == _ONE)
_EVENTS_OF = select(_EVENTS).where(_EVENTS.c.case_id == _ONE).order_by(_EVENTS.c.seq, _EVENTS.c.id)
_ACCESS_OF = select(_ACCESS).where(_ACCESS.c.case_id == _ONE).order_by(_ACCESS.c.id)
_OWNER = select(_USERS.c.name).where(_USERS.c.id == bindparam("user_id"))
_SHARERS_OF = (select(_USERS.c.name).join(_SHARES, _SHARES.c.user_id == _USERS.c.id)
               .where(_SHARES.c.case_id == _ONE))
# every column: verify checks the whole row (engine/task_rows.py)
_TASKS_OF = select(_TASKS).where(_TASKS.c.case_id == _ONE)
# a consult's row with the name of the user it names (None: no such user)
_CONSULT_COLUMNS = (_CONSULTS.c.case_id, _CONSULTS.c.task_id, _USERS.c.name.label("user"))
_CONSULT_JOIN = _CONSULTS.outerjoin(_USERS, _CONSULTS.c.user_id == _USERS.c.id)
_CONSULTS_OF = (select(*_CONSULT_COLUMNS).select_from(_CONSULT_JOIN)
                .where(_CONSULTS.c.case_id == _ONE))

_CASE_ROWS = select(_CASES).where(_CASES.c.id.in_(_MANY))
_EVENTS_IN = (select(_EVENTS).where(_EVENTS.c.case_id.in_(_MANY))
              .order_by(_EVENTS.c.case_id, _EVENTS.c.seq, _EVENTS.c.id))
_ACCESS_IN = (select(_ACCESS).where(_ACCESS.c.case_id.in_(_MANY))
              .order_by(_ACCESS.c.case_id, _ACCESS.c.id))
_NAMES_IN = select(_USERS.c.id, _USERS.c.name).where(_USERS.c.id.in_(_MANY))
# Who may read the cases besides their owner, in one statement: the users each case is shared
# with (task_id NULL) and the rows of the consults table (a consult's task_id; user None when
# it names no user), so a batch costs no statement more for the consults.
_SHARERS_IN = (select(_SHARES.c.case_id, null().label("task_id"), _USERS.c.name.label("user"))
               .join(_USERS, _SHARES.c.user_id == _USERS.c.id)
               .where(_SHARES.c.case_id.in_(_MANY)))
_READERS_IN = union_all(_SHARERS_IN, select(*_CONSULT_COLUMNS).select_from(_CONSULT_JOIN)
                        .where(_CONSULTS.c.case_id.in_(_MANY)))
_LINKS_IN = select(_LINKS.c.case_id, _LINKS.c.linked_id).where(
    _LINKS.c.case_id.in_(_MANY) | _LINKS.c.linked_id.in_(_MANY))
_TASKS_IN = select(_TASKS).where(_TASKS.c.case_id.in_(_MANY))


def read_snapshot(session: Session) -> None:
    """Make the session's coming read transaction one consistent view of the database, so a
    case written while verify reads it is seen wholly before or wholly after that write: on
    PostgreSQL REPEATABLE READ (reads there never block writers nor fail for them); SQLite's
    read transaction in WAL mode is a snapshot already. Call before the first statement."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


log = logging.getLogger("meldcode.verify")  # why a case could not be verified, with traceback
_T = TypeVar("_T")
# Tries of one read transaction while the database is busy for a moment, and the first wait
# (doubled each time): a verify that runs beside the server waits for it, it reports no case.
_TRIES, _WAIT = 5, 0.2


def retried(read: Callable[..., _T]) -> Callable[..., _T]:
    """`read` tried again, in a new transaction of its own, when the database was busy for a
    moment or the connection dropped (failures.transient), up to _TRIES times; then, and for
    any other error, it raises what `read` raised. Issue 11: a busy database is waited on,
    never a finding of the case being read."""

    @functools.wraps(read)
    def again(*args: Any, **kwargs: Any) -> _T:
        for attempt in range(_TRIES):
            try:
                return read(*args, **kwargs)
            except Exception as exc:
                if not failures.transient(exc) or attempt == _TRIES - 1:
                    raise
                time.sleep(_WAIT * 2 ** attempt)
        raise AssertionError("unreachable")

    return again


class CaseReads:
    """The records of one case, each read when asked (a statement per kind). Raises what the
    database driver raises for a row that does not load (invalid JSON), and DamagedValue for
    an event or access-log line with a time read as damaged (engine/stored_rows.py)."""

    def __init__(self, session: Session, case_id: int) -> None:
        self.session = session
        self.case_id = case_id

    def _rows(self, statement, **params: Any) -> list[Row[Any]]:
        return list(self.session.execute(statement, {"case_id": self.case_id, **params}))

    def events(self) -> list[Row[Any]]:
        """The history events, in order of seq (a damaged time raises: stored_rows.refused)."""
        return refused(self._rows(_EVENTS_OF))

    def access(self) -> list[Row[Any]]:
        """The access-log lines, in the order written (a damaged time raises)."""
        return refused(self._rows(_ACCESS_OF))

    def owner(self, user_id: int) -> str | None:
        """The name of user `user_id`, None when no such user exists."""
        return self.session.execute(_OWNER, {"user_id": user_id}).scalar()

    def sharers(self) -> list[str]:
        """The names of the users the case is shared with or was handed to, sorted."""
        return sorted(r.name for r in self._rows(_SHARERS_OF))

    def tasks(self) -> list[Row[Any]]:
        """The task rows, every column (times as engine/stored_time.py reads them)."""
        return self._rows(_TASKS_OF)

    def consults(self) -> list[Row[Any]]:
        """The rows of the consults table: case_id, task_id, user (the name of the user it
        names, None when no such user exists)."""
        return self._rows(_CONSULTS_OF)

    def links(self) -> list[int]:
        """The ids of the cases linked to this one, either way (engine/links.py), sorted."""
        return links.linked_ids(self.session, self.case_id)


class _Prefetched(CaseReads):
    """The records of one case as read_batch read them."""

    def __init__(self, case_id: int) -> None:
        super().__init__(None, case_id)  # type: ignore[arg-type]  # never queries
        self.event_rows: list[Row[Any]] = []
        self.access_rows: list[Row[Any]] = []
        self.sharer_names: list[str] = []
        self.task_rows: list[Row[Any]] = []
        self.consult_rows: list[Row[Any]] = []
        self.linked: list[int] = []
        self.names: dict[int, str] = {}

    def events(self) -> list[Row[Any]]:
        return self.event_rows

    def access(self) -> list[Row[Any]]:
        return self.access_rows

    def owner(self, user_id: int) -> str | None:
        return self.names.get(user_id)

    def sharers(self) -> list[str]:
        return sorted(self.sharer_names)

    def tasks(self) -> list[Row[Any]]:
        return self.task_rows

    def consults(self) -> list[Row[Any]]:
        return self.consult_rows

    def links(self) -> list[int]:
        return sorted(self.linked)


def read_batch(session: Session, ids: Iterable[int]) -> dict[int, tuple[Row[Any], CaseReads]]:
    """The rows and records of the cases `ids` that exist, in seven statements, in the
    session's transaction. Out: case id -> (case row, its records). Raises what the driver
    raises when any row of any of these cases does not load: the caller then reads those
    cases one by one (CaseReads) to name the case and the row."""
    params = {"ids": list(ids)}
    # a time read as damaged raises as a row that does not load (stored_rows.refused)
    rows = {row.id: row for row in refused(list(session.execute(_CASE_ROWS, params)))}
    found: dict[int, _Prefetched] = {cid: _Prefetched(cid) for cid in rows}
    for event in refused(list(session.execute(_EVENTS_IN, params))):
        if event.case_id in found:
            found[event.case_id].event_rows.append(event)
    for line in refused(list(session.execute(_ACCESS_IN, params))):
        if line.case_id in found:
            found[line.case_id].access_rows.append(line)
    for reader in session.execute(_READERS_IN, params):
        if reader.case_id not in found:
            continue
        if reader.task_id is None:  # shared with
            found[reader.case_id].sharer_names.append(reader.user)
        else:  # a consult
            found[reader.case_id].consult_rows.append(reader)
    for link in session.execute(_LINKS_IN, params):  # read both ways
        for one, other in ((link.case_id, link.linked_id), (link.linked_id, link.case_id)):
            if one in found:
                found[one].linked.append(other)
    for task in session.execute(_TASKS_IN, params):
        if task.case_id in found:
            found[task.case_id].task_rows.append(task)
    owners = {row.owner_id for row in rows.values() if row.owner_id is not None}
    names: dict[int, str] = {r.id: r.name for r in session.execute(
        _NAMES_IN, {"ids": sorted(owners)})} if owners else {}
    for reads in found.values():
        reads.names = names
    return {cid: (rows[cid], reads) for cid, reads in found.items()}
