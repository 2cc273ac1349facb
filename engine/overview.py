"""Overviews beside the inbox (issue 13 point 5): the open cases of a leidinggevende's team,
where a step stands on the meldcode route ("Stap 3 van 5"), and what a case runs side by side
after stap 5.

Data only (codes, booleans, aware UTC datetimes): the words are the web layer's. The team
overview shows client references, so each case it shows is logged in the access log
(engine/listings.py), as the other list pages are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import clock, commands, due, listings
from .cases import task_name
from .drafts import aware
from .messages import N_
from .models import Case, TaskRecord, User
from .roles import LEIDINGGEVENDE
from .users import Principal

# The five steps of the meldcode route, in order ("Stap n van 5").
ROUTE_STEPS = ("stap1_signalen", "stap2_overleg", "stap3_gesprek", "stap4_wegen",
               "stap5_beslissen")
# Steps that belong to a step of the route without being one: shown as that step.
PART_OF = {"deskundige_raadplegen": "stap2_overleg"}
# What a case does after stap 5, each a track of its own steps (CONTRACT sections 1 and 5).
TRACKS = {
    "melding": ("melding_voorbereiden", "melding_voorbespreken", "melding_doen"),
    "terugkoppeling": ("terugkoppeling_vt",),
    "hulp": ("hulp_organiseren", "hulp_evalueren"),
    "afstemming": ("besluit_afstemmen",),
    "igj": ("melding_igj",),
}
AFTER_STAP5 = frozenset(s for steps in TRACKS.values() for s in steps)
TEAM_LIMIT = 200  # open cases on the team page; more is said on the page


def progress(step: str) -> dict[str, Any] | None:
    """Where `step` stands: {"kind": "route", "number": n, "total": 5} for the route's steps
    (and the steps that belong to one), {"kind": "after"} for a step after stap 5 (the
    melding, the help, the feedback, the afstemming), None otherwise (a consult, an unknown
    step of another process)."""
    step = PART_OF.get(step, step)
    if step in ROUTE_STEPS:
        return {"kind": "route", "number": ROUTE_STEPS.index(step) + 1,
                "total": len(ROUTE_STEPS)}
    if step in AFTER_STAP5:
        return {"kind": "after"}
    return None


def after_stap5(case: Mapping[str, Any]) -> dict[str, Any] | None:
    """The two decisions of stap 5 and what runs side by side since, from a case view
    (cases.case_dict: completed_steps, data, tasks, status), or None before stap5_beslissen
    is completed. {"melden": bool, "hulp": bool, "tracks": [{"track", "state", "steps"}]}:
    a track's state is "open" (a step of it is ready: `steps` names them), "done" (done, and
    nothing of it ready), "waiting" (decided, not yet begun, or waiting for a date: then
    "date" holds the evaluation date, a datetime.date, or None); tracks that do not apply are left out."""
    completed = list(case.get("completed_steps") or ())
    if "stap5_beslissen" not in completed:
        return None
    data = case.get("data") or {}
    melden, hulp = data.get("besluit_melden") is True, data.get("besluit_hulp") is True
    ready: dict[str, list[str]] = {}
    for task in case.get("tasks") or ():
        ready.setdefault(task["step"], []).append(task.get("name") or task["step"])
    wanted = ["afstemming"]
    if melden or any(s in completed for s in TRACKS["melding"]):
        wanted += ["melding", "terugkoppeling"]
    if hulp or any(s in completed for s in TRACKS["hulp"]):
        wanted.append("hulp")
    if any(s in completed or s in ready for s in TRACKS["igj"]):
        wanted.append("igj")
    closed = case.get("status") == "closed"
    tracks = []
    for track in wanted:
        steps = TRACKS[track]
        open_steps = [name for s in steps for name in ready.get(s, ())]
        started = any(s in completed for s in steps)
        entry: dict[str, Any] = {"track": track, "steps": open_steps}
        if open_steps:
            entry["state"] = "open"
        elif closed or (started and track != "hulp") or (
                track == "hulp" and "hulp_evalueren" in completed):
            entry["state"] = "done"
        else:
            entry["state"] = "waiting"
            if track == "hulp" and started:
                entry["date"] = _day(data.get(due.EVALUATION_DATE))
        tracks.append(entry)
    return {"melden": melden, "hulp": hulp, "tracks": tracks}


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def team_cases(who: Principal) -> dict[str, Any]:
    """A leidinggevende's team overview: the open cases whose owner has `who` as manager
    (CONTRACT section 2), oldest first, at most TEAM_LIMIT: {"cases": [{"id", "client_ref",
    "owner", "owner_name", "started_at", "tasks": [{"id", "step", "name", "lane", "due_at",
    "urgent", "overdue", "progress"}], "overdue": n}], "total", "truncated"}. Each case shown
    is logged as listings.SHOWN_IN_TEAM. Only for a leidinggevende (Forbidden, logged)."""

    def run(session: Session) -> dict[str, Any]:
        if not who.has_role(LEIDINGGEVENDE):
            raise commands.Denied(N_("Alleen een leidinggevende heeft een teamoverzicht."),
                                  None, listings.SHOWN_IN_TEAM)
        team = select(User.id).where(User.manager_id == who.id)
        # practice mode's fictional cases (engine/practice.py) are no team member's work
        mine = (Case.status == "open", Case.owner_id.in_(team), Case.practice.is_(False))
        total = session.scalar(select(func.count()).select_from(Case).where(*mine)) or 0
        rows = session.execute(
            select(Case.id, Case.client_ref, Case.started_at, User.name, User.display_name)
            .join(User, User.id == Case.owner_id).where(*mine)
            .order_by(Case.started_at, Case.id).limit(TEAM_LIMIT)
        ).all()
        return {"cases": _with_tasks(session, rows), "total": total,
                "truncated": total > len(rows)}

    found = commands.run_command(who, run, write=False)
    listings.logged(who, listings.SHOWN_IN_TEAM, (c["id"] for c in found["cases"]))
    return found


def _with_tasks(session: Session, rows) -> list[dict[str, Any]]:
    now = clock.now()
    ids = [r.id for r in rows]
    ready: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for t in session.scalars(select(TaskRecord).where(
                TaskRecord.case_id.in_(ids), TaskRecord.state == "ready")):
            ready[t.case_id].append({
                "id": t.id, "step": t.step, "name": task_name(t.step, t.name), "lane": t.lane,
                "due_at": aware(t.due_at), "urgent": bool(t.urgent),
                "overdue": due.is_overdue(t.due_at, now), "progress": progress(t.step),
                "ready_at": aware(t.ready_at)})
    cases = []
    for r in rows:
        found = sorted(ready[r.id], key=due.inbox_key)
        cases.append({"id": r.id, "client_ref": r.client_ref, "owner": r.name,
                      "owner_name": r.display_name or r.name, "started_at": aware(r.started_at),
                      "tasks": found, "overdue": sum(1 for t in found if t["overdue"])})
    return cases
