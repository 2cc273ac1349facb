"""What the staff pages read and do, each page one call: composed from the case and task commands
(which check access and write the NEN 7513 access log) and small indexed reads.

No workflow is deserialised here: inboxes and lists read the task and case rows only.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy import func, select, union
from sqlalchemy.orm import defer

from . import clock, drafts, due, entries, links, organisation, professions, sharing, tasks, users, versions
from .cases import get_case, task_name
from .definitions import BPMN_NS, ProcessDefinition
from .drafts import aware
from .form_conditions import form_conditions, refusals
from .inbox_rows import page_rows
from .models import Case, CaseShare, Consult, Draft, HistoryEvent, TaskRecord, User
from .roles import AANDACHTSFUNCTIONARIS, AUDITOR, LEIDINGGEVENDE
from .store import unit_of_work
from .stored_rows import as_flag, damage
from .users import Principal

INBOX_LIMIT = 500
INBOX_SORTS = due.INBOX_SORTS  # how Mijn taken can be sorted: urgency, due date, case, step
CASES_PER_PAGE = 25

# --- who is signed in ------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    principal: Principal
    display_name: str


def person(user_id: Any, source: str | None) -> Person | None:
    """The signed-in person for a session, or None when the user is gone or deactivated."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return None
    with unit_of_work() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            return None
        return Person(Principal.of(user, source), user.display_name or user.name)


# --- Mijn taken ------------------------------------------------------------------------------


def inbox(who: Principal, sort: str = INBOX_SORTS[0]) -> dict[str, Any]:
    """The ready tasks this person may complete (at most INBOX_LIMIT, the first in the default
    order shown: urgent, priority, due date, ready time: inbox_rows.page_rows), in the order `sort` names
    (INBOX_SORTS, engine/due.py inbox_sort_key; an unknown one: the first). Out: "tasks", each
    with its case's client_ref, ready_at and due_at (aware UTC; due_at None without a due
    date), urgent, priority (due.has_priority: right after the urgent ones, structural
    unsafety), overdue (past due at clock.now()), due_this_year and draft (this person keeps a
    draft of it); "cases": the same tasks grouped by case, in that order; counts."""
    sort = sort if sort in INBOX_SORTS else INBOX_SORTS[0]
    now = clock.now()
    with unit_of_work() as session:
        rows = page_rows(session, who, INBOX_LIMIT)
        case_ids = {r.case_id for r in rows}
        # the two answers the inbox order reads, not the whole case data
        found = session.execute(
            select(Case.id, Case.client_ref, Case.process_version,
                   Case.data["acute_onveiligheid"].as_json(),
                   Case.data["structurele_onveiligheid"].as_json())
            .where(Case.id.in_(case_ids))
        ).all() if case_ids else []
        refs = {row[0]: row[1] for row in found}
        priority = _priority(session, rows, found)
        drafted = set(session.scalars(select(Draft.task_id).where(Draft.user_id == who.id)))
        items: list[dict[str, Any]] = [{
            "id": row.id, "case_id": row.case_id, "client_ref": refs.get(row.case_id, ""),
            "step": row.step, "name": task_name(row.step, row.name), "lane": row.lane,
            "ready_at": aware(row.ready_at), "due_at": aware(row.due_at),
            "urgent": as_flag(row.urgent), "overdue": due.is_overdue(row.due_at, now),
            "priority": row.id in priority,
            "due_this_year": row.due_at is None
            or due.local_day(row.due_at).year == due.local_day(now).year,
            "draft": row.id in drafted,
        } for row in rows]
        items.sort(key=due.inbox_sort_key(sort))
        groups: dict[int, dict[str, Any]] = {}
        lanes: dict[str, int] = defaultdict(int)
        for item in items:
            groups.setdefault(item["case_id"], {
                "case_id": item["case_id"], "client_ref": item["client_ref"], "tasks": [],
            })["tasks"].append(item)
            lanes[item["lane"]] += 1
        team: dict[str, int] = {}
        if who.has_role(LEIDINGGEVENDE):
            members = select(User.id).where(User.manager_id == who.id)
            team = dict(session.execute(
                select(TaskRecord.lane, func.count())
                .where(TaskRecord.state == "ready", TaskRecord.owner_id.in_(members),
                       TaskRecord.case_id.not_in(select(Case.id).where(Case.practice.is_(True))))
                .group_by(TaskRecord.lane)
            ).all())
        return {
            "tasks": items,
            "sort": sort,
            "cases": list(groups.values()),
            "count": len(rows),
            "truncated": len(rows) >= INBOX_LIMIT,
            "lane_counts": dict(lanes),
            "team_counts": team,
        }


