"""The pass over the entries of the log across all cases, fast: each entry's keyed hash
recomputed from its row (merkle.entry_hash) and the Merkle tree grown over the entries
(RFC 9162 section 2.1.1). engine/log_verify.py judges what this finds.

A log whose indexes run from 0 to n-1 is split into aligned ranges of 2**CHUNK_BITS entries,
each a perfect subtree of the tree, which forked processes check side by side (each in a
read transaction of its own, on the entries below n only, which the log never changes); the
subtrees' roots then make the tree. A range short of entries (a gap) sends the log back to
the one-process pass. Any entry that does not fit its row is
handed back as it was read, and log_verify names it exactly as in its one-process pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, LargeBinary, String, and_, case, cast, func, select, type_coerce

from . import settings
from .background import process_pool
from .merkle import Tree, hmac_states, leaf_of
from .messages import N_, Message
from .stored_text import StoredText
from .translog import ENTRIES, KINDS, batches, snapshot


def log_query(case_id: int | None = None, lo: int | None = None, hi: int | None = None,
              compact: bool = False, dialect: str = "sqlite"):
    """The log's entries in order (of case `case_id`, or with lo <= idx < hi, when given),
    each with the hash and case of the row it names (None when that row is gone): idx, kind,
    row_id, case_id, entry_hash, row_hash, row_case. The kind decides which table's row is
    joined, so at most one of the three matches; an admin row has no case.
    compact: idx, the entry's keyed-hash message as bytes (None when its row is gone or in
    another case) and entry_hash, the message in the form of `dialect`'s database."""
    e, a, m = (KINDS[k].alias(f"log_{k}") for k in ("event", "access", "admin"))
    l_ = ENTRIES

    def row_of(kind: str, table):
        # The key is NULL unless the entry is of this kind: SQLite then skips the lookup
        # (with `kind = ... AND id = row_id` it looked the row up in all three tables).
        return table.c.id == case((l_.c.kind == kind, l_.c.row_id))

    row_hash = func.coalesce(e.c.hash, a.c.hash, m.c.hash)
    row_case = func.coalesce(e.c.case_id, a.c.case_id)
    if compact:
        # merkle.entry_hash's message, made by the database (cheaper than in Python), only
        # for an entry whose row exists in the entry's case (else NULL)
        made: Any
        if dialect == "sqlite":  # one printf costs SQLite less than casts and concatenations
            made = cast(func.printf("%s\n%s\n%s\n%s\n%s", l_.c.idx, l_.c.kind, l_.c.row_id,
                                    func.ifnull(l_.c.case_id, ""), row_hash), LargeBinary)
        else:
            made = func.convert_to(
                cast(l_.c.idx, String) + "\n" + l_.c.kind + "\n" + cast(l_.c.row_id, String)
                + "\n" + func.coalesce(cast(l_.c.case_id, String), "") + "\n" + row_hash, "UTF8")
        message = case((and_(row_hash.is_not(None), row_case.is_not_distinct_from(l_.c.case_id)),
                        made))
        columns = [l_.c.idx, message, l_.c.entry_hash]
    else:
        # the texts read as StoredText: bytes that are no UTF-8 there (SQLite keeps them) are a
        # hash or kind that does not match, never a failed pass over the log (issue 11)
        columns = [l_.c.idx, type_coerce(l_.c.kind, StoredText()).label("kind"), l_.c.row_id,
                   l_.c.case_id, type_coerce(l_.c.entry_hash, StoredText()).label("entry_hash"),
                   type_coerce(row_hash, StoredText()).label("row_hash"), row_case.label("row_case")]
    query = (
        select(*columns)
        .select_from(
            l_.outerjoin(e, row_of("event", e))
            .outerjoin(a, row_of("access", a))
            .outerjoin(m, row_of("admin", m)))
        .order_by(l_.c.idx)
    )
    if case_id is not None:
        query = query.where(l_.c.case_id == case_id)
    if lo is not None:
        query = query.where(l_.c.idx >= lo)
    if hi is not None:
        query = query.where(l_.c.idx < hi)
    return query


