"""Counters of a case and a user that the product moves on by one in every write (cases:
id_counter, event_count, access_count, version_id; users: session_version). A database writer
can store any number in them: SQLite keeps up to 64 bits (and text, which StoredNumber
already reads as a DamagedNumber), PostgreSQL 32. A counter at or beyond 2^31 - 1, or below
zero, can never have been written by the product, and one more does not fit: the write would
fail halfway (an OverflowError of SQLite's driver, PostgreSQL's "integer out of range") or a
page would blame the reader for it (400). StoredCount reads such a number as a DamagedCount,
so it is named like any damaged value (verify, the case page, the API's `damaged`) and a
write that builds on it is refused before anything is stored (engine/stored_rows.py
refuse_damaged). The rule is engine/stored_text.py's (issue 11)."""

from __future__ import annotations

from typing import Any

from .messages import N_, Message
from .stored_text import DamagedNumber, StoredNumber

# The largest value an INTEGER column holds on PostgreSQL (as commands.MAX_ID): a counter
# must stay below it, so that the next write still fits.
MAX_COUNT = 2**31 - 1


class DamagedCount(DamagedNumber):
    """A counter read beyond what the product writes (a DamagedNumber: a text, never taken
    for a number), holding the number as text. `damage`: the value beyond the range."""

    @property
    def damage(self) -> Message:
        return Message(N_("een waarde buiten het bereik ({value})"), value=str(self)[:40])


class StoredCount(StoredNumber):
    """A StoredNumber that also reads an integer outside 0 .. MAX_COUNT - 1 as a DamagedCount."""

    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if type(value) is int and not 0 <= value < MAX_COUNT:
            return DamagedCount(str(value))
        return super().process_result_value(value, dialect)
