"""B3 close-of-day scaling: a big book where ~1/28 of loans have something to do on the closed
day vs a small book where every loan does. Same store kind (SQLite), same day, cold caches.

Both books are renamed copies of a loaded book, events and read models (`books.py`), the same
number of copies each, so that they are built alike and the big one can have the issue's size."""

from __future__ import annotations

import shutil
from datetime import date
from typing import Any

from benchmarks.books import WARM_DAY, prepare_base, replicate_book
from benchmarks.common import (
    Figure,
    Report,
    Store,
    Workspace,
    median,
    opened,
    profile,
    timed,
)

TARGET_RATIO = 1.5
DAY = date(2024, 7, 30)
"""The measured day, after WARM_DAY: a reminder 7 days before the August installment for loans
paying on the 6th; no loan pays on the 29th, so nobody reaches DPD 1 (or 31) that day."""
DUE_DAY = 6


def prepare(
    space: Workspace, name: str, loans: int, copies: int, repayment_day: int | None
) -> Store:
    """A SQLite book of `loans * copies` loans, closed through WARM_DAY and caught up."""
    base = prepare_base(space, name, loans, repayment_day=repayment_day)
    store = replicate_book(space, base, name, loans, copies)
    space.drop(base)
    return store


def measure(space: Workspace, store: Store, attempt: int) -> tuple[float, dict[str, Any]]:
    """Close DAY on a fresh copy of the warmed store, with a new ledger (cold cache)."""
    assert store.path is not None
    copy = space.sqlite(f"{store.path.stem}-run{attempt}")
    assert copy.path is not None
    shutil.copyfile(store.path, copy.path)
    result: dict[str, Any] = {}
    with opened(copy) as ledger:
        ledger.projections.catch_up()

        def close() -> None:
            result.update(ledger.close_day(DAY))

        elapsed = timed(close, collect=True)
    space.drop(copy)
    return elapsed, result


def run(space: Workspace, *, quick: bool, runs: int) -> tuple[Report, Store, int]:
    """Returns the report and the big book (closed through WARM_DAY, for B5) and its size."""
    report = Report("B3", "close-of-day scaling")
    big_base, copies = (60, 10) if quick else (1000, 100)
    big_loans = big_base * copies
    # The small book has as many loans as the big one has with an action on DAY: the base's
    # loans paying on DUE_DAY, loaded all paying on it, and as many copies.
    small_base = sum(1 for n in range(big_base) if n % 28 + 1 == DUE_DAY)
    small_loans = small_base * copies
    report.size(
        f"big book {big_loans:,} loans (repayment days 1-28, so 1/28 pay on each day: "
        f"{big_base:,} loaded, closed through {WARM_DAY}, read models rebuilt, and {copies} "
        f"renamed copies of its events and read models), small book {small_loans:,} loans all "
        f"paying on the {DUE_DAY}th ({small_base} loaded, {copies} copies) "
        "(issue: 100,000 vs 3,300 loans, ~1/30; the journal's repayment days 1-28 make it 1/28, "
        f"so the small book has the {small_loans:,} loans that have an action on {DAY} in "
        "the big one)"
    )
    big = prepare(space, "b3-big", big_base, copies, None)
    small = prepare(space, "b3-small", small_base, copies, DUE_DAY)
    figures: dict[str, float] = {}
    per_loan: dict[str, float] = {}
    for name, store, loans in (("big", big, big_loans), ("small", small, small_loans)):
        results = [measure(space, store, attempt) for attempt in range(runs)]
        seconds = median([elapsed for elapsed, _ in results])
        processed = results[-1][1]["loans_processed"]
        recorded = results[-1][1]["events_recorded"]
        if processed != small_loans:
            # The ratio compares equal work: the same number of loans looked at on DAY.
            raise AssertionError(f"{name} book: {processed} loans processed, not {small_loans}")
        figures[name] = seconds
        per_loan[name] = seconds * 1000 / max(processed, 1)
        report.add(
            Figure(
                "B3",
                f"close_day {name} book ({loans:,} loans)",
                seconds * 1000,
                "ms",
                runs=[elapsed for elapsed, _ in results],
                note=f"{processed} loans processed, {recorded} events recorded",
            )
        )
        print(f"[B3] {name}: {processed} loans processed, {recorded} events recorded", flush=True)
    for name in ("big", "small"):
        report.add(Figure("B3", f"close_day {name} book per loan processed", per_loan[name], "ms"))
    ratio = figures["big"] / figures["small"]
    report.add(
        Figure(
            "B3",
            "close_day big / small",
            ratio,
            "x",
            target=f"<= {TARGET_RATIO}x",
            met=ratio <= TARGET_RATIO,
        )
    )
    if ratio > TARGET_RATIO:
        assert big.path is not None
        copy = space.sqlite("b3-profile")
        assert copy.path is not None
        shutil.copyfile(big.path, copy.path)
        with opened(copy) as ledger:
            ledger.projections.catch_up()
            report.profiles["close_day big book"] = profile(lambda: ledger.close_day(DAY))
        space.drop(copy)
    space.drop(small)
    return report, big, big_loans
