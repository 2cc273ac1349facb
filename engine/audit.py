"""Append-only history with a keyed hash chain, and the NEN 7513 access log.

Each history event and each access-log entry holds an HMAC-SHA-256 over its canonical content
and the hash of the entry before it. The key lives outside the database, so whoever can
rewrite the tables still cannot forge a consistent chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import failures, settings, timezones
from .messages import N_, Message
from .models import AccessLogEntry, AdminLogEntry, Case, utcnow
from .problems import joined
from .stored_rows import SEAL_BROKEN, DamagedRow, loaded_rows, refusal, value_damage

GENESIS = "0" * 64


# One encoder for every hash: json.dumps builds one per call, as costly as a short event's hash.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              default=str)


def canonical(content: dict[str, Any]) -> bytes:
    """The bytes a keyed hash covers: JSON with sorted keys, no spaces, UTF-8."""
    return _CANONICAL.encode(content).encode()


_keyed: dict[bytes, Any] = {}  # history key -> HMAC-SHA-256 with that key set up, to copy


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """HMAC-SHA-256 (history key) over the previous hash, a newline and canonical(content),
    hex. The key's setup is done once per key and copied (a third of hmac.new's cost)."""
    key = settings.history_key()
    base = _keyed.get(key)
    if base is None:
        base = _keyed[key] = hmac.new(key, digestmod=hashlib.sha256)
    mac = base.copy()
    mac.update(prev_hash.encode() + b"\n" + canonical(content))
    return mac.hexdigest()


# UTC, microseconds, 'Z': the same text whatever the database gave back (SQLite drops the
# zone, PostgreSQL returns its session zone), so hashes over it are stable.
iso = timezones.iso


def event_content(case_id: int, seq: int, at: datetime, actor: str, action: str,
                  step: str | None, task_id: str | None, data: dict) -> dict[str, Any]:
    return {
        "case_id": case_id, "seq": seq, "at": iso(at), "actor": actor, "action": action,
        "step": step, "task_id": task_id, "data": data,
    }


def new_event(case_id: int, seq: int, prev_hash: str, actor: str, action: str,
              step: str | None = None, task_id: str | None = None, data: dict | None = None,
              at: datetime | None = None) -> dict[str, Any]:
    """The row of one history event, its hash chained to the event before."""
    at = at or utcnow()
    data = data or {}
    digest = chain_hash(prev_hash, event_content(case_id, seq, at, actor, action, step, task_id, data))
    return dict(case_id=case_id, seq=seq, at=at, actor=actor, action=action, step=step,
                task_id=task_id, data=data, prev_hash=prev_hash, hash=digest)


# --- the case header ------------------------------------------------------------------------
# The mutable row of a case carries a keyed hash over the fields that make it evidence: who,
# what about, since and until when, how far both chains reached. Without the history key a
# changed, swapped or rewound header cannot be given a matching hash.

_cases = Case.__table__
HEADER_FIELDS = ("client_ref", "reason", "owner_id", "process_version", "status", "uitkomst",
                 "started_at", "closed_at", "event_count", "last_hash", "access_count",
                 "access_head", "practice")
_HEADER = select(*(_cases.c[name] for name in HEADER_FIELDS), _cases.c.header_hash).where(
    _cases.c.id == bindparam("case_id"))
_HEADER_FOR_UPDATE = _HEADER.with_for_update()
_SEAL = (_cases.update().where(_cases.c.id == bindparam("case_id"))
         .values(header_hash=bindparam("header_hash")))


def header_content(case_id: int, fields: Any) -> dict[str, Any]:
    """The canonical header of a case. fields: a Case or a row with HEADER_FIELDS.

    `practice` (a fictional case of practice mode, issue 14 point 5) is in it only when true:
    the headers of real cases hash as they did before the column existed, and a case turned
    into a practice case (to keep it out of the figures) or back no longer matches its hash."""
    content = {name: getattr(fields, name) for name in HEADER_FIELDS}
    if not content["practice"]:
        del content["practice"]
    for name in ("started_at", "closed_at"):
        if content[name] is not None:
            content[name] = iso(content[name])
    content["last_hash"] = content["last_hash"] or GENESIS
    content["access_head"] = content["access_head"] or GENESIS
    content["case_id"] = case_id
    return content


def header_hash(case_id: int, fields: Any) -> str:
    """HMAC-SHA-256 (history key) over header_content: what cases.header_hash must hold."""
    return hmac.new(settings.history_key(), b"case-header\n" + canonical(
        header_content(case_id, fields)), hashlib.sha256).hexdigest()


def header_ok(case_id: int, fields: Any) -> bool:
    """Whether fields.header_hash is the keyed hash of fields' header (a Case or a row)."""
    # as bytes: compare_digest refuses a text that is no ASCII (a hash stored damaged: U+FFFD)
    return hmac.compare_digest(header_hash(case_id, fields).encode(),
                               str(fields.header_hash or "").encode())


