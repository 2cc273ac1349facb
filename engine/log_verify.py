"""The check of the log across all cases: one pass over every entry (its keyed hash against
its row, the indexes without a gap, the Merkle root against a checkpoint), the rows that are
in no entry, and the same for one case. Problems in Dutch (engine.messages.Message, which the
web layer translates)."""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select, type_coerce

from . import admin_chain, chains, log_head, log_scan, models, settings, store
from .audit import GENESIS
from .log_scan import log_query
from .merkle import EMPTY_ROOT, entry_hash
from .messages import N_, Message, shown, text_of
from .problems import joined
from .stored_rows import DamagedRow, loaded_rows
from .stored_text import StoredText
from .translog import ENTRIES, KINDS, MISSING, QUEUE, sequence, snapshot

_Sealed = dict[int, dict[int, set[str]]]  # case -> other case -> kinds whose head names its row
_WHAT = {"event": N_("gebeurtenis"), "access": N_("toegangslogregel"),
         "admin": N_("beheerlogregel")}


def _row(kind: str, row_id) -> Message:
    """How a problem names a row: its kind and id, e.g. "gebeurtenis 12"; a kind the log
    does not know (an entry planted by hand) in Dutch words too, with its code."""
    if kind in _WHAT:
        return Message("{kind} {row}", kind=_WHAT[kind], row=row_id)
    return Message(N_("regel {row} van een onbekende soort ({kind})"), row=row_id,  # a NUL: repr
                   kind=str(kind) if str(kind).isprintable() else shown(str(kind)))


def _case_of(case_id) -> Message:
    """How a problem names where a row is: "casus 12", or "geen casus"."""
    return N_("geen casus") if case_id is None else Message(N_("casus {case}"), case=case_id)


def _is_case_id(value) -> bool:
    # SQLite keeps any value in an integer column: a case id of text names no case
    return isinstance(value, int) and not isinstance(value, bool)


def _of_log(problem: str) -> Message:
    """A problem of the log as a whole: "logboek: <problem>"."""
    return Message(N_("logboek: {problem}"), problem=problem)


@dataclass
class LogReport:
    """What the log pass found: problems of one case (by case id), problems of the log as a
    whole, the tree as it is, and whether a checkpoint was checked."""

    tree_size: int = 0
    root: str = EMPTY_ROOT
    problems: list[str] = field(default_factory=list)
    by_case: dict[int, list[str]] = field(default_factory=dict)
    logged_cases: set[int] = field(default_factory=set)
    checkpoint: dict[str, Any] | None = None
    checkpoint_root: str | None = None  # the root over the checkpoint's first tree_size leaves
    head: log_head.Head | None = None  # the sequencer's record, checked like a checkpoint
    roots: dict[int, str] = field(default_factory=dict)  # root at each size checked against

    def of_case(self, case_id: int, problem: str) -> None:
        if not _is_case_id(case_id):  # no case to hold it: the log's (never a crash)
            self.problems.append(_of_log(Message(
                N_("{problem} (bij casusnummer {value}, dat geen getal is)"), problem=problem,
                value=shown(case_id))))
            return
        found = self.by_case.setdefault(case_id, [])
        if len(found) < 20:  # enough to act on; a wholesale deletion would name every row
            found.append(problem)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.by_case


def check_row(report: LogReport, key: bytes, idx, kind, row_id, case_id, entry, row_hash,
              row_case) -> None:
    """Judge one entry as log_scan reads it (an odd row) and add what is wrong, in Dutch, to
    `report`: of its case, else of the log. Also what a checkpoint refuses over."""
    what = _row(kind, row_id)

    def fits(row_hash) -> bool:
        # a stored hash with other than ASCII (bytes no UTF-8, as U+FFFD) fits nothing
        return isinstance(entry, str) and entry.isascii() and hmac.compare_digest(
            entry_hash(idx, kind, row_id, case_id, row_hash, key), entry)

    if case_id is not None and not _is_case_id(case_id):
        report.problems.append(_of_log(Message(
            N_("logboekregel {position} (tabel log_entries) noemt casus {value}, wat geen "
               "casusnummer is: buiten de applicatie gewijzigd"),
            position=idx, value=shown(case_id))))
        return
    if kind not in KINDS:
        problem = Message(N_("logboekpositie {position} staat voor {what}: het logboek kent "
                             "alleen gebeurtenissen, toegangslogregels en beheerlogregels (de "
                             "wachtrij of het logboek is buiten de applicatie bewerkt)"),
                          what=what, position=idx)
    elif row_hash is not None and fits(row_hash):
        if kind == "admin" or row_case == case_id:
            return
        problem = Message(N_("{what} hoort volgens het logboek bij {was}, maar staat nu bij "
                             "{now} (logboekpositie {position}): verplaatst of tussen casussen "
                             "verwisseld"), what=what, was=_case_of(case_id),
                          now=_case_of(row_case), position=idx)
    elif fits(MISSING):
        # the sequencer found no such row when it gave the queue entry its place
        problem = Message(N_("de wachtrij van het logboek had een regel voor {what}, die niet "
                             "bestond toen die regel een plaats kreeg (logboekpositie "
                             "{position}): een wachtrijregel voor een regel die er niet is, "
                             "buiten de applicatie toegevoegd"), what=what, position=idx)
    elif row_hash is None:
        problem = Message(N_("{what} is verwijderd (staat wel in het logboek op positie "
                             "{position})"), what=what, position=idx)
    else:
        problem = Message(N_("{what} of logboekpositie {position} is gewijzigd (de sleutelhash "
                             "van het logboek klopt niet)"), what=what, position=idx)
    if case_id is None:
        report.problems.append(_of_log(problem))
    else:
        report.of_case(case_id, problem)


