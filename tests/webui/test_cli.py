"""The `meldcode` command as an operator uses it (CONTRACT section 3): the installed command
where its process matters (the first init, a password on standard input, variables read at
start, serve), in the test process (tests/helpers.py operator_run) where only what the command
does is checked."""

import shutil
import subprocess

import pytest
import requests
from lxml import etree

from tests.conftest import ROOT, LiveServer, meldcode_cli
from tests.helpers import operator_run


@pytest.fixture
def env(tmp_path):
    return {"MELDCODE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
            "MELDCODE_INSTANCE": str(tmp_path / "instance")}


def run(*args: str, env: dict):
    """`meldcode ARGS` in the test process with the variables of `env` (operator_run)."""
    return operator_run(*args, url=env["MELDCODE_DATABASE_URL"], env=env)


def made(env: dict, prepared_url: str) -> dict:
    """env's database as a first `meldcode init` leaves it (migrated, the shipped set
    deployed): a copy of the suite's prepared database (the sqlite_url fixture's), for a
    test whose subject comes after its init. That init still runs and finds nothing to do;
    on an empty database it would deploy, and deploying proves the set (seconds of CPU in
    the command's process). Out: env."""
    from engine import store

    store.dispose_engines()
    shutil.copyfile(prepared_url.removeprefix("sqlite:///"),
                    env["MELDCODE_DATABASE_URL"].removeprefix("sqlite:///"))
    return env


def test_init_is_idempotent_and_demo_users_work(env):
    first = meldcode_cli("init", "--demo", env=env)
    assert first.returncode == 0, first.stderr
    assert "versie 1" in first.stdout and "medewerker" in first.stdout
    again = meldcode_cli("init", "--demo", env=env)
    assert again.returncode == 0, again.stderr
    assert "aangemaakt" not in again.stdout and "gepubliceerd" not in again.stdout
    token = meldcode_cli("token", "create", "medewerker", env=env)
    assert token.returncode == 0
    lines = token.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0]) > 30


def test_user_add(env, sqlite_url):
    assert meldcode_cli("init", env=made(env, sqlite_url)).returncode == 0
    ok = meldcode_cli("user", "add", "baas", "--role", "leidinggevende", "--password-stdin",
                      env=env, input="een-goed-wachtwoord\n")
    assert ok.returncode == 0, ok.stderr
    ok = meldcode_cli("user", "add", "jan", "--role", "medewerker", "--role",
                      "aandachtsfunctionaris", "--manager", "baas", "--password-stdin",
                      env=env, input="een-goed-wachtwoord\n")
    assert ok.returncode == 0, ok.stderr
    cases = [
        (["user", "add", "jan", "--role", "medewerker", "--password-stdin"], "bestaat al"),
        (["user", "add", "piet", "--role", "medewerker", "--password-stdin"], "minstens"),
        (["user", "add", "kees", "--role", "medewerker", "--manager", "niemand",
          "--password-stdin"], "bestaat niet"),
        (["user", "add", "kees", "--role", "medewerker", "--manager", "jan",
          "--password-stdin"], "niet de rol leidinggevende"),
        (["user", "add", "Kees Spatie", "--role", "medewerker", "--password-stdin"],
         "Ongeldige gebruikersnaam"),
    ]
    for args, message in cases:
        password = "kort\n" if "piet" in args else "een-goed-wachtwoord\n"
        r = meldcode_cli(*args, env=env, input=password)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert message in r.stderr
    bad_role = meldcode_cli("user", "add", "x1", "--role", "koning", "--password-stdin",
                            env=env, input="een-goed-wachtwoord\n")
    assert bad_role.returncode == 2
    assert meldcode_cli("token", "create", "onbekend", env=env).returncode == 2


