"""Append-only history with a keyed hash chain, and the NEN 7513 access log.

Each history event and each access-log entry holds an HMAC-SHA-256 over its canonical content
and the hash of the entry before it. The key lives outside the database, so whoever can
rewrite the tables still cannot forge a consistent chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, text
from sqlalchemy.orm import Session

from . import settings
from .store import AccessLogEntry, Case, utcnow

GENESIS = "0" * 64


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    return hmac.new(
        settings.history_key(), prev_hash.encode() + b"\n" + canonical(content), hashlib.sha256
    ).hexdigest()


def iso(at: datetime) -> str:
    """UTC, microseconds, 'Z': the same text whatever the database gave back (SQLite drops
    the zone, PostgreSQL returns its session zone), so hashes over it are stable."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


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


_access = AccessLogEntry.__table__
_PG_LOCK = text("SELECT pg_advisory_xact_lock(7513, :k)")
_LAST_FOR_CASE = (select(_access.c.hash).where(_access.c.case_id == bindparam("case_id"))
                  .order_by(_access.c.id.desc()).limit(1))
_LAST_FOR_SYSTEM = (select(_access.c.hash).where(_access.c.case_id.is_(None))
                    .order_by(_access.c.id.desc()).limit(1))
_INSERT_ACCESS = _access.insert()


def access_content(entry: AccessLogEntry) -> dict[str, Any]:
    return {
        "at": iso(entry.at), "case_id": entry.case_id, "client_ref": entry.client_ref,
        "user": entry.user, "role": entry.role, "on_behalf_of": entry.on_behalf_of,
        "action": entry.action, "outcome": entry.outcome, "source": entry.source,
    }


def log_access(db: Session | Connection, user, action: str, outcome: str,
               case: Case | None = None, case_id: int | None = None, source: str | None = None,
               on_behalf_of: str | None = None) -> AccessLogEntry:
    """Record one attempt to read or change a case (NEN 7513), chained per case.

    user: anything with .name and .roles (a User or a Principal), or a plain name for the system.
    """
    case_id = case.id if case is not None else case_id
    if isinstance(user, str):
        name, role = user, "systeem"
    else:
        name, role = user.name, ",".join(user.roles)
    conn = db.connection() if isinstance(db, Session) else db
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
    return entry
