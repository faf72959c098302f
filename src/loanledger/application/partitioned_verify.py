"""`verify(workers=N)`: every loan's hash chain and snapshot checked by N Dask workers.

The loans are split into partitions as the partitioned rebuild splits them (a stable hash of
the aggregate id, `projection/partitions.py`). Each task reads its own loans' events (by the
primary key's index, `persistence.pages.LoanEvents`, not the whole log) up to the head noted
when the verify began, walks their chains (`ChainWalk`) and checks their snapshots; it returns
its counts, its first chain break with that event's log position, and its first snapshot
break. The coordinator, meanwhile, reads the log for the Merkle tree as far as the largest
checkpoint reaches (not at all without one; never in the partitions)
(the transparency log's checkpoints are the whole book's: `persistence/book_audit.py` holds
the events against them exactly as the single-process verify does), then merges: the chains'
first break is the one at the lowest position, a snapshot break counts only when no chain
broke and is the first in the snapshots' own order. So `ok`, the counts and `first_break` are
what the single-process verify gives.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Notification

from loanledger.application.partitioned import check_workers, dask_client, open_in_worker
from loanledger.persistence.book_audit import _stored_checkpoints, verify_book
from loanledger.persistence.checkpoints import load_checkpoint
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.pages import LOANS_PER_READ, loan_events, page_reader, uuid_or_raw
from loanledger.persistence.verify import (
    ChainBreak,
    ChainWalk,
    VerifyResult,
    chain_key,
    read_notifications,
)
from loanledger.projection.partitions import CappedPages, partition_of

if TYPE_CHECKING:
    from loanledger.application.ledger import LoanLedger


LOAN_ROWS_PER_READ = 5000
"""Rows a statement of a partition's read returns at most (its batch of loans holds ~10 events
a loan on the benchmark books: one statement a batch, where each statement sorts its batch's
rows again)."""


@dataclass(frozen=True)
class VerifyTask:
    url: str
    index: int
    partitions: int
    until: int


@dataclass(frozen=True)
class PartitionVerdict:
    """One partition's verify (plain values: sent back from a worker)."""

    loans_checked: int
    events_checked: int
    first_break: ChainBreak | None
    position: int | None
    """The log position of the event `first_break` was found at."""
    snapshots_checked: int
    snapshot_break: ChainBreak | None


def verify_partition(task: VerifyTask) -> PartitionVerdict:
    """Walk one partition's chains and check its loans' snapshots."""
    ledger = open_in_worker(task.url, withhold_personal_data=True)
    try:
        chains, position = _chains(ledger, task)
        checked, snapshot_break = _snapshots(ledger, task)
        return PartitionVerdict(
            chains.loans_checked,
            chains.events_checked,
            chains.first_break,
            position,
            checked,
            snapshot_break,
        )
    finally:
        ledger.close()


def _chains(ledger: LoanLedger, task: VerifyTask) -> tuple[VerifyResult, int | None]:
    """Walk the partition's chains; the result and the log position of its first break.
    On a store with SQL the partition reads only its own loans' events, by their key (the
    primary key's index), a batch of loans at a time in log order: a chain's check needs only
    its own events in log order, and the first break is the one at the lowest position of the
    batches' first breaks, which is the walk of the whole log's first break among these loans.
    Every stored key, a tampered one too, falls in exactly one partition."""
    events = loan_events(ledger.recorder)
    if events is None:
        walk = ChainWalk()
        found: int | None = None
        pages = CappedPages(page_reader(ledger.recorder), task.until)
        with pages.session():
            for notification in read_notifications(pages):
                key = chain_key(notification.originator_id)
                if partition_of(str(key), task.partitions) != task.index:
                    continue
                if walk.add(notification):
                    found = notification.id
        return walk.result(), found
    mine = [
        stored
        for stored in events.stored_keys()
        if partition_of(str(chain_key(uuid_or_raw(stored))), task.partitions) == task.index
    ]
    loans = checked = 0
    first: tuple[int, ChainBreak] | None = None
    for begin in range(0, len(mine), LOANS_PER_READ):
        walk = ChainWalk()  # the batch's loans have no event in another batch
        position: int | None = None
        for notification in events.read(
            mine[begin : begin + LOANS_PER_READ], task.until, LOAN_ROWS_PER_READ
        ):
            if walk.add(notification):
                position = notification.id
        result = walk.result()
        loans += result.loans_checked
        checked += result.events_checked
        broken = result.first_break
        if broken is not None and position is not None and (first is None or position < first[0]):
            first = (position, broken)
    return VerifyResult(
        ok=first is None,
        loans_checked=loans,
        events_checked=checked,
        first_break=first[1] if first is not None else None,
    ), (first[0] if first is not None else None)


