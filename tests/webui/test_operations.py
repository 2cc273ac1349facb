"""Operations (issue 11, point 5): keys made atomically and short ones refused, the write lock
with a timeout, trusted proxies and the sign-in limits, JSON logs with a request id,
/healthz, Prometheus metrics under gunicorn, backup and restore."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from engine import models, store
from tests.conftest import PG_BIN, ROOT, free_port, meldcode_cli
from tests.helpers import operator_run, start_server, stop_server, walk_some_cases, write_lock_held
from tests.scenarios.paths import LONGEST, fill

PYTHON = str(ROOT / ".venv" / "bin" / "python")
MELDCODE = str(ROOT / ".venv" / "bin" / "meldcode")


def _env_without_keys(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MELDCODE_SECRET_KEY", "MELDCODE_HISTORY_KEY")}
    return {**env, **extra}


# --- keys -------------------------------------------------------------------------------------

# One interpreter imports the engine's settings, then forks the processes that race (the
# fork is the start of each): 16 fresh interpreters spent 0.4 s of CPU each on the import,
# spinning beside the others still importing, which left time for one round only.
_READ_KEYS = """
import os, sys, time
from engine import settings
base, start, spacing = sys.argv[1], float(sys.argv[2]), float(sys.argv[5])
rounds, count = int(sys.argv[3]), int(sys.argv[4])
children = []
for r in range(rounds):
    for _ in range(count):
        read, write = os.pipe()
        if os.fork() == 0:
            os.close(read)
            os.environ["MELDCODE_INSTANCE"] = f"{base}/{r}"
            while time.time() < start + r * spacing:  # all reach for the keys at one moment
                pass
            try:
                answer = settings.secret_key() + " " + settings.history_key().decode()
            except Exception as exc:  # reported to the test as it is
                answer = f"FOUT {exc!r}"
            os.write(write, f"{r} {answer}".encode())
            os._exit(0)
        os.close(write)
        children.append(read)
for read in children:
    with os.fdopen(read) as fh:
        print(fh.read())
"""


@pytest.mark.alone
def test_many_processes_at_once_all_read_the_same_complete_keys(tmp_path):
    """16 processes start at once on an empty instance folder: every one must get the same,
    complete keys. Before, a process could read the file between its creation and the
    write, and ran with an empty key. Four rounds, each on a fresh folder. (50 processes
    before, then 16 in one round: each imported the engine's settings, 0.4 s of CPU; now
    they are forked after one import.)"""
    rounds, count = 4, 16
    for round_ in range(rounds):
        (tmp_path / str(round_)).mkdir()
    env = _env_without_keys(PYTHONPATH=str(ROOT))
    start = time.time() + 3  # imported by then, even on a busy machine
    result = subprocess.run([PYTHON, "-c", _READ_KEYS, str(tmp_path), str(start), str(rounds),
                             str(count), "0.3"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answers = [line.split(" ", 1) for line in result.stdout.splitlines() if line]
    assert len(answers) == rounds * count, result.stdout
    for round_ in range(rounds):
        instance = tmp_path / str(round_)
        keys = {answer for r, answer in answers if r == str(round_)}
        assert len(keys) == 1, (round_, keys)
        secret, history = keys.pop().split(" ")
        assert len(secret) == 64 and len(history) == 64 and secret != history
        assert (instance / "secret_key").read_text() == secret
        assert (instance / "history_key").read_text() == history
        assert sorted(p.name for p in instance.iterdir()) == ["history_key", "secret_key"]


_MAKE_KEYS = """
import os, sys, time
from engine import settings
base, start, rounds, spacing = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
for r in range(rounds):
    os.environ["MELDCODE_INSTANCE"] = f"{base}/{r}"
    while time.time() < start + r * spacing:
        pass
    settings.secret_key()
"""

_WATCH_KEYS = """
import sys, time
base, start, rounds, spacing = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
seen = 0
for r in range(rounds):
    path = f"{base}/{r}/secret_key"
    while time.time() < start + (r + 0.9) * spacing:
        try:
            with open(path) as fh:
                text = fh.read()
        except FileNotFoundError:
            continue
        if len(text) != 64:
            seen += 1
        break
