"""`verify()` against checkpoints: the book's first `tree_size` events must still hash to the
checkpoint's root, and when they do not, the first leaf that no longer matches is named.

One pass over the stored events feeds both the per-loan chain check (`verify.verify_chains`) and
a Merkle frontier that notes the root at every checkpointed size, so a book that is intact costs
one read and about two extra hashes an event. Only a mismatch pays for locating the break: the
stored leaves (`loanledger_merkle_leaves`, trusted when they hash to the checkpoint's root) are
compared with the events' leaves, position by position. The first position that differs is

- `missing`   the checkpoint's event there is no longer stored anywhere (a deleted event, a
              deleted tail, a deleted loan, a truncated log);
- `altered`   the event is stored (same loan and version) but its bytes changed;
- `reordered` its bytes are stored, at another position (events swapped or renumbered);
- `inserted`  an event the checkpoint never held stands where one of its events stood.

Stored checkpoints are checked too: each must be the root of the events at its size. With
`against`, a checkpoint break is the first break (its reason one of the four words above);
without, a chain break the per-loan chains found stays the first break, and the tree's is
reported when the chains saw nothing (a deleted tail or loan, a truncation, a forged insert).
When a stored checkpoint does not match the events, the stored Merkle nodes say which side
changed: if they still agree with the checkpoint, the events changed; if they agree with the
events, the checkpoint row did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Notification

from loanledger.domain.errors import InvalidCheckpointError
from loanledger.persistence.checkpoints import load_checkpoint
from loanledger.persistence.merkle import Frontier, root_of
from loanledger.persistence.transparency import TransparencyLog, event_leaf
from loanledger.persistence.verify import (
    ChainBreak,
    VerifyResult,
    loan_id_of,
    verify_chains,
)
from loanledger.proof import check_signature

Reader = Callable[[], Iterator[Notification]]


class _LeafTee:
    """Passes the events through unchanged while noting the tree's root at the wanted sizes."""

    def __init__(self, notifications: Iterator[Notification], sizes: set[int]) -> None:
        self._notifications = notifications
        self._sizes = sizes
        self._last = max(sizes, default=0)
        self.roots: dict[int, bytes] = {0: Frontier().root()} if 0 in sizes else {}

    def __iter__(self) -> Iterator[Notification]:
        frontier = Frontier()
        for notification in self._notifications:
            yield notification
            if frontier.size < self._last:
                frontier.add(event_leaf(notification.state))
                if frontier.size in self._sizes:
                    self.roots[frontier.size] = frontier.root()


def verify_book(
    read: Reader,
    log: TransparencyLog,
    against: Mapping[str, Any] | str | Path | None,
    finish: Callable[[VerifyResult], VerifyResult],
    chains: Callable[[Iterator[Notification]], VerifyResult] = verify_chains,
) -> VerifyResult:
    """The chains' verdict (`finish` adds the snapshots'), held against `against` when given,
    and always against every stored checkpoint. `chains` walks the log (a partitioned verify
    passes one that reads the log for the tree and merges its workers' verdicts)."""
    head = load_checkpoint(against) if against is not None else None
    stored, unreadable = _stored_checkpoints(log)
    heads = ([head] if head is not None else []) + stored
    tee = _LeafTee(read(), {checkpoint["tree_size"] for checkpoint in heads})
    result = finish(chains(iter(tee)))
    found = unreadable
    if found is None and head is not None:
        found = _against(head, tee.roots, log, read, given=True)
    for checkpoint in stored:
        if found is not None:
            break
        found = _against(checkpoint, tee.roots, log, read, given=False)
    checked = len(heads) + (1 if unreadable is not None else 0)
    chain = result.first_break
    if found is None or (head is None and chain is not None):
        # Without a checkpoint given, a chain break stays the first break, as verify() named
        # it before the tree existed; the tree names what the chains cannot see.
        return replace(result, checkpoints_checked=checked)
    if chain is not None and (chain.loan_id, chain.version) == (found.loan_id, found.version):
        found = replace(found, detail=f"{found.detail}; the loan's chain: {chain.reason}")
    return replace(result, ok=False, first_break=found, checkpoints_checked=checked)