def _snapshots(ledger: LoanLedger, task: VerifyTask) -> tuple[int, ChainBreak | None]:
    """`Snapshots.verify` for the partition's loans: how many were checked, and the first
    that differs in the snapshots' order."""
    snapshots = ledger.loan_snapshots
    sql = snapshots._sql
    checked = 0
    first: ChainBreak | None = None
    for (loan_id,) in snapshots.store.query(sql["loans"]):
        aggregate_id = loan_uuid(loan_id)
        if partition_of(str(aggregate_id), task.partitions) != task.index:
            continue
        row = snapshots.store.query(sql["latest"], (loan_id,))
        if not row:
            continue  # dropped meanwhile
        version, link, form, digest, body = row[0]
        checked += 1
        reason = snapshots._check(aggregate_id, int(version), link, form, digest, body)
        if reason is not None and first is None:
            first = ChainBreak(
                loan_id, int(version), f"snapshot through version {version}: {reason}"
            )
    return checked, first


def verify_partitioned(
    ledger: LoanLedger,
    workers: int,
    scheduler: str | None,
    against: Mapping[str, Any] | str | None,
) -> VerifyResult:
    """The single-process verify's result, the chains and snapshots checked in `workers`
    partitions on Dask (module docstring)."""
    check_workers(workers, ledger.settings.kind)
    until = ledger.recorder.max_notification_id() or 0
    pages = CappedPages(page_reader(ledger.recorder), until)
    tasks = [VerifyTask(ledger.settings.url, k, workers, until) for k in range(workers)]
    with dask_client(workers, scheduler) as client:
        futures = client.map(verify_partition, tasks, pure=False)

        need = _tree_size_needed(ledger, against)

        def chains(notifications: Iterator[Notification]) -> VerifyResult:
            # The tree's leaves, in this process, as far as the largest checkpoint reaches (one
            # event more: the tee adds an event's leaf when asked for the next one).
            for _ in islice(notifications, need + 1 if need else 0):
                pass
            return _merge(ledger, client.gather(futures))

        return verify_book(
            lambda: read_notifications(pages), ledger.transparency, against, _same, chains
        )


def _tree_size_needed(ledger: LoanLedger, against: Mapping[str, Any] | str | None) -> int:
    """How many events the Merkle check reads: up to the largest checkpoint (stored or
    given); none without one. (A mismatch reads the log again to locate the break.)"""
    stored, _ = _stored_checkpoints(ledger.transparency)
    sizes = [int(checkpoint["tree_size"]) for checkpoint in stored]
    if against is not None:
        sizes.append(int(load_checkpoint(against)["tree_size"]))
    return max(sizes, default=0)


def _same(result: VerifyResult) -> VerifyResult:
    return result  # the snapshots were checked by the partitions


def _merge(ledger: LoanLedger, verdicts: Sequence[PartitionVerdict]) -> VerifyResult:
    broken = [v for v in verdicts if v.first_break is not None and v.position is not None]
    first = min(broken, key=lambda v: v.position or 0).first_break if broken else None
    if first is None:
        found = {v.snapshot_break.loan_id: v.snapshot_break for v in verdicts if v.snapshot_break}
        if found:
            snapshots = ledger.loan_snapshots
            for (loan_id,) in snapshots.store.query(snapshots._sql["loans"]):
                if loan_id in found:
                    first = found[loan_id]
                    break
    return VerifyResult(
        ok=first is None,
        loans_checked=sum(v.loans_checked for v in verdicts),
        events_checked=sum(v.events_checked for v in verdicts),
        first_break=first,
        snapshots_checked=sum(v.snapshots_checked for v in verdicts),
    )