print(seen)
"""


@pytest.mark.alone
def test_no_process_ever_sees_a_key_file_empty_or_half_written(tmp_path):
    """Processes that read the key file while others create it (as workers do right after
    gunicorn forks them) must find it absent or complete. Before, the file existed empty
    between its O_EXCL creation and the write; a reader spinning on it caught that."""
    rounds, spacing = 100, 0.05
    for r in range(rounds):
        (tmp_path / str(r)).mkdir()
    env = _env_without_keys(PYTHONPATH=str(ROOT))
    start = time.time() + 4
    args = [str(tmp_path), str(start), str(rounds), str(spacing)]
    watchers = [subprocess.Popen([PYTHON, "-c", _WATCH_KEYS, *args], env=env, cwd=ROOT,
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
    makers = [subprocess.Popen([PYTHON, "-c", _MAKE_KEYS, str(tmp_path), str(start + 0.01),
                                str(rounds), str(spacing)], env=env, cwd=ROOT)
              for _ in range(3)]
    for p in makers:
        assert p.wait(timeout=120) == 0
    seen = [int(w.communicate(timeout=120)[0]) for w in watchers]
    assert seen == [0, 0], f"rounds in which a key file was seen empty or half-written: {seen}"
    for r in range(rounds):
        assert len((tmp_path / str(r) / "secret_key").read_text()) == 64


# One process imports the product once, then forks the processes that race (as gunicorn forks
# its workers): a fresh interpreter per process spent ~1.5 s of CPU on the import alone, so
# the suite could afford only a few rounds; bench/key_race_bench.py races fresh interpreters.
_SIGNING_KEY_RACE = """
import os, sys, time
from engine import checkpoints
base, start, spacing = sys.argv[1], float(sys.argv[2]), float(sys.argv[5])
rounds, count = int(sys.argv[3]), int(sys.argv[4])
children = []
for r in range(rounds):
    for _ in range(count):
        read, write = os.pipe()
        if os.fork() == 0:  # this process asks for the key of instance r at the round's moment
            os.close(read)
            os.environ["MELDCODE_INSTANCE"] = f"{base}/{r}"
            time.sleep(max(0.0, start + r * spacing - time.time()))
            try:
                answer = checkpoints.public_key_hex()
            except checkpoints.CheckpointError as exc:
                answer = f"FOUT {exc}"
            os.write(write, f"{r} {answer}".encode())
            os._exit(0)
        os.close(write)
        children.append(read)
for read in children:
    with os.fdopen(read) as fh:
        print(fh.read())
