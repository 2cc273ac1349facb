"""The `meldcode` command (CONTRACT section 3)."""

from __future__ import annotations

import contextlib
import errno
import gc
import getpass
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from typing import NoReturn

import click
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

import meldcode_start as cli_start
from engine import (
    accounts,
    config,
    definitions,
    failures,
    models,
    passwords,
    schema,
    settings,
    store,
    tokens,
    users,
    versions,
)
from engine.errors import DomainError
from engine.messages import N_, Message
from engine.problems import joined, shown_text
from engine.roles import ROLES
from webui import cli_language

cli_language.speak_dutch()  # click's own texts in Dutch too, before any option is made

DEMO_PASSWORD = passwords.DEMO_PASSWORD  # documented; refused for any other account
# One demo user per role; the medewerker reports to the leidinggevende.
DEMO_USERS = [
    ("leidinggevende", ["leidinggevende"], None, "Lotte Leidinggevende"),
    ("medewerker", ["medewerker"], "leidinggevende", "Mila Medewerker"),
    ("aandachtsfunctionaris", ["aandachtsfunctionaris"], None, "Aziz Aandachtsfunctionaris"),
    ("auditor", ["auditor"], None, "Anna Auditor"),
    ("procesbeheerder", ["procesbeheerder"], None, "Peter Procesbeheerder"),
    ("beheerder", ["beheerder"], None, "Bart Beheerder"),
]


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"fout: {message}", err=True)
    sys.exit(code)


class _Number(click.ParamType):
    """A case, token or version number on the command line: a whole number from 1 to
    engine.commands.MAX_ID (no such row can exist outside that, and PostgreSQL refuses a
    larger number in a query), else one Dutch line, exit 2, as the API answers it with a 404."""

    name = "nummer"

    def __init__(self, what: str):
        self.what = what

    def convert(self, value, param, ctx):
        from engine.commands import MAX_ID

        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                fail(f"'{str(value)[:40]}' is geen {self.what}nummer")
        if not 0 < number <= MAX_ID:
            fail(f"{self.what} {str(number)[:40]} bestaat niet (een {self.what}nummer ligt "
                 f"tussen 1 en {MAX_ID})")
        return number


CASE_NUMBER, TOKEN_NUMBER, VERSION_NUMBER = _Number("casus"), _Number("token"), _Number("versie")

_OS_REASONS = {
    errno.ENOENT: "de map bestaat niet",
    errno.ENOTDIR: "een deel van het pad is geen map",
    errno.EACCES: "geen toestemming om daar te schrijven",
    errno.EPERM: "geen toestemming om daar te schrijven",
    errno.EROFS: "het bestandssysteem is alleen-lezen",
    errno.ENOSPC: "de schijf is vol",
    errno.EDQUOT: "het schijfquotum is op",
    errno.EISDIR: "dat is een map",
    errno.ENAMETOOLONG: "de naam is te lang",
}


def _os_reason(exc: OSError) -> str:
    """Why a file could not be written, in Dutch."""
    return _OS_REASONS.get(exc.errno or 0, "het bestand kan niet worden geschreven")


def output_path(path: str) -> str:
    """PATH of `-o PATH` (backup, checkpoint, export) when the command may write it, else one
    Dutch line, exit 2. The file is written under a temporary name and renamed over PATH, so
    PATH must be a regular file or not exist yet: a device, a folder, a FIFO or a socket would
    be replaced rather than written to, and a symbolic link too (the file it names would stay).
    Its folder must exist. Never the SQLite database file itself or one of its -wal, -shm,
    -journal and -writelock files (a backup over the live database)."""
    import stat

    if not path:
        fail("geef een bestandsnaam op bij -o")
    if os.path.islink(path):
        fail(f"{path} is een symbolische koppeling; geef de naam van een gewoon bestand op")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        fail(f"{path}: {_os_reason(exc)}")
    if mode is not None and not stat.S_ISREG(mode):
        fail(f"{path} is geen gewoon bestand (maar een map, apparaat, FIFO of socket); geef de "
             "naam van een gewoon bestand op")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        fail(f"{path}: de map {folder} bestaat niet")
    live = _sqlite_file()
    if live:
        target = os.path.realpath(path)
        for suffix in ("", "-wal", "-shm", "-journal", "-writelock"):
            if target == os.path.realpath(live + suffix) or (
                    mode is not None and os.path.exists(live + suffix)
                    and os.path.samefile(path, live + suffix)):
                fail(f"{path} is de database zelf (of een bestand ervan); kies een ander "
                     "bestand")
    return path


def _sqlite_file() -> str | None:
    """The file of the configured SQLite database, or None (another database, or in memory)."""
    from sqlalchemy.engine import make_url

    url = make_url(store.settings.database_url())
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return url.database


def _dutch_number(number: int) -> str:
    """A whole number as Dutch writes it (the CLI speaks Dutch): 4096 -> '4.096'."""
    from babel.numbers import format_decimal

    return format_decimal(number, locale="nl_NL")


@contextlib.contextmanager
def _database():
    """Domain errors and a database that is not ready (no schema, locked, unreachable: the
    kind in Dutch, engine.failures) as one clear line, exit 2."""
    try:
        yield
    except DomainError as exc:
        fail(exc.message)
    except DBAPIError as exc:
        fail(str(failures.kind_of(exc)))
    except BrokenPipeError:  # the reader of our output stopped: no database error (_stops_quietly)
        raise
    except OSError as exc:  # SQLite's folder or the write lock beside it (engine.store)
        if _of_output(exc):  # standard output full or gone: said so by _stops_quietly
            raise
        fail(f"de database is niet te bereiken of te openen: {failures.kind_of(exc)}")


# errno of a write to standard output or error that cannot go on (a full disk behind
# `> file`, /dev/full, a closed or broken descriptor); the database's own files name a path
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EBADF, errno.EFBIG, errno.EDQUOT})


def _of_output(exc: OSError) -> bool:
    """Whether `exc` is a failed write of the command's own output: no file name (a database
    folder, lock or file the command writes names its path) and an errno of _OUTPUT_ERRNOS."""
    return exc.filename is None and exc.errno in _OUTPUT_ERRNOS


# Exit statuses of a command that did not end by itself, as the shell gives them to a process
# killed by the signal (128 + its number): scripts and `set -o pipefail` read them so.
INTERRUPTED = cli_start.INTERRUPTED  # SIGINT: Ctrl-C, as while this module is imported
READER_GONE = 128 + 13  # SIGPIPE: the reader of standard output or error stopped (| head)
# ctx.meta key: what a command says on stderr once its work is done and recorded, should the
# reader stop before its report is read (then it exits 0: nothing was left undone)
_DONE_NOTE = "meldcode.done_note"


def done_if_reader_stops(note: str) -> None:
    """Mark the running command's work as done and recorded: a reader that stops during the
    rest of its report gets exit 0 and `note` on stderr instead of exit READER_GONE (restore:
    tests/webui/test_restore_interrupted.py). In: a Dutch line naming where it is recorded."""
    click.get_current_context().meta[_DONE_NOTE] = note


@contextlib.contextmanager
def _stops_quietly(ctx: click.Context | None):
    """Every command ends quietly when its reader stops or Ctrl-C comes: no traceback, no
    misleading database error (BrokenPipeError is an OSError), no "Exception ignored" line
    at exit (task U points 1 and 2). What the command already did stays done: each command
    records its work in transactions that roll back when interrupted midway (engine.store
    unit_of_work), and verify logs the cases it read in a `finally`. The reader gone:
    exit READER_GONE without a word (the shell's convention for SIGPIPE), or 0 with the
    command's note (done_if_reader_stops). Output that cannot be written (a full disk behind
    `> file`, _of_output): one Dutch line on stderr, exit 1, never blamed on the database.
    Ctrl-C: forked helpers stopped, one line "Afgebroken." (as click says it in Dutch), exit
    INTERRUPTED. `ctx` None: the top level reading its arguments (no command's note yet)."""
    previous = sys.unraisablehook
    sys.unraisablehook = lambda hook: _interrupt_again(hook, previous)
    try:
        try:
            yield
        finally:  # what is still buffered goes now, so a closed pipe is met here, not at exit
            sys.unraisablehook = previous
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # None: started with the descriptor closed (>&-)
                    stream.flush()
    except BrokenPipeError:
        _detach_closed_streams()
        note = None if ctx is None else ctx.meta.get(_DONE_NOTE)
        if note is None:
            sys.exit(READER_GONE)
        _say(note)
        sys.exit(0)
    except OSError as exc:
        if not _of_output(exc):
            raise
        _detach_closed_streams()
        _say(f"fout: de uitvoer kan niet worden geschreven: {failures.kind_of(exc)}")
        sys.exit(1)
    except KeyboardInterrupt:
        import multiprocessing

        for child in multiprocessing.active_children():  # verify's readers, at once
            child.terminate()
        _say(cli_start.INTERRUPTED_WORD)  # click's own word for it (its "Aborted!" in Dutch)
        sys.exit(INTERRUPTED)