def test_check_and_deploy(env, sqlite_url, tmp_path):
    assert run("check", str(ROOT / "processes" / "meldcode.bpmn"),
               str(ROOT / "processes" / "afwegingskader.dmn"), env=env).returncode == 0
    broken = tmp_path / "kapot.bpmn"
    text = (ROOT / "processes" / "meldcode.bpmn").read_text()
    broken.write_text(text.replace('id="stap4_wegen"', 'id="stap4"', 1))
    r = run("check", str(broken), env=env)
    assert r.returncode == 1
    assert r.stdout.strip(), r.stderr
    for line in r.stdout.splitlines():
        path, lineno, message = line.split(":", 2)
        assert path == str(broken) and int(lineno) >= 1 and message.strip()
    assert run("init", env=made(env, sqlite_url)).returncode == 0
    r = run("deploy", str(broken), env=env)
    assert r.returncode == 1 and "stap4_wegen" in r.stdout
    # identical content is the existing version
    r = run("deploy", str(ROOT / "processes" / "meldcode.bpmn"),
            str(ROOT / "processes" / "afwegingskader.dmn"), env=env)
    assert r.returncode == 0 and "bestaande versie: 1" in r.stdout
    # a changed label is a new version; a BPMN-only deploy keeps the active DMN
    renamed = tmp_path / "meldcode.bpmn"
    root = etree.fromstring((ROOT / "processes" / "meldcode.bpmn").read_bytes())
    task = root.xpath("//*[@id='stap1_signalen']")[0]
    task.set("name", task.get("name") + " (aangepast)")
    renamed.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    r = run("deploy", str(renamed), env=env)
    assert r.returncode == 0 and "Nieuwe versie: 2" in r.stdout, r.stdout + r.stderr
    missing = run("check", str(tmp_path / "bestaat-niet.bpmn"), env=env)
    assert missing.returncode != 0


def test_check_reports_every_miwg_file_without_traceback(env):
    miwg = sorted((ROOT.parent / "shared" / "miwg" / "reference").glob("*.bpmn"))
    assert miwg, "shared/miwg/reference beside the checkout"
    r = run("check", *map(str, miwg), env=env)
    assert r.returncode == 1
    assert "Traceback" not in r.stdout + r.stderr
    named = {line.split(":", 1)[0] for line in r.stdout.splitlines()}
    assert named, r.stdout


def test_init_upgrades_an_existing_database_in_place(env, tmp_path):
    """A database made by an earlier schema keeps its data through `meldcode init`."""
    from alembic import command

    from engine.schema import alembic_config

    url = env["MELDCODE_DATABASE_URL"]
    command.upgrade(alembic_config(url), "0001")
    assert run("init", "--demo", env=env).returncode == 0
    r = run("init", env=env)
    assert r.returncode == 0
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        head = conn.execute(text("select version_num from alembic_version")).scalar()
        users = conn.execute(text("select count(*) from users")).scalar()
    engine.dispose()
    assert users == 6
    from alembic.script import ScriptDirectory

    assert head == ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_serve_runs_gunicorn(env, sqlite_url, tmp_path):
    assert meldcode_cli("init", env=made(env, sqlite_url)).returncode == 0
    import os

    home = tmp_path / "home"
    home.mkdir()
    server = LiveServer(env["MELDCODE_DATABASE_URL"],
                        {**os.environ, **env, "HOME": str(home), "XDG_RUNTIME_DIR": str(home)})
    try:
        r = requests.get(f"{server.base}/api/v1/openapi.json", timeout=10)
        assert r.status_code == 200 and r.json()["openapi"].startswith("3.")
        assert "gunicorn" in r.headers.get("Server", "").lower()
        assert r.headers.get("Connection", "").lower() == "close"  # sync workers
        workers = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True,
                                 text=True).stdout.split()
        # gunicorn's workers, two per core plus one, and the server's one planner (issue 13)
        assert len(workers) == 2 * (os.cpu_count() or 1) + 1 + 1
        # No management socket of gunicorn's in the home directory (several servers on one
        # machine would share it).
        assert list(home.rglob("*.ctl")) == []
    finally:
        server.stop()
    shutil.rmtree(tmp_path / "instance", ignore_errors=True)


