"""`meldcode restore FILE` killed (kill -9) at a bad moment (issue 11, break-it of restore):
never a rollback that `meldcode verify --all` passes without a record. Before, a kill after
the head was reset and the newer checkpoints were set aside, but before the admin line, left
a silent rollback that verify passed; a kill right after the swap left a database whose cut
log verify reported as removed entries without saying why; a kill while the copy was checked
left a scratch copy of the whole database behind unnamed.

Now verify reports the unfinished restore (exit 1) until `meldcode restore` is run again,
which redoes it and records, in the one admin line, the head from before the first attempt,
every checkpoint set aside and the interrupted attempt; scratch copies are named by verify and
removed by the next restore. The auditor reads that line with Dutch labels on /beheerlog.

The kill is a real SIGKILL of the real command line: KILL below, test code only, replaces one
function the restore calls by one that kills the process there (before or after calling it),
then runs `meldcode restore FILE` as the installed command does. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from engine import log_head, models, store
from tests.conftest import ROOT, People
from tests.helpers import (
    Client,
    copy_database,
    operator_cli,
    operator_run,
    restored_lines,
    spare_url,
    walk_some_cases,
)
from tests.helpers import text as page_text

KILL = r"""
import importlib, os, signal, sys

module, name, when = sys.argv[1:4]
target = importlib.import_module(module)
real = getattr(target, name)


def killed(*args, **kwargs):
    if name == "log_admin" and args[2] != "database_restored":
        return real(*args, **kwargs)
    if when == "after":
        real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)


setattr(target, name, killed)
from webui.cli import main

main(sys.argv[4:], prog_name="meldcode")
"""


def _killed(url: str, seam: str, when: str, backup: Path) -> subprocess.CompletedProcess:
    """`meldcode restore BACKUP`, killed with SIGKILL at `seam` (module.function), `when`
    before or after it runs."""
    store.dispose_engines()
    module, name = seam.rsplit(".", 1)
    args = [str(ROOT / ".venv" / "bin" / "python"), "-c", KILL, module, name, when, "restore", str(backup)]
    env = {**os.environ, "MELDCODE_DATABASE_URL": url}
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == -signal.SIGKILL, result.stdout + result.stderr
    return result


def _cases(url: str) -> int:
    with store.unit_of_work(url=url) as session:
        return session.scalar(select(func.count()).select_from(models.Case))


def _scene(url: str, tmp_path: Path) -> tuple[Path, log_head.Head]:
    """Two cases, a checkpoint, a backup; then three cases more and a newer checkpoint, which a
    restore of the backup drops and sets aside. Out: the backup and the head before."""
    walk_some_cases(url, 2, "voor")
    assert operator_run("checkpoint", url=url).returncode == 0
    backup = tmp_path / "reserve.bak"
    assert operator_run("backup", "-o", str(backup), url=url).returncode == 0
    walk_some_cases(url, 3, "na")
    newer = operator_run("checkpoint", url=url)
    assert newer.returncode == 0, newer.stderr
    store.dispose_engines()
    head = log_head.read(store.get_engine(url))
    assert head is not None
    return backup, head


@pytest.fixture(scope="module")
def built_scenes() -> dict:
    """_scene of each database kind as built once for this module: the copy of its
    database, the backup's bytes and the checkpoint files."""
    return {}


@pytest.fixture
def scene(db_url, tmp_path, checkpoint_dir, built_scenes, tmp_path_factory):
    """_scene on the test's database (with the People): the first test of each database kind
    builds it (three command-line runs and five cases walked, seconds), every later one gets
    a copy of that database, backup, checkpoints and head record (milliseconds): the same
    state, since every test starts from it unchanged. Out: the backup and the head before."""
    kind = db_url.split(":")[0]
    if kind not in built_scenes:
        People(db_url)
        backup, head = _scene(db_url, tmp_path)
        kept = spare_url(db_url, tmp_path_factory.mktemp("scene"))
        copy_database(db_url, kept)
        built_scenes[kind] = (kept, backup.read_bytes(),
                              {p.name: p.read_bytes() for p in checkpoint_dir.iterdir()})
        return backup, head
    kept, content, checkpoints = built_scenes[kind]
    copy_database(kept, db_url)
    backup = tmp_path / "reserve.bak"
    backup.write_bytes(content)
    for name, data in checkpoints.items():
        (checkpoint_dir / name).write_bytes(data)
    head = log_head.read(store.get_engine(db_url))
    store.dispose_engines()
    assert head is not None
    return backup, head


