"""The admin log as a chain (issue 11): each line's keyed hash covers its place.

Before migration 0018 a line's keyed hash (audit.admin_hash, "legacy") covered only what it
says (when, who, which action, the facts), so a database writer could copy an older line as
a new row, or swap two lines, and every hash still held: an older `settings_changed` line
copied to the end rolled a setting back with `meldcode verify --all` silent. Since 0018 every
line carries its position (`seq`: 1, 2, 3, ... with no gap, given under a lock) and the keyed
hash of the line before it (`prev_hash`), and its keyed hash (`line_hash`) covers both, as a
case's history events do (engine/chains.py). Lines written before 0018 keep their legacy hash
(never rehashed: that would vouch for whatever they hold now); the first chained line follows
the last of them (migration 0018 writes `admin_log_chained`, naming how many there were).

- `problems` names for verify, in Dutch, a line changed, duplicated, replayed (a copy of an
  older line), moved (the order changed), a position missing (a line removed) and a broken
  link. Removing the newest lines is the transparency log's to see (checkpoint, head).
- `genuine` is what the settings, users and process versions are judged by: only lines whose
  hash holds, each once, in the order of their positions, legacy lines first in the order of
  their time (a replayed, moved or swapped line changes nothing), and the legacy lines only
  while none of those 0018 counted is missing (a removed newer line rolls nothing back).
- `marks` gives the lines of one page of the admin log that verify would name.
"""

from __future__ import annotations

import hashlib
import hmac
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, Table, func, inspect, select, text

from . import audit, settings, timezones
from .messages import N_, Message
from .models import AdminLogEntry
from .stored_rows import DamagedRow, loaded_rows

_admin = AdminLogEntry.__table__
# The table as it was before 0018, for the lines an earlier migration reads (0014, 0017).
_legacy = Table("admin_log", MetaData(), Column("id", Integer, primary_key=True),
                *(Column(c.name, c.type) for c in _admin.c if c.name in ("at", "user", "action",
                                                                          "detail", "hash")))
CHAINED = "admin_log_chained"  # the line migration 0018 writes after the legacy lines
_PG_LOCK = text("SELECT pg_advisory_xact_lock(7513, -1)")  # 0 and up: access-log chains


def line_hash(seq: Any, prev: Any, at: Any, user: Any, action: Any, detail: Any) -> str:
    """HMAC-SHA-256 (history key) over a chained line: its position `seq`, the keyed hash
    `prev` of the line before it (audit.GENESIS for the first) and its content
    (audit.admin_content), hex. Raises what canonical raises for content that is no JSON."""
    content = {**audit.admin_content(at, user, action, detail), "seq": seq, "prev": prev}
    return hmac.new(settings.history_key(), b"admin-chain\n" + audit.canonical(content),
                    hashlib.sha256).hexdigest()


def holds(row: Any) -> bool:
    """Whether an admin-log row's keyed hash is the one the product gave it: a chained row
    (seq set) over its place and content, a legacy row (no seq) over its content. A row that
    does not read back, or holds what no hash covers, does not hold. Raises nothing."""
    if isinstance(row, DamagedRow):
        return False
    try:
        if getattr(row, "seq", None) is None:
            want = audit.admin_hash(row.at, row.user, row.action, row.detail)
        else:
            want = line_hash(row.seq, row.prev_hash, row.at, row.user, row.action, row.detail)
        return hmac.compare_digest(want, row.hash)
    except (TypeError, ValueError, AttributeError, OverflowError):
        return False


_chained_engines: weakref.WeakSet[Any] = weakref.WeakSet()  # admin_log has 0018's columns


def chained(conn: Connection) -> bool:
    """Whether the admin_log table has seq and prev_hash (migration 0018 ran): an earlier
    migration that writes a line (0014, 0017) writes a legacy one. Asked of the database once
    per engine after it said yes."""
    if conn.engine in _chained_engines:
        return True
    if {"seq", "prev_hash"} <= {c["name"] for c in inspect(conn).get_columns("admin_log")}:
        _chained_engines.add(conn.engine)
        return True
    return False


def next_position(conn: Connection) -> tuple[int, str]:
    """The position and previous hash of the line about to be written in the caller's
    transaction: after the chained line of the highest position, or after the newest legacy
    line (audit.GENESIS when there is none). On PostgreSQL an advisory lock held until commit
    keeps two writers from taking the same place; SQLite's writers are one at a time."""
    seq = _admin.c.seq
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_LOCK)
    last = conn.execute(select(seq, _admin.c.hash).where(*_positions(conn))
                        .order_by(seq.desc()).limit(1)).first()
    if last is not None:
        return last.seq + 1, str(last.hash)
    newest = conn.execute(select(_admin.c.hash).order_by(_admin.c.id.desc()).limit(1)).scalar()
    return 1, str(newest) if newest is not None else audit.GENESIS


