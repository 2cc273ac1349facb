"""Rows that may not read back as the model says: SQLite keeps any text in any column (a
time that is no time, JSON that is no JSON, bytes that are no UTF-8), and PostgreSQL a time
such as 'infinity' that no Python datetime holds. `loaded_rows` reads a table's rows with
each row that does not load, or loads with a time read as damaged (engine/stored_time.py), as a
DamagedRow in its place, naming what is wrong in Dutch, so verify and the pages that show such
rows (the admin log, the access log) report them instead of failing (issue 11 points 1 and 6).
`refused` gives verify's reads of a case the same findings: a damaged time there is a problem of
the case, named, never a time of 1970."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, LargeBinary, String, Text, cast, inspect, select
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import object_session

from . import failures
from .errors import Conflict
from .messages import N_, Message
from .models import Base, ProcessVersion
from .problems import joined
from .stored_text import Damaged, DamagedNumber, damage_text
from .stored_time import DamagedTime, damaged_time


class DamagedRow:
    """A row of which some column does not load (SQLite keeps any text in any column, and
    PostgreSQL a time such as 'infinity' that no Python datetime holds): `id`, each column
    that loads as it loads, a text column that does not as far as it reads (U+FFFD for bytes
    that are no UTF-8), any other None; `damage`: column name -> the kind in Dutch
    (failures.kind_of)."""

    def __init__(self, row_id: Any, values: dict[str, Any], damage: dict[str, str]):
        self.id, self.values, self.damage = row_id, values, damage

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.values.get(name)


class DamagedValue(ValueError):
    """A stored value read as damaged, raised with the Dutch kind of its damage (a Message:
    failures.kind_of gives it back as it is)."""


def time_damage(value: DamagedTime) -> Message:
    """What is wrong with a time read as damaged, in Dutch: beyond any date ('infinity' on
    PostgreSQL, naming the value), or text that is no time (SQLite)."""
    if value.beyond_range:
        return Message(N_("een waarde buiten het bereik ({value})"), value=_short(value.stored))
    return N_("geen geldig tijdstip")


# The types a sound value reads as. Every marker of damage (stored_text's Damaged, DamagedData,
# ..., stored_time's DamagedTime and DamagedStamp) subclasses one of them and is never one of
# them exactly: `type(value) in PLAIN` tells a sound value with one lookup. These checks run
# over every loaded column of every write (issue 13 point 7: completion latency).
PLAIN = frozenset({type(None), bool, int, float, str, bytes, dict, list, datetime, date, Decimal})


def value_damage(value: Any) -> Any:
    """What is wrong with a value read as damaged, in Dutch: a time (time_damage), a text,
    JSON or number (stored_text.damage_text); None for a sound value."""
    if type(value) in PLAIN:  # one lookup for the common case
        return None
    if damaged_time(value):  # a DamagedTime, or its text (a DamagedStamp)
        return time_damage(value if isinstance(value, DamagedTime) else value.time)
    return damage_text(value)


def copied(value: Any) -> Any:
    """A copy of a JSON value as read (a dict or list), or the value itself when it is a
    marker (DamagedData, DamagedList): a copy of it would be plain, and the API and pages
    could no longer name the damage (issue 11)."""
    return value if damage_text(value) is not None else type(value)(value)


def as_flag(value: Any) -> Any:
    """A yes/no value as read: a bool, or the DamagedFlag itself (bool() would make it a
    plain no, and the API and pages could no longer name the damage)."""
    return value if damage_text(value) is not None else bool(value)


def refuse_damaged_task(case_id: Any, values: Any) -> None:
    """Nothing when the task row's values (task_damage) are sound; raises DamagedCase (409,
    REFUSED) naming case `case_id` and each damaged column as tasks.<column> otherwise. A
    completion and a draft call it after their access check: a state, flag, seal or time no
    product wrote says nothing about whether the task is open (issue 11: refuse hostile state;
    nothing is stored)."""
    if damage := task_damage(values):
        raise refusal(case_id, damage)


def task_damage(values: Any) -> dict[str, Any]:
    """The damaged columns of a task row (a TaskRecord, a Row, or a dict of column -> value as
    read), as {"tasks.<column>": the kind in Dutch} (value_damage); empty when it is sound."""
    found = values if isinstance(values, dict) else values._asdict() if hasattr(values, "_asdict") \
        else {prop.columns[0].name: getattr(values, prop.key) for prop in inspect(values).mapper.column_attrs}
    return {f"tasks.{name}": kind for name, kind in
            ((name, value_damage(value)) for name, value in found.items()) if kind is not None}


def damage_of(row: Any) -> dict[str, str]:
    """The columns of a loaded row (a Row) that hold a value read as damaged (a time, a text,
    JSON, a number: value_damage), with the kind of each; empty when none does."""
    found = ((name, value_damage(value)) for name, value in row._asdict().items())
    return {name: kind for name, kind in found if kind is not None}


def object_damage(obj: Any) -> dict[str, Any]:
    """The columns of a loaded ORM object (a User, an ApiToken, a Case) that hold a value read
    as damaged (value_damage), by column name, with the kind of each; empty when none does.
    A column not loaded (deferred, such as cases.workflow_state) is not read: reading it would
    load it, which a detached object cannot."""
    state = inspect(obj)
    loaded = state.dict  # what is loaded, without the attribute machinery of getattr
    found = ((prop.columns[0].name, value_damage(loaded[prop.key]))
             for prop in state.mapper.column_attrs
             if prop.key in loaded and type(loaded[prop.key]) not in PLAIN)
    return {name: kind for name, kind in found if kind is not None}


def owner_damage(case: Any) -> dict[str, Any]:
    """{"owner_id": what is wrong} when the case's owner is no user (a Case whose `owner`,
    loaded or set, is None: the row names a user id that does not exist), else {}."""
    state = inspect(case)
    if (state.persistent or "owner" in state.dict) and case.owner is None:
        return {"owner_id": GoneUser(case.owner_id).damage}
    return {}


class GoneUser(DamagedNumber):
    """The id of a user that does not exist where a row names one (a case's owner), as read:
    the number as text (a DamagedNumber: the API answers null beside `damaged`)."""

    def __new__(cls, value: Any) -> GoneUser:
        return super().__new__(cls, str(value))

    @property
    def damage(self) -> Message:
        return Message(N_("geen bestaande gebruiker ({value})"), value=_short(str(self)))


class GoneVersion(DamagedNumber):
    """A process version a case names that does not exist (cases.process_version), as read:
    the number as text (a DamagedNumber: the API answers null beside `damaged`)."""

    def __new__(cls, value: Any) -> GoneVersion:
        return super().__new__(cls, str(value))

    @property
    def damage(self) -> Message:
        return Message(N_("geen bestaande procesversie ({value})"), value=str(self)[:40])


def version_damage(case: Any) -> dict[str, Any]:
    """{"process_version": what is wrong} when the case (a Case in a session) names a process
    version that does not exist (a dangling number is damage like text is, issue 11), else {}."""
    session = object_session(case) if isinstance(case, Base) else None
    number = case.process_version
    if session is None or type(number) is not int or session.get(ProcessVersion, number) is not None:
        return {}
    return {"process_version": GoneVersion(number).damage}


def version_of(case: Any) -> Any:
    """The case's process version as read; a GoneVersion when it names none (version_damage)."""
    return GoneVersion(case.process_version) if version_damage(case) else case.process_version


def unshown(case: Any) -> dict[str, Any]:
    """{"stored_damage": {column: kind}} for the damaged columns of the case row (row_damage)
    that cases.case_dict does not show (a hash, a counter, the practice flag), else {}: the API
    names them in `damaged` beside the shown ones (webui/api/models.py, issue 11)."""
    found = {name: kind for name, kind in row_damage(case).items() if name not in _SHOWN}
    return {"stored_damage": found} if found else {}


def owner_name(case: Any) -> str:
    """The name of the case's owner; a GoneUser (the id as text, read as damaged) when the
    row names a user that does not exist (owner_damage)."""
    return GoneUser(case.owner_id) if case.owner is None else case.owner.name


class DamagedCase(Conflict):
    """A write refused because the case it builds on is stored damaged (refusal; engine/
    write_refusals.py): 409 with REFUSED; the scheduler tells it from other failures of a
    fire (a log line)."""


def row_damage(case: Any) -> dict[str, Any]:
    """The columns of the case row `case` (a Case, loaded or built from a row) read as damaged
    (object_damage), and its owner when that is no user (owner_damage), with the kind of each
    in Dutch; empty when the row is sound."""
    return {**object_damage(case), **owner_damage(case), **version_damage(case)}


def refusal(case_id: Any, damage: dict[str, Any]) -> DamagedCase:
    """The refusal (DamagedCase: 409, REFUSED) of a write to case `case_id`, naming each column
    of `damage` (column -> what is wrong, in Dutch): every door raises this one
    (engine/write_refusals.py refuse_damaged, audit.resealed, a state that does not load)."""
    return DamagedCase(Message(REFUSED, case=case_id, fields=damage_fields(damage)))


# What a write says of a case whose header no longer matches its keyed hash (audit.header_ok):
# changed, rewound or swapped outside the product; verify names it too (chains.check_header).
SEAL_BROKEN = N_("de kop van de casus klopt niet met zijn sleutelhash")


def refuse_damaged_version(user: Any) -> None:
    """Nothing when the users row's session_version is sound (an int, or None); raises Conflict
    (409) naming the user and the value when it is stored damaged (stored_counts: text, or a
    number the next would not fit after). Before raising it (users: a new password, switched
    off, new roles): no web session matches a damaged row (its seal), and a write over it would
    hide what verify names; nothing is stored (issue 11)."""
    if user.session_version is not None and type(user.session_version) is not int:
        raise Conflict(Message(DAMAGED_USER, user=user.name, fields=damage_fields(
            {"session_version": value_damage(user.session_version)})))


DAMAGED_USER = N_("De gegevens van gebruiker {user} zijn beschadigd opgeslagen ({fields}): er is "
                  "niets gewijzigd. De database is buiten de applicatie gewijzigd: meld dit aan "
                  "de beheerder, die het met meldcode verify kan nagaan.")
REFUSED = N_("De gegevens van casus {case} zijn beschadigd opgeslagen ({fields}): er is niets "
             "gewijzigd. De database is buiten de applicatie gewijzigd: meld dit aan de "
             "beheerder, die het met meldcode verify kan nagaan.")


def damage_fields(damage: dict[str, Any]) -> str:
    """The columns of `damage` (damage_of) with what is wrong with each, in Dutch: "roles: bytes
    die geen tekst zijn (UTF-8); expires_at: geen geldig tijdstip"."""
    return joined([Message(N_("{field}: {reason}"), field=name, reason=kind)
                   for name, kind in damage.items()], "; ")


def refused(rows: list[Any]) -> list[Any]:
    """`rows` as they are; raises DamagedValue (the kind of the first damaged value) when one
    holds a value read as damaged (value_damage). Verify's reads of a case row, its events and
    access-log lines: there such a value is a finding of the case ("geen geldig tijdstip", the
    value beyond the range, JSON that is no JSON), as it was when it did not load at all
    (issue 11 point 1)."""
    for row in rows:
        if row is not None:
            for name, kind in damage_of(row).items():
                # a text that is no UTF-8 verify names by its field (chains.check_header) or
                # as a broken link of the chain; anything else it cannot read at all
                if not isinstance(getattr(row, name), Damaged):
                    raise DamagedValue(kind)
    return rows


def _marked(row: Any) -> Any:
    """A loaded row, or a DamagedRow when a value in it was read as damaged."""
    damage = damage_of(row)
    if not damage:
        return row
    # a damaged time is None (never its 1970); a text, JSON or number as far as it reads
    values = {name: None if damaged_time(value) else value for name, value in row._asdict().items()}
    return DamagedRow(row.id, values, damage)


def _value_error(exc: BaseException) -> bool:
    """Whether `exc`, raised while reading rows, is about a stored value (Python's parsing,
    or the driver's: psycopg's DataError for a time beyond Python's, SQLite's text that is
    no UTF-8), not about the database (unreachable, locked): only those make a DamagedRow."""
    if isinstance(exc, DataError):
        return True
    if isinstance(exc, OperationalError):
        return "decode to UTF-8" in str(exc.orig)
    return isinstance(exc, ValueError | TypeError | OverflowError | RecursionError)


def loaded_rows(
    conn: Connection, table: Any, *where: Any, order: Any = None, limit: int | None = None, offset: int = 0
) -> list[Any]:
    """The rows of `table` (matching `where`, by `order`, default the id; a page when `limit`
    is given) as Rows, each row that does not load as a DamagedRow in its place. Never
    raises for a stored value (issue 11 point 1: a malformed row is a finding, not a crash);
    what the database itself raises goes up. A row with a time read as damaged (stored_time)
    is a DamagedRow too, that column None. One statement when every row loads; else one
    per row (and per column of a damaged row), in `conn`'s transaction (a value that does not
    load is the client's failure: the transaction goes on)."""
    query = select(table).where(*where).order_by(table.c.id if order is None else order)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    try:
        return [_marked(row) for row in conn.execute(query).all()]
    except Exception as exc:  # noqa: BLE001 - judged below
        if not _value_error(exc):
            raise
    ids = conn.execute(query.with_only_columns(table.c.id)).scalars().all()
    return [_load_one(conn, table, row_id) for row_id in ids]


def _load_one(conn: Connection, table: Any, row_id: Any) -> Any:
    try:
        return _marked(conn.execute(select(table).where(table.c.id == row_id)).one())
    except Exception as exc:  # noqa: BLE001 - judged below
        if not _value_error(exc):
            raise
    values: dict[str, Any] = {}
    damage: dict[str, str] = {}
    for column in table.c:
        try:
            values[column.name] = conn.execute(select(column).where(table.c.id == row_id)).scalar()
        except Exception as exc:  # noqa: BLE001 - judged below
            if not _value_error(exc):
                raise
            raw = _raw_text(conn, column, table.c.id == row_id)
            values[column.name] = raw if isinstance(column.type, String) else None
            damage[column.name] = (
                failures.kind_of(exc)
                if not isinstance(exc, DataError)
                else Message(N_("een waarde buiten het bereik ({value})"), value=_short(raw))
            )
    return DamagedRow(row_id, values, damage)


def _short(text: str | None) -> str:
    text = repr(text)
    return text if len(text) <= 40 else text[:39] + "…"


def _raw_text(conn: Connection, column: Any, where: Any) -> str | None:
    """A text column's stored value as far as it reads: bytes that are no UTF-8 as U+FFFD."""
    if conn.dialect.name != "sqlite":
        return conn.execute(select(cast(column, Text)).where(where)).scalar()
    raw = conn.execute(select(cast(column, LargeBinary)).where(where)).scalar()
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


_CASE_FIELDS = ("client_ref", "reason", "owner_id", "status", "uitkomst", "started_at",
                "closed_at", "data", "completed_steps")
_EVENT_FIELDS = ("at", "actor", "action", "step", "data")
_SHOWN = {*_CASE_FIELDS, "id", "process_version", "stalled_at"}  # what cases.case_dict shows


def damage(case: Any, events: Sequence[Any], more: dict[str, Any] | None = None) -> str | None:
    """What of a case row and its history events is stored damaged (engine/stored_text.py,
    stored_time.py), and `more` (column -> kind: write_refusals.read_damage), in Dutch:
    "started_at: geen geldig tijdstip; gebeurtenis 2 data: ..."; None when nothing is. The
    dossier and the case page say so under their heading "Deze casus is beschadigd opgeslagen"
    rather than showing a time of 1970 or empty data as if recorded (issue 11 point 6)."""
    # an ORM Case: every column, its owner and its process version (row_damage)
    columns = {**(row_damage(case) if isinstance(case, Base) else {
        name: kind for name in _CASE_FIELDS if (kind := value_damage(getattr(case, name)))}), **(more or {})}
    found = [Message(N_("{field}: {reason}"), field=name, reason=kind) for name, kind in columns.items()]
    for e in events:
        found += [Message(N_("gebeurtenis {seq} {field}: {reason}"), seq=e.seq, field=name,
                          reason=kind) for name, kind in
                  ((name, value_damage(getattr(e, name))) for name in _EVENT_FIELDS) if kind]
    return joined(found, "; ") if found else None


_MARKS = ("cases", "history_events", "tasks")


def case_damage(case_id: Any = None, task_id: Any = None) -> tuple[Any, dict[str, Any]]:
    """The case a request is about (`case_id`, or the case of task `task_id`) and what of it is
    stored damaged: {"table.column": the kind in Dutch} over its case row, its history events
    and its task rows (the task's own row when only `task_id` is given and its case number is
    damaged). Empty when nothing is, or no such case or task exists; never raises for a stored
    value. The web layer's answer to an error on a damaged case: 409 naming the case and the
    fields, not a 500 or a refusal that blames the reader (issue 11 point 6)."""
    from . import store  # the database of the request; store is imported late by its users

    tables = {name: Base.metadata.tables[name] for name in _MARKS}
    damage: dict[str, Any] = {}
    with store.unit_of_work() as session:
        conn = session.connection()
        if case_id is None and task_id is not None:
            task = tables["tasks"]
            for row in loaded_rows(conn, task, task.c.id == str(task_id)[:36]):
                damage.update(_named("tasks", row))
                case_id = row.case_id
        if not isinstance(case_id, int):
            return case_id, damage
        for name, table in tables.items():
            where = table.c.id == case_id if name == "cases" else table.c.case_id == case_id
            for row in loaded_rows(conn, table, where):
                damage.update(_named(name, row))
                number = row.process_version if name == "cases" else None
                if type(number) is int and not conn.execute(  # a version that does not exist
                        select(ProcessVersion.version).where(ProcessVersion.version == number)).first():
                    damage["cases.process_version"] = GoneVersion(number).damage
    return case_id, damage


def _named(table: str, row: Any) -> dict[str, Any]:
    found = row.damage if isinstance(row, DamagedRow) else damage_of(row)
    return {f"{table}.{column}": kind for column, kind in found.items()}
