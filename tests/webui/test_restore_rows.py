"""`meldcode restore` and the columns no seal or chain covers (issue 11, engine/restore_rows.py):
a backup whose active process version, deployer, file kind or timer claim a database writer
changed was put back as it was (verify --all passes on it). Now it is refused before the swap
(exit 2, the table and column named, nothing changed); the sign-in counters are not carried;
an outbox row is carried, and its address never chooses where mail goes. SQLite and
PostgreSQL."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from engine import consults, mail, models, store
from tests.conftest import free_port
from tests.helpers import (
    deliver,
    deploy_date_wait,
    operator_run,
    restored_lines,
    use_smtp,
    waiting_date_case,
    walk_some_cases,
)

_versions, _files, _timers = (
    models.ProcessVersion.__table__,
    models.ProcessFile.__table__,
    models.Timer.__table__,
)

# kind -> (the change a database writer makes, what the refusal names)
CHANGES = {
    "no active version": (update(_versions).values(active=False), "process_versions.active: geen versie"),
    "another deployer": (update(_versions).values(deployed_by="boef"), "process_versions.deployed_by"),
    "a file's kind": (update(_files).where(_files.c.kind == "bpmn").values(kind="dmn"), "process_files.kind"),
}


def _backup(url: str, path: Path, *changes) -> None:
    """A backup of the database at `url` with `changes` made as a database writer would (the
    product's tables, no product code), sequenced first as a running server's writes are."""
    from engine import translog

    with store.get_engine(url).begin() as conn:
        for change in changes:
            assert conn.execute(change).rowcount != 0, change
    translog.sequence(url)
    assert operator_run("backup", "-o", str(path), url=url).returncode == 0


def _file(url: str) -> str | None:
    store.dispose_engines()
    if not url.startswith("sqlite"):
        return None
    return hashlib.sha256(Path(url.removeprefix("sqlite:///")).read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", sorted(CHANGES))
def test_a_column_no_seal_covers_is_checked_before_the_swap(db_url, people, tmp_path, kind):
    change, named = CHANGES[kind]
    walk_some_cases(db_url, 1, "voor")
    backup = tmp_path / "reserve.bak"
    _backup(db_url, backup, change)
    before = _file(db_url)
    result = operator_run("restore", str(backup), url=db_url)
    assert result.returncode == 2, result.stdout + result.stderr
    # the active version verify names too (the same rule, restore_rows.active_problem): among
    # the copy's verify findings, before this module's own check
    assert result.stderr.startswith("fout: niet teruggezet: de reservekopie is niet in orde"), result.stderr
    assert named in result.stderr, result.stderr
    assert _file(db_url) == before
    assert restored_lines(db_url) == []


def test_a_timer_held_back_for_ever_is_refused(db_url, people, tmp_path):
    """A claim far in the future: the scheduler never fires that timer until then."""
    deploy_date_wait()
    waiting_date_case(people)
    backup = tmp_path / "reserve.bak"
    _backup(db_url, backup, update(_timers).values(claimed_until=datetime(2999, 1, 1, tzinfo=UTC)))
    before = _file(db_url)
    result = operator_run("restore", str(backup), url=db_url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "de reservekopie is niet in orde: timers.claimed_until: de timer van taak" in result.stderr
    assert _file(db_url) == before
    assert restored_lines(db_url) == []


def test_the_sign_in_counters_are_not_carried(db_url, people, tmp_path):
    """A counter of failed sign-ins whose window ends far in the future locked a name out for
    as long; a restore starts without counters."""
    walk_some_cases(db_url, 1, "voor")
    counter = models.RateLimit.__table__.insert().values(key="a" * 64, hits=99, expires_at=time.time() + 1e9)
    backup = tmp_path / "reserve.bak"
    _backup(db_url, backup, counter)
    result = operator_run("restore", str(backup), url=db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    with store.get_engine(db_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(models.RateLimit.__table__)).scalar() == 0
    assert operator_run("verify", "--all", url=db_url).returncode == 0


def test_a_restored_outbox_address_never_chooses_where_mail_goes(db_url, people, tmp_path, monkeypatch):
    """The outbox is carried (work in progress); an address changed in it goes nowhere: the
    mail goes to the address of the users row whose seal holds (engine/mail_addresses.py)."""
    from engine import cases

    port = free_port()
    use_smtp(monkeypatch, port, {"lg": "lg@zorg.example"})
    case = cases.start_case(people["mw"], {"client_ref": "Jansen"})
    consults.request(people["mw"], case["id"], {"user": "lg", "question": "Een vraag aan lg?"})
    outbox = models.MailOutbox.__table__
    backup = tmp_path / "reserve.bak"
    _backup(db_url, backup, update(outbox).values(address="boef@elders.example"))
    result = operator_run("restore", str(backup), url=db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    store.dispose_engines()
    inbox = deliver(port)
    assert [to for to, _ in inbox.messages] == [["lg@zorg.example"]], inbox.messages
    assert mail.outbox("boef@elders.example") == []
