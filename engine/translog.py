"""The log across all cases, in the manner of Certificate Transparency (RFC 9162).

Every history event, access-log line and admin-log row becomes, in order, one leaf of a Merkle
tree. A leaf's input is its entry hash: HMAC-SHA-256 with the history key over the leaf's
index, kind, row id, case and the row's own keyed hash (which covers the row's canonical
content), so without the key no entry can be made up, moved or renumbered. Hashing follows
RFC 9162 section 2.1.1: leaf = SHA-256(0x00 || entry hash), node = SHA-256(0x01 || left ||
right), the tree of n leaves split at the largest power of two below n.

Writers only insert their rows; triggers put them in `log_queue` within the writer's own
transaction. `sequence` gives queued rows the next indexes afterwards in short transactions
of its own, as Trillian's sequencer does: a server process runs a `Sequencer` thread that
the unit of work wakes after a write commits, and checkpoint and verify sequence what is
queued before they read.

A checkpoint (`tree_size`, `root`, `at`, `signature`; CONTRACT section 5) is signed with
Ed25519 by a key kept outside the database (MELDCODE_SIGNING_KEY, or `signing_key` under the
instance directory, created once); its public key is kept beside it (`signing_key.pub`).
With a checkpoint kept elsewhere, verify also sees the removal of the newest entries, which
without one can go unseen.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, case, delete, func, select, text

from . import config, models, settings, store, timezones
from .models import AccessLogEntry, AdminLogEntry, HistoryEvent, LogEntry, LogQueueItem

log = logging.getLogger(__name__)

KINDS = {"event": HistoryEvent.__table__, "access": AccessLogEntry.__table__,
         "admin": AdminLogEntry.__table__}
_entries, _queue = LogEntry.__table__, LogQueueItem.__table__
_PG_SEQUENCER = 9162  # advisory lock key: one sequencer at a time
BATCH = 5000
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()  # RFC 9162: MTH({}) = HASH()
MISSING = "-"  # the row hash recorded for a queued row that was gone when sequenced


class CheckpointError(Exception):
    """A checkpoint that cannot be trusted or read; the message is Dutch."""


# --- hashes ----------------------------------------------------------------------------------


def entry_hash(idx: int, kind: str, row_id: int, case_id: int | None, row_hash: str,
               key: bytes | None = None) -> str:
    """The keyed hash of one log entry (the leaf's input)."""
    message = f"{idx}\n{kind}\n{row_id}\n{'' if case_id is None else case_id}\n{row_hash}"
    return hmac.digest(key or settings.history_key(), message.encode(), "sha256").hex()


_sha256 = hashlib.sha256
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def _hmac_states(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA-256 (RFC 2104) set up once for `key`: the inner and outer SHA-256 states with
    the key's pads already hashed. For a message m the HMAC is outer.copy() updated with
    (inner.copy() updated with m).digest(); hmac.digest sets the key up anew on every call,
    which over a million log entries costs more than the rest of the check. Checked against
    hmac.digest before use."""
    block = (_sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    inner, outer = _sha256(block.translate(_IPAD)), _sha256(block.translate(_OPAD))
    probe = b"meldcode\nprobe"
    i = inner.copy()
    i.update(probe)
    o = outer.copy()
    o.update(i.digest())
    if o.digest() != hmac.digest(key, probe, "sha256"):
        raise RuntimeError("HMAC-SHA-256 set up wrongly")
    return inner, outer


class Tree:
    """A Merkle tree (RFC 9162 section 2.1.1) built leaf by leaf (or a batch of leaves at a
    time), keeping only the roots of its perfect subtrees (a compact range): one pass, memory
    O(log n) beside the batch."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, entry: bytes) -> None:
        self._push(_sha256(b"\x00" + entry).digest(), 0)

    def extend(self, entries: list[bytes]) -> None:
        """append() each of `entries`, in order: the same tree, but the leaves are hashed
        together and each aligned run of 2**k of them is reduced to its subtree's root level
        by level before it joins the compact range."""
        sha256 = _sha256
        leaves = [sha256(b"\x00" + entry).digest() for entry in entries]
        pos, n = 0, len(leaves)
        while pos < n:
            height = (n - pos).bit_length() - 1
            if self.size:  # a subtree starts at a multiple of its own width
                height = min(height, (self.size & -self.size).bit_length() - 1)
            level = leaves[pos:pos + (1 << height)]
            pos += 1 << height
            while len(level) > 1:
                level = [sha256(b"\x01" + left + right).digest()
                         for left, right in zip(level[0::2], level[1::2], strict=True)]
            self._push(level[0], height)

    def _push(self, h: bytes, height: int) -> None:
        """Add the root `h` of a perfect subtree of 2**height leaves; the tree's size must be
        a multiple of 2**height."""
        self.size += 1 << height
        n = self.size >> height
        stack = self._stack
        while not n & 1:  # as many merges as trailing zero bits of the new size
            h = _sha256(b"\x01" + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)

    def root(self) -> str:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = _sha256(b"\x01" + left + h).digest()
        return h.hex()


def root_of(entry_hashes: list[str]) -> str:
    """MTH over the given entry hashes (hex), RFC 9162 section 2.1.1."""
    tree = Tree()
    tree.extend([bytes.fromhex(entry) for entry in entry_hashes])
    return tree.root()


# --- the sequencer ---------------------------------------------------------------------------


def sequence(url: str | None = None, wait: bool = True) -> int:
    """Give every queued row its place in the log; returns how many were sequenced.

    wait=False (after a writer's commit): on PostgreSQL, leave it to a sequencer already
    running. Each batch is one short write transaction of its own, never the writer's."""
    return _sequence(store.get_engine(url), wait)


def _sequence(engine: Engine, wait: bool) -> int:
    total = 0
    while True:
        done = _sequence_batch(engine, wait)
        total += done
        if done < BATCH:
            return total


def _sequence_batch(engine: Engine, wait: bool) -> int:
    with store.write_queue(engine), store.writer(engine).connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            if wait:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SEQUENCER})
            elif not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                  {"k": _PG_SEQUENCER}).scalar():
                return 0
        queued = conn.execute(select(_queue).order_by(_queue.c.id).limit(BATCH)).all()
        if not queued:
            return 0
        hashes: dict[tuple[str, int], str] = {}
        for kind, table in KINDS.items():
            ids = [q.row_id for q in queued if q.kind == kind]
            for start in range(0, len(ids), 900):
                rows = conn.execute(select(table.c.id, table.c.hash)
                                    .where(table.c.id.in_(ids[start:start + 900])))
                hashes.update(((kind, r.id), r.hash) for r in rows)
        done = {tuple(r) for r in conn.execute(select(_entries.c.kind, _entries.c.row_id).where(
            _entries.c.row_id.in_([q.row_id for q in queued]))).all()}
        idx = conn.execute(select(func.max(_entries.c.idx))).scalar()
        idx = -1 if idx is None else idx
        key = settings.history_key()
        rows = []
        for q in queued:
            if (q.kind, q.row_id) in done:
                continue  # already in the log (a queue row given twice): keep its first place
            done.add((q.kind, q.row_id))
            idx += 1
            row_hash = hashes.get((q.kind, q.row_id), MISSING)
            rows.append({"idx": idx, "kind": q.kind, "row_id": q.row_id, "case_id": q.case_id,
                         "entry_hash": entry_hash(idx, q.kind, q.row_id, q.case_id, row_hash,
                                                  key)})
        if rows:
            conn.execute(_entries.insert(), rows)
        conn.execute(delete(_queue).where(_queue.c.id.in_([q.id for q in queued])))
        return len(queued)