def _stored_checkpoints(log: TransparencyLog) -> tuple[list[dict[str, Any]], ChainBreak | None]:
    readable = []
    for row in log.store.query(log.sql["checkpoints"]):
        try:
            readable.append(load_checkpoint(dict(zip(_COLUMNS, row, strict=True))))
        except (InvalidCheckpointError, TypeError, ValueError) as error:
            return readable, ChainBreak(
                "checkpoint", 0, "altered", f"a stored checkpoint row is unreadable: {error}"
            )
    for checkpoint in readable:
        if checkpoint.get("signature") is None:
            for field in ("signature", "key_id", "public_key"):
                checkpoint.pop(field, None)
    return readable, None


_COLUMNS = ("tree_size", "root", "recorded_at", "signature", "key_id", "public_key")


def _against(
    checkpoint: dict[str, Any],
    roots: dict[int, bytes],
    log: TransparencyLog,
    read: Reader,
    *,
    given: bool,
) -> ChainBreak | None:
    size, root = checkpoint["tree_size"], bytes.fromhex(checkpoint["root"])
    whose = "the given checkpoint" if given else f"the stored checkpoint of {size} events"
    if not check_signature(checkpoint):
        return _checkpoint_break(log, size, f"{whose}: its signature does not verify")
    if roots.get(size) == root:
        return None
    if given:
        return _locate(size, root, log, read, whose)
    try:
        kept = log.root(size)
    except (InvalidCheckpointError, ValueError):
        kept = None
    if kept is not None and kept != root and kept == roots.get(size):
        return _checkpoint_break(
            log,
            size,
            f"{whose} (recorded {checkpoint['recorded_at']}) has root {checkpoint['root']}, but "
            f"its events and the stored Merkle log both hash to {kept.hex()}: the checkpoint row "
            "was altered",
        )
    return _locate(size, root, log, read, whose)


def _checkpoint_break(log: TransparencyLog, size: int, detail: str) -> ChainBreak:
    """A break in a checkpoint itself, named at the last event it covers."""
    last = log.reference_range(size - 1, size) if size else []
    if not last:
        return ChainBreak("checkpoint", size, "altered", detail)
    originator_id, version, _ = last[0]
    return ChainBreak(log.loan_of(originator_id) or originator_id, version, "altered", detail)


def _locate(size: int, root: bytes, log: TransparencyLog, read: Reader, whose: str) -> ChainBreak:
    reference = log.reference_range(0, size)
    trusted = len(reference) == size and root_of([leaf for _, _, leaf in reference]) == root
    caveat = (
        ""
        if trusted
        else "; the stored Merkle log does not hash to this root either, so this position is "
        "located against it as best it can be"
    )
    events: list[tuple[str, int, bytes]] = []
    loan_ids: dict[str, str] = {}
    for notification in read():
        key = str(notification.originator_id)
        version = notification.originator_version
        events.append(
            (key, version if isinstance(version, int) else -1, event_leaf(notification.state))
        )
        if key not in loan_ids:
            loan_ids[key] = loan_id_of(notification)
    event_at: dict[bytes, int] = {}
    for position, (_, _, leaf) in enumerate(events):
        event_at.setdefault(leaf, position)
    reference_leaves = {leaf for _, _, leaf in reference}
    event_keys = {(key, version) for key, version, _ in events}

    def named(entry: tuple[str, int, bytes], reason: str, detail: str) -> ChainBreak:
        key, version, _ = entry
        loan_id = loan_ids.get(key) or log.loan_of(key) or key
        return ChainBreak(loan_id, version, reason, f"{detail}{caveat}")

    for position in range(size):
        event = events[position] if position < len(events) else None
        if position >= len(reference):
            if event is None:
                break
            return named(event, "altered", f"leaf {position} of {whose}: no stored leaf to compare")
        expected = reference[position]
        if event is not None and event[2] == expected[2]:
            continue
        where = f"leaf {position} of {whose}"
        if expected[2] not in event_at:
            if expected[:2] in event_keys:
                return named(expected, "altered", f"{where}: the event's stored bytes changed")
            return named(expected, "missing", f"{where}: the event is no longer stored")
        if event is not None and event[2] not in reference_leaves:
            return named(event, "inserted", f"{where}: an event the checkpoint never held")
        return named(
            expected,
            "reordered",
            f"{where}: the event is stored at position {event_at[expected[2]]} instead",
        )
    last = reference[-1] if reference else ("checkpoint", size, b"")
    return named(
        last,
        "altered",
        f"{whose}: the events match the stored Merkle log, but neither hashes to the "
        "checkpoint's root (a checkpoint of another book, or events and log rewritten together)",
    )