def _while_interrupted(exc: BaseException) -> bool:
    """Whether `exc` was raised while a KeyboardInterrupt was being handled (in its chain)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _detach_closed_streams() -> None:
    """Standard output and error that can no longer be written (the reader stopped) point to
    /dev/null from now on, so Python's flush at exit finds no closed pipe to complain about."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except OSError:
            with contextlib.suppress(OSError, ValueError):  # ValueError: no file descriptor
                os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def _say(line: str) -> None:
    """`line` on stderr if anyone still reads it."""
    try:
        click.echo(line, err=True)
    except OSError:
        _detach_closed_streams()


def _interrupt_again(hook, previous) -> None:
    """sys.unraisablehook: a Ctrl-C that landed in a finalizer (a weak-reference callback of
    SQLAlchemy, say) cannot be raised there; Python printed "Exception ignored ...
    KeyboardInterrupt" and went on as if nothing came. Here it is delivered once more, from a
    helper thread, so that it lands where the command can stop; every other unraisable
    exception goes to the `previous` hook, as before."""
    import signal
    import threading

    if isinstance(getattr(hook, "exc_value", None), KeyboardInterrupt):
        with contextlib.suppress(RuntimeError):  # no threads while Python shuts down
            threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT),
                             daemon=True).start()
        return
    previous(hook)