def read_header(db: Session | Connection, case_id: int) -> Any:
    """The header of case `case_id` as stored now, for a writer that changes it: a Row with
    HEADER_FIELDS and header_hash (locked on PostgreSQL), an object with access_count (an int
    or None) and header_hash for a row whose header does not parse, None for no such case.
    `header_ok` on a Row says whether it is intact. Never raises for the row's values."""
    return _read_header(db.connection() if isinstance(db, Session) else db, case_id)


def resealed(case_id: int, header: Any, changed: dict[str, Any]) -> Any:
    """The header `header` (read_header's value) as a write of the header fields `changed`
    leaves it: an object with HEADER_FIELDS and header_hash, the keyed hash of the new fields
    (for the writer to store in the same statement, as seal_case would); None for no such case.
    For log_access(header=...) after the write. Raises DamagedCase (409, stored_rows.refusal
    naming the header) when `header` is not intact or does not parse: a broken seal takes no
    write (issue 11, engine/write_refusals.py), and this is the completion's one HMAC of it."""
    if header is None:
        return header
    if not isinstance(header, Row) or not header_ok(case_id, header):
        raise refusal(case_id, {"header_hash": SEAL_BROKEN})
    values = {**header._asdict(), **changed}
    values["header_hash"] = header_hash(case_id, _Fields(values))
    return _Resealed(values)


class _Unreadable:
    """A case row's header with a value that does not parse: not intact; its count if a number."""

    def __init__(self, access_count: Any, header_hash: Any):
        self.access_count = access_count if isinstance(access_count, int) else None
        self.header_hash = header_hash


def _read_header(conn: Connection, case_id: int) -> Any:
    """The header fields of case `case_id` (a Row, locked on PostgreSQL), _Unreadable for a row whose
    header does not parse, None for no such case. Never raises for the row's values."""
    query = _HEADER_FOR_UPDATE if conn.dialect.name == "postgresql" else _HEADER
    try:
        row = conn.execute(query, {"case_id": case_id}).first()
        if row is None or isinstance(row.access_count, int):
            return row
    except (ValueError, TypeError, OverflowError):
        pass
    except OperationalError as exc:
        # SQLite keeps any bytes in a text column; a text that is no UTF-8 fails to load at
        # all (the statement failed, the transaction goes on). client_ref and reason load as
        # stored_text.Damaged (StoredText), the other header texts do not. Anything else the
        # database says is raised as it is.
        if conn.dialect.name != "sqlite" or "decode to UTF-8" not in str(exc.orig):
            raise
    raw = conn.execute(select(_cases.c.access_count, _cases.c.header_hash)
                       .where(_cases.c.id == case_id)).first()
    return None if raw is None else _Unreadable(raw.access_count, raw.header_hash)


def seal_case(db: Session | Connection, case_id: int, intact: bool = True) -> None:
    """Recompute cases.header_hash from the row as this transaction sees it.

    Call it in the same transaction after a change to a header field (HEADER_FIELDS), with
    intact = header_ok(...) as asked before the change (a new case: True). log_access
    seals by itself. A header that was not intact is left as it is."""
    if not intact:
        return
    if isinstance(db, Session):
        db.flush()
    conn = db.connection() if isinstance(db, Session) else db
    row = conn.execute(_HEADER, {"case_id": case_id}).first()
    if row is not None:
        conn.execute(_SEAL, {"case_id": case_id, "header_hash": header_hash(case_id, row)})


# --- the NEN 7513 access log -----------------------------------------------------------------

_access = AccessLogEntry.__table__
_PG_LOCK = text("SELECT pg_advisory_xact_lock(7513, :k)")
_SEAL_ACCESS = (_cases.update().where(_cases.c.id == bindparam("case_id"))
                .values(access_count=bindparam("access_count"),
                        access_head=bindparam("access_head"), header_hash=bindparam("header_hash")))
_LAST_FOR_CASE = (select(_access.c.hash).where(_access.c.case_id == bindparam("case_id"))
                  .order_by(_access.c.id.desc()).limit(1))
_LAST_FOR_SYSTEM = (select(_access.c.hash).where(_access.c.case_id.is_(None))
                    .order_by(_access.c.id.desc()).limit(1))
_INSERT_ACCESS = _access.insert()


def access_content(entry: AccessLogEntry | Row[Any]) -> dict[str, Any]:
    return {
        "at": iso(entry.at), "case_id": entry.case_id, "client_ref": entry.client_ref,
        "user": entry.user, "role": entry.role, "on_behalf_of": entry.on_behalf_of,
        "action": entry.action, "outcome": entry.outcome, "source": entry.source,
    }


