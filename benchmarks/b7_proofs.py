"""B7 the transparency log (issue 16): `verify` with a checkpoint against a raw read of the same
events, a checkpoint's cost after 1,000 new events on a small and a 10x larger book (it must
follow the new events, not the book), and one loan's inclusion proof on the larger book.

The books are renamed copies of one loaded book's events (`common.replicate`, as B2's); the
tree of each is built once, untimed (close_day would have kept it up day by day), then 1,000 new
events (copies of the base's first events under new loan ids) are inserted raw and timed
`checkpoint()` catches the tree up with them.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from benchmarks.b2_rebuild import build, raw_read_postgres, raw_read_sqlite
from benchmarks.books import prepare_base
from benchmarks.common import (
    Figure,
    Report,
    Store,
    Workspace,
    _copies,
    insert_stored,
    median,
    opened,
    timed,
)

TARGET_VERIFY = 0.5
TARGET_CHECKPOINT = 1.5
TARGET_PROOF_MS = 50.0
NEW_EVENTS = 1_000
Row = tuple[UUID, int, str, bytes]


def _new_events(rows: list[Row], copy: int, loans: int) -> Iterator[StoredEvent]:
    heads: dict[UUID, str] = {}
    for row in rows[:NEW_EVENTS]:
        yield from _copies(row, [copy], loans, None, heads)


def checkpoint_cost(
    store: Store, rows: list[Row], first_copy: int, loans: int, runs: int
) -> list[float]:
    """Seconds of `checkpoint()` after each of `runs` batches of NEW_EVENTS raw-inserted events."""
    times = []
    with opened(store) as ledger:
        ledger.checkpoint()  # the tree of the book so far, untimed
        for run in range(runs):
            insert_stored(ledger, _new_events(rows, first_copy + run, loans))
            times.append(timed(ledger.checkpoint))
    return times


def run(
    space: Workspace, *, quick: bool, runs: int, kinds: tuple[str, ...] = ("sqlite", "postgresql")
) -> Report:
    report = Report("B7", "transparency log: verify with a checkpoint, checkpoint cost, proof")
    loans, small_copies = (40, 2) if quick else (500, 6)
    big_copies = small_copies * 10
    base = prepare_base(space, "b7", loans, repayment_day=None)
    rows = base.rows()
    report.size(
        f"{loans:,} loans loaded ({len(rows):,} events); books of {small_copies} and "
        f"{big_copies} renamed copies; {NEW_EVENTS:,} new events per checkpoint"
    )
    for kind in kinds:
        small = build(space, kind, base, small_copies, loans)
        big = build(space, kind, base, big_copies, loans)
        events_small, events_big = small.count(), big.count()
        report.size(f"{kind}: {events_small:,} and {events_big:,} events")
        small_times = checkpoint_cost(small, rows, big_copies + 1, loans, runs)
        big_times = checkpoint_cost(big, rows, big_copies + 1, loans, runs)
        ratio = median(big_times) / median(small_times)
        report.add(
            Figure(
                "B7",
                f"{kind} checkpoint after {NEW_EVENTS:,} new events, {events_big:,}-event book",
                median(big_times) * 1000,
                "ms",
                runs=big_times,
            )
        )
        report.add(
            Figure(
                "B7",
                f"{kind} checkpoint after {NEW_EVENTS:,} new events, {events_small:,}-event book",
                median(small_times) * 1000,
                "ms",
                runs=small_times,
            )
        )
        report.add(
            Figure(
                "B7",
                f"{kind} checkpoint cost ratio, 10x book",
                ratio,
                "x",
                f"<= {TARGET_CHECKPOINT}",
                ratio <= TARGET_CHECKPOINT,
            )
        )
        with opened(big) as ledger:
            head = ledger.checkpoint()
            verify_times: list[float] = []
            check = functools.partial(ledger.verify, against=head)
            for _ in range(runs):
                verify_times.append(timed(check))
            raw = raw_read_sqlite(big) if kind == "sqlite" else raw_read_postgres(big)
            ratio = raw[0] / median(verify_times)
            report.add(
                Figure(
                    "B7",
                    f"{kind} verify(against=checkpoint), {head['tree_size']:,} events",
                    median(verify_times),
                    "s",
                    runs=verify_times,
                )
            )
            report.add(
                Figure(
                    "B7",
                    f"{kind} raw read (per loan, JSON decoded) / verify with checkpoint",
                    ratio,
                    "x",
                    f">= {TARGET_VERIFY}",
                    ratio >= TARGET_VERIFY,
                    note=f"raw read {raw[0]:.2f} s, raw scan {raw[1]:.2f} s",
                )
            )
            loan_ids = [
                f"L-{number:07d}"
                for number in range(1, loans * big_copies, max(1, loans * big_copies // 7))
            ][:7]
            proof_times = []
            sizes = []
            for loan_id in loan_ids:
                began = time.perf_counter()
                proof = ledger.prove(loan_id, head)
                proof_times.append(time.perf_counter() - began)
                sizes.append(
                    (
                        len(proof["events"]),
                        sum(len(e["path"]) for e in proof["events"]),
                        len(json.dumps(proof)),
                    )
                )
            events, hashes, size = sizes[len(sizes) // 2]
            report.add(
                Figure(
                    "B7",
                    f"{kind} prove one loan, {head['tree_size']:,}-event book",
                    median(proof_times) * 1000,
                    "ms",
                    f"<= {TARGET_PROOF_MS:.0f} ms",
                    median(proof_times) * 1000 <= TARGET_PROOF_MS,
                    note=f"{events} events, {hashes} path hashes, {size:,} bytes of JSON",
                    runs=proof_times,
                )
            )
        space.drop(small)
        space.drop(big)
    space.drop(base)
    return report


if __name__ == "__main__":
    import argparse
    import os

    from benchmarks.common import workspace
    from loanledger.persistence.keys import MASTER_KEY_ENV, MasterKey

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kinds", default="sqlite,postgresql")
    args = parser.parse_args()
    os.environ.setdefault(MASTER_KEY_ENV, MasterKey.generate_text())
    with workspace() as space:
        run(space, quick=args.quick, runs=args.runs, kinds=tuple(args.kinds.split(",")))
