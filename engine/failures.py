"""What went wrong, in Dutch: the kind of a failure that a person reads instead of Python's
own text ("JSONDecodeError: Expecting property name ...", "[Errno 2] No such file or
directory"), keeping the place where there is one (line and column, byte, column name).

Verify's reports of unreadable rows, the checkpoint loader and the checks that must never
crash use it; the texts are catalogue messages (N_), so the web layer translates them.
"""

from __future__ import annotations

import errno
import json
import logging
import re

from sqlalchemy.exc import DBAPIError

from .errors import DomainError
from .messages import N_, Message, text_of

_NOT_UTF8 = re.compile(r"Could not decode to UTF-8 column '([^']*)'")
# psycopg on a value no Python type holds: "timestamp too large (after year 10K): 'infinity'"
_BEYOND = re.compile(r"too (?:large|small)[^:]*: ('[^']*')")
_TIME = ("Invalid isoformat string", "Couldn't parse datetime", "Couldn't parse date",
         "Couldn't parse time")

# What the database driver said, by the words SQLite uses or the SQLSTATE PostgreSQL sends:
# the operator learns what to do rather than the driver's class name.
_DATABASE_KINDS: tuple[tuple[tuple[str, ...], Message], ...] = (
    (("no such table", "42P01"),
     N_("de database heeft de tabellen van Meldcode niet; voer eerst 'meldcode init' uit")),
    (("database is locked", "55P03", "40P01"),
     N_("de database is bezet door een ander proces; probeer het zo opnieuw")),
    (("readonly database", "25006"), N_("de database is alleen-lezen")),
    (("malformed", "not a database", "XX001"), N_("het databasebestand is beschadigd")),
    (("unable to open database", "connection", "could not connect", "08001", "08006",
      "28P01", "3D000"),
     N_("de database is niet te bereiken of te openen (adres, rechten of wachtwoord)")),
    (("disk is full", "53100"), N_("de schijf van de database is vol")),
)

_FILE_KINDS: dict[int, Message] = {
    errno.ENOENT: N_("het bestand bestaat niet"),
    errno.EACCES: N_("geen toegang tot het bestand (rechten)"),
    errno.EPERM: N_("geen toegang tot het bestand (rechten)"),
    errno.EISDIR: N_("dit is een map, geen bestand"),
    errno.ENOTDIR: N_("een deel van het pad is geen map"),
    errno.ENOSPC: N_("de schijf is vol"),
    errno.EROFS: N_("het bestandssysteem is alleen-lezen"),
    errno.ENAMETOOLONG: N_("de bestandsnaam is te lang"),
}


def kind_of(exc: BaseException) -> str:
    """The kind of `exc` as a Dutch Message (catalogue text), with its place where it has one.

    In: any exception. Out: a Message (a DomainError's message as it is); never raises.
    A DomainError (or any exception raised with a Message) gives its own message; a JSON
    error its line and column; a time that does not parse, a text that is no UTF-8 (with the
    column SQLite names), a value beyond Python's types (PostgreSQL's 'infinity', named), a
    file error by its errno, nesting too deep, a missing key; anything
    else "een onverwachte fout". Python's own words are never part of it (issue 11: problems
    named in Dutch)."""
    own = text_of(exc) if exc.args else None
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(own, Message):
        return own
    if isinstance(exc, json.JSONDecodeError):
        return Message(N_("geen geldige JSON (regel {line}, kolom {column})"),
                       line=exc.lineno, column=exc.colno)
    if isinstance(exc, RecursionError):
        return N_("te diep geneste gegevens")
    if isinstance(exc, UnicodeError):
        start = getattr(exc, "start", None)
        if isinstance(start, int):
            return Message(N_("geen geldige tekst (UTF-8) bij byte {position}"),
                           position=start + 1)
        return N_("geen geldige tekst (UTF-8)")
    if isinstance(exc, DBAPIError):
        found = _NOT_UTF8.search(str(exc.orig))
        if found:
            return Message(N_("kolom {column} bevat bytes die geen tekst zijn (UTF-8)"),
                           column=found.group(1))
        beyond = _BEYOND.search(str(exc.orig))
        if beyond:  # the value itself, not "de database gaf een fout"
            return Message(N_("een waarde buiten het bereik ({value})"), value=beyond.group(1)[:40])
        return _database_kind(exc)
    if isinstance(exc, OSError):
        return _FILE_KINDS.get(exc.errno or 0) or N_("het bestand is niet te lezen of te "
                                                     "schrijven")
    if isinstance(exc, ValueError) and str(exc).startswith(_TIME):
        return N_("geen geldig tijdstip")
    if isinstance(exc, KeyError):
        return Message(N_("onderdeel {key} ontbreekt"), key=str(exc.args[0]) if exc.args else "")
    if isinstance(exc, OverflowError):
        return N_("een getal buiten het bereik")
    if isinstance(exc, TypeError):
        return N_("een waarde van de verkeerde soort")
    if isinstance(exc, ValueError):
        return N_("een ongeldige waarde")
    return N_("een onverwachte fout")


def _database_kind(exc: DBAPIError) -> Message:
    said = str(exc.orig)
    state = getattr(exc.orig, "sqlstate", None) or ""
    for words, kind in _DATABASE_KINDS:
        if any(word in said or word == state for word in words):
            return kind
    return N_("de database gaf een fout")


# A database that is busy for a moment (SQLite's lock, PostgreSQL's lock timeout, deadlock or
# serialisation failure) or a connection that dropped: the same read succeeds a moment later.
_TRANSIENT = ("database is locked", "database is busy", "40001", "40P01", "55P03")


def transient(exc: BaseException) -> bool:
    """Whether `exc` is the database being busy for a moment or a dropped connection (a read
    retried succeeds), not a property of the rows read. In: any exception. Out: bool."""
    if not isinstance(exc, DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None) or ""
    return exc.connection_invalidated or any(
        word in str(exc.orig) or word == state for word in _TRANSIENT)


def named(exc: BaseException, log: logging.Logger, what: str, **fields: object) -> Message:
    """`exc` as a finding an operator can act on: kind_of in Dutch and the exception's class
    ("een onverwachte fout (AttributeError)"); the traceback goes to `log` (ERROR, with
    `what` and `fields` as the line's fields) so the cause is never hidden (issue 11: a
    verify that reported "een onverwachte fout" and nothing more). Never raises."""
    log.error(what, exc_info=exc, extra={**fields, "error": type(exc).__name__})
    return Message(N_("{reason} ({error})"), reason=kind_of(exc), error=type(exc).__name__)
