"""The steps of `meldcode restore` once the copy is checked (engine/restore.py), and the record
that keeps an interrupted restore in sight (issue 11, break-it of restore: kill -9 at a bad
moment).

A restore changes three things that share no transaction: the database (the command line
swaps the copy in: a rename, or pg_restore in one transaction), what lies outside it (the head
the sequencer recorded, engine/log_head.py, and the checkpoints in MELDCODE_CHECKPOINT_DIR
that the restored log does not hold, moved into a subfolder `voor-terugzetten-<time>`), and
the admin log (the line `database_restored`). A kill between them left a database the head
did not explain, or newer evidence set aside without a line: a rollback that `meldcode verify
--all` passed. So a restore goes:

1. begin(): before the database is touched, an intent record `terugzetten-<database>.json`
   beside the head record in the instance directory names the backup file, when and by whom,
   the log's size and the recorded head before, and the subfolder for the checkpoints. It is
   written whole or not at all (temporary file, fsync, rename, fsync of the folder), under a
   keyed hash (HMAC-SHA-256 with the history key) as the head record is;
2. the command line swaps the copy in;
3. settle(): the head is reset to the restored log and the checkpoints it does not hold are
   moved into the subfolder; both synced to disk;
4. record(): the admin line, made from the intent (the state before the first attempt) and
   from everything in the subfolder; then the intent is removed; then a new checkpoint. The
   line carries forward the replaced database's own `database_restored` lines (the backup
   lacks them; read in begin()) and counts the entries dropped from the largest size known
   (largest_known), so neither a second restore nor a replayed old intent understates them.

While an intent record exists, `meldcode verify` reports an unfinished restore (exit 1).
`meldcode restore FILE` run again redoes the whole restore (check, swap, 3 and 4), each step
safe to repeat; it keeps the intent's facts from before the first attempt and its subfolder,
and the admin line names each interrupted attempt (`interrupted_attempts`: its file and start,
and the head and log size found when the next attempt began, so writes made in between, which
the new swap drops, are on record too). To finish without going back further, back up the
database as it now is and restore that copy.

Scratch copies a killed restore left behind (SQLite: `.<database file>.*.tmp` beside the
database, with their -wal and -shm; PostgreSQL: databases `<database>_terugzetten_<pid>`)
are removed by the next restore, which names them; verify names them until then. One restore
of a database at a time: a lock file beside the intent. Those, and what verify reports of an
unfinished restore, are engine/restore_traces.py's."""

from __future__ import annotations

import contextlib
import errno
import hmac
import json
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from . import audit, checkpoints, config, log_head, models, settings, store, timezones, translog
from .failures import kind_of
from .merkle import Tree, leaf_of
from .messages import N_, Message

SET_ASIDE = "voor-terugzetten-{stamp}"  # the subfolder of the checkpoints a restore sets aside
# The facts an intent record holds (begin()); a record without them is misformed.
INTENT_KEYS = frozenset(
    {
        "file",
        "started_at",
        "by",
        "tree_size_before",
        "recorded_head_before",
        "recorded_head_problem",
        "checkpoints_folder",
        "interrupted_attempts",
    }
)


def intent_path(url: str) -> Path:
    """The intent record of the database at `url`: beside its head record, named after the
    same digest of the database's identity (engine/log_head.py identity: the real path of an
    SQLite file, host, port and name of a PostgreSQL database), so that every spelling of
    its URL finds the same record and lock. A record an earlier version named after the URL
    as typed is taken over (log_head.record_path), so an unfinished restore stays in sight."""
    return log_head.record_path(store.get_engine(url), "terugzetten-")


def _mac(body: dict[str, Any]) -> str:
    message = b"meldcode restore intent v1\n" + json.dumps(body, sort_keys=True).encode()
    return hmac.digest(settings.history_key(), message, "sha256").hex()


def _write_durably(path: Path, body: dict[str, Any]) -> None:
    """The record on disk whole, surviving a crash, before the caller goes on."""
    settings.replace_file(path, json.dumps({**body, "mac": _mac(body)}, sort_keys=True) + "\n", durable=True)


