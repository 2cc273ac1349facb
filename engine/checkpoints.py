"""Checkpoints of the log across all cases (CONTRACT section 5): `tree_size`, `root`, `at`
and `signature`, signed with Ed25519 by a key kept outside the database (MELDCODE_SIGNING_KEY,
or `signing_key` under the instance directory, created once); its public key is kept beside
it (`signing_key.pub`). With a checkpoint kept elsewhere, verify also sees the removal of the
newest entries, which without one can go unseen (engine/log_verify.py)."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import config, log_head, log_scan, log_verify, settings, store, timezones, translog
from .failures import kind_of
from .merkle import sound_leaf
from .messages import N_, Message, text_of


class CheckpointError(Exception):
    """A checkpoint that cannot be trusted or read; the message is Dutch (a Message of the
    catalogues, text_of gives it)."""


class LogDamaged(CheckpointError):
    """No checkpoint written: the log holds an entry verify reports as missing or changed,
    and the signature would vouch for that (task U point 3). The command line exits 1."""


# why a checkpoint over a damaged log is refused (make_checkpoint): the entry by index
DAMAGED_ENTRY = N_("geen controlepunt geschreven: logboekregel {position} (tabel log_entries) "
                   "heeft geen geldige hash; het logboek is buiten de applicatie gewijzigd. "
                   "Zoek het uit met 'meldcode verify --all'.")
CHANGED_ENTRY = N_("geen controlepunt geschreven: logboekregel {position} (tabel log_entries) "
                   "klopt niet: {problem}. Zoek het uit met 'meldcode verify --all'.")
# the newest entries removed: by the sequencer's head record, or by a row that is in no entry
CUT_ENTRIES = N_("geen controlepunt geschreven: logboekregels {first} tot en met {last} (tabel "
                 "log_entries) ontbreken; de sequencer gaf ze tot {at} een plaats. Zoek het uit "
                 "met 'meldcode verify --all'.")
UNLOGGED_ROW = N_("geen controlepunt geschreven: {problem}; de logboekregel ervan is verwijderd "
                  "of er nooit geweest (het logboek telt nu {size} regels). Zoek het uit met "
                  "'meldcode verify --all'.")
CUT_ENTRY = N_("geen controlepunt geschreven: logboekregel {position} (tabel log_entries) "
               "ontbreekt; de sequencer gaf haar tot {at} een plaats. Zoek het uit met "
               "'meldcode verify --all'.")
MISPLACED_ENTRY = N_("geen controlepunt geschreven: {problem}. Zoek het uit met 'meldcode "
                     "verify --all'.")
MISSING_ENTRY = N_("geen controlepunt geschreven: logboekregel {position} (tabel log_entries) "
                   "ontbreekt; het logboek is buiten de applicatie gewijzigd. Zoek het uit met "
                   "'meldcode verify --all'.")


def _key_path() -> Path:
    return settings.instance_dir() / "signing_key"


def signing_key() -> Ed25519PrivateKey:
    """The checkpoint signing key: MELDCODE_SIGNING_KEY (64 hex digits, an Ed25519 seed), or
    `signing_key` under the instance directory, created once (settings.create_once: the file
    appears complete or not at all, so processes starting together share one key and none reads
    it empty) with its public key beside it in `signing_key.pub`.
    Raises CheckpointError for a key that is empty or not 32 bytes of hex."""
    given = config.current().signing_key
    value = given.get_secret_value() if given is not None else None
    if not value:
        path = _key_path()
        if path.exists():
            value = path.read_text()
        else:
            new = Ed25519PrivateKey.generate()
            seed = new.private_bytes_raw().hex()
            value = settings.create_once(path, seed)
            if value == seed:  # this process made the key: its public key beside it
                pub = path.with_name("signing_key.pub")
                settings.replace_file(pub, new.public_key().public_bytes_raw().hex() + "\n")
    try:
        raw = bytes.fromhex(value.strip())
        if len(raw) != 32:
            raise ValueError
    except ValueError:
        raise CheckpointError(N_("De ondertekeningssleutel (MELDCODE_SIGNING_KEY of "
                                 "instance/signing_key) is geen 64 hexadecimale tekens.")) from None
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
            raise CheckpointError(N_("MELDCODE_CHECKPOINT_PUBLIC_KEY is geen geldige "
                                     "sleutel.")) from None
    return signing_key().public_key()


def signed_text(tree_size: int, root: str, at: str) -> bytes:
    """The bytes a checkpoint's signature covers: its version line, tree size, root (hex)
    and time (ISO 8601 text), one a line."""
    return f"meldcode checkpoint v1\n{tree_size}\n{root}\n{at}\n".encode()


def make_checkpoint(url: str | None = None, at: datetime | None = None,
                    jobs: int | None = None) -> dict[str, Any]:
    """A signed checkpoint of the whole log: {"tree_size", "root", "signature", "at"}
    (CONTRACT section 5); root hex, signature base64 Ed25519 over the size, root and time.
    Sequences queued rows first, then reads the log in one snapshot, in up to `jobs`
    processes for a large log (log_scan.whole_log, verify's own pass).
    Raises CheckpointError for an unusable signing key, and when the log does not hold the
    head this instance's sequencer recorded (engine/log_head.py): it was rewritten;
    LogDamaged (task U point 3, task V point 1) for the first entry verify reports: missing
    (a gap, or the newest ones, against the head or by a row that is in no entry), its hash
    no hash, or its keyed hash not that of its row (log_verify.check_row)."""
    key = signing_key()
    try:
        head = log_head.read(store.get_engine(url))
    except log_head.HeadUnreadable as exc:
        raise CheckpointError(Message(N_("geen controlepunt geschreven: {reason}"),
                                      reason=text_of(exc))) from None
    translog.sequence(url)
    with translog.snapshot(url) as conn:
        tree, odd, roots = log_scan.whole_log(conn, url, [head.tree_size] if head else [],
                                              jobs or os.cpu_count() or 1)
        if odd:
            raise LogDamaged(_damage(odd[0]))
        if head is not None and tree.size < head.tree_size:
            # the newest entries are gone: the record says which
            raise LogDamaged(
                Message(CUT_ENTRY, position=tree.size, at=head.at)
                if head.tree_size - 1 == tree.size else
                Message(CUT_ENTRIES, first=tree.size, last=head.tree_size - 1, at=head.at))
        # a row in no entry (nor queued): the newest entries removed with no head to tell. Its
        # place is not named: the sequencer may have given it to later rows since
        entries, rows = log_verify.counts(conn)
        report = log_verify.LogReport()
        log_verify.unlogged(conn, report, log_verify.fitting(entries, odd), rows)
        problems = report.problems + [p for found in report.by_case.values() for p in found]
        if problems:
            raise LogDamaged(Message(UNLOGGED_ROW, problem=problems[0], size=tree.size))
    size, root = tree.size, tree.root()
    if head is not None and roots.get(head.tree_size) != head.root:
        # Signing now would vouch for a log that was rewritten after this instance's
        # sequencer recorded its head: a checkpoint must never cover tampering.
        raise CheckpointError(Message(N_(
            "geen controlepunt geschreven: het logboek ({size} regels) past niet bij de kop "
            "die de sequencer vastlegde ({recorded} regels): regels zijn weggehaald of "
            "vervangen. Zoek het uit met 'meldcode verify --all'."),
            size=size, recorded=head.tree_size))
    at_text = timezones.iso_seconds(at or timezones.now_utc())
    signature = key.sign(signed_text(size, root, at_text))
    return {"tree_size": size, "root": root, "signature": base64.b64encode(signature).decode(),
            "at": at_text}


def _damage(item: tuple) -> Message:
    """Why the log is not signed, for the first odd entry log_scan found: a gap
    (first, last), or a row as read (idx, kind, row_id, case_id, entry_hash, ...)."""
    if len(item) == 1:  # an entry at a negative index: no position to name as missing
        return Message(MISPLACED_ENTRY, problem=log_scan.missing_or_misplaced(item))
    if len(item) == 2:
        return Message(MISSING_ENTRY, position=item[0])
    idx, entry = item[0], item[4]
    if sound_leaf(entry) is None:
        return Message(DAMAGED_ENTRY, position=idx)
    report = log_verify.LogReport()
    log_verify.check_row(report, settings.history_key(), *item)
    # a problem of the log as a whole comes as "logboek: ..." (verify's list): CHANGED_ENTRY
    # names the entry already, so without that prefix
    problems = [p.params["problem"] if isinstance(p, Message) and "problem" in p.params else p
                for p in report.problems]
    problems += [p for found in report.by_case.values() for p in found]
    return Message(CHANGED_ENTRY, position=idx, problem=problems[0] if problems else "")


def write_checkpoint(path: Path | None = None, url: str | None = None) -> Path:
    """Write a checkpoint to `path`, or as `checkpoint-<time>.json` in MELDCODE_CHECKPOINT_DIR;
    written to a temporary name first, so a reader never sees half a file.
    Raises CheckpointError when neither is given or the key is unusable."""
    if path is None:
        folder = config.current().checkpoint_dir
        if not folder:
            raise CheckpointError(N_("Geef -o BESTAND, of zet MELDCODE_CHECKPOINT_DIR."))
        Path(folder).mkdir(parents=True, exist_ok=True)
        checkpoint = make_checkpoint(url)
        stamp = checkpoint["at"].replace(":", "").replace("-", "")
        path = Path(folder) / f"checkpoint-{stamp}-{checkpoint['tree_size']}.json"
    else:
        checkpoint = make_checkpoint(url)
    settings.replace_file(path, json.dumps(checkpoint, indent=2) + "\n")
    return path


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Read a checkpoint file and check its signature with verification_key().
    Raises CheckpointError (Dutch) when it cannot be read, is malformed, or its signature is
    not ours: a forged or altered checkpoint, or one of another key, is refused."""
    try:
        checkpoint = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        # the kind of problem in Dutch (no such file, no JSON at line and column), never
        # Python's own text (failures.kind_of)
        raise CheckpointError(Message(N_("Het controlepunt {path} is niet te lezen: {reason}"),
                                      path=str(path), reason=kind_of(exc))) from None
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
        raise CheckpointError(N_("Het controlepunt is onvolledig of misvormd.")) from None
    try:
        verification_key().verify(signature, signed_text(size, root, at))
    except InvalidSignature:
        raise CheckpointError(N_("De handtekening van het controlepunt klopt niet: het is "
                                 "vervalst, gewijzigd of met een andere sleutel gemaakt.")) from None
    return checkpoint


def newest_checkpoint() -> Path | None:
    """The newest checkpoint file in MELDCODE_CHECKPOINT_DIR (by the time it was written),
    or None."""
    folder = config.current().checkpoint_dir
    if not folder or not Path(folder).is_dir():
        return None
    files = [p for p in Path(folder).glob("checkpoint-*.json") if p.is_file()]
    return max(files, key=lambda p: (p.stat().st_mtime, p.name), default=None)
