"""Time columns that read back whatever a database writer stored (models: a task row's
ready_at, due_at and completed_at). SQLite keeps any text in a time column, and SQLAlchemy
fails the whole row of a value it cannot parse: the inbox and the case page, which read the
task rows, would answer 500. StoredTime reads such a value as a DamagedTime instead, so the
pages still open and say the row is damaged, and verify names the column (engine/task_rows.py).
PostgreSQL's timestamp columns refuse such values themselves; there nothing changes. The rule
is engine/stored_text.py's for texts: show what can be shown, name the damage."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class DamagedTime(datetime):
    """A stored time that does not parse, as read: the start of the Unix epoch (UTC) in its
    place, so sorting and comparing never fail; `stored` holds the text as it was stored.
    `damaged_time(value)` tells it apart; a page shows it as damaged, never as this date."""

    stored: str = ""

    @classmethod
    def of(cls, value: Any) -> DamagedTime:
        """The DamagedTime of a stored value that does not parse."""
        found = cls(1970, 1, 1, tzinfo=UTC)
        found.stored = str(value)[:80]
        return found


def damaged_time(value: Any) -> bool:
    """Whether `value`, read from a StoredTime column, was stored as a time that does not
    parse."""
    return isinstance(value, DamagedTime)


class StoredTime(TypeDecorator):
    """DateTime(timezone=True) whose unparsable stored values (SQLite) read as DamagedTime
    rather than failing the row. Written as DateTime writes."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        parse = super().result_processor(dialect, coltype)
        if parse is None:  # the driver gives datetimes (PostgreSQL): nothing to guard
            return None

        def process(value: Any) -> Any:
            try:
                return parse(value)
            except (ValueError, TypeError, OverflowError):
                return DamagedTime.of(value)

        return process


log = logging.getLogger("meldcode.stored_time")


def damaged_tasks(views: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The task views (dicts with id, case_id and their times) among `views` with a time
    stored damaged (DamagedTime), each logged as a warning: a page shows them as damaged and
    goes on (the database was changed outside the product; `meldcode verify` names it)."""
    found = [view for view in views if any(damaged_time(view.get(name)) for name in ("ready_at", "due_at"))]
    for view in found:
        log.warning(
            "task %s of case %s: a stored time is unreadable (damaged row, shown without it)",
            view.get("id"),
            view.get("case_id"),
        )
    return found