class _Commands(cli_language.DutchGroup):
    """The command group; a configuration variable that does not fit its type (engine.config)
    is one Dutch line naming it, exit 2, whichever command read it (options' defaults too).
    A command whose reader stops, or that is interrupted, ends quietly (_stops_quietly).
    Its commands and groups have Dutch placeholders in usage and help (cli_language)."""

    def make_context(self, info_name, args, parent=None, **extra):
        # the top level's --help and usage are written while the arguments are read, before
        # invoke: a reader that stops or a full disk there ends as in a command
        with _stops_quietly(None):
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context):
        with _stops_quietly(ctx):
            return self._invoke_command(ctx)

    def _invoke_command(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except config.ConfigError as exc:
            fail(str(exc.message))
        except (DBAPIError, sqlite3.Error) as exc:
            # a database error no _database() around it said: engine.store begins SQLite's
            # transactions on the driver's own connection, so a database another program
            # holds came as sqlite3's error, unwrapped, a traceback (fresh tester F1).
            # One met while a Ctrl-C unwinds the command is that Ctrl-C (_stops_quietly).
            if _while_interrupted(exc):
                raise KeyboardInterrupt from exc
            fail(str(failures.kind_of(exc if isinstance(exc, DBAPIError)
                                      else DBAPIError(None, None, exc))))
        except settings.KeyRefused as exc:
            # an empty or short key, read by whichever command first needed it (README
            # "Sleutels": exit 2 naming the key, never a traceback)
            fail(str(exc.message))


@click.group(cls=_Commands, help="Meldcode huiselijk geweld en kindermishandeling: beheer en server.")
def main():
    pass


@main.command(help="Maak of upgrade het databaseschema en publiceer het meegeleverde proces "
                   "als er nog geen is. --demo voegt per rol een demogebruiker toe "
                   f"(wachtwoord '{DEMO_PASSWORD}').")
@click.option("--demo", is_flag=True, help="Voeg demogebruikers toe (één per rol).")
def init(demo: bool):
    with _database():  # keys first: refused (exit 2) or made whole before anything is written
        settings.ensure_keys()
        schema.upgrade()
    with _database(), store.unit_of_work(write=True) as session:
        row = versions.ensure_deployed(session)
        if row is not None:
            click.echo(f"Proces gepubliceerd als versie {row.version}.")
        if demo:
            from sqlalchemy import select

            for name, roles, manager, display in DEMO_USERS:
                if session.scalar(select(models.User).where(models.User.name == name)) is None:
                    users.create_user(session, name, roles, DEMO_PASSWORD, manager, display,
                                      by="meldcode init --demo", demo=True)
                    click.echo(f"Demogebruiker {name} ({', '.join(roles)}) aangemaakt.")
    click.echo(f"Database klaar: {_safe_url()}")
    _refuse_log_behind_head()


def _log_behind_head() -> str | None:
    """In Dutch, when the log is shorter than this machine's sequencer recorded for the
    database (nothing new gets a place in the log until that is resolved); else None."""
    from engine import translog

    behind = translog.behind_recorded_head()
    if behind is None:
        return None
    size, recorded, path = behind
    return (f"het logboek van deze database heeft {size} regels, maar de sequencer van deze "
            f"machine legde er {recorded} vast ({path}). Is de database bewust opnieuw "
            "aangemaakt, verwijder dan dat bestand. Anders zijn er regels weggehaald: zoek het "
            "uit met 'meldcode verify --all'. Tot dan krijgt niets nieuws een plaats in het "
            "logboek.")


def _refuse_log_behind_head() -> None:
    problem = _log_behind_head()
    if problem:
        fail(problem, 1)


def _safe_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(store.settings.database_url()).render_as_string(hide_password=True)


def _bind_reason(exc: OSError) -> str:
    """Why an address cannot be listened on, in Dutch (completing "dat adres ...")."""
    import errno

    reasons = {errno.EADDRINUSE: "is al in gebruik door een ander programma",
               errno.EACCES: "vraagt rechten die dit proces niet heeft",
               errno.EADDRNOTAVAIL: "is geen adres van deze machine"}
    return reasons.get(exc.errno or 0, "is niet bruikbaar")


def _refuse_taken_address(host: str, port: int, what: str = "de server") -> None:
    """One Dutch line and exit 2 when `what` cannot listen on host:port (in use by another
    program, a port below 1024 without the right, an address not of this machine), before
    gunicorn (or prometheus-client) would say it in English and retry for a while."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        fail(f"het adres {host} is onbekend")
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            fail(f"{what} kan niet luisteren op {host}:{port}: dat adres {_bind_reason(exc)}")


def default_workers() -> int:
    """gunicorn's advice: two per core plus one (a worker waits on the database now and then)."""
    return 2 * (os.cpu_count() or 1) + 1


@main.command(help="Start de webinterface en de API met een productie-WSGI-server (gunicorn).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              metavar="POORT")
@click.option("--workers", default=lambda: config.current().workers or default_workers(),
              show_default="2 × processorkernen + 1", type=click.IntRange(1, 64),
              help="Aantal werkprocessen (ook: MELDCODE_WORKERS).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Prometheus-metrieken op 127.0.0.1:POORT (alleen lokaal bereikbaar).")
@click.option("--no-worker", is_flag=True,
              help="Start geen planner (timers en periodiek werk) naast de server; draai dan "
                   "ergens 'meldcode worker'.")
def serve(host: str, port: int, workers: int, metrics_port: int | None, no_worker: bool = False):
    """Sync workers answer one request at a time with `Connection: close`; put a reverse
    proxy (nginx) in front when the server faces slow or many clients (README)."""
    from gunicorn.app.base import BaseApplication

    from webui.gunicorn_worker import DutchSyncWorker

    if metrics_port:
        _metrics_dir()  # before prometheus_client is imported, here and in the workers
    from webui import observability

    # Keys exist, complete, before any worker starts: the workers only read them.
    with _database():
        settings.ensure_keys()
    try:
        observability.trusted_proxies()
    except ValueError as exc:
        fail(str(exc))
    observability.configure_logging()
    schema.upgrade()
    with store.unit_of_work(write=True) as session:
        versions.ensure_deployed(session)
    problem = _log_behind_head()
    if problem:  # staff can still work; the operator must look into the log
        click.echo(f"waarschuwing: {problem}", err=True)
    _refuse_taken_address(host, port)
    if metrics_port:  # before the planner starts: a refusal then leaves nothing running
        if metrics_port == port:
            fail("--metrics-port moet een andere poort zijn dan --port")
        _refuse_taken_address("127.0.0.1", metrics_port, "de metriekenserver")
    store.dispose_engines()  # no connection may cross the fork into the workers
    if not no_worker:
        _start_planner()

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            # One request per process at a time, a new process takes the next connection: the
            # kernel hands each request to an idle worker. With threaded workers and keep-alive,
            # a client stays with the worker it first reached, and a worker holding three of
            # four busy clients was bound to one core while the other sat idle.
            # gunicorn's sync worker, answering a request it cannot read (a line or headers
            # over the limits below, a bad request line) in Dutch with the contract's status
            self.cfg.set("worker_class", DutchSyncWorker)
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", config.current().access_log or None)
            self.cfg.set("limit_request_line", 8190)
            # gunicorn's management socket sits in $HOME, shared by every server started there
            # (a second one took it over from the first); Meldcode does not use it.
            self.cfg.set("control_socket_disable", True)
            self.cfg.set("logger_class", observability.gunicorn_logger_class())
            self.cfg.set("child_exit", observability.worker_exited)
            if not no_worker:  # one planner per server, beside the web workers
                self.cfg.set("on_exit", _stop_planner)

        def load(self):  # in each worker, after the fork
            from engine import translog
            from webui import create_app

            app = create_app()
            translog.start_sequencer()
            # What the worker has made so far (modules, the app, parsed diagrams) lives as
            # long as the worker: moved out of the cyclic collector's generations, it is no
            # longer walked again in the collections that every request's garbage sets off
            # (issue 13 point 7; the gc documentation's advice for forked servers).
            gc.freeze()
            return app

    if metrics_port:
        try:
            observability.serve_metrics(metrics_port)
        except OSError as exc:
            fail(f"de metriekenserver kan niet luisteren op 127.0.0.1:{metrics_port}: dat "
                 f"adres {_bind_reason(exc)}")
    click.echo(f"Meldcode draait op http://{host}:{port}/")
    if metrics_port:
        click.echo(f"Metrieken op http://127.0.0.1:{metrics_port}/metrics")
    Server().run()


# --- the planner (engine/scheduler.py): `meldcode worker`, and one beside each server ---------

_planner: list[int] = []  # the process id of serve's planner


def _start_planner() -> None:
    """serve's planner: a process forked from serve before gunicorn starts (as gunicorn forks
    its workers: no connection open, the engine already imported, so it is ready at once),
    one per server whatever --workers says. It runs the worker loop until the server stops
    it (on_exit) or is gone. Several servers on one database are safe: engine/scheduler.py
    fires each timer once."""
    from engine import scheduler  # noqa: F401 - imported once, before the fork

    server = os.getpid()
    pid = os.fork()
    if pid == 0:  # the planner
        code = 1
        try:
            from engine.background import die_with_parent

            die_with_parent(server)  # SIGTERM when serve is killed: ends its round, then stops
            store.forget_engines_after_fork()
            _run_planner(scheduler_poll(), server)
            code = 0
        finally:
            os._exit(code)
    _planner.append(pid)


def scheduler_poll() -> float:
    from engine import scheduler

    return scheduler.POLL_SECONDS


def _stop_planner(_arbiter=None) -> None:
    """gunicorn's on_exit hook: stop the planner (SIGTERM: it ends its round) and wait for it
    at most 10 seconds."""
    import signal
    import time

    for pid in _planner:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:  # gone, and reaped by gunicorn's arbiter
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _run_planner(interval: float, server_pid: int | None) -> int | None:
    """The worker loop (engine/scheduler.run_worker) until SIGTERM or SIGINT, or, for serve's
    planner (`server_pid`), until that process is no longer its parent. Out: the signal that
    stopped it, or None."""
    import signal
    import threading

    from engine import scheduler, translog

    stop = threading.Event()
    stopped_by: list[int] = []

    def ask_to_stop(signum, _frame) -> None:
        stopped_by.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)
    if server_pid:

        def watch() -> None:
            while not stop.wait(1.0):
                if os.getppid() != server_pid:
                    stop.set()

        threading.Thread(target=watch, name="meldcode-planner-watch", daemon=True).start()
    translog.start_sequencer()
    click.echo("De planner draait; stoppen met Ctrl-C.", err=True)
    scheduler.run_worker(stop, poll=interval)
    click.echo("De planner is gestopt.", err=True)
    return stopped_by[0] if stopped_by else None


@main.command(help="Draai de planner: tijdgebeurtenissen (timers) in casussen gaan binnen "
                   "enkele seconden na hun tijd af, elk precies één keer, ook als meer planners "
                   "of servers dezelfde database gebruiken; daarna het periodieke werk (zoals "
                   "e-mail). Loopt tot SIGTERM of Ctrl-C. 'meldcode serve' start er zelf een, "
                   "tenzij --no-worker.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.1, 5.0),
              help="Seconden tussen twee rondes.")
def worker(interval: float):
    import signal

    from webui import observability

    with _database():  # the keys it will sign with, refused (exit 2) before the first round
        settings.ensure_keys()
    with _database(), store.unit_of_work() as session:
        session.execute(select(models.Timer.task_id).limit(1))
    observability.configure_logging()
    if _run_planner(interval, None) == signal.SIGINT:  # Ctrl-C: the shell's status for it
        sys.exit(INTERRUPTED)


def _metrics_dir() -> None:
    """PROMETHEUS_MULTIPROC_DIR for the workers' metric files: the operator's (emptied of an
    earlier run's counts), else a fresh temporary folder removed when the server stops."""
    import atexit
    import glob
    import shutil
    import tempfile

    configured = config.current().prometheus_multiproc_dir
    path = str(configured) if configured else None
    if path:
        os.makedirs(path, exist_ok=True)
        for old in glob.glob(os.path.join(path, "*.db")):
            os.unlink(old)
    else:
        path = tempfile.mkdtemp(prefix="meldcode-metrics-")
        atexit.register(shutil.rmtree, path, True)
    # prometheus-client reads the folder from the environment in every worker.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


@main.command(help="Maak een reservekopie van de database in BESTAND: van SQLite een "
                   "consistente kopie (online, de server mag blijven draaien), van PostgreSQL "
                   "een pg_dump in het custom-formaat (terugzetten met pg_restore). Zie README, "
                   "'Beheer en bediening'.")
@click.option("-o", "output", required=True, type=click.Path(),
              help="Het bestand van de reservekopie.")
def backup(output):
    from sqlalchemy.engine import make_url

    url = make_url(store.settings.database_url())
    output_path(output)
    tmp = _temporary(output)  # a new empty file of ours: never a leftover sqlite3 would open
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(url.database or "", tmp)
        elif url.get_backend_name() == "postgresql":
            _pg_dump(url, tmp)
        else:
            fail(f"geen reservekopie mogelijk van een {url.get_backend_name()}-database")
        os.replace(tmp, output)  # never a half backup under the given name
    except OSError as exc:
        fail(f"{output}: {_os_reason(exc)}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    click.echo(f"Reservekopie van {_safe_url()} geschreven naar {output} "
               f"({_dutch_number(os.path.getsize(output))} bytes).")


def _temporary(output: str) -> str:
    """A new, empty temporary file beside `output` (created exclusively: never an existing
    file or link), to be renamed over it once complete; exit 2 when the folder refuses it."""
    import tempfile

    try:
        handle, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(output)}.",
                                       suffix=".tmp", dir=os.path.dirname(os.path.abspath(output)))
    except OSError as exc:
        fail(f"{output}: {_os_reason(exc)}")
    os.close(handle)
    return tmp