def _access_lines(url, case_id):
    from sqlalchemy import select

    from engine import models, store

    with store.unit_of_work(url=url) as session:
        rows = session.scalars(select(models.AccessLogEntry)
                               .where(models.AccessLogEntry.case_id == case_id)
                               .order_by(models.AccessLogEntry.id))
        return [(e.user, e.on_behalf_of, e.action, e.outcome) for e in rows]


def test_export_for_a_user_who_may_not_read_the_case_is_refused_and_logged(people, db_url,
                                                                            tmp_path):
    """export --user NAME (CONTRACT section 3): NAME must be a user who may read the case
    (users.may_read_case); otherwise exit 2 in Dutch, no file, and a denied line (NEN 7513)."""
    import getpass
    import json

    from engine import cases

    case = cases.start_case(people["mw"], {"client_ref": "C-EXPORT", "reason": "zorgen"})
    out = tmp_path / "d.json"
    # mw2 is a medewerker without any tie to this case
    r = operator_run("export", str(case["id"]), "--format", "json", "-o", str(out),
                     "--user", "mw2", url=db_url)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "mag casus" in r.stderr and "niet inzien" in r.stderr
    assert not out.exists()
    assert _access_lines(db_url, case["id"])[-1] == ("mw2", "mw2", "export", "denied")
    # a name that is no user at all: the operator tried, on behalf of that name
    r = operator_run("export", str(case["id"]), "--format", "json", "-o", str(out),
                     "--user", "niemand", url=db_url)
    assert r.returncode == 2 and "geen actieve gebruiker" in r.stderr
    assert not out.exists()
    assert _access_lines(db_url, case["id"])[-1] == (getpass.getuser(), "niemand", "export",
                                                     "denied")
    # the owner may: exported and logged under the owner's name
    r = operator_run("export", str(case["id"]), "--format", "json", "-o", str(out),
                     "--user", "mw", url=db_url)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["case"]["id"] == case["id"]
    assert _access_lines(db_url, case["id"])[-1] == ("mw", "mw", "export", "ok")
    # without --user: the operating-system user, unchanged
    r = operator_run("export", str(case["id"]), "--format", "json", "-o", str(out), url=db_url)
    assert r.returncode == 0, r.stderr
    assert _access_lines(db_url, case["id"])[-1][2:] == ("export", "ok")
    assert _access_lines(db_url, case["id"])[-1][0] == getpass.getuser()


@pytest.mark.parametrize("variable, value, command", [
    ("MELDCODE_WORKERS", "veel", ("serve", "--port", "18999")),  # read as an option's default
    ("MELDCODE_WORKERS", "0", ("serve", "--port", "18999")),
    ("MELDCODE_WRITE_LOCK_TIMEOUT", "lang", ("init",)),
])
def test_a_misconfigured_variable_is_one_dutch_line_not_a_traceback(env, variable, value, command):
    result = meldcode_cli(*command, env={**env, variable: value})
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("fout: ") and variable in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# --- -o PATH and numbers: one Dutch line, exit 2, never a traceback (issue 11) ------------------


def _in_process(*args):
    from click.testing import CliRunner

    from webui.cli import main

    return CliRunner().invoke(main, list(args))


def _refused(result, *words):
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("fout: "), result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, result.stderr


def _output_commands(case_id):
    return {"checkpoint": ["checkpoint"], "backup": ["backup"],
            "export": ["export", str(case_id), "--format", "json"]}