CHUNK_BITS = 15  # 32,768 entries a range: work enough per process, few results to send back,
# and the last range one process is left with at the end short
# Below this many ranges the log is checked in one process (forking costs more).
PARALLEL_CHUNKS = 2


@dataclass
class Scanned:
    """What a pass over entries found, in log order: the rows (as read: idx, kind, row_id,
    case_id, entry_hash, row_hash, row_case) that are not plainly sound (their row gone or
    moved, or their keyed hash not that of the row), the gaps in the indexes, each as
    (first missing, last missing), and each entry at a negative index as (index,), out of the
    tree (missing_or_misplaced says these two in Dutch); the tree over the leaves, and the
    compact range of the tree at each size asked for (relative to the first entry of the
    pass)."""

    tree: Tree = field(default_factory=Tree)
    odd: list[tuple] = field(default_factory=list)
    frontiers: dict[int, list[bytes]] = field(default_factory=dict)


def scan(conn: Connection, wants: list[int], lo: int = 0, hi: int | None = None) -> Scanned:
    """Check the entries lo <= idx < hi (hi None: to the end) in `conn`'s transaction: a
    batch whose indexes follow on, whose rows all exist in their case and whose keyed hashes
    all equal the stored ones is compared in one go; any other batch is read again in full
    and judged row by row (Scanned.odd). wants: tree sizes (counted from index `lo`) at
    which the compact range is kept. Raises what the driver raises."""
    inner, outer = hmac_states(settings.history_key())
    inner_copy, outer_copy = inner.copy, outer.copy
    found = Scanned()
    tree, odd = found.tree, found.odd
    expected = lo
    query = log_query(lo=lo or None, hi=hi, compact=True, dialect=conn.dialect.name)
    for rows in batches(conn, query):
        digests: list[bytes] = []
        add = digests.append
        first, last = rows[0][0], rows[-1][0]
        try:
            for _idx, message, _entry in rows:
                h = inner_copy()
                h.update(message)  # TypeError for None: the row is gone or moved
                o = outer_copy()
                o.update(h.digest())
                add(o.digest())
            sound = (first == expected and last == expected + len(rows) - 1
                     and b"".join(digests).hex() == "".join([row[2] for row in rows]))
        except TypeError:  # a message or entry hash that is None
            sound = False
        if not sound:
            full = conn.execute(log_query(lo=first, hi=last + 1)).all()
            digests = _odd_rows(full, odd, expected, inner, outer)
        expected = last + 1
        _grow(tree, digests, wants, found.frontiers)
    return found


def _odd_rows(rows, odd: list[tuple], expected: int, inner, outer) -> list[bytes]:
    """The leaves of a batch that is not plainly sound (its rows as log_query gives them),
    its odd rows and gaps (its first index expected `expected`) added to `odd`."""
    leaves = []
    for row in rows:
        idx, kind, row_id, case_id, entry, row_hash, row_case = row
        if idx < expected:  # rows come in index order: only a negative index, no place at all
            odd.append((idx,))
            continue
        if idx != expected:
            odd.append((expected, idx - 1))
        expected = idx + 1
        h = inner.copy()
        h.update(f"{idx}\n{kind}\n{row_id}\n{'' if case_id is None else case_id}\n"
                 f"{row_hash}".encode())
        o = outer.copy()
        o.update(h.digest())
        digest = o.digest()
        if row_hash is not None and row_case == case_id and digest.hex() == entry:
            leaves.append(digest)
        else:
            odd.append(tuple(row))
            leaves.append(leaf_of(entry))
    return leaves


def _grow(tree: Tree, leaves: list[bytes], wants: list[int],
          frontiers: dict[int, list[bytes]]) -> None:
    """Add `leaves` to `tree`, keeping in `frontiers` its compact range at each size of
    `wants` on the way."""
    for want in wants:
        if tree.size <= want <= tree.size + len(leaves):
            cut = want - tree.size
            tree.extend(leaves[:cut])
            frontiers[want] = tree.frontier()
            leaves = leaves[cut:]
    tree.extend(leaves)


