"""The sequencer's own record of the log head, kept outside the database.

Without it, someone who can write the database could cut the log at any point, put the rows
after the cut back in `log_queue`, and let the sequencer (run by every server and by
verify itself) give them new places with valid keyed hashes: an old case would vanish from a
log that looks whole. So every sequencing batch also records, after its commit, the tree size
and root it reached (with the compact range of the tree, RFC 9162 section 2.1.1, so the next
batch extends it without reading the log) in `log-head-<database>.json` under the instance
directory, under a keyed hash (HMAC-SHA-256 with the history key). The sequencer never
appends to a log shorter than that record, and verify and checkpoint check the log against
it as against a checkpoint. An attacker with the database alone can then hide at most the
rows still queued (not yet sequenced, about a second of writes on a running server).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, Connection, Engine, select

from . import settings, timezones
from .failures import kind_of
from .merkle import Tree, leaf_of
from .messages import N_, Message
from .models import LogEntry

log = logging.getLogger(__name__)
_ENTRIES = LogEntry.__table__


@dataclass(frozen=True)
class Head:
    """A recorded log head: tree size, root (hex), when it was recorded (ISO 8601 UTC), and
    the tree's compact range to extend it."""

    tree_size: int
    root: str
    at: str
    frontier: tuple[str, ...]

    def tree(self) -> Tree:
        return Tree.resume(self.tree_size, [bytes.fromhex(h) for h in self.frontier])


class HeadUnreadable(Exception):
    """The record exists but cannot be trusted (malformed, or its keyed hash does not fit);
    the message is Dutch (a Message, which the web layer translates)."""


def identity(url: URL) -> str:
    """Which database `url` names, however it is typed: SQLite the real path of its file
    (`./`, `..` and links resolved), PostgreSQL its server's host and port and the database's
    name (user, password and options left out). The head record, and restore's intent record
    and lock beside it (engine/restore_steps.py), are keyed by it: keyed by the URL as typed,
    `sqlite:////x/db.sqlite` and `sqlite:////x/./db.sqlite` counted as two databases, each
    with its own head and lock (issue 11 point 3)."""
    backend = url.get_backend_name()
    database = url.database or ""
    if backend == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        return f"sqlite:{os.path.realpath(database)}"
    if backend == "postgresql":
        socket = url.query.get("host")
        host = url.host or (socket if isinstance(socket, str) else "") or "localhost"
        return f"postgresql://{host.lower()}:{url.port or 5432}/{database}"
    return url.render_as_string(hide_password=True)


def path_for(engine: Engine) -> Path:
    """The record of the database `engine` connects to: one file per database (identity)
    under the instance directory. A record an earlier version keyed by the URL as typed is
    taken over (renamed) when the database has none yet."""
    return record_path(engine, "log-head-")


def record_path(engine: Engine, prefix: str) -> Path:
    """The file `<prefix><digest of identity>.json` under the instance directory: a record of
    the database `engine` connects to (the head record here, restore's intent record in
    engine/restore_steps.py). One an earlier version named after the URL as typed is taken
    over (renamed) when there is none under the identity yet, so an unfinished restore's
    record is never left behind under the old name."""
    folder = settings.instance_dir()
    path = folder / f"{prefix}{_digest(identity(engine.url))}.json"
    legacy = folder / f"{prefix}{_digest(engine.url.render_as_string(hide_password=True))}.json"
    if legacy != path and not os.path.lexists(path) and os.path.lexists(legacy):
        with contextlib.suppress(FileNotFoundError):  # another process took it over first
            os.rename(legacy, path)
    return path


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _mac(size: int, root: str, at: str) -> str:
    message = f"meldcode log head v1\n{size}\n{root}\n{at}\n".encode()
    return hmac.digest(settings.history_key(), message, "sha256").hex()


def read(engine: Engine) -> Head | None:
    """The recorded head of the database, or None when this instance never sequenced it.
    Raises HeadUnreadable for a record that is malformed or whose keyed hash does not fit."""
    path = path_for(engine)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        raise HeadUnreadable(Message(N_("de vastgelegde kop van het logboek ({path}) is "
                                        "onleesbaar: {reason}"), path=str(path),
                                     reason=kind_of(exc))) from None
    try:
        head = Head(data["tree_size"], data["root"], data["at"], tuple(data["frontier"]))
        ok = (isinstance(head.tree_size, int) and head.tree_size >= 0
              and hmac.compare_digest(_mac(head.tree_size, head.root, head.at), data["mac"])
              and head.tree().root() == head.root)
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise HeadUnreadable(Message(N_("de vastgelegde kop van het logboek ({path}) is "
                                        "gewijzigd of misvormd (de sleutelhash klopt niet)"),
                                     path=str(path)))
    return head


def size_or_zero(engine: Engine) -> int:
    """The recorded tree size, 0 without a record; an unusable record counts as none (verify
    reports it)."""
    try:
        head = read(engine)
    except HeadUnreadable:
        return 0
    return head.tree_size if head is not None else 0


def record(engine: Engine, conn: Connection, first: int, entries: Sequence[str]) -> None:
    """Record that the log now holds `entries` (entry hashes, hex) from index `first` on,
    just committed by this process. Entries that other processes sequenced in between and
    did not record yet are read from the database (`conn`). Never moves the record back.
    Best effort: a failure is logged; the next batch records again."""
    path = path_for(engine)
    try:
        with open(path.with_name(path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                head = read(engine)
            except HeadUnreadable:
                log.error("log head record unusable; not overwritten", exc_info=True)
                return
            tree = head.tree() if head is not None else Tree()
            end = first + len(entries)
            if tree.size >= end:
                return
            if tree.size < first:  # another process's batch, committed but not recorded yet
                query = (select(_ENTRIES.c.entry_hash).where(_ENTRIES.c.idx >= tree.size)
                         .where(_ENTRIES.c.idx < first).order_by(_ENTRIES.c.idx))
                missing = [leaf_of(h) for h in conn.execute(query).scalars()]
                if len(missing) != first - tree.size:
                    log.error("log head: entries %s..%s not found", tree.size, first - 1)
                    return
                tree.extend(missing)
            tree.extend([bytes.fromhex(h) for h in entries[tree.size - first:]])
            _write(path, tree)
    except OSError:
        log.warning("log head not recorded", exc_info=True)


def _write(path: Path, tree: Tree) -> None:
    root, at = tree.root(), timezones.iso_seconds(timezones.now_utc())
    body = {"tree_size": tree.size, "root": root, "at": at,
            "frontier": [h.hex() for h in tree.frontier()], "mac": _mac(tree.size, root, at)}
    settings.replace_file(path, json.dumps(body) + "\n")


def reset(engine: Engine, tree: Tree) -> None:
    """Replace the record by `tree` (the log as it now is), also when that is shorter than the
    record: only for `meldcode restore` (engine/restore_steps.py), which puts an older copy of the
    database back on purpose and says so in the admin log. Raises OSError when the record
    cannot be written."""
    path = path_for(engine)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write(path, tree)


def forget(engine: Engine) -> None:
    """Remove the record of `engine`'s database (and its lock file), if any: for a scratch
    copy that restore checked and that is gone afterwards."""
    path = path_for(engine)
    for leftover in (path, path.with_name(path.name + ".lock")):
        leftover.unlink(missing_ok=True)