def _read_regular(path: Path) -> str:
    """The text of the regular file at `path`. Raises OSError for anything else: a FIFO put
    there made verify wait for ever (break-it of restore), so it is opened without waiting."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with open(fd, encoding="utf-8") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return fh.read()


def pending(url: str) -> tuple[dict[str, Any] | None, str | None]:
    """The intent record of an unfinished restore of the database at `url`: (its facts, None);
    (None, the reason in Dutch) for a record that cannot be read or whose keyed hash does not
    fit; (None, None) when no restore is unfinished."""
    path = intent_path(url)
    try:
        data = json.loads(_read_regular(path))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, RecursionError) as exc:
        return None, Message(
            N_("het bestand van een terugzetting ({path}) is onleesbaar: {reason}"),
            path=str(path),
            reason=kind_of(exc),
        )
    body = {k: v for k, v in data.items() if k != "mac"} if isinstance(data, dict) else {}
    mac = data.get("mac") if isinstance(data, dict) else None
    if not (
        isinstance(mac, str)
        and INTENT_KEYS <= set(body)
        and hmac.compare_digest(_mac(body).encode(), mac.encode())
    ):
        return None, Message(
            N_(
                "het bestand van een terugzetting ({path}) is gewijzigd of misvormd (de "
                "sleutelhash klopt niet)"
            ),
            path=str(path),
        )
    return body, None


def begin(
    url: str,
    file_name: str,
    by: str,
    size_before: int,
    head_before: tuple[dict[str, Any] | None, str | None],
) -> dict[str, Any]:
    """Step 1: the intent record, on disk before the database at `url` is touched. In: the
    backup's file name, who restores, the log's size and the recorded head as they are now
    (restore.log_size, restore.recorded_head). After an interrupted attempt the facts from
    before the first attempt and its subfolder stay, and the attempt is added to
    `interrupted_attempts`. Out: the intent. Raises OSError when it cannot be written."""
    earlier, problem = pending(url)
    now = timezones.iso_seconds(timezones.now_utc())
    head, head_problem = head_before
    intent: dict[str, Any] = {
        "file": file_name,
        "started_at": now,
        "by": by,
        "tree_size_before": size_before,
        "recorded_head_before": head,
        "recorded_head_problem": head_problem,
        "checkpoints_folder": _new_folder(now),
        "interrupted_attempts": [],
    }
    # what the database being replaced recorded of its own restores: the backup lacks them
    intent["earlier_restores"] = earlier_restores(url)
    store.dispose_engines()  # no connection to the database being replaced outlives the swap
    if earlier is not None or problem is not None:
        found: dict[str, Any] = {"recorded_head_at_retry": head, "tree_size_at_retry": size_before}
        if head_problem:
            found["recorded_head_problem_at_retry"] = head_problem
        if earlier is None:
            intent["interrupted_attempts"] = [{"problem": str(problem), **found}]
        else:
            keep = ("tree_size_before", "recorded_head_before", "recorded_head_problem")
            intent.update({key: earlier[key] for key in keep})
            # the first attempt's folder (it may hold what it set aside); without one, today's
            intent["checkpoints_folder"] = earlier["checkpoints_folder"] or intent["checkpoints_folder"]
            attempt = {key: earlier[key] for key in ("file", "started_at", "by")}
            intent["interrupted_attempts"] = [*earlier["interrupted_attempts"], {**attempt, **found}]
            known = earlier.get("earlier_restores", [])
            intent["earlier_restores"] = [*known, *(r for r in intent["earlier_restores"] if r not in known)]
    _write_durably(intent_path(url), intent)
    return intent


def earlier_restores(url: str) -> list[dict[str, Any]]:
    """What the `database_restored` lines of the database at `url` say (their own and those
    they carried forward): {"file", "tree_size_before", "recorded_head_before",
    "entries_dropped", "checkpoints_folder"} each; [] without an admin log (no schema yet)."""
    keys = ("file", "tree_size_before", "recorded_head_before", "entries_dropped", "checkpoints_folder")
    out: list[dict[str, Any]] = []
    try:
        with store.unit_of_work(url=url) as session:
            rows = session.scalars(
                select(models.AdminLogEntry.detail).where(models.AdminLogEntry.action == "database_restored")
            ).all()
    except DBAPIError:
        return []
    for detail in rows:
        if isinstance(detail, dict):
            for line in [*detail.get("earlier_restores", []), {k: detail.get(k) for k in keys}]:
                if isinstance(line, dict) and line not in out:
                    out.append(line)
    return out


def largest_known(intent: dict[str, Any]) -> int:
    """The largest log size known before the restore: the recorded head, the log's size, each
    interrupted attempt's, each earlier restore's head before, and every checkpoint in
    MELDCODE_CHECKPOINT_DIR and its set-aside subfolders. A replayed old intent or a second
    restore (whose backup lacks the first one's line) thus never understates the entries
    dropped (break-it of restore)."""
    heads = [intent["recorded_head_before"], intent["tree_size_before"]]
    for attempt in intent["interrupted_attempts"]:
        heads += [attempt.get("recorded_head_at_retry"), attempt.get("tree_size_at_retry")]
    for line in intent.get("earlier_restores", []):
        heads += [line.get("recorded_head_before"), line.get("tree_size_before")]
    sizes = [h.get("tree_size") if isinstance(h, dict) else h for h in heads]
    sizes += [c["tree_size"] for c in all_checkpoints()]
    return max([s for s in sizes if isinstance(s, int) and not isinstance(s, bool)] or [0])


def all_checkpoints() -> list[dict[str, Any]]:
    """The valid checkpoints of MELDCODE_CHECKPOINT_DIR and of its `voor-terugzetten-*`
    subfolders, {"file", "folder", "tree_size", "root", "at"} each (folder None at the top)."""
    folder = config.current().checkpoint_dir
    if not folder or not Path(folder).is_dir():
        return []
    top = [{**c, "folder": None} for c in _in(Path(folder))]
    aside = Path(folder).glob(SET_ASIDE.format(stamp="*"))
    return top + [{**c, "folder": sub.name} for sub in sorted(aside) for c in _in(sub)]


def _new_folder(now: str) -> str | None:
    """The subfolder this restore sets checkpoints aside into: one no earlier restore used."""
    folder = config.current().checkpoint_dir
    if not folder:
        return None
    stamp = now.replace(":", "").replace("-", "")
    target, n = Path(folder) / SET_ASIDE.format(stamp=stamp), 1
    while target.exists():
        n += 1
        target = Path(folder) / f"{SET_ASIDE.format(stamp=stamp)}-{n}"
    return str(target.absolute())


def clear(url: str) -> None:
    """Remove the intent record (the restore is in the admin log, or nothing was changed)."""
    path = intent_path(url)
    path.unlink(missing_ok=True)
    settings.sync_folder(path.parent)


def abandon(url: str, intent: dict[str, Any]) -> None:
    """The swap did not happen (pg_restore rolled back): the intent goes, unless an earlier
    attempt was interrupted (that one may have changed the database; a next run redoes it)."""
    if not intent["interrupted_attempts"]:
        clear(url)


def _prefix_roots(url: str, sizes: set[int]) -> tuple[Tree, dict[int, str]]:
    """The whole log's tree and its roots after the first `sizes` entries (those it holds)."""
    tree, roots = Tree(), {}
    with translog.snapshot(url) as conn:
        for rows in translog.batches(
            conn, select(translog.ENTRIES.c.entry_hash).order_by(translog.ENTRIES.c.idx)
        ):
            for (entry,) in rows:
                if tree.size in sizes:
                    roots[tree.size] = tree.root()
                tree.append(leaf_of(entry))
    roots[tree.size] = tree.root()
    return tree, roots


def wanted_sizes() -> set[int]:
    """The tree sizes of the valid checkpoints in MELDCODE_CHECKPOINT_DIR."""
    folder = config.current().checkpoint_dir
    if not folder or not Path(folder).is_dir():
        return set()
    sizes = set()
    for path in Path(folder).glob("checkpoint-*.json"):
        with contextlib.suppress(checkpoints.CheckpointError):
            sizes.add(checkpoints.load_checkpoint(path)["tree_size"])
    return sizes


def _set_aside(held: dict[int, str], size: int, target: Path) -> None:
    """Move the checkpoints of MELDCODE_CHECKPOINT_DIR the restored log does not hold into
    `target`. A file that is no valid checkpoint stays where it is (verify names it)."""
    folder = target.parent
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("checkpoint-*.json")):
        try:
            found = checkpoints.load_checkpoint(path)
        except checkpoints.CheckpointError:
            continue
        if found["tree_size"] <= size and held.get(found["tree_size"]) == found["root"]:
            continue
        target.mkdir(exist_ok=True)
        path.rename(target / path.name)  # keeps its time: still the evidence it was
    if target.is_dir():
        settings.sync_folder(target)
        settings.sync_folder(folder)