def sequence_after_write(engine: Engine) -> None:
    """Best effort: a failure here is only logged (the writers already succeeded); the next
    pass, checkpoint or verify sequences what is left."""
    try:
        _sequence(engine, wait=False)
    except Exception:  # noqa: BLE001 - never fail a committed command over the log
        log.warning("log sequencing postponed", exc_info=True)


class Sequencer:
    """The sequencer of one server process: a daemon thread that sequences the queued rows
    `delay` seconds after a write of this process committed (so one short transaction
    takes the rows of many writes, and no writer waits for it), and every `period` seconds
    in any case for rows other processes (the command line) queued. Trillian's sequencer
    works the same way, on a timer beside the writers."""

    def __init__(self, engine: Engine, delay: float = 1.0, period: float = 5.0) -> None:
        self.engine, self.delay, self.period = engine, delay, period
        self._wake, self._stop = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="meldcode-sequencer",
                                       daemon=True)

    def written(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.period)
            if self._stop.wait(self.delay):  # gather the writes that follow this one
                break
            self._wake.clear()
            try:
                with self.engine.connect() as conn:
                    pending = conn.execute(select(_queue.c.id).limit(1)).first()
            except Exception:  # noqa: BLE001 - a database away for a moment: try again later
                log.warning("log queue unreadable", exc_info=True)
                continue
            if pending:
                sequence_after_write(self.engine)


