"""`loanledger demo` (and `make demo`): a synthetic book, day by day, on SQLite.

Generates `loans` applications from `seed` with `loanledger.entrypoints.synthetic`, records them
and closes every day for 18 months, then prints the five-category, aging and IFRS 9 summaries and
writes to the output directory:

- `journal.jsonl`: every command in the order it was entered (with a `close_day` line per day);
  it replays with `loanledger load` into an empty store and gives the same reports;
- `<report>.csv` and `<report>.xlsx` for `five_category`, `aging`, `ifrs9_stages` and
  `loan_ledger`, as of the last day;
- `aging_by_month.png`: loans per aging bucket at each month end;
- `provisions` and `kpi` as CSV and XLSX too, and the regulator's charts
  (`loanledger.reports.charts`) as PNG: `chart_aging.png` (aging by principal, loans past due
  on a second axis), `chart_npl_par.png`, `chart_roll_rates.png`, `chart_vintage.png`.

Without `--db` the store is `sqlite:///OUT/demo.db`, deleted first so that every run gives the
same book; a store given with `--db` must be empty (the demo never deletes a store it was given).

The book is entered day by day on a clock of its own (`synthetic_late.BookClock`: what is entered
on business day D is recorded at 18:00 of D in Asia/Shanghai), and a few facts are entered late,
so that reading the book `known_at` an earlier moment shows a difference; the demo lists them.

Personal data is encrypted with the master key from env `LOANLEDGER_MASTER_KEY`; without one the
demo makes a random key for its new store and saves it as `OUT/master.key` (readable by the owner
only), so that the store can be opened again (`LOANLEDGER_MASTER_KEY=$(cat OUT/master.key)`).
The library itself never invents a key for a store that outlives the process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loanledger.application import LoanLedger
from loanledger.domain.errors import DomainError
from loanledger.entrypoints.cli_charts import write_chart
from loanledger.entrypoints.console import plural, report_about
from loanledger.entrypoints.synthetic import SyntheticBook
from loanledger.entrypoints.synthetic_late import BookClock, LateFact, LateFacts
from loanledger.entrypoints.synthetic_mix import START
from loanledger.persistence.keys import MASTER_KEY_ENV, MasterKey
from loanledger.reports import charts, formats

SUMMARY_REPORTS = ("five_category", "aging", "ifrs9_stages")
"""Printed at the end and written as CSV and XLSX."""

FILE_REPORTS = (*SUMMARY_REPORTS, "loan_ledger", "provisions", "kpi")
"""Written as CSV and XLSX."""

DEFAULT_OUT = Path("loanledger-demo")
DEMO_DB_NAME = "demo.db"
DEMO_KEY_NAME = "master.key"


class DemoStoreNotEmptyError(DomainError):
    """The demo was given a store that already holds loans."""


@dataclass
class DemoResult:
    """What a demo run produced."""

    url: str
    as_of: date
    commands: int
    seconds: float
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    reports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    monthly_aging: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    late: list[LateFact] = field(default_factory=list)
    key_file: Path | None = None


def demo_url(out: Path) -> str:
    """The default demo store: a SQLite file in the output directory."""
    return f"sqlite:///{out / DEMO_DB_NAME}"


def _remove_default_store(out: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        (out / f"{DEMO_DB_NAME}{suffix}").unlink(missing_ok=True)


def _demo_master_key(out: Path, console: Console) -> str | None:
    """None when env `LOANLEDGER_MASTER_KEY` is set (it is used), else a new key saved in OUT."""
    if os.environ.get(MASTER_KEY_ENV):
        return None
    key = MasterKey.generate_text()
    path = out / DEMO_KEY_NAME
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    console.print(
        f"master key: {MASTER_KEY_ENV} is not set, so this demo store's personal data is "
        f"encrypted under a new random key saved in {path}"
    )
    return key


def is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


def run_demo(
    *,
    loans: int = 2000,
    seed: int = 7,
    db: str | None = None,
    out: Path = DEFAULT_OUT,
    console: Console | None = None,
) -> DemoResult:
    """Generate, record and report the demo book; see the module docstring."""
    console = console or Console()
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if db is None:
        _remove_default_store(out)
        url = demo_url(out)
    else:
        url = db
    key = _demo_master_key(out, console)
    clock = BookClock(START)
    ledger = LoanLedger.open(url, master_key=key, clock=clock)
    try:
        if ledger.earliest_effective_date() is not None:
            raise DemoStoreNotEmptyError(
                f"store {ledger.settings.redacted_url} already holds loans; the demo needs an "
                "empty store (or no --db, for a fresh sqlite:///OUT/demo.db)"
            )
        console.print(
            f"demo: {plural(loans, 'application')}, seed {seed}, "
            f"store {ledger.settings.redacted_url}"
        )
        result = _generate(ledger, clock, loans=loans, seed=seed, out=out, console=console)
        result.key_file = out / DEMO_KEY_NAME if key is not None else None
        result.url = ledger.settings.redacted_url
        step = time.perf_counter()
        _write_reports(ledger, result, out)
        _write_chart(result, out / "aging_by_month.png")
        result.files.append(out / "aging_by_month.png")
        for name in charts.CHARTS:
            path = out / f"chart_{name}.png"
            write_chart(ledger, name, result.as_of, path, book=f"demo book (seed {seed})")
            result.files.append(path)
        result.timings["final reports and chart"] = time.perf_counter() - step
        step = time.perf_counter()
        checked = ledger.verify()
        result.timings["verify"] = time.perf_counter() - step
    finally:
        ledger.close()
    result.seconds = time.perf_counter() - started
    for name in SUMMARY_REPORTS:
        rows = result.reports[name]
        title = f"{name} as of {result.as_of}"
        console.print(formats.to_table(rows, title=title, width=console.width, totals=True))
    console.print(
        f"verify: {'ok' if checked.ok else 'BROKEN'} ({plural(checked.loans_checked, 'loan')}, "
        f"{plural(checked.events_checked, 'event')})"
    )
    console.print("files: " + ", ".join(str(path) for path in result.files))
    if result.late:
        console.print(
            "entered late (ask with known_at to see the book before): "
            + ", ".join(fact.describe() for fact in result.late)
        )
    console.print(
        f"{plural(result.commands, 'command')} in {result.seconds:.1f} s ("
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.timings.items())
        + ")"
    )
    console.print(f"to look at this book: {open_hint(result)}", soft_wrap=True)
    return result


def open_hint(result: DemoResult) -> str:
    """The shell line that points the `loanledger` command at the demo's store and key."""
    hint = f"export LOANLEDGER_DB={result.url}"
    if result.key_file is not None:
        hint += f" LOANLEDGER_MASTER_KEY=$(cat {result.key_file})"
    return hint


