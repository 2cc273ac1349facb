"""The sign-in limiter's counters in the application's own database.

Flask-Limiter keeps its counts in process memory by default, so with N server processes an
attacker gets N times the limit. This `limits` storage (scheme `meldcode://`) keeps them in
the `rate_limits` table instead: one count for every process, on SQLite and PostgreSQL alike,
with no extra service to run. Only the fixed-window strategy is supported (Flask-Limiter's
default, the one the login limit uses).

Failed sign-ins are limited twice: per client address (behind trusted proxies the address the
proxy saw, MELDCODE_TRUSTED_PROXIES) and per user name, so neither many addresses against one
name nor one address against many names get far.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, cast

from flask import current_app, request
from limits.storage import Storage
from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import SQLAlchemyError

from engine import config, store
from engine.form_text import trimmed
from engine.models import RateLimit

SCHEME = "meldcode"
_table = RateLimit.__table__


def login_name_limit() -> str:
    """The limit of failed sign-ins per user name: the app's LOGIN_NAME_RATE_LIMIT, else
    MELDCODE_LOGIN_NAME_RATE_LIMIT (engine.config), else 10 per minute."""
    return current_app.config.get("LOGIN_NAME_RATE_LIMIT") or config.current().login_name_rate_limit


def login_name_key() -> str:
    """The sign-in limiter's key per user name (as typed, without case), from the form."""
    name = trimmed(request.form.get("naam") or "")[:80].casefold()
    return f"naam:{name}"


def _key(key: str) -> str:
    # The limiter's keys hold the client's address and the endpoint; hashed, any length fits.
    return hashlib.sha256(key.encode()).hexdigest()


class DatabaseStorage(Storage):
    STORAGE_SCHEME = [SCHEME]

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add `amount` to the window of `key`; an expired window starts again. One atomic
        upsert, so processes that count at the same moment never lose a hit."""
        now = time.time()
        with store.unit_of_work(write=True) as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            expired = _table.c.expires_at <= now
            upsert = insert(_table).values(key=_key(key), hits=amount, expires_at=now + expiry)
            statement = upsert.on_conflict_do_update(
                index_elements=[_table.c.key],
                set_={
                    "hits": case((expired, amount), else_=_table.c.hits + amount),
                    "expires_at": case((expired, now + expiry), else_=_table.c.expires_at),
                },
            ).returning(_table.c.hits)
            hits = session.execute(statement).scalar_one()
            # Old windows are of no use to anyone: cleared as we go (indexed, rare writes).
            session.execute(delete(_table).where(_table.c.expires_at < now - 3600))
            return hits

    def _row(self, key: str) -> RateLimit | None:
        with store.unit_of_work() as session:
            row = session.get(RateLimit, _key(key))
            return row if row is not None and row.expires_at > time.time() else None

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.hits if row is not None else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row.expires_at if row is not None else time.time()

    def check(self) -> bool:
        try:
            with store.unit_of_work() as session:
                session.execute(select(func.count()).select_from(_table))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with store.unit_of_work(write=True) as session:
            # A DELETE gives a CursorResult (Session.execute is typed as any Result).
            return cast(CursorResult[Any], session.execute(delete(_table))).rowcount

    def clear(self, key: str) -> None:
        with store.unit_of_work(write=True) as session:
            session.execute(delete(_table).where(_table.c.key == _key(key)))
