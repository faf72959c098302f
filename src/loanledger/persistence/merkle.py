"""Building the RFC 9162 Merkle tree incrementally, and the proofs the auditor's checker reads.

The hashing itself is `loanledger.proof`'s (the auditor's module), so the tree built here is by
construction the one the checker recomputes. Here live the writer's halves:

- `Frontier`: the roots of the perfect subtrees of the tree so far (at most one per bit of the
  size). Appending a leaf merges equal-height subtrees, so n appends cost O(n) hashes amortised
  and each returns the new complete nodes, which the store keeps; the root is O(log N).
- `inclusion_path` and `consistency_path`: RFC 9162 §2.1.3.1 PATH and §2.1.4.1 PROOF, over a
  `subtree` function that returns the hash of any range of leaves. A range that is a complete,
  aligned subtree is one stored node; any other is split at the largest power of two, so a path
  reads O(log² N) stored nodes at worst and usually O(log N).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from hashlib import sha256

from loanledger.proof import leaf_hash, node_hash

EMPTY_ROOT = sha256(b"").digest()
"""The root of the empty tree (RFC 9162: the hash of the empty string)."""

Node = tuple[int, int, bytes]
"""(level, index, hash): the complete subtree of 2**level leaves starting at leaf
index * 2**level."""


class Frontier:
    """The perfect subtrees along the right edge of the tree, highest first."""

    def __init__(self, size: int = 0, nodes: Iterable[bytes] = ()) -> None:
        self.size = size
        self._stack = list(nodes)
        if len(self._stack) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} frontier nodes")

    @staticmethod
    def positions(size: int) -> list[tuple[int, int]]:
        """(level, index) of the frontier nodes of a tree of `size` leaves, highest first."""
        found = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                found.append((level, start >> level))
                start += 1 << level
        return found

    def append(self, leaf: bytes) -> list[Node]:
        """Add a leaf hash; return the complete nodes it finished (the leaf itself first)."""
        index, level, node = self.size, 0, leaf
        made = [(0, index, leaf)]
        while index & 1:
            node = node_hash(self._stack.pop(), node)
            index >>= 1
            level += 1
            made.append((level, index, node))
        self._stack.append(node)
        self.size += 1
        return made

    def add(self, leaf: bytes) -> None:
        """`append` without reporting the nodes made (verify's hot loop)."""
        index, node, stack = self.size, leaf, self._stack
        while index & 1:
            node = node_hash(stack.pop(), node)
            index >>= 1
        stack.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        result = self._stack[-1]
        for node in reversed(self._stack[:-1]):
            result = node_hash(node, result)
        return result


def root_of(leaves: list[bytes]) -> bytes:
    """The root of a whole list of leaf hashes (RFC 9162 MTH), for tests and small trees."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def leaves_of(data: Iterable[bytes]) -> list[bytes]:
    return [leaf_hash(item) for item in data]


Subtree = Callable[[int, int], bytes]
"""subtree(start, end): the hash of leaves [start, end) (end > start)."""


def largest_power_below(n: int) -> int:
    """The largest power of two strictly below n (n >= 2): RFC 9162's split point."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_from_nodes(node: Callable[[int, int], bytes]) -> Subtree:
    """A `subtree` function over stored complete nodes: `node(level, index)`."""

    def subtree(start: int, end: int) -> bytes:
        width = end - start
        level = width.bit_length() - 1
        if width == 1 << level and start % width == 0:
            return node(level, start >> level)
        split = largest_power_below(width)
        return node_hash(subtree(start, start + split), subtree(start + split, end))

    return subtree


def inclusion_path(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """RFC 9162 PATH(index, D[0:size]), leaf to root."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        split = largest_power_below(end - start)
        if index < start + split:
            path.append(subtree(start + split, end))
            end = start + split
        else:
            path.append(subtree(start, start + split))
            start += split
    path.reverse()
    return path


def consistency_path(old_size: int, new_size: int, subtree: Subtree) -> list[bytes]:
    """RFC 9162 PROOF(old_size, D[0:new_size])."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"a tree of {new_size} leaves cannot extend one of {old_size}")
    if old_size in (0, new_size):
        return []
    return _subproof(old_size, 0, new_size, True, subtree)


def _subproof(m: int, start: int, end: int, whole: bool, subtree: Subtree) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if whole else [subtree(start, end)]
    k = largest_power_below(n)
    if m <= k:
        return [*_subproof(m, start, start + k, whole, subtree), subtree(start + k, end)]
    return [*_subproof(m - k, start + k, end, False, subtree), subtree(start, start + k)]