def _positions(conn: Connection) -> list[Any]:
    """The conditions of a row holding a position (a whole number on SQLite too)."""
    where: list[Any] = [_admin.c.seq.is_not(None)]
    if conn.dialect.name != "postgresql":  # SQLite keeps any value in an integer column
        where.append(func.typeof(_admin.c.seq) == "integer")
    return where


def position_up_to(conn: Connection, row_id: int) -> int:
    """The highest position of the lines with an id up to `row_id` (0: none): the `floor` of
    a read of the log on from that line (genuine)."""
    return conn.execute(select(func.max(_admin.c.seq)).where(
        _admin.c.id <= row_id, *_positions(conn))).scalar() or 0


def genuine(conn: Connection, actions: tuple[str, ...], after: int = 0,
            floor: int = 0) -> Iterator[Any]:
    """The admin-log lines of `actions` a setting, user or version may be judged by: whose
    keyed hash holds, each content once (a copy is no second line), the legacy lines (those
    before the first chained line) first, in the order of their time (which their hash
    covers; their ids it does not), then the chained lines in the order of their positions,
    one per position. The legacy lines count only while as many genuine ones are there as
    migration 0018 counted (legacy_whole). after, floor: only lines with an id above `after`
    and a position above `floor` (a log read on from a line already read; a legacy line is
    then none of them: none is written after 0018). Raises only what the database raises."""
    table, first = _legacy, None
    if chained(conn):
        table = _admin
        first = conn.execute(select(func.min(_admin.c.id)).where(_admin.c.seq.is_not(None))).scalar()
    where = [table.c.action.in_(actions)] + ([table.c.id > after] if after else [])
    legacy: list[Any] = []
    by_position: dict[int, Any] = {}
    seen: set[str] = set()
    for line in loaded_rows(conn, table, *where):
        if not holds(line) or line.hash in seen:
            continue
        seen.add(line.hash)
        if getattr(line, "seq", None) is None:
            if not after and (first is None or line.id < first):
                legacy.append(line)
        elif line.seq > floor:
            by_position.setdefault(line.seq, line)
    # The legacy lines in the order of their time, not of their ids: a legacy hash covers the
    # time but not the row's place, so a database writer who swaps two legacy rows (their ids)
    # leaves every hash holding, and by id an older settings change would come last and roll
    # the setting back at run time (issue 11). The time is what the line itself vouches for;
    # lines of one instant keep the order of their ids.
    legacy.sort(key=lambda line: (timezones.to_utc(line.at), line.id))
    if legacy and table is _admin and not legacy_whole(conn, first):
        legacy = []  # a part of the log that is incomplete judges nothing (fail closed)
    yield from legacy
    yield from (by_position[seq] for seq in sorted(by_position))


_whole: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()  # per transaction


def legacy_whole(conn: Connection, first: Any) -> bool:
    """Whether the legacy lines (no position, an id below `first`, the first chained line's)
    are, as genuine lines (keyed hash holding, each once), exactly as many as migration 0018
    counted in its own genuine `admin_log_chained` line (position 1); False without that
    line. Why: a legacy hash does not cover the line's place, so a database writer who
    removed the newer of two legacy settings lines rolled the setting back at run time, only
    verify naming it (LEGACY; issue 11, tester's finding F2). Kept per transaction of `conn`:
    two reads, only for a read of the log from its start that finds legacy lines
    (settings_seal reads on from the line it last read). Raises only what the database
    raises."""
    transaction = conn.get_transaction()
    known = _whole.get(transaction) if transaction is not None else None
    if known is not None:
        return known
    start = next(iter(loaded_rows(conn, _admin, _admin.c.seq == 1, *_positions(conn))), None)
    detail = getattr(start, "detail", None)
    expected = detail.get("earlier_lines") if isinstance(detail, dict) else None
    whole = False
    if first is not None and start is not None and holds(start) and start.action == CHAINED:
        rows = loaded_rows(conn, _admin, _admin.c.seq.is_(None), _admin.c.id < first)
        whole = type(expected) is int and expected == len({row.hash for row in rows if holds(row)})
    if transaction is not None:
        _whole[transaction] = whole
    return whole


CHANGED = N_("beheerlogregel {row} is na het vastleggen gewijzigd (de sleutelhash klopt niet)")
DUPLICATE = N_("beheerlogregel {row} is dubbel: dezelfde regel als beheerlogregel {other} "
               "ervoor (buiten het product gekopieerd)")