def whole_log(conn: Connection, url: str | None, wants: list[int], jobs: int,
              meanwhile: Callable[[], object] | None = None,
              ) -> tuple[Tree, list[tuple], dict[int, str]]:
    """The pass over the whole log that verify and checkpoint make: in ranges side by side
    (scan_parallel, `meanwhile` called once they run) for a log of several ranges from index
    0 and jobs > 1, else in one pass in `conn`'s transaction (also when a range lacks entries:
    that pass names the gap). Out: the tree over all entries, the odd rows and gaps (as scan
    gives them) in log order, and the root at each size of `wants` the log reaches."""
    size = dense_size(conn)
    if jobs > 1 and size is not None and size >= PARALLEL_CHUNKS << CHUNK_BITS:
        scanned = scan_parallel(url, size, wants, jobs, meanwhile=meanwhile)
        if scanned is not None:
            return scanned
    found = scan(conn, wants)
    return found.tree, found.odd, {want: Tree.resume(want, at).root()
                                   for want, at in found.frontiers.items()}


def dense_size(conn: Connection) -> int | None:
    """The highest index + 1 when the lowest is 0 (0 for an empty log), else None: what the
    log's size is when no entry is missing, read from the ends of the primary key only.
    Whether entries are missing in between is for scan_parallel to find (a range short of
    its width), not for a count over the whole log here."""
    # two subqueries: SQLite reads min or max from the index's end only for a query that
    # asks for one of them alone, and went through the whole log for both together
    low, high = conn.execute(select(select(func.min(ENTRIES.c.idx)).scalar_subquery(),
                                    select(func.max(ENTRIES.c.idx)).scalar_subquery())).one()
    if low is None:
        return 0
    return high + 1 if low == 0 else None


def scan_parallel(url: str | None, size: int, wants: list[int], jobs: int,
                  meanwhile: Callable[[], object] | None = None,
                  ) -> tuple[Tree, list[tuple], dict[int, str]] | None:
    """Check entries 0 .. size-1 in aligned ranges, in `jobs` forked processes (at background
    priority, as verify's); `meanwhile` is called in this process once they run. Out: the
    tree over all, the odd rows (as scan gives them) in order, and the root at each size of
    `wants`; None when a range holds fewer entries than its width (entries are missing:
    the caller then judges the log in one pass, which names the gap)."""
    width = 1 << CHUNK_BITS
    ranges = [(lo, min(size, lo + width)) for lo in range(0, size, width)]
    tasks = [(url, lo, hi, [w - lo for w in wants if lo <= w <= hi])
             for lo, hi in ranges]
    tree, odd, roots = Tree(), [], {}
    with process_pool(jobs) as pool:
        futures = [pool.submit(_scan_range, task) for task in tasks]
        if meanwhile is not None:
            meanwhile()
        for (lo, hi), future in zip(ranges, futures, strict=True):
            frontier, part_size, part_odd, part_frontiers = future.result()
            if part_size != hi - lo:
                for rest in futures:
                    rest.cancel()
                return None
            for rel, at in part_frontiers.items():
                partial = Tree.resume(tree.size, tree.frontier())
                partial.join(at, rel)
                roots[lo + rel] = partial.root()
            tree.join(frontier, part_size)
            odd.extend(part_odd)
    return tree, odd, roots


def _scan_range(task) -> tuple[list[bytes], int, list[tuple], dict[int, list[bytes]]]:
    url, lo, hi, wants = task
    with snapshot(url) as conn:
        found = scan(conn, wants, lo, hi)
    return found.tree.frontier(), found.tree.size, found.odd, found.frontiers


def missing_or_misplaced(item: tuple) -> Message:
    """What an odd item of a pass that is no row says, in Dutch (verify's words for it): a gap
    (first, last) as the positions missing, one or several, or an entry at a negative index
    (index,), which is no position in the log (RFC 9162 counts leaves from 0)."""
    if len(item) == 1:
        return Message(N_("een logboekregel (tabel log_entries) staat op positie {position}: "
                          "een negatieve positie is geen plaats in het logboek (buiten de "
                          "applicatie gewijzigd)"), position=item[0])
    if item[0] == item[1]:
        return Message(N_("positie {position} ontbreekt (regel uit het logboek verwijderd)"),
                       position=item[0])
    return Message(N_("de posities {first} tot en met {last} ontbreken (regels uit het "
                      "logboek verwijderd)"), first=item[0], last=item[1])
