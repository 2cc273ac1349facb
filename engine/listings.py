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

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from . import audit, pages
from .models import Case
from .store import unit_of_work
from .users import Principal

# The access-log actions of a case shown in a list.
SHOWN_IN_CASES = "list_cases"  # Mijn casussen
SHOWN_IN_INBOX = "list_inbox"  # Mijn taken
SHOWN_IN_SEARCH = "list_search"  # the auditor's case search


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


def _logged(who: Principal, action: str, case_ids: Iterable[int]) -> None:
    with unit_of_work(write=True) as session:
        log_shown(session, who, action, case_ids)


def my_cases(who: Principal, page: int = 1) -> dict[str, Any]:
    """Mijn casussen (pages.list_cases), each case shown logged as `list_cases`."""
    listing = pages.list_cases(who, page)
    _logged(who, SHOWN_IN_CASES, (c["id"] for c in listing["cases"]))
    return listing


def inbox(who: Principal, sort: str = pages.INBOX_SORTS[0]) -> dict[str, Any]:
    """Mijn taken (pages.inbox: the ready tasks in the order `sort` names, and grouped by case,
    with the client reference), each case shown logged as `list_inbox`."""
    found = pages.inbox(who, sort)
    _logged(who, SHOWN_IN_INBOX, (group["case_id"] for group in found["cases"]))
    return found