_sequencers: dict[Engine, Sequencer] = {}


def start_sequencer(url: str | None = None, delay: float = 1.0,
                    period: float = 5.0) -> Sequencer:
    """Start this process's background sequencer for the database `url` (default: the
    configured one), once; `meldcode serve` starts one in each worker process. Returns it."""
    engine = store.get_engine(url)
    with _sequencers_lock:
        running = _sequencers.get(engine)
        if running is None or not running.thread.is_alive():
            running = _sequencers[engine] = Sequencer(engine, delay, period)
            running.thread.start()
    return running


_sequencers_lock = threading.Lock()


def written(engine: Engine) -> None:
    """Called by the unit of work after a write transaction committed: wakes this process's
    sequencer for that database, if it runs one (without one, checkpoint, verify or a server's
    periodic pass sequence the rows)."""
    running = _sequencers.get(engine)
    if running is not None:
        running.written()


# --- keys and checkpoints --------------------------------------------------------------------


def _key_path() -> Path:
    return settings.instance_dir() / "signing_key"


def signing_key() -> Ed25519PrivateKey:
    """The checkpoint signing key: MELDCODE_SIGNING_KEY (64 hex digits, an Ed25519 seed), or
    `signing_key` under the instance directory, created once with O_EXCL (so processes
    starting together share one key) with its public key beside it in `signing_key.pub`.
    Raises CheckpointError for a key that is empty or not 32 bytes of hex."""
    given = config.current().signing_key
    value = given.get_secret_value() if given is not None else None
    if not value:
        path = _key_path()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            value = path.read_text().strip()
        else:
            new = Ed25519PrivateKey.generate()
            seed = new.private_bytes_raw().hex()
            with os.fdopen(fd, "w") as fh:
                fh.write(seed)
                fh.flush()
                os.fsync(fh.fileno())
            pub = path.with_name("signing_key.pub")
            tmp = pub.with_name(f".signing_key.pub.{os.getpid()}")
            tmp.write_text(new.public_key().public_bytes_raw().hex() + "\n")
            tmp.replace(pub)
            value = seed
    try:
        raw = bytes.fromhex(value.strip())
        if len(raw) != 32:
            raise ValueError
    except ValueError:
        raise CheckpointError("De ondertekeningssleutel (MELDCODE_SIGNING_KEY of "
                              "instance/signing_key) is geen 64 hexadecimale tekens.") from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_hex() -> str:
    return signing_key().public_key().public_bytes_raw().hex()


def verification_key() -> Ed25519PublicKey:
    """The key checkpoints are checked with: MELDCODE_CHECKPOINT_PUBLIC_KEY (hex), else the
    public half of signing_key()."""
    value = config.current().checkpoint_public_key
    if value:
        try:
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(value.strip()))
        except ValueError:
            raise CheckpointError("MELDCODE_CHECKPOINT_PUBLIC_KEY is geen geldige sleutel.") from None
    return signing_key().public_key()


