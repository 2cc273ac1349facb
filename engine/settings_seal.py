"""Tamper evidence for the organisation's settings (issue 11, break-it F8).

The beheerder changes a setting through organisation.update, which writes the `settings` row
and, in the same transaction, a `settings_changed` line in the admin log whose detail holds the
new values ({"settings": {key: value}}) and whose keyed hash (audit.admin_hash, history key) no
database writer can forge. So the admin log says which value each key must hold: the value of
the newest genuine line that names it. A row that differs from it, a row no genuine line names
and a row the log names but that is gone were written outside the product.

- `problems` names each in Dutch for `meldcode verify --all` (config_seals.problems).
- `trusted` is what every page reads (organisation.read): a row that does not match the admin
  log is not used; the last genuine value is (or the default, when no genuine line names the
  key), and the refusal is logged as a warning. The verdict is cached per process by what it
  depends on: the rows as stored and the newest admin-log line (id and keyed hash), so a
  request pays two indexed reads, and the admin log is read again only after it grew.
- `record` gives settings stored before this check existed a `settings_recorded` line, as they
  stand (migration 0017; trust on first use, as 0014 did for users and process versions).

A value that is no JSON, or bytes that are no UTF-8 (SQLite keeps any bytes in any column), is
read as damaged, never raised: every page opens (issue 11 point 6).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, LargeBinary, Text, bindparam, cast, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import NullType

from . import admin_chain, audit, config_seals, failures, settings
from .messages import N_, Message
from .models import AdminLogEntry, Setting

log = logging.getLogger("meldcode.seals")

ACTIONS = ("settings_changed", "settings_recorded")  # the admin-log lines that set values
_settings = Setting.__table__
_admin = AdminLogEntry.__table__
_HEAD = select(_admin.c.id, _admin.c.hash).order_by(_admin.c.id.desc()).limit(1)

# How a stored setting differs from the admin log (runtime: the log's English words).
DAMAGED, CHANGED, UNLOGGED, REMOVED, SHAPE = "damaged", "changed", "unlogged", "removed", "shape"
_LOG_WORDS = {
    DAMAGED: "the stored value does not read (no JSON or no UTF-8)",
    CHANGED: "the stored value differs from the admin log: changed outside the product",
    UNLOGGED: "no genuine admin-log line sets it: written outside the product",
    REMOVED: "the admin log sets it but the row is gone: removed outside the product",
    SHAPE: "the value does not have the shape the settings form allows",
}


class Damaged(ValueError):
    """A stored value that does not read as JSON; args[0]: the kind in Dutch (failures)."""


def raw_rows(conn: Connection, keys: Iterable[str]) -> tuple[tuple[str, Any], ...]:
    """The rows of `keys` as stored, by key: (key, bytes on SQLite or text on PostgreSQL, or
    None for SQL NULL). The value is read as its stored text, so no driver decodes it: a
    value that is no JSON or no UTF-8 cannot fail the read (parse judges it)."""
    column = _settings.c.value
    raw = cast(column, LargeBinary) if conn.dialect.name == "sqlite" else cast(column, Text)
    query = select(_settings.c.key, raw).where(_settings.c.key.in_(list(keys)))
    return tuple((key, value) for key, value in conn.execute(query.order_by(_settings.c.key)))


def parse(raw: Any) -> Any:
    """The JSON value of a stored setting (raw_rows). SQL NULL reads as None. Raises Damaged
    with the Dutch kind (failures.kind_of) for bytes that are no UTF-8 or text that is no
    JSON, or that nests too deep."""
    try:
        if raw is None:
            return None
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError too
        raise Damaged(failures.kind_of(exc)) from None


def logged(conn: Connection, after: int = 0, values: dict[str, Any] | None = None,
           floor: int = 0) -> dict[str, Any]:
    """Per key, the value of the newest genuine admin-log line (ACTIONS) that sets it, newest
    by the line's position in the chain: lines whose keyed hash does not hold are skipped, a
    copied or moved line changes nothing (config_seals.genuine_details; log_verify names
    them). after, values, floor: only the lines above id `after` and position `floor`, on top
    of `values` (what the lines up to it gave)."""
    values = dict(values or {})
    for detail in config_seals.genuine_details(conn, ACTIONS, after, floor):
        changed = detail.get("settings")
        if isinstance(changed, dict):
            values.update(changed)
    return values


def _same(a: Any, b: Any) -> bool:
    # canonical JSON, not ==: in Python True == 1 == 1.0, in the settings they differ
    try:
        return audit.canonical({"v": a}) == audit.canonical({"v": b})
    except (TypeError, ValueError):
        return False


def judge(
    rows: tuple[tuple[str, Any], ...], expected: dict[str, Any], keys: Iterable[str]
) -> tuple[dict[str, Any], dict[str, tuple[str, Message | None]]]:
    """Compare stored rows (raw_rows) with the admin log (logged) for `keys`. Out: the values
    to use (a row that matches the log; else the log's value; a key in neither is absent,
    its default applies) and the findings, key -> (DAMAGED/CHANGED/UNLOGGED/REMOVED, the
    Dutch kind of a damage or None). Raises nothing."""
    stored = dict(rows)
    values: dict[str, Any] = {}
    found: dict[str, tuple[str, Message | None]] = {}
    for key in keys:
        if key not in stored:
            if key in expected:
                found[key] = (REMOVED, None)
                values[key] = expected[key]
            continue
        try:
            value = parse(stored[key])
        except Damaged as exc:
            found[key] = (DAMAGED, exc.args[0])
        else:
            if key not in expected:
                found[key] = (UNLOGGED, None)
            elif not _same(value, expected[key]):
                found[key] = (CHANGED, None)
            else:
                values[key] = value
                continue
        if key in expected:
            values[key] = expected[key]
    return values, found


@dataclass
class Reading:
    """The settings a page may use (values: key -> value, a key absent takes its default) and
    the keys whose stored value was refused, with why (one of the kinds of judge, or SHAPE)."""

    values: dict[str, Any]
    refused: dict[str, str] = field(default_factory=dict)


_cache: dict[tuple[Any, ...], Reading] = {}
_CACHE_SIZE = 64
# Per database and history key: the newest admin-log line read (id, hash), what the log
# said up to it and the highest position up to it, so a grown log is read from there on, not
# again from its first line (a line above it copied from below it is no newer line).
_read_up_to: dict[tuple[Any, ...], tuple[int, str, dict[str, Any], int]] = {}
_HASH_OF = select(_admin.c.hash).where(_admin.c.id == bindparam("id"))


def _expected(conn: Connection, where: tuple[Any, ...], head: Any, full: bool) -> dict[str, Any]:
    """logged(conn), read on from the line the last reading of this database stopped at when
    that line is still there unchanged (else, or when `full`, from the start)."""
    base = None if full else _read_up_to.get(where)
    if (
        base is not None
        and base[0] <= head.id
        and (conn.execute(_HASH_OF, {"id": base[0]}).scalar() == base[1])
    ):
        expected = logged(conn, base[0], base[2], base[3])
    else:
        expected = logged(conn)
    _read_up_to[where] = (head.id, head.hash, expected, admin_chain.position_up_to(conn, head.id))
    return expected


class Head(NamedTuple):
    """The newest admin-log line: its id and keyed hash (what trusted's verdict depends on)."""

    id: int
    hash: str


class _Raw(FunctionElement):
    """A stored setting's value as raw_rows reads it: bytes on SQLite, text elsewhere."""

    inherit_cache = True
    type = NullType()  # handed on as the driver gives it


@compiles(_Raw)
def _raw_text(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


@compiles(_Raw, "sqlite")
def _raw_bytes(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS BLOB)"


def read_along(key: str) -> tuple[Any, Any, Any]:
    """Scalar subqueries for a statement that runs anyway (a completion's plan, engine/due.py)
    to read what `trusted` judges setting `key` by, in the same statement and snapshot: its
    stored value (as raw_rows reads it; NULL without a row), the newest admin-log line's id
    and hash. Hand them to trusted as `read` (along_of)."""
    return (select(_Raw(_settings.c.value)).where(_settings.c.key == key).scalar_subquery(),
            select(_admin.c.id).order_by(_admin.c.id.desc()).limit(1).scalar_subquery(),
            select(_admin.c.hash).order_by(_admin.c.id.desc()).limit(1).scalar_subquery())


Read = tuple[Head | None, tuple[tuple[str, Any], ...]]  # the newest admin-log line, the rows


def along_of(key: str, raw: Any, head_id: Any, head_hash: Any) -> Read:
    """`trusted`'s `read` from the values read_along's columns gave."""
    head = Head(head_id, head_hash) if head_id is not None else None
    return head, (((key, raw),) if raw is not None else ())


def trusted(conn: Connection, keys: tuple[str, ...], shape: Callable[[str, Any], Any],
            read: Read | None = None) -> Reading:
    """The organisation's settings as the admin log vouches for them (judge), each value passed
    through `shape` (key, value -> the value to use; ValueError: not usable, the key takes
    its default). Every refusal is logged as a warning (once per process and change: the
    verdict is cached by the stored rows, the newest admin-log line and the history key).
    In: a Connection in the caller's transaction; `read`: the newest admin-log line and the
    rows of `keys` when a statement of the caller read them along (read_along, along_of), else
    they are read here. Raises only what the database raises."""
    head, rows = read if read is not None else (conn.execute(_HEAD).first(), raw_rows(conn, keys))
    where = (conn.engine.url, settings.history_key())
    marker = (*where, tuple(head) if head else None, keys, rows)
    reading = _cache.get(marker)
    if reading is not None:
        return reading
    values, found = judge(rows, _expected(conn, where, head, False) if head else {}, keys)
    if found and head:
        # On PostgreSQL a line may commit after a newer one was read: a finding from a log
        # read on is confirmed by reading all of it (findings are rare: tampering).
        values, found = judge(rows, _expected(conn, where, head, True), keys)
    refused = {key: kind for key, (kind, _) in found.items()}
    for key, value in list(values.items()):
        try:
            values[key] = shape(key, value)
        except ValueError:
            del values[key]
            refused.setdefault(key, SHAPE)
    for key, kind in refused.items():
        log.warning("organisation setting not used: %s", _LOG_WORDS[kind], extra={"setting": key})
    reading = Reading(values, refused)
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[marker] = reading
    return reading


_WORDS = {
    DAMAGED: N_("instelling {key}: de opgeslagen waarde is beschadigd ({why})"),
    CHANGED: N_("instelling {key} wijkt af van het beheerlog (buiten het product gewijzigd)"),
    UNLOGGED: N_("instelling {key} staat niet in het beheerlog (buiten het product toegevoegd)"),
    REMOVED: N_(
        "instelling {key} ontbreekt, maar het beheerlog legde haar vast (buiten het product verwijderd)"
    ),
}


def problems(conn: Connection) -> list[str]:
    """For `meldcode verify --all`: every setting (organisation.DEFAULTS' keys) whose row
    differs from the newest genuine admin-log line that sets it, that no such line sets,
    that the log sets but whose row is gone, or whose value does not read; and every row of
    a key that is no setting of the product (unknown_keys); in Dutch, naming the key. A key in
    neither the table nor the log (its default applies) is fine."""
    from .organisation import DEFAULTS  # organisation reads through this module

    keys = tuple(sorted(DEFAULTS))
    expected = logged(conn)
    _, found = judge(raw_rows(conn, keys), expected, keys)
    named: list[str] = [Message(_WORDS[kind], key=key, why=why or "")
                        for key, (kind, why) in sorted(found.items())]
    return named + [Message(UNKNOWN, key=key) for key in unknown_keys(conn, keys, expected)]


UNKNOWN = N_("instelling {key} is geen instelling van Meldcode (buiten het product toegevoegd)")


def unknown_keys(conn: Connection, keys: tuple[str, ...], expected: dict[str, Any]) -> list[str]:
    """The stored keys other than `keys` (the product's settings), as far as they read (bytes
    that are no UTF-8 as U+FFFD, SQLite), that the admin log (`expected`: logged) does not
    vouch for with the value stored: rows a database writer added (issue 11). No page reads
    them; verify names them. Raises only what the database raises."""
    key, value = _settings.c.key, _settings.c.value
    binary = conn.dialect.name == "sqlite"  # the raw bytes: no driver decodes them
    query = select(cast(key, LargeBinary) if binary else key, cast(value, LargeBinary if binary else Text))
    found = []
    for raw_key, raw in conn.execute(query.where(key.not_in(list(keys)))):
        name = raw_key.decode("utf-8", "replace") if isinstance(raw_key, bytes) else str(raw_key)
        try:
            if name in expected and _same(parse(raw), expected[name]):
                continue  # written by the product (a setting of an earlier release)
        except Damaged:
            pass
        found.append(repr(name)[1:-1][:100])
    return sorted(found)


def record(conn: Connection, by: str, keys: Iterable[str]) -> None:
    """Give every stored setting of `keys` that no genuine admin-log line sets one
    `settings_recorded` line with its value as it stands (settings written before verify
    compared them with the log: migration 0017). A value that does not read stays unrecorded
    (verify names it); a row that differs from its line stays a finding (never laundered)."""
    keys = list(keys)
    expected = logged(conn)
    found: dict[str, Any] = {}
    for key, raw in raw_rows(conn, keys):
        if key not in expected:
            try:
                found[key] = parse(raw)
            except Damaged:
                continue
    if found:
        audit.log_admin(conn, by, "settings_recorded", {"settings": found})