def _write_whole(output: str, content: bytes) -> None:
    """Write `content` to `output` through a temporary file beside it, renamed over it once
    complete, so a crash or a full disk never leaves half a file under the given name; exit 2
    with the reason when the folder or disk refuses."""
    tmp = _temporary(output)
    try:
        with open(tmp, "wb") as fh:
            fh.write(content)
        os.replace(tmp, output)
    except OSError as exc:
        fail(f"{output}: {_os_reason(exc)}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _exported_to(output: str, export):
    """Run `export(deliver)` (documents.export with its deliver), `deliver` writing the file
    whole (_write_whole) or to standard output for `-`; returns what export returns. NEN 7513:
    the access log says 'export ok' only for a file that was written: the engine logs it
    after deliver returned, and a Ctrl-C from the file's rename until that line is committed
    waits for it (then 'Afgebroken.', exit 130, with file and line kept), so the two never part. A line that
    cannot be written takes the file away again: no export without its line."""
    interrupted: list[int] = []
    written: list[str] = []
    previous = signal.getsignal(signal.SIGINT)

    def deliver(content: bytes) -> None:
        signal.signal(signal.SIGINT, lambda *_: interrupted.append(1))
        if output == "-":  # as `document -o -`; bytes sent cannot be taken back, no file to
            sys.stdout.buffer.write(content)  # remove: a reader gone raises here, unlogged
            sys.stdout.buffer.flush()
            return
        _write_whole(output, content)  # SystemExit (exit 2) when it cannot be written
        written.append(output)

    try:
        result = export(deliver)
    except BaseException:
        for path in written:  # written, but its line was not: no export without its line
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:  # came while file and line were made: both are there
        raise KeyboardInterrupt
    return result


def _sqlite_backup(database: str, target: str) -> None:
    """SQLite's online backup API: one consistent snapshot, while writers go on (WAL)."""
    import sqlite3

    if not database or database == ":memory:" or not os.path.exists(database):
        fail(f"de SQLite-database {database or '(geen)'} bestaat niet")
    source = sqlite3.connect(database, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        # One self-contained file: no -wal or -shm beside the copy.
        copy.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        fail(f"reservekopie mislukt: {exc}")
    finally:
        copy.close()
        source.close()
    with open(target, "rb") as fh:
        os.fsync(fh.fileno())


PG_DUMP_FALLBACK = "/usr/lib/postgresql/15/bin/pg_dump"


def _pg_dump(url, target: str) -> None:
    """pg_dump in the custom format; the password goes through the environment, never on the
    command line (where every user of the machine can read it)."""
    import shutil
    import subprocess

    program = config.current().pg_dump or shutil.which("pg_dump") or PG_DUMP_FALLBACK
    if not os.path.exists(program):
        fail("pg_dump niet gevonden; installeer de PostgreSQL-clientprogramma's of zet "
             "MELDCODE_PG_DUMP op het pad ernaartoe")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    result = subprocess.run([program, "--format=custom", "--no-owner", "--file", target,
                             "--dbname", dsn], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"pg_dump mislukt: {result.stderr.strip()[:500]}")


@main.command(help="Zet een reservekopie van 'meldcode backup' terug: BESTAND vervangt de "
                   "database. Stop eerst de server (en 'meldcode worker'): terugzetten wordt "
                   "geweigerd zolang iets anders de database open heeft. De kopie wordt eerst "
                   "apart gecontroleerd zoals 'meldcode verify --all' dat doet (een database "
                   "van Meldcode, met de geschiedenissleutel van deze installatie); anders "
                   "verandert er niets (exit 2). Daarna past de vastgelegde kop van het logboek "
                   "bij de teruggezette database, gaan controlepunten die zij niet bevat naar een submap van "
                   "MELDCODE_CHECKPOINT_DIR, en staat het terugzetten in het beheerlog "
                   "(database_restored). Zie README, 'Beheer en bediening'.")
@click.argument("file", type=click.Path(dir_okay=False))
def restore(file):
    from sqlalchemy.engine import make_url

    from engine import restore as restoring
    from engine import restore_steps, restore_traces

    url = make_url(store.settings.database_url())
    with _database():
        settings.ensure_keys()  # the history key the copy's log is checked with
    if not os.path.isfile(file):
        fail(f"{file} bestaat niet of is geen gewoon bestand")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        fail(f"terugzetten kan niet in een {url.get_backend_name()}-database")
    live = url.render_as_string(hide_password=False)
    try:
        held = restore_traces.lock(live)
    except restoring.RestoreRefused as exc:
        fail(f"niet teruggezet: {exc}")
    with held, _database():  # one restore at a time: no scratch copy removed under another
        for name in restore_traces.remove_leftovers(live):
            click.echo(f"opgeruimd: {name}, een tijdelijke kopie van een afgebroken terugzetting")
        earlier, problem = restore_steps.pending(live)
        if earlier is not None:
            click.echo(f"Een eerdere terugzetting uit {earlier['file']} (begonnen op "
                       f"{earlier['started_at']} door {earlier['by']}) is niet afgemaakt; deze "
                       "terugzetting doet haar over, en het beheerlog noemt de afgebroken poging.")
        elif problem is not None:
            click.echo(f"Een eerdere terugzetting is niet afgemaakt ({problem}); deze "
                       "terugzetting doet haar over, en het beheerlog noemt de afgebroken poging.")
        if url.get_backend_name() == "sqlite":
            intent = _restore_sqlite(url, file)
        else:
            intent = _restore_pg(url, file)
        _after_restore(file, live, intent)


def _begin_restore(live: str, file: str, before: tuple) -> dict:
    """The intent record, on disk before the database is touched (engine/restore_steps.py);
    exit 2, nothing changed, when it cannot be written."""
    from engine import restore_steps

    try:
        return restore_steps.begin(live, os.path.basename(file), getpass.getuser(), *before)
    except OSError as exc:
        fail(f"niet teruggezet (er is niets veranderd): het bestand van de terugzetting is niet "
             f"te schrijven: {_os_reason(exc)}")


def _after_restore(file: str, live: str, intent: dict) -> None:
    """The head reset, checkpoints set aside, the admin-log line (engine/restore_steps.py)."""
    from engine import checkpoints, restore_steps

    with _database():
        try:
            done = restore_steps.finish(live, intent)
        except checkpoints.CheckpointError as exc:
            fail(f"teruggezet, maar geen nieuw controlepunt geschreven: {exc}", 1)
    done_if_reader_stops("Teruggezet; de standaarduitvoer werd gesloten voordat het verslag "
                         "geschreven was. Het terugzetten staat in het beheerlog "
                         "(database_restored).")
    _report_restore(file, done)


def _report_restore(file: str, done: dict) -> None:
    """What the restore did, on standard output."""
    click.echo(f"Teruggezet uit {file} in {_safe_url()}: het logboek heeft nu "
               f"{done['tree_size_after']} regels (was {done['tree_size_before']}).")
    recorded = done["recorded_head_before"]
    if done["entries_dropped"]:  # counted from the largest head known; a head record may lack
        click.echo(f"{done['entries_dropped']} regel(s) van het logboek waren nieuwer dan de "
                   f"reservekopie en zijn weg (het logboek telde ervoor ten hoogste "
                   f"{done['largest_head_known']} regels).")
    if recorded:
        click.echo(f"De vastgelegde kop stond op {recorded['tree_size']} regels, wortel "
                   f"{recorded['root']}.")
    else:
        click.echo("Er was geen vastgelegde kop van het logboek.")
    for moved in done["checkpoints_set_aside"]:
        click.echo(f"controlepunt {moved['file']} ({moved['tree_size']} regels) past niet bij "
                   f"de teruggezette database: verplaatst naar {done['checkpoints_folder']}")
    if done["checkpoint"]:
        click.echo(f"nieuw controlepunt: {done['checkpoint']}")
    click.echo("Het terugzetten staat in het beheerlog (database_restored). Controleer met "
               "'meldcode verify --all'.")


def _restore_sqlite(url, file: str) -> dict:
    """Check a copy of FILE beside the database, then rename it over the database while no
    one else has it open, the intent recorded first. Out: the intent."""
    import shutil
    from pathlib import Path

    from engine import restore as restoring
    from engine import restore_steps

    live = url.database or ""
    if not live or live == ":memory:":
        fail("er is geen SQLite-databasebestand om terug te zetten")
    # the file itself: a link is not replaced by the copy (its target would keep the old
    # database), and a scratch copy lies beside the file, where the next restore looks
    live = os.path.realpath(live)
    if os.path.exists(live) and os.path.samefile(file, live):
        fail(f"{file} is de database zelf; geef een reservekopie op")
    if not os.path.isdir(os.path.dirname(os.path.abspath(live))):
        fail(f"de map van de database {live} bestaat niet")
    try:
        restoring.check_sqlite_backup(Path(file))
    except restoring.RestoreRefused as exc:
        fail(f"niet teruggezet: {exc}")
    tmp = _temporary(live)  # beside the database: the rename over it is atomic
    try:
        try:
            shutil.copyfile(file, tmp)
        except OSError as exc:
            fail(f"{live}: {_os_reason(exc)}")
        try:  # the copy read once is what counts (the file may have changed since)
            restoring.check_sqlite_backup(Path(tmp), name=file)
        except restoring.RestoreRefused as exc:
            fail(f"niet teruggezet: {exc}")
        with _database():
            try:
                restoring.check_copy(f"sqlite:///{tmp}", os.cpu_count() or 1)
            except restoring.RestoreRefused as exc:
                fail(f"niet teruggezet: {exc}")
            store.dispose_engines()
            restoring.sqlite_in_use(tmp)  # its -wal written back: one file to rename
            live_url = str(url.render_as_string(hide_password=False))
            before = restoring.log_size(live_url), restoring.recorded_head(live_url)
            store.dispose_engines()
            with store.write_queue(store.get_engine(live_url)):
                if restoring.sqlite_in_use(live):
                    fail("niet teruggezet: de database is in gebruik (draait de server of "
                         "'meldcode worker' nog?); stop die eerst")
                intent = _begin_restore(live_url, file, before)
                try:
                    os.replace(tmp, live)
                except OSError as exc:
                    restore_steps.abandon(live_url, intent)  # not renamed: nothing changed
                    fail(f"niet teruggezet (er is niets veranderd): {_os_reason(exc)}")
                _sync_folder(live)
            return intent
    finally:
        for suffix in ("", "-wal", "-shm", "-journal", "-writelock"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp + suffix)


def _sync_folder(path: str) -> None:
    """fsync the folder of `path`, so a rename in it survives a crash."""
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pg_program(name: str) -> str:
    """A PostgreSQL client program: beside MELDCODE_PG_DUMP when that is set, else on the
    search path, else in PostgreSQL 15's folder; exit 2 when it is not there."""
    import shutil

    dump = config.current().pg_dump
    program = (os.path.join(os.path.dirname(dump), name) if dump else None) \
        or shutil.which(name) or os.path.join(os.path.dirname(PG_DUMP_FALLBACK), name)
    if not os.path.exists(program):
        fail(f"{name} niet gevonden; installeer de PostgreSQL-clientprogramma's of zet "
             f"MELDCODE_PG_DUMP op het pad naar pg_dump (met {name} in dezelfde map)")
    return program


def _pg_run(args: list[str], url) -> subprocess.CompletedProcess:
    """A PostgreSQL client program on the database of `url`; the password through the
    environment, never on the command line."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return subprocess.run([*args, "--dbname", dsn], env=env, capture_output=True, text=True)


def _restore_pg(url, file: str) -> dict:
    """Read the dump of 'meldcode backup' once, as data only (engine/restore_dump.py: no
    statement of it is run), into a scratch database the migrations built at its schema
    revision, and check it there; then, with no other session on the database and the intent
    recorded, replace the database's tables the same way in one transaction. Out: the
    intent."""
    import shutil
    import tempfile

    from sqlalchemy.engine import make_url

    from engine import restore as restoring
    from engine import restore_dump, restore_steps

    program = _pg_program("pg_restore")
    with tempfile.TemporaryDirectory(prefix="meldcode-terugzetten-") as folder:
        own = os.path.join(folder, "reservekopie.dump")  # read once: what is checked is put back
        try:
            with open(file, "rb") as source, open(own, "wb") as copy:
                shutil.copyfileobj(source, copy)
        except OSError as exc:
            fail(f"niet teruggezet: {file}: {_os_reason(exc)}")
        script = subprocess.run([program, "--file", "-", own], capture_output=True, text=True)
    if script.returncode != 0:
        fail(f"niet teruggezet: {file} is geen reservekopie van Meldcode (geen archief van "
             "pg_dump in het custom-formaat)")
    try:
        dump = restore_dump.parse(script.stdout)
        revision = dump.revision()
        restoring.check_product(file, set(dump.rows), {revision} if revision else set())
    except restoring.RestoreRefused as exc:
        fail(f"niet teruggezet: {exc}")
    assert revision is not None
    live = url.render_as_string(hide_password=False)
    scratch = restoring.scratch_url(live, f"{restoring.SCRATCH}{os.getpid()}")
    with _database():
        try:
            restoring.create_scratch(live, scratch)
        except restoring.RestoreRefused as exc:
            fail(f"niet teruggezet: {exc}")
        try:
            with store.get_engine(scratch).begin() as conn:
                restore_dump.create_schema(conn, revision)
            reference = _pg_run([_pg_program("pg_dump"), "--schema-only", "--no-owner"], make_url(scratch))
            try:
                restore_dump.compare(dump, restore_dump.parse(reference.stdout))
                with store.get_engine(scratch).begin() as conn:
                    restore_dump.load(conn, dump)
                restoring.check_pg_scratch(scratch, file)
                restoring.check_copy(scratch, os.cpu_count() or 1)
            except restoring.RestoreRefused as exc:
                fail(f"niet teruggezet: {exc}")
            except DBAPIError as exc:
                fail(f"niet teruggezet: de rijen van {file} passen niet in het schema: "
                     f"{str(exc.orig).strip()[:300]}")
        finally:
            restoring.drop_scratch(live, scratch)
        if restoring.pg_other_connections(live):
            fail("niet teruggezet: de database is in gebruik (draait de server of 'meldcode "
                 "worker' nog, of een andere sessie?); stop die eerst")
        before = restoring.log_size(live), restoring.recorded_head(live)
        store.dispose_engines()
        intent = _begin_restore(live, file, before)
        try:
            with store.get_engine(live).begin() as conn:  # one transaction: all or nothing
                restore_dump.drop_all(conn)
                restore_dump.create_schema(conn, revision)
                restore_dump.load(conn, dump)
        except DBAPIError as exc:
            restore_steps.abandon(live, intent)  # rolled back: nothing changed
            fail(f"niet teruggezet (er is niets veranderd): {str(exc.orig).strip()[:500]}")
        schema.upgrade(live)
    return intent


@main.group(help="Gebruikers beheren.")
def user():
    pass


@user.command("add", help="Voeg een gebruiker toe; het wachtwoord komt van stdin (minstens "
                          "12 tekens, geen veelgebruikt wachtwoord).")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="Rol (meerdere keren mogelijk).")
@click.option("--manager", help="De leidinggevende van deze gebruiker.")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Lees het wachtwoord van stdin (verplicht).")
@click.option("--display-name", default="", help="Volledige naam.")
@click.option("--email", default=None, metavar="ADRES",
              help="E-mailadres voor berichten over taken (alleen met MELDCODE_SMTP_URL).")
@click.option("--beroepsgroep", default=None, metavar="GROEP",
              help="Het afwegingskader dat deze gebruiker volgt: knmg (artsen), vvn "
                   "(verpleegkundigen en verzorgenden) of gezamenlijk (pedagogen, psychologen "
                   "en sociaal werkers). Standaard: dat van de organisatie.")
def user_add(name, roles, manager, password_stdin, display_name, email, beroepsgroep):
    password = sys.stdin.readline().rstrip("\r\n")
    with _database():
        accounts.add_user(getpass.getuser(), name, list(roles), password, manager, display_name,
                          email=email, beroepsgroep=beroepsgroep)
    click.echo(f"Gebruiker {name} aangemaakt.")


@user.command("beroepsgroep", help="Geef een gebruiker een andere beroepsgroep: knmg, vvn, "
                                   "gezamenlijk, of organisatie (weer die van de organisatie). "
                                   "Casussen die al liepen houden hun beroepsgroep.")
@click.argument("name")
@click.argument("groep")
def user_beroepsgroep(name, groep):
    if not groep.strip():  # an empty shell variable must not quietly reset a doctor's forms
        fail("geef een beroepsgroep: knmg, vvn, gezamenlijk, of organisatie (weer die van de "
             "organisatie)")
    with _database():
        person = accounts.change_beroepsgroep(getpass.getuser(), name, groep)
    click.echo(f"Beroepsgroep van {name}: {person['beroepsgroep'] or 'die van de organisatie'}.")


@user.command("deactivate", help="Schakel een gebruiker uit: aanmelden kan niet meer, elke "
                                 "sessie eindigt en alle API-tokens worden ingetrokken. Casussen "
                                 "en geschiedenis blijven.")
@click.argument("name")
def user_deactivate(name):
    with _database():
        accounts.deactivate_user(getpass.getuser(), name)
    click.echo(f"Gebruiker {name} is uitgeschakeld.")


@user.command("password", help="Geef een gebruiker een nieuw wachtwoord (van stdin); elke sessie "
                               "van die gebruiker eindigt.")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Lees het wachtwoord van stdin (verplicht).")
def user_password(name, password_stdin):
    password = sys.stdin.readline().rstrip("\r\n")
    with _database():
        accounts.change_password(getpass.getuser(), name, password)
    click.echo(f"Het wachtwoord van {name} is gewijzigd; de gebruiker moet zich opnieuw aanmelden.")


@user.command("roles", help="Vervang de rollen van een gebruiker; elke sessie van die gebruiker "
                            "eindigt.")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="Rol (meerdere keren mogelijk).")
def user_roles(name, roles):
    with _database():
        accounts.change_roles(getpass.getuser(), name, list(roles))
    click.echo(f"Rollen van {name}: {', '.join(dict.fromkeys(roles))}.")


@main.group(help="API-tokens.")
def token():
    pass


@token.command("create", help="Maak een nieuw API-token voor een gebruiker en druk het af (alleen "
                              "het token, op één regel; het wordt nergens anders getoond).")
@click.argument("name")
@click.option("--days", default=None, metavar="N",
              help=f"Het token verloopt na dit aantal dagen, 1 tot en met {tokens.MAX_TOKEN_DAYS} "
                   "(standaard: nooit, tot intrekking).")
def token_create(name, days):
    with _database():  # the number is checked by the engine, as the beheerder's form's
        value = accounts.create_token(getpass.getuser(), name, days)
    click.echo(value)


@token.command("list", help="Toon de tokens van een gebruiker, één per regel: nummer, aangemaakt, "
                            "verloopt (- = nooit) en active, revoked of expired, gescheiden door "
                            "tabs; beschadigd als de rij niet bij haar zegel past (buiten het "
                            "product gewijzigd of toegevoegd: zo'n token werkt niet, en de "
                            "getoonde tijden zijn niet te vertrouwen).")
@click.argument("name")
def token_list(name):
    with _database():
        rows = accounts.list_tokens(getpass.getuser(), name)
    for row in rows:
        click.echo(f"{row['id']}\t{row['created']}\t{row['expires']}\t{row['status']}")


@token.command("revoke", help="Trek een token van een gebruiker in (op nummer, zie 'token list'); "
                              "zonder nummer alle tokens van die gebruiker.")
@click.argument("name")
@click.argument("token_id", type=TOKEN_NUMBER, required=False)
def token_revoke(name, token_id):
    with _database():
        count = accounts.revoke_tokens(getpass.getuser(), name, token_id)
    click.echo(f"{count} token(s) van {name} ingetrokken.")


def _read(paths) -> list[definitions.SourceFile]:
    files = []
    for path in paths:
        try:
            files.append(definitions.SourceFile(os.path.basename(path), open(path, "rb").read()))
        except OSError as exc:
            fail(f"{_shown_path(path)}: {exc.strerror}", 1)
    return files


def _shown_path(path: str) -> str:
    """A file path as the check prints it: every character that is not printable (a newline in
    the name) escaped as in a finding (problems.shown_text, uncut), so a file name cannot make up
    a finding line (issue 14, a fresh tester)."""
    return shown_text(path, limit=len(path))


def _print_problems(paths, problems):
    by_name = {os.path.basename(p): p for p in paths}
    for p in problems:
        click.echo(f"{_shown_path(by_name.get(p.file, p.file))}:{p.line}: {p.message}")
        for line in p.witness_lines():  # CONTRACT section 5: the witness route, indented
            click.echo(line)


@main.command(help="Controleer BPMN- en DMN-bestanden zoals een publicatie dat doet.")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check(files):
    sources = _read(files)
    definition, problems = definitions.check(_with_active_dmn(sources))
    if definition is None:
        _print_problems(files, problems)
        sys.exit(1)
    click.echo(f"In orde: {', '.join(_shown_path(f) for f in files)}")


def _with_active_dmn(sources):
    """As a deploy does: a BPMN-only set takes the active version's DMN files (if any)."""
    if any(s.kind == "dmn" for s in sources):
        return sources
    try:
        with store.unit_of_work() as session:
            return versions.complete_set(session, sources)
    except Exception:  # noqa: BLE001 - no database yet: check the files on their own
        return sources


@main.command(help="Publiceer een nieuwe procesversie; die is meteen actief. Zijn de bestanden "
                   "precies gelijk aan een bestaande versie, dan wordt die versie (weer) actief.")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--user", "by", default=None,
              help="Wie publiceert: een procesbeheerder van Meldcode (standaard: de OS-gebruiker).")
def deploy(files, by):
    from engine import process_admin

    sources = _read(files)
    schema.upgrade()
    if by:
        _mover(by)  # a user of the product named must be a procesbeheerder, as for migrate
    try:
        # the same command as the API and the modeler: identical files are the existing
        # version, made active
        deployed = process_admin.deploy(by or getpass.getuser(), sources)
    except definitions.InvalidDefinition as exc:
        _print_problems(files, exc.problems)
        sys.exit(1)
    if deployed["created"]:
        click.echo(f"Nieuwe versie: {deployed['version']}")
    else:
        again = " (weer actief)" if deployed["reactivated"] else ""
        click.echo(f"Ongewijzigd, bestaande versie: {deployed['version']}{again}")


def _quiet_server_log() -> None:
    """The seal checks log each mismatch in English for the server log; verify names every
    one itself, in Dutch, so those lines would only repeat it on stderr (once per case)
    (issue 11 F9). Their level is back when the command ends."""
    seals = logging.getLogger("meldcode.seals")
    level = seals.level
    seals.setLevel(logging.ERROR)
    click.get_current_context().call_on_close(lambda: seals.setLevel(level))


@main.command(help="Controleer casussen: de kop en beide ketens van elke casus, het opnieuw "
                   "afspelen vanuit de procesversie tegen wat is opgeslagen, en het logboek over "
                   "alle casussen (tegen het controlepunt, gegeven of het nieuwste in "
                   "MELDCODE_CHECKPOINT_DIR); met --all ook elke gebruiker (tegen het zegel "
                   "van de rij) en de bestanden van elke procesversie (tegen hun SHA-256 en "
                   "het beheerlog). Exit 0 als alles klopt, anders 1.")
@click.argument("case_ids", nargs=-1, type=CASE_NUMBER)
@click.option("--all", "all_cases", is_flag=True, help="Alle casussen.")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(dir_okay=False),
              help="Een controlepunt van 'meldcode checkpoint'.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=lambda: os.cpu_count() or 1,
              show_default="aantal processorkernen",
              help="Zoveel processen controleren casussen naast elkaar, met lagere prioriteit "
                   "(nice 10, en alleen op een processor die niemand anders nodig heeft) dan "
                   "de server.")