def log_access(db: Session | Connection, user, action: str, outcome: str,
               case: Case | None = None, case_id: int | None = None, source: str | None = None,
               on_behalf_of: str | None = None, header: Any = None) -> AccessLogEntry:
    """Record one attempt to read or change a case (NEN 7513), chained per case.

    user: anything with .name and .roles (a User or a Principal), or a plain name for the system.
    The case's access count and head move with the line and its header is sealed again
    (seal_case), so this is the last write to the case row of the transaction.
    header: the case's header exactly as this transaction stored it (read_header's value, with
    the fields the transaction changed since then), from a writer that holds the row; the
    header is then not read again. None: read here.
    """
    case_id = case.id if case is not None else case_id
    if isinstance(user, str):
        name, role = user, "systeem"
    else:
        name, role = user.name, ",".join(user.roles)
    if isinstance(db, Session):
        db.flush()  # the header is sealed from the row as stored, pending changes included
    conn = db.connection() if isinstance(db, Session) else db
    if case_id is None:
        header = None
    elif header is None:
        # Lock the case row before the chain's lock: a completion holds the row first too.
        # A row whose header does not parse still gets its line (verify reports the row).
        header = _read_header(conn, case_id)
    if conn.dialect.name == "postgresql":
        # Serialise appends to one case's chain across concurrent transactions.
        conn.execute(_PG_LOCK, {"k": case_id or 0})
    prev = conn.execute(
        _LAST_FOR_SYSTEM if case_id is None else _LAST_FOR_CASE, {"case_id": case_id}
    ).scalar() or GENESIS
    entry = AccessLogEntry(
        at=utcnow(), case_id=case_id, client_ref=case.client_ref if case is not None else None,
        user=name, role=role, on_behalf_of=on_behalf_of or name, action=action, outcome=outcome,
        source=source, prev_hash=prev,
    )
    entry.hash = chain_hash(prev, access_content(entry))
    # A plain insert: this runs on every read and write of a case, the ORM's unit of work is
    # not needed for an append-only row.
    conn.execute(_INSERT_ACCESS, {
        "at": entry.at, "case_id": entry.case_id, "client_ref": entry.client_ref,
        "user": entry.user, "role": entry.role, "on_behalf_of": entry.on_behalf_of,
        "action": entry.action, "outcome": entry.outcome, "source": entry.source,
        "prev_hash": entry.prev_hash, "hash": entry.hash,
    })
    if isinstance(header, _Unreadable):
        # Not intact, so never sealed again; the count and head move when the count is one.
        if header.access_count is None:
            return entry
        sealed = {"access_count": header.access_count + 1, "access_head": entry.hash,
                  "header_hash": header.header_hash}
    elif case_id is not None and header is not None and any(value_damage(getattr(
            header, name, None)) for name in ("access_count", "access_head", "header_hash")):
        # what this would write stored damaged (a hash that is no text, a counter beyond the
        # range) is never written over: verify names it as stored; the line is logged all the same
        return entry
    elif case_id is not None and header is not None:  # a header is read for a case only
        sealed = {name: getattr(header, name) for name in (*HEADER_FIELDS, "header_hash")}
        sealed.update(access_count=header.access_count + 1, access_head=entry.hash)
        if isinstance(header, _Resealed) or header_ok(case_id, header):  # broken stays broken
            sealed["header_hash"] = header_hash(case_id, _Fields(sealed))
    if case_id is not None and header is not None:
        conn.execute(_SEAL_ACCESS, {"case_id": case_id, **{
            name: sealed[name] for name in ("access_count", "access_head", "header_hash")}})
        if case is not None:
            # the caller's object stays what the row now holds, without marking it changed
            for name in ("access_count", "access_head", "header_hash"):
                set_committed_value(case, name, sealed[name])
    return entry


class _Fields:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)


class _Resealed(_Fields):
    """A header `resealed` sealed (its stored seal checked): log_access needs no second HMAC."""


# --- the admin log ---------------------------------------------------------------------------

_admin = AdminLogEntry.__table__
_INSERT_ADMIN = _admin.insert()


def admin_content(at: datetime, user: str, action: str, detail: dict) -> dict[str, Any]:
    return {"at": iso(at), "user": user, "action": action, "detail": detail}


def admin_hash(at: datetime, user: str, action: str, detail: dict) -> str:
    """HMAC-SHA-256 (history key) of one admin-log row's content."""
    return hmac.new(settings.history_key(), b"admin\n" + canonical(
        admin_content(at, user, action, detail)), hashlib.sha256).hexdigest()


