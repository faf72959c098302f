"""Recompute every loan's hash chain from the stored bytes and name the first break.

The verifier reads the notification log directly (never through the writer's caches) so that it
judges exactly what is stored. A break is reported, never raised: unreadable bytes, an altered
body or link, a missing version and versions out of order are all facts about the store that an
auditor needs named, with the loan, the 1-based version and the reason.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from pydantic_core import from_json

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
    unnamed: bool = False
    """`loan_id` is the key's text: the loan's first event named no loan (`ChainWalk`)."""


def read_notifications(
    select: Callable[[int, int], Sequence[Notification]],
    page_size: int = VERIFY_PAGE_SIZE,
    start: int = 1,
) -> Iterator[Notification]:
    """Every notification from position `start` on, in log order, a bounded page at a time."""
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
    with collector_paused():
        for notification in notifications:
            walk.add(notification)
    return walk.result()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a walk of the log, and on again after it (if
    it was on). A walk reads pages of 1,000 events whose objects live through several young
    collections and are promoted to the oldest generation, so every few dozen pages the
    collector walks the whole heap: 6 full collections in a verify of 332,100 events, 0.4 s of
    its 4.1 CPU-seconds, and 0.3 s of each range task's 2 in a Dask worker, whose heap is
    larger. The walk frees what it makes by reference counting (it makes no cycles); cycles
    other threads make meanwhile are collected when the collector is on again."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class ChainWalk:
    """`verify_chains` one stored event at a time, over the whole log or one loan's events
    (`RangeWalk` is its counterpart for one range of the log)."""

    def __init__(self) -> None:
        self.chains: dict[UUID | str, _LoanChain] = {}
        self.events_checked = 0
        self.first_break: tuple[UUID | str, int, str] | None = None

    def add(self, notification: StoredEvent) -> None:
        """Check the next stored event (of the walked loans, in log order)."""
        self.events_checked += 1
        originator_id = chain_key(notification.originator_id)
        chain = self.chains.get(originator_id)
        if chain is None:
            loan_id = loan_id_of(notification)
            chain = self.chains[originator_id] = _LoanChain(
                loan_id=loan_id, unnamed=loan_id == str(originator_id)
            )
        elif chain.unnamed:
            # The first event was unreadable: learn the journal's loan id from a later one.
            chain.loan_id = loan_id_of(notification)
            chain.unnamed = chain.loan_id == str(originator_id)
        if chain.broken:
            return
        if isinstance(originator_id, UUID):
            reason = _check(chain, originator_id, notification)
        else:
            reason = f"unreadable stored row: {originator_id}"
        if reason is None:
            return
        chain.broken = True
        if self.first_break is None:
            self.first_break = (originator_id, chain.version + 1, reason)

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


Break = tuple[int, "UUID | str", int, str]
"""A chain break found at a log position: (position, loan key, version, reason)."""


@dataclass(frozen=True)
class LoanInRange:
    """One loan's events in one range of the log, as `RangeWalk` found them."""

    position: int
    """The log position of the loan's first event in the range."""
    opening: Notification | None
    """That event as stored, when the walk could not check it (its version is not 1, or the
    loan's key is unreadable); None when it was checked from the genesis link (version 1)."""
    version: int
    link: str
    """The last version and link the walk reached (the opening's own stored ones taken on
    trust; frozen at a break)."""
    broken: bool
    """A break was found after the opening (or the opening is unreadable whatever came
    before it): the loan's later events are counted, not checked."""
    loan_id: str | None
    """The first journal loan id read from the loan's events in the range (`loan_id_of`);
    None when no event here names it."""


LINK_CHARS = 64
"""Characters of a link in `RangeVerdict.links` (a SHA-256 in hex, as every stored link is)."""