def _signed_text(tree_size: int, root: str, at: str) -> bytes:
    return f"meldcode checkpoint v1\n{tree_size}\n{root}\n{at}\n".encode()


@contextlib.contextmanager
def _snapshot(url: str | None) -> Iterator[Connection]:
    """One read transaction with one snapshot for all its statements (SQLite's BEGIN gives
    that; PostgreSQL needs REPEATABLE READ). Never a write lock."""
    engine = store.get_engine(url)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as conn, conn.begin():
        yield conn


def tree_head(url: str | None = None) -> tuple[int, str]:
    """(tree size, root hex) of the log as it is now, after sequencing."""
    sequence(url)
    with _snapshot(url) as conn:
        tree = Tree()
        for rows in _batches(conn, select(_entries.c.entry_hash).order_by(_entries.c.idx)):
            tree.extend([bytes.fromhex(entry) for (entry,) in rows])
    return tree.size, tree.root()


def make_checkpoint(url: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    """A signed checkpoint of the whole log: {"tree_size", "root", "signature", "at"}
    (CONTRACT section 5); root hex, signature base64 Ed25519 over the size, root and time.
    Raises CheckpointError for an unusable signing key."""
    key = signing_key()
    size, root = tree_head(url)
    at_text = timezones.iso_seconds(at or timezones.now_utc())
    signature = key.sign(_signed_text(size, root, at_text))
    return {"tree_size": size, "root": root, "signature": base64.b64encode(signature).decode(),
            "at": at_text}


def write_checkpoint(path: Path | None = None, url: str | None = None) -> Path:
    """Write a checkpoint to `path`, or as `checkpoint-<time>.json` in MELDCODE_CHECKPOINT_DIR;
    written to a temporary name first, so a reader never sees half a file.
    Raises CheckpointError when neither is given or the key is unusable."""
    if path is None:
        folder = config.current().checkpoint_dir
        if not folder:
            raise CheckpointError("Geef -o BESTAND, of zet MELDCODE_CHECKPOINT_DIR.")
        Path(folder).mkdir(parents=True, exist_ok=True)
        checkpoint = make_checkpoint(url)
        stamp = checkpoint["at"].replace(":", "").replace("-", "")
        path = Path(folder) / f"checkpoint-{stamp}-{checkpoint['tree_size']}.json"
    else:
        checkpoint = make_checkpoint(url)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(checkpoint, indent=2) + "\n")
    tmp.replace(path)
    return path


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Read a checkpoint file and check its signature with verification_key().
    Raises CheckpointError (Dutch) when it cannot be read, is malformed, or its signature is
    not ours: a forged or altered checkpoint, or one of another key, is refused."""
    try:
        checkpoint = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"Het controlepunt {path} is niet te lezen: {exc}") from None
    return check_checkpoint(checkpoint)


def check_checkpoint(checkpoint: Any) -> dict[str, Any]:
    """The checkpoint itself when its fields and signature are sound; else CheckpointError."""
    try:
        size, root, at = checkpoint["tree_size"], checkpoint["root"], checkpoint["at"]
        signature = base64.b64decode(checkpoint["signature"], validate=True)
        if (not isinstance(size, int) or isinstance(size, bool) or size < 0
                or not isinstance(root, str) or len(bytes.fromhex(root)) != 32
                or not isinstance(at, str)):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise CheckpointError("Het controlepunt is onvolledig of misvormd.") from None
    try:
        verification_key().verify(signature, _signed_text(size, root, at))
    except InvalidSignature:
        raise CheckpointError("De handtekening van het controlepunt klopt niet: het is "
                              "vervalst, gewijzigd of met een andere sleutel gemaakt.") from None
    return checkpoint


def newest_checkpoint() -> Path | None:
    """The newest checkpoint file in MELDCODE_CHECKPOINT_DIR (by the time it was written),
    or None."""
    folder = config.current().checkpoint_dir
    if not folder or not Path(folder).is_dir():
        return None
    files = [p for p in Path(folder).glob("checkpoint-*.json") if p.is_file()]
    return max(files, key=lambda p: (p.stat().st_mtime, p.name), default=None)


# --- verification ----------------------------------------------------------------------------

_WHAT = {"event": "gebeurtenis", "access": "toegangslogregel", "admin": "beheerlogregel"}


@dataclass
class LogReport:
    """What the log pass found: problems of one case (by case id), problems of the log as a
    whole, the tree as it is, and whether a checkpoint was checked."""

    tree_size: int = 0
    root: str = EMPTY_ROOT
    problems: list[str] = field(default_factory=list)
    by_case: dict[int, list[str]] = field(default_factory=dict)
    logged_cases: set[int] = field(default_factory=set)
    checkpoint: dict[str, Any] | None = None
    checkpoint_root: str | None = None  # the root over the checkpoint's first tree_size leaves

    def of_case(self, case_id: int, problem: str) -> None:
        found = self.by_case.setdefault(case_id, [])
        if len(found) < 20:  # enough to act on; a wholesale deletion would name every row
            found.append(problem)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.by_case


def _log_query(case_id: int | None = None):
    """The log's entries in order, each with the hash and case of the row it names (None when
    that row is gone): idx, kind, row_id, case_id, entry_hash, row_hash, row_case. The kind
    decides which table's row is joined, so at most one of the three matches; an admin row
    has no case."""
    e, a, m = (KINDS[k].alias(f"log_{k}") for k in ("event", "access", "admin"))
    l_ = _entries

    def row_of(kind: str, table):
        # The key is NULL unless the entry is of this kind: SQLite then skips the lookup
        # (with `kind = ... AND id = row_id` it looked the row up in all three tables).
        return table.c.id == case((l_.c.kind == kind, l_.c.row_id))

    query = (
        select(l_.c.idx, l_.c.kind, l_.c.row_id, l_.c.case_id, l_.c.entry_hash,
               func.coalesce(e.c.hash, a.c.hash, m.c.hash).label("row_hash"),
               func.coalesce(e.c.case_id, a.c.case_id).label("row_case"))
        .select_from(
            l_.outerjoin(e, row_of("event", e))
            .outerjoin(a, row_of("access", a))
            .outerjoin(m, row_of("admin", m)))
        .order_by(l_.c.idx)
    )
    if case_id is not None:
        query = query.where(l_.c.case_id == case_id)
    return query


ROWS = 1024  # rows per fetch of the big scans: a power of two (Tree.extend likes aligned runs),
# few enough that a batch is still in the CPU cache while it is checked


def _batches(conn: Connection, query) -> Iterator[Any]:
    """The rows of `query` (without parameters), in lists of up to ROWS tuples, within the
    connection's transaction. On SQLite straight from the driver's cursor: over a million
    rows SQLAlchemy's Row objects cost more than the database's own work. Elsewhere through
    SQLAlchemy with yield_per (a server-side cursor on PostgreSQL), rows unpacking alike."""
    if conn.dialect.name != "sqlite":
        yield from conn.execute(query.execution_options(yield_per=ROWS)).partitions()
        return
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(ROWS):
            yield rows
    finally:
        cursor.close()


def _check_row(report: LogReport, key: bytes, idx, kind, row_id, case_id, entry, row_hash,
               row_case) -> None:
    what = f"{_WHAT.get(kind, kind)} {row_id}"
    if row_hash is None:
        problem = f"{what} is verwijderd (staat wel in het logboek op positie {idx})"
    elif hmac.compare_digest(entry_hash(idx, kind, row_id, case_id, row_hash, key), entry):
        if kind == "admin" or row_case == case_id:
            return
        problem = f"{what} is naar een andere casus verplaatst (logboekpositie {idx})"
    elif row_hash == MISSING:
        problem = f"{what} was al verwijderd toen het in het logboek kwam (positie {idx})"
    else:
        problem = (f"{what} of logboekpositie {idx} is gewijzigd (de sleutelhash van het "
                   "logboek klopt niet)")
    if case_id is None:
        report.problems.append(f"logboek: {problem}")
    else:
        report.of_case(case_id, problem)


def verify_log(url: str | None = None, checkpoint: dict[str, Any] | None = None) -> LogReport:
    """Check the whole log in one pass, in one read transaction (no write lock):

    - indexes run 0, 1, 2, ... without a gap (a removed entry that is not the newest);
    - each entry's keyed hash fits its index, kind, row, case and the row's own hash, and the
      row still exists (a removed or changed event, access-log or admin-log line);
    - every event, access-log and admin-log row is in the log or still queued (a row added
      by hand, or whose queue entry was removed);
    - every case the log names still exists (a removed case row);
    - with a checkpoint (already signature-checked, see load_checkpoint): the log holds at
      least its tree_size entries, and the root over the first tree_size entries is its
      root (RFC 9162 section 2.1.1), so removing even the newest entries is seen.

    Sequences queued rows first. Out: a LogReport; problems are Dutch."""
    sequence(url)
    report = LogReport(checkpoint=checkpoint)
    key = settings.history_key()
    inner, outer = _hmac_states(key)
    inner_copy, outer_copy = inner.copy, outer.copy
    want = checkpoint["tree_size"] if checkpoint else None
    tree = Tree()
    logged_cases = report.logged_cases
    problems = report.problems
    fitting = dict.fromkeys(KINDS, 0)  # per kind: entries whose row exists and fits them
    with _snapshot(url) as conn:
        expected = 0
        for rows in _batches(conn, _log_query()):
            leaves: list[bytes] = []
            leaf = leaves.append
            for idx, kind, row_id, case_id, entry, row_hash, row_case in rows:
                if idx != expected:
                    problems.append(
                        f"logboek: de posities {expected} tot en met {idx - 1} ontbreken "
                        "(regels uit het logboek verwijderd)")
                expected = idx + 1
                if case_id is None:
                    case_text = ""
                else:
                    case_text = case_id
                    logged_cases.add(case_id)
                # entry_hash(idx, kind, row_id, case_id, row_hash, key), set up once
                h = inner_copy()
                h.update(f"{idx}\n{kind}\n{row_id}\n{case_text}\n{row_hash}".encode())
                digest = outer_copy()
                digest.update(h.digest())
                digest = digest.digest()
                if row_hash is not None and row_case == case_id and digest.hex() == entry:
                    fitting[kind] += 1
                    leaf(digest)  # == bytes.fromhex(entry)
                    continue
                _check_row(report, key, idx, kind, row_id, case_id, entry, row_hash,
                           row_case)
                try:
                    leaf(bytes.fromhex(entry))
                except (TypeError, ValueError):
                    leaf(b"")
            _grow(tree, leaves, want, report)
        if want is not None and tree.size == want:
            report.checkpoint_root = tree.root()
        report.tree_size, report.root = tree.size, tree.root()
        _unlogged(conn, report, fitting)
        _admin_rows(conn, report)
        existing = set(conn.execute(select(models.Case.__table__.c.id)).scalars())
    for case_id in sorted(logged_cases - existing):
        report.by_case[case_id] = [
            "de casus is verwijderd: het logboek kent haar gebeurtenissen en toegangsregels, "
            "de casus zelf ontbreekt", *report.by_case.get(case_id, [])][:20]
    if checkpoint:
        _against_checkpoint(report, checkpoint)
    return report


def _grow(tree: Tree, leaves: list[bytes], want: int | None, report: LogReport) -> None:
    """Add `leaves` to `tree`, noting the root at the checkpoint's size on the way."""
    if want is not None and tree.size <= want <= tree.size + len(leaves):
        cut = want - tree.size
        tree.extend(leaves[:cut])
        report.checkpoint_root = tree.root()
        leaves = leaves[cut:]
    tree.extend(leaves)