"""


def test_processes_starting_together_share_one_whole_signing_key(tmp_path):
    """The checkpoint signing key is made once, whole: processes that ask for it at the same
    moment on a fresh instance all get the same key. Before, the file was created with O_EXCL
    and written afterwards, and a process reading it in between refused it as no key. Six
    rounds of 16 processes, each round on a fresh instance folder (forked after one import:
    the race is on the files, which every process opens on its own)."""
    env = {k: v for k, v in os.environ.items() if k != "MELDCODE_SIGNING_KEY"}
    rounds, count = 6, 16
    for round_ in range(rounds):
        (tmp_path / str(round_)).mkdir()
    start = time.time() + 3  # the import done by then, even on a busy machine
    result = subprocess.run([PYTHON, "-c", _SIGNING_KEY_RACE, str(tmp_path), str(start),
                             str(rounds), str(count), "0.5"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answers = [line.split(" ", 1) for line in result.stdout.splitlines() if line]
    assert len(answers) == rounds * count, result.stdout
    for round_ in range(rounds):
        keys = {key for r, key in answers if r == str(round_)}
        assert len(keys) == 1 and len(next(iter(keys))) == 64, (round_, keys)
        assert (tmp_path / str(round_) / "signing_key.pub").read_text().strip() == next(iter(keys))


@pytest.mark.parametrize("how", ["env-short", "env-empty", "file-empty", "file-short",
                                 "env-simple"])
@pytest.mark.parametrize("variable,filename", [("MELDCODE_SECRET_KEY", "secret_key"),
                                               ("MELDCODE_HISTORY_KEY", "history_key")])
def test_an_empty_or_short_key_is_refused_at_start(tmp_path, how, variable, filename):
    instance = tmp_path / "instance"
    instance.mkdir()
    env = _env_without_keys(MELDCODE_INSTANCE=str(instance),
                            MELDCODE_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}")
    value = {"env-short": "geheim", "env-empty": "", "file-empty": "", "file-short": "0123456789abcdef",
             "env-simple": "a" * 64}[how]
    if how.startswith("env"):
        env[variable] = value
    else:
        (instance / filename).write_text(value)
    try:
        result = subprocess.run([MELDCODE, "serve", "--port", str(free_port()), "--workers", "1"],
                                env=env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("meldcode serve started with an empty or short key")
    assert result.returncode == 2, result.stderr
    where = variable if how.startswith("env") else str(instance / filename)
    assert where in result.stderr
    assert ("leeg" if value == "" else "te kort of te eenvoudig") in result.stderr
    assert "Traceback" not in result.stderr


def test_every_command_refuses_an_empty_or_short_key_in_dutch(tmp_path):
    """README "Sleutels": an empty or short key stops the command with exit 2 naming it. Only
    serve and verify checked; init (with and without --demo) and user add crashed with a
    KeyRefused traceback (exit 1) at their first keyed write, and the worker ran its rounds
    with an empty history key."""
    instance = tmp_path / "instance"
    instance.mkdir()
    env = _env_without_keys(MELDCODE_INSTANCE=str(instance),
                            MELDCODE_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
                            MELDCODE_ARGON2_PROFILE="fast")
    run = lambda *args: subprocess.run(  # noqa: E731
        [MELDCODE, *args], env=env, capture_output=True, text=True, timeout=60,
        input="paarse-olifant-fietst-snel\n")
    assert run("init").returncode == 0  # the keys are made here
    for filename, value, words in [("history_key", "", "leeg"),
                                   ("secret_key", "0123456789abcdef", "te kort of te eenvoudig")]:
        good = (instance / filename).read_text()
        (instance / filename).write_text(value)
        for command in (["init"], ["init", "--demo"], ["worker"],
                        ["user", "add", "kees", "--role", "medewerker", "--password-stdin"]):
            if filename == "secret_key" and command[0] == "user":
                continue  # the command line signs nothing with the session key
            try:
                result = run(*command)
            except subprocess.TimeoutExpired:
                pytest.fail(f"meldcode {' '.join(command)} ran with an empty or short key")
            assert result.returncode == 2, (command, result.stderr)
            assert str(instance / filename) in result.stderr and words in result.stderr
            assert "Traceback" not in result.stderr, (command, result.stderr)
        (instance / filename).write_text(good)


def test_init_on_a_database_it_cannot_open_is_one_dutch_line(tmp_path):
    result = subprocess.run(
        [MELDCODE, "init"], capture_output=True, text=True, timeout=60,
        env=_env_without_keys(MELDCODE_INSTANCE=str(tmp_path),
                              MELDCODE_DATABASE_URL=f"sqlite:///{tmp_path / 'nergens' / 'db.sqlite'}"))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("fout: de database is niet te bereiken of te openen")


def test_verify_refuses_a_short_history_key(tmp_path, sqlite_url):
    result = meldcode_cli("verify", "--all", env={"MELDCODE_HISTORY_KEY": "kort"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "MELDCODE_HISTORY_KEY" in result.stderr and "Traceback" not in result.stderr


# --- the write lock ---------------------------------------------------------------------------

_HOLD_LOCK = """
import sys, time
from engine import models, store
with store.write_queue(store.get_engine(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


class LockHolder:
    """Another process (a server worker, a long command) that holds the write lock."""

    def __init__(self, url: str, seconds: float = 25):
        self.proc = subprocess.Popen([PYTHON, "-c", _HOLD_LOCK, url, str(seconds)], cwd=ROOT,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)},
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    def release(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.mark.alone
def test_a_writer_gives_up_after_the_timeout_with_503(sqlite_url, sqlite_people, monkeypatch):
    from webui import create_app

    monkeypatch.setenv("MELDCODE_WRITE_LOCK_TIMEOUT", "1")
    client = create_app({"TESTING": True}).test_client()
    holder = LockHolder(sqlite_url)
    try:
        began = time.monotonic()
        r = client.post("/api/v1/cases", json={"client_ref": "wacht-1"},
                        headers=sqlite_people.auth("mw"))
        waited = time.monotonic() - began
        assert r.status_code == 503, r.get_data(as_text=True)
        assert r.json == {"error": "De database is bezig; probeer het zo opnieuw."}
        assert r.headers["Retry-After"]
        assert waited < 8
        # Reads never queue for the write lock: they answer while it is held.
        began = time.monotonic()
        with store.unit_of_work() as session:
            assert session.scalar(select(func.count()).select_from(models.Case)) == 0
        assert time.monotonic() - began < 1
    finally:
        holder.release()
    # The lock is free again, also from a waiter that gave up.
    r = client.post("/api/v1/cases", json={"client_ref": "wacht-2"}, headers=sqlite_people.auth("mw"))
    assert r.status_code == 201


def test_a_writer_waiting_in_the_same_process_gives_up_too(sqlite_url, monkeypatch):
    monkeypatch.setenv("MELDCODE_WRITE_LOCK_TIMEOUT", "0.5")
    with write_lock_held():
        with pytest.raises(store.DatabaseBusy), store.unit_of_work(write=True):
            pass
        with store.unit_of_work() as session:  # a read goes ahead
            session.execute(select(1))
    with store.unit_of_work(write=True) as session:
        session.execute(select(1))


def test_read_units_of_work_never_take_the_write_lock(sqlite_url, monkeypatch):
    taken = []
    original = store.write_queue
    monkeypatch.setattr(store, "write_queue", lambda engine: taken.append(1) or original(engine))
    with store.unit_of_work() as session:
        session.execute(select(1))
    assert taken == []
    with store.unit_of_work(write=True) as session:
        session.execute(select(1))
    assert taken  # (the check itself works)


# --- proxies and the sign-in limits -----------------------------------------------------------


def _login_app(monkeypatch, proxies: str | None, address_limit: str, name_limit: str):
    from webui import create_app

    if proxies is None:
        monkeypatch.delenv("MELDCODE_TRUSTED_PROXIES", raising=False)
    else:
        monkeypatch.setenv("MELDCODE_TRUSTED_PROXIES", proxies)
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False,
                       "LOGIN_RATE_LIMIT": address_limit,
                       "LOGIN_NAME_RATE_LIMIT": name_limit}).test_client()


