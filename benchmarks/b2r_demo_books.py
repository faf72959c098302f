"""B2r rebuild, load and verify of the demo's realistic books (issue 20), SQLite and PostgreSQL.

The books are the demo's (`loanledger demo`: 18 months closed day by day, the realistic mix of
outcomes and behaviours) at 1,000 and 2,000 loans. Their journals are generated once with
`SyntheticBook` (untimed; kept in `LOANLEDGER_BENCH_CACHE`, default the system's temporary
directory, for the next run) and loaded into a new store with `LoanLedger.load` (timed, one run:
each run needs an empty store). On that store, `rebuild()` of every projection and `verify()`
are timed `--runs` times.

The rebuild's per-event cost must not grow with the book: each loan's ~30 events fall on ~30
different pages of the log whatever the book's size, and a rebuild that reloaded each loan at each
page got slower per event as the book grew (6.7k events/s at 250 loans, 1.66k at 2,000). The
same-process baseline is that rebuild: `loans_kept = 0` (nothing carried from page to page, every
loan loaded at every page, exactly the rows of before), timed once on SQLite's books.

    python -m benchmarks.b2r_demo_books [--quick] [--runs 3] [--kinds sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    Figure,
    Report,
    Store,
    Workspace,
    median,
    opened,
    settle,
    timed,
    workspace,
)
from loanledger import LoanLedger
from loanledger.entrypoints.synthetic import SyntheticBook
from loanledger.persistence.keys import MASTER_KEY_ENV, MasterKey

SIZES = (1000, 2000)
QUICK_SIZES = (20, 40)
SEED = 7
"""The demo's default seed."""
MONTHS = 18
QUICK_MONTHS = 4
TARGET_RATE = 6_000.0
"""Every-projection rebuild of the 2,000-loan book, single process, SQLite (issue 20)."""
TARGET_GROWTH = 0.9
"""Rebuild events/s at 2,000 loans over 1,000 loans: must not fall (0.9: the run-to-run spread
of a shared machine)."""


def journal(loans: int, months: int) -> Path:
    """The demo book's journal for `loans` (generated once, then read from the cache)."""
    cache = Path(os.environ.get("LOANLEDGER_BENCH_CACHE", tempfile.gettempdir()))
    path = cache / f"loanledger-demo-{loans}-loans-{months}-months-seed-{SEED}.jsonl"
    if path.exists():
        return path
    ledger = LoanLedger.open("memory://")
    lines: list[str] = []
    try:
        SyntheticBook(ledger, loans=loans, seed=SEED, months=months).run(
            lambda command: lines.append(json.dumps(command, ensure_ascii=False))
        )
    finally:
        ledger.close()
    partial = path.with_suffix(".partial")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def rebuild(store: Store, *, loans_kept: int | None = None) -> tuple[float, float]:
    """Seconds for `rebuild()` of every projection (with `loans_kept`: that bound instead), on
    the clock and of this process's CPU (on a shared machine the clock counts others' work)."""
    with opened(store) as ledger:
        if loans_kept is not None:
            ledger.loan_state.kept.loans_kept = loans_kept
        started = time.process_time()
        seconds = timed(ledger.rebuild, collect=True)
        return seconds, time.process_time() - started


def verify(store: Store) -> float:
    with opened(store) as ledger:

        def check() -> None:
            assert ledger.verify().ok

        return timed(check, collect=True)


def run(
    space: Workspace, *, quick: bool, runs: int, kinds: tuple[str, ...] = ("sqlite", "postgresql")
) -> Report:
    report = Report("B2r", "rebuild, load and verify of the demo's books")
    sizes = QUICK_SIZES if quick else SIZES
    months = QUICK_MONTHS if quick else MONTHS
    report.size(
        f"the demo's books of {' and '.join(f'{n:,}' for n in sizes)} loans, {months} months "
        f"(issue: 1,000 and 2,000 loans, 18 months); load timed once per store, rebuild and "
        f"verify {runs} times; the baseline (nothing kept) once, SQLite only"
    )
    for kind in kinds:
        rates: dict[int, float] = {}
        for loans in sizes:
            path = journal(loans, months)
            store = space.store(kind)
            with opened(store) as ledger:
                load_seconds = timed(lambda: ledger.load(path))  # noqa: B023 - called at once
            settle(store)
            events = store.count()
            report.add(
                Figure(
                    "B2r",
                    f"{kind} load, {loans:,} loans",
                    events / load_seconds,
                    "events/s",
                    runs=[load_seconds],
                    note=f"{events} events, 1 run",
                )
            )
            measured = [rebuild(store) for _ in range(runs)]
            times = [seconds for seconds, _ in measured]
            cpu = [seconds for _, seconds in measured]
            rates[loans] = events / median(times)
            at_target = kind == "sqlite" and loans == max(sizes)
            report.add(
                Figure(
                    "B2r",
                    f"{kind} rebuild, every projection, {loans:,} loans",
                    rates[loans],
                    "events/s",
                    target=f">= {TARGET_RATE:,.0f} events/s" if at_target else "",
                    met=(rates[loans] >= TARGET_RATE) if at_target else None,
                    runs=times,
                    note=f"{events} events; runs {', '.join(f'{t:.1f}' for t in times)} s",
                )
            )
            report.add(
                Figure(
                    "B2r",
                    f"{kind} rebuild, every projection, {loans:,} loans, per CPU-second",
                    events / median(cpu),
                    "events/s",
                    runs=cpu,
                    note=f"this process's CPU time; runs {', '.join(f'{t:.1f}' for t in cpu)} s",
                )
            )
            if kind == "sqlite":
                before, before_cpu = rebuild(store, loans_kept=0)
                report.add(
                    Figure(
                        "B2r",
                        f"{kind} rebuild / rebuild loading every loan at every page, "
                        f"{loans:,} loans",
                        before / median(times),
                        "x",
                        runs=[before],
                        note=f"baseline {events / before:,.0f} events/s, 1 run; per CPU-second "
                        f"{before_cpu / median(cpu):.2f}x ({events / before_cpu:,.0f} events/s)",
                    )
                )
            checks = [verify(store) for _ in range(runs)]
            report.add(
                Figure(
                    "B2r",
                    f"{kind} verify, {loans:,} loans",
                    events / median(checks),
                    "events/s",
                    runs=checks,
                    note=f"{events} events",
                )
            )
            space.drop(store)
        small, big = sizes
        growth = rates[big] / rates[small]
        report.add(
            Figure(
                "B2r",
                f"{kind} rebuild events/s, {big:,} / {small:,} loans",
                growth,
                "x",
                target=f">= {TARGET_GROWTH}x (must not fall)",
                met=growth >= TARGET_GROWTH,
            )
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kinds", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    os.environ.setdefault(MASTER_KEY_ENV, MasterKey.generate_text())
    kinds = tuple(kind.strip() for kind in args.kinds.split(",") if kind.strip())
    with workspace() as space:
        run(space, quick=args.quick, runs=max(1, args.runs), kinds=kinds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