def _against_checkpoint(report: LogReport, checkpoint: dict[str, Any]) -> None:
    size, at = checkpoint["tree_size"], checkpoint["at"]
    if report.tree_size < size:
        report.problems.append(
            f"logboek: het controlepunt van {at} telt {size} regels, het logboek nu maar "
            f"{report.tree_size}: de nieuwste {size - report.tree_size} regel(s) zijn verwijderd")
    elif report.checkpoint_root != checkpoint["root"]:
        report.problems.append(
            f"logboek: de eerste {size} regels wijken af van het controlepunt van {at} "
            "(regels verwijderd, vervangen of in een andere volgorde)")


def _admin_rows(conn: Connection, report: LogReport) -> None:
    """Each admin-log row against its keyed hash (events and access-log lines are checked
    per case, along their chains)."""
    from . import audit

    table = KINDS["admin"]
    for row in conn.execute(select(table).order_by(table.c.id)):
        try:
            ok = hmac.compare_digest(audit.admin_hash(row.at, row.user, row.action, row.detail),
                                     row.hash)
        except Exception:  # noqa: BLE001 - a malformed row is a finding
            ok = False
        if not ok:
            report.problems.append(f"logboek: beheerlogregel {row.id} is na het vastleggen "
                                   "gewijzigd (de sleutelhash klopt niet)")


