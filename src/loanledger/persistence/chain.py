"""The per-loan hash chain that lets an auditor prove stored history was not altered.

Every stored event's bytes start with a 64-character hex SHA-256 link, followed by the event body:

    link_n = SHA-256(link_{n-1} | originator_id | version | topic | body_n)

with `link_0` a fixed genesis value. The link covers the position (originator id and version) and
the topic as well as the body, so swapping two events, moving one to another loan or renaming its
type breaks the chain, not only editing its bytes. The link is stored inside the event's own bytes
rather than in a separate column so that the chain works unchanged with every eventsourcing
recorder (memory, SQLite, PostgreSQL) and with a DBA-managed schema. Like Formance's log, each
entry hashes the previous hash plus its own canonical fields in a fixed order.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from threading import Lock
from uuid import UUID

from loanledger.proof import GENESIS_LINK as PROOF_GENESIS_LINK
from loanledger.proof import HASH_HEX_LENGTH

# The chain's shape is the auditor's (`loanledger.proof` checks chains with no other loanledger
# module): the writer takes its constants from there, so the two can never disagree.
LINK_LENGTH = HASH_HEX_LENGTH
"""Hex characters in a link (SHA-256)."""

GENESIS_LINK = PROOF_GENESIS_LINK
"""The link before a loan's first event."""

HEX_DIGITS = b"0123456789abcdef"
"""What a link is written with (lower-case hex)."""


class MalformedSealError(ValueError):
    """Stored bytes do not start with a readable chain link."""


def compute_link(
    previous_link: str, originator_id: UUID, version: int, topic: str, body: bytes
) -> str:
    """Return the link of one event from its predecessor's link and its own canonical fields."""
    # One update of the joined fields: the same bytes hashed, with a fifth of the calls (a
    # verify hashes every event of the book).
    head = f"{previous_link}|{originator_id.hex}|{version}|{topic}|".encode()
    return hashlib.sha256(head + body).hexdigest()


def seal(link: str, body: bytes) -> bytes:
    """Prefix an event body with its link; the result is what the recorder stores."""
    return link.encode("ascii") + body


def unseal(state: bytes) -> tuple[str, bytes]:
    """Split stored bytes into (link, body); refuse bytes whose prefix is not a hex link."""
    prefix = state[:LINK_LENGTH]
    if len(prefix) != LINK_LENGTH or prefix.translate(None, HEX_DIGITS):
        raise MalformedSealError("stored bytes do not start with a 64-character hex chain link")
    return prefix.decode("ascii"), state[LINK_LENGTH:]


class ChainHeads:
    """Remembers the last known link of recently touched loans, so that appending usually needs
    no extra read. Bounded (LRU) because a large book must not grow the writer's memory; a miss
    costs one indexed read of the loan's last stored event.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._heads: OrderedDict[UUID, tuple[int, str]] = OrderedDict()
        self._lock = Lock()

    def get(self, originator_id: UUID, version: int) -> str | None:
        """The link at exactly `version`, if remembered."""
        with self._lock:
            head = self._heads.get(originator_id)
            if head is None or head[0] != version:
                return None
            self._heads.move_to_end(originator_id)
            return head[1]

    def observe(self, originator_id: UUID, version: int, link: str) -> None:
        """Remember a link read from or written to the store; older versions never replace newer."""
        with self._lock:
            self._keep(originator_id, version, link)
            self._trim()

    def observe_many(self, heads: Mapping[UUID, tuple[int, str]]) -> None:
        """`observe` each loan's (version, link), under one lock."""
        with self._lock:
            for originator_id, (version, link) in heads.items():
                self._keep(originator_id, version, link)
            self._trim()

    def _keep(self, originator_id: UUID, version: int, link: str) -> None:
        # Caller holds the lock. The newest version wins: a slow reader's older link never
        # replaces the head a writer has just sealed.
        head = self._heads.get(originator_id)
        if head is not None and head[0] > version:
            return
        self._heads[originator_id] = (version, link)
        self._heads.move_to_end(originator_id)

    def _trim(self) -> None:
        # Caller holds the lock: forget the least recently used heads beyond the capacity.
        while len(self._heads) > self._capacity:
            self._heads.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._heads.clear()