def _attempt(client, name, address):
    return client.post("/aanmelden", data={"naam": name, "wachtwoord": "fout-fout-fout"},
                       headers={"X-Forwarded-For": address}).status_code


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(db_url, people, monkeypatch):
    client = _login_app(monkeypatch, "1", "3 per minute", "100 per minute")
    # Five clients behind one proxy: each may fail three times.
    assert [_attempt(client, f"naam{i}", f"198.51.100.{i}") for i in range(5)] == [401] * 5
    assert [_attempt(client, f"ander{i}", "198.51.100.9") for i in range(4)] == [401] * 3 + [429]
    # A client further out cannot escape by adding its own X-Forwarded-For entry.
    assert _attempt(client, "weer", "203.0.113.5, 198.51.100.9") == 429


def test_without_trusted_proxies_x_forwarded_for_is_ignored(db_url, people, monkeypatch):
    client = _login_app(monkeypatch, None, "3 per minute", "100 per minute")
    statuses = [_attempt(client, f"naam{i}", f"198.51.100.{i}") for i in range(4)]
    assert statuses == [401] * 3 + [429]


def test_the_sign_in_limit_also_counts_per_user_name(db_url, people, monkeypatch):
    client = _login_app(monkeypatch, "1", "100 per minute", "3 per minute")
    statuses = [_attempt(client, name, f"198.51.100.{i}")
                for i, name in enumerate(["mw", "mw", "MW ", "mw"])]
    assert statuses == [401] * 3 + [429]
    assert _attempt(client, "lg", "198.51.100.50") == 401  # another name is not held back
    # Successful sign-ins do not count.
    ok = client.post("/aanmelden", data={"naam": "lg", "wachtwoord": "blauwe-giraf-leest-krant"},
                     headers={"X-Forwarded-For": "198.51.100.51"})
    assert ok.status_code == 302


