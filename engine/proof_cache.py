"""Verdicts of the proof of every route (engine.proof) kept on disk, so that a file set is
proved once for all processes of this user rather than once per process.

The proof takes seconds of CPU (about 4 s for the shipped meldcode on the 2-core machine), and
every `meldcode init`, `deploy` and `check`, every server worker and every test process proved
the same files again. A verdict depends on nothing but the files (names and contents) and the
code that proves them, so it is stored under a key made of both:

- the files: the SHA-256 of every (name, content SHA-256) pair, sorted;
- the code: the SHA-256 of every engine/*.py source file, of SpiffWorkflow's and lxml's
  versions, of Python's version and of the proof's limits (proof_explorer.MAX_STATES and
  MAX_SECONDS). Any change to the product's engine code proves anew.

A verdict that hit the proof's limit is never stored: that limit counts CPU seconds, so it may
fall differently on another run.

Trust: the folder (MELDCODE_PROOF_CACHE, default ~/.cache/meldcode/proofs) is trusted as the
installed code is: whoever may write there as the product's user may change its code too. A
file that is unreadable, truncated or not exactly this module's shape (its checksum covers its
content) is ignored and proved anew; reading it never runs code (JSON, not pickle). A folder
that cannot be written only costs time: the proof runs as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from .messages import Message
from .problems import Problem

ENGINE = Path(__file__).resolve().parent
FORMAT = 1
MAX_FILES = 500  # older verdicts beyond this many are removed when one is stored

_fingerprint: list[str] = []
_lock = threading.Lock()


def folder() -> Path | None:
    """The folder of stored verdicts (MELDCODE_PROOF_CACHE), None when switched off ("uit"),
    when the default is asked without a home folder, or when the engine's sources cannot be
    read (then no code fingerprint could tell one release's verdicts from another's). Raises
    config.ConfigError for a wrong setting, as every reader of the configuration does."""
    from . import config

    chosen = config.current().proof_cache
    if chosen is not None and str(chosen) == "uit":
        return None
    if not code_fingerprint():
        return None
    if chosen is not None:
        return chosen
    try:
        return Path.home() / ".cache" / "meldcode" / "proofs"
    except RuntimeError:  # no home folder to be found: nothing kept
        return None


def code_fingerprint() -> str:
    """The SHA-256 (hex) of the code a verdict depends on: every engine/*.py source
    (recursively), the SpiffWorkflow and lxml versions and Python's version; "" when no source
    can be read (an install without them). Computed once per process (a few milliseconds)."""
    with _lock:
        if _fingerprint:
            return _fingerprint[0]
        sources = sorted(ENGINE.rglob("*.py"))
        if not sources or not all(os.access(path, os.R_OK) for path in sources):
            _fingerprint.append("")
            return ""
        digest = hashlib.sha256(f"format {FORMAT}\n".encode())
        for path in sources:
            digest.update(str(path.relative_to(ENGINE)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        for package in ("SpiffWorkflow", "lxml"):
            digest.update(f"{package} {_version(package)}\n".encode())
        digest.update(f"python {platform.python_version()}\n".encode())
        _fingerprint.append(digest.hexdigest())
        return _fingerprint[0]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def _limits() -> str:
    from . import proof_explorer

    return f"{proof_explorer.MAX_STATES} {proof_explorer.MAX_SECONDS!r}"


def key_of(files) -> str:
    """The key of a file set's verdict (hex): its files by name and content, this code, the
    proof's limits as set now. `files`: engine.definitions.SourceFile objects."""
    digest = hashlib.sha256(code_fingerprint().encode() + b"\n" + _limits().encode() + b"\n")
    for name, content_sha in sorted((f.name, f.sha256) for f in files):
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0" + content_sha.encode() + b"\n")
    return digest.hexdigest()


def lookup(files) -> list[Problem] | None:
    """The stored verdict of `files` (the problems, possibly none), or None when there is no
    readable one. A damaged file is ignored (and proved anew by the caller); raises only
    ConfigError (folder)."""
    where = folder()
    if where is None:
        return None
    key = key_of(files)
    try:
        raw = (where / f"{key}.json").read_bytes()
        stored = json.loads(raw)
        body = stored["body"]
        if stored.get("check") != _checksum(body) or body.get("key") != key:
            return None
        return [_problem(item) for item in body["problems"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def store(files, problems: list[Problem]) -> None:
    """Keep the verdict `problems` of `files` for later processes. Best effort: a folder that
    cannot be made or written, or a problem holding a value JSON cannot carry, stores nothing.
    The caller leaves out verdicts that hit the proof's limit. Raises only ConfigError."""
    where = folder()
    if where is None:
        return
    key = key_of(files)
    try:
        body = {"key": key, "problems": [_plain(p) for p in problems]}
    except TypeError:
        return
    data = json.dumps({"body": body, "check": _checksum(body)}, ensure_ascii=True).encode()
    try:
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        # written whole under another name, then renamed: a reader never sees half a file
        handle, scratch = tempfile.mkstemp(dir=where, prefix=".proof-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(scratch, where / f"{key}.json")
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise
        _prune(where)
    except OSError:
        return


def _prune(where: Path) -> None:
    stored = list(where.glob("*.json"))
    if len(stored) <= MAX_FILES:
        return
    by_age = sorted(stored, key=lambda p: p.stat().st_mtime if p.exists() else 0.0)
    for old in by_age[:len(stored) - MAX_FILES]:
        old.unlink(missing_ok=True)


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


# --- a Problem as JSON and back: every Message (nested too) keeps its template and values ----

def _plain(problem: Problem) -> dict[str, Any]:
    return {"file": problem.file, "line": problem.line, "message": _value(problem.message),
            "path": [_value(hop) for hop in problem.path]}


def _value(value: Any) -> Any:
    if isinstance(value, Message):
        return {"m": value.template, "p": {k: _value(v) for k, v in value.params.items()}}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a key that is no text")
        return {"d": {k: _value(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"l" if isinstance(value, list) else "t": [_value(v) for v in value]}
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return value
    raise TypeError(f"{type(value).__name__} is not stored")


def _restored(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if value.keys() == {"m", "p"}:
        return Message(value["m"], **{k: _restored(v) for k, v in value["p"].items()})
    if value.keys() == {"d"}:
        return {k: _restored(v) for k, v in value["d"].items()}
    if value.keys() == {"l"}:
        return [_restored(v) for v in value["l"]]
    if value.keys() == {"t"}:
        return tuple(_restored(v) for v in value["t"])
    raise ValueError("unknown stored value")


def _problem(item: dict[str, Any]) -> Problem:
    line = item["line"]
    if not isinstance(item["file"], str) or not isinstance(line, int) or isinstance(line, bool):
        raise ValueError("not a problem")
    message = _restored(item["message"])
    if not isinstance(message, str):
        raise ValueError("not a message")
    path = tuple(_restored(hop) for hop in item["path"])
    return Problem(item["file"], line, message, path)