@dataclass(frozen=True)
class RangeVerdict:
    """One contiguous range of the log walked, sent back from a worker as a few flat columns
    rather than an object a loan: a range of 15,000 loans as `LoanInRange` objects pickled to
    2 MB (36 MB with openings, on a book whose every loan crosses the boundary) and the
    coordinator spent a quarter of a second of CPU taking the two ranges in after both tasks had
    returned; as columns it is a few strings and byte arrays that pickle as they are. The loans
    whose key is a UUID (every loan of an untampered book) are the columns' rows, in the order
    of their first event in the range; a loan whose key is unreadable is kept whole in `odd`.
    `loans` reads it all back as `LoanInRange`s."""

    events_checked: int
    first_break: Break | None
    """The lowest-position break the walk found after a loan's opening."""
    keys: bytes
    """Each loan's UUID, 16 bytes a loan."""
    positions: bytes
    """Each loan's `LoanInRange.position`, a machine array of signed 64-bit integers."""
    versions: bytes
    """Each loan's `LoanInRange.version`, likewise."""
    links: str
    """Each loan's `LoanInRange.link`, `LINK_CHARS` characters a loan."""
    broken: bytes
    """Each loan's `LoanInRange.broken`, one byte a loan (1 or 0)."""
    names: list[str | None]
    """Each loan's `LoanInRange.loan_id`."""
    openings: list[tuple[int, Any, Any, Any, bool]]
    """The loans whose first event here was not checked: (row, originator_version, topic,
    state) of that event as stored (the key and position are the row's), and whether the walk
    read its body as JSON (`_stored_head`: the merge need not parse it again)."""
    odd: dict[str, LoanInRange]
    """The loans whose stored key is not a UUID, by the key's description (`chain_key`)."""

    @property
    def loans(self) -> dict[UUID | str, LoanInRange]:
        """Every loan in the range, by key: the columns' rows first, then `odd`."""
        positions, versions = _int64s(self.positions), _int64s(self.versions)
        openings = {row: fields for row, *fields in self.openings}
        loans: dict[UUID | str, LoanInRange] = {}
        for row, name in enumerate(self.names):
            key = UUID(bytes=self.keys[16 * row : 16 * row + 16])
            opening = openings.get(row)
            loans[key] = LoanInRange(
                positions[row],
                None
                if opening is None
                else Notification(
                    id=positions[row],
                    originator_id=key,
                    originator_version=opening[0],
                    topic=opening[1],
                    state=opening[2],
                ),
                versions[row],
                self.links[LINK_CHARS * row : LINK_CHARS * (row + 1)],
                bool(self.broken[row]),
                name,
            )
        loans.update(self.odd)
        return loans


def _int64s(column: bytes) -> list[int]:
    values = array("q")
    values.frombytes(column)
    return values.tolist()


class RangeWalk:
    """`ChainWalk` over one contiguous range of the log, which may begin in the middle of a
    loan's chain: a loan whose first event in the range is version 1 is checked from the genesis
    link; any other first event is kept as the loan's opening, unchecked, and the walk goes on
    from its stored version and link. `merge_ranges` checks the openings against the earlier
    ranges, so that the merged verdict is the single walk's."""

    def __init__(self) -> None:
        self.chains: dict[UUID | str, _LoanChain] = {}
        self.openings: dict[UUID | str, tuple[int, Notification | None]] = {}
        self.named: dict[UUID | str, str] = {}
        self.readable: set[UUID] = set()
        """The loans whose opening's row reads whatever came before it (`_stored_head`)."""
        self.events_checked = 0
        self.first_break: Break | None = None

    def add(self, notification: Notification) -> None:
        self.events_checked += 1
        key = chain_key(notification.originator_id)
        chain = self.chains.get(key)
        if chain is None:
            chain = self.chains[key] = _LoanChain(loan_id="")
            self._name(key, notification)
            version = notification.originator_version
            if isinstance(key, UUID) and type(version) is int and version == 1:
                self.openings[key] = (notification.id, None)
            else:
                self.openings[key] = (notification.id, notification)
                head = _stored_head(notification) if isinstance(key, UUID) else None
                if head is None or not isinstance(key, UUID):
                    chain.broken = True  # the opening breaks whatever came before it
                else:
                    chain.version, chain.link = head
                    self.readable.add(key)
                return
        elif key not in self.named:
            self._name(key, notification)
        if chain.broken or not isinstance(key, UUID):
            return  # an unreadable key's opening broke its chain
        reason = _check(chain, key, notification)
        if reason is None:
            return
        chain.broken = True
        if self.first_break is None:
            self.first_break = (notification.id, key, chain.version + 1, reason)

    def _name(self, key: UUID | str, notification: StoredEvent) -> None:
        loan_id = loan_id_of(notification)
        if loan_id != str(key):
            self.named[key] = loan_id

    def verdict(self) -> RangeVerdict:
        keys = bytearray()
        positions, versions = array("q"), array("q")
        links: list[str] = []
        broken = bytearray()
        names: list[str | None] = []
        openings: list[tuple[int, Any, Any, Any, bool]] = []
        odd: dict[str, LoanInRange] = {}
        for key, chain in self.chains.items():
            position, opening = self.openings[key]
            if isinstance(key, str):
                odd[key] = LoanInRange(
                    position, opening, chain.version, chain.link, chain.broken, self.named.get(key)
                )
                continue
            if opening is not None:
                openings.append(
                    (
                        len(names),
                        opening.originator_version,
                        opening.topic,
                        opening.state,
                        key in self.readable,
                    )
                )
            keys += key.bytes
            positions.append(position)
            versions.append(chain.version)
            links.append(chain.link)
            broken.append(chain.broken)
            names.append(self.named.get(key))
        joined = "".join(links)
        if len(joined) != LINK_CHARS * len(links):  # every link is unsealed or the genesis
            raise AssertionError("a chain link is not 64 characters")
        return RangeVerdict(
            self.events_checked,
            self.first_break,
            bytes(keys),
            positions.tobytes(),
            versions.tobytes(),
            joined,
            bytes(broken),
            names,
            openings,
            odd,
        )