REPLAYED = N_("beheerlogregel {row} is herhaald: een kopie van de oudere beheerlogregel "
              "{other}, later opnieuw ingevoegd (buiten het product; een herhaalde handeling "
              "zet bijvoorbeeld een instelling terug)")
MOVED = N_("beheerlogregel {row} (positie {seq}) staat na positie {top}: de volgorde van het "
           "beheerlog is veranderd (regels verwisseld of verplaatst)")
GAP = N_("de posities {first} tot en met {last} van het beheerlog ontbreken (regels "
         "verwijderd)")
GAP_ONE = N_("positie {first} van het beheerlog ontbreekt (regel verwijderd)")


def _gap(first: int, last: int) -> Message:
    """GAP for the positions first..last; one position in the singular (GAP_ONE), with the
    same params (the admin-log page reads them)."""
    return Message(GAP_ONE if first == last else GAP, first=first, last=last)
BROKEN = N_("beheerlogregel {row} (positie {seq}) volgt niet op de regel van positie {before}: "
            "de keten is onderbroken (een regel vervangen)")
UNPLACED = N_("beheerlogregel {row} heeft geen plaats in de keten maar staat erna (buiten het "
              "product toegevoegd of verplaatst)")
LEGACY = N_("het beheerlog had {expected} regel(s) van vóór de keten (migratie 0018), nu "
            "{found}: regels toegevoegd of verwijderd")


def problems(rows: Iterable[Any]) -> list[Message]:
    """What is wrong with the admin log as a chain, in Dutch. rows: every admin-log row in
    the order of their ids (loaded_rows; a DamagedRow, which the caller names as unreadable,
    keeps its place here when its position and hash read). Each line: its keyed hash holds
    (CHANGED), it is no copy of the line before it (DUPLICATE) or of an older one (REPLAYED);
    the positions rise with the ids (MOVED), run from 1 without a gap (GAP), each line names
    the hash of the line before it (BROKEN); no legacy line after the first chained one
    (UNPLACED); as many legacy lines as `admin_log_chained` counted (LEGACY)."""
    found: list[Message] = []
    seen: dict[str, Any] = {}
    at: dict[int, Any] = {}  # position -> its (first) line
    legacy: list[Any] = []
    top = 0
    previous = None
    for row in rows:
        row_hash, seq = row.hash, row.seq
        copy = seen.get(row_hash) if isinstance(row_hash, str) else None
        if copy is not None:
            found.append(Message(DUPLICATE if copy is previous else REPLAYED, row=row.id,
                                 other=copy.id))
            previous = row
            continue
        previous = row
        if isinstance(row_hash, str):
            seen[row_hash] = row
        if not isinstance(row, DamagedRow) and not holds(row):
            found.append(Message(CHANGED, row=row.id))
        if seq is None:
            if at:
                found.append(Message(UNPLACED, row=row.id))
            else:
                legacy.append(row)
            continue
        if not isinstance(seq, int) or seq < 1 or seq in at:
            continue  # a position no line of the product has: its hash does not hold
        at[seq] = row
        if seq < top:
            found.append(Message(MOVED, row=row.id, seq=seq, top=top))
        top = max(top, seq)
    found += _gaps(sorted(at))
    before_chain = legacy[-1].hash if legacy else audit.GENESIS
    for seq, row in sorted(at.items()):
        want = at[seq - 1].hash if seq - 1 in at else before_chain if seq == 1 else None
        if want is not None and row.prev_hash != want and holds(row):
            found.append(Message(BROKEN, row=row.id, seq=seq, before=seq - 1))
    start = at.get(1)
    if start is not None and start.action == CHAINED and holds(start):
        expected = (start.detail or {}).get("earlier_lines")
        if isinstance(expected, int) and expected != len(legacy):
            found.append(Message(LEGACY, expected=expected, found=len(legacy)))
    return found


def _gaps(positions: list[int]) -> list[Message]:
    """The runs of positions missing below the highest one, without walking them one by one
    (a position planted far out names one run)."""
    gaps, last = [], 0
    for seq in positions:
        if seq > last + 1:
            gaps.append(_gap(last + 1, seq - 1))
        last = seq
    return gaps


