"""The engine's one "now": every time the engine decides with (timers, due dates, reminders)
comes from `now()`, an aware UTC datetime.

In production it is the system clock. A test (or a tool) puts another clock in place for a
while with `use(...)`: a fixed datetime, or a callable giving one (`ManualClock` is such a
callable that moves only when told). There is deliberately no environment variable or flag
for it: a running product always follows the system clock. The clock in place is process-wide
(every thread sees it: the scheduler's thread must see the clock of the test that drives it).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from . import timezones

Source = Callable[[], datetime]

_source: Source | None = None
_lock = threading.Lock()


def now() -> datetime:
    """Now as an aware UTC datetime: the system clock, or the clock a `use` put in place (a
    naive datetime from it is taken as UTC). Never raises."""
    source = _source
    if source is None:
        return datetime.now(UTC)
    return timezones.to_utc(source())


@contextlib.contextmanager
def use(clock: datetime | Source) -> Iterator[Source]:
    """Within the `with` block, `now()` is `clock`: a datetime (fixed; naive means UTC) or a
    callable returning one. Yields the callable in place. The clock before it comes back on
    leaving, also on an error; blocks nest. Raises TypeError for anything else."""
    global _source
    if isinstance(clock, datetime):
        fixed = timezones.to_utc(clock)

        def source() -> datetime:
            return fixed
    elif callable(clock):
        source = clock
    else:
        raise TypeError("clock.use takes a datetime or a callable returning one")
    with _lock:
        before, _source = _source, source
    try:
        yield source
    finally:
        with _lock:
            _source = before


class ManualClock:
    """A clock that stands still until moved: `ManualClock(start)`, then `advance(timedelta)`
    or `set(datetime)`; calling it gives the time (aware UTC). For tests: `with
    clock.use(ManualClock(t)) as c: ... c.advance(timedelta(hours=2))`."""

    def __init__(self, start: datetime):
        self._at = timezones.to_utc(start)

    def __call__(self) -> datetime:
        return self._at

    def advance(self, by: timedelta) -> datetime:
        """Move the clock on by `by`; returns the new time."""
        self._at = self._at + by
        return self._at

    def set(self, at: datetime) -> None:
        """Put the clock at `at` (naive: UTC)."""
        self._at = timezones.to_utc(at)
