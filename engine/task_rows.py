"""The task rows of a case as evidence (issue 11 point 1, "no blind spot"): what replay cannot
give back is sealed, the rest is derived from the history and compared.

A task row's id, case, step, name, lane, ready_at, due_at and urgent are set when the row is
written (due_at follows the organisation's norm of that day, name and lane the version or, for
a consult, the person asked): a keyed hash over them (HMAC-SHA-256 with the history key, as
engine/audit.py's header_hash covers the case header) is written with the row (`sealed`) and
again by whoever changes one of them (`resealed`: a move to another version renames a ready
task and weighs its urgency anew). Its state, owner and completion are derived: the owner is
the case's (the writers copy it into every row and a hand-over moves them all), completed_at
and completed_by are the time and actor of the event that ended the task (replay.Replayed.
ended). verify (engine/verification.py) calls check_rows; problems are Dutch Messages."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from . import settings, timezones
from .messages import N_, Message, shown
from .stored_rows import DamagedRow, damage_fields, damage_of, object_damage
from .stored_time import damaged_time

# The columns the seal covers (seal_of).
SEALED = ("id", "case_id", "step", "name", "lane", "ready_at", "due_at", "urgent")
TIMES = ("ready_at", "due_at", "completed_at")
_ROWS = 10  # row problems named at most per case; more are counted

_keyed: dict[bytes, Any] = {}  # history key -> HMAC set up with it and the domain, to copy


def _micros(at: Any) -> int | None:
    """A time as whole microseconds since the epoch (UTC; a naive one is UTC)."""
    return None if at is None else round(timezones.to_utc(at).timestamp() * 1_000_000)


def seal_of(row: Any, key: bytes | None = None) -> str:
    """The seal of a task row: HMAC-SHA-256 (the history key, or `key`) over "task\n" and
    SEALED one per line (times as microseconds since the epoch, UTC; the name, the one free
    text, last), hex. Cheaper than audit.canonical's JSON with ISO times: verify seals every
    task row again. row: a mapping (a row to insert) or an object with those attributes (a
    model, a plain row)."""
    get = row.get if isinstance(row, Mapping) else row.__getattribute__
    content = (
        f"{get('id')}\n{get('case_id')}\n{get('step')}\n{get('lane')}\n"
        f"{_micros(get('ready_at'))}\n{_micros(get('due_at'))}\n{int(bool(get('urgent')))}\n"
        f"{get('name')}"
    )
    key = key or settings.history_key()
    base = _keyed.get(key)
    if base is None:
        base = _keyed[key] = hmac.new(key, b"task\n", hashlib.sha256)
    mac = base.copy()
    mac.update(content.encode())
    return mac.hexdigest()


def sealed(values: dict[str, Any]) -> dict[str, Any]:
    """A task row to insert (a dict with SEALED), with its seal set. Out: the same dict."""
    values["seal"] = seal_of(values)
    return values


def intact(row: Any, key: bytes | None = None) -> bool:
    """Whether a task row's seal is the keyed hash of its SEALED columns (`key`: the history
    key, read when not given)."""
    return hmac.compare_digest(seal_of(row, key), row.seal or "")


def resealed(row: Any, **changes: Any) -> None:
    """Change sealed columns of a task row (a model) and seal it again, but only when its
    seal held before: a row changed outside the product is never laundered."""
    held = intact(row)
    for name, value in changes.items():
        setattr(row, name, value)
    if held:
        row.seal = seal_of(row)


def _label(row: Any) -> Message:
    return Message(N_("taak {step} ({task})"), step=row.step, task=str(row.id)[:8])


def _shown(value: Any) -> str:
    if damaged_time(value):
        return shown(value.stored)
    return timezones.iso(value) if hasattr(value, "tzinfo") else shown(value)  # None: "leeg"


def check_rows(case: Any, rows: Iterable[Any], ended: Mapping[str, tuple[Any, str | None]]) -> list[Any]:
    """The task rows of `case` (every column, consult rows included) against what replay
    derived: a time that does not parse (engine/stored_time.py), a seal that does not hold,
    an owner that is not the case's, a completion time or actor that is not the event's that
    ended the task (`ended`: task id -> (time, actor; None for a cancelled task), from
    replay.Replayed). A task without such an event must have neither. Out: the problems
    (Dutch), at most _ROWS, then how many more."""
    problems: list[Any] = []
    key = settings.history_key()
    for row in rows:
        problems += _row_problems(case, row, ended.get(row.id, (None, None)), key)
    if len(problems) > _ROWS:
        more = len(problems) - _ROWS
        problems = [*problems[:_ROWS], Message(N_("en nog {count} problemen met taakrijen"), count=more)]
    return problems


def _row_problems(case: Any, row: Any, end: tuple[Any, str | None], key: bytes) -> list[Any]:
    label = _label(row)
    found: list[Any] = []
    unreadable = [name for name in TIMES if damaged_time(getattr(row, name))]
    for name in unreadable:
        found.append(
            Message(
                N_("{task}: het tijdstip {column} is onleesbaar opgeslagen ({value})"),
                task=label,
                column=name,
                value=_shown(getattr(row, name)),
            )
        )
    # any other column read as damaged (a state or flag no product writes, bytes that are no
    # UTF-8): named as the case columns are (write_refusals.damage_line), issue 11
    damage = row.damage if isinstance(row, DamagedRow) else (
        damage_of(row) if hasattr(row, "_asdict") else object_damage(row))
    other = {name: kind for name, kind in damage.items() if name not in unreadable}
    if other:
        found.append(Message(N_("{field}: {reason}"), field=label, reason=Message(
            N_("beschadigd opgeslagen: {fields}"), fields=damage_fields(other))))
    if not intact(row, key):
        found.append(
            Message(
                N_(
                    "{task}: de taakrij is na het vastleggen gewijzigd (naam, rol, "
                    "tijdstip gereed, termijn of urgentie: de sleutelhash klopt "
                    "niet)"
                ),
                task=label,
            )
        )
    if row.owner_id != case.owner_id:
        found.append(
            Message(
                N_("{task}: de eigenaar (gebruiker {have}) is niet die van de casus (gebruiker {want})"),
                task=label,
                have=row.owner_id,
                want=case.owner_id,
            )
        )
    at, actor = end
    if row.completed_by != actor:
        found.append(
            Message(
                N_("{task}: afgerond door {have}, volgens de geschiedenis door {want}"),
                task=label,
                have=_shown(row.completed_by),
                want=_shown(actor),
            )
        )
    if "completed_at" not in unreadable and timezones.to_utc(row.completed_at) != timezones.to_utc(at):
        found.append(
            Message(
                N_(
                    "{task}: het tijdstip van afronden wijkt af van de "
                    "geschiedenis (opgeslagen {have}, na afspelen {want})"
                ),
                task=label,
                have=_shown(row.completed_at),
                want=_shown(at),
            )
        )
    return found
