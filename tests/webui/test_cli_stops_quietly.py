"""A `meldcode` command whose reader stops, or that is interrupted with Ctrl-C, ends quietly
(task U points 1 and 2): `meldcode verify --all | head -2` said "de database is niet te
bereiken of te openen" (exit 2) and left the cases it had read out of the access log; after
Ctrl-C a stray "Exception ignored ... KeyboardInterrupt" line could follow click's
"Afgebroken." (exit 1), and `meldcode worker` stopped by Ctrl-C exited 0.

Output that cannot be written at all (a full disk behind `> file`: /dev/full) is one Dutch line
and exit 1, not "de database is niet te bereiken" nor a traceback (--help included).

Every test runs the installed command in a process of its own, as a shell would, with a real
pipe or a real SIGINT to its process group (Ctrl-C reaches every process of the group).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from sqlalchemy import select

from engine import cases, models, store
from tests.helpers import MELDCODE

READER_GONE = 141  # 128 + SIGPIPE, as a shell reports a command killed by it
INTERRUPTED = 130  # 128 + SIGINT
NOISE = ("Traceback", "Exception ignored", "niet te bereiken", "Error", "fout:")


def _start_cases(mw, count: int) -> list[int]:
    return [cases.start_case(mw, {"client_ref": f"pijp-{i}"})["id"] for i in range(count)]


def _verified_cases() -> set[int]:
    """The cases that have a `verify` line in the access log (NEN 7513)."""
    with store.unit_of_work() as session:
        return set(
            session.scalars(
                select(models.AccessLogEntry.case_id).where(models.AccessLogEntry.action == "verify")
            )
        )


def _with_stdout_closed(*args: str, url: str) -> subprocess.CompletedProcess:
    """`meldcode ARGS` with standard output a pipe whose reader is gone (| head -0)."""
    store.dispose_engines()
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [MELDCODE, *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "MELDCODE_DATABASE_URL": url},
            timeout=300,
        )
    finally:
        os.close(write)


def test_verify_whose_reader_stops_exits_141_and_logs_the_cases_it_read(db_url, people):
    ids = _start_cases(people["mw"], 3)
    result = _with_stdout_closed("verify", "--all", "--jobs", "1", url=db_url)
    assert result.returncode == READER_GONE, result.stderr
    assert not any(word in result.stderr for word in NOISE), result.stderr
    # it read (at least) the first case before it could not print it: that read is logged
    assert ids[0] in _verified_cases()


@pytest.mark.parametrize(
    "args",
    [
        ("cases",),
        ("token", "list", "mw"),
        ("checkpoint", "--public-key"),
        ("document", "-o", "-", "--format", "html"),
    ],
)
def test_every_command_whose_reader_stops_exits_141_without_a_word(sqlite_url, sqlite_people, args):
    _start_cases(sqlite_people["mw"], 2)
    result = _with_stdout_closed(*args, url=sqlite_url)
    assert result.returncode == READER_GONE, result.stderr
    assert result.stderr == "", result.stderr


def test_a_closed_standard_error_is_no_crash_either(sqlite_url, sqlite_people):
    """The reader of stderr gone: a refusal that cannot be said still exits, quietly."""
    store.dispose_engines()
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [MELDCODE, "verify"],
            stdout=subprocess.PIPE,
            stderr=write,
            env={**os.environ, "MELDCODE_DATABASE_URL": sqlite_url},
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert result.returncode == READER_GONE, result.stdout
    assert result.stdout == ""


def _ctrl_c_as_from_a_shell() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupted(args: list[str], url: str, ready: str, on_stderr: bool = False):
    """Run `meldcode ARGS` in a process group of its own; once a line starting with `ready`
    came (on stdout, or stderr), Ctrl-C to the group. Out: its exit code, what it printed
    (stdout, stderr) and the group's id.

    The watched stream is a pipe of one page (4 KiB) read a byte at a time up to that line:
    the command cannot run far ahead and finish before the signal, however slowly this
    process is scheduled on a busy machine (verify of 200 cases once did)."""
    import fcntl

    store.dispose_engines()
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
    proc = subprocess.Popen(
        [MELDCODE, *args],
        stdout=subprocess.PIPE if on_stderr else write,
        stderr=write if on_stderr else subprocess.PIPE,
        env={**os.environ, "MELDCODE_DATABASE_URL": url},
        start_new_session=True,
        # as a shell starts a command: Ctrl-C not ignored. An ignored signal is inherited across
        # exec, and Python then installs no KeyboardInterrupt for it; in the strict run this
        # test found verify ending with 0 after all 200 cases, never interrupted
        preexec_fn=_ctrl_c_as_from_a_shell,
    )
    os.close(write)
    first = b""
    while not first.endswith(b"\n"):
        byte = os.read(read, 1)
        if not byte:
            break
        first += byte
    assert first.decode().startswith(ready), first
    os.killpg(proc.pid, signal.SIGINT)
    with os.fdopen(read, "rb") as rest:
        watched = first + rest.read()
    other = (proc.stdout if on_stderr else proc.stderr).read()  # type: ignore[union-attr]
    proc.wait(timeout=120)
    (proc.stdout if on_stderr else proc.stderr).close()  # type: ignore[union-attr]
    out, err = (other, watched) if on_stderr else (watched, other)
    return proc.returncode, out.decode(), err.decode(), proc.pid


def _group_gone(group: int) -> bool:
    """True once no process of the group is left (verify's forked readers die with it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_verify_interrupted_says_one_word_exits_130_and_logs_what_it_read(sqlite_url, sqlite_people):
    _start_cases(sqlite_people["mw"], 200)
    code, out, err, group = _interrupted(["verify", "--all", "--jobs", "2"], sqlite_url, ready="casus ")
    assert code == INTERRUPTED, (out[-500:] + err, signal.getsignal(signal.SIGINT))
    assert err == "Afgebroken.\n", err
    shown = [int(line.split()[1].rstrip(":")) for line in out.splitlines() if line.startswith("casus ")]
    assert 0 < len(shown) < 200, "interrupted before the end"
    assert set(shown) <= _verified_cases()
    assert _group_gone(group)


def test_the_worker_stopped_with_ctrl_c_exits_130_quietly(sqlite_url, sqlite_people):
    code, _out, err, group = _interrupted(
        ["worker", "--interval", "0.5"], sqlite_url, ready="De planner draait", on_stderr=True
    )
    assert code == INTERRUPTED, err
    assert "De planner is gestopt." in err
    assert not any(word in err for word in ("Traceback", "Exception ignored")), err
    assert _group_gone(group)


def _loading(pid: int) -> bool:
    """Whether process `pid` is importing the command's modules: SQLAlchemy's compiled parts
    are mapped (the first of the heavy imports; webui.cli needs most of a second after it)."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return "/sqlalchemy/" in maps.read()
    except FileNotFoundError:  # ended already
        return True


@pytest.mark.parametrize("args", [("verify", "--all"), ("--help",)])
def test_ctrl_c_while_the_command_is_still_loading_says_one_word_exits_130(sqlite_url, args):
    """Ctrl-C in the first ~0.8 s, while Python still imported webui.cli, printed a
    KeyboardInterrupt traceback (exit 1) instead of what a running command says (task W point
    1). The signal goes to the process group once SQLAlchemy is being loaded: mid-import,
    however slowly this machine runs."""
    store.dispose_engines()
    proc = subprocess.Popen(
        [MELDCODE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "MELDCODE_DATABASE_URL": sqlite_url},
        start_new_session=True,
        preexec_fn=_ctrl_c_as_from_a_shell,
    )
    deadline = time.monotonic() + 30
    while not _loading(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err.decode()) == (INTERRUPTED, "Afgebroken.\n"), (out, err)
    assert out == b""


def _ours_running(pid: int) -> bool:
    """Whether process `pid` runs our code already: the first extension module from Python's
    lib-dynload is mapped. The interpreter's own start and the console script load none;
    the first comes with webui's first imports (math, _datetime), which meldcode_start makes
    after it set its handler. Before, webui/__init__.py was imported before the handler."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return "/lib-dynload/" in maps.read()
    except FileNotFoundError:  # ended already
        return True


def _start_and_interrupt(args, url: str, when) -> tuple[int, bytes, bytes]:
    proc = subprocess.Popen(
        [MELDCODE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "MELDCODE_DATABASE_URL": url},
        start_new_session=True,
        preexec_fn=_ctrl_c_as_from_a_shell,
    )
    when(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


@pytest.mark.parametrize("args", [("verify", "--all"), ("--help",)])
def test_ctrl_c_the_moment_our_code_runs_says_one_word_exits_130(sqlite_url, args):
    """Fresh tester F4: the console script was webui.cli_start, so the package webui (its
    __init__: typing, datetime, ~20-30 ms) was imported before the handler was set, and a
    Ctrl-C then printed a KeyboardInterrupt traceback. Here SIGINT goes as soon as the first
    module webui imports is mapped: the first sign, seen from outside, that our code runs."""
    store.dispose_engines()

    def first_sign(pid: int) -> None:
        deadline = time.monotonic() + 30
        while not _ours_running(pid) and time.monotonic() < deadline:
            pass  # no sleep: the moment is a few milliseconds wide

    code, out, err = _start_and_interrupt(args, sqlite_url, first_sign)
    assert (code, err.decode()) == (INTERRUPTED, "Afgebroken.\n"), (out, err)
    assert out == b""


def test_ctrl_c_in_the_first_milliseconds_never_shows_a_traceback_of_ours(sqlite_url):
    """SIGINT at fixed small delays after the start. Not covered, and not ours to cover: the
    interpreter's own start (site, the .pth files, the script's `from meldcode_start import
    main`), some 5-20 ms here, in which Python's default handler raises KeyboardInterrupt
    before any line of ours runs; a traceback from there names none of our modules. Before
    Python installs that handler the process just dies of the signal (-2, nothing printed).
    From our first line on: "Afgebroken.", exit 130."""
    store.dispose_engines()
    seen = set()
    for delay in (0.0, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.06, 0.1) * 2:
        code, out, err = _start_and_interrupt(("--help",), sqlite_url, lambda _pid, d=delay: time.sleep(d))
        text = err.decode()
        seen.add(code)
        if "Traceback" in text:  # only while the interpreter itself was starting
            assert "webui" not in text and "meldcode_start.py" not in text, text
        elif code == -signal.SIGINT:
            assert (out, text) == (b"", ""), text
        else:
            assert (code, text) == (INTERRUPTED, "Afgebroken.\n"), text
    assert INTERRUPTED in seen  # the later delays did reach our handler


# --- output that cannot be written at all (fresh tester of task U) ----------------------------


def _with_stdout(target, *args: str, url: str) -> subprocess.CompletedProcess:
    store.dispose_engines()
    return subprocess.run([MELDCODE, *args], stdout=target, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "MELDCODE_DATABASE_URL": url}, timeout=300)


FULL = "fout: de uitvoer kan niet worden geschreven: de schijf is vol"


@pytest.mark.parametrize("args", [("verify", "--all"), ("--help",), ("token", "--help")])
def test_output_to_a_full_disk_is_said_so_not_blamed_on_the_database(sqlite_url, sqlite_people, args):
    """`meldcode verify --all > /dev/full` said the database could not be reached (exit 2);
    `meldcode --help > /dev/full` ended in a traceback."""
    _start_cases(sqlite_people["mw"], 2)
    with open("/dev/full", "w") as full:
        result = _with_stdout(full, *args, url=sqlite_url)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == FULL


def test_help_to_a_reader_that_stopped_ends_as_a_command_does(sqlite_url):
    """The top level's --help is written before any command runs: click ended it with exit 1
    where every command gives the shell's 141."""
    result = _with_stdout_closed("--help", url=sqlite_url)
    assert result.returncode == READER_GONE
    assert result.stderr == ""


def test_a_command_started_without_standard_output_ends_without_a_traceback(sqlite_url, sqlite_people):
    """`meldcode cases >&-`: Python gives such a process no sys.stdout at all (None)."""
    _start_cases(sqlite_people["mw"], 1)
    store.dispose_engines()
    result = subprocess.run(["bash", "-c", f"{MELDCODE} cases >&-"], stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "MELDCODE_DATABASE_URL": sqlite_url},
                            timeout=300)
    assert not any(word in result.stderr for word in NOISE), result.stderr