def _generate(
    ledger: LoanLedger, clock: BookClock, *, loans: int, seed: int, out: Path, console: Console
) -> DemoResult:
    late = LateFacts()
    book = SyntheticBook(ledger, loans=loans, seed=seed, clock=clock, late=late)
    result = DemoResult(url="", as_of=book.end, commands=0, seconds=0.0)
    journal_path = out / "journal.jsonl"
    days = (book.end - book.start).days + 1
    with (
        journal_path.open("w", encoding="utf-8") as journal,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True) if console.file is sys.stdout else console,
        ) as progress,
    ):
        task = progress.add_task("days", total=days)
        started = time.perf_counter()
        aging_seconds = 0.0

        def emit(command: dict[str, Any], handle: IO[str] = journal) -> None:
            handle.write(json.dumps(command, ensure_ascii=False) + "\n")

        def closed(day: date, _: dict[str, Any]) -> None:
            nonlocal aging_seconds
            if is_month_end(day):
                progress.update(task, description=f"{day} aging")
                step = time.perf_counter()
                result.monthly_aging[day] = ledger.report("aging", as_of=day)
                aging_seconds += time.perf_counter() - step
            progress.update(task, advance=1, description=f"{day}")

        summary = book.run(emit, closed)
    result.timings["book, day by day"] = time.perf_counter() - started - aging_seconds
    result.timings["month-end aging reports"] = aging_seconds
    result.commands = summary.commands
    result.late = late.entered
    result.files.append(journal_path)
    console.print(
        f"book: {plural(summary.applications, 'application')}, {summary.disbursed} disbursed, "
        f"{summary.rejected} rejected, {summary.withdrawn} withdrawn; behaviours "
        + ", ".join(f"{name} {count}" for name, count in sorted(summary.behaviours.items()))
    )
    return result


