"""Putting a backup back (`meldcode restore FILE`, issue 11 point 5), so that `meldcode verify
--all` passes on the restored database and the restore itself is evidence.

A backup is older than the database it replaces: its log is shorter than the head the
sequencer recorded outside the database (engine/log_head.py) and than the checkpoints written
since (engine/checkpoints.py), and both would report the newer entries as removed. So:

1. the copy is checked first, on a scratch copy: a database of this product (its schema
   version is one of ours) that passes what `meldcode verify --all` checks (its log whole,
   every case, users, tokens and process files, with this instance's history key); a copy
   that fails changes nothing;
2. it replaces the database only while no server has it open (the command line refuses);
3. afterwards (engine/restore_steps.py, which records the intent first so that an interrupted
   restore never goes unseen) the recorded head is reset to the restored log, and every
   checkpoint in MELDCODE_CHECKPOINT_DIR that the restored log does not hold (larger than
   it, or another root at its size) is moved into a subfolder `voor-terugzetten-<time>`:
   kept, never deleted, no longer the one verify compares with;
4. one admin-log line, action `database_restored`, records the file, the log's size before
   and after, the head recorded before (size and root, so an auditor sees how many entries
   newer than the backup were dropped) and the checkpoints set aside; then a new checkpoint
   is written when MELDCODE_CHECKPOINT_DIR is set, so the restore is pinned outside the
   database too.

Running pg_restore and copying files are the command line's (webui/cli.py); this module holds
the checks and the bookkeeping around them."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from . import log_head, log_verify, schema, store, translog
from .failures import kind_of
from .messages import N_, Message, text_of

SQLITE_HEADER = b"SQLite format 3\x00"
# Tables every Meldcode database has since the log across all cases (migration 0013 on).
PRODUCT_TABLES = frozenset(
    {
        "alembic_version",
        "cases",
        "history_events",
        "access_log",
        "admin_log",
        "log_entries",
        "log_queue",
        "users",
    }
)
# PostgreSQL scratch databases are named <database>_terugzetten_<pid> (scratch_url); the next
# restore removes those a killed one left (engine/restore_steps.py).
SCRATCH = "terugzetten_"


class RestoreRefused(Exception):
    """The copy cannot be put back (not a backup of this product, its log not whole, the
    database in use); the message is Dutch (a Message). Nothing was changed."""


def known_revisions() -> set[str]:
    """The schema revisions of this product's migrations."""
    # Alembic is imported where a restore uses it: `meldcode verify` imports this module (for
    # engine.restore_traces) and never needs it.
    from alembic.script import ScriptDirectory

    return {
        rev.revision
        for rev in ScriptDirectory.from_config(schema.alembic_config("sqlite://")).walk_revisions()
    }


