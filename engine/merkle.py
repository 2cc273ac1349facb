"""The hashes of the log across all cases (RFC 9162 section 2.1.1): a leaf's input is its
entry hash, HMAC-SHA-256 with the history key over the leaf's index, kind, row id, case and
the row's own keyed hash (so without the key no entry can be made up, moved or renumbered);
leaf = SHA-256(0x00 || entry hash), node = SHA-256(0x01 || left || right), the tree of n
leaves split at the largest power of two below n. Pure functions, no database: the log
itself is engine/translog.py's."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from . import settings

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()  # RFC 9162: MTH({}) = HASH()


def entry_hash(idx: int, kind: str, row_id: int, case_id: int | None, row_hash: str,
               key: bytes | None = None) -> str:
    """The keyed hash of one log entry (the leaf's input)."""
    message = f"{idx}\n{kind}\n{row_id}\n{'' if case_id is None else case_id}\n{row_hash}"
    return hmac.digest(key or settings.history_key(), message.encode(), "sha256").hex()


_sha256 = hashlib.sha256
_LEAF, _NODE = _sha256(b"\x00"), _sha256(b"\x01")  # RFC 9162's prefixes, hashed once
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def hmac_states(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA-256 (RFC 2104) set up once for `key`: the inner and outer SHA-256 states with
    the key's pads already hashed. For a message m the HMAC is outer.copy() updated with
    (inner.copy() updated with m).digest(); hmac.digest sets the key up anew on every call,
    which over a million log entries costs more than the rest of the check. Checked against
    hmac.digest before use."""
    block = (_sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    inner, outer = _sha256(block.translate(_IPAD)), _sha256(block.translate(_OPAD))
    probe = b"meldcode\nprobe"
    i = inner.copy()
    i.update(probe)
    o = outer.copy()
    o.update(i.digest())
    if o.digest() != hmac.digest(key, probe, "sha256"):
        raise RuntimeError("HMAC-SHA-256 set up wrongly")
    return inner, outer


class Tree:
    """A Merkle tree (RFC 9162 section 2.1.1) built leaf by leaf (or a batch of leaves at a
    time), keeping only the roots of its perfect subtrees (a compact range): one pass, memory
    O(log n) beside the batch."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    @classmethod
    def resume(cls, size: int, frontier: list[bytes]) -> Tree:
        """The tree of `size` leaves from its compact range (what frontier() gave): the roots
        of its perfect subtrees, largest first. Raises ValueError when they do not fit."""
        if size < 0 or len(frontier) != size.bit_count() or any(len(h) != 32 for h in frontier):
            raise ValueError("compact range does not fit the tree size")
        tree = cls()
        tree.size, tree._stack = size, list(frontier)
        return tree

    def frontier(self) -> list[bytes]:
        """The roots of the tree's perfect subtrees, largest first (a compact range)."""
        return list(self._stack)

    def append(self, entry: bytes) -> None:
        self._push(_sha256(b"\x00" + entry).digest(), 0)

    def extend(self, entries: list[bytes]) -> None:
        """append() each of `entries`, in order: the same tree, but the leaves are hashed
        together and each aligned run of 2**k of them is reduced to its subtree's root level
        by level before it joins the compact range."""
        # Each hash is a copy of a SHA-256 state that has taken its prefix byte already:
        # OpenSSL 3 sets up a new hash object slower than it copies one (two hashes per log
        # entry: copies take about a fifth off the tree's time over 2.4M entries).
        leaf, node = _LEAF.copy, _NODE.copy
        leaves: list[bytes] = []
        add = leaves.append
        for entry in entries:
            h = leaf()
            h.update(entry)
            add(h.digest())
        pos, n = 0, len(leaves)
        while pos < n:
            height = (n - pos).bit_length() - 1
            if self.size:  # a subtree starts at a multiple of its own width
                height = min(height, (self.size & -self.size).bit_length() - 1)
            level = leaves[pos:pos + (1 << height)]
            pos += 1 << height
            while len(level) > 1:
                parents: list[bytes] = []
                add = parents.append
                for left, right in zip(level[0::2], level[1::2], strict=True):
                    h = node()
                    h.update(left + right)
                    add(h.digest())
                level = parents
            self._push(level[0], height)

    def join(self, frontier: list[bytes], size: int) -> None:
        """Append the leaves of another tree of `size` leaves, given by its compact range
        (frontier()), as if appended one by one: each of its perfect subtrees must start at
        a multiple of its width here (so this tree's size is a multiple of the largest)."""
        heights = [b for b in reversed(range(size.bit_length())) if size >> b & 1]
        if len(heights) != len(frontier) or (heights and self.size % (1 << heights[0])):
            raise ValueError("compact range does not fit here")
        for height, node in zip(heights, frontier, strict=True):
            self._push(node, height)

    def _push(self, h: bytes, height: int) -> None:
        """Add the root `h` of a perfect subtree of 2**height leaves; the tree's size must be
        a multiple of 2**height."""
        self.size += 1 << height
        n = self.size >> height
        stack = self._stack
        while not n & 1:  # as many merges as trailing zero bits of the new size
            h = _sha256(b"\x01" + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)

    def root(self) -> str:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = _sha256(b"\x01" + left + h).digest()
        return h.hex()


def root_of(entry_hashes: list[str]) -> str:
    """MTH over the given entry hashes (hex), RFC 9162 section 2.1.1."""
    tree = Tree()
    tree.extend([bytes.fromhex(entry) for entry in entry_hashes])
    return tree.root()


def sound_leaf(entry: Any) -> bytes | None:
    """The leaf input of a log entry as the sequencer writes it (entry_hash: HMAC-SHA256 as
    64 lowercase hex digits) as its 32 bytes; None for any other stored value (no hex, a NUL,
    other than ASCII, bytes that are no UTF-8, another length or case): an entry changed
    outside the application, which a checkpoint must not sign over (task U point 3)."""
    try:
        leaf = bytes.fromhex(entry)
    except (TypeError, ValueError):
        return None
    return leaf if len(leaf) == 32 and leaf.hex() == entry else None


def leaf_of(entry: Any) -> bytes:
    """The leaf input of a log entry: its stored hash (hex text) as bytes, or b"" when that
    is no hex (planted by hand, or bytes that are no UTF-8 read as U+FFFD): the root then
    differs from any checkpoint's and verify names the entry; never an error."""
    try:
        return bytes.fromhex(entry)
    except (TypeError, ValueError):
        return b""
