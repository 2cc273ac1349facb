"""Where the product keeps its database and keys: environment first, then instance/."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCESSES_DIR = ROOT / "processes"


def instance_dir() -> Path:
    path = Path(os.environ.get("MELDCODE_INSTANCE", ROOT / "instance"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def database_url() -> str:
    url = os.environ.get("MELDCODE_DATABASE_URL")
    return url or f"sqlite:///{instance_dir() / 'meldcode.sqlite'}"


def _kept_secret(env: str, filename: str) -> str:
    """A secret from the environment, else one generated once and kept under instance/."""
    value = os.environ.get(env)
    if value:
        return value
    path = instance_dir() / filename
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_hex(32)
    # O_EXCL: two processes starting at once must end up with the same key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def secret_key() -> str:
    return _kept_secret("MELDCODE_SECRET_KEY", "secret_key")


def history_key() -> bytes:
    """The HMAC key of the history chain; kept outside the database on purpose."""
    return _kept_secret("MELDCODE_HISTORY_KEY", "history_key").encode()
