"""The hash chains and the sealed header of one case (CONTRACT section 5): its history
events and its access-log lines each chained under the history key, their counts and heads
sealed in the case row, and the row's header under its keyed hash (engine/audit.py makes
them). Problems in Dutch (engine.messages.Message, which the web layer translates), the
first break of a chain only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row

from . import audit
from .messages import N_, Message
from .models import Case
from .replay import StoredEvent, event_label
from .stored_text import damaged

# A case as an ORM object or as a plain row of the cases table (verify reads those): both
# carry the same attributes.
StoredCase = Case | Row[Any]


def check_chain(case: StoredCase, events: Sequence[StoredEvent]) -> list[str]:
    """The case's history events (rows or ORM objects, in order of seq) as a chain: numbered
    1, 2, ... without a gap, each linked to the one before and under its keyed hash, and the
    case's sealed count and head equal to the chain's. Out: the first problem found (Dutch),
    or []."""
    problems: list[str] = []
    prev = audit.GENESIS
    for index, event in enumerate(events, start=1):
        if event.seq != index:
            problems.append(Message(
                N_("gebeurtenis {number} ontbreekt of staat op de verkeerde plaats "
                   "(gevonden: volgnummer {seq})"), number=index, seq=event.seq))
            return problems
        if event.prev_hash != prev:
            problems.append(Message(N_("{event}: de keten is onderbroken (vorige hash klopt "
                                       "niet)"), event=event_label(event)))
            return problems
        content = audit.event_content(case.id, event.seq, event.at, event.actor, event.action,
                                      event.step, event.task_id, event.data)
        if audit.chain_hash(prev, content) != event.hash:
            problems.append(Message(N_("{event}: de inhoud is na het vastleggen gewijzigd (hash "
                                       "klopt niet)"), event=event_label(event)))
            return problems
        prev = event.hash
    if case.event_count != len(events):
        problems.append(Message(
            N_("de casus verwacht {expected} gebeurtenissen maar er zijn er {found}: er is een "
               "gebeurtenis verwijderd of toegevoegd"), expected=case.event_count,
            found=len(events)))
    elif (case.last_hash or audit.GENESIS) != prev:
        # as many events as sealed, each sound, but not the ones sealed: the history (or the
        # case row) is another case's; the log pass names that case (log_verify)
        problems.append(Message(
            N_("de {found} gebeurtenissen van de casus zijn niet die welke haar kop verzegelde: "
               "de geschiedenis of de casusrij hoort bij een andere casus (verwisseld of "
               "vervangen)"), found=len(events)))
    return problems


def check_access_rows(rows: Iterable[Any], case: StoredCase | None = None) -> list[str]:
    """The case's access log (its lines in the order written) is chained like its history:
    an edited, removed or inserted line breaks the chain. With the case: its sealed count and
    head must match the chain's, so removing the last lines, or all of them, shows too.
    Out: the first problem found (Dutch), or []."""
    prev = audit.GENESIS
    number = 0
    for number, entry in enumerate(rows, start=1):
        if entry.prev_hash != prev:
            return [Message(N_("toegangslog regel {number}: de keten is onderbroken (een regel "
                               "is verwijderd of tussengevoegd)"), number=number)]
        if audit.chain_hash(prev, audit.access_content(entry)) != entry.hash:
            return [Message(N_("toegangslog regel {number}: de inhoud is na het vastleggen "
                               "gewijzigd"), number=number)]
        prev = entry.hash
    if case is not None and case.access_count != number:
        return [Message(N_("de casus verwacht {expected} regels in het toegangslog maar er zijn "
                           "er {found}: er zijn regels verwijderd of toegevoegd"),
                        expected=case.access_count, found=number)]
    if case is not None and (case.access_head or audit.GENESIS) != prev:
        return [Message(N_("de {found} regels in het toegangslog van de casus zijn niet die welke "
                           "haar kop verzegelde: het toegangslog of de casusrij hoort bij een "
                           "andere casus (verwisseld of vervangen)"), found=number)]
    return []


def check_header(case: StoredCase) -> list[str]:
    """The case row's header (audit.HEADER_FIELDS) under its keyed hash: a changed client
    reference, reason, date, owner, count or chain head, a swap between cases or a rewound
    case row shows here. A client reference or reason stored as bytes that are no UTF-8
    (stored_text.StoredText reads them as Damaged) is named first."""
    problems = stored_damage(case)
    if not audit.header_ok(case.id, case):
        problems.append(N_("de kop van de casus (cliëntreferentie, reden, start- of einddatum, "
                           "eigenaar, status, tellers) is buiten de applicatie gewijzigd: de "
                           "sleutelhash klopt niet"))
    return problems


def stored_damage(case: StoredCase) -> list[str]:
    """The case row's texts stored as bytes that are no UTF-8 (StoredText reads them as
    Damaged), each named: a client reference or reason (_DAMAGED), a hash of the row. Verify
    names them whatever else it finds (a damaged hash also breaks a chain)."""
    problems: list[str] = [text for name, text in _DAMAGED if damaged(getattr(case, name))]
    return problems + [Message(N_("beschadigd opgeslagen: {fields}"), fields=Message(
        N_("{field}: {reason}"), field=name, reason=N_("bytes die geen tekst zijn (UTF-8)")))
        for name in ("last_hash", "access_head", "header_hash") if damaged(getattr(case, name))]


_DAMAGED = (
    ("client_ref", N_("de cliëntreferentie is beschadigd opgeslagen: de database bevat bytes die "
                      "geen tekst zijn (UTF-8); ze worden getoond als \ufffd")),
    ("reason", N_("de reden is beschadigd opgeslagen: de database bevat bytes die geen tekst "
                  "zijn (UTF-8); ze worden getoond als \ufffd")),
)
