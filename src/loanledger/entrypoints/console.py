"""What every `loanledger` command shares: exit statuses, common options, refusals as one line.

The command modules (`cli`, `cli_personal_data`, `cli_proof`) and nothing else import this, so
each command reads the same `--db`, `--as-of`, `--known-at`, `--format` and `--output`, and every
refusal ends the same way: one `error:` line on stderr and the documented exit status.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from loanledger.application import LoanLedger, parse_as_of, parse_known_at
from loanledger.domain.errors import DomainError, LoanLedgerError
from loanledger.reports import formats

EXIT_REFUSED = 2
"""Exit status for refused input: a bad date, an unknown report or format, a refused line."""

EXIT_FAILED = 1
"""Exit status for a broken hash chain or any other library error."""

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        help="Store URL (default: env LOANLEDGER_DB, else sqlite:///loanledger.db).",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    str, typer.Option("--as-of", metavar="YYYY-MM-DD", help="Business date (end of that day).")
]
KnownAtOption = Annotated[
    str | None,
    typer.Option(
        "--known-at",
        metavar="ISO-DATETIME",
        help="Only facts recorded at or before this moment (with a UTC offset).",
    ),
]
FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="Output format: table, json, csv or xlsx.")
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of stdout (xlsx needs it)."),
]
UnmaskedOption = Annotated[
    bool,
    typer.Option(
        "--unmasked",
        help="Include full names and identity-document numbers (logged on stderr).",
    ),
]
WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        help="Partitions of loans run in parallel on Dask (a LocalCluster of this many processes "
        "unless --scheduler is given).",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler", metavar="ADDR", help="An existing Dask scheduler (tcp://host:port)."
    ),
]


class Refusal(Exception):
    """Input the CLI refuses before it reaches the ledger."""


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def fail(message: str, code: int) -> NoReturn:
    one_line = " ".join(str(message).split())
    typer.echo(f"error: {one_line}", err=True)
    raise typer.Exit(code)


@contextmanager
def refusals() -> Iterator[None]:
    """Turn refusals into one line on stderr and the documented exit status."""
    try:
        yield
    except (DomainError, Refusal) as error:
        fail(str(error), EXIT_REFUSED)
    except LoanLedgerError as error:
        fail(str(error), EXIT_FAILED)
    except UnicodeDecodeError as error:
        fail(f"the journal is not UTF-8 text: {error}", EXIT_REFUSED)
    except OSError as error:
        fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "), EXIT_REFUSED)


@contextmanager
def opened_ledger(db: str | None, *, withhold_personal_data: bool = False) -> Iterator[LoanLedger]:
    """The ledger at `db`. Commands that print no personal data pass `withhold_personal_data`,
    so that they run without a master key (names then read as `[withheld]` inside)."""
    # An unreachable store raises StoreUnavailableError (a LoanLedgerError): one line, exit 1.
    ledger = LoanLedger.open(db, withhold_personal_data=withhold_personal_data)
    try:
        yield ledger
    finally:
        ledger.close()


def progress_bar(console: Console | None = None) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=False,
    )


def query_dates(as_of: str, known_at: str | None) -> tuple[date, datetime | None]:
    """A query's business date and recorded-time cut, parsed (a malformed one is refused)."""
    return parse_as_of(as_of), parse_known_at(known_at)


def check_format(fmt: str, allowed: tuple[str, ...] = formats.FORMATS) -> str:
    if fmt not in allowed:
        raise Refusal(f"unknown format {fmt!r}; formats: {', '.join(allowed)}")
    return fmt


def emit_rows(
    rows: list[dict[str, Any]],
    fmt: str,
    output: Path | None,
    title: str,
    sheet: str,
    about: dict[str, str] | None = None,
) -> None:
    """Write `rows` in `fmt` to `output` (or stdout). `sheet` names the report (summaries end
    with a totals row in a table and a spreadsheet); `about` is the spreadsheet's title block."""
    totals = sheet in formats.TOTAL_REPORTS
    if fmt == "xlsx":
        if output is None:
            raise Refusal("--format xlsx needs --output PATH")
        formats.write_xlsx(rows, output, title=sheet, about=about, totals=totals)
    elif fmt == "table":
        if output is None:
            console = stdout_console()
            console.print(formats.to_table(rows, title=title, width=console.width, totals=totals))
            return
        with output.open("w", encoding="utf-8") as handle:
            Console(file=handle, width=200, no_color=True).print(
                formats.to_table(rows, title=title, width=200, totals=totals)
            )
    else:
        text = formats.render(rows, fmt)
        if output is None:
            sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
            return
        output.write_text(text if fmt == "csv" else text + "\n", encoding="utf-8")
    typer.echo(f"wrote {plural(len(rows), 'row')} to {output}")


def report_about(
    ledger: LoanLedger,
    report: str,
    as_of: date,
    known_at: datetime | None = None,
    since: date | None = None,
) -> dict[str, str]:
    """A report's title block in a spreadsheet: which book, which report, as of when, as known
    when, under which rule set."""
    about = {"book": ledger.settings.redacted_url, "report": report}
    if since is not None:
        about["from"] = since.isoformat()
    about["as of"] = as_of.isoformat()
    about["known at"] = known_at.isoformat() if known_at else "every fact recorded when written"
    about["rule set"] = ledger.rules_on(as_of, known_at).version
    return about


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 command`, `2 commands` (or `many` for an irregular plural), with separators."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


@contextmanager
def guarded_ledger(db: str | None) -> Iterator[LoanLedger]:
    with refusals(), opened_ledger(db) as ledger:
        yield ledger


@contextmanager
def journal_file(file: str) -> Iterator[IO[str]]:
    """The journal as a seekable text file (stdin is spooled to a temporary file)."""
    if file == "-":
        with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
            shutil.copyfileobj(sys.stdin, spool)
            spool.seek(0)
            yield spool
        return
    path = Path(file)
    if not path.is_file():
        raise Refusal(f"no journal file {file!r}")
    with path.open(encoding="utf-8") as handle:
        yield handle
