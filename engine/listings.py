"""The list pages that show client references, with their NEN 7513 access-log lines.

A list that names a client (Mijn casussen, Mijn taken, the auditor's search results) discloses
that this client has a case here, and with status and outcome something of what it holds.
NEN 7513 asks who saw which client's data, so every such view is logged.

One line per case shown, in that case's own chain, rather than one line per page view that
lists the ids: the access log is read per case (the case's access-log page and API, "wie heeft
dit dossier ingezien", the dossier), and an auditor asks about a client, not about a page. A
page-view line would hold the ids in a text no per-case view reads. The price is one line per
row shown (25 in Mijn casussen, 50 in a search page, one per case in the inbox), written in a
short transaction after the read, in case-id order, so list views never wait on each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, load_only

from . import audit, pages
from .messages import N_, Message
from .models import Case, User
from .store import unit_of_work
from .users import Principal

# The access-log actions of a case shown in a list.
SHOWN_IN_CASES = "list_cases"  # Mijn casussen
SHOWN_IN_INBOX = "list_inbox"  # Mijn taken
SHOWN_IN_SEARCH = "list_search"  # the auditor's case search
SHOWN_IN_TEAM = "list_team"  # a leidinggevende's team overview (engine/overview.py)
SEARCHED = "search"  # a search by client reference or owner was made (also one finding nothing)


def log_shown(session: Session, who: Principal, action: str, case_ids: Iterable[int]) -> None:
    """One access-log line (outcome ok) per case in `case_ids` that exists, as `action`, in
    the session's transaction; in id order, so two list views lock cases in the same order."""
    ids = sorted(set(case_ids))
    if not ids:
        return
    shown = session.scalars(select(Case).options(load_only(Case.id, Case.client_ref))
                            .where(Case.id.in_(ids)).order_by(Case.id))
    for case in shown:
        audit.log_access(session, who, action, "ok", case=case, source=who.source)


def logged(who: Principal, action: str, case_ids: Iterable[int], searched: bool = False) -> None:
    """log_shown in a short write transaction of its own, after the read; `searched`: first a
    line (without case) that a search was made."""
    with unit_of_work(write=True) as session:
        if searched:
            audit.log_access(session, who, SEARCHED, "ok", source=who.source)
        log_shown(session, who, action, case_ids)


# --- searching by client reference and owner (Mijn casussen, the auditor's list) ------------

SEARCH_FIELDS = ("client_ref", "owner")
MAX_SEARCH = 100  # characters: a client reference holds at most 200, a name 80


def parse_search(args: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The search terms of query parameters `client_ref` and `owner` (stripped; "" when not
    given) and Dutch field errors: too long, or a control character."""
    values = {name: str(args.get(name) or "").strip() for name in SEARCH_FIELDS}
    errors: dict[str, Any] = {}
    for name, value in values.items():
        if len(value) > MAX_SEARCH:
            errors[name] = Message(N_("Zoek met ten hoogste {n} tekens."), n=MAX_SEARCH)
        elif any(ord(c) < 32 or ord(c) == 127 for c in value):
            errors[name] = N_("Bevat een ongeldig teken.")
    return values, errors


def search_conditions(values: Mapping[str, str]) -> list[Any]:
    """SQL conditions for the search terms (over cases joined with their owner as User): the
    client reference contains the text, the owner's user name or display name contains it;
    case-insensitive, with %, _ and the escape character taken literally."""
    found: list[Any] = []
    if values.get("client_ref"):
        found.append(func.lower(Case.client_ref).contains(values["client_ref"].lower(),
                                                          autoescape=True))
    if values.get("owner"):
        owner = values["owner"].lower()
        found.append(or_(func.lower(User.name).contains(owner, autoescape=True),
                         func.lower(User.display_name).contains(owner, autoescape=True)))
    return found


def my_cases(who: Principal, page: int = 1, search: Mapping[str, str] | None = None
             ) -> dict[str, Any]:
    """Mijn casussen (pages.list_cases), narrowed by the search terms of `search` (parse_search:
    client_ref, owner), each case shown logged as `list_cases`, after a "search" line when
    terms were given."""
    conditions = search_conditions(search or {})
    listing = pages.list_cases(who, page, where=conditions)
    logged(who, SHOWN_IN_CASES, (c["id"] for c in listing["cases"]), searched=bool(conditions))
    return listing


def inbox(who: Principal, sort: str = pages.INBOX_SORTS[0]) -> dict[str, Any]:
    """Mijn taken (pages.inbox: the ready tasks in the order `sort` names, and grouped by case,
    with the client reference), each case shown logged as `list_inbox`."""
    found = pages.inbox(who, sort)
    logged(who, SHOWN_IN_INBOX, (group["case_id"] for group in found["cases"]))
    return found