def verify(case_ids, all_cases, checkpoint_file, jobs):
    from engine import (
        background,
        checkpoints,
        config_seals,
        log_verify,
        notification_seals,
        outbox_seals,
        restore_traces,
        verification,
    )

    if not case_ids and not all_cases:
        fail("geef casusnummers op, of --all")
    from webui import observability

    observability.configure_logging()  # why a case could not be checked: JSON on stderr
    _quiet_server_log()
    operator = getpass.getuser()
    checked = failed = 0
    wanted = None if all_cases else list(case_ids)
    seen: list[int] = []
    with _database():
        path = checkpoint_file or checkpoints.newest_checkpoint()
        try:
            checkpoint = checkpoints.load_checkpoint(path) if path else None
        except checkpoints.CheckpointError as exc:
            fail(f"controlepunt geweigerd: {exc}", 1)
        # No write transaction for the run: the log pass and each batch of cases are read
        # transactions of their own, in forked processes at background priority; this one
        # keeps its priority for the access-log lines, written in short transactions
        # (engine/background.py says why).
        report = background.in_background(log_verify.verify_log, checkpoint=checkpoint, jobs=jobs)
        verdicts = verification.verify_all(case_ids=wanted, log=report, jobs=jobs,
                                           background=True)
        # Each case read is logged, also when the reader of the output stops or Ctrl-C comes
        # midway (task U point 1); the forked readers stop first (contextlib.closing).
        try:
            with contextlib.closing(verdicts):
                for verdict in verdicts:
                    checked += 1
                    seen.append(verdict.case_id)
                    if len(seen) >= VERIFY_LOG_BATCH:
                        _log_verified(operator, seen)
                    if verdict.ok:
                        click.echo(f"casus {verdict.case_id}: in orde ({verdict.events} "
                                   "gebeurtenissen)")
                    else:
                        failed += 1
                        click.echo(f"casus {verdict.case_id}: NIET IN ORDE")
                        for problem in verdict.problems:
                            click.echo(f"  - {problem}")
        finally:
            _log_verified(operator, seen)
        if case_ids:
            with store.unit_of_work() as session:
                missing = sorted(set(case_ids) - set(_existing(session, case_ids))
                                 - set(report.by_case))
        else:
            missing = []
    for cid in missing:
        failed += 1
        click.echo(f"casus {cid}: bestaat niet")
    others = []  # what is not right outside the cases: counted apart from them (issue 11)
    if all_cases:  # the users and the process files: no case's history covers them (issue 11)
        with store.unit_of_work() as session:
            parts = config_seals.problem_parts(session.connection())
            # notifications and outbox rows from before their seal: not shown or sent, no finding
            unsealed = [note for note in (notification_seals.unsealed_note(session.connection()),
                                          outbox_seals.unsealed_note(session.connection())) if note]
        for part, found in parts:  # each under its own heading: users, tokens, ..., mail
            if found:
                click.echo(Message(VERIFY_HEADING, part=part, count=len(found)))
                for problem in found:
                    click.echo(f"  - {problem}")
        for note in unsealed:
            click.echo(f"let op: {note}")
        # the summary names each part with findings, as its heading does (issue 11: it named
        # users, tokens, versions and settings also for a finding about mail)
        others += [Message(VERIFY_PART, part=part, count=len(found)) for part, found in parts if found]
    if report.problems:
        others.append(Message(VERIFY_PART, part=VERIFY_LOG, count=len(report.problems)))
        click.echo("logboek: NIET IN ORDE")
        for problem in report.problems:
            click.echo(f"  - {problem}")
    with _database():  # a restore begun and not in the admin log (engine/restore_traces.py)
        unfinished = restore_traces.problems(settings.database_url())
        scraps = restore_traces.leftovers(settings.database_url())
    if unfinished:  # no case: counted apart from them, as the users and the log are
        others.append(Message(VERIFY_PART, part=VERIFY_RESTORE, count=len(unfinished)))
        click.echo("terugzetten: NIET AFGEMAAKT")
        for problem in unfinished:
            click.echo(f"  - {problem}")
    for name in scraps:
        click.echo(f"let op: {name} is een tijdelijke kopie van een afgebroken terugzetting; "
                   "de volgende 'meldcode restore' ruimt haar op, of verwijder haar zelf")
    click.echo(f"logboek: {report.tree_size} regels, wortel {report.root}")
    if checkpoint:
        click.echo(f"controlepunt van {checkpoint['at']} ({checkpoint['tree_size']} regels) "
                   "gecontroleerd")
    if report.head is not None:
        click.echo(f"kop van de sequencer van {report.head.at} ({report.head.tree_size} regels) "
                   "gecontroleerd")
    if not checkpoint and report.head is None:
        click.echo("geen controlepunt en geen kop van de sequencer: het weghalen van de nieuwste "
                   "regels van het logboek kan zo onopgemerkt blijven")
    elif not checkpoint:
        click.echo("geen controlepunt: wat de sequencer nog niet vastlegde kan onopgemerkt "
                   "verdwijnen, en de kop zelf staat op deze machine")
    click.echo(Message(VERIFY_CASES, checked=checked, failed=failed))
    if others:
        click.echo(Message(VERIFY_OTHERS, parts=joined(others, "; ")))
    sys.exit(1 if failed or others else 0)


