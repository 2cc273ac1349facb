"""The scheduler: fires due timers (engine/timers.py) and runs the periodic jobs.

`PERIODIC_JOBS` is a list of callables `(now: datetime) -> None` (now aware UTC) that the
worker loop (`meldcode worker`, the worker thread of `meldcode serve`) runs every few seconds;
other parts of the product append theirs (mail delivery, reminders: CONTRACT section 5).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from . import clock

log = logging.getLogger("meldcode.scheduler")

# Jobs the worker runs each round after firing the due timers: callables (now) -> None.
PERIODIC_JOBS: list[Callable[[datetime], None]] = []


def run_periodic(now: datetime | None = None) -> None:
    """Run every job of PERIODIC_JOBS once with `now` (default clock.now()). A job that
    raises is logged and the others still run; nothing is raised."""
    at = now or clock.now()
    for job in list(PERIODIC_JOBS):
        try:
            job(at)
        except Exception:
            log.exception("periodic job %s failed", getattr(job, "__name__", job))
