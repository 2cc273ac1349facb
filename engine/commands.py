"""The command runner every engine command goes through, and its access-log rules.

`run_command` runs one command in one transaction; `Denied` (403) is a refused attempt on a case,
logged (NEN 7513) in a transaction of its own after the rollback (`log_denied`); refused changes
(409, 422) are logged by `refusals_logged` / `log_refused` with the reason in the action
(`refusal_action`). `load_case` reads a case by an id from outside, `MAX_ID` bounds such ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import audit
from .errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from .messages import N_
from .models import Case
from .store import unit_of_work
from .users import Principal


class Denied(Forbidden):
    """A refused attempt on a case: logged in its own transaction after the rollback."""

    def __init__(self, message: str, case_id: int | None, action: str):
        super().__init__(message)
        self.case_id = case_id
        self.action = action


def run_command(who: Principal, fn: Callable[[Session], Any], write: bool = True) -> Any:
    """Run `fn(session)` in one transaction (unit_of_work; `write`: the write transaction) and
    return what it returns. A Denied it raises is rolled back and then logged by log_denied in
    a transaction of its own before it goes on up; a concurrent change of the same row
    (StaleDataError) becomes Conflict (409). Other errors go up unchanged, nothing stored."""
    try:
        with unit_of_work(write=write) as session:
            return fn(session)
    except Denied as denied:
        log_denied(who, denied)
        raise
    except StaleDataError:
        raise Conflict(N_("De casus is intussen door iemand anders gewijzigd; probeer opnieuw.")) from None


def log_denied(who: Principal | str, denied: Denied, on_behalf_of: str | None = None) -> None:
    """The access-log line (outcome denied) of a refused attempt, in a transaction of its own.
    who: the Principal, or a plain name for someone who is no user of the product (the
    operator of the command line, on_behalf_of the name they gave)."""
    with unit_of_work(write=True) as session:
        case = session.get(Case, denied.case_id) if denied.case_id else None
        audit.log_access(session, who, denied.action, "denied", case=case,
                         case_id=denied.case_id, source=getattr(who, "source", None),
                         on_behalf_of=on_behalf_of)


# Why a change was refused, in the access log's action: CONTRACT section 4 keeps the outcome
# to "ok" | "denied" and the log has no detail column.
REFUSAL_REASONS = {409: "conflict", 422: "invalid"}


def refusal_action(action: str, error: DomainError) -> str:
    """The access-log action of a refused attempt at `action`: the action itself for a 403 (as
    Denied logs it), `action:invalid` for data refused (422), `action:conflict` when the case
    or task had moved on (409)."""
    reason = REFUSAL_REASONS.get(error.status)
    return f"{action}:{reason}" if reason else action


@contextlib.contextmanager
def refusals_logged(who: Principal, case_id: Any, action: str,
                    new_case: bool = False) -> Iterator[None]:
    """Around a command that changes case `case_id`: a 409 or 422 it raises is written to the
    access log with outcome "denied" (NEN 7513: every attempt to change a case, refused ones
    included) before it goes on up. 403s are logged by the command itself (Denied); nothing is
    logged for a case that does not exist. new_case: the command would start a case (there is
    none yet): its refusal is a line without a case."""
    try:
        yield
    except (Invalid, Conflict) as error:
        log_refused(who, case_id, action, error, new_case)
        raise


def log_refused(who: Principal, case_id: Any, action: str, error: DomainError,
                new_case: bool = False) -> None:
    """One access-log line (outcome denied, action refusal_action(action, error)) for a refused
    change of an existing case, in a transaction of its own: the refused command's transaction
    was rolled back. Nothing is logged when `case_id` names no case (not a number, out of range,
    or no such row). Never raises for the case id. new_case: a refused start of a case, logged
    without a case (case_id is not read). who: a Principal, or for the command line a User or
    a name (refusal_logged)."""
    if new_case:
        with unit_of_work(write=True) as session:
            audit.log_access(session, who, refusal_action(action, error), "denied",
                             source=getattr(who, "source", None))
        return
    try:
        case_id = int(case_id)
    except (TypeError, ValueError):
        return
    if not 0 < case_id <= MAX_ID:
        return
    with unit_of_work(write=True) as session:
        case = session.get(Case, case_id)
        if case is not None:
            audit.log_access(session, who, refusal_action(action, error), "denied", case=case,
                             source=getattr(who, "source", None))


def refusal_logged(who: Any, case_ids: list[Any], action: str, error: DomainError) -> DomainError:
    """`error`, once each case of `case_ids` (in order, each once) has its log_refused line: a
    command over many cases (a move to another version, engine/migration.py) refused for some,
    its transaction rolled back. who: a Principal, a User or an operator's name (the command
    line). The caller raises what it returns (NEN 7513: every refused attempt is logged)."""
    for case_id in dict.fromkeys(case_ids):
        log_refused(who, case_id, action, error)
    return error


# Case ids and version numbers are INTEGER columns: 32 bits on PostgreSQL, where a larger
# number in a query is an error rather than no row. Nothing above this can exist.
MAX_ID = 2**31 - 1


def load_case(session: Session, case_id: Any) -> Case:
    """The case with id `case_id` as it came from outside (URL, JSON, command line: any type).
    Raises NotFound for anything that is not the id of an existing case, a number out of the
    database's range (MAX_ID) included; checks no access (see cases.open_case)."""
    try:
        case_id = int(case_id)
    except (TypeError, ValueError):
        raise NotFound(N_("Casus niet gevonden.")) from None
    if not 0 < case_id <= MAX_ID:
        raise NotFound(N_("Casus niet gevonden."))
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(N_("Casus niet gevonden."))
    return case