# verify's last lines: the cases and, apart from them, what else is not right (issue 11 point 4:
# a setting or a user wrong is no case "niet in orde")
VERIFY_CASES = N_("{checked} casus(sen) gecontroleerd, {failed} niet in orde.")
VERIFY_OTHERS = N_("Buiten de casussen niet in orde: {parts}.")
VERIFY_PART = N_("{part} ({count} bevinding(en))")
VERIFY_HEADING = N_("{part}: NIET IN ORDE ({count} bevinding(en))")  # part: config_seals.PART_*
VERIFY_LOG = N_("logboek")
VERIFY_RESTORE = N_("terugzetten")


# Verify's access-log lines (NEN 7513) per write transaction: so few that a case start or
# completion waiting for the write lock meanwhile waits about a millisecond (issue 11: starts
# stay under 50 ms at p95 while verify --all runs). Measured on 1,500 cases (bench/
# verify_bench.py, issue 12): 10 lines held the lock 7-18 ms at the median, 2 lines 1.6 ms.
VERIFY_LOG_BATCH = 2


def _log_verified(operator: str, case_ids: list[int]) -> None:
    """NEN 7513: the verify read each case; logged in short write transactions."""
    from engine import audit

    if case_ids:
        with store.unit_of_work(write=True) as session:
            for cid in case_ids:
                audit.log_access(session, operator, "verify", "ok", case_id=cid)
        case_ids.clear()