def verify_log(url: str | None = None, checkpoint: dict[str, Any] | None = None,
               jobs: int | None = None) -> LogReport:
    """Check the whole log in one pass, in read transactions only (no write lock):

    - indexes run 0, 1, 2, ... without a gap (a removed entry that is not the newest);
    - each entry's keyed hash fits its index, kind, row, case and the row's own hash, and the
      row still exists (a removed or changed event, access-log or admin-log line);
    - every event, access-log and admin-log row is in the log or still queued (a row added
      by hand, or whose queue entry was removed);
    - every case the log names still exists (a removed case row);
    - with a checkpoint (already signature-checked, see load_checkpoint): the log holds at
      least its tree_size entries, and the root over the first tree_size entries is its
      root (RFC 9162 section 2.1.1), so removing even the newest entries is seen;
    - the same against the head this instance's sequencer recorded outside the database
      (engine/log_head.py), so a log cut and sequenced anew is seen without a checkpoint.

    A log of several ranges of 2**log_scan.CHUNK_BITS entries from index 0 is checked in up
    to `jobs` processes side by side (default: the cores), each range in a read transaction
    of its own (engine/log_scan.py), while this process counts over the whole log and seeks
    the case heads sealing another case's lines; a log with a gap (a range short of
    entries), or a small one, is checked in one pass. Sequences queued rows first. Out: a
    LogReport; problems are Dutch."""
    jobs = jobs or os.cpu_count() or 1
    sequence(url)
    report = LogReport(checkpoint=checkpoint)
    try:
        report.head = log_head.read(store.get_engine(url))
    except log_head.HeadUnreadable as exc:
        report.problems.append(_of_log(text_of(exc)))
    wants = sorted({checkpoint["tree_size"]} if checkpoint else set())
    if report.head is not None:
        wants = sorted({*wants, report.head.tree_size})
    key = settings.history_key()
    with snapshot(url) as conn:
        facts: list[_Facts] = []
        # the counts over the whole log and the sealed heads (_facts) read while ranges are
        # checked side by side, if they are
        tree, odd, report.roots = log_scan.whole_log(
            conn, url, wants, jobs, meanwhile=lambda: facts.append(_facts(conn)))
        known = facts[0] if facts else _facts(conn)
        for item in odd:
            if len(item) < 3:  # a gap, or an entry at a negative index
                report.problems.append(_of_log(log_scan.missing_or_misplaced(item)))
            else:
                check_row(report, key, *item)
        report.logged_cases = known.logged_cases
        report.tree_size, report.root = tree.size, tree.root()
        report.roots.setdefault(tree.size, report.root)
        if checkpoint:
            report.checkpoint_root = report.roots.get(checkpoint["tree_size"])
        unlogged(conn, report, fitting(known.entries, odd), known.rows)
        _admin_rows(conn, report)
        _system_access_rows(conn, report)
        _report_sealed(report, known.sealed)
        existing = known.existing
    for case_id in sorted(report.logged_cases - existing):
        report.by_case[case_id] = [
            N_("de casus is verwijderd: het logboek kent haar gebeurtenissen en toegangsregels, "
               "de casus zelf ontbreekt"), *report.by_case.get(case_id, [])][:20]
    if checkpoint:
        _against_checkpoint(report, checkpoint)
    if report.head is not None:
        _against_head(report, report.head)
    return report


@dataclass
class _Facts:
    """Counts over the whole log and its tables, read in the pass's read transaction: the
    log's entries per kind, the rows per kind, the cases the log names, the cases that
    exist; and the case rows sealing another case's chain (_sealed)."""

    entries: dict[str, int]
    rows: dict[str, int]
    logged_cases: set[int]
    existing: set[int]
    sealed: _Sealed


