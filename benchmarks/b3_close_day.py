"""B3 close-of-day scaling: a big book where ~1/28 of loans have something to do on the closed
day vs a small book where every loan does. Same store kind (SQLite), same day, cold caches."""

from __future__ import annotations

import shutil
from datetime import date
from typing import Any

from benchmarks.common import (
    Figure,
    Report,
    Store,
    Workspace,
    insert_stored,
    median,
    opened,
    profile,
    replicate,
    timed,
)
from benchmarks.journal import generate

TARGET_RATIO = 1.5
WARM_DAY = date(2024, 7, 29)
"""Every loan has paid five installments (Feb-Jun) and owes its July one; closing this day
makes close of day see every loan once and sets each loan's next action date."""
DAY = date(2024, 7, 30)
"""The measured day: a reminder 7 days before the August installment for loans paying on the
6th; no loan pays on the 29th, so nobody reaches DPD 1 (or 31) that day."""
DUE_DAY = 6


def prepare(
    space: Workspace, name: str, loans: int, copies: int, repayment_day: int | None
) -> Store:
    """A SQLite book of `loans * copies` loans, closed through WARM_DAY."""
    base = space.sqlite(f"{name}-base")
    book = generate(loans, repayment_day=repayment_day, seed=3)
    with opened(base) as ledger:
        ledger.load(book.write(space.dir / f"{name}.jsonl"))
    store = base
    if copies > 1:
        store = space.sqlite(name)
        with opened(base) as original, opened(store) as ledger:
            copied = replicate(base.rows(), copies, loans, original.data_keys)
            insert_stored(ledger, copied, keys_from=base)
        space.drop(base)
    with opened(store) as ledger:
        ledger.close_day(WARM_DAY)
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
    """Returns the report and the big book (closed through DAY once more, for B5)."""
    report = Report("B3", "close-of-day scaling")
    big_base, copies = (60, 10) if quick else (600, 10)
    big_loans = big_base * copies
    # The small book has as many loans as the big one has with an action on DAY.
    small_loans = copies * sum(1 for n in range(big_base) if n % 28 + 1 == DUE_DAY)
    report.size(
        f"big book {big_loans} loans (repayment days 1-28, {big_base} loaded and {copies} renamed "
        f"copies; 1/28 pay on each day), small book {small_loans} loans all paying on the "
        f"{DUE_DAY}th "
        "(issue: 100,000 vs 3,300 loans; scaled down to fit the 15-minute budget)"
    )
    big = prepare(space, "b3-big", big_base, copies, None)
    small = prepare(space, "b3-small", small_loans, 1, DUE_DAY)
    figures: dict[str, float] = {}
    per_loan: dict[str, float] = {}
    for name, store, loans in (("big", big, big_loans), ("small", small, small_loans)):
        results = [measure(space, store, attempt) for attempt in range(runs)]
        seconds = median([elapsed for elapsed, _ in results])
        processed = results[-1][1]["loans_processed"]
        recorded = results[-1][1]["events_recorded"]
        figures[name] = seconds
        per_loan[name] = seconds * 1000 / max(processed, 1)
        report.add(
            Figure(
                "B3",
                f"close_day {name} book ({loans} loans)",
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
