"""The transparency log: an RFC 9162 Merkle tree over every stored event, its checkpoints and
the proofs an auditor checks with `loanledger.proof` alone.

Leaf `i` is the `i`-th stored event in notification-id order (gaps in the ids skipped), and its
leaf bytes are the event's bytes exactly as stored (chain link + body), so a proof needs no
decoding and personal data stays encrypted in it. The tree is derived data: `catch_up` appends
the events recorded since it last ran, reading only them and the O(log N) frontier nodes, and
keeps every complete node (`loanledger_merkle_nodes`) so that any proof reads O(log N) stored
nodes instead of rehashing the book. A checkpoint (`loanledger_checkpoints`) is the tree's size
and root at a moment, Ed25519-signed when `LOANLEDGER_SIGNING_KEY` is set.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from loanledger.domain.errors import InvalidCheckpointError
from loanledger.persistence.checkpoints import SigningKey, load_checkpoint
from loanledger.persistence.merkle import (
    Frontier,
    Subtree,
    consistency_path,
    inclusion_path,
    subtree_from_nodes,
)
from loanledger.persistence.pages import PageReader
from loanledger.persistence.verify import loan_id_of
from loanledger.projection.sql import statements
from loanledger.projection.store import ReadStore
from loanledger.proof import (
    CONSISTENCY_KIND,
    INCLUSION_KIND,
    check_signature,
    leaf_hash,
)

CATCH_UP_PAGE = 5000
"""Events read and appended per transaction."""

NODES_PER_QUERY = 500
"""Stored nodes a proof reads per query."""

_NOT_BYTES = b"\xff"
"""Leaf bytes of a stored value that is not bytes start with this (no stored event does)."""


def leaf_bytes(state: object) -> bytes:
    """The leaf bytes of one stored `state` value: the bytes themselves; a value of another type
    (a tampered row) gets bytes that differ from any stored event's, so its leaf never matches."""
    if isinstance(state, bytes):
        return state
    if isinstance(state, bytearray | memoryview):
        return bytes(state)
    return _NOT_BYTES + f"{type(state).__name__}:{state!r}".encode("utf-8", "backslashreplace")


def event_leaf(state: object) -> bytes:
    return leaf_hash(leaf_bytes(state))


