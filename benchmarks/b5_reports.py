"""B5 portfolio reports (`five_category`, `aging`, `loan_ledger`) as of an arbitrary date.

Each report is timed cold (a new LoanLedger per run, as a `loanledger report` command sees it;
this is the figure judged against the target) and warm (again on the same ledger, whose bounded
cache of decoded events then holds the whole book)."""

from __future__ import annotations

from datetime import date

from benchmarks.common import Figure, Report, Store, median, profile, timed
from loanledger import LoanLedger

TARGET_SECONDS = 2.0
REPORTS = ("five_category", "aging", "loan_ledger")
AS_OF = date(2024, 5, 17)
"""Mid-book: every loan is disbursed and has two to four installments behind it."""


def _cold_and_warm(store: Store, name: str) -> tuple[float, float]:
    ledger = LoanLedger.open(store.url)
    try:
        ledger.projections.catch_up()
        cold = timed(lambda: ledger.report(name, AS_OF))
        warm = timed(lambda: ledger.report(name, AS_OF))
        return cold, warm
    finally:
        ledger.close()


def run(store: Store, loans: int, *, runs: int) -> Report:
    report = Report("B5", "portfolio reports")
    events = store.count()
    report.size(
        f"{loans} loans, {events} events (the B3 big book: loaded, renamed copies, closed through "
        f"2024-07-29), SQLite, as of {AS_OF}"
    )
    for name in REPORTS:
        pairs = [_cold_and_warm(store, name) for _ in range(runs)]
        cold = median([pair[0] for pair in pairs])
        warm = median([pair[1] for pair in pairs])
        figure = report.add(
            Figure(
                "B5",
                f"{name} as of {AS_OF}, cold ledger",
                cold,
                "s",
                target=f"<= {TARGET_SECONDS:.0f} s",
                met=cold <= TARGET_SECONDS,
                runs=[pair[0] for pair in pairs],
                note=f"{loans / cold:,.0f} loans/s",
            )
        )
        report.add(
            Figure(
                "B5",
                f"{name} as of {AS_OF}, warm ledger",
                warm,
                "s",
                target=f"<= {TARGET_SECONDS:.0f} s",
                met=warm <= TARGET_SECONDS,
                runs=[pair[1] for pair in pairs],
                note=f"{loans / warm:,.0f} loans/s",
            )
        )
        if not figure.met:
            ledger = LoanLedger.open(store.url)
            try:
                ledger.projections.catch_up()
                report.profiles[f"{name}, cold ({loans} loans)"] = profile(
                    lambda name=name, ledger=ledger: ledger.report(name, AS_OF)
                )
            finally:
                ledger.close()
    return report
