"""Shared fixtures: a fresh database per test (SQLite, or a real PostgreSQL server that this
file starts), the app, users with tokens, and a real `meldcode serve` on loopback."""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRICT = os.environ.get("MELDCODE_TEST_STRICT") == "1"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "blauwe-giraf-leest-krant"

# Keys and instance files of the test run live in a temp dir, never in the checkout.
_instance = tempfile.mkdtemp(prefix="meldcode-test-")
os.environ["MELDCODE_INSTANCE"] = _instance
os.environ["MELDCODE_HISTORY_KEY"] = "test-history-key-" + "0123456789abcdef" * 2
os.environ["MELDCODE_SECRET_KEY"] = "test-secret-key-" + "0123456789abcdef" * 2
# argon2's cheapest parameters: the run creates hundreds of users (README, Configuratie).
os.environ["MELDCODE_ARGON2_PROFILE"] = "fast"


def need(ok: bool, reason: str) -> None:
    """Skip when a real part is missing, except in strict mode, where that fails the run."""
    if not ok:
        if STRICT:
            pytest.fail(f"strict mode: {reason}")
        pytest.skip(reason)


# --- running beside another xdist worker --------------------------------------------------------
# The suite runs in three processes (`pytest -n 3`, README). A test marked `alone` (a load test,
# or one that times itself against the clock) runs while the other processes run none: it
# takes a lock exclusively that every other test holds shared. The gate in front of it makes
# the other processes wait with its next test, so an `alone` test is never starved.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


@pytest.fixture(scope="session")
def _run_locks(tmp_path_factory) -> Path | None:
    """The lock files of this run: in the temp folder that the workers' folders share."""
    return tmp_path_factory.getbasetemp().parent if _WORKER else None


