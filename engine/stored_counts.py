"""Counters of a case and a user that the product moves on by one in every write (cases:
id_counter, event_count, access_count, version_id; users: session_version). A database writer
can store any number in them: SQLite keeps up to 64 bits (and text, which StoredNumber
already reads as a DamagedNumber), PostgreSQL 32. A counter at or beyond 2^31 - 1, or below
zero, can never have been written by the product, and one more does not fit: the write would
fail halfway (an OverflowError of SQLite's driver, PostgreSQL's "integer out of range") or a
page would blame the reader for it (400). StoredCount reads such a number as a DamagedCount,
so it is named like any damaged value (verify, the case page, the API's `damaged`) and a
write that builds on it is refused before anything is stored (engine/write_refusals.py
refuse_damaged). The rule is engine/stored_text.py's (issue 11). A counter that one write
moves on by more than one (cases.id_counter: a task id per task the engine creates;
cases.event_count: an event per decision, timer and closing) is damage from WRITE_SPAN below
that bound: from there the next write may not fit (2147483646 + the ids of one step)."""

from __future__ import annotations

from typing import Any

from .messages import N_, Message
from .stored_text import DamagedNumber, StoredNumber

# The largest value an INTEGER column holds on PostgreSQL (as commands.MAX_ID): a counter
# must stay below it, so that the next write still fits.
MAX_COUNT = 2**31 - 1

# How far one write may move id_counter or event_count on: one advance of the engine takes at
# most driving.MAX_ENGINE_STEPS steps and MAX_INLINE_FIRES timers, each a few tasks and an
# event; a step of the shipped meldcode takes a few dozen ids. No real case comes within this
# of MAX_COUNT (that is some two thousand million ids).
WRITE_SPAN = 2**20


class DamagedCount(DamagedNumber):
    """A counter read beyond what the product writes (a DamagedNumber: a text, never taken
    for a number), holding the number as text. `damage`: the value beyond the range."""

    @property
    def damage(self) -> Message:
        return Message(N_("een waarde buiten het bereik ({value})"), value=str(self)[:40])


class StoredCount(StoredNumber):
    """A StoredNumber that also reads an integer outside 0 .. MAX_COUNT - span as a DamagedCount:
    `span` is how far one write may move the counter on (1, or WRITE_SPAN), so that the next
    write still fits."""

    cache_ok = True

    def __init__(self, span: int = 1):
        super().__init__()
        self.span = span

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if type(value) is int and not 0 <= value <= MAX_COUNT - self.span:
            return DamagedCount(str(value))
        return super().process_result_value(value, dialect)