@main.command(help="Schrijf een ondertekend controlepunt van het logboek over alle casussen "
                   "(aantal regels, wortel, tijd; Ed25519). Zonder -o: een bestand met tijdstempel "
                   "in MELDCODE_CHECKPOINT_DIR, voor cron of de planner.")
@click.option("-o", "output", type=click.Path(), help="Het bestand.")
@click.option("--public-key", is_flag=True,
              help="Toon alleen de publieke sleutel waarmee controlepunten te controleren zijn.")
def checkpoint(output, public_key):
    from pathlib import Path

    from engine import checkpoints

    with _database():
        try:
            if public_key:
                click.echo(checkpoints.public_key_hex())
                return
            path = checkpoints.write_checkpoint(Path(output_path(output)) if output else None)
        except checkpoints.LogDamaged as exc:  # the log is not right: as verify, exit 1
            fail(str(exc), 1)
        except checkpoints.CheckpointError as exc:
            fail(str(exc))
        except BrokenPipeError:  # the reader of the key stopped: _stops_quietly
            raise
        except OSError as exc:
            fail(f"{exc.filename or output}: {_os_reason(exc)}")
    written = checkpoints.load_checkpoint(path)
    click.echo(f"controlepunt: {written['tree_size']} regels, wortel {written['root']}, "
               f"geschreven naar {path}")
    click.echo(f"publieke sleutel: {checkpoints.public_key_hex()}")


def _existing(session, case_ids):
    from sqlalchemy import select

    return session.scalars(select(models.Case.id).where(models.Case.id.in_(list(case_ids)))).all()


@main.command(help="Exporteer het dossier van een casus als PDF of JSON; de export komt in het "
                   "toegangslog op naam van --user (standaard: de OS-gebruiker).")
@click.argument("case_id", type=CASE_NUMBER)
@click.option("--format", "fmt", type=click.Choice(["pdf", "json"]), required=True)
@click.option("-o", "output", required=True, type=click.Path(allow_dash=True),
              help="Het bestand; - is de standaarduitvoer.")
@click.option("--user", "as_user", default=None, help="Namens wie de export gebeurt.")
def export(case_id, fmt, output, as_user):
    from flask_babel import force_locale

    from engine.errors import Forbidden

    from . import create_app, documents

    to_stdout = output == "-"  # the convention of command-line tools, as `document -o -`
    if not to_stdout:
        output_path(output)  # before the export is made and logged
    # the words of the PDF from the catalogues, in Dutch (the JSON is Dutch evidence anyway)
    with _database(), create_app().app_context(), force_locale("nl"):
        # the operator: logged as the operating-system user (CONTRACT section 3)
        who = getpass.getuser() if as_user is None else _reader(as_user, case_id)
        try:
            # the file is written before the access log says 'export ok' (task V point 2)
            content, _ = _exported_to(output, lambda deliver: documents.export(
                who, case_id, fmt, deliver=deliver))
        except Forbidden:  # logged by the engine, outcome denied
            fail(f"gebruiker '{as_user}' mag casus {case_id} niet inzien; er is niets "
                 "geëxporteerd (de poging staat in het toegangslog)")
    where = "de standaarduitvoer" if to_stdout else output
    # with -o - the dossier alone is on standard output; the report goes to stderr
    click.echo(f"Dossier van casus {case_id} geschreven naar {where} "
               f"({_dutch_number(len(content))} bytes).", err=to_stdout)