def _unfinished_until_run_again(url: str, backup: Path, head: log_head.Head) -> dict:
    """verify reports the unfinished restore (exit 1) naming the backup; restore run again
    redoes it; then verify passes. Out: the one admin line, which holds the head from before
    the first attempt and names the interrupted attempt."""
    verify = operator_run("verify", "--all", url=url)
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "terugzetten: NIET AFGEMAAKT" in verify.stdout
    assert "een terugzetting uit reserve.bak" in verify.stdout and "is niet afgemaakt" in verify.stdout
    assert f"telde het logboek {head.tree_size} regels" in verify.stdout

    again = operator_run("restore", str(backup), url=url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Een eerdere terugzetting uit reserve.bak" in again.stdout
    assert _cases(url) == 2
    passed = operator_run("verify", "--all", url=url)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "NIET AFGEMAAKT" not in passed.stdout

    (line,) = restored_lines(url)
    assert line["recorded_head_before"]["tree_size"] == head.tree_size
    assert line["recorded_head_before"]["root"] == head.root
    assert line["entries_dropped"] == head.tree_size - line["tree_size_after"] > 0
    (attempt,) = line["interrupted_attempts"]
    assert attempt["file"] == "reserve.bak"
    return line


def test_a_restore_killed_before_its_admin_line_is_reported_until_run_again(
    db_url, scene, checkpoint_dir
):
    """The silent rollback: the copy in place, the head reset, the newer checkpoint set aside,
    no admin line. verify passed that."""
    backup, head = scene
    _killed(db_url, "engine.audit.log_admin", "before", backup)
    assert _cases(db_url) == 2 and restored_lines(db_url) == []
    (set_aside,) = checkpoint_dir.glob("voor-terugzetten-*/checkpoint-*.json")

    line = _unfinished_until_run_again(db_url, backup, head)
    # the checkpoint the killed attempt moved is named in the line, kept where it went
    (moved,) = line["checkpoints_set_aside"]
    assert moved["file"] == set_aside.name and moved["tree_size"] == head.tree_size
    assert Path(line["checkpoints_folder"]) == set_aside.parent and set_aside.is_file()
    assert not list(checkpoint_dir.glob("voor-terugzetten-*-2"))  # one folder for the restore

    # the auditor reads the line in Dutch words on /beheerlog, no stored key shown raw
    from webui import create_app
    from webui.admin import ADMIN_DETAILS

    assert set(line) | {"recorded_head_problem"} <= set(ADMIN_DETAILS)
    store.dispose_engines()
    auditor = Client(create_app({"TESTING": True}))
    auditor.login("aud")
    page = page_text(auditor.get("/beheerlog"))
    for key in line:
        assert key not in page, key
    assert "tree_size" not in page and "'root'" not in page
    assert "Reservekopie teruggezet" in page and "Bestand: reserve.bak" in page
    assert f"Kop van de sequencer ervoor: {head.tree_size} regels, wortel {head.root}" in page
    assert f"Regels van het logboek weggevallen: {line['entries_dropped']}" in page
    assert f"Controlepunten opzijgezet: {set_aside.name} ({head.tree_size} regels)" in page
    assert "Afgebroken eerdere pogingen: reserve.bak, begonnen " in page
    assert "Toelichting: De database is teruggezet uit een reservekopie." in page


def test_a_restore_killed_right_after_the_swap_is_reported_until_run_again(
    db_url, scene, checkpoint_dir
):
    """The copy in place, the head not yet reset: verify saw entries removed, and why not."""
    backup, head = scene
    _killed(db_url, "engine.log_head.reset", "before", backup)
    assert _cases(db_url) == 2 and restored_lines(db_url) == []
    _unfinished_until_run_again(db_url, backup, head)


def test_a_restore_killed_before_the_swap_is_reported_until_run_again(
    db_url, scene, checkpoint_dir
):
    """The intent on record, the database not yet touched: verify cannot know that it was
    not, so it reports the restore unfinished; run again, it goes through."""
    backup, head = scene
    _killed(db_url, "engine.restore_steps.begin", "after", backup)
    assert _cases(db_url) == 5
    _unfinished_until_run_again(db_url, backup, head)


def _scratch(url: str) -> list[str]:
    """The scratch copies of a restore: files beside the SQLite database, databases on the
    PostgreSQL server."""
    store.dispose_engines()
    if url.startswith("sqlite"):
        live = Path(url.removeprefix("sqlite:///"))
        return sorted(p.name for p in live.parent.iterdir() if p.name.startswith(f".{live.name}."))
    with store.get_engine(url).connect() as conn:
        names = conn.execute(text("SELECT datname FROM pg_database")).scalars()
        return sorted(n for n in names if "_terugzetten_" in n)


def test_the_scratch_copy_of_a_killed_restore_is_named_and_removed_by_the_next(
    db_url, scene, checkpoint_dir
):
    """Killed while it checked the copy: nothing changed, but a whole copy of the database
    (cases, history) stayed behind. verify names it; the next restore removes it."""
    backup, _head = scene
    assert _scratch(db_url) == []
    _killed(db_url, "engine.restore.check_copy", "before", backup)
    (left,) = _scratch(db_url)
    assert _cases(db_url) == 5

    verify = operator_run("verify", "--all", url=db_url)
    assert verify.returncode == 0, verify.stdout + verify.stderr  # the database is as it was
    assert "let op:" in verify.stdout and left in verify.stdout
    assert "afgebroken terugzetting" in verify.stdout

    again = operator_run("restore", str(backup), url=db_url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "opgeruimd:" in again.stdout and left in again.stdout
    assert _scratch(db_url) == []
    assert operator_run("verify", "--all", url=db_url).returncode == 0


def test_checkpoints_set_aside_without_a_recorded_restore_fail_verify(
    db_url, scene, checkpoint_dir
):
    """Break-it: killed after the newer checkpoint was set aside, before the admin line, and the
    intent record then removed by hand: the entries newer than the backup were gone and verify
    passed, only an unnamed `voor-terugzetten-*` folder left. Now that folder fails verify."""
    from engine import restore_steps

    backup, head = scene
    _killed(db_url, "engine.audit.log_admin", "before", backup)
    (set_aside,) = checkpoint_dir.glob("voor-terugzetten-*/checkpoint-*.json")
    store.dispose_engines()
    restore_steps.intent_path(db_url).unlink()

    verify = operator_run("verify", "--all", url=db_url)
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "controlepunten opzijgezet zonder vastgelegde terugzetting" in verify.stdout
    assert set_aside.parent.name in verify.stdout
    assert f"het grootste van {head.tree_size} regels" in verify.stdout


def test_a_second_restore_carries_the_first_ones_line_and_loss_forward(
    db_url, scene, checkpoint_dir
):
    """Break-it: restored twice from the same backup, the second swap erased the first line
    (the backup lacks it) and its own line said about one entry dropped. Now the line carries
    the first restore forward, counts from the largest head known, and verify still passes
    (the first restore's folder is named)."""
    backup, head = scene
    first = operator_run("restore", str(backup), url=db_url)
    assert first.returncode == 0, first.stdout + first.stderr
    (earlier,) = restored_lines(db_url)

    second = operator_run("restore", str(backup), url=db_url)
    assert second.returncode == 0, second.stdout + second.stderr
    (line,) = restored_lines(db_url)
    assert line["entries_dropped"] == head.tree_size - line["tree_size_after"]
    (carried,) = line["earlier_restores"]
    assert carried["file"] == "reserve.bak"
    assert carried["entries_dropped"] == earlier["entries_dropped"]
    assert carried["checkpoints_folder"] == earlier["checkpoints_folder"]
    assert carried["recorded_head_before"]["tree_size"] == head.tree_size
    verify = operator_run("verify", "--all", url=db_url)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_replayed_old_intent_record_does_not_understate_the_loss(
    db_url, scene, checkpoint_dir
):
    """Break-it: an old intent record (validly signed) put back made the next restore count
    the entries dropped from the old head in it. Now the largest head known counts."""
    from engine import restore_steps

    backup, _head = scene
    _killed(db_url, "engine.restore_steps.begin", "after", backup)
    old = restore_steps.intent_path(db_url).read_bytes()
    assert operator_run("restore", str(backup), url=db_url).returncode == 0
    walk_some_cases(db_url, 4, "later")
    assert operator_run("checkpoint", url=db_url).returncode == 0
    store.dispose_engines()
    now = log_head.read(store.get_engine(db_url))
    assert now is not None
    store.dispose_engines()
    restore_steps.intent_path(db_url).write_bytes(old)

    again = operator_run("restore", str(backup), url=db_url)
    assert again.returncode == 0, again.stdout + again.stderr
    (line,) = restored_lines(db_url)
    assert line["entries_dropped"] == now.tree_size - line["tree_size_after"]
    assert line["largest_head_known"] == now.tree_size


def test_a_restore_without_a_head_record_ends_without_a_traceback(db_url, scene, checkpoint_dir):
    """Break-it: with the head record removed, a restore that succeeded ended in a TypeError
    (exit 1) where it named the head it did not have."""
    backup, head = scene
    store.dispose_engines()
    log_head.path_for(store.get_engine(db_url)).unlink()
    store.dispose_engines()
    result = operator_run("restore", str(backup), url=db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "Er was geen vastgelegde kop van het logboek." in result.stdout
    (line,) = restored_lines(db_url)
    assert line["entries_dropped"] == head.tree_size - line["tree_size_after"]


def test_a_fifo_at_the_intent_path_is_reported_not_waited_on(db_url, people, tmp_path):
    """Break-it: a FIFO where the intent record goes made `meldcode verify` wait for ever."""
    from engine import restore_steps

    walk_some_cases(db_url, 1, "voor")
    store.dispose_engines()
    os.mkfifo(restore_steps.intent_path(db_url))
    try:
        verify = operator_cli("verify", "--all", url=db_url)
    finally:
        restore_steps.intent_path(db_url).unlink()
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "terugzetting" in verify.stdout and "is onleesbaar" in verify.stdout


def test_a_closed_standard_output_after_a_restore_is_no_database_error(
    db_url, scene, checkpoint_dir
):
    """Break-it: the reader of standard output gone (| head -0), a restore that was done and
    recorded said 'de database is niet te bereiken' (exit 2)."""
    backup, _head = scene
    store.dispose_engines()
    env = {**os.environ, "MELDCODE_DATABASE_URL": db_url}
    read, write = os.pipe()
    os.close(read)  # nobody reads what the restore reports
    try:
        result = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "meldcode"), "restore", str(backup)],
            env=env, stdout=write, stderr=subprocess.PIPE, text=True, timeout=300, cwd=ROOT,
        )
    finally:
        os.close(write)
    assert result.returncode == 0, result.stderr
    assert "niet te bereiken" not in result.stderr and "standaarduitvoer werd gesloten" in result.stderr
    (line,) = restored_lines(db_url)
    assert line["file"] == "reserve.bak"