def test_the_access_log_records_the_client_behind_the_proxy(db_url, people, monkeypatch):
    monkeypatch.setenv("MELDCODE_TRUSTED_PROXIES", "1")
    from webui import create_app

    client = create_app({"TESTING": True}).test_client()
    case = client.post("/api/v1/cases", json={"client_ref": "proxy-1"}, headers=people.auth("mw"))
    assert case.status_code == 201
    r = client.get(f"/api/v1/cases/{case.json['id']}",
                   headers={**people.auth("mw"), "X-Forwarded-For": "203.0.113.77"})
    assert r.status_code == 200
    with store.unit_of_work() as session:
        sources = session.scalars(select(models.AccessLogEntry.source).where(
            models.AccessLogEntry.case_id == case.json["id"]).order_by(models.AccessLogEntry.id)).all()
    assert sources[-1] == "203.0.113.77"


def test_a_wrong_trusted_proxies_value_stops_the_server(tmp_path):
    result = subprocess.run([MELDCODE, "serve", "--port", str(free_port())], capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "MELDCODE_TRUSTED_PROXIES": "alle",
                                 "MELDCODE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    assert result.returncode == 2 and "MELDCODE_TRUSTED_PROXIES" in result.stderr


def test_a_port_in_use_is_one_dutch_line(tmp_path, sqlite_url):
    """Another program listens on the port: `meldcode serve` says so in Dutch and stops
    (gunicorn would retry for a while and say it in English). (A database made ready as
    `meldcode init` leaves it: serve migrates and deploys before it listens, and deploying
    the shipped set on an empty database proves it, seconds of CPU.)"""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [MELDCODE, "serve", "--port", str(port)], capture_output=True, text=True, timeout=60,
            env={**os.environ, "MELDCODE_INSTANCE": str(tmp_path / "inst"),
                 "MELDCODE_DATABASE_URL": sqlite_url})
    assert result.returncode == 2, result.stderr
    assert f"fout: de server kan niet luisteren op 127.0.0.1:{port}" in result.stderr
    assert "al in gebruik" in result.stderr and "Address" not in result.stderr


