"""The bytes of a stored workflow state: JSON written and read with orjson (about ten times
faster than json for writing, twice for reading; every completion writes the whole state) with
json's own results, and zlib unpacked within a bound. engine/adapter.py's serializer uses them."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

import orjson

from .messages import N_

# datetimes and dataclasses go to the registry's encoder, as json sends them there
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dump_json(dct: dict[str, Any], default: Callable[[Any], Any], encoder: type[json.JSONEncoder]) -> bytes:
    """`dct` as JSON (UTF-8) that parses to what json.dumps(dct, cls=encoder) parses to;
    default: that encoder's default (SpiffWorkflow's registry). A value orjson refuses (an
    integer beyond 64 bits, a key that is no text) is written by json itself; json's errors
    (TypeError for an unknown object) are raised as json raises them. orjson writes a
    non-finite float as null: this product stores none (form answers are no floats,
    expressions keep numbers within expressions.MAX_NUMBER and cannot make NaN)."""
    try:
        return orjson.dumps(dct, default=default, option=_ORJSON_OPTIONS)
    except TypeError:
        return json.dumps(dct, cls=encoder).encode()


def loads(text: str | bytes) -> Any:
    """JSON text parsed as json.loads parses it (orjson); json itself for what orjson refuses
    (NaN, Infinity). Raises ValueError (and RecursionError) as json. orjson reads an integer
    beyond 64 bits as a float: this product stores none (forms.INTEGER_LIMIT,
    expressions.MAX_NUMBER), and in a state changed outside it verify sees the difference."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


# The shipped meldcode's state is ~50 KiB unpacked; a case with years of loops stays far
# below this. A row that unpacks to more is hostile (a zlib bomb: 6 MB became 6 GB).
MAX_STATE_BYTES = 64 * 1024 * 1024


def unpack(state: bytes) -> bytes:
    """The JSON bytes of a stored state (zlib), unpacked to at most MAX_STATE_BYTES.
    Raises ValueError with a Dutch reason (N_) for bytes that do not unpack or unpack to
    more; engine/adapter.py turns it into UntrustedState (409)."""
    unpacker = zlib.decompressobj()
    try:
        text = unpacker.decompress(state, MAX_STATE_BYTES)
    except (zlib.error, TypeError):
        raise ValueError(N_("de toestand is onleesbaar")) from None
    if unpacker.unconsumed_tail:
        raise ValueError(N_("de toestand is groter dan het product ooit opslaat"))
    if not unpacker.eof:
        raise ValueError(N_("de toestand is onleesbaar"))
    return text
