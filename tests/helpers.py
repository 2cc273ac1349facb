"""Plain helpers shared by test modules (fixtures live in the conftest.py files).

A test module imports what it shares from here, never from another test module
(tests/test_layout.py checks that)."""

from __future__ import annotations

import contextlib
import email
import email.policy
import html
import logging
import re
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache

from aiosmtpd.controller import Controller
from babel.messages.pofile import read_po
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy import text as sql_text

from engine import audit, cases, clock, definitions, forms, mail, models, store, tasks, versions
from engine.definitions import SourceFile
from tests.conftest import PASSWORD, ROOT, free_port, meldcode_cli
from tests.scenarios.paths import LONGEST, SCENARIOS, TEAM_STEPS, fill
from webui.cli import main as meldcode

# --- the staff web UI through Flask's test client ---------------------------------------------

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Client:
    """A test client that behaves like a browser: keeps cookies, takes the CSRF token from
    the last page it saw."""

    def __init__(self, app, base_url="http://localhost"):
        self.http = app.test_client()
        self.token = None
        self.base_url = base_url

    def get(self, path, **kw):
        response = self.http.get(path, base_url=self.base_url, **kw)
        found = TOKEN.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, path, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            if self.token is None:
                self.get("/aanmelden")
            data["csrf_token"] = self.token
        # A browser sends the Referer of a same-origin form (strict CSRF under HTTPS checks it).
        headers = {"Referer": self.base_url + "/", **kw.pop("headers", {})}
        return self.http.post(path, data=data, base_url=self.base_url, headers=headers, **kw)

    def logout(self):
        self.get("/")
        return self.post("/afmelden")

    def login(self, name, password=PASSWORD):
        self.get("/aanmelden")
        response = self.post("/aanmelden", {"naam": name, "wachtwoord": password})
        if self.get("/").status_code == 302:
            # a role with a start page of its own (tasks.START_PAGES): a page's form token from
            # a page that reads no case (the start page may list cases, in the access log)
            self.get("/meldcode")
        return response


@contextlib.contextmanager
def write_lock_held():
    """For the block, the database's write lock is held by another thread of this process (a
    write unit of work that waits), as a long writer would hold it; given back after it."""
    held, done = threading.Event(), threading.Event()

    def hold():
        with store.unit_of_work(write=True):
            held.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5), "the write lock was not taken"
        yield
    finally:
        done.set()
        holder.join()


def use_smtp(monkeypatch, port: int, emails: dict[str, str]) -> None:
    """Mail through the SMTP server on 127.0.0.1:`port`, from and with links to the test
    organisation's addresses; each user named in `emails` gets that address."""
    from engine import users

    monkeypatch.setenv("MELDCODE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("MELDCODE_MAIL_FROM", "meldcode@zorg.example")
    monkeypatch.setenv("MELDCODE_BASE_URL", "https://meldcode.zorg.example/")
    with store.unit_of_work(write=True) as session:
        for name, address in emails.items():
            users.set_email(session, name, address)


def text(response) -> str:
    return response.get_data(as_text=True)


# --- cases walked to the end and tampering in the database ------------------------------------


def finished_case(people, scenario=LONGEST):
    case = cases.start_case(people["mw"], {"client_ref": "dossier"})
    while case["tasks"]:
        who = people[LANE_PEOPLE[case["tasks"][0]["lane"]]]  # mw's leidinggevende is lg
        task = tasks.get_task(who, case["tasks"][0]["id"])
        case = tasks.complete_task(who, task["id"], fill(task["form"]["fields"], scenario.decisions))
    return case


def run_sql(url, sql, **params):
    """Tamper as someone with full database access would: first drop the append-only guards."""
    drop_guards(url)
    with store.unit_of_work(write=True, url=url) as session:
        session.execute(sql_text(sql), params)


def drop_guards(url):
    """Drop the append-only triggers by hand, as an intruder with full access would."""
    with store.unit_of_work(write=True, url=url) as session:
        for table in ("history_events", "access_log"):
            if url.startswith("postgresql"):
                session.execute(sql_text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
            else:
                for event in ("update", "delete"):
                    session.execute(sql_text(f"DROP TRIGGER IF EXISTS {table}_no_{event}"))


def write_raw(db_url: str, statement: str, **params) -> None:
    """SQL as a database writer with the file or the server runs it: no product code, no seal,
    no admin-log line, the append-only guards and foreign keys left in place; SQLite through
    its own driver (it keeps what it is given)."""
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement, params)
        return
    with store.unit_of_work(write=True) as session:
        session.execute(sql_text(statement), params)


def write_as_database_writer(db_url: str, statement: str, **params) -> None:
    """SQL as a database writer with the file or the server runs it: no product code, no
    append-only guard, no foreign key (PostgreSQL: replica role; SQLite: its own driver, which
    keeps what it is given)."""
    drop_guards(db_url)
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement, params)
    else:
        with store.unit_of_work(write=True) as session:
            session.execute(sql_text("SET LOCAL session_replication_role = replica"))
            session.execute(sql_text(statement), params)
    store.dispose_engines()