def test_a_port_out_of_range_or_a_taken_metrics_port_is_one_dutch_line(tmp_path, sqlite_url):
    """--port 70000 is click's Dutch usage error (gunicorn raised OverflowError with a
    traceback); a metrics port in use is refused in Dutch before the planner starts (it said
    'Address already in use' after 'De planner draait'). (A database made ready as for
    test_a_port_in_use_is_one_dutch_line.)"""
    import socket

    env = {**os.environ, "MELDCODE_INSTANCE": str(tmp_path / "inst"),
           "MELDCODE_DATABASE_URL": sqlite_url}
    result = subprocess.run([MELDCODE, "serve", "--port", "70000"], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 2, result.stderr
    assert "Ongeldige waarde voor '--port'" in result.stderr
    assert "Traceback" not in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics = taken.getsockname()[1]
        result = subprocess.run(
            [MELDCODE, "serve", "--port", str(free_port()), "--metrics-port", str(metrics)],
            capture_output=True, text=True, timeout=60, env=env)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert (f"fout: de metriekenserver kan niet luisteren op 127.0.0.1:{metrics}: dat adres is "
            "al in gebruik door een ander programma") in result.stderr
    assert "Address" not in out and "planner draait" not in out and "Traceback" not in out


def test_init_of_a_database_made_anew_at_the_same_url_names_the_old_head(tmp_path, sqlite_url):
    """The database is removed and made anew at the same URL, while this machine's sequencer
    recorded a longer log for it: init says what happened and what to do, exit 1, and after
    the record is removed as it says, init passes and the log grows again. (Each database is
    made as a first `meldcode init` leaves one, migrated with the shipped set deployed: a copy
    of the suite's prepared database, where init's deploy on an empty one proves the set,
    seconds of CPU each time.)"""
    made = Path(sqlite_url.removeprefix("sqlite:///"))
    database = tmp_path / "db.sqlite"
    env = {**os.environ, "MELDCODE_INSTANCE": str(tmp_path / "inst"),
           "MELDCODE_DATABASE_URL": f"sqlite:///{database}"}

    def run(*args):
        return subprocess.run([MELDCODE, *args], capture_output=True, text=True, timeout=120,
                              env=env)

    store.dispose_engines()
    shutil.copyfile(made, database)
    assert run("init", "--demo").returncode == 0
    assert run("verify", "--all").returncode == 0  # sequences; the head is recorded
    for leftover in tmp_path.glob("db.sqlite*"):
        leftover.unlink()
    shutil.copyfile(made, database)  # made anew
    again = run("init")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "het logboek van deze database heeft 0 regels" in again.stderr
    record = next((tmp_path / "inst").glob("log-head-*.json"))
    assert str(record) in again.stderr and "verwijder dan dat bestand" in again.stderr
    record.unlink()
    assert run("init", "--demo").returncode == 0
    assert run("verify", "--all").returncode == 0


# --- logs -------------------------------------------------------------------------------------


def test_pdf_layout_chatter_stays_out_of_the_log(monkeypatch):
    """WeasyPrint's INFO lines about each PDF's layout (about fifteen per download) are left
    out at the default level, as SpiffWorkflow's are; DEBUG shows them."""
    import logging

    from webui import observability

    monkeypatch.delenv("MELDCODE_LOG_LEVEL", raising=False)
    observability.configure_logging()
    for name in ("weasyprint", "fontTools", "spiff"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    monkeypatch.setenv("MELDCODE_LOG_LEVEL", "DEBUG")
    observability.configure_logging()
    assert logging.getLogger("weasyprint").isEnabledFor(logging.INFO)
    monkeypatch.delenv("MELDCODE_LOG_LEVEL")
    observability.configure_logging()


def _log_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_json_log_line_per_request_with_request_id(db_url, people, capsys, monkeypatch):
    from webui import create_app

    monkeypatch.delenv("MELDCODE_TRUSTED_PROXIES", raising=False)
    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False})

    @app.get("/proef-fout")
    def _boom():
        raise RuntimeError("interne-fout-7f3a")

    client = app.test_client()
    capsys.readouterr()
    r = client.get("/api/v1/tasks?client_ref=Geheime-Naam", headers={
        **people.auth("mw"), "X-Request-ID": "van-de-client"})
    assert r.status_code == 200
    request_id = r.headers["X-Request-ID"]
    assert request_id != "van-de-client"  # no trusted proxy: the client does not choose it
    boom = client.get("/proef-fout")
    assert boom.status_code == 500
    body = boom.get_data(as_text=True)
    assert "interne-fout-7f3a" not in body and "Traceback" not in body
    err = capsys.readouterr().err
    assert "Geheime-Naam" not in err and "client_ref" not in err
    lines = _log_lines(err)
    request_line = next(x for x in lines if x.get("request_id") == request_id)
    assert request_line["event"] == "request"
    assert request_line["method"] == "GET" and request_line["path"] == "/api/v1/tasks"
    assert request_line["status"] == 200 and request_line["user"] == "mw"
    assert isinstance(request_line["duration_ms"], float) and request_line["level"] == "info"
    # The error: logged with its traceback, bound to the request's id like every line of it.
    boom_id = boom.headers["X-Request-ID"]
    of_boom = [x for x in lines if x.get("request_id") == boom_id]
    error = next(x for x in of_boom if x["level"] == "error")
    assert "Traceback" in error["exception"] and "interne-fout-7f3a" in error["exception"]
    assert any(x["event"] == "request" and x["status"] == 500 for x in of_boom)


def test_a_trusted_proxy_may_name_the_request_id(db_url, monkeypatch):
    from webui import create_app

    monkeypatch.setenv("MELDCODE_TRUSTED_PROXIES", "1")
    client = create_app({"TESTING": True}).test_client()
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == \
        "abc-123"
    odd = client.get("/healthz", headers={"X-Request-ID": "a b\"c" * 30}).headers["X-Request-ID"]
    assert odd != "a b\"c" * 30 and len(odd) == 32


# --- healthz ----------------------------------------------------------------------------------


def test_healthz(db_url, monkeypatch):
    from webui import create_app

    client = create_app({"TESTING": True}).test_client()
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}
    assert "Set-Cookie" not in r.headers
    closed = free_port()  # nothing listens there
    down = (f"sqlite:///{Path('/nonexistent-dir') / 'x.sqlite'}" if db_url.startswith("sqlite")
            else f"postgresql+psycopg://postgres@127.0.0.1:{closed}/postgres")
    monkeypatch.setenv("MELDCODE_DATABASE_URL", down)
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json["status"] != "ok"