def _in(target: Path | None) -> list[dict[str, Any]]:
    """The checkpoints set aside in `target` (by this restore, also by an interrupted attempt
    of it): {"file", "tree_size", "root", "at"} each."""
    if target is None or not target.is_dir():
        return []
    out = []
    for path in sorted(target.glob("checkpoint-*.json")):
        with contextlib.suppress(checkpoints.CheckpointError):
            found = checkpoints.load_checkpoint(path)
            out.append({"file": path.name, **{k: found[k] for k in ("tree_size", "root", "at")}})
    return out


def settle(url: str, intent: dict[str, Any]) -> dict[str, Any]:
    """Step 3, with the copy in place at `url` (schema at head): the recorded head reset to the
    restored log, the checkpoints it does not hold moved into the intent's subfolder, both on
    disk. Out: {"tree_size_after", "root_after"}. Raises OSError when the head record cannot
    be written."""
    engine = store.get_engine(url)
    # The head first (the sequencer appends nothing to a log shorter than the record), then
    # the rows the backup still had queued get their places after its own entries.
    log_head.reset(engine, _prefix_roots(url, set())[0])
    translog.sequence(url)
    tree, roots = _prefix_roots(url, wanted_sizes())
    log_head.reset(engine, tree)
    head = log_head.path_for(engine)
    with open(head, "rb") as fh:
        os.fsync(fh.fileno())
    settings.sync_folder(head.parent)
    if intent["checkpoints_folder"]:
        _set_aside(roots, tree.size, Path(intent["checkpoints_folder"]))
    return {"tree_size_after": tree.size, "root_after": tree.root()}