@main.command("document", help="Schrijf de meldcode van de organisatie naar BESTAND, als HTML of "
                               "PDF, uit de instellingen en de actieve procesversie; met "
                               "--beroepsgroep voor het afwegingskader van die beroepsgroep "
                               "(standaard: de instelling van de organisatie). Met -o - naar "
                               "de standaarduitvoer.")
@click.option("-o", "output", required=True, type=click.Path(allow_dash=True),
              help="Het bestand; - is de standaarduitvoer.")
@click.option("--format", "fmt", required=True, metavar="html|pdf", help="html of pdf.")
@click.option("--beroepsgroep", default=None, metavar="GROEP",
              help="artsen (ook: knmg), verpleegkundigen (vvn) of sociaal_domein (gezamenlijk).")
def document(output, fmt, beroepsgroep):
    from flask_babel import force_locale

    from engine import meldcode_doc, organisation

    from . import create_app, documents

    if fmt.strip().lower() not in ("html", "pdf"):
        fail(f"onbekend formaat '{fmt[:40]}'; kies html of pdf")
    fmt = fmt.strip().lower()
    if beroepsgroep is not None and organisation.beroepsgroep_key(beroepsgroep) is None:
        fail(f"onbekende beroepsgroep '{beroepsgroep[:40]}'; kies artsen (knmg), "
             "verpleegkundigen (vvn) of sociaal_domein (gezamenlijk)")
    to_stdout = output == "-"  # the convention of command-line tools: - is standard output
    if not to_stdout:
        output_path(output)
    # the product's words from the catalogues, in Dutch (the organisation's own document)
    with _database(), create_app().app_context(), force_locale("nl"):
        doc = meldcode_doc.build(beroepsgroep=beroepsgroep)
        content = (documents.meldcode_pdf(doc) if fmt == "pdf"
                   else documents.meldcode_html(doc).encode())
    summary = f"Meldcode ({doc['beroepsgroep']}, procesversie {doc['version']})"
    if to_stdout:
        # the document alone on standard output (a pipe reads it whole); the report on stderr
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()  # a reader that stopped: _stops_quietly
        click.echo(f"{summary} geschreven naar de standaarduitvoer "
                   f"({_dutch_number(len(content))} bytes).", err=True)
        return
    _write_whole(output, content)
    click.echo(f"{summary} geschreven naar {output} ({_dutch_number(len(content))} bytes).")


def _reader(name: str, case_id: int) -> users.Principal:
    """The active user NAME for whom `export --user NAME` exports, or exit 2: a name that is no
    active user may read no case, and the attempt is logged (NEN 7513) with the operating-
    system user as the one who tried, on behalf of NAME. A NAME with a character no name may
    hold (a control character, a newline; forms.refused_character) is refused before that, with
    nothing logged: it is nobody's name, and the log keeps no text a terminal would act on.
    Whether NAME may read this case is the engine's question (users.may_read_case, asked by
    dossier.export)."""
    from sqlalchemy import select

    from engine import commands, forms, user_trust
    from engine.errors import Conflict
    from engine.messages import N_
    from engine.models import User

    # The name as given, white space around it included (a trailing CR too): no user has a
    # name with such a character (forms.clean_text refuses it in every name). Refused before
    # anything is read or logged, so a newline or escape sequence never reaches the access
    # log or the terminal (issue 11 F11).
    problem = forms.refused_character(name, subject=N_("De gebruikersnaam"))
    if problem is not None:
        fail(f"{problem} Er is niets geëxporteerd.")
    refused = None
    with store.unit_of_work() as session:
        commands.load_case(session, case_id)  # an unknown case: NotFound, exit 2
        try:  # a users row that cannot be trusted acts as nobody here too (issue 11)
            user_trust.refuse_untrusted(session, name)
        except Conflict as exc:
            refused = exc
        user = session.scalar(select(User).where(User.name == name))
        if refused is None and user is not None and user.active:
            return users.Principal.of(user)
    commands.log_denied(getpass.getuser(), commands.Denied("Geen gebruiker.", case_id, "export"),
                         on_behalf_of=name[:80])
    if refused is not None:
        fail(f"{refused.message} Er is niets geëxporteerd (de poging staat in het toegangslog).")
    fail(f"'{name}' is geen actieve gebruiker van Meldcode en mag dus geen casus inzien; er is "
         "niets geëxporteerd (de poging staat in het toegangslog)")
    raise AssertionError  # fail() exits


@main.command("cases", help="Toon de open casussen, één per regel: nummer, procesversie, sinds "
                            "wanneer en de open stappen, gescheiden door tabs. Met --stuck alleen "
                            "de casussen die vastzitten (open, maar geen open stap en geen "
                            "wachtende timer), met waar ze op wachten.")
@click.option("--stuck", is_flag=True, help="Alleen vastgelopen casussen.")
def cases(stuck):
    from engine import migration, practice

    with _database():
        with store.unit_of_work() as session:
            rows = migration.stuck_cases(session) if stuck else migration.open_cases(session)
            rows = practice.real_only(session, rows)  # practice mode's fictional cases: not here
    for row in rows:
        where = row["waiting_at"] if stuck else row["steps"]
        click.echo(f"{row['id']}\t{row['version']}\t{row['since']}\t{','.join(where)}")
    if not rows:
        click.echo("Geen vastgelopen casussen." if stuck else "Geen open casussen.", err=True)


@main.command(help="Verplaats alle open casussen van een procesversie naar een andere "
                   "gepubliceerde versie waarin hun huidige stappen bestaan. Alles of niets: "
                   "kan één casus daar niet verder, dan verandert er niets (exit 1). Elke "
                   "verplaatsing komt in de geschiedenis van de casus.")
@click.option("--from", "from_version", type=VERSION_NUMBER, required=True,
              help="De versie waarop de casussen nu staan.")
@click.option("--to", "to_version", type=VERSION_NUMBER, required=True,
              help="De versie waarnaar ze gaan.")
@click.option("--user", "as_user", default=None,
              help="Wie verplaatst: een procesbeheerder van Meldcode (standaard: de "
                   "OS-gebruiker; is dat een gebruiker van Meldcode, dan ook een procesbeheerder).")
def migrate(from_version, to_version, as_user):
    from engine import migration

    name = as_user or getpass.getuser()
    with _database():
        who = _mover(name, given=bool(as_user))
        try:
            result = migration.move_cases(who, from_version, to_version)
        except migration.MoveRefused as exc:
            click.echo(f"fout: {exc.message}", err=True)
            for line in exc.lines:
                click.echo(f"  {line}", err=True)
            sys.exit(1)
    for case in result["moved"]:
        state = ("afgesloten" if case["status"] == "closed"
                 else "zit nog vast" if case["stalled"] else "kan verder")
        click.echo(f"casus {case['id']}: verplaatst van versie {result['from']} naar versie "
                   f"{result['to']} ({state})")
    click.echo(f"{len(result['moved'])} casus(sen) verplaatst van versie {result['from']} naar "
               f"versie {result['to']}.")


def _mover(name: str, given: bool = True):
    """The procesbeheerder who moves cases or deploys (`--user NAME`, given=True), or the
    operating-system user (given=False) when that is no user of the product; exit 2 for a
    user who is no procesbeheerder, and for a name given that is no user at all: the admin
    log records only people the product knows, or the operator's own account (as `export
    --user` since issue 11 point 6)."""
    from sqlalchemy import select

    from engine import user_trust
    from engine.errors import Conflict
    from engine.roles import PROCESBEHEERDER

    with store.unit_of_work() as session:
        try:  # a users row that cannot be trusted acts as nobody, named or not (issue 11)
            user_trust.refuse_untrusted(session, name)
        except Conflict as exc:
            fail(str(exc.message))
        user = session.scalar(select(models.User).where(models.User.name == name))
        if user is None:
            if given:
                fail(f"gebruiker {name!r} bestaat niet; laat --user weg om als "
                     f"de gebruiker van het besturingssysteem te werken")
            return name
        if not user.has_role(PROCESBEHEERDER):
            fail(f"gebruiker '{name}' is geen procesbeheerder")
        return users.Principal.of(user)


if __name__ == "__main__":
    main()