def taken(kinds: dict[str, str]) -> list:
    """(database, kind) for each kind of damage on each database that takes its value, as
    pytest parameters with the id `database-kind`: `kinds` maps a kind to "sqlite",
    "postgresql" or "both"."""
    import pytest

    return [pytest.param(database, kind, id=f"{database}-{kind}") for kind, takes in kinds.items()
            for database in ("sqlite", "postgresql") if takes in ("both", database)]


def only_on(database: str):
    """Parametrize db_url with `database` alone ("sqlite" or "postgresql"): for a test of a
    value the other database refuses itself (the test there used to make that database and
    its People and then skip)."""
    import pytest

    return pytest.mark.parametrize("db_url", [database], indirect=True)


def where_taken(kinds: dict[str, str]):
    """Parametrize a test over (db_url, kind) for each kind of damage on each database that
    takes its value (`taken`). A database that refuses a value itself has nothing to test;
    the test of it used to make that database, its People and a case before skipping
    (seconds each in a damage matrix); now it does not exist. The test's fixtures read the
    kind from the parameter `kind`."""
    import pytest

    return pytest.mark.parametrize(("db_url", "kind"), taken(kinds), indirect=["db_url"])


# --- a case that can no longer go on (a stall planted in an older version) --------------------

# The melding without talking it through first: the route that meets the planted join.
STALLING = next(s for s in SCENARIOS if s.name == "hulp_niet_aanvaard_melden_zonder_voorbespreken")
JOIN = "gw_melding_samen"
LANE_PEOPLE = {"medewerker": "mw", "leidinggevende": "lg", "aandachtsfunctionaris": "af"}


SHIPPED_BPMN = (ROOT / "processes" / "meldcode.bpmn").read_bytes()


def relabelled(suffix: str) -> bytes:
    """The shipped meldcode.bpmn with `suffix` added to stap 1's name: different files (a new
    version) that behave the same."""
    from lxml import etree

    root = etree.fromstring(SHIPPED_BPMN)
    task = root.xpath("//*[@id='stap1_signalen']")[0]
    task.set("name", task.get("name") + suffix)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def planted_files() -> list[SourceFile]:
    """The shipped meldcode with the melding's merge made a parallel join."""
    files = definitions.shipped_files()
    bpmn = next(f for f in files if f.kind == "bpmn")
    xml, count = re.subn(
        rf'<bpmn:exclusiveGateway id="{JOIN}"([^>]*)>(.*?)</bpmn:exclusiveGateway>',
        rf'<bpmn:parallelGateway id="{JOIN}"\1>\2</bpmn:parallelGateway>',
        bpmn.content.decode(), flags=re.S)
    assert count == 1, "the shipped diagram no longer merges the melding at " + JOIN
    return [SourceFile(bpmn.name, xml.encode()), *[f for f in files if f.kind == "dmn"]]


def renamed_files(old: str, new: str) -> list[SourceFile]:
    """The shipped meldcode with one user task's id renamed (a step another version lacks)."""
    files = definitions.shipped_files()
    return [SourceFile(f.name, f.content.replace(old.encode(), new.encode()))
            if f.kind == "bpmn" else f for f in files]


def store_version(files: list[SourceFile], monkeypatch, active: bool = True,
                  parse: bool = True) -> int:
    """Store a file set as a version row, the way a deploy of an earlier release did, without
    today's checks. A stored version loads without those checks (definitions.parse_stored),
    so a stricter check of a later release never strands the cases on it."""
    if parse:
        definitions.cached(definitions.set_sha256(files), lambda: files)
    with store.unit_of_work(write=True) as session:
        number = (session.scalar(select(func.max(models.ProcessVersion.version))) or 0) + 1
        if active:
            for row in session.scalars(select(models.ProcessVersion)):
                row.active = False
        row = models.ProcessVersion(version=number, sha256=definitions.set_sha256(files),
                                   deployed_by="vorige release", active=active)
        row.files = [models.ProcessFile(name=f.name, kind=f.kind, sha256=f.sha256,
                                       content=f.content) for f in files]
        session.add(row)
        # its deploy line, as releases since the admin log wrote it (verify --all compares the
        # stored files with it: engine/config_seals.py)
        audit.log_admin(session, "vorige release", "process_deployed", {
            "version": number, "sha256": row.sha256, "files": [f.name for f in files]})
    return number


