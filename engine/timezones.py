"""Time zones in one place: every time is stored in UTC and shown in Dutch time.

The database holds UTC. PostgreSQL gives it back with its zone; SQLite gives back a naive
datetime, which is UTC too and must never be read as the server's local time (Python's
astimezone() does that with a naive value: under TZ=Europe/Amsterdam a time showed an hour
early). So every conversion goes through `to_utc` first, whatever the server's TZ is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, overload
from zoneinfo import ZoneInfo

# The zone times are shown in: the product serves Dutch organisations (Flask-Babel's
# BABEL_DEFAULT_TIMEZONE takes the same name).
DISPLAY_ZONE_NAME = "Europe/Amsterdam"
DISPLAY_ZONE = ZoneInfo(DISPLAY_ZONE_NAME)

# Dutch month names, so the dossier reads the same whatever locale the server runs in.
_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december")


# How an engine view gives its times: `iso` (ISO 8601 UTC text, the
# form of the API, the command line and the hash chains) or `to_utc` (an aware UTC datetime, for
# a page, which formats it itself in Dutch time: webui/web.when). A page never gets a time as
# text to parse again.
Stamp = Callable[[datetime], Any]


def now_utc() -> datetime:
    """Now, aware, in UTC: the time every row stores; the engine's clock (engine/clock.py),
    so an injected clock holds here too."""
    from . import clock  # clock builds on this module

    return clock.now()


@overload
def to_utc(at: datetime) -> datetime: ...
@overload
def to_utc(at: None) -> None: ...
def to_utc(at: datetime | None) -> datetime | None:
    """`at` as an aware UTC datetime; a naive one is UTC already (as SQLite gives it back).
    None stays None."""
    if at is None:
        return None
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


def parse_iso(text: str) -> datetime:
    """An ISO 8601 timestamp ('Z', an offset, or none: UTC) as an aware UTC datetime."""
    return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def local(at: datetime | str) -> datetime:
    """`at` (a datetime or ISO text) in Dutch time (Europe/Amsterdam)."""
    return (parse_iso(at) if isinstance(at, str) else to_utc(at)).astimezone(DISPLAY_ZONE)


def iso(at: datetime) -> str:
    """UTC, microseconds, 'Z': the same text whatever the database gave back (SQLite drops
    the zone, PostgreSQL keeps it). The form of every time in the API and the hash chains;
    written out rather than through to_utc, as verify calls it for every row."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def iso_seconds(at: datetime) -> str:
    """UTC to the second with 'Z' (2026-11-29T13:05:07Z): tokens and checkpoints."""
    return to_utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")


def dutch_date(day: date) -> str:
    """A date as Dutch people write it: 29 november 2026."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def local_text(at: datetime | str | None, seconds: bool = False) -> str:
    """A time as Dutch people read it, in Dutch time: "29 november 2026, 14:05", with
    seconds ("14:05:07") where the order of events matters. "—" for none."""
    if at is None or at == "":
        return "—"
    shown = local(at)
    return f"{dutch_date(shown.date())}, {shown.strftime('%H:%M:%S' if seconds else '%H:%M')}"