def _stored_head(notification: StoredEvent) -> tuple[int, str] | None:
    """The version and link an opening claims, when its row is readable whatever came before
    it (a version above 1, a sealed JSON body); None when `_check` fails it in any case."""
    version = notification.originator_version
    if not (
        type(version) is int
        and version > 1
        and type(notification.topic) is str
        and type(notification.state) is bytes
    ):
        return None
    try:
        link, body = unseal(notification.state)
        from_json(body)
    except (MalformedSealError, ValueError, RecursionError):
        return None
    return version, link


class _Opening(NamedTuple):
    """An opening's stored fields, as `_check` reads them."""

    originator_version: Any
    topic: Any
    state: Any


class RangeMerge:
    """`merge_ranges` one verdict at a time, in the ranges' order: the coordinator takes each
    range's verdict as soon as it and the ranges before it have arrived, while later ranges
    are still being walked.

    A loan's state between ranges is the row of the verdict that last carried it (its version,
    link and broken flag are read from the columns only when a later range opens it); a loan
    seen in one range only costs a dictionary entry."""

    def __init__(self, read_one: Callable[[int], StoredEvent]) -> None:
        self._read_one = read_one
        self._verdicts: list[RangeVerdict] = []
        self._versions: list[list[int]] = []
        """Each merged verdict's `versions` column, read once."""
        self._chains: dict[bytes | str, tuple[int, int] | _LoanChain] = {}
        """A loan's state: (verdict, row) as that row says, or a chain its opening broke."""
        self._breaks: list[tuple[int, int, bytes | str, int, str]] = []

    @property
    def ranges(self) -> int:
        """How many ranges have been merged."""
        return len(self._verdicts)

    def add(self, verdict: RangeVerdict) -> None:
        """Merge the next range's verdict."""
        index = len(self._verdicts)
        self._verdicts.append(verdict)
        positions = _int64s(verdict.positions)
        self._versions.append(_int64s(verdict.versions))
        chains, keys = self._chains, verdict.keys
        if verdict.first_break is not None:
            position, found, version, why = verdict.first_break
            self._breaks.append((position, 1, _key(found), version, why))
        count = len(verdict.names)
        rows = [keys[start : start + 16] for start in range(0, 16 * count, 16)]
        openings = {row: fields for row, *fields in verdict.openings}
        # Most loans are new to the merge and open with version 1 (checked by their range):
        # their state is the row, set for every row at once below. Only the loans that an
        # earlier range carried or that open unchecked here are looked at one by one.
        row_of = dict(zip(rows, range(count), strict=True))
        carried = {row_of[key] for key in row_of.keys() & chains.keys()}
        settled: dict[bytes | str, tuple[int, int] | _LoanChain] = {}
        for row in sorted(openings.keys() | carried):
            key = rows[row]
            state = chains.get(key)
            fields = openings.get(row)
            readable = fields is not None and fields[3]
            if state is None:
                chain = _LoanChain(loan_id="")
            elif isinstance(state, _LoanChain) or self._broken(state):
                settled[key] = state
                continue
            elif fields is not None and readable and self._follows(state, key, fields):
                settled[key] = (index, row)
                continue
            else:
                chain = self._chain(state)
            opening: StoredEvent | _Opening = (
                self._read_one(positions[row]) if fields is None else _Opening(*fields[:3])
            )
            reason = _check(chain, UUID(bytes=key), opening, body_is_json=readable)
            if reason is None:
                settled[key] = (index, row)
            else:
                settled[key] = chain
                self._breaks.append((positions[row], 0, key, chain.version + 1, reason))
        chains.update(zip(rows, zip(repeat(index), range(count)), strict=True))
        chains.update(settled)
        for name, loan in verdict.odd.items():
            if name not in chains:  # an unreadable key's opening breaks its chain
                chains[name] = _LoanChain(loan_id="", broken=True)
                self._breaks.append((loan.position, 0, name, 1, f"unreadable stored row: {name}"))

    def _follows(self, state: tuple[int, int], key: bytes, fields: list[Any]) -> bool:
        """Whether an opening its walk could read (a version above 1, a sealed JSON body) is
        the next event of the chain at `state`: `_check`'s answer, without building the chain
        or the reason, for the common case of a loan whose events cross the boundary intact
        (`_check` names what is wrong when it is not)."""
        verdict, row = state
        version, topic, stored = fields[:3]
        if version != self._versions[verdict][row] + 1:
            return False
        link = self._verdicts[verdict].links[LINK_CHARS * row : LINK_CHARS * (row + 1)]
        stored_link, body = unseal(stored)
        return compute_link(link, UUID(bytes=key), version, topic, body) == stored_link

    def _broken(self, state: tuple[int, int]) -> bool:
        verdict, row = state
        return bool(self._verdicts[verdict].broken[row])

    def _chain(self, state: tuple[int, int]) -> _LoanChain:
        verdict, row = state
        link = self._verdicts[verdict].links[LINK_CHARS * row : LINK_CHARS * (row + 1)]
        return _LoanChain(loan_id="", version=self._versions[verdict][row], link=link)

    def result(self) -> VerifyResult:
        """The single walk's verdict of the ranges merged (all of them, for the whole log)."""
        first = min(self._breaks, key=lambda found: found[:2], default=None)
        return VerifyResult(
            ok=first is None,
            loans_checked=len(self._chains),
            events_checked=sum(verdict.events_checked for verdict in self._verdicts),
            first_break=None
            if first is None
            else ChainBreak(self._name(first[2]), first[3], first[4]),
        )

    def _name(self, key: bytes | str) -> str:
        """The first journal loan id the ranges read for the loan, else its key."""
        for verdict in self._verdicts:
            if isinstance(key, str):
                loan = verdict.odd.get(key)
                name = None if loan is None else loan.loan_id
            else:
                rows = {
                    verdict.keys[16 * row : 16 * row + 16]: row for row in range(len(verdict.names))
                }
                name = verdict.names[rows[key]] if key in rows else None
            if name is not None:
                return name
        return key if isinstance(key, str) else str(UUID(bytes=key))


