"""Background priority for the long checks (verify --all and its pass over the log): at
niceness BACKGROUND_NICENESS and, where Linux offers it, in the SCHED_IDLE class, so that a
server on the same machine answers first (issue 11: a case start during verify stays under
50 ms at p95).

Only forked processes that read go to the background. The process that writes (verify's
access-log lines) keeps its priority: a SCHED_IDLE process holding the SQLite write lock runs
only when no other process wants a processor, so on a busy machine every writer waited behind
it (issue 12: holds of up to 0.6 s during verify --all, case starts p95 44-56 ms)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

BACKGROUND_NICENESS = 10  # verify's processes yield the processor to the server's requests

T = TypeVar("T")


def lower_priority() -> None:
    """This process at niceness BACKGROUND_NICENESS at least and, where Linux offers it, in
    the SCHED_IDLE class: it runs only on a processor no other process wants. Raises
    nothing where the class is refused (the niceness stays). For processes that only read."""
    if os.getpriority(os.PRIO_PROCESS, 0) < BACKGROUND_NICENESS:
        os.setpriority(os.PRIO_PROCESS, 0, BACKGROUND_NICENESS)
    if hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Ask the kernel to send this process SIGTERM when its parent (`parent`, the process id
    it was forked from) dies, and exit at once when that already happened. Forked helpers
    otherwise outlive a parent killed with kill -9 or SIGTERM: `meldcode serve`'s workers kept
    the port (issue 11 point 5), verify's processes kept the database and the command's output
    open, so a pipeline over verify never ended (issue 12). Linux only (prctl); elsewhere
    nothing is asked."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # died before the request above: no signal will come
        os._exit(0)


def start_background_process(parent: int) -> None:
    """In a process forked for background work from process `parent` (the pool's
    initializer, initargs=(os.getpid(),)): it ends when the parent does (die_with_parent),
    opens database connections of its own (the parent's stay the parent's) and runs at
    background priority (lower_priority)."""
    from . import store

    die_with_parent(parent)
    # Ctrl-C reaches the whole process group: the parent alone answers it (and stops this
    # process, process_pool), so no traceback of a helper reaches the terminal (task U point 2)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store.forget_engines_after_fork()
    lower_priority()


@contextlib.contextmanager
def process_pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of `jobs` processes forked from this one for read-only background work
    (start_background_process). Left by an exception (Ctrl-C, the reader of the output
    gone, a generator closed early) its processes are stopped at once (SIGTERM): the
    executor's own shutdown would first run every task still queued."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                               initializer=start_background_process, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        for child in multiprocessing.active_children():
            child.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def in_background(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` computed in one forked process at background priority
    (start_background_process), the caller keeping its own priority. Returns the result, or
    raises what the function raised; both travel back pickled, so they must pickle. For
    read-only work only (see the module's docstring)."""
    with process_pool(1) as pool:
        return pool.submit(function, *args, **kwargs).result()
