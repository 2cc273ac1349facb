"""Where the product keeps its database and keys: environment first, then instance/."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
from pathlib import Path

from . import config
from .config import ROOT
from .errors import DomainError
from .messages import text_of

PROCESSES_DIR = ROOT / "processes"

# A key shorter than this, or of fewer different characters, is guessable or a placeholder
# ("geheim", "test"): 32 hex characters carry 128 bits. Generated keys have 64.
MIN_KEY_LENGTH = 32
MIN_KEY_SYMBOLS = 8


class KeyRefused(DomainError):
    """A key from the environment or from instance/ that is empty or too short: the server
    must not start with it (it would sign sessions or histories that anyone can forge)."""

    status = 500


_made: set[str] = set()


def instance_dir() -> Path:
    """MELDCODE_INSTANCE, else instance/ in the checkout; made (mode 0700) on first use."""
    path = config.current().instance
    raw = str(path)
    if raw not in _made:  # once per process: a mkdir on every key read showed in profiles
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        _made.add(raw)
    return path


def database_url() -> str:
    cfg = config.current()
    return cfg.database_url or f"sqlite:///{instance_dir() / 'meldcode.sqlite'}"


def _checked(value: str, where: str) -> str:
    value = value.strip()
    if not value:
        raise KeyRefused(f"de sleutel in {where} is leeg; Meldcode start niet met een lege sleutel")
    if len(value) < MIN_KEY_LENGTH or len(set(value)) < MIN_KEY_SYMBOLS:
        raise KeyRefused(
            f"de sleutel in {where} is te kort of te eenvoudig ({len(value)} tekens); gebruik "
            f"minstens {MIN_KEY_LENGTH} willekeurige tekens, bijvoorbeeld de uitvoer van "
            "'python3 -c \"import secrets; print(secrets.token_hex(32))\"'"
        )
    return value


def _kept_secret(env: str, filename: str) -> str:
    """A secret from the environment variable `env` (a field of config.Settings), else one
    generated once and kept in instance/`filename`. Raises KeyRefused for an empty or short
    key, from either place."""
    # Read once per process and place: the history key is needed for every row written, and
    # a key never changes under a running server (a new key would break every chain anyway).
    cfg = config.current()
    given = getattr(cfg, config.FIELDS[env])
    place = (env, given, cfg.instance, filename)
    value = _read_secrets.get(place)
    if value is not None:
        return value
    if given is not None:
        value = _read_secrets[place] = _checked(given.get_secret_value(), f"de omgevingsvariabele {env}")
        return value
    path = instance_dir() / filename
    where = f"het bestand {path}"
    try:
        value = _checked(path.read_text(), where)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        value = _checked(create_once(path, secrets.token_hex(32)), where)
    _read_secrets[place] = value
    return value


_read_secrets: dict[tuple, str] = {}


def create_once(path: Path, value: str) -> str:
    """Write `value` to `path` unless the file exists; returns what the file holds then.

    The file appears complete or not at all: the value is written and synced to a temporary
    file first and then linked into place (link(2) fails when the name exists), so processes
    that start at the same moment read either nothing (and race to link their own) or one
    whole value, never an empty or half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
            fh.flush()
            os.fsync(fh.fileno())  # a crash after the link must not leave an empty file behind
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text()  # another process was first: everyone uses its value
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    sync_folder(path.parent)
    return value


def replace_file(path: Path, text: str, durable: bool = False) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file beside it and a rename, so a
    reader sees the old file or the new one, never half of one. `durable`: the file and the
    rename are on disk (fsync of both, then of the folder) before this returns, for a record
    a crash must not lose (the restore intent, engine/restore_steps.py); without it no fsync:
    a lost write after a crash is taken again by the next writer. Raises OSError."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    tmp.replace(path)
    if durable:
        sync_folder(path.parent)


def sync_folder(path: Path) -> None:
    """fsync the folder `path`, so a file created, renamed or removed in it stays so after a
    crash (POSIX: the file's own fsync does not cover its name). Raises OSError."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def secret_key() -> str:
    """The key that signs session cookies (str). Raises KeyRefused when empty or short."""
    return _kept_secret("MELDCODE_SECRET_KEY", "secret_key")


def history_key() -> bytes:
    """The HMAC key of the history chain; kept outside the database on purpose. Raises
    KeyRefused when empty or short."""
    return _kept_secret("MELDCODE_HISTORY_KEY", "history_key").encode()


# Every key the server needs; `ensure_keys` reads or creates each before any worker starts.
KEYS = [secret_key, history_key]


def ensure_keys() -> None:
    """Read or create every key once, in the process that starts the others (`meldcode
    serve`'s master), so workers only ever read finished files: the secret and history keys
    and, where this build signs checkpoints, the signing key. Raises KeyRefused."""
    for key in KEYS:
        key()
    if importlib.util.find_spec("engine.checkpoints") is None:
        return
    from . import checkpoints

    try:
        checkpoints.signing_key()
    except checkpoints.CheckpointError as exc:
        raise KeyRefused(text_of(exc)) from None