class TransparencyLog:
    """The Merkle tree of a ledger's events, kept in the read store beside the read models."""

    def __init__(
        self,
        store: ReadStore,
        select: PageReader,
        clock: Callable[[], datetime],
        *,
        signing_key: str | None = None,
        create_tables: bool = True,
    ) -> None:
        self.store = store
        self._select = select
        self._clock = clock
        self._signing_key = SigningKey(signing_key) if signing_key else None
        self.sql = statements("transparency", store.dialect)
        self._lock = threading.Lock()
        if create_tables:
            with store.transaction() as txn:
                for name in ("create_leaves", "create_leaves_index", "create_nodes"):
                    txn.execute(self.sql[name])
                txn.execute(self.sql["create_checkpoints"])

    # --- the tree ---------------------------------------------------------------------------

    def catch_up(self) -> Frontier:
        """Append every event stored since the last catch-up; return the tree's frontier."""
        with self._lock:
            rows = self.store.query(self.sql["size"])
            size, last_id = (int(rows[0][0]) + 1, int(rows[0][1])) if rows else (0, 0)
            frontier = Frontier(
                size, [self._node(level, index) for level, index in Frontier.positions(size)]
            )
            start = last_id + 1
            with self._select.session():
                while True:
                    page = self._select(start, CATCH_UP_PAGE)
                    if not page:
                        break
                    self._append(frontier, page)
                    start = page[-1].id + 1
                    if len(page) < CATCH_UP_PAGE:
                        break
            return frontier

    def _append(self, frontier: Frontier, page: Iterable[Notification]) -> None:
        leaves: list[tuple[Any, ...]] = []
        nodes: list[tuple[int, int, str]] = []
        for item in page:
            made = frontier.append(event_leaf(item.state))
            _, position, leaf = made[0]
            version = item.originator_version
            leaves.append(
                (
                    position,
                    item.id,
                    str(item.originator_id),
                    version if isinstance(version, int) else -1,
                    leaf.hex(),
                    _storable(loan_id_of(item)) if version == 1 else None,
                )
            )
            nodes.extend((level, index, node.hex()) for level, index, node in made[1:])
        with self.store.transaction() as txn:
            txn.executemany(self.sql["insert_leaf"], leaves)
            if nodes:
                txn.executemany(self.sql["insert_node"], nodes)

    def _node(self, level: int, index: int) -> bytes:
        if level == 0:
            rows = self.store.query(self.sql["leaf"], (index,))
        else:
            rows = self.store.query(self.sql["node"], (level, index))
        if not rows:
            raise InvalidCheckpointError(
                f"the stored Merkle log lacks node {index} of level {level}; it is derived "
                "data: delete loanledger_merkle_leaves and loanledger_merkle_nodes to rebuild it"
            )
        return bytes.fromhex(rows[0][0])

    def subtree(self, ranges: Callable[[Subtree], object]) -> Subtree:
        """A `subtree` function for the proofs that `ranges` computes, with every stored node
        they need read first (a dry run records which) and then served from memory."""
        wanted: set[tuple[int, int]] = set()

        def record(level: int, index: int) -> bytes:
            wanted.add((level, index))
            return bytes(32)

        ranges(subtree_from_nodes(record))
        found = self._nodes(wanted)
        return subtree_from_nodes(lambda level, index: found[(level, index)])

    def _nodes(self, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored nodes at `wanted` (level, index): the leaves in one query and the inner
        nodes in another (NODES_PER_QUERY at a time), in one transaction, so that a proof on
        PostgreSQL costs a few round trips, not one a node."""
        leaves = sorted(index for level, index in wanted if level == 0)
        inner = sorted((level, index) for level, index in wanted if level)
        found: dict[tuple[int, int], bytes] = {}
        with self.store.transaction() as txn:
            for start in range(0, len(leaves), NODES_PER_QUERY):
                chunk = leaves[start : start + NODES_PER_QUERY]
                statement = (
                    "SELECT position, leaf FROM loanledger_merkle_leaves "
                    f"WHERE position IN ({', '.join('?' * len(chunk))})"
                )
                for index, text in txn.execute(statement, chunk):
                    found[(0, int(index))] = bytes.fromhex(text)
            # PostgreSQL finds row values in the primary key; SQLite scans the table for them,
            # so there each level is its own query (in-process: no round trip).
            per_level = self.store.dialect == "sqlite"
            groups = (
                [
                    [pair for pair in inner if pair[0] == level]
                    for level in sorted({depth for depth, _ in inner})
                ]
                if per_level
                else [inner]
            )
            for group in groups:
                for start in range(0, len(group), NODES_PER_QUERY):
                    pairs = group[start : start + NODES_PER_QUERY]
                    if per_level:
                        statement = (
                            "SELECT level, position, hash FROM loanledger_merkle_nodes WHERE "
                            f"level = ? AND position IN ({', '.join('?' * len(pairs))})"
                        )
                        params = [pairs[0][0], *(index for _, index in pairs)]
                    else:
                        statement = (
                            "SELECT level, position, hash FROM loanledger_merkle_nodes WHERE "
                            f"(level, position) IN ({', '.join(['(?, ?)'] * len(pairs))})"
                        )
                        params = [value for pair in pairs for value in pair]
                    for level, index, text in txn.execute(statement, params):
                        found[(int(level), int(index))] = bytes.fromhex(text)
        missing = wanted - found.keys()
        if missing:
            level, index = min(missing)
            self._node(level, index)  # raises, naming the node
        return found

    def root(self, size: int) -> bytes:
        """The stored tree's root at `size` leaves (`size` at most the caught-up size)."""
        if size == 0:
            return Frontier().root()
        return self.subtree(lambda subtree: subtree(0, size))(0, size)

    def loan_of(self, originator_id: str) -> str | None:
        """The journal loan id of a loan the tree holds (even if its events were deleted)."""
        rows = self.store.query(self.sql["loan_of"], (originator_id,))
        return rows[0][0] if rows and rows[0][0] else None

    def size(self) -> int:
        rows = self.store.query(self.sql["size"])
        return int(rows[0][0]) + 1 if rows else 0

    def reference_range(self, start: int, end: int) -> list[tuple[str, int, bytes]]:
        """The stored leaves [start, end) as (originator id, version, leaf hash)."""
        found = []
        for _, originator_id, version, leaf in self.store.query(self.sql["leaves"], (start, end)):
            try:
                found.append((str(originator_id), int(version), bytes.fromhex(leaf)))
            except (TypeError, ValueError):
                found.append((str(originator_id), -1, b""))
        return found

    # --- checkpoints ----------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """Catch up, then record and return the tree's size and root, signed if a key is set.
        A second checkpoint of the same size returns the first."""
        frontier = self.catch_up()
        checkpoint: dict[str, Any] = {
            "tree_size": frontier.size,
            "root": frontier.root().hex(),
            "recorded_at": self._clock().astimezone(UTC).isoformat(),
        }
        if self._signing_key is not None:
            checkpoint = self._signing_key.sign(checkpoint)
        with self.store.transaction() as txn:
            txn.execute(
                self.sql["insert_checkpoint"],
                (
                    checkpoint["tree_size"],
                    checkpoint["root"],
                    checkpoint["recorded_at"],
                    checkpoint.get("signature"),
                    checkpoint.get("key_id"),
                    checkpoint.get("public_key"),
                ),
            )
            stored = txn.execute(self.sql["checkpoint"], (checkpoint["tree_size"],))
        return _checkpoint_of(stored[0])

    def checkpoints(self) -> list[dict[str, Any]]:
        """Every stored checkpoint, smallest tree first."""
        return [_checkpoint_of(row) for row in self.store.query(self.sql["checkpoints"])]

    def latest(self) -> dict[str, Any] | None:
        rows = self.store.query(self.sql["latest_checkpoint"])
        return _checkpoint_of(rows[0]) if rows else None

    # --- proofs -----------------------------------------------------------------------------

    def prove(
        self,
        loan_id: str,
        originator_id: UUID,
        stored: Iterable[StoredEvent],
        checkpoint: Mapping[str, Any] | str | Path | None,
    ) -> dict[str, Any]:
        """The inclusion proof of every event of the loan the checkpoint's tree holds."""
        head = self._head(checkpoint)
        size = head["tree_size"]
        positions = self.store.query(self.sql["loan_leaves"], (str(originator_id), size))
        if not positions:
            raise InvalidCheckpointError(
                f"loan {loan_id} has no event in the tree of {size} events"
            )
        by_version = {item.originator_version: item for item in stored}
        subtree = self.subtree(
            lambda subtree: (
                subtree(0, size),
                [inclusion_path(int(p), size, subtree) for p, _ in positions],
            )
        )
        events = []
        for position, version in positions:
            item = by_version.get(int(version))
            state = leaf_bytes(item.state) if item is not None else b""
            events.append(
                {
                    "version": int(version),
                    "topic": item.topic if item is not None else "",
                    "state": base64.b64encode(state).decode("ascii"),
                    "leaf_index": int(position),
                    "path": [node.hex() for node in inclusion_path(int(position), size, subtree)],
                }
            )
        return {
            "kind": INCLUSION_KIND,
            "loan_id": loan_id,
            "originator_id": str(originator_id),
            "tree_size": size,
            "root": subtree(0, size).hex() if size else Frontier().root().hex(),
            "events": events,
        }

    def prove_consistency(
        self, old: Mapping[str, Any] | str | Path, new: Mapping[str, Any] | str | Path
    ) -> dict[str, Any]:
        """The RFC 9162 consistency proof that the `new` checkpoint's tree extends `old`'s."""
        old_head, new_head = self._head(old), self._head(new)
        old_size, new_size = old_head["tree_size"], new_head["tree_size"]
        if old_size > new_size:
            raise InvalidCheckpointError(
                f"the old checkpoint's tree ({old_size} events) is larger than the new one's "
                f"({new_size})"
            )
        subtree = self.subtree(lambda subtree: consistency_path(old_size, new_size, subtree))
        return {
            "kind": CONSISTENCY_KIND,
            "old_size": old_size,
            "new_size": new_size,
            "old_root": old_head["root"],
            "new_root": new_head["root"],
            "path": [node.hex() for node in consistency_path(old_size, new_size, subtree)],
        }

    def _head(self, checkpoint: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
        """The checkpoint a proof is made for, with the stored tree at least that large: the
        tree is caught up (a write) only when it is not, so an auditor's read-only role proves
        against every stored checkpoint."""
        if checkpoint is None:
            return self.latest() or self.checkpoint()
        head = load_checkpoint(checkpoint)
        caught_up = self.size()
        if head["tree_size"] > caught_up:
            caught_up = self.catch_up().size
        if head["tree_size"] > caught_up:
            raise InvalidCheckpointError(
                f"the checkpoint's tree has {head['tree_size']} events; this book has {caught_up}"
            )
        if not check_signature(head):
            raise InvalidCheckpointError("the checkpoint's signature does not verify")
        return head


def inclusion_status(
    log: TransparencyLog, loan_id: str, originator_id: UUID, stored: Iterable[StoredEvent]
) -> dict[str, Any] | None:
    """For a loan's archive: do its stored events prove into the latest stored checkpoint?
    None when no checkpoint was ever recorded."""
    from loanledger.proof import check_inclusion

    latest = log.latest()
    if latest is None:
        return None
    status = {key: latest[key] for key in ("tree_size", "root", "recorded_at")}
    try:
        proof = log.prove(loan_id, originator_id, stored, latest)
    except InvalidCheckpointError as error:
        return {**status, "included": False, "events_proven": 0, "reason": str(error)}
    included = check_inclusion(proof, latest)
    return {
        **status,
        "included": included,
        "events_proven": len(proof["events"]) if included else 0,
        "reason": None if included else "the loan's stored events do not prove into the root",
    }


def _checkpoint_of(row: tuple[Any, ...]) -> dict[str, Any]:
    tree_size, root, recorded_at, signature, key_id, public_key = row
    checkpoint: dict[str, Any] = {
        "tree_size": int(tree_size),
        "root": root,
        "recorded_at": recorded_at,
    }
    if signature is not None:
        checkpoint.update(signature=signature, key_id=key_id, public_key=public_key)
    return checkpoint


def _storable(text: str) -> str:
    """A loan id as every store's text column can hold it: one recorded before identifiers were
    checked may hold a NUL or a lone surrogate, which PostgreSQL refuses; those are written as
    escapes (`L-\\x00x`), so the log still names the loan and never stops at it."""
    if "\x00" not in text:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    return text.encode("unicode_escape").decode("ascii")