def _priority(session, rows: list[TaskRecord], found) -> set[str]:
    """The ids of the task `rows` that have priority in the inbox (due.has_priority), with
    `found` the (id, client_ref, process_version, acute_onveiligheid, structurele_onveiligheid)
    rows of their cases. A version's definition is read only for a case with structural
    unsafety, and parsed once (versions.readable_definition)."""
    structural = {case_id: (version, {"acute_onveiligheid": _true(acute),
                                      "structurele_onveiligheid": True})
                  for case_id, _ref, version, acute, flag in found if _true(flag)}
    chosen = set()
    for row in rows:
        if row.case_id in structural:
            version, data = structural[row.case_id]
            definition = versions.readable_definition(session, version)  # GONE: no branch
            if not versions.is_gone(definition) and due.has_priority(row.step, definition.spec, data):
                chosen.add(row.id)
    return chosen


def _true(value: Any) -> bool:
    """Whether a JSON value read out of the case data is true: PostgreSQL gives True, SQLite's
    JSON_EXTRACT gives a JSON true as the integer 1 (and false as 0)."""
    return value is True or (type(value) is int and value == 1)


# --- Mijn casussen ---------------------------------------------------------------------------


def list_cases(who: Principal, page: int = 1, per_page: int = CASES_PER_PAGE,
               where: list | None = None) -> dict[str, Any]:
    """The cases this person may read, newest first, narrowed by `where` (conditions over Case
    and its owner User: a search, engine/listings.py); the cases table (and owners) only, with
    the same rules as users.may_read_case, as one indexed query. No practice case (practice
    mode's fictional cases are on their own page, engine/practice.py)."""
    page = max(1, min(int(page or 1), 100_000))
    offset = (page - 1) * per_page
    query = (
        select(Case.id, Case.client_ref, Case.status, Case.uitkomst, Case.started_at,
               Case.closed_at, Case.process_version, User.name, User.display_name)
        .join(User, User.id == Case.owner_id)
    )
    if not who.has_role(AUDITOR):
        # One branch per rule, each reading its own index newest first and no further than
        # this page needs: an OR over the rules would collect and sort every matching case.
        wanted = None if where else offset + per_page + 1  # a search may pass over any

        def newest(ids):
            column = ids.selected_columns[0]
            return select(ids.order_by(column.desc()).limit(wanted).subquery().c[0])

        real = Case.practice.is_(False)
        branches = [
            newest(select(Case.id).where(Case.owner_id == who.id, real)),
            select(CaseShare.case_id).where(CaseShare.user_id == who.id),
            select(Consult.case_id).where(Consult.user_id == who.id),  # consulted on it
        ]
        if who.has_role(LEIDINGGEVENDE):
            team = select(User.id).where(User.manager_id == who.id)
            branches.append(newest(select(Case.id).where(Case.owner_id.in_(team), real)))
        if who.has_role(AANDACHTSFUNCTIONARIS):
            branches.append(newest(
                select(TaskRecord.case_id).where(
                    TaskRecord.lane == AANDACHTSFUNCTIONARIS, TaskRecord.step != "consult",
                    TaskRecord.case_id.not_in(select(Case.id).where(Case.practice.is_(True))))
                .distinct()
            ))
        readable = union(*branches).subquery()
        query = query.where(Case.id.in_(select(readable.c[0])))
    query = query.where(Case.practice.is_(False), *(where or ())).order_by(
        Case.id.desc()).offset(offset).limit(per_page + 1)
    with unit_of_work() as session:
        rows = session.execute(query).all()
    cases = [
        {"id": r[0], "client_ref": r[1], "status": r[2], "uitkomst": r[3],
         "started_at": aware(r[4]), "closed_at": aware(r[5]), "process_version": r[6],
         "owner": r[7], "owner_name": r[8] or r[7]}
        for r in rows[:per_page]
    ]
    return {"cases": cases, "page": page, "has_next": len(rows) > per_page,
            "has_previous": page > 1}