def marks(conn: Connection, rows: list[Any]) -> dict[Any, dict[str, Any]]:
    """For one page of admin-log rows (loaded_rows, any order; a DamagedRow is marked by its
    reader): by row id, the fields that say on the line what verify says of it, in Dutch
    (problems). "damaged" with "changed": True for a copy of an earlier line (REPLAYED or
    DUPLICATE) or a line whose keyed hash does not hold (CHANGED); else "damaged" with
    "moved": True for a line whose position is below one before it (MOVED); and "gap" (GAP)
    at the line that follows positions missing, where they would have stood (issue 11: the
    auditor sees a reorder and a removed line on /beheerlog, not only in verify). Raises only
    what the database raises."""
    found: dict[Any, dict[str, Any]] = {}
    sound = [row for row in rows if not isinstance(row, DamagedRow)]
    hashes = sorted({row.hash for row in sound if isinstance(row.hash, str)})
    first: dict[str, Any] = {}
    for start in range(0, len(hashes), 900):
        query = select(_admin.c.id, _admin.c.hash).where(_admin.c.hash.in_(hashes[start:start + 900]))
        for row_id, row_hash in conn.execute(query.order_by(_admin.c.id)):
            first.setdefault(row_hash, row_id)
    ids = sorted(row.id for row in sound)
    copies = set()
    for row in sound:
        other = first.get(row.hash) if isinstance(row.hash, str) else None
        if other is not None and other != row.id:
            before = ids[ids.index(row.id) - 1] if ids.index(row.id) > 0 else None
            copies.add(row.id)
            found[row.id] = {"damaged": Message(DUPLICATE if other == before else REPLAYED,
                                                row=row.id, other=other), "changed": True}
        elif not holds(row):
            found[row.id] = {"damaged": Message(CHANGED, row=row.id), "changed": True}
    placed = sorted((row for row in rows if row.id not in copies and _placed(row.seq)),
                    key=lambda row: row.id)  # as problems walks them: a copy holds no place
    _moved(conn, placed, found)
    _missing(conn, placed, found)
    return found


def _placed(seq: Any) -> bool:
    """Whether a stored position is one the product gives (problems skips any other)."""
    return isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1


def _moved(conn: Connection, placed: list[Any], found: dict[Any, dict[str, Any]]) -> None:
    """MOVED, as problems names it, for each line of `placed` (in the order of their ids) whose
    position is below the highest of the lines before it, on this page or an older one."""
    if not placed:
        return
    top = conn.execute(select(func.max(_admin.c.seq)).where(
        _admin.c.id < placed[0].id, *_positions(conn))).scalar() or 0
    for row in placed:
        if row.seq < top and row.id not in found and not isinstance(row, DamagedRow):
            found[row.id] = {"damaged": Message(MOVED, row=row.id, seq=row.seq, top=top),
                             "moved": True}
        top = max(top, row.seq)


def _missing(conn: Connection, placed: list[Any], found: dict[Any, dict[str, Any]]) -> None:
    """GAP at the (first) line of `placed` whose position follows positions no line holds:
    the line before it in the chain is looked up, and the highest position below it when it
    is missing (one query per run, as _gaps names one run however far it reaches)."""
    own: dict[int, Any] = {}
    for row in placed:
        own.setdefault(row.seq, row)
    wanted = sorted(seq - 1 for seq in own if seq > 1)
    held: set[int] = set()
    for start in range(0, len(wanted), 900):
        held.update(conn.execute(select(_admin.c.seq).where(
            _admin.c.seq.in_(wanted[start:start + 900]), *_positions(conn))).scalars())
    for seq in wanted:
        if seq not in held:
            below = conn.execute(select(func.max(_admin.c.seq)).where(
                _admin.c.seq < seq, *_positions(conn))).scalar() or 0
            found.setdefault(own[seq + 1].id, {})["gap"] = _gap(below + 1, seq)


def record_unsealed(conn: Connection, by: str, table: Table, action: str, keys: tuple[str, str]) -> None:
    """A migration that adds a seal column to `table` (notifications 0019, mail_outbox 0020):
    one admin-log line `action` (by `by`) whose detail names, under `keys` (last id, count),
    the last id and the number of rows without a seal, when there are any; none otherwise.
    Rows written before the seal existed are never sealed after the fact (a seal would vouch
    for what no product wrote); verify counts them against this line (recorded_unsealed)."""
    last, count = conn.execute(
        select(func.max(table.c.id), func.count()).where(table.c.seal.is_(None))).one()
    if count:
        audit.log_admin(conn, by, action, {keys[0]: last, keys[1]: count})


def recorded_unsealed(conn: Connection, action: str, keys: tuple[str, str]) -> tuple[int, int]:
    """(last id, how many) of the unsealed rows record_unsealed named in its line `action`,
    from a genuine line only (a forged or changed line counts for nothing); (0, 0) without."""
    for line in genuine(conn, (action,)):
        detail = line.detail if isinstance(line.detail, dict) else {}
        last, count = detail.get(keys[0]), detail.get(keys[1])
        if type(last) is int and type(count) is int:
            return last, count
    return 0, 0
