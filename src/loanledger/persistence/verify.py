"""Recompute every loan's hash chain from the stored bytes and name the first break.

The verifier reads the notification log directly (never through the writer's caches) so that it
judges exactly what is stored. A break is reported, never raised: unreadable bytes, an altered
body or link, a missing version and versions out of order are all facts about the store that an
auditor needs named, with the loan, the 1-based version and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from loanledger.persistence.chain import GENESIS_LINK, MalformedSealError, compute_link, unseal

VERIFY_PAGE_SIZE = 1000
"""Notifications read per query: bounds memory while keeping round trips few."""


@dataclass(frozen=True)
class ChainBreak:
    """The first stored event of a loan whose bytes or chain link do not check out."""

    loan_id: str
    version: int
    reason: str
    detail: str = ""
    """More about the break (a checkpoint break's `reason` is one word: `missing`, `altered`,
    `reordered` or `inserted`; `detail` then says what the tree showed)."""

    def __str__(self) -> str:
        text = f"loan {self.loan_id} version {self.version}: {self.reason}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(frozen=True)
class VerifyResult:
    """What `LoanLedger.verify()` found: `first_break` is None exactly when `ok`."""

    ok: bool
    loans_checked: int
    events_checked: int
    first_break: ChainBreak | None
    snapshots_checked: int = 0
    """Loan snapshots rebuilt from the events and compared (`persistence.snapshots`); a
    snapshot that differs is a `first_break` at the snapshot's version."""
    checkpoints_checked: int = 0
    """Checkpoints the events were held against (`persistence.transparency`): the stored ones,
    and the one given as `against`."""

    def __str__(self) -> str:
        if self.ok:
            return f"ok: {self.loans_checked} loans, {self.events_checked} events verified"
        return (
            f"BROKEN: {self.first_break} "
            f"({self.loans_checked} loans, {self.events_checked} events checked)"
        )


@dataclass
class _LoanChain:
    loan_id: str
    version: int = 0
    link: str = GENESIS_LINK
    broken: bool = False


def read_notifications(
    select: Callable[[int, int], Sequence[Notification]], page_size: int = VERIFY_PAGE_SIZE
) -> Iterator[Notification]:
    """Every notification in log order, a bounded page at a time."""
    start = 1
    while True:
        page = select(start, page_size)
        yield from page
        if len(page) < page_size:
            return
        start = page[-1].id + 1


def verify_chains(notifications: Iterator[StoredEvent]) -> VerifyResult:
    """Walk stored events in log order once, keeping only each loan's last version and link
    (the notification log for the whole store, or one loan's events for its archive)."""
    walk = ChainWalk()
    for notification in notifications:
        walk.add(notification)
    return walk.result()


class ChainWalk:
    """`verify_chains` one stored event at a time, so that a caller may walk some loans' events
    and know which event was the first break (a partitioned verify merges walks by it)."""

    def __init__(self) -> None:
        self.chains: dict[UUID | str, _LoanChain] = {}
        self.events_checked = 0
        self.first_break: tuple[UUID | str, int, str] | None = None

    def add(self, notification: StoredEvent) -> bool:
        """Check the next stored event (of the walked loans, in log order); True when it is the
        first break found."""
        self.events_checked += 1
        originator_id = chain_key(notification.originator_id)
        chain = self.chains.get(originator_id)
        if chain is None:
            chain = self.chains[originator_id] = _LoanChain(loan_id=loan_id_of(notification))
        elif chain.loan_id == str(originator_id):
            # The first event was unreadable: learn the journal's loan id from a later one.
            chain.loan_id = loan_id_of(notification)
        if chain.broken:
            return False
        if isinstance(originator_id, UUID):
            reason = _check(chain, originator_id, notification)
        else:
            reason = f"unreadable stored row: {originator_id}"
        if reason is None:
            return False
        chain.broken = True
        if self.first_break is not None:
            return False
        self.first_break = (originator_id, chain.version + 1, reason)
        return True

    def result(self) -> VerifyResult:
        first_break = self.first_break
        return VerifyResult(
            ok=first_break is None,
            loans_checked=len(self.chains),
            events_checked=self.events_checked,
            first_break=None
            if first_break is None
            else ChainBreak(self.chains[first_break[0]].loan_id, first_break[1], first_break[2]),
        )


def _check(chain: _LoanChain, originator_id: UUID, notification: StoredEvent) -> str | None:
    version = notification.originator_version
    expected = chain.version + 1
    if not (
        type(version) is int
        and type(notification.topic) is str
        and type(notification.state) is bytes
    ):
        for column, value, kind in (
            ("originator_version", version, int),
            ("topic", notification.topic, str),
            ("state", notification.state, bytes),
        ):
            if type(value) is not kind:
                return (
                    f"unreadable stored row: {column} is stored as {type(value).__name__}, "
                    f"not {kind.__name__}"
                )
    if version != expected:
        if version > expected:
            return f"version {expected} is missing (next stored version is {version})"
        return f"versions out of order (version {version} stored after {chain.version})"
    try:
        stored_link, body = unseal(notification.state)
    except MalformedSealError as error:
        return f"unreadable stored bytes: {error}"
    computed = compute_link(chain.link, originator_id, version, notification.topic, body)
    if computed != stored_link:
        return "stored bytes do not match their chain link (altered event or altered link)"
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return "unreadable stored bytes: the body is not JSON"
    chain.version = version
    chain.link = stored_link
    return None


def loan_id_of(notification: StoredEvent) -> str:
    """The journal's loan id stored in the event body, else the aggregate UUID (else a
    description of the unreadable originator id)."""
    try:
        _, body = unseal(notification.state)
        loan_id = json.loads(body).get("loan_id")
    except (MalformedSealError, ValueError, AttributeError, TypeError, RecursionError):
        loan_id = None
    return loan_id if isinstance(loan_id, str) else str(chain_key(notification.originator_id))


def chain_key(value: object) -> UUID | str:
    """The loan's UUID, or (for a tampered row) a string that names the unreadable value."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value)) if isinstance(value, str) else UUID(bytes=value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return f"originator_id {value!r} is not a UUID"