def _write_reports(ledger: LoanLedger, result: DemoResult, out: Path) -> None:
    """The report files (CSV and XLSX) as of the book's last day, and the archive of one
    defaulted loan (贷款业务管理档案) as a page a person can read and print."""
    for name in FILE_REPORTS:
        rows = ledger.report(name, as_of=result.as_of)
        result.reports[name] = rows
        csv_path = out / f"{name}.csv"
        csv_path.write_text(formats.to_csv(rows), encoding="utf-8")
        xlsx_path = out / f"{name}.xlsx"
        about = report_about(ledger, name, result.as_of)
        formats.write_xlsx(
            rows, xlsx_path, title=name, about=about, totals=name in formats.TOTAL_REPORTS
        )
        result.files.extend([csv_path, xlsx_path])
    defaulted = defaulted_loan(result.reports["loan_ledger"])
    if defaulted is not None:
        archive_path = out / f"archive_{quote(defaulted, safe='')}.html"  # no "/" in a name
        archive_path.write_text(ledger.archive_html(defaulted), encoding="utf-8")
        result.files.append(archive_path)


def defaulted_loan(rows: list[dict[str, Any]]) -> str | None:
    """The loan whose archive the demo writes: the first written off, else the first in legal
    recovery, else the one longest past due (None when every loan is current)."""
    for status in ("written_off", "legal_recovery"):
        found = [row["loan_id"] for row in rows if row["status"] == status]
        if found:
            return str(min(found))
    overdue = [row for row in rows if row["days_past_due"] > 0]
    if not overdue:
        return None
    return str(max(overdue, key=lambda row: (row["days_past_due"], row["loan_id"]))["loan_id"])


def _write_chart(result: DemoResult, path: Path) -> None:
    """Loans per aging bucket at each month end: all buckets, and the overdue ones alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    months = sorted(result.monthly_aging)
    labels = [month.strftime("%Y-%m") for month in months]
    buckets = [row["bucket"] for row in result.monthly_aging[months[0]]] if months else []
    counts = {
        bucket: [
            next(row["loans"] for row in result.monthly_aging[month] if row["bucket"] == bucket)
            for month in months
        ]
        for bucket in buckets
    }
    colours = plt.get_cmap("RdYlGn_r")
    figure, (every, overdue) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    for axes, shown, title in (
        (every, buckets, "Loans per aging bucket at each month end"),
        (overdue, buckets[1:], "Overdue buckets only (M1 and worse)"),
    ):
        base = [0] * len(months)
        for index, bucket in enumerate(buckets):
            if bucket not in shown:
                continue
            colour = colours(index / max(1, len(buckets) - 1))
            axes.bar(labels, counts[bucket], bottom=base, label=bucket, color=colour)
            base = [low + high for low, high in zip(base, counts[bucket], strict=True)]
        axes.set_title(title)
        axes.set_ylabel("loans")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylim(0, max([*base, 1]) * 1.2)
        axes.legend(loc="upper left", ncols=8, fontsize="small")
    overdue.tick_params(axis="x", labelrotation=45)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