def _key(key: UUID | str) -> bytes | str:
    return key.bytes if isinstance(key, UUID) else key


def merge_ranges(
    verdicts: Sequence[RangeVerdict], read_one: Callable[[int], StoredEvent]
) -> VerifyResult:
    """The single walk's verdict from the verdicts of consecutive ranges of the log, in order.
    Each loan's version and link are carried from range to range and each opening is checked
    against them with `_check`, so a break at a range's boundary has the single walk's reason.
    The first break is the one at the lowest position among the ranges' first breaks and the
    openings' breaks: a range's break found from a wrong starting point (its loan's opening
    broke) lies after that loan's true first break. `read_one(position)` reads the event at a
    position again: a version 1 after its loan's events in an earlier range (a tampered store)
    was checked by its range from the genesis link, and is checked here as the single walk
    checks it. (`RangeMerge` takes the verdicts one at a time.)"""
    merge = RangeMerge(read_one)
    for verdict in verdicts:
        merge.add(verdict)
    return merge.result()


class _Row(Protocol):
    """The stored fields `_check` reads (a stored event's, or an opening's)."""

    @property
    def originator_version(self) -> Any: ...
    @property
    def topic(self) -> Any: ...
    @property
    def state(self) -> Any: ...


def _check(
    chain: _LoanChain, originator_id: UUID, notification: _Row, *, body_is_json: bool = False
) -> str | None:
    """Why the stored event does not follow `chain` (None when it does, and `chain` moves on to
    it). `body_is_json` when the body was already read as JSON (a range's opening, by its
    walk): the merge checks that opening's link without parsing its body a second time."""
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
    if not body_is_json:
        try:
            # UTF-8 JSON, read as the decoder reads it (pydantic-core: a third of the standard
            # library's time, and it refuses what no event decodes from, such as UTF-16).
            from_json(body)
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
        loan_id = from_json(body).get("loan_id")
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