@pytest.fixture(autouse=True)
def _alone_when_marked(request, _run_locks):
    if _run_locks is None:  # one process: nothing runs beside it
        yield
        return
    alone = request.node.get_closest_marker("alone") is not None
    with open(_run_locks / "gate.lock", "a") as gate, open(_run_locks / "run.lock", "a") as run:
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(run, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        fcntl.flock(gate, fcntl.LOCK_UN)
        yield
        fcntl.flock(run, fcntl.LOCK_UN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- PostgreSQL ---------------------------------------------------------------------------------


def _memory_folder() -> str | None:
    """Where a PostgreSQL server of the run keeps its files: /dev/shm (memory) when it has 2 GiB
    free, else None (the temp folder, on disk). Each test's database is made from a template
    (9 MB written, with as much again in the write-ahead log): on this machine's disk that took
    0.2 s a test, in memory 0.06 s, in 2,066 tests of the suite. Each is dropped at the test's
    end (db_url), so the server holds a handful; a Docker container's /dev/shm of 64 MB is too
    small, and the disk is used."""
    try:
        free = shutil.disk_usage("/dev/shm").free
    except OSError:
        return None
    return "/dev/shm" if free >= 2 * 1024**3 else None


class PostgresServer:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="meldcode-pg-", dir=_memory_folder()))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.data = self.dir / "data"

    def _run(self, *args):
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, cwd="/", capture_output=True)

    def start(self):
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale", "C")
        for attempt in range(3):
            try:
                self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                          str(self.dir / "log"), "-o",
                          f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                          "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                          "-c max_connections=200", "start")
                return
            except subprocess.CalledProcessError:
                # the free port was taken meanwhile (the other xdist worker, or a client's
                # outgoing connection): another one
                if attempt == 2:
                    raise
                self.port = free_port()

    def stop(self):
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, template: str = "template1") -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            for attempt in range(50):
                try:
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                    break
                except psycopg.errors.ObjectInUse:  # a closed connection still leaving it
                    if attempt == 49:
                        raise
                    time.sleep(0.1)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database at `url` (a test's own, at its end: db_url), ending the
        connections a process of the test may have left open. Raises psycopg errors."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def prepared_database(self, with_people: bool = False) -> str:
        """A new database as _prepared leaves one (migrated, the shipped processes deployed):
        a copy of one prepared once per server. `with_people`: with the People as well (a
        second template, made once; its People kept in _PEOPLE_OF for the fixture)."""
        from engine import store

        templates = self.__dict__.setdefault("templates", {})
        if with_people not in templates:
            url = self.prepared_database() if with_people else _prepared(self.create_database())
            made = People(url) if with_people else None
            store.dispose_engines()  # a template must have no connections
            templates[with_people] = url.rsplit("/", 1)[1], made
            if not with_people:
                self.template = templates[False][0]
        name, made = templates[with_people]
        url = self.create_database(name)
        if made is not None:
            _PEOPLE_OF[url] = made
        return url


@pytest.fixture(scope="session")
def pg_server():
    need((PG_BIN / "initdb").exists(), "PostgreSQL 15 is not installed (apt-get install postgresql)")
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


# --- databases and the app ----------------------------------------------------------------------


def _prepared(url: str) -> str:
    """Migrate the database at `url` and deploy the shipped processes."""
    from engine import schema, store, versions

    schema.upgrade(url)
    with store.unit_of_work(write=True, url=url) as session:
        versions.ensure_deployed(session, by="test")
    return url


# Each test gets a copy of a database prepared once per process: preparing one takes about
# 2 s (the migrations' commits wait for the disk), copying it a few milliseconds. A test that
# asks for `people` copies a second template that holds them: making them took 0.1-0.3 s a
# test (seven users, each password checked for strength and hashed, a token and admin-log
# lines each), in about 3,000 tests.
_SQLITE_TEMPLATES: dict[bool, tuple[Path, People | None]] = {}
# The People in the database at a URL a fixture just made from a template with them, until
# the `people` fixture takes them.
_PEOPLE_OF: dict[str, People] = {}


def _copy_sqlite(source: Path, path: Path) -> str:
    import sqlite3

    reader, writer = sqlite3.connect(source), sqlite3.connect(path)
    try:
        reader.backup(writer)
    finally:
        reader.close()
        writer.close()
    return f"sqlite:///{path}"


def _sqlite_template(with_people: bool) -> tuple[Path, People | None]:
    from engine import store

    if with_people not in _SQLITE_TEMPLATES:
        folder = tempfile.mkdtemp(prefix="meldcode-template-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = Path(folder) / "meldcode.sqlite"
        if with_people:
            made = People(_copy_sqlite(_sqlite_template(False)[0], template))
        else:
            made = None
            _prepared(f"sqlite:///{template}")
        store.dispose_engines()
        _SQLITE_TEMPLATES[with_people] = template, made
    return _SQLITE_TEMPLATES[with_people]


def _prepared_sqlite(path: Path, with_people: bool = False) -> str:
    """A copy at `path` of the SQLite database prepared once per process (with the People:
    `with_people`, which are kept in _PEOPLE_OF for the fixture). Out: its URL."""
    template, made = _sqlite_template(with_people)
    url = _copy_sqlite(template, path)
    if made is not None:
        _PEOPLE_OF[url] = made
    return url


def _with_people(request, fixture: str) -> bool:
    """Whether the test's database is copied from the template with the People: when the test
    asks for `fixture` and runs on the system clock (a test that put its own clock in place
    first has them made under it, at its time, as before)."""
    from datetime import UTC, datetime

    from engine import clock

    return fixture in request.fixturenames and abs(clock.now() - datetime.now(UTC)).total_seconds() < 5


@pytest.fixture
def sqlite_url(request, tmp_path, monkeypatch):
    from engine import store

    url = _prepared_sqlite(tmp_path / "meldcode.sqlite", _with_people(request, "sqlite_people"))
    monkeypatch.setenv("MELDCODE_DATABASE_URL", url)
    yield url
    _PEOPLE_OF.pop(url, None)
    store.dispose_engines()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, monkeypatch):
    """The same test on SQLite and on a real PostgreSQL server."""
    from engine import store

    with_people = _with_people(request, "people")  # made in the template: see _PEOPLE_OF
    server = None
    if request.param == "sqlite":
        url = _prepared_sqlite(tmp_path / "meldcode.sqlite", with_people)
    else:
        server = request.getfixturevalue("pg_server")
        url = server.prepared_database(with_people)
    monkeypatch.setenv("MELDCODE_DATABASE_URL", url)
    yield url
    _PEOPLE_OF.pop(url, None)
    store.dispose_engines()
    if server is not None:  # the server's folder holds a handful of databases, not thousands
        server.drop_database(url)


class People:
    """Users of every role with API tokens; the medewerker reports to the leidinggevende."""

    SPEC = [
        ("lg", ["leidinggevende"], None),
        ("mw", ["medewerker"], "lg"),
        ("mw2", ["medewerker"], None),
        ("af", ["aandachtsfunctionaris"], None),
        ("aud", ["auditor"], None),
        ("pb", ["procesbeheerder"], None),
        ("bh", ["beheerder"], None),
    ]

    def __init__(self, url: str):
        from engine import store, tokens, users

        self.tokens: dict[str, str] = {}
        self.principals = {}
        with store.unit_of_work(write=True, url=url) as session:
            for name, roles, manager in self.SPEC:
                user = users.create_user(session, name, roles, PASSWORD, manager)
                self.tokens[name] = tokens.create_token(session, name)
                self.principals[name] = users.Principal.of(user, "127.0.0.1")

    def copy(self) -> People:
        """The same users and tokens, in dicts of its own (a test may add to them)."""
        twin = object.__new__(People)
        twin.tokens, twin.principals = dict(self.tokens), dict(self.principals)
        return twin

    def __getitem__(self, name):
        return self.principals[name]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture
def people(db_url):
    """The People, in the test's database: already there when db_url copied the template
    with them (it does when the test asks for this fixture), else made now."""
    made = _PEOPLE_OF.pop(db_url, None)
    return made.copy() if made is not None else People(db_url)


@pytest.fixture
def sqlite_people(sqlite_url):
    """As `people`, in the SQLite database of sqlite_url."""
    made = _PEOPLE_OF.pop(sqlite_url, None)
    return made.copy() if made is not None else People(sqlite_url)


@pytest.fixture
def app(db_url):
    from webui import create_app

    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


# --- a real server ------------------------------------------------------------------------------


class LiveServer:
    def __init__(self, url: str, env: dict):
        for attempt in range(3):
            if self._start(env) or attempt == 2:
                return
            # the free port was taken before the server bound it (the other xdist worker):
            # another one

    def _start(self, env: dict) -> bool:
        """Start `meldcode serve` on a free port; False if that port was taken meanwhile."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # The server logs a JSON line per request: into a file, since a pipe nobody reads
        # fills up and then blocks every worker that writes to it.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "meldcode"), "serve", "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                output = self.log.read().decode(errors="replace")
                if "al in gebruik" in output:
                    return False
                raise RuntimeError(output)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("meldcode serve did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def live_server(db_url):
    env = dict(os.environ, MELDCODE_DATABASE_URL=db_url)
    server = LiveServer(db_url, env)
    yield server
    server.stop()


def meldcode_cli(*args, env=None, input=None, check=False):
    """Run the installed `meldcode` command as a user would."""
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "meldcode"), *args], env={**os.environ, **(env or {})},
        input=input, capture_output=True, text=True, check=check, timeout=120,
    )


sys.path.insert(0, str(ROOT))


@pytest.fixture(params=["UTC", "Europe/Amsterdam"])
def server_zone(request, monkeypatch):
    """The server's own zone (TZ) for the whole process while the test runs, once UTC and
    once Dutch time: what the product shows and stores must not depend on it."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()
