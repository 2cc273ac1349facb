"""Verdicts of the proof of every route (engine.proof) kept on disk, so that a file set is
proved once for all processes of this user rather than once per process.

The proof takes seconds of CPU (about 4 s for the shipped meldcode on the 2-core machine), and
every `meldcode init`, `deploy` and `check`, every server worker and every test process proved
the same files again. A verdict depends on the files (names and contents), on the code that
proves them and on the day (a date field is answered with today, forms.today: a condition over
a date may route otherwise tomorrow), so it is stored under a key made of all three:

- the files: the SHA-256 of every (name, content SHA-256) pair, sorted;
- the day: today in the Netherlands by the engine's clock;
- the code: the SHA-256 of every engine/*.py source file, of SpiffWorkflow's and lxml's
  versions, of Python's version and of the proof's limits (proof_explorer.MAX_STATES and
  MAX_SECONDS). Any change to the product's engine code proves anew.

A verdict that hit the proof's limit is never stored: that limit counts CPU seconds, so it may
fall differently on another run.

Trust: the folder (MELDCODE_PROOF_CACHE, default ~/.cache/meldcode/proofs) is trusted as the
installed code is: whoever may write there as the product's user may change its code too. So
a folder another user owns, or that others may write (group or world), is not used at all. A
file that is no regular file, over MAX_BYTES, unreadable, truncated or not exactly this
module's shape (its checksum covers its content; every value is checked, a message template
may name plain values only) is ignored and proved anew; reading it never runs code (JSON, not
pickle). A folder that cannot be written only costs time: the proof runs as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import stat
import string
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
MAX_BYTES = 4 * 1024 * 1024  # a verdict file is a few kB; anything larger is no verdict of ours
MAX_LINE = 10**7

_fingerprint: list[str] = []
_lock = threading.Lock()


def folder() -> Path | None:
    """The folder of stored verdicts (MELDCODE_PROOF_CACHE), None when switched off ("uit"),
    when the default is asked without a home folder, or when the engine's sources cannot be
    read (then no code fingerprint could tell one release's verdicts from another's). Raises
    config.ConfigError for a wrong setting, as every reader of the configuration does."""
    from . import config

    chosen = config.current().proof_cache
    if chosen is not None and str(chosen).strip().lower() == "uit":
        return None
    if not code_fingerprint():
        return None
    if chosen is not None:
        return chosen
    try:
        return Path.home() / ".cache" / "meldcode" / "proofs"
    except RuntimeError:  # no home folder to be found: nothing kept
        return None


def _trusted(where: Path) -> bool:
    """Whether the folder `where` exists as a folder of this user that nobody else may write
    (as ssh asks of its own files); a symlink to such a folder is followed."""
    try:
        info = where.stat()
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


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
    proof's limits as set now and today (forms.today, Europe/Amsterdam). `files`:
    engine.definitions.SourceFile objects."""
    from .forms import today

    digest = hashlib.sha256(f"{code_fingerprint()}\n{_limits()}\n{today().isoformat()}\n".encode())
    for name, content_sha in sorted((f.name, f.sha256) for f in files):
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0" + content_sha.encode() + b"\n")
    return digest.hexdigest()


def lookup(files) -> list[Problem] | None:
    """The stored verdict of `files` (the problems, possibly none), or None when there is no
    readable one. A damaged file is ignored (and proved anew by the caller); raises only
    ConfigError (folder)."""
    where = folder()
    if where is None or not _trusted(where):
        return None
    key = key_of(files)
    try:
        raw = _read_regular(where / f"{key}.json")
        stored = json.loads(raw)
        body = stored["body"]
        if stored.get("check") != _checksum(body) or body.get("key") != key:
            return None
        return [_problem(item) for item in body["problems"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def _read_regular(path: Path) -> bytes:
    """The bytes of `path` if it is a regular file (no symlink, FIFO or device: those could
    make a reader wait or read without end) of at most MAX_BYTES; else OSError or ValueError."""
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(handle, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            raise ValueError("no verdict file")
        return source.read(MAX_BYTES + 1)


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
        if not _trusted(where):
            return
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


def _restored(value: Any, depth: int = 0) -> Any:
    """A stored value back; ValueError for anything _value does not write."""
    if depth > 20:
        raise ValueError("stored too deep")
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return value
    if not isinstance(value, dict):
        raise ValueError("unknown stored value")
    if value.keys() == {"m", "p"}:
        template, params = value["m"], value["p"]
        if not isinstance(params, dict) or set(params) != set(_fields_of(template)):
            raise ValueError("a message whose values do not fit its template")
        return Message(template, **{k: _restored(v, depth + 1) for k, v in params.items()})
    if value.keys() == {"d"} and isinstance(value["d"], dict):
        return {k: _restored(v, depth + 1) for k, v in value["d"].items()}
    if value.keys() == {"l"} and isinstance(value["l"], list):
        return [_restored(v, depth + 1) for v in value["l"]]
    if value.keys() == {"t"} and isinstance(value["t"], list):
        return tuple(_restored(v, depth + 1) for v in value["t"])
    raise ValueError("unknown stored value")


def _fields_of(template: Any) -> list[str]:
    """The names a message template fills in; ValueError unless each is a plain name with no
    attribute, index, conversion or format (str.format would read them from the values)."""
    if not isinstance(template, str):
        raise ValueError("a template that is no text")
    names = []
    for _text, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError("a template field that is no plain name")
        names.append(name)
    return names


def _problem(item: Any) -> Problem:
    """A stored problem back, checked as Problem's users read it: a file name, a line within
    reach, a message text, a witness route of steps with their answers."""
    if not isinstance(item, dict) or item.keys() != {"file", "line", "message", "path"}:
        raise ValueError("not a problem")
    file, line, path = item["file"], item["line"], item["path"]
    if not isinstance(file, str) or not file or len(file) > 1000 or not file.isprintable():
        raise ValueError("not a file name")
    if type(line) is not int or not 1 <= line <= MAX_LINE:
        raise ValueError("not a line")
    message = _restored(item["message"])
    if not isinstance(message, str) or not isinstance(path, list):
        raise ValueError("not a message")
    hops = tuple(_restored(hop) for hop in path)
    for hop in hops:
        if not isinstance(hop, dict) or not isinstance(hop.get("step"), str) \
                or not set(hop) <= {"step", "data"} or not isinstance(hop.get("data", {}), dict):
            raise ValueError("not a witness route")
    return Problem(file, line, message, hops)