def _unlogged(conn: Connection, report: LogReport,
              fitting: dict[str, int] | None = None) -> None:
    """Rows neither in the log nor queued for it.

    fitting (from the pass over the log): per kind, how many entries name an existing row and
    fit it by their keyed hash. Such entries are the sequencer's own, one per row (it never
    logs a row twice; log_entries is unique on kind and row), so when a table holds exactly
    that many rows, every one of them is in the log and the search is skipped."""
    for kind, table in KINDS.items():
        if fitting is not None and conn.execute(
                select(func.count()).select_from(table)).scalar() == fitting[kind]:
            continue
        columns = [table.c.id] + ([table.c.case_id] if kind != "admin" else [])
        query = select(*columns).where(*_not_logged(kind, table)).order_by(table.c.id)
        for row in conn.execute(query):
            problem = (f"{_WHAT[kind]} {row.id} staat niet in het logboek (buiten de applicatie "
                       "toegevoegd, of de wachtrij van het logboek is bewerkt)")
            case_id = getattr(row, "case_id", None)
            if case_id is None:
                report.problems.append(f"logboek: {problem}")
            else:
                report.of_case(case_id, problem)


def _not_logged(kind: str, table) -> tuple:
    return (~select(_entries.c.idx).where(_entries.c.kind == kind,
                                          _entries.c.row_id == table.c.id).exists(),
            ~select(_queue.c.id).where(_queue.c.kind == kind,
                                       _queue.c.row_id == table.c.id).exists())


def verify_case_log(conn: Connection, case_id: int) -> list[str]:
    """The log pass for one case (no gap or checkpoint check: those need the whole log):
    every entry of the case fits its row, and every event and access-log line of the case
    is in the log or queued. Problems in Dutch."""
    report = LogReport()
    key = settings.history_key()
    for row in conn.execute(_log_query(case_id)):
        kind = row.kind
        row_hash, row_case = ((row.row_hash, row.row_case) if kind in ("event", "access")
                              else (None, None))
        _check_row(report, key, row.idx, kind, row.row_id, row.case_id, row.entry_hash,
                   row_hash, row_case)
    for kind in ("event", "access"):
        table = KINDS[kind]
        ids = conn.execute(select(table.c.id).where(
            table.c.case_id == case_id, *_not_logged(kind, table))).scalars().all()
        for row_id in ids:
            report.of_case(case_id, f"{_WHAT[kind]} {row_id} staat niet in het logboek")
    return report.by_case.get(case_id, [])

