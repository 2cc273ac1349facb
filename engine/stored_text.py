"""Text columns that read back whatever bytes are stored (models: a case's client_ref and
reason, the access log's client_ref). SQLite keeps any bytes in a text column, and its driver
fails the whole row of a value that is no UTF-8: every page and list that shows such a case
would fail. StoredText reads the bytes (CAST AS BLOB on SQLite) and decodes them here; a value
that is no UTF-8 becomes Damaged text, U+FFFD for each byte sequence that does not decode, so
the case still opens, the access log records it as shown and verify names the field
(engine/chains.py check_header). PostgreSQL refuses such bytes itself."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, LargeBinary, String, Text, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import TypeDecorator

from . import failures
from .messages import N_, Message


class Damaged(str):
    """A stored text that is no UTF-8 (SQLite keeps any bytes a database writer puts in a text
    column), as read: each byte sequence that does not decode is U+FFFD, the rest as it was.
    Equal to that text; `damaged(value)` tells it apart."""


class _StoredBytes(TypeDecorator):
    """The type of _AsStored: bytes read on SQLite, decoded here (Damaged when no UTF-8); text
    elsewhere, as it is."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        return dialect.type_descriptor(LargeBinary() if dialect.name == "sqlite" else String())

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return decoded(value) if isinstance(value, bytes) else value


def decoded(raw: bytes) -> str:
    """Stored bytes as UTF-8 text, else as Damaged (U+FFFD for what does not decode)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return Damaged(raw.decode("utf-8", "replace"))


class _AsStored(FunctionElement):
    """The column's value as its bytes on SQLite (CAST AS BLOB), as it is elsewhere."""

    inherit_cache = True
    type: TypeDecorator[Any] = _StoredBytes()


class AsTyped(FunctionElement):
    """A number or flag column's value, text as its bytes on SQLite (which keeps text in any
    column, even bytes that are no UTF-8: its driver fails the row); read by `type_`."""

    inherit_cache = True

    def __init__(self, column: Any, type_: Any) -> None:
        super().__init__(column)
        self.type = type_