@pytest.mark.parametrize("command", ["checkpoint", "backup", "export"])
def test_output_that_is_no_regular_file_is_refused_and_left_alone(sqlite_people, tmp_path,
                                                                    command):
    """-o PATH is written under a temporary name and renamed over PATH: a FIFO, a folder or a
    symbolic link there would be replaced, not written to; a missing folder is named."""
    import os

    from engine import cases

    case = cases.start_case(sqlite_people["mw"], {"client_ref": "C-OUT"})
    args = _output_commands(case["id"])[command]
    fifo, folder, real, link = (tmp_path / n for n in ("fifo", "map", "echt", "koppeling"))
    os.mkfifo(fifo)
    folder.mkdir()
    real.write_text("van iemand anders")
    link.symlink_to(real)
    _refused(_in_process(*args, "-o", str(fifo)), "geen gewoon bestand")
    _refused(_in_process(*args, "-o", str(folder)), "geen gewoon bestand")
    _refused(_in_process(*args, "-o", str(link)), "symbolische koppeling")
    _refused(_in_process(*args, "-o", str(tmp_path / "nergens" / "f")), "bestaat niet")
    assert fifo.is_fifo() and folder.is_dir() and link.is_symlink()
    assert real.read_text() == "van iemand anders"
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" in p.name) == []
    done = _in_process(*args, "-o", str(tmp_path / "goed"))
    assert done.exit_code == 0, done.output
    assert (tmp_path / "goed").stat().st_size > 0


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_backup_over_the_database_itself_is_refused(sqlite_people, sqlite_url, suffix):
    from engine import cases

    cases.start_case(sqlite_people["mw"], {"client_ref": "C-DB"})
    database = sqlite_url.removeprefix("sqlite:///") + suffix
    before = open(database, "rb").read() if suffix == "" else None
    _refused(_in_process("backup", "-o", database), "de database zelf")
    if before is not None:
        assert open(database, "rb").read() == before
    assert _in_process("verify", "--all").exit_code == 0


@pytest.mark.parametrize("args", [
    ("verify", "9223372036854775808"),
    ("verify", "abc"),
    ("verify", "0"),
    ("token", "revoke", "mw", "99999999999999999999999"),
    ("export", "9223372036854775808", "--format", "pdf", "-o", "{tmp}/e.pdf"),
    ("migrate", "--from", "9223372036854775808", "--to", "1"),
    ("backup", "-o", "/nonexistent/b.sqlite"),
    ("export", "1", "--format", "pdf", "-o", "/nonexistent/dir/e.pdf"),
    ("checkpoint", "-o", "/nonexistent/dir/cp.json"),
], ids=lambda a: " ".join(a)[:40])
def test_a_number_or_path_out_of_bounds_is_one_dutch_line(sqlite_people, tmp_path, args):
    from engine import cases

    cases.start_case(sqlite_people["mw"], {"client_ref": "C-NUM"})
    result = _in_process(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    _refused(result)
    assert "No such file" not in result.stderr and "Errno" not in result.stderr


@pytest.mark.parametrize("command", [
    ["deploy", "processes/meldcode.bpmn", "processes/afwegingskader.dmn"],
    ["migrate", "--from", "1", "--to", "1"],
])
def test_user_named_for_deploy_or_migrate_must_be_a_user(sqlite_people, sqlite_url, command):
    """`--user NAME` names who acts in the admin log; a name the product does not know was
    recorded as given (break-it: any name, also someone else's). Refused now, as `export
    --user` is, and nothing is logged; a user without the role is refused as before."""
    from sqlalchemy import create_engine, text

    def admin_lines():
        with create_engine(sqlite_url).connect() as conn:
            return conn.execute(text("SELECT count(*) FROM admin_log")).scalar()

    before = admin_lines()
    command = [str(ROOT / part) if part.startswith("processes/") else part for part in command]
    r = operator_run(*command, "--user", "de-directeur", url=sqlite_url)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "'de-directeur' bestaat niet" in r.stderr and "Traceback" not in r.stderr
    r = operator_run(*command, "--user", "mw", url=sqlite_url)
    assert r.returncode == 2 and "geen procesbeheerder" in r.stderr
    assert admin_lines() == before
