"""What an interrupted `meldcode restore` leaves behind, and who sees it (issue 11, break-it
of restore; the steps and the intent record are engine/restore_steps.py's):

- problems(): the intent record of a restore that was begun and is not in the admin log, as
  `meldcode verify` reports it (exit 1) until `meldcode restore` has run again;
- leftovers(): the scratch copies a killed restore left (SQLite: `.<database file>.*.tmp`
  beside the database with their -wal and -shm; PostgreSQL: databases
  `<database>_terugzetten_<pid>`), which verify names and the next restore removes
  (remove_leftovers(), which says what it removed);
- lock(): one restore of a database at a time, so that a restore never removes the scratch
  copy of another that is still running."""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url

from . import log_head, restore, store
from .failures import kind_of
from .messages import N_, Message
from .restore_steps import all_checkpoints, earlier_restores, intent_path, pending


def _open_lock(url: str) -> IO[str]:
    """The lock file of the database at `url`, created when missing, opened without waiting.
    A FIFO put at its path made `meldcode restore` and `meldcode verify` wait for ever
    (break-it of restore), a link could point anywhere: both refused. Raises
    restore.RestoreRefused (Dutch)."""
    path = intent_path(url).with_suffix(".lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise restore.RestoreRefused(
            Message(
                N_("het slotbestand van terugzetten ({path}) is niet te openen: {reason}"),
                path=str(path),
                reason=kind_of(exc),
            )
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise restore.RestoreRefused(
            Message(
                N_(
                    "het slotbestand van terugzetten ({path}) is geen gewoon bestand; verwijder "
                    "het (er loopt dan geen terugzetting)"
                ),
                path=str(path),
            )
        )
    return open(fd, "a")  # noqa: SIM115 - kept open by the caller: it holds the lock


def lock(url: str) -> IO[str]:
    """Hold the restore lock of the database at `url` for as long as the returned file is open.
    Raises restore.RestoreRefused (Dutch) while another restore of it runs, or when the lock
    path holds no regular file (_open_lock)."""
    held = _open_lock(url)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        held.close()
        raise restore.RestoreRefused(
            N_("er loopt al een terugzetting van deze database ('meldcode restore'); wacht tot die klaar is")
        ) from None
    return held


def running(url: str) -> bool:
    """Whether a restore of the database at `url` holds its lock now. Raises
    restore.RestoreRefused when the lock path holds no regular file (_open_lock)."""
    if not os.path.lexists(intent_path(url).with_suffix(".lock")):
        return False
    with _open_lock(url) as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def _lock_state(url: str) -> tuple[bool, list[str]]:
    """(whether a restore runs, [the lock path's problem] when it is unusable: no restore can
    run then, verify names it)."""
    try:
        return running(url), []
    except restore.RestoreRefused as exc:
        return False, [str(exc)]


def problems(url: str) -> list[str]:
    """What `meldcode verify` reports about a restore of the database at `url` that was begun
    and is not recorded in the admin log (the intent record is there, or checkpoints were set
    aside that no `database_restored` line names: unrecorded()), in Dutch; [] when none."""
    busy, lock_problem = _lock_state(url)
    return lock_problem + _pending(url, busy) + unrecorded(url)


def unrecorded(url: str) -> list[str]:
    """Each `voor-terugzetten-*` subfolder of MELDCODE_CHECKPOINT_DIR holding checkpoints that
    no `database_restored` line of the database at `url` names (nor one it carried forward),
    in Dutch. A restore killed after it set them aside, its intent record then removed by
    hand, was a rollback verify passed (break-it of restore); a checkpoint larger than the log
    is evidence of entries dropped. The folder of a pending intent is left to _pending()."""
    intent, _problem = pending(url)
    named = {Path(str(line["checkpoints_folder"])).name for line in earlier_restores(url)
             if line.get("checkpoints_folder")}
    if intent is not None and intent["checkpoints_folder"]:
        named.add(Path(intent["checkpoints_folder"]).name)
    found: dict[str, list[int]] = {}
    for checkpoint in all_checkpoints():
        if checkpoint["folder"] is not None and checkpoint["folder"] not in named:
            found.setdefault(checkpoint["folder"], []).append(checkpoint["tree_size"])
    size = restore.log_size(url)
    return [
        Message(
            N_(
                "controlepunten opzijgezet zonder vastgelegde terugzetting: de map {folder} "
                "houdt {count} controlepunt(en), het grootste van {largest} regels (het "
                "logboek telt er nu {size}), en geen regel database_restored in het beheerlog "
                "noemt haar. Regels van het logboek kunnen zo ongemerkt zijn weggevallen"
            ),
            folder=folder,
            count=len(sizes),
            largest=max(sizes),
            size=size,
        )
        for folder, sizes in sorted(found.items())
    ]


def _pending(url: str, busy: bool) -> list[str]:
    intent, problem = pending(url)
    path = str(intent_path(url))
    if problem is not None:
        return [
            Message(
                N_(
                    "{problem}: een terugzetting is begonnen en niet afgemaakt, of het bestand is "
                    "buiten het product gewijzigd. Stop de server en voer 'meldcode restore' "
                    "opnieuw uit met de reservekopie"
                ),
                problem=problem,
            )
        ]
    if intent is None:
        return []
    if busy:
        return [
            Message(
                N_(
                    "een terugzetting uit {file}, begonnen op {at} door {by}, loopt nog; "
                    "controleer opnieuw als die klaar is ({path})"
                ),
                file=intent["file"],
                at=intent["started_at"],
                by=intent["by"],
                path=path,
            )
        ]
    head = intent["recorded_head_before"]
    before = (
        Message(
            N_("kop van de sequencer: {count} regels, wortel {root}"),
            count=head["tree_size"],
            root=head["root"],
        )
        if isinstance(head, dict)
        else Message(N_("geen vastgelegde kop van de sequencer"))
    )
    return [
        Message(
            N_(
                "een terugzetting uit {file}, begonnen op {at} door {by}, is niet afgemaakt: de "
                "database kan al teruggezet zijn en controlepunten kunnen al opzij zijn gezet, "
                "zonder de regel database_restored in het beheerlog. Daarvoor telde het logboek "
                "{size} regels ({before}). Stop de server en voer 'meldcode restore {file}' "
                "opnieuw uit: dat zet de reservekopie opnieuw terug en legt alles vast ({path})"
            ),
            file=intent["file"],
            at=intent["started_at"],
            by=intent["by"],
            size=intent["tree_size_before"],
            before=before,
            path=path,
        )
    ]


def leftovers(url: str) -> list[str]:
    """Scratch copies a killed restore of the database at `url` left behind (not those of a
    restore running now): SQLite files `.<database file>.*.tmp` (and their -wal, -shm,
    -journal) beside the database and temporary files of the intent record; PostgreSQL
    databases `<database>_terugzetten_<pid>` on its server."""
    return [] if _lock_state(url)[0] else _found(url)


def _found(url: str) -> list[str]:
    intent = intent_path(url)
    found = [str(p) for p in sorted(intent.parent.glob(f".{intent.name}.*.tmp"))]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        live = parsed.database or ""
        if live and live != ":memory:" and not live.startswith("file:"):
            live_path = Path(os.path.realpath(live))  # where restore puts its scratch copy
            found += [str(p) for p in sorted(live_path.parent.glob(f".{live_path.name}.*.tmp*"))]
    elif parsed.get_backend_name() == "postgresql":
        prefix = make_url(restore.scratch_url(url, restore.SCRATCH)).database or ""
        with store.get_engine(url).connect() as conn:
            names = conn.execute(text("SELECT datname FROM pg_database")).scalars()
            found += sorted(n for n in names if n.startswith(prefix) and n != parsed.database)
    return found


def remove_leftovers(url: str) -> list[str]:
    """Remove what leftovers() names (each scratch copy's head record too); out: their names.
    Call it holding lock() (so none of them is a running restore's)."""
    found = _found(url)
    parsed = make_url(url)
    for name in found:
        if parsed.get_backend_name() == "postgresql" and "/" not in name:
            scratch = parsed.set(database=name).render_as_string(hide_password=False)
            log_head.forget(store.get_engine(scratch))
            restore.drop_scratch(url, scratch)
            continue
        if name.endswith(".tmp") and not Path(name).name.startswith(".terugzetten-"):
            log_head.forget(store.get_engine(f"sqlite:///{name}"))  # as check_copy named it
        Path(name).unlink(missing_ok=True)
    return found