def check_sqlite_backup(path: Path, name: str | None = None) -> None:
    """Whether the file at `path` (named `name` in messages, default the path) is an SQLite
    database of this product, read-only: the SQLite header, the product's tables, a schema
    revision of ours, and every table, index, trigger and view exactly as the migrations
    make them at that revision (sqlite_schema). Raises RestoreRefused (Dutch) for an empty
    file, random bytes, another application's database, a schema object more, missing or
    different (named)."""
    shown = name or str(path)
    try:
        with open(path, "rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise RestoreRefused(
            Message(N_("{path} is niet te lezen: {reason}"), path=str(path), reason=kind_of(exc))
        ) from None
    if header != SQLITE_HEADER:
        raise RestoreRefused(
            Message(
                N_("{path} is geen reservekopie van Meldcode: het is geen SQLite-database"), path=str(path)
            )
        )
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            revisions = (
                {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
                if "alembic_version" in tables
                else set()
            )
            check_product(shown, tables, revisions)
            found = sqlite_schema(conn)
    except sqlite3.Error:
        raise RestoreRefused(
            Message(
                N_("{path} is geen reservekopie van Meldcode: de SQLite-database is beschadigd"),
                path=shown,
            )
        ) from None
    compare_sqlite_schema(shown, found, migrated_sqlite_schema(revisions.pop()))


# sqlite_master's kinds, in Dutch; statistics of ANALYZE (sqlite_stat*) steer the planner only
SCHEMA_KINDS = {"table": "tabel", "index": "index", "trigger": "trigger", "view": "view"}


def sqlite_schema(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """The schema objects of an SQLite database: (kind, name) -> its SQL, white space folded."""
    return {
        (kind, name): (_unordered if kind == "table" else str)(" ".join((sql or "").split()))
        for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_master")
        if not name.startswith("sqlite_stat")
    }


def _unordered(sql: str) -> str:
    """A CREATE TABLE with its columns and constraints sorted: a table the migrations rebuilt
    (batch mode) lists its foreign keys in no fixed order."""
    start, end = sql.find("("), sql.rfind(")")
    parts, depth, last = [], 0, start + 1
    for i in range(start + 1, end):
        depth += {"(": 1, ")": -1}.get(sql[i], 0)
        if sql[i] == "," and depth == 0:
            parts.append(sql[last:i].strip())
            last = i + 1
    parts.append(sql[last:end].strip())
    return f"{sql[:start]}({', '.join(sorted(parts))})"


def migrated_sqlite_schema(revision: str) -> dict[tuple[str, str], str]:
    """sqlite_schema of a new database the product's migrations brought to `revision`."""
    from alembic import command

    with tempfile.TemporaryDirectory(prefix="meldcode-schema-") as folder:
        database = Path(folder) / "schema.sqlite"
        command.upgrade(schema.alembic_config(f"sqlite:///{database}"), revision)
        with contextlib.closing(sqlite3.connect(database)) as conn:
            return sqlite_schema(conn)


def compare_sqlite_schema(
    name: str, found: dict[tuple[str, str], str], wanted: dict[tuple[str, str], str]
) -> None:
    """Raises RestoreRefused naming the first schema object of the copy (`found`) that the
    migrations (`wanted`) do not make, make otherwise, or make and the copy lacks. A trigger,
    table or view of its own would act on the database once it is put back (issue 11)."""
    for key in sorted(set(found) | set(wanted)):
        label = f"{SCHEMA_KINDS.get(key[0], key[0])} {key[1]}"
        if key not in wanted:
            what = N_("{path}: de reservekopie bevat {name}, dat het schema van deze versie niet kent")
        elif key not in found:
            what = N_("{path}: in de reservekopie ontbreekt {name} van het schema van deze versie")
        elif found[key] != wanted[key]:
            what = N_("{path}: in de reservekopie wijkt {name} af van het schema van deze versie")
        else:
            continue
        raise RestoreRefused(Message(what, path=name, name=label))


def check_product(name: str, tables: set[str], revisions: set[str]) -> None:
    """Raises RestoreRefused unless `tables` hold the product's and `revisions` is one schema
    revision of this product (a newer product's copy cannot be put back by this one)."""
    if not PRODUCT_TABLES <= tables:
        raise RestoreRefused(
            Message(
                N_("{path} is geen reservekopie van Meldcode: de tabellen van Meldcode ontbreken"), path=name
            )
        )
    if len(revisions) != 1 or not revisions <= known_revisions():
        raise RestoreRefused(
            Message(N_("{path} heeft een databaseschema dat deze versie van Meldcode niet kent"), path=name)
        )


def check_copy(url: str, jobs: int = 1) -> int:
    """Bring the scratch copy at `url` to this product's schema and check it as `meldcode
    verify --all` does: its log (log_verify.verify_log: no gap, every entry's keyed hash with
    this instance's history key, every row in the log, the cases it names present), every
    case (verification.verify_all: header, both chains, replay) and the rows outside the
    cases (config_seals.problems: users, tokens, process files, settings); then what no seal
    or chain covers (engine/restore_rows.py: the active version and other columns checked,
    the sign-in counters removed from the copy). `jobs` processes check cases side by side.
    Returns the log's size. Raises RestoreRefused naming the first problems. Leaves no head
    record for the scratch copy."""
    from . import config_seals, restore_rows, verification

    engine = store.get_engine(url)
    problems: list[str] = []
    # Their English lines for the server log would only repeat, on the operator's screen,
    # what the refusal names in Dutch (as verify quiets them).
    quiet = [logging.getLogger(name) for name in ("meldcode.seals", log_head.log.name)]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        schema.upgrade(url)
        report = log_verify.verify_log(url, jobs=1)
        problems += [str(p) for p in report.problems]
        for verdict in verification.verify_all(log=report, url=url, jobs=jobs):
            problems += [f"casus {verdict.case_id}: {p}" for p in verdict.problems]
        with engine.connect() as conn:
            problems += [str(p) for p in config_seals.problems(conn)]
    except DBAPIError:
        raise RestoreRefused(N_("de reservekopie is niet te lezen als database van Meldcode")) from None
    finally:
        log_head.forget(engine)
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
    if problems:
        more = len(problems) - 5
        raise RestoreRefused(
            Message(
                N_(
                    "de reservekopie is niet in orde (gewijzigd, of gemaakt met een andere "
                    "geschiedenissleutel): {problems}{more}"
                ),
                problems="; ".join(problems[:5]),
                more=f" (en nog {more})" if more > 0 else "",
            )
        )
    # what no seal or chain covers (engine/restore_rows.py): checked, or not carried
    with engine.begin() as conn:
        restore_rows.check(conn)
        restore_rows.drop_uncarried(conn)
    return report.tree_size


def sqlite_in_use(database: str, timeout: float = 2.0) -> bool:
    """Whether another connection has the SQLite database open (a server running): leaving
    WAL mode needs the database to itself. When free, the database is left in rollback-
    journal mode (its -wal written back), ready to be replaced; the product's connections
    turn WAL on again when they open it."""
    if not Path(database).exists():
        return False
    with contextlib.closing(sqlite3.connect(database, timeout=timeout)) as conn:
        try:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        except sqlite3.OperationalError:
            return True
    return str(mode).lower() != "delete"


def pg_other_connections(url: str) -> int:
    """How many other sessions have the PostgreSQL database of `url` open (a server, a
    worker, psql)."""
    with store.get_engine(url).connect() as conn:
        return (
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ).scalar()
            or 0
        )


def create_scratch(url: str, scratch: str) -> None:
    """Create the empty PostgreSQL database of `scratch` (from template0) on the server of
    `url`, to restore the copy into and check it there first. Raises RestoreRefused when the
    database user may not create databases."""
    name = make_url(scratch).database
    try:
        with store.get_engine(url).execution_options(isolation_level="AUTOCOMMIT").connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    except DBAPIError:
        raise RestoreRefused(
            N_(
                "de reservekopie kan niet eerst apart worden gecontroleerd: de "
                "databasegebruiker mag geen database aanmaken (CREATEDB is "
                "nodig voor 'meldcode restore')"
            )
        ) from None


def drop_scratch(url: str, scratch: str) -> None:
    """Remove the scratch database again (closing this process's connections to it first)."""
    store.dispose_engines()
    name = make_url(scratch).database
    with store.get_engine(url).execution_options(isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def check_pg_scratch(scratch: str, name: str) -> None:
    """Whether the scratch database (the copy restored into it) is one of this product:
    its tables and schema revision (check_product). Raises RestoreRefused."""
    engine = store.get_engine(scratch)
    tables = set(inspect(engine).get_table_names())
    revisions: set[str] = set()
    if "alembic_version" in tables:
        with engine.connect() as conn:
            revisions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    check_product(name, tables, revisions)


def log_size(url: str) -> int:
    """The size of the log of the database at `url` as it is (0 without one: no schema yet)."""
    engine = store.get_engine(url)
    try:
        if "log_entries" not in inspect(engine).get_table_names():
            return 0
        with engine.connect() as conn:
            last = conn.execute(select(func.max(translog.ENTRIES.c.idx))).scalar()
    except DBAPIError:
        return 0
    return 0 if last is None else last + 1


def recorded_head(url: str) -> tuple[dict[str, Any] | None, str | None]:
    """The head the sequencer recorded for the database at `url` before the restore, as
    {"tree_size", "root", "at"}, or None; with the reason (Dutch) when the record is unusable."""
    try:
        head = log_head.read(store.get_engine(url))
    except log_head.HeadUnreadable as exc:
        return None, text_of(exc)
    if head is None:
        return None, None
    return {"tree_size": head.tree_size, "root": head.root, "at": head.at}, None


def scratch_url(url: str, suffix: str) -> str:
    """The URL of a scratch database beside the PostgreSQL database of `url`, named after it
    with `suffix`. The name keeps at most 40 characters of the database's own, so that with a
    suffix of up to 22 it stays within PostgreSQL's 63 and is never the database itself."""
    parsed = make_url(url)
    return parsed.set(database=f"{(parsed.database or '')[:40]}_{suffix}"[:63]).render_as_string(
        hide_password=False
    )