# --- the case page ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DiagramInfo:
    """What the case page needs of a diagram beyond the parsed spec: names and the flows."""

    names: dict[str, str]
    successors: dict[str, frozenset[str]]

    def reachable_from(self, start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.successors.get(start, ()))
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self.successors.get(node, ()))
        return seen


_diagrams: dict[str, DiagramInfo] = {}
_diagrams_lock = threading.Lock()


def diagram_info(definition: ProcessDefinition) -> DiagramInfo:
    with _diagrams_lock:
        found = _diagrams.get(definition.sha256)
    if found is not None:
        return found
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    names: dict[str, str] = {}
    successors: dict[str, set[str]] = defaultdict(set)
    for source in definition.files:
        if source.kind != "bpmn":
            continue
        root = etree.fromstring(source.content, parser=parser)
        for node in root.iter():
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
                continue
            node_id, name = node.get("id"), node.get("name")
            if node_id and name:
                names[node_id] = name
            if etree.QName(node).localname == "sequenceFlow":  # both refs are required
                successors[node.get("sourceRef", "")].add(node.get("targetRef", ""))
    found = DiagramInfo(names, {k: frozenset(v) for k, v in successors.items()})
    with _diagrams_lock:
        _diagrams[definition.sha256] = found
    return found


def path_markers(definition: ProcessDefinition, info: DiagramInfo, case: dict[str, Any],
                 decided: set[str]) -> dict[str, list[str]]:
    """Element ids for the diagram: done, current, and skipped.

    A step is skipped when it was not done and no route from the current state can still
    reach it: it is not current and lies downstream of no current task along the diagram's
    sequence flows (loops included). In a closed case every step not done is skipped.
    """
    done = list(dict.fromkeys([*case["completed_steps"], *sorted(decided)]))
    current = sorted({t["step"] for t in case["tasks"]})
    still = set(current)
    if case["status"] != "closed":
        for step in current:
            still |= info.reachable_from(step)
    skipped = [step for step in definition.steps if step not in done and step not in still]
    return {"done": done, "current": current, "skipped": sorted(skipped)}


def case_page(who: Principal, case_id: Any, action: str = "read") -> dict[str, Any]:
    """The case (read through cases.get_case, so access is checked and logged as `action`;
    its times as aware datetimes, which the page formats; `beroepsgroep` the name of its
    group, or None with `beroepsgroep_organisatie` the organisation's when none was recorded),
    its timeline, the path through the diagram, the organisation's contacts, the linked cases
    (links.page_part) and `damaged`: what is stored damaged, a broken seal or unloadable
    state included, or None (stored_rows.damage)."""
    case = get_case(who, case_id, action=action, stamp=aware)
    with unit_of_work() as session:
        definition = versions.readable_definition(session, case["process_version"])
        info = diagram_info(definition)
        events = session.scalars(
            select(HistoryEvent).where(HistoryEvent.case_id == case["id"])
            .order_by(HistoryEvent.seq)
        ).all()
        actors = {e.actor for e in events} | {case["owner"]}
        display = dict(session.execute(
            select(User.name, User.display_name).where(User.name.in_(actors))
        ).all())
        timeline = []
        decided = set()
        for e in events:
            step = definition.steps.get(e.step) if e.step else None
            if e.action == "decision_made" and e.step:
                decided.add(e.step)
            timeline.append({
                "seq": e.seq, "at": aware(e.at), "actor": e.actor,
                "actor_name": display.get(e.actor) or e.actor, "action": e.action,
                "step": e.step,
                "step_name": (step.name if step else info.names.get(e.step or "", e.step)),
                "entries": entries.labelled(entries.event_fields(step, e.action),
                                           dict(e.data or {})),
                "data": dict(e.data or {}),
            })
        contacts = _contacts(session)
        # the beroepsgroep recorded at the start (engine/professions.py), by its name; a case
        # started before groups were recorded has none, and its help texts name the
        # organisation's afwegingskader (professions.help_values): the page says so
        group = case["data"].get(professions.VARIABLE)
        case["beroepsgroep"] = organisation.BEROEPSGROEPEN.get(group, group) \
            if isinstance(group, str) else None
        case["beroepsgroep_organisatie"] = None if isinstance(group, str) \
            else organisation.read(session)["beroepsgroep_label"]
        row = session.get_one(Case, case["id"], options=[defer(Case.workflow_state)])
        case["practice"] = bool(row.practice)  # practice mode marks every page (practice.py)
        colleagues = sharing.candidates(session, who, row)
        from .consults import candidates  # consults builds on cases: imported when needed
        consult_people = candidates(session, who, row)
        linked = links.page_part(session, who, row, case["linked_cases"])
        # in the session: a version that is gone is read there; get_case named a broken seal
        # or state (write_refusals.unshown), judged once
        damaged = damage(row, events, case.get("stored_damage"))
        for task in case["tasks"]:
            task["mine"] = users.may_complete(who, row, task["lane"]) if task["step"] != "consult" \
                else session.scalar(select(Consult.user_id).where(Consult.task_id == task["id"])) \
                == who.id  # a consult is for the person consulted (engine/consults.py)
    case["owner_name"] = display.get(case["owner"]) or case["owner"]
    case["started_at"] = timeline[0]["at"] if timeline else None
    case["started_by_name"] = timeline[0]["actor_name"] if timeline else case["owner_name"]
    closed = next((t["at"] for t in timeline if t["action"] == "case_closed"), None)
    return {
        "case": case,
        "timeline": timeline,
        "markers": path_markers(definition, info, case, decided),
        "step_names": {s.id: s.name for s in definition.steps.values()},
        "closed_at": closed,
        "contacts": contacts,
        "colleagues": colleagues,
        "consult_people": consult_people,  # whom `who` may ask for advice (engine/consults.py)
        "links": linked,  # linked cases, and whether `who` may start one for the children
        "damaged": damaged,  # stored damaged: said, never shown as sound
    }