def activate(number: int) -> None:
    with store.unit_of_work(write=True) as session:
        for row in session.scalars(select(models.ProcessVersion)):
            row.active = row.version == number


def person(name: str):
    """The Principal of the user `name` (a test's people without the People fixture)."""
    from engine.users import Principal

    with store.unit_of_work() as session:
        user = session.scalar(select(models.User).where(models.User.name == name))
        return Principal.of(user, "127.0.0.1")


def actor_of(people, task: dict, owner: str = "mw"):
    """Who completes `task`: the owner for the medewerker lane, else the lane's person (mw's
    leidinggevende is lg; a case of an owner without one may go to any leidinggevende)."""
    name = owner if task["lane"] == "medewerker" else LANE_PEOPLE[task["lane"]]
    return people[name] if people is not None else person(name)


def team_done(people, case: dict, decisions: dict | None = None, owner: str = "mw") -> dict:
    """The team's steps around the route (TEAM_STEPS: the leidinggevende's afstemming of the
    stap 5 decisions, the feedback of Veilig Thuis after a melding) done at once, as soon as
    they are ready, by their people: a walker that follows only the route's own steps calls
    this after each completion. Returns the case after them."""
    while True:
        task = next((t for t in case["tasks"] if t["step"] in TEAM_STEPS), None)
        if task is None:
            return case
        who = actor_of(people, task, owner)
        form = tasks.get_task(who, task["id"])["form"]["fields"]
        case = tasks.complete_task(who, task["id"], fill(form, decisions or {}))


def team_done_api(client, people, case: dict, decisions: dict | None = None,
                  owner: str = "mw") -> dict:
    """team_done through the JSON API (a Flask test client and the People fixture)."""
    while True:
        task = next((t for t in case["tasks"] if t["step"] in TEAM_STEPS), None)
        if task is None:
            return case
        name = owner if task["lane"] == "medewerker" else LANE_PEOPLE[task["lane"]]
        form = client.get(f"/api/v1/tasks/{task['id']}", headers=people.auth(name)).json
        r = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=people.auth(name),
                        json={"data": fill(form["form"]["fields"], decisions or {})})
        assert r.status_code == 200, r.json
        case = r.json


def walk(people, case: dict, decisions: dict, stop_at: str | None = None) -> dict:
    """Complete ready tasks as their people would, with the scenario's answers, until none is
    ready (or the step stop_at is ready). The team's steps (TEAM_STEPS) go first when ready:
    the team acts at once, the route's own steps follow as before."""
    while case["tasks"]:
        task = next((t for t in case["tasks"] if t["step"] in TEAM_STEPS), case["tasks"][0])
        if task["step"] == stop_at:
            return case
        who = people[LANE_PEOPLE[task["lane"]]]
        form = tasks.get_task(who, task["id"])["form"]["fields"]
        case = tasks.complete_task(who, task["id"], fill(form, decisions))
    return case


def stuck_case(people, ref: str = "C-vast") -> dict:
    case = cases.start_case(people["mw"], {"client_ref": ref, "reason": "zorgen"})
    return walk(people, case, STALLING.decisions)


def events_of(case_id: int) -> list[models.HistoryEvent]:
    with store.unit_of_work() as session:
        return list(session.scalars(select(models.HistoryEvent).where(
            models.HistoryEvent.case_id == case_id).order_by(models.HistoryEvent.seq)))


def verify(*case_ids: int):
    from engine import verification

    with store.unit_of_work() as session:
        return {v.case_id: v for v in verification.verify_all(session, list(case_ids) or None)}


def operator_cli(*args: str, url: str):
    """`meldcode ARGS` as an operator runs it on the database at `url`, with no connection of
    this process left open (a restore refuses while one is)."""
    store.dispose_engines()
    return meldcode_cli(*args, env={"MELDCODE_DATABASE_URL": url})