def counts(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
    """In `conn`'s transaction: the log's entries per kind, and the rows of each kind's table
    (what `unlogged` and `fitting` take). Raises what the driver raises."""
    entries = {kind: count for kind, count in conn.execute(
        select(type_coerce(ENTRIES.c.kind, StoredText()), func.count()).group_by(ENTRIES.c.kind))}
    return entries, {kind: conn.execute(select(func.count()).select_from(table)).scalar() or 0
                     for kind, table in KINDS.items()}


def _facts(conn: Connection) -> _Facts:
    entries, rows = counts(conn)
    logged = {case_id for case_id in conn.execute(select(ENTRIES.c.case_id).where(
        ENTRIES.c.case_id.is_not(None)).distinct()).scalars() if _is_case_id(case_id)}
    existing = set(conn.execute(select(models.Case.__table__.c.id)).scalars())
    return _Facts(entries, rows, logged, existing, _sealed(conn))


def fitting(entries: dict[str, int], odd: list[tuple]) -> dict[str, int]:
    """Per kind: how many entries name an existing row of their case and fit it by their
    keyed hash, that is all of the kind (`entries`, per kind) but the odd ones."""
    fitting = {kind: entries.get(kind, 0) for kind in KINDS}
    for item in odd:
        if len(item) > 2 and item[1] in fitting:
            fitting[item[1]] -= 1
    return fitting


def _against_head(report: LogReport, head: log_head.Head) -> None:
    if report.tree_size < head.tree_size:
        report.problems.append(_of_log(Message(
            N_("de sequencer gaf tot {at} {size} regels een plaats, het logboek telt er nu "
               "{count}: regels zijn verwijderd (en wat erna kwam wacht opnieuw in de "
               "wachtrij)"), at=head.at, size=head.tree_size, count=report.tree_size)))
    elif report.roots.get(head.tree_size) != head.root:
        report.problems.append(_of_log(Message(
            N_("de eerste {size} regels wijken af van wat de sequencer tot {at} vastlegde "
               "(regels verwijderd, vervangen of in een andere volgorde)"),
            size=head.tree_size, at=head.at)))


def _against_checkpoint(report: LogReport, checkpoint: dict[str, Any]) -> None:
    size, at = checkpoint["tree_size"], checkpoint["at"]
    if report.tree_size < size:
        report.problems.append(_of_log(Message(
            N_("het controlepunt van {at} telt {size} regels, het logboek nu maar {count}: de "
               "nieuwste {removed} regel(s) zijn verwijderd"),
            at=at, size=size, count=report.tree_size, removed=size - report.tree_size)))
    elif report.checkpoint_root != checkpoint["root"]:
        report.problems.append(_of_log(Message(
            N_("de eerste {size} regels wijken af van het controlepunt van {at} (regels "
               "verwijderd, vervangen of in een andere volgorde)"), size=size, at=at)))


def _unreadable(kind: str, table, row: DamagedRow) -> Message:
    """A row that does not read back, by its kind, table and id, and what does not read."""
    return Message(N_("{what} (tabel {table}) is onleesbaar: {reasons}"),
                   what=_row(kind, row.id), table=table.name, reasons=joined(
                       [Message("{column}: {reason}", column=column, reason=reason)
                        for column, reason in row.damage.items()], "; "))


def _admin_rows(conn: Connection, report: LogReport) -> None:
    """The admin log as a chain (engine/admin_chain.py: each line under its keyed hash, in its
    place, none copied, moved or missing); events and access-log lines are checked per case,
    along their chains. A row that does not read back is named, never a crash."""
    table = KINDS["admin"]
    rows = loaded_rows(conn, table)
    for row in rows:
        if isinstance(row, DamagedRow):
            report.problems.append(_of_log(_unreadable("admin", table, row)))
    report.problems.extend(_of_log(problem) for problem in admin_chain.problems(rows))


def _system_access_rows(conn: Connection, report: LogReport) -> None:
    """The access-log lines of no case (refused case starts and other NEN 7513 lines of the
    system) along their own chain, as a case's lines are checked per case: an edited line
    (its outcome or user, say), or one removed or added in between, is a problem of the log.
    A line that does not read back (a time that is no time) is named by its table and id, and
    the chain is checked up to it (the first break, as for a case)."""
    table = KINDS["access"]
    rows = loaded_rows(conn, table, table.c.case_id.is_(None))
    damaged = next((i for i, row in enumerate(rows) if isinstance(row, DamagedRow)), len(rows))
    for problem in chains.check_access_rows(rows[:damaged]):
        report.problems.append(_of_log(Message(
            N_("toegangslog zonder casus: {problem}"), problem=problem)))
    if damaged < len(rows):
        report.problems.append(_of_log(_unreadable("access", table, rows[damaged])))


def unlogged(conn: Connection, report: LogReport, fitting: dict[str, int],
             rows: dict[str, int]) -> None:
    """Rows neither in the log nor queued for it.

    fitting (from the pass over the log): per kind, how many entries name an existing row and
    fit it by their keyed hash. Such entries are the sequencer's own, one per row (it never
    logs a row twice; log_entries is unique on kind and row), so when a table holds exactly
    that many rows (`rows`, per kind), every one of them is in the log and the search is
    skipped."""
    for kind, table in KINDS.items():
        if rows[kind] == fitting[kind]:
            continue
        columns = [table.c.id] + ([table.c.case_id] if kind != "admin" else [])
        query = select(*columns).where(*_not_logged(kind, table)).order_by(table.c.id)
        for row in conn.execute(query):
            problem = Message(N_("{what} staat niet in het logboek (buiten de applicatie "
                                 "toegevoegd, of de wachtrij van het logboek is bewerkt)"),
                              what=_row(kind, row.id))
            case_id = getattr(row, "case_id", None)
            if case_id is None:
                report.problems.append(_of_log(problem))
            else:
                report.of_case(case_id, problem)


def _not_logged(kind: str, table) -> tuple:
    return tuple(~select(t.c.row_id).where(t.c.kind == kind, t.c.row_id == table.c.id).exists()
                 for t in (ENTRIES, QUEUE))


def verify_case_log(conn: Connection, case_id: int) -> list[str]:
    """The log pass for one case (no gap or checkpoint check: those need the whole log):
    every entry of the case fits its row, and every event and access-log line of the case
    is in the log or queued. Problems in Dutch."""
    report = LogReport()
    key = settings.history_key()
    for row in conn.execute(log_query(case_id)):
        row_hash, row_case = ((row.row_hash, row.row_case) if row.kind in ("event", "access")
                              else (None, None))
        check_row(report, key, row.idx, row.kind, row.row_id, row.case_id, row.entry_hash,
                   row_hash, row_case)
    for kind in ("event", "access"):
        table = KINDS[kind]
        ids = conn.execute(select(table.c.id).where(
            table.c.case_id == case_id, *_not_logged(kind, table))).scalars().all()
        for row_id in ids:
            report.of_case(case_id, Message(N_("{what} staat niet in het logboek"),
                                            what=_row(kind, row_id)))
    _report_sealed(report, _sealed(conn, case_id), case_id)
    return report.by_case.get(case_id, [])


_SEALED = {("event",): N_("de geschiedenis"), ("access",): N_("het toegangslog"),
           ("access", "event"): N_("de geschiedenis en het toegangslog")}


def _sealed(conn: Connection, case_id: int | None = None) -> _Sealed:
    """Case rows whose header seals the last event or access-log line of another case (of
    case `case_id` only, when given): case rows, or their ids, swapped or copied. The case's
    own check (chains.check_chain) sees only that its chain is not the one sealed; this
    names the other case. Only heads that are not their own chain's last hash are sought."""
    cases = models.Case.__table__
    sealed: _Sealed = {}
    for kind, head in (("event", cases.c.last_hash), ("access", cases.c.access_head)):
        table = KINDS[kind]
        own = (select(table.c.hash).where(table.c.case_id == cases.c.id)
               .order_by((table.c.seq if kind == "event" else table.c.id).desc()).limit(1)
               .scalar_subquery())
        query = select(cases.c.id, head).where(head.not_in(("", GENESIS)),
                                               own.is_distinct_from(head),
                                               cases.c.id == (case_id or cases.c.id))
        by_head: dict[str, list[int]] = {}
        for case, at in conn.execute(query):
            by_head.setdefault(at, []).append(case)
        if not by_head:
            continue
        # all heads in one pass over the table (no index on hash; one per 900 heads took 11 s)
        heads = query.with_only_columns(cast(head, Text))
        for other, row_hash in conn.execute(select(table.c.case_id, table.c.hash).where(
                table.c.hash.in_(heads))):
            for case in by_head.get(row_hash, ()):
                if _is_case_id(other) and other != case:
                    sealed.setdefault(case, {}).setdefault(other, set()).add(kind)
    return sealed


def _report_sealed(report: LogReport, sealed: _Sealed, case_id: int | None = None) -> None:
    """_sealed's finds as problems of their cases (`case_id`: of that case only)."""
    for case, others in sorted(sealed.items()):
        for other, kinds in sorted(others.items()):
            mutual = case_id is None and case in sealed.get(other, {})
            report.of_case(case, Message(
                N_("de kop van casus {case} verzegelt {what} van casus {other}: de casussen "
                   "{case} en {other} zijn verwisseld") if mutual else
                N_("de kop van casus {case} verzegelt {what} van casus {other}: overgenomen van "
                   "of verwisseld met casus {other}"),
                case=case, other=other, what=_SEALED[tuple(sorted(kinds))]))