def test_a_fifo_at_the_lock_path_is_refused_not_waited_on(sqlite_url, sqlite_people, tmp_path):
    """Break-it (issue 11 point 4): a FIFO at the restore lock's path made `meldcode restore`
    (lock) and `meldcode verify` (running) wait for ever on opening it. Now the restore is
    refused (exit 2, nothing changed) and verify names the lock path (exit 1)."""
    from engine import restore_steps

    walk_some_cases(sqlite_url, 1, "voor")
    store.dispose_engines()
    backup = tmp_path / "reserve.bak"
    assert operator_run("backup", "-o", str(backup), url=sqlite_url).returncode == 0
    lock = restore_steps.intent_path(sqlite_url).with_suffix(".lock")
    lock.unlink(missing_ok=True)
    os.mkfifo(lock)
    env = {**os.environ, "MELDCODE_DATABASE_URL": sqlite_url}
    command = [str(ROOT / ".venv" / "bin" / "meldcode")]
    try:
        restore = subprocess.run([*command, "restore", str(backup)], env=env, capture_output=True,
                                 text=True, timeout=60, cwd=ROOT)
        verify = subprocess.run([*command, "verify", "--all"], env=env, capture_output=True,
                                text=True, timeout=60, cwd=ROOT)
    finally:
        lock.unlink()
    assert restore.returncode == 2, restore.stdout + restore.stderr
    assert "slotbestand" in restore.stderr and "geen gewoon bestand" in restore.stderr
    assert restored_lines(sqlite_url) == []
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "slotbestand" in verify.stdout and str(lock) in verify.stdout