@compiles(AsTyped, "sqlite")
def _as_typed_sqlite(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"CASE WHEN typeof({column}) = 'text' THEN CAST({column} AS BLOB) ELSE {column} END"


@compiles(AsTyped)
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


# --- JSON and integer columns --------------------------------------------------------------------
# The same rule for other values a database writer can damage (issue 11 point 6): JSON that is no
# JSON, of the wrong shape (a list for an object), with a lone surrogate ("\ud800": no page could
# be written out), nested deeper than Python reads, text in an integer column (SQLite keeps it).
# Each reads as a marker of its kind holding what can be shown, the damage in Dutch; never a failed row.

_LONE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class DamagedData(dict):
    """A stored JSON object that does not read as one, as read: empty, or (a lone surrogate)
    the object with U+FFFD in its place. `damage`: what is wrong, in Dutch (a Message)."""

    damage: Any = ""


class DamagedList(list):
    """A stored JSON list (of texts) that does not read as one, as DamagedData is for objects."""

    damage: Any = ""


class DamagedNumber(str):
    """Text that SQLite keeps in an integer column, as read: the text (a str, so it is shown,
    never taken for a number). `damage`: what is wrong, in Dutch."""

    @property
    def damage(self) -> Message:
        return Message(N_("geen getal ({value})"), value=repr(str(self))[:40])

    # After every number (case ids with one damaged still sort), equal to none; as texts among them
    def _key(self, other: Any) -> Any:
        return (1, str(other)) if isinstance(other, str) else (0, other)

    def __lt__(self, other: Any) -> bool:
        return (1, str(self)) < self._key(other)

    def __gt__(self, other: Any) -> bool:
        return (1, str(self)) > self._key(other)

    def __le__(self, other: Any) -> bool:
        return (1, str(self)) <= self._key(other)

    def __ge__(self, other: Any) -> bool:
        return (1, str(self)) >= self._key(other)


def damaged(value: Any) -> bool:
    """Whether `value`, read from a StoredText, StoredJSON, StoredNumber, StoredCode or
    StoredFlag column, was stored damaged (bytes that are no UTF-8, JSON that is no JSON or of
    the wrong shape, text in an integer column, a code or flag that is none)."""
    return isinstance(value, Damaged | DamagedData | DamagedList | DamagedNumber | DamagedCode | DamagedFlag)


def damage_text(value: Any) -> Any:
    """What is wrong with a value read as damaged (`damaged(value)`), in Dutch (a Message or
    catalogue text); None for a sound value."""
    if isinstance(value, Damaged):
        return N_("bytes die geen tekst zijn (UTF-8)")
    if isinstance(value, DamagedData | DamagedList | DamagedNumber | DamagedCode | DamagedFlag):
        return value.damage
    return None


def _marked(shape: type, content: Any, damage: Any) -> DamagedData | DamagedList:
    found = DamagedData(content or {}) if shape is dict else DamagedList(content or [])
    found.damage = damage
    return found


def _cleaned(value: Any) -> Any:
    """`value` (parsed JSON) with each lone surrogate replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, dict):
        return {_cleaned(k): _cleaned(v) for k, v in value.items()}
    return value


def loads(text: str | bytes) -> Any:
    """Stored JSON text as Python values; never raises: JSON that is no JSON, nested too deep
    or holding a lone surrogate is a DamagedData (object) or DamagedList (array) with its
    damage (failures.kind_of's words)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _marked(dict, None, failures.kind_of(exc))
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return _marked(dict, None, failures.kind_of(exc))
    if _LONE.search(text):
        try:
            clean = _cleaned(value)
        except RecursionError as exc:
            return _marked(dict, None, failures.kind_of(exc))
        if clean != value or type(clean) is not type(value):
            kind = N_("een losse surrogaat: geen teken (U+FFFD getoond)")
            return _marked(list if isinstance(clean, list) else dict, clean, kind)
    return value


def shaped(value: Any, shape: type) -> Any:
    """`value` (read JSON) when it has `shape` (dict: an object; list: a list of texts), else a
    marker of that shape: an empty DamagedData or DamagedList naming the damage. None (JSON
    null; every StoredJSON column is NOT NULL, so never SQL's NULL) is such a value too: read
    as None, a page or a completion failed on it (TypeError, a 500; issue 11)."""
    if isinstance(value, DamagedData | DamagedList):
        return value if isinstance(value, shape) else _marked(shape, None, value.damage)
    if shape is dict and isinstance(value, dict):
        return value
    if shape is list and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return _marked(shape, None, N_("geen object (JSON) maar een andere waarde") if shape is dict
                   else N_("geen lijst van teksten (JSON) maar een andere waarde"))


class _StoredJSONValue(TypeDecorator):
    """The type of a StoredJSON column as selected: its bytes on SQLite, parsed here (loads);
    the driver's value elsewhere (psycopg parses it, through _read_json); then `shaped`."""

    impl = String
    cache_ok = True
    shape: type = dict

    def load_dialect_impl(self, dialect: Any) -> Any:
        return dialect.type_descriptor(LargeBinary() if dialect.name == "sqlite" else JSON())

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if dialect.name == "sqlite" and isinstance(value, bytes | str):  # elsewhere: parsed
            value = loads(value)
        return shaped(value, self.shape)


class _StoredJSONList(_StoredJSONValue):
    cache_ok = True
    shape = list


class _AsJSONObject(_AsStored):
    inherit_cache = True
    type = _StoredJSONValue()


class _AsJSONList(_AsStored):
    inherit_cache = True
    type = _StoredJSONList()


class _ValidJSON(FunctionElement):
    """The JSON column where its text is JSON, else NULL (SQLite: json_extract fails the whole
    statement on text that is no JSON, e.g. a list page filtering on one value); PostgreSQL
    holds only JSON."""

    inherit_cache = True
    type = JSON()


@compiles(_ValidJSON)
def _valid_json(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(_ValidJSON, "sqlite")
def _valid_json_sqlite(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"CASE WHEN json_valid({column}) THEN {column} END"


class _JSONComparator(JSON.Comparator):
    """A value inside a StoredJSON column (data["vermoeden"]) read in SQL: NULL where the
    column holds no JSON, as a plain JSON value (never the column's own marker)."""

    def __getitem__(self, index: Any) -> Any:
        return _ValidJSON(self.expr)[index]


class StoredJSON(TypeDecorator):
    """A JSON object column (`list_of_texts`: a list of texts) that reads back whatever is
    stored: a value that is no JSON, nested too deep, holding a lone surrogate or of another
    shape reads as DamagedData (DamagedList), so the case, task or history still opens and
    says what is damaged. Written as JSON writes."""

    impl = JSON
    cache_ok = True

    def __init__(self, list_of_texts: bool = False) -> None:
        super().__init__()
        self.list_of_texts = list_of_texts

    comparator_factory = _JSONComparator

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        return _AsJSONList(colexpr) if self.list_of_texts else _AsJSONObject(colexpr)


def _safe_json(data: Any) -> Any:
    return loads(bytes(data))


@event.listens_for(Engine, "connect")
def _read_json(dbapi_conn: Any, _record: Any) -> None:
    """Every PostgreSQL connection parses JSON through `loads`: JSON nested deeper than Python
    reads, or with a lone surrogate, is a marker there instead of the driver's error, which
    fails the whole statement."""
    if hasattr(dbapi_conn, "adapters") and hasattr(dbapi_conn, "pgconn"):  # psycopg 3
        from psycopg.types.json import set_json_loads

        set_json_loads(_safe_json, dbapi_conn)


class DamagedCode(str):
    """A code column's value that is none of its codes (a status or uitkomst a database writer
    made up), as read: the text, equal to no code. `damage`: what is wrong, in Dutch."""

    @property
    def damage(self) -> Message:
        return Message(N_("geen bekende waarde ({value})"), value=repr(str(self))[:40])


class StoredCode(TypeDecorator):
    """A text column that holds one of a fixed set of codes (cases.status, cases.uitkomst):
    any other stored value reads as a DamagedCode, so a page or the API names the case as
    damaged (409) instead of failing on a value no contract knows (a 500)."""

    impl = String
    cache_ok = True

    def __init__(self, length: int, *codes: str) -> None:
        super().__init__(length)
        self.codes = frozenset(codes)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None or value in self.codes:
            return value
        return DamagedCode(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)


class StoredNumber(TypeDecorator):
    """An integer column (not a primary key) that reads back text SQLite keeps in it, bytes
    that are no UTF-8 included (AsTyped), as a DamagedNumber instead of handing the text on
    as if it were a number or failing the row; PostgreSQL refuses such text itself."""

    impl = Integer
    cache_ok = True

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        return AsTyped(colexpr, self)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None or type(value) is int:
            return value
        if isinstance(value, bytes):
            return DamagedNumber(value.decode("utf-8", "replace"))
        return DamagedNumber(value)


class DamagedFlag(int):
    """A yes/no value that is neither, as read: 0, so it reads as no (a user not active: fail
    closed); `stored`: the value as it was; `damage`: what is wrong, in Dutch."""

    stored: str = ""

    @property
    def damage(self) -> Message:
        return Message(N_("geen ja/nee-waarde ({value})"), value=repr(self.stored)[:40])


class StoredFlag(TypeDecorator):
    """A Boolean column (users.active) that reads any stored value other than yes, no or NULL
    (SQLite: text, bytes that are no UTF-8, another number) as a DamagedFlag instead of True
    (SQLite's driver makes every non-zero value yes) or a failed row."""

    impl = Boolean
    cache_ok = True
    coerce_to_is_types = (type(None), bool)  # `active.is_(True)` as Boolean writes it: IS true

    def column_expression(self, colexpr: ColumnElement[Any]) -> ColumnElement[Any]:
        return AsTyped(colexpr, self)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            if value is None or isinstance(value, bool) or (type(value) is int and value in (0, 1)):
                return None if value is None else bool(value)
            found = DamagedFlag(0)
            found.stored = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            return found

        return process
