"""Time columns that read back whatever a database writer stored (models: every time column).
SQLite keeps any text in a time column, and SQLAlchemy fails the whole row of a value it
cannot parse; PostgreSQL keeps the times 'infinity' and '-infinity', which psycopg cannot read
(no Python datetime holds them). Either way every page and list that reads the row would
answer 500. StoredTime reads such a value as a DamagedTime instead, so the pages still open
and show the time as damaged ("tijdstip beschadigd"), and verify names the column (task rows:
engine/task_rows.py; case rows, events and log lines: engine/stored_rows.py refused). The rule
is engine/stored_text.py's for texts: show what can be shown, name the damage (issue 11
point 6)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import TypeDecorator

from .stored_text import AsTyped, DamagedFlag


class DamagedTime(datetime):
    """A stored time that does not parse, as read: the start of the Unix epoch (UTC) in its
    place, so sorting and comparing never fail; `stored` holds the text as it was stored.
    `damaged_time(value)` tells it apart; a page shows it as damaged, never as this date."""

    stored: str = ""
    # True: a time beyond any date (PostgreSQL's 'infinity'); False: text that is no time
    beyond_range: bool = False

    @classmethod
    def of(cls, value: Any, beyond_range: bool = False) -> DamagedTime:
        """The DamagedTime of a stored value that does not parse (`beyond_range`: one the
        database holds as a time that no datetime holds)."""
        found = cls(1970, 1, 1, tzinfo=UTC)
        found.stored = str(value)[:80]
        found.beyond_range = beyond_range
        return found


    # The damage travels with the value: moved to another zone it is still a DamagedTime, and
    # written as text (timezones.iso: the API, the JSON dossier) a DamagedStamp, the same text
    # as before, so hashes and comparisons do not change, but the API can tell it apart and
    # answer null with what is damaged (webui/api/models.py), never a time of 1970.

    def _keep(self, moved: datetime) -> DamagedTime:
        kept = DamagedTime(moved.year, moved.month, moved.day, moved.hour, moved.minute,
                           moved.second, moved.microsecond, tzinfo=moved.tzinfo)
        kept.stored, kept.beyond_range = self.stored, self.beyond_range
        return kept

    def astimezone(self, tz: Any = None) -> DamagedTime:
        return self._keep(super().astimezone(tz))

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return DamagedStamp.of(super().isoformat(sep, timespec), self)


class DamagedStamp(str):
    """A DamagedTime written as text (its isoformat): the text of the epoch, with `time` the
    DamagedTime it came from; replace() keeps it a DamagedStamp (timezones.iso writes 'Z')."""

    time: DamagedTime

    @classmethod
    def of(cls, text: str, time: DamagedTime) -> DamagedStamp:
        found = cls(text)
        found.time = time
        return found

    def replace(self, old: Any, new: Any, count: Any = -1) -> DamagedStamp:
        return DamagedStamp.of(str.replace(self, old, new, count), self.time)


def damaged_time(value: Any) -> bool:
    """Whether `value`, read from a StoredTime column, was stored as a time that does not
    parse (a DamagedTime, or its text: a DamagedStamp)."""
    return isinstance(value, DamagedTime | DamagedStamp)


@functools.cache
def _infinity_loader() -> type:
    """psycopg's reader of timestamptz, with 'infinity' and '-infinity' as a DamagedTime
    instead of its DataError (which fails the whole statement). Made at the first PostgreSQL
    connection: psycopg is not imported where only SQLite is used (every `meldcode` command
    imports this module)."""
    from psycopg import DataError
    from psycopg.types.datetime import TimestamptzLoader

    class InfinityLoader(TimestamptzLoader):
        def load(self, data: Any) -> datetime:
            text = bytes(data)
            if text in (b"infinity", b"-infinity"):
                return DamagedTime.of(text.decode(), beyond_range=True)
            try:
                return within_range(super().load(data), text.decode())
            except DataError:  # a year after 9999 or before 1 ('10000-01-01', '4713-01-01 BC')
                return DamagedTime.of(text.decode(), beyond_range=True)

    return InfinityLoader


def within_range(value: datetime, stored: Any) -> datetime:
    """`value` as read, or a DamagedTime beyond the range (stored: the value as stored) when
    its year is 1 or 9999: no time the product writes, and one that a page moves to Dutch
    time, or a due date counts on from, would overflow (a misleading 400) or show a date that
    was never recorded. Such a time is named like 'infinity' (issue 11 point 6)."""
    if value.year in (datetime.min.year, datetime.max.year):
        return DamagedTime.of(stored, beyond_range=True)
    return value


@event.listens_for(Engine, "connect")
def _read_infinity(dbapi_conn: Any, _record: Any) -> None:
    """Every PostgreSQL connection reads the infinite times as DamagedTime (every time column
    of the product is timestamptz and StoredTime)."""
    if hasattr(dbapi_conn, "adapters") and hasattr(dbapi_conn, "pgconn"):  # psycopg 3
        dbapi_conn.adapters.register_loader("timestamptz", _infinity_loader())


class StoredTime(TypeDecorator):
    """DateTime(timezone=True) whose unparsable stored values (SQLite text; PostgreSQL's
    'infinity', through _infinity_loader) read as DamagedTime rather than failing the row.
    Written as DateTime writes."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        # SQLite: the text as its bytes, so bytes that are no UTF-8 (which its driver fails
        # the whole row on) read as a DamagedTime too
        return AsTyped(colexpr, self)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        parse = super().result_processor(dialect, coltype)
        if parse is None:  # the driver gives datetimes (PostgreSQL): nothing to guard
            return None

        def process(value: Any) -> Any:
            try:
                text = value.decode("utf-8") if isinstance(value, bytes) else value
                found = parse(text)
                return found if found is None else within_range(found, text)
            except (ValueError, TypeError, OverflowError):  # UnicodeDecodeError too
                return DamagedTime.of(value.decode("utf-8", "replace")
                                      if isinstance(value, bytes) else value)

        return process


log = logging.getLogger("meldcode.stored_time")


def damaged_tasks(views: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The task views (dicts with id, case_id, their times and urgent) among `views` with a
    time stored damaged (DamagedTime) or an urgent flag that is no yes or no (DamagedFlag),
    each logged as a warning: a page shows them as damaged and goes on (the database was
    changed outside the product; `meldcode verify` names it)."""
    found = [view for view in views if any(damaged_time(view.get(name)) for name in ("ready_at", "due_at"))
             or isinstance(view.get("urgent"), DamagedFlag)]
    for view in found:
        log.warning(
            "task %s of case %s: a stored value is unreadable (damaged row, shown without it)",
            view.get("id"),
            view.get("case_id"),
        )
    return found
