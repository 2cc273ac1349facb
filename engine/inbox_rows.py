"""Which ready tasks Mijn taken (the web inbox, engine.pages.inbox) shows: the first page in
the order the page shows them by default (engine.due.web_inbox_key: urgent first, then the
tasks with priority, then by due date and ready time), not the first page of the API's order
with priority applied afterwards.

tasks.ready_task_rows chooses the API's first rows (CONTRACT section 5: urgent, due date,
ready time). With more ready tasks than a page holds, a task with priority (due.has_priority:
the melding of a case with structural unsafety, issue 14 point 3) and a late due date fell off
that page, although the page puts it right after the urgent ones. So when the API's page is
full, the tasks with priority are read as well (one query over the melding tasks of cases with
structural unsafety) and the page is chosen from both. The other sorts of the page (by due
date, case, step) show this same page in their own order: the urgent tasks and those with
priority never drop off a page by a re-sort.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from . import due, tasks, versions
from .models import Case, TaskRecord
from .users import Principal, may_complete


def page_rows(session: Session, who: Principal, limit: int) -> list[TaskRecord]:
    """The ready task rows `who` may complete that Mijn taken shows, at most `limit`: the first
    `limit` in due.web_inbox_key's order, in that order. One read (tasks.ready_task_rows) when
    `who` has fewer than `limit` ready tasks; else one more for the tasks with priority
    (priority_rows). Raises nothing of its own."""
    rows = tasks.ready_task_rows(session, who, limit)
    if len(rows) < limit:
        return rows
    first = priority_rows(session, who, limit)
    if not first:
        return rows
    chosen = {row.id: row for row in rows}
    for row in first:
        chosen.setdefault(row.id, row)
    with_priority = {row.id for row in first}
    return sorted(chosen.values(), key=lambda row: due.web_inbox_key(_keyed(row, row.id in with_priority)))[
        :limit
    ]


def priority_rows(session: Session, who: Principal, limit: int) -> list[TaskRecord]:
    """The ready tasks with priority in the web inbox (due.has_priority) that `who` may
    complete (users.may_complete, the rule of tasks.ready_task_rows), at most `limit`, by due
    date (none last), ready time and id; no task of a practice case. Reads the ready melding
    tasks of the cases whose data holds structurele_onveiligheid true, with their cases and
    owners, and each case's version definition (versions.readable_definition, parsed once). Raises
    nothing of its own."""
    found = session.execute(
        select(TaskRecord, Case)
        .join(Case, Case.id == TaskRecord.case_id)
        .options(joinedload(Case.owner))
        .where(
            TaskRecord.state == "ready",
            TaskRecord.step != tasks.CONSULT,
            Case.practice.is_(False),
            Case.data["structurele_onveiligheid"].as_boolean().is_(True),
        )
        .order_by(TaskRecord.due_at.asc().nulls_last(), TaskRecord.ready_at, TaskRecord.id)
    ).all()
    chosen: list[TaskRecord] = []
    for row, case in found:
        # a case whose version is gone (stored_rows.version_damage) has no melding branch
        definition = versions.readable_definition(session, case.process_version)
        if versions.is_gone(definition):
            continue
        if due.has_priority(row.step, definition.spec, case.data or {}) and may_complete(who, case, row.lane):
            chosen.append(row)
            if len(chosen) >= limit:
                break
    return chosen


def _keyed(row: TaskRecord, priority: bool) -> dict[str, Any]:
    """What due.web_inbox_key reads of a task row."""
    return {
        "urgent": bool(row.urgent),
        "priority": priority,
        "due_at": row.due_at,
        "ready_at": row.ready_at,
        "id": row.id,
    }