def _contacts(session) -> dict[str, Any]:
    """The organisation's contacts (engine.organisation settings, defaults until a beheerder
    fills them in); without configured aandachtsfunctionarissen, the users with that role."""
    values = organisation.read(session)
    people = [
        {"display_name": p.get("naam") or "", "functie": p.get("functie") or "",
         "telefoon": p.get("telefoon") or "", "email": p.get("email") or ""}
        for p in values.get("aandachtsfunctionarissen") or [] if isinstance(p, dict)
    ]
    if not people:
        people = [
            {"display_name": d or n, "functie": "", "telefoon": "", "email": ""}
            for n, d in session.execute(
                select(User.name, User.display_name)
                .where(User.active.is_(True), User.roles_text.contains(AANDACHTSFUNCTIONARIS))
                .order_by(User.display_name, User.name).limit(20)
            ).all()
        ]
    return {
        "veilig_thuis_telefoon": values.get("veilig_thuis_telefoon") or "0800-2000",
        "veilig_thuis_regio_naam": values.get("veilig_thuis_regio_naam") or "",
        "veilig_thuis_regio_adres": values.get("veilig_thuis_regio_adres") or "",
        "veilig_thuis_regio_telefoon": values.get("veilig_thuis_regio_telefoon") or "",
        "aandachtsfunctionarissen": people,
    }


# --- the task page ---------------------------------------------------------------------------


def task_page(who: Principal, task_id: Any) -> dict[str, Any]:
    """The task with its form (tasks.get_task checks and logs access), this person's draft
    of it, if any, and which fields the form asks over the case data (`conditions` and
    `refusals`: engine/form_conditions.py), all in one read; in a practice case
    (engine/practice.py) `practice` true and `practice_hint`, what a good answer looks like."""
    from . import practice  # practice builds on cases and listings: imported when needed

    def also(session, task: dict[str, Any], case_data: dict[str, Any] | None) -> None:
        task["draft"] = drafts.load(session, who, task["id"])
        task["practice"] = practice.is_practice(session, task["case_id"])
        fields = task["form"]["fields"]
        task["conditions"], task["refusals"] = (form_conditions(fields, case_data),
                                                refusals(fields, case_data))

    task = tasks.get_task(who, task_id, stamp=aware, also=also)
    if task["practice"]:
        task["practice_hint"] = practice.hint(task.get("client_ref"), task["step"])
    return task


def complete_from_web(who: Principal, task_id: Any, data: Any) -> dict[str, Any]:
    """Complete a task with an HTML form's values (tasks.complete_task, which drops the
    task's drafts in its own transaction). Returns the case and next_task_id: the task the
    engine says this person opens next (tasks.next_task), or None. Raises what
    tasks.complete_task raises."""
    case = tasks.complete_task(who, task_id, data, from_web=True)
    return {"case": case, "next_task_id": case.get("next_task")}
