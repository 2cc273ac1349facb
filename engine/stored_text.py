"""Text columns that read back whatever bytes are stored (models: a case's client_ref and
reason, the access log's client_ref). SQLite keeps any bytes in a text column, and its driver
fails the whole row of a value that is no UTF-8: every page and list that shows such a case
would fail. StoredText reads the bytes (CAST AS BLOB on SQLite) and decodes them here; a value
that is no UTF-8 becomes Damaged text, U+FFFD for each byte sequence that does not decode, so
the case still opens, the access log records it as shown and verify names the field
(engine/chains.py check_header). PostgreSQL refuses such bytes itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import TypeDecorator


class Damaged(str):
    """A stored text that is no UTF-8 (SQLite keeps any bytes a database writer puts in a text
    column), as read: each byte sequence that does not decode is U+FFFD, the rest as it was.
    Equal to that text; `damaged(value)` tells it apart."""


def damaged(value: Any) -> bool:
    """Whether `value`, read from a StoredText column, held bytes that are no UTF-8."""
    return isinstance(value, Damaged)


class _StoredBytes(TypeDecorator):
    """The type of _AsStored: bytes read on SQLite, decoded here (Damaged when no UTF-8); text
    elsewhere, as it is."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        return dialect.type_descriptor(LargeBinary() if dialect.name == "sqlite" else String())

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if not isinstance(value, bytes):
            return value
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return Damaged(value.decode("utf-8", "replace"))


class _AsStored(FunctionElement):
    """The column's value as its bytes on SQLite (CAST AS BLOB), as it is elsewhere."""

    inherit_cache = True
    type = _StoredBytes()


@compiles(_AsStored)
def _as_stored(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(_AsStored, "sqlite")
def _as_stored_sqlite(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS BLOB)"


class StoredText(TypeDecorator):
    """A text column that reads back whatever bytes are stored: SQLite fails the whole row of
    a value that is no UTF-8 (every page and list that shows it would fail); this reads it as
    Damaged text instead, so the case still opens and verify names the field (chains.py).
    PostgreSQL refuses such bytes itself; there the column is read as it is.
    Used for the free texts a case is known by (client_ref, reason)."""

    impl = String
    cache_ok = True

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        return _AsStored(colexpr)


class StoredLongText(StoredText):
    """StoredText without a length (TEXT)."""

    impl = Text
    cache_ok = True