# --- a real server: metrics -------------------------------------------------------------------


def _metric(text: str, name: str, **labels) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        metric, _, rest = sample.partition("{")
        if metric == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += float(value)
    return total


def test_metrics_are_summed_over_the_workers(sqlite_url, sqlite_people, tmp_path):
    metrics_port = free_port()
    env = {**os.environ, "MELDCODE_DATABASE_URL": sqlite_url, "HOME": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc, port = start_server(env, "--workers", "3", "--metrics-port", str(metrics_port))
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(12):  # sync workers, Connection: close: spread over the workers
            assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
        auth = sqlite_people.auth("mw")
        case = requests.post(f"{base}/api/v1/cases", json={"client_ref": "metriek-1"},
                             headers=auth, timeout=10).json()
        task = requests.get(f"{base}/api/v1/tasks/{case['tasks'][0]['id']}", headers=auth,
                            timeout=10).json()
        done = requests.post(f"{base}/api/v1/tasks/{task['id']}/complete", headers=auth, timeout=10,
                             json={"data": fill(task["form"]["fields"], LONGEST.decisions)})
        assert done.status_code == 200, done.text
        text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        assert _metric(text, "meldcode_http_requests_total", endpoint="healthz", method="GET",
                       status="200") == 12
        assert _metric(text, "meldcode_case_starts_total") == 1
        assert _metric(text, "meldcode_task_completions_total") == 1
        assert _metric(text, "meldcode_http_request_duration_seconds_count",
                       endpoint="healthz") == 12
    finally:
        stop_server(proc)


# --- backup and restore -----------------------------------------------------------------------




def test_backup_and_restore_pass_verify(db_url, people, tmp_path, request):
    walk_some_cases(db_url)
    backup = tmp_path / "reserve.bak"
    result = operator_run("backup", "-o", str(backup), url=db_url)
    assert result.returncode == 0, result.stderr
    assert backup.stat().st_size > 0 and not Path(f"{backup}.tmp").exists()
    if db_url.startswith("sqlite"):
        # Restore: copy the file into place.
        restored_path = tmp_path / "teruggezet.sqlite"
        shutil.copyfile(backup, restored_path)
        restored = f"sqlite:///{restored_path}"
    else:
        restored = request.getfixturevalue("pg_server").create_database()
        from sqlalchemy.engine import make_url

        dsn = make_url(restored).set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run([str(PG_BIN / "pg_restore"), "--no-owner", "--exit-on-error", "-d", dsn,
                        str(backup)], check=True, capture_output=True)
    with store.unit_of_work(url=restored) as session:
        assert session.scalar(select(func.count()).select_from(models.Case)) == 3
    verify = operator_run("verify", "--all", url=restored)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # A changed copy does not pass: the check means something.
    with store.unit_of_work(write=True, url=restored) as session:
        session.execute(models.Case.__table__.update().values(client_ref="vervalst"))
    assert operator_run("verify", "--all", url=restored).returncode == 1
    store.dispose_engines()


def test_backup_of_sqlite_while_writing(sqlite_url, sqlite_people, tmp_path):
    """The online backup takes a consistent snapshot while a writer goes on."""
    stop = threading.Event()

    def write():
        i = 0
        while not stop.is_set():
            walk_some_cases(sqlite_url, 1, f"schrijf-{i}")
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(0.5)
        result = meldcode_cli("backup", "-o", str(tmp_path / "b.sqlite"))
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 0, result.stderr
    verify = operator_run("verify", "--all", url=f"sqlite:///{tmp_path / 'b.sqlite'}")
    assert verify.returncode == 0, verify.stdout


def test_backup_without_pg_dump_or_database_says_so(tmp_path):
    result = meldcode_cli("backup", "-o", str(tmp_path / "x"),
                          env={"MELDCODE_DATABASE_URL": f"sqlite:///{tmp_path / 'geen.sqlite'}"})
    assert result.returncode == 2 and "bestaat niet" in result.stderr
