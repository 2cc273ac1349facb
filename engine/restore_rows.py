"""What a backup may carry beyond what its seals and chains cover (issue 11, `meldcode restore`).

`meldcode restore` checks the copy as `meldcode verify --all` does (engine/restore.py
check_copy): the log and every case (header seal, both chains, replay: the case row, its
tasks, timers, shares, links and consults), the users, API tokens and settings (their seals,
the admin log as a chain) and the process files (their hashes against the admin log). The
rows of the log queue are sequenced and checked there too. Every other column is taken from
the backup as it is unless this module says otherwise (check, before the swap):

- process_versions.active: the version new cases start on. It must be the one the admin log's
  last genuine `process_deployed` or `process_activated` line names (the last one in the log's
  order, engine/admin_chain.py genuine), and no other; a backup without such a line (only
  `process_recorded` lines, versions from before the admin log) may have at most one
  (active_problem; `meldcode verify --all` holds the database to the same rule);
- process_versions.deployed_by: shown on the versions page; must be the user of the version's
  genuine `process_deployed` line (a `process_recorded` version has none to hold it to);
- process_files.kind: decides which files a BPMN-only deploy takes from the active version;
  must be what the file's name says (definitions.SourceFile.kind);
- timers.claimed_until: a worker's claim, or the wait after a failed fire, at most
  scheduler.RETRY_MOST ahead; a claim further in the future holds a timer back for as long;
- rate_limits: not carried at all (drop_uncarried): the counts of failed sign-ins of the
  minutes before the backup say nothing about now, and one far in the future locks a name
  or address out.

Carried as they are, on purpose: drafts (work in progress of one person, shown to them in the
form and checked as any answer when they complete the step; no evidence), notifications
(sealed since migration 0019, engine/notification_seals.py: verify, which restore runs on the
copy, names a broken seal, and a row whose seal does not hold is never listed or mailed) and
mail_outbox (engine/mail_addresses.py reads the address again from the sealed users row when
it sends, so an address in the outbox never chooses where mail goes; a row whose seal does not
hold is never sent, engine/outbox_seals.py); times that are
only shown (process_versions.deployed_at, case_shares and case_links.created_at, the time of
cases.stalled_at, whose marker replay checks) and cases.version_id (a counter against lost
updates, no meaning of its own)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from . import admin_chain, clock, restore, timezones
from .definitions import SourceFile
from .messages import N_, Message, shown
from .models import ProcessFile, ProcessVersion, RateLimit, Timer
from .scheduler import CLAIM_FOR, RETRY_MOST
from .stored_time import damaged_time

_versions, _files, _timers = ProcessVersion.__table__, ProcessFile.__table__, Timer.__table__
REFUSED = N_("de reservekopie is niet in orde: {table}.{column}: {problem}")


def _refused(table: str, column: str, problem: Message) -> restore.RestoreRefused:
    return restore.RestoreRefused(Message(REFUSED, table=table, column=column, problem=problem))


def check(conn: Connection, now: datetime | None = None) -> None:
    """Whether the copy on `conn` (schema at head, already checked by check_copy) carries only
    what the rules above let through; `now` (aware UTC, default clock.now()) is the restore's
    time. Raises restore.RestoreRefused (Dutch) naming the table and column of the first
    problem. Reads only."""
    _check_active(conn)
    _check_deployers(conn)
    _check_kinds(conn)
    _check_claims(conn, now or clock.now())


def _flag(conn: Connection, value: Any) -> bool | None:
    """A stored boolean as the product's queries read it (`active IS true`), None for any
    other value (SQLite keeps whatever is put in an integer column; NULL)."""
    if value is True or value is False:
        return value
    if conn.dialect.name == "sqlite" and type(value) is int and value in (0, 1):
        return bool(value)
    return None


def _check_active(conn: Connection) -> None:
    problem = active_problem(conn)
    if problem is not None:
        raise _refused("process_versions", "active", problem)


def active_problem(conn: Connection) -> Message | None:
    """Whether process_versions.active holds what the admin log says (the rule above: the
    version of the last genuine `process_deployed` or `process_activated` line and no other;
    without such a line at most one), read through `conn`: None when it does, else what is
    wrong, in Dutch (a value that is no yes or no, several versions, none, another one). The
    one check of this rule: restore refuses a copy by it (check) and `meldcode verify --all`
    names it under the process versions (config_seals.version_problems). Reads only."""
    wanted = None
    for line in admin_chain.genuine(conn, ("process_deployed", "process_activated")):
        version = line.detail.get("version") if isinstance(line.detail, dict) else None
        if type(version) is int:
            wanted = version
    rows = conn.execute(select(_versions.c.version, _versions.c.active).order_by(_versions.c.version)).all()
    active = []
    for version, value in rows:
        flag = _flag(conn, value)
        if flag is None:
            return Message(
                N_("versie {version} heeft de waarde {value}, geen ja of nee"),
                version=version,
                value=shown(value, 40),
            )
        if flag:
            active.append(version)
    if wanted is None and len(active) <= 1:
        return None  # the admin log names none (versions from before it): any one may be active
    if active == ([] if wanted is None else [wanted]):
        return None
    found = ", ".join(str(v) for v in active)
    if wanted is None:
        return Message(N_("de versies {found} staan alle actief; er kan er één actief zijn"), found=found)
    if not active:
        return Message(
            N_("geen versie staat actief, maar volgens het beheerlog is dat versie {wanted}"), wanted=wanted
        )
    return Message(
        N_("actief staat versie {found}, maar volgens het beheerlog is dat versie {wanted}"),
        found=found,
        wanted=wanted,
    )


def _check_deployers(conn: Connection) -> None:
    by: dict[int, Any] = {}
    for line in admin_chain.genuine(conn, ("process_deployed",)):
        version = line.detail.get("version") if isinstance(line.detail, dict) else None
        if type(version) is int:
            by.setdefault(version, line.user)
    for version, deployed_by in conn.execute(select(_versions.c.version, _versions.c.deployed_by)).all():
        if version in by and deployed_by != by[version]:
            raise _refused(
                "process_versions",
                "deployed_by",
                Message(
                    N_("versie {version} noemt {found}, het beheerlog {wanted}"),
                    version=version,
                    found=shown(deployed_by, 80),
                    wanted=by[version],
                ),
            )


def _check_kinds(conn: Connection) -> None:
    for version, name, kind in conn.execute(select(_files.c.version, _files.c.name, _files.c.kind)).all():
        wanted = SourceFile(str(name), b"").kind
        if kind != wanted:
            raise _refused(
                "process_files",
                "kind",
                Message(
                    N_("{file} van versie {version} heet {found}, de naam zegt {wanted}"),
                    file=str(name)[:80],
                    version=version,
                    found=shown(kind, 40),
                    wanted=wanted,
                ),
            )


def _check_claims(conn: Connection, now: datetime) -> None:
    latest = now + RETRY_MOST + CLAIM_FOR
    for task_id, claimed in conn.execute(select(_timers.c.task_id, _timers.c.claimed_until)).all():
        if claimed is not None and (
            not isinstance(claimed, datetime) or damaged_time(claimed) or timezones.to_utc(claimed) > latest
        ):
            raise _refused(
                "timers",
                "claimed_until",
                Message(
                    N_(
                        "de timer van taak {task} wordt tegengehouden tot {until}, langer dan "
                        "een poging ooit wacht"
                    ),
                    task=task_id,
                    until=str(claimed)[:40],
                ),
            )


def drop_uncarried(conn: Connection) -> None:
    """Remove from the copy on `conn` (in its transaction) what a restore does not carry: the
    sign-in limiter's counters (rate_limits; see above)."""
    conn.execute(delete(RateLimit.__table__))