def record(url: str, intent: dict[str, Any], settled: dict[str, Any]) -> dict[str, Any]:
    """Step 4: the admin-log line `database_restored` (sequenced), then the intent removed,
    then a new checkpoint when MELDCODE_CHECKPOINT_DIR is set. Out: the line's detail plus
    "checkpoint" (the new file, or None). Raises checkpoints.CheckpointError when no new
    checkpoint could be written (the restore is recorded by then)."""
    folder = Path(intent["checkpoints_folder"]) if intent["checkpoints_folder"] else None
    moved = _in(folder)
    head = intent["recorded_head_before"]
    detail: dict[str, Any] = {
        "file": intent["file"],
        "tree_size_before": intent["tree_size_before"],
        **settled,
        "recorded_head_before": head,
        "largest_head_known": largest_known(intent),
        "entries_dropped": max(0, largest_known(intent) - settled["tree_size_after"]),
        "checkpoints_set_aside": moved,
        "checkpoints_folder": str(folder) if moved else None,
        "explanation": str(
            Message(
                N_(
                    "De database is teruggezet uit een reservekopie. Regels van het logboek die "
                    "nieuwer waren dan de reservekopie zijn daarmee weg: deze regel noemt hoeveel, "
                    "en de kop van het logboek van daarvoor. Controlepunten die het teruggezette "
                    "logboek niet bevat, staan ongewijzigd in de map die deze regel noemt."
                )
            )
        ),
    }
    if intent["recorded_head_problem"]:
        detail["recorded_head_problem"] = intent["recorded_head_problem"]
    if intent.get("earlier_restores"):
        detail["earlier_restores"] = intent["earlier_restores"]
    if intent["interrupted_attempts"]:
        detail["interrupted_attempts"] = intent["interrupted_attempts"]
    with store.unit_of_work(write=True, url=url) as session:
        audit.log_admin(session, intent["by"], "database_restored", detail)
    translog.sequence(url)
    clear(url)
    new = None
    if config.current().checkpoint_dir:
        new = str(checkpoints.write_checkpoint(url=url))
    return {**detail, "checkpoint": new}


def finish(url: str, intent: dict[str, Any]) -> dict[str, Any]:
    """Steps 3 and 4 (settle, record) once the copy is in place; see record() for what comes
    out and what is raised."""
    return record(url, intent, settle(url, intent))