def operator_run(*args: str, url: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`meldcode ARGS` on the database at `url` (`env`: more variables for the command's
    run, such as MELDCODE_INSTANCE), run in this process (click's CliRunner)
    where operator_cli starts the installed command: for a test about what the command does,
    not about the process (signals, kill -9, a closed standard output, waiting on a FIFO,
    locks between processes keep operator_cli). A process costs about 1.5 s of CPU, most of
    it imports. No connection of this process is open before or after (a restore refuses
    while one is, and swaps the database under any left open). Out: exit code, standard
    output and error as a finished process gives them; an exception the command does not
    turn into an exit code is raised (where a process printed its traceback). The root
    logger is as a new process has it while the command runs (no handler, WARNING): the JSON
    handler an earlier command or app of this test process added would print what the
    command's own process never shows (alembic's INFO lines on standard error)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    store.dispose_engines()
    root.handlers = []
    root.setLevel(logging.WARNING)  # setLevel: the loggers' cached levels are cleared too
    try:
        result = CliRunner().invoke(meldcode, list(args), catch_exceptions=False,
                                    env={**(env or {}), "MELDCODE_DATABASE_URL": url})
    finally:
        root.handlers = handlers
        root.setLevel(level)
        store.dispose_engines()
    return subprocess.CompletedProcess(["meldcode", *args], result.exit_code, result.stdout,
                                       result.stderr)


def restored_lines(url: str) -> list[dict]:
    """The details of every database_restored line of the admin log, oldest first."""
    with store.unit_of_work(url=url) as session:
        rows = session.scalars(
            select(models.AdminLogEntry)
            .where(models.AdminLogEntry.action == "database_restored")
            .order_by(models.AdminLogEntry.id)
        )
        return [dict(row.detail) for row in rows]


def copy_database(source: str, target: str) -> None:
    """Make the database at `target` a copy of the one at `source`: a scene built once per
    module (seconds of command-line runs) is copied for each test (milliseconds). SQLite:
    through its online backup into the file at `target`; PostgreSQL: `target` (on the same
    server) dropped if it exists and made anew with `source` as its template. The log's head
    record of `source` (engine/log_head.py, kept under the instance folder by the database's
    identity) becomes `target`'s. Disposes of this process's engines first: a template must
    have no connection. Raises psycopg errors when PostgreSQL refuses."""
    from sqlalchemy.engine import make_url

    from engine import log_head

    store.dispose_engines()
    if source.startswith("sqlite"):
        reader = sqlite3.connect(source.removeprefix("sqlite:///"))
        writer = sqlite3.connect(target.removeprefix("sqlite:///"))
        try:
            reader.backup(writer)
        finally:
            reader.close()
            writer.close()
    else:
        import psycopg

        origin, copy = make_url(source), make_url(target)
        with psycopg.connect(host=origin.host, port=origin.port, user=origin.username,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{copy.database}" WITH (FORCE)')
            for attempt in range(50):
                try:
                    conn.execute(f'CREATE DATABASE "{copy.database}" TEMPLATE "{origin.database}"')
                    break
                except psycopg.errors.ObjectInUse:  # a closed connection still leaving it
                    if attempt == 49:
                        raise
                    time.sleep(0.1)
    head = log_head.path_for(store.get_engine(source))
    record = log_head.path_for(store.get_engine(target))
    if head.exists():
        record.write_bytes(head.read_bytes())
    else:
        record.unlink(missing_ok=True)
    store.dispose_engines()


def from_scene(scenes: dict, name: str, db_url: str, tmp_path_factory, build):
    """What `build(db_url)` gives, on the test's database: the first test of a module (per
    scene name and database kind) runs `build` and keeps a copy of the database it left;
    every later one gets a copy of that (copy_database, milliseconds) and what `build` gave
    the first. For a scene every test of the module starts from unchanged, which takes
    seconds to build (cases walked to their end, command-line runs). `scenes`: a dict of
    the module (a module-scoped fixture)."""
    key = (name, db_url.split(":")[0])
    if key not in scenes:
        result = build(db_url)
        kept = spare_url(db_url, tmp_path_factory.mktemp(name))
        copy_database(db_url, kept)
        scenes[key] = kept, result
        return result
    kept, result = scenes[key]
    copy_database(kept, db_url)
    return result


def spare_url(url: str, folder) -> str:
    """A place for a copy of the database at `url` (copy_database): a new file in `folder`
    for SQLite, a new database name on the same server for PostgreSQL."""
    import uuid

    from sqlalchemy.engine import make_url

    name = "s_" + uuid.uuid4().hex[:12]
    if url.startswith("sqlite"):
        return f"sqlite:///{folder}/{name}.sqlite"
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def cli(*args: str):
    return CliRunner().invoke(meldcode, list(args), catch_exceptions=False)


def verify_all() -> tuple[int, str]:
    """`meldcode verify --all` on the current database: its exit code and output."""
    result = cli("verify", "--all")
    return result.exit_code, result.output


def config_problems() -> list[str]:
    """What verify --all finds outside the cases (users, tokens, process files, settings),
    in Dutch (engine/config_seals.py problems)."""
    from engine import config_seals

    with store.unit_of_work() as session:
        return config_seals.problems(session.connection())


# --- a real `meldcode serve` --------------------------------------------------------------------

MELDCODE = str(ROOT / ".venv" / "bin" / "meldcode")


def start_server(env: dict, *args: str) -> tuple[subprocess.Popen, int]:
    """`meldcode serve` on a free loopback port, in its own process group; returns the
    process and its port once it accepts connections. A port taken before the server bound
    it (by the other xdist worker) is tried again with another."""
    for _attempt in range(3):
        port = free_port()
        errors = tempfile.TemporaryFile()
        proc = subprocess.Popen([MELDCODE, "serve", "--port", str(port), *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=errors,
                                start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if proc.poll() is not None:
                errors.seek(0)
                if b"al in gebruik" in errors.read():
                    break
                raise RuntimeError(f"meldcode serve stopped with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return proc, port
            except OSError:
                time.sleep(0.1)
        else:
            proc.kill()
            raise RuntimeError("meldcode serve did not start")
    raise RuntimeError("meldcode serve found no free port")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --- the browser: a person filling in the task forms (Playwright pages) -----------------------


def _definition():
    return definitions.load(definitions.shipped_files())


DEFINITION = None


def step_fields(step: str, case_data: dict | None = None) -> list[dict]:
    """The fields of a step of the shipped diagram (as the API gives each); with `case_data`
    only those on the form of a case with that data (forms.shown_fields: e.g. the KNMG points
    on a doctor's case only), else every field of the step."""
    global DEFINITION
    if DEFINITION is None:
        DEFINITION = _definition()
    fields = DEFINITION.steps[step].fields
    if case_data is not None:
        fields = forms.shown_fields(fields, case_data)
    return [f.as_dict() for f in fields]


def start_case(page, client_ref: str, reason: str = "Zorgen over blauwe plekken") -> None:
    from playwright.sync_api import expect  # only the browser tests need Playwright

    page.goto("/casussen/nieuw")
    page.get_by_label("Cliëntreferentie").fill(client_ref)
    page.get_by_label("Korte aanleiding").fill(reason)
    with page.expect_navigation():
        page.get_by_role("button", name="Casus starten").click()
    expect(page.locator("form.task-form")).to_have_attribute("data-step", "stap1_signalen")


def fill_task(page, decisions: dict) -> str:
    """Fill the open task form as a person would: the choices first, then the text of the
    fields that are shown after those choices."""
    step = page.locator("form.task-form").get_attribute("data-step")
    fields = step_fields(step)
    data = fill(fields, decisions)
    for f in fields:
        if f["name"] in data and f["type"] in ("boolean", "enum"):
            value = data[f["name"]]
            if f["type"] == "boolean":
                value = "ja" if value else "nee"
            page.locator(f"#{f['name']}-{value}").check()
        elif f["name"] in data and f["type"] == "multi":  # a box ticked per option chosen
            for value in data[f["name"]]:
                page.locator(f"#{f['name']}-{value}").check()
    for f in fields:
        if f["name"] in data and f["type"] not in ("boolean", "enum", "multi"):
            control = page.locator(f"#{f['name']}")
            if control.is_visible():
                control.fill(str(data[f["name"]]))
    return step


def submit(page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Stap afronden").click()


def form_step(page) -> str:
    """The step (element id) of the task form open on `page`."""
    return page.locator("form.task-form").get_attribute("data-step")


def walk_to(page, step: str, decisions: dict) -> None:
    """Complete the open case's tasks in the browser with `decisions` until `step`'s form is
    open; each step must be accepted without a field error."""
    from playwright.sync_api import expect  # only the browser tests need Playwright

    while form_step(page) != step:
        fill_task(page, decisions)
        submit(page)
        expect(page.locator(".field-error")).to_have_count(0)


# --- the English UI: what a person reads, and the Dutch of the catalogue in it ------------

EN_PO = ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{[^{}]*\}")


@cache
def dutch_fragments() -> tuple[str, ...]:
    """The Dutch texts of the catalogue that read differently in English, as the pieces that
    stand between their placeholders (a piece of one word under 4 letters says too little, and
    a piece the English keeps, such as a name, is no Dutch)."""
    with open(EN_PO, "rb") as fh:
        catalogue = read_po(fh)
    pieces = set()
    for message in catalogue:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if ids[0] == strings[0]:
            continue
        # the English with its placeholders as separators, as a page shows it with values
        # filled in: "‘%(label)s’ is" keeps the piece "’ is" of the Dutch "‘%(value)s’ is."
        kept = " | ".join(PLACEHOLDER.sub("|", string) for string in strings)
        for msgid in ids:
            for piece in PLACEHOLDER.split(msgid):
                piece = piece.strip(" .,:;()'\"")
                if (len(piece) >= 4 or " " in piece) and not re.search(
                        rf"(?<!\w){re.escape(piece)}(?!\w)", kept):
                    pieces.add(piece)
    return tuple(sorted(pieces, key=len, reverse=True))


@cache
def diagram_texts() -> tuple[str, ...]:
    """Every text of the shipped diagram and decision table: names, labels, options, help,
    documentation."""
    found = set()
    for path in (ROOT / "processes").glob("*.*mn"):
        for node in etree.parse(str(path)).iter():
            if not isinstance(node.tag, str):
                continue
            for attribute in ("name", "label", "value"):
                if node.get(attribute):
                    found.add(node.get(attribute).strip())
            if node.text and node.text.strip():
                found.add(node.text.strip())
    return tuple(sorted((t for t in found if t), key=len, reverse=True))


READ_ATTRIBUTES = re.compile(r'\s(?:title|aria-label|placeholder|alt)="([^"]*)"')


def readable(page: str, also_own: tuple[str, ...] = ()) -> str:
    """What a person reads: the text without scripts and styles, and the attributes people
    see or hear, with the diagram's own texts (and `also_own`: those texts with the
    organisation's settings filled in) taken out."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    attributes = " | ".join(READ_ATTRIBUTES.findall(page))
    body = re.sub(r"<[^>]+>", " | ", page)
    shown = html.unescape(body + " | " + attributes)
    shown = re.sub(r"\s+", " ", shown)
    for own in (*sorted(also_own, key=len, reverse=True), *diagram_texts()):
        shown = shown.replace(re.sub(r"\s+", " ", own), " | ")
    return shown


def dutch_in(page: str, also_own: tuple[str, ...] = ()) -> list[str]:
    shown = readable(page, also_own)
    return [piece for piece in dutch_fragments()
            if re.search(rf"(?<!\w){re.escape(piece)}(?!\w)", shown)]


def english(browser_like, name: str):
    browser_like.login(name)
    browser_like.post("/taal", {"taal": "en", "next": "/"})
    return browser_like


def walk_some_cases(url: str, count: int = 3, prefix: str = "reserve") -> None:
    """Start `count` cases as mw on the database `url` and complete a few steps of each (2 for
    the first, one more for each next), through the engine: history for backup and restore."""
    from engine import users

    with store.unit_of_work(url=url) as session:
        mw = users.Principal.of(session.scalar(select(models.User).where(models.User.name == "mw")))
    for i in range(count):
        case = cases.start_case(mw, {"client_ref": f"{prefix}-{i}"})
        for _ in range(2 + i):
            if not case["tasks"]:
                break
            task = tasks.get_task(mw, case["tasks"][0]["id"])
            case = tasks.complete_task(mw, task["id"], fill(task["form"]["fields"], LONGEST.decisions))


# --- a version with timers (tests/engine/test_timers.py and the tests of firing) -------------

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "camunda": "http://camunda.org/schema/1.0/bpmn"}
B = "{" + NS["bpmn"] + "}"
C = "{" + NS["camunda"] + "}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _one(root, xpath):
    [found] = root.xpath(xpath, namespaces=NS)
    return found


def _place(process, element):
    """Among the flow elements (the schema wants them before the artifacts)."""
    process.xpath("bpmn:sequenceFlow", namespaces=NS)[-1].addnext(element)
    return element


def _event(process, tag, element_id, kind, text, **attrs):
    event = _place(process, etree.Element(B + tag, id=element_id, name=element_id, **attrs))
    definition = etree.SubElement(event, B + "timerEventDefinition", id=f"{element_id}_def")
    etree.SubElement(definition, B + kind).text = text
    definition[0].set(XSI, "bpmn:tFormalExpression")
    return event


def _flow(process, flow_id, source, target):
    _place(process, etree.Element(B + "sequenceFlow", id=flow_id, sourceRef=source,
                                  targetRef=target))


def timer_files() -> list[SourceFile]:
    """The shipped meldcode with, between stap 1 and stap 2: a wait until `wachten_tot` (a
    required date field of stap 1), then two hours; on stap 2 a non-interrupting boundary
    timer R2/PT1H (to an end event) and an interrupting one after P1D (stap 2 opens again)."""
    root = etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())
    process = _one(root, "//bpmn:process[@id='meldcode']")
    form = _one(root, "//bpmn:userTask[@id='stap1_signalen']//camunda:formData")
    field = etree.SubElement(form, C + "formField", id="wachten_tot", label="Wachten tot",
                             type="date")
    etree.SubElement(etree.SubElement(field, C + "validation"), C + "constraint",
                     name="required")
    _one(root, "//bpmn:sequenceFlow[@id='sf_stap1_stap2']").set("targetRef", "wacht_datum")
    _event(process, "intermediateCatchEvent", "wacht_datum", "timeDate", "wachten_tot")
    _event(process, "intermediateCatchEvent", "wacht_duur", "timeDuration", "PT2H")
    _flow(process, "sf_datum_duur", "wacht_datum", "wacht_duur")
    _flow(process, "sf_duur_stap2", "wacht_duur", "stap2_overleg")
    _event(process, "boundaryEvent", "herinner", "timeCycle", "R2/PT1H",
           attachedToRef="stap2_overleg", cancelActivity="false")
    _place(process, etree.Element(B + "endEvent", id="einde_herinner", name="Herinnerd"))
    _flow(process, "sf_herinner", "herinner", "einde_herinner")
    lane = _one(root, "//bpmn:lane[@id='lane_medewerker']")
    for element in ("wacht_datum", "wacht_duur", "herinner", "einde_herinner"):
        etree.SubElement(lane, B + "flowNodeRef").text = element
    bpmn = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    dmn = (ROOT / "processes" / "afwegingskader.dmn").read_bytes()
    return [SourceFile("meldcode.bpmn", bpmn), SourceFile("afwegingskader.dmn", dmn)]


_FILES: list[SourceFile] = []


def deploy_timers() -> int:
    """Deploy the timer version the way a process owner does (check, proof, store, active)."""
    if not _FILES:
        _FILES.extend(timer_files())
    return versions.deploy_files(_FILES, by="pb")["version"]


def complete_stap1(people, case, wachten_tot: str) -> dict:
    [task] = case["tasks"]
    form = tasks.get_task(people["mw"], task["id"])["form"]["fields"]
    return tasks.complete_task(people["mw"], task["id"], fill(form, {"wachten_tot": wachten_tot}))


def fired(case_id: int) -> list[models.HistoryEvent]:
    return [e for e in events_of(case_id) if e.action == "timer_fired"]


# --- shared by several test modules (tests/test_layout: never import a test module) ----------

DATE_WAIT_START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Amsterdam


class Inbox:
    """An aiosmtpd handler that keeps each message's recipients and To header."""

    def __init__(self):
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, str(message["To"])))
        return "250 OK"


def deliver(port: int) -> Inbox:
    """Run the mail delivery three times, as the worker does, against an SMTP server on `port`;
    out: what the server received."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for _ in range(3):  # as the worker runs it: again and again
            mail.deliver_mail(clock.now())
    finally:
        controller.stop()
    return inbox


def deploy_date_wait() -> int:
    """The shipped meldcode with, between stap 1 and stap 2, a wait until `wachten_tot` (a
    required date field of stap 1), deployed as a process owner does."""
    root = etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())
    process = _one(root, "//bpmn:process[@id='meldcode']")
    form = _one(root, "//bpmn:userTask[@id='stap1_signalen']//camunda:formData")
    field = etree.SubElement(form, C + "formField", id="wachten_tot", label="Wachten tot", type="date")
    etree.SubElement(etree.SubElement(field, C + "validation"), C + "constraint", name="required")
    _one(root, "//bpmn:sequenceFlow[@id='sf_stap1_stap2']").set("targetRef", "wacht_datum")
    last = process.xpath("bpmn:sequenceFlow", namespaces=NS)[-1]
    event = etree.Element(B + "intermediateCatchEvent", id="wacht_datum", name="wacht_datum")
    definition = etree.SubElement(event, B + "timerEventDefinition", id="wacht_datum_def")
    etree.SubElement(definition, B + "timeDate").text = "wachten_tot"
    definition[0].set("{http://www.w3.org/2001/XMLSchema-instance}type", "bpmn:tFormalExpression")
    last.addnext(event)
    event.addnext(
        etree.Element(
            B + "sequenceFlow", id="sf_datum_stap2", sourceRef="wacht_datum", targetRef="stap2_overleg"
        )
    )
    lane = _one(root, "//bpmn:lane[@id='lane_medewerker']")
    etree.SubElement(lane, B + "flowNodeRef").text = "wacht_datum"
    files = [
        SourceFile("meldcode.bpmn", etree.tostring(root, xml_declaration=True, encoding="UTF-8")),
        SourceFile("afwegingskader.dmn", (ROOT / "processes" / "afwegingskader.dmn").read_bytes()),
    ]
    return versions.deploy_files(files, by="pb")["version"]




def waiting_date_case(people) -> int:
    """A case waiting at wacht_datum until 10 Dec 2026 (DUE)."""
    with clock.use(DATE_WAIT_START):
        case = cases.start_case(people["mw"], {"client_ref": "C-timer", "reason": "zorgen"})
        [task] = case["tasks"]
        form = tasks.get_task(people["mw"], task["id"])["form"]["fields"]
        tasks.complete_task(people["mw"], task["id"], fill(form, {"wachten_tot": "2026-12-10"}))
        return case["id"]




# The organisation's settings a meldcode document is written with (test_meldcode_document and
# others that need a complete organisation).
DOCUMENT_SETTINGS = {
    "organisatie_naam": "Zorggroep De Linde",
    "beroepsgroep": "sociaal_domein",
    "veilig_thuis_telefoon": "0800-2000",
    "veilig_thuis_regio_naam": "Veilig Thuis Utrecht",
    "veilig_thuis_regio_telefoon": "030 123 45 67",
    "veilig_thuis_regio_adres": "Voorbeeldstraat 12",
    "veilig_thuis_regio_postcode": "3511 ab",
    "veilig_thuis_regio_plaats": "Utrecht",
    "veilig_thuis_regio_website": "https://www.veiligthuis-utrecht.example/",
    "rijen": "1",
    "af-0-naam": "Fatima el Amrani", "af-0-functie": "GZ-psycholoog",
    "af-0-telefoon": "06-12345678", "af-0-email": "f.elamrani@linde.example",
}


@contextmanager
def reading(language: str = "nl"):
    """An application context in which documents are rendered in `language`."""
    from flask_babel import force_locale

    from webui import create_app

    with create_app({"TESTING": True}).app_context(), force_locale(language):
        yield


# A KNMG doctor's answers (beroepsgroep artsen) that reach stap 3 with the client not reached
# (test_unasked_default, test_unasked_multi; the doctor_api fixture in tests/webui/conftest.py).
DOCTOR = {
    "beroepsgroep": "artsen",
    "kindcheck_kinderen": False,
    "gesprek_uitzondering": "geen",
    "advies_veilig_thuis": False,
    "client_niet_bereikt": True,
}


def ready_task(case: dict, step: str) -> dict:
    """The ready task of `step` in the case view `case`."""
    return next(t for t in case["tasks"] if t["step"] == step)


def to_stap3(api) -> tuple[dict, dict]:
    """A doctor's case at stap 3; (the stap 3 task, the answers of a client not reached
    without zorgen_weggenomen, as a careful client fills them)."""
    case = api("POST", "/cases", status=201, json={"client_ref": "C-niet-bereikt"})
    for step in ("stap1_signalen", "stap2_overleg"):
        task = ready_task(case, step)
        fields = api("GET", f"/tasks/{task['id']}")["form"]["fields"]
        data = fill(fields, DOCTOR)
        if step == "stap1_signalen":
            data["geweldsvormen"] = ["lichamelijk"]
        case = api("POST", f"/tasks/{task['id']}/complete", json={"data": data})
    task = ready_task(case, "stap3_gesprek")
    fields = api("GET", f"/tasks/{task['id']}")["form"]["fields"]
    data = fill(fields, DOCTOR)
    assert "zorgen_weggenomen" not in data and data["client_niet_bereikt"] is True
    return task, data


def export_outcomes(case_id: int) -> list[str]:
    """The outcomes of case `case_id`'s export lines in the access log ("ok", "denied"), in
    the order they were written."""
    with store.unit_of_work() as session:
        return list(session.scalars(
            select(models.AccessLogEntry.outcome)
            .where(models.AccessLogEntry.case_id == case_id)
            .where(models.AccessLogEntry.action == "export")
            .order_by(models.AccessLogEntry.id)))
