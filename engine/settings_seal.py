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
from typing import Any

from sqlalchemy import Connection, LargeBinary, Text, bindparam, cast, select

from . import audit, config_seals, failures, settings
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


def logged(conn: Connection, after: int = 0, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per key, the value of the newest genuine admin-log line (ACTIONS) that sets it; lines
    whose keyed hash does not hold are skipped (log_verify names them). after, values: only
    the lines above id `after`, on top of `values` (what the lines up to it gave)."""
    values = dict(values or {})
    for detail in config_seals.genuine_details(conn, ACTIONS, after):
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
# Per database and history key: the newest admin-log line read (id, hash) and what the log
# said up to it, so a grown log is read from there on, not again from its first line.
_read_up_to: dict[tuple[Any, ...], tuple[int, str, dict[str, Any]]] = {}
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
        expected = logged(conn, base[0], base[2])
    else:
        expected = logged(conn)
    _read_up_to[where] = (head.id, head.hash, expected)
    return expected


def trusted(conn: Connection, keys: tuple[str, ...], shape: Callable[[str, Any], Any]) -> Reading:
    """The organisation's settings as the admin log vouches for them (judge), each value passed
    through `shape` (key, value -> the value to use; ValueError: not usable, the key takes
    its default). Every refusal is logged as a warning (once per process and change: the
    verdict is cached by the stored rows, the newest admin-log line and the history key).
    In: a Connection in the caller's transaction. Raises only what the database raises."""
    head = conn.execute(_HEAD).first()
    rows = raw_rows(conn, keys)
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
    that the log sets but whose row is gone, or whose value does not read; in Dutch, naming
    the key. A key in neither the table nor the log (its default applies) is fine."""
    from .organisation import DEFAULTS  # organisation reads through this module

    keys = tuple(sorted(DEFAULTS))
    _, found = judge(raw_rows(conn, keys), logged(conn), keys)
    return [Message(_WORDS[kind], key=key, why=why or "") for key, (kind, why) in sorted(found.items())]


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
