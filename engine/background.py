"""Background priority for the long checks (verify --all and its pass over the log): at
niceness BACKGROUND_NICENESS and, where Linux offers it, in the SCHED_IDLE class, so that a
server on the same machine answers first (issue 11: a case start during verify stays under
50 ms at p95). Forked processes inherit both."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

BACKGROUND_NICENESS = 10  # verify's processes yield the processor to the server's requests


def lower_priority() -> None:
    """This process at niceness BACKGROUND_NICENESS at least and, where Linux offers it, in
    the SCHED_IDLE class: it runs only on a processor no other process wants. Raises
    nothing where the class is refused (the niceness stays)."""
    if os.getpriority(os.PRIO_PROCESS, 0) < BACKGROUND_NICENESS:
        os.setpriority(os.PRIO_PROCESS, 0, BACKGROUND_NICENESS)
    if hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


@contextlib.contextmanager
def background_priority() -> Iterator[None]:
    """Run the block (and the processes it forks) at background priority (lower_priority), so
    a server on the same machine answers first; the priority and scheduling class before are
    restored after it where the operating system allows (raising a priority again needs
    root), else they stay lowered."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
    lower_priority()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if policy is not None:
                os.sched_setscheduler(0, policy, os.sched_param(0))
            os.setpriority(os.PRIO_PROCESS, 0, before)
