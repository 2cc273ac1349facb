"""The `meldcode` console script ([project.scripts] in pyproject.toml): Ctrl-C quiet from the
first moment, then the real command (webui/cli.py).

A module of its own outside the `webui` package (the wheel includes it: [tool.hatch...] in
pyproject.toml): importing webui.cli_start first ran webui/__init__.py (typing, datetime: some
20-30 ms), and a Ctrl-C in that time still met Python's default handler (fresh tester F4).

Importing webui.cli and what it needs (SQLAlchemy, SpiffWorkflow, the engine) takes most of a
second; a Ctrl-C in that time met Python's default handler and printed a KeyboardInterrupt
traceback, where a running command says "Afgebroken." and exits INTERRUPTED (cli._stops_quietly).
This module imports nothing heavy (os and signal come with the interpreter), so the same
ending holds while the rest is still loading.
"""

# the C module itself: `signal` imports enum (some 8 ms), time in which Ctrl-C met Python's
# default handler; its SIGINT is a plain number, its handlers are the same
import _signal as signal  # type: ignore[import-not-found]  # no stub for the C module
import os

# The one ending of an interrupted command, here and in cli._stops_quietly: the shell's exit
# status for a process that SIGINT ended (128 + its number) and click's "Aborted!" in Dutch.
INTERRUPTED = 128 + signal.SIGINT
INTERRUPTED_WORD = "Afgebroken."


def _interrupted_while_starting(signum, frame) -> None:
    """SIGINT before the command exists: nothing is written or open yet, so the process ends
    at once, without unwinding a half-done import (a module that catches BaseException
    would swallow a KeyboardInterrupt raised there)."""
    try:
        os.write(2, f"{INTERRUPTED_WORD}\n".encode())
    except OSError:  # standard error closed or its reader gone: the exit status still says it
        pass
    os._exit(INTERRUPTED)


def main():
    """Run the `meldcode` command (webui.cli.main) with its arguments from sys.argv.

    In: nothing (click reads sys.argv). Out: what webui.cli.main gives (it exits itself).
    A Ctrl-C while webui.cli is imported: "Afgebroken." on stderr, exit INTERRUPTED (task W
    point 1). Only when Ctrl-C is handled as usual: a process started with SIGINT ignored
    (`nohup`, a background job of a script) keeps ignoring it, as before."""
    early = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if early:
        signal.signal(signal.SIGINT, _interrupted_while_starting)
    from webui import cli  # the heavy part

    if early:  # from here cli._stops_quietly ends an interrupted command, with its cleanup
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return cli.main()
