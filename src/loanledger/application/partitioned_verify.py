"""`verify(workers=N)`: every loan's hash chain and snapshot checked by N Dask workers.

The chains are checked by ranges of the log, not by loans: task k walks the contiguous range
of positions `(lo_k, hi_k]` (the log up to the head noted when the verify began, split into N
nearly equal ranges) with the same sequential page read as the single-process verify. A loan's
chain crosses ranges, so a task checks each loan's events from the loan's first event in its
range on (`persistence.verify.RangeWalk`): from the genesis link when that event is version 1,
else from the event's own stored version and link, keeping the event unchecked as the loan's
opening. It returns its events walked, per loan its opening, last version and link, and its
first break with that event's log position, as flat columns (`persistence.verify.RangeVerdict`:
a verdict of an object a loan cost the coordinator more to take in than the merge itself). The
snapshots are checked per partition of loans, as the partitioned rebuild splits them (a stable
hash of the aggregate id, `projection/partitions.py`): task k checks partition k's.

The coordinator, meanwhile, reads the log for the Merkle tree as far as the largest checkpoint
reaches (not at all without one; never in the tasks) (the transparency log's checkpoints are
the whole book's: `persistence/book_audit.py` holds the events against them exactly as the
single-process verify does), then merges each range as soon as it and the ranges before it
are back (`persistence.verify.RangeMerge`, as `merge_ranges` does all at once): it carries each
loan's version and link through the ranges in order and checks every opening against them with
the single walk's check, so a break on a range's first event of a loan has the single walk's
reason; the chains' first break is the one at the lowest position among the ranges' and the
openings' breaks; a snapshot break counts only when no chain broke and is the first in the
snapshots' own order. So `ok`, the counts and `first_break` are what the single-process verify
gives.
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
from loanledger.persistence.pages import page_reader
from loanledger.persistence.verify import (
    ChainBreak,
    RangeMerge,
    RangeVerdict,
    RangeWalk,
    VerifyResult,
    collector_paused,
    read_notifications,
)
from loanledger.projection.partitions import CappedPages, partition_of

if TYPE_CHECKING:
    from distributed import Future

    from loanledger.application.ledger import LoanLedger


@dataclass(frozen=True)
class VerifyTask:
    url: str
    index: int
    partitions: int
    until: int


@dataclass(frozen=True)
class PartitionVerdict:
    """One task's verify (plain values: sent back from a worker)."""

    chains: RangeVerdict
    """The walk of the task's range of the log."""
    snapshots_checked: int
    snapshot_break: ChainBreak | None


def log_range(until: int, index: int, partitions: int) -> tuple[int, int]:
    """Range `index` of `partitions` nearly equal ranges of the log up to `until`: the
    positions `lo` < position <= `hi`, as (lo, hi)."""
    return until * index // partitions, until * (index + 1) // partitions


def walk_range(ledger: LoanLedger, lo: int, hi: int) -> RangeVerdict:
    """Walk the chains through the log's positions `lo` < position <= `hi` (`RangeWalk`), read
    page by page as the single-process verify reads the whole log."""
    walk = RangeWalk()
    pages = CappedPages(page_reader(ledger.recorder), hi)
    with pages.session(), collector_paused():
        for notification in read_notifications(pages, start=lo + 1):
            walk.add(notification)
    return walk.verdict()


def verify_partition(task: VerifyTask) -> PartitionVerdict:
    """Walk the task's range of the log and check its partition's loans' snapshots."""
    ledger = open_in_worker(task.url, withhold_personal_data=True)
    try:
        chains = walk_range(ledger, *log_range(task.until, task.index, task.partitions))
        checked, snapshot_break = _snapshots(ledger, task)
        return PartitionVerdict(chains, checked, snapshot_break)
    finally:
        ledger.close()


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
            return _merge(ledger, futures, until)

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


def _merge(
    ledger: LoanLedger, futures: Sequence[Future[PartitionVerdict]], until: int
) -> VerifyResult:
    """The tasks' verdicts merged (`RangeMerge`), each range as soon as it and the ranges
    before it are back: the first range's loans are merged while the second is still walked,
    instead of all of them after the last task returns."""
    from distributed import as_completed

    pages = CappedPages(page_reader(ledger.recorder), until)
    chains = RangeMerge(lambda position: pages(position, 1)[0])
    index = {future.key: k for k, future in enumerate(futures)}
    verdicts: list[PartitionVerdict | None] = [None] * len(futures)
    for future in as_completed(futures):
        verdicts[index[future.key]] = future.result()
        while chains.ranges < len(verdicts):
            verdict = verdicts[chains.ranges]
            if verdict is None:
                break
            chains.add(verdict.chains)
    arrived = [verdict for verdict in verdicts if verdict is not None]
    merged = chains.result()
    first = merged.first_break
    if first is None:
        found = {v.snapshot_break.loan_id: v.snapshot_break for v in arrived if v.snapshot_break}
        if found:
            snapshots = ledger.loan_snapshots
            for (loan_id,) in snapshots.store.query(snapshots._sql["loans"]):
                if loan_id in found:
                    first = found[loan_id]
                    break
    return VerifyResult(
        ok=first is None,
        loans_checked=merged.loans_checked,
        events_checked=merged.events_checked,
        first_break=first,
        snapshots_checked=sum(v.snapshots_checked for v in arrived),
    )
