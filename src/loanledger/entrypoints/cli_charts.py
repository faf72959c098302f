"""`loanledger chart NAME --as-of D --output PATH`: the regulator's charts as PNG or SVG
(`loanledger.reports.charts`)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from loanledger.application import LoanLedger
from loanledger.entrypoints.console import (
    AsOfOption,
    DbOption,
    KnownAtOption,
    Refusal,
    opened_ledger,
    query_dates,
    refusals,
)
from loanledger.reports import charts

CHART_SUFFIXES = (".png", ".svg")


def register(app: typer.Typer) -> None:
    app.command("chart")(chart)


def write_chart(
    ledger: LoanLedger,
    name: str,
    day: date,
    path: Path,
    *,
    known_at: datetime | None = None,
    book: str | None = None,
) -> None:
    """Chart `name` of the ledger's book as of `day` (as known at `known_at`) to `path`."""

    def report(report_name: str, on: date) -> list[dict[str, Any]]:
        return ledger.report(report_name, as_of=on, known_at=known_at)

    data = charts.collect(name, report, day, ledger.earliest_effective_date())
    label = book if book is not None else ledger.settings.redacted_url
    charts.draw(name, data, path, book=label, as_of=day)


def chart(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help=f"One of: {', '.join(charts.CHARTS)}.")
    ],
    as_of: AsOfOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The file to write: .png or .svg.")
    ],
    known_at: KnownAtOption = None,
    db: DbOption = None,
) -> None:
    """Draw a chart of the book as of a business date (PNG or SVG, by the output's suffix)."""
    with refusals():
        if name not in charts.CHARTS:
            raise Refusal(f"unknown chart {name!r}; charts: {', '.join(charts.CHARTS)}")
        if output.suffix.lower() not in CHART_SUFFIXES:
            raise Refusal(f"--output must end in .png or .svg, got {output.name!r}")
        day, moment = query_dates(as_of, known_at)
        with opened_ledger(db) as ledger:
            write_chart(ledger, name, day, output, known_at=moment)
    typer.echo(f"wrote chart {name} as of {day.isoformat()} to {output}")