def log_admin(db: Session | Connection, user: str, action: str, detail: dict) -> None:
    """Record one administrative action (users, tokens, settings, process deploys and
    activations, migrations) in the admin log, inside the caller's transaction.

    user: who did it (a user name, or the operating-system user for the command line);
    action: a short code such as "user_created"; detail: JSON-serialisable facts (never a
    password or token). The row enters the log across all cases (translog) after commit.
    Raises TypeError for a detail that is not a dict. Contract section 5 (admin log)."""
    if not isinstance(detail, dict):
        raise TypeError("detail must be a dict")
    from . import admin_chain  # it builds on this module's hashes

    detail = json.loads(canonical(detail))  # stored as hashed: JSON types only
    at = utcnow()
    conn = db.connection() if isinstance(db, Session) else db
    row = {"at": at, "user": user, "action": action, "detail": detail}
    if admin_chain.chained(conn):  # the hash covers the line's place (issue 11)
        seq, prev = admin_chain.next_position(conn)
        row.update(seq=seq, prev_hash=prev,
                   hash=admin_chain.line_hash(seq, prev, at, user, action, detail))
    else:  # a migration before 0018: the table has no place for it yet
        row["hash"] = admin_hash(at, user, action, detail)
    conn.execute(_INSERT_ADMIN, row)


# Pages of the admin log beyond this one are empty: no offset the database cannot hold.
MAX_ADMIN_LOG_PAGE = 10**9


def admin_log(session: Session | Connection, limit: int = 1000,
              stamp: timezones.Stamp = iso, page: int = 1) -> list[dict[str, Any]]:
    """One page of `limit` admin-log rows, oldest first: [{"at", "user", "action", "detail"}]
    with `at` as `stamp` gives it: ISO 8601 UTC text by default (Contract section 5, GET
    /api/v1/admin-log), an aware UTC datetime with timezones.to_utc (the auditor's page).

    page 1 holds the newest `limit` rows, page 2 the `limit` before them, and so on: every
    row stays readable, however many came after it (issue 11 point 4: a flood of `refused`
    lines must not push an administrative action out of the auditor's reach). A page past
    the oldest row, or above MAX_ADMIN_LOG_PAGE, is empty; page below 1 raises ValueError.

    A row written outside the application that does not read back (a time that is no time,
    detail that is no JSON object, text that is no UTF-8) is shown, never an error (issue 11
    point 6): its `at` and `detail` None where they do not read, and "damaged" holds what is
    wrong, in Dutch (a Message). A line that reads but whose keyed hash does not hold, or that
    is a copy of an earlier line, or out of order, carries what verify says of it in "damaged"
    and "changed" or "moved": True; a line after missing positions "gap" (admin_chain.marks)."""
    if page < 1:
        raise ValueError("page must be 1 or more")
    if page > MAX_ADMIN_LOG_PAGE:
        return []
    limit = max(0, int(limit))
    conn = session.connection() if isinstance(session, Session) else session
    from . import admin_chain

    rows = loaded_rows(conn, _admin, order=_admin.c.id.desc(), limit=limit,
                       offset=(page - 1) * limit)
    marks = admin_chain.marks(conn, rows)  # changed, copied, moved, gap: as verify names them
    return [_admin_line(row, stamp, marks.get(row.id)) for row in reversed(rows)]


_ADMIN_FIELDS = {"at": N_("tijdstip"), "user": N_("gebruiker"), "action": N_("handeling"),
                 "detail": N_("gegevens")}


def _admin_line(row: Any, stamp: timezones.Stamp, mark: dict[str, Any] | None) -> dict[str, Any]:
    damage = dict(row.damage) if isinstance(row, DamagedRow) else {}
    line: dict[str, Any] = {"at": None, "user": row.user, "action": row.action,
                            "detail": row.detail}
    if "at" not in damage:
        try:
            line["at"] = stamp(row.at)
        except (ValueError, TypeError, OverflowError) as exc:  # a year no zone reaches
            damage["at"] = failures.kind_of(exc)
    if "detail" not in damage and not isinstance(row.detail, dict):
        damage["detail"] = N_("geen object (JSON) maar een andere waarde")
    for name in ("user", "action"):  # a text that did not load: as far as it reads
        if not isinstance(line[name], str):
            line[name] = "" if line[name] is None else str(line[name])
    if "detail" in damage:
        line["detail"] = None
    if damage:
        line["damaged"] = Message(N_("beschadigd opgeslagen: {fields}"), fields=joined(
            [Message(N_("{field}: {reason}"), field=_ADMIN_FIELDS.get(name, name), reason=why)
             for name, why in damage.items()], "; "))
    # a line that does not read keeps its damage; a gap before it is shown all the same
    line.update({k: v for k, v in (mark or {}).items() if k == "gap" or not damage})
    return line