def test_every_spelling_of_a_database_is_one_database_to_restore(sqlite_url, sqlite_people, tmp_path):
    """Break-it (issue 11 point 3): the head record, the intent record and the lock were keyed
    by the URL as typed. A restore through `sqlite:////x/./db.sqlite` or a link to the file
    reset another head record than the server's (verify then reported the restored log as
    cut), took another lock than a restore through the plain URL, and a link was replaced by
    the copy while its target kept the old database. Now all spellings are one database."""
    from engine import restore_traces, translog

    live = Path(sqlite_url.removeprefix("sqlite:///"))
    link = tmp_path / "koppeling.sqlite"
    link.symlink_to(live)
    dotted = f"sqlite:///{live.parent}/./{live.name}"
    linked = f"sqlite:///{link}"
    walk_some_cases(sqlite_url, 2, "voor")
    translog.sequence(sqlite_url)
    store.dispose_engines()
    backup = tmp_path / "reserve.bak"
    assert operator_run("backup", "-o", str(backup), url=sqlite_url).returncode == 0
    walk_some_cases(sqlite_url, 1, "na")
    translog.sequence(sqlite_url)  # the head recorded under the plain URL, as a server's is
    store.dispose_engines()

    held = restore_traces.lock(sqlite_url)
    try:
        busy = operator_cli("restore", str(backup), url=dotted)
    finally:
        held.close()
    assert busy.returncode == 2 and "er loopt al een terugzetting" in busy.stderr, busy.stderr

    for url in (dotted, linked):
        result = operator_run("restore", str(backup), url=url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert link.is_symlink()
        verify = operator_run("verify", "--all", url=sqlite_url)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    assert _cases(sqlite_url) == 2
    assert len(restored_lines(sqlite_url)) == 1  # the second restore's copy lacks the first's line


def test_a_postgresql_database_is_one_whatever_its_url_says(pg_server):
    """Host case, driver, user, password and options do not make another database."""
    from sqlalchemy.engine import make_url

    from engine import restore_steps

    base = make_url(pg_server.url("meldcode"))
    spellings = [
        base,
        base.set(drivername="postgresql", host="127.0.0.1", port=pg_server.port),
        base.set(username="ander", password="geheim", query={"connect_timeout": "5"}),
    ]
    paths = {restore_steps.intent_path(u.render_as_string(hide_password=False)) for u in spellings}
    assert len(paths) == 1
    other = base.set(database="meldcode2").render_as_string(hide_password=False)
    assert restore_steps.intent_path(other) not in paths


def test_an_unfinished_restore_recorded_under_the_old_name_stays_in_sight(db_url, people):
    """Issue 11 point 4: the intent record of a restore an earlier version began (named after
    the URL as typed) was not taken over as the head record was: verify passed a database the
    restore may have swapped without its admin line. It is taken over, and verify reports it."""
    import hashlib

    from sqlalchemy.engine import make_url

    from engine import restore, restore_steps

    walk_some_cases(db_url, 1, "voor")
    before = restore.log_size(db_url), restore.recorded_head(db_url)
    restore_steps.begin(db_url, "oud.bak", "beheerder", *before)
    path = restore_steps.intent_path(db_url)
    typed = make_url(db_url).render_as_string(hide_password=True)
    legacy = path.with_name(f"terugzetten-{hashlib.sha256(typed.encode()).hexdigest()[:16]}.json")
    assert legacy != path
    path.rename(legacy)
    verify = operator_run("verify", "--all", url=db_url)
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "een terugzetting uit oud.bak" in verify.stdout, verify.stdout
    assert "is niet afgemaakt" in verify.stdout, verify.stdout
    assert path.is_file() and not legacy.exists()
