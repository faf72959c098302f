"""`loanledger`: the command line (DESIGN §8).

Every command takes `--db URL` (default: env `LOANLEDGER_DB`, else `sqlite:///loanledger.db`).
A refusal (any `DomainError`: a bad date, an unknown report, a journal line the ledger refuses)
prints one line on stderr and exits 2; a broken hash chain makes `verify` exit 1; any other
library error exits 1. Output for machines (`--format json|csv`) goes to stdout alone, or to
`--output PATH`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
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

from loanledger.application import REPORTS, LoanLedger, parse_as_of, parse_known_at
from loanledger.domain.commands import parse_command
from loanledger.domain.errors import DomainError, LoanLedgerError, StoreUnavailableError
from loanledger.entrypoints import cli_proof
from loanledger.entrypoints.projection_status import projection_status
from loanledger.journal import numbered_lines, parse_line
from loanledger.persistence.keys import MasterKey
from loanledger.persistence.migrate import migrate as apply_migrations
from loanledger.persistence.urls import parse_store_url, resolve_store_url
from loanledger.reports import arbitration, formats
from loanledger.reports.explain import explanation_lines

EXIT_REFUSED = 2
"""Exit status for refused input: a bad date, an unknown report or format, a refused line."""

EXIT_FAILED = 1
"""Exit status for a broken hash chain or any other library error."""

NEW_MASTER_KEY_ENV = "LOANLEDGER_NEW_MASTER_KEY"
"""Where `rotate-master-key` reads the key it rotates to."""

app = typer.Typer(
    name="loanledger",
    help="Event-sourced loan ledger: record journals, close days, report, verify.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(
    name="export",
    help="Regulatory and legal exports: loan-level data, the batch arbitration package.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(export_app, name="export")

LEDGER_REPORTS = ("trial_balance", "journal")
"""Reports `LoanLedger.report` builds from the general ledger rather than from `REPORTS`."""
REPORT_NAMES = tuple(sorted([*REPORTS, *LEDGER_REPORTS]))

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


class Refusal(Exception):
    """Input the CLI refuses before it reaches the ledger."""


def _stdout() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _fail(message: str, code: int) -> NoReturn:
    one_line = " ".join(str(message).split())
    typer.echo(f"error: {one_line}", err=True)
    raise typer.Exit(code)


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn refusals into one line on stderr and the documented exit status."""
    try:
        yield
    except (DomainError, Refusal) as error:
        _fail(str(error), EXIT_REFUSED)
    except LoanLedgerError as error:
        _fail(str(error), EXIT_FAILED)
    except UnicodeDecodeError as error:
        _fail(f"the journal is not UTF-8 text: {error}", EXIT_REFUSED)
    except OSError as error:
        _fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "), EXIT_REFUSED)


@contextmanager
def _ledger(db: str | None) -> Iterator[LoanLedger]:
    # An unreachable store raises StoreUnavailableError (a LoanLedgerError): one line, exit 1.
    ledger = LoanLedger.open(db)
    try:
        yield ledger
    finally:
        ledger.close()


def _progress(console: Console | None = None) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=False,
    )


def _when(as_of: str, known_at: str | None) -> tuple[date, datetime | None]:
    """A query's business date and recorded-time cut, parsed (a malformed one is refused)."""
    return parse_as_of(as_of), parse_known_at(known_at)


def _check_format(fmt: str, allowed: tuple[str, ...] = formats.FORMATS) -> str:
    if fmt not in allowed:
        raise Refusal(f"unknown format {fmt!r}; formats: {', '.join(allowed)}")
    return fmt


def _emit_rows(
    rows: list[dict[str, Any]], fmt: str, output: Path | None, title: str, sheet: str
) -> None:
    """Write `rows` in `fmt` to `output` (or stdout)."""
    if fmt == "xlsx":
        if output is None:
            raise Refusal("--format xlsx needs --output PATH")
        formats.write_xlsx(rows, output, title=sheet)
    elif fmt == "table":
        table = formats.to_table(rows, title=title)
        if output is None:
            _stdout().print(table)
            return
        with output.open("w", encoding="utf-8") as handle:
            Console(file=handle, width=200, no_color=True).print(table)
    else:
        text = formats.render(rows, fmt)
        if output is None:
            sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
            return
        output.write_text(text if fmt == "csv" else text + "\n", encoding="utf-8")
    typer.echo(f"wrote {len(rows)} rows to {output}")


# --- commands ------------------------------------------------------------------------------------


@app.command()
def demo(
    loans: Annotated[int, typer.Option(help="How many applications the book has.", min=1)] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the generator (same seed, same book).")] = 7,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="Store URL (default: sqlite:///OUT/demo.db, deleted first). A given store must "
            "be empty.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the journal, reports and chart.")
    ] = Path("loanledger-demo"),
) -> None:
    """Generate a synthetic book day by day, print portfolio reports, write files to --out."""
    from loanledger.entrypoints.demo import run_demo

    with _refusals():
        run_demo(loans=loans, seed=seed, db=db, out=out, console=_stdout())


@app.command()
def load(
    file: Annotated[str, typer.Argument(metavar="FILE", help="JSON Lines journal; - for stdin.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate every line; record nothing.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Apply a journal (JSON Lines, one command a line) in order.

    Every line is parsed and validated first, so a malformed line records nothing at all. A line
    the ledger then refuses (a broken rule) stops the load: the lines before it stay applied.
    """
    with _refusals(), _journal(file) as handle:
        commands = _validate(handle)
        if dry_run:
            typer.echo(f"ok: {commands} commands valid; nothing recorded (dry run)")
            return
        handle.seek(0)
        with _ledger(db) as ledger, _progress() as progress:
            task = progress.add_task("load", total=commands)
            consumed = 0

            def ticking() -> Iterator[str]:
                nonlocal consumed
                for line in handle:
                    if line.strip():
                        consumed += 1
                        if consumed > 1:
                            progress.advance(task)
                    yield line

            try:
                result = ledger.load(ticking())
            except DomainError as error:
                applied = max(consumed - 1, 0)
                raise type(error)(
                    f"{error} (the {applied} commands before it stay applied)"
                ) from error
            progress.advance(task)
        typer.echo(f"loaded {result['applied']} commands into {ledger.settings.redacted_url}")


@contextmanager
def _journal(file: str) -> Iterator[IO[str]]:
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


def _validate(lines: IO[str]) -> int:
    """Parse and validate every line (JSON, then the command model); return how many."""
    count = 0
    for number, line in numbered_lines(lines):
        try:
            parse_command(parse_line(line))
        except DomainError as error:
            raise type(error)(f"line {number}: {error}; nothing recorded") from error
        count += 1
    return count


@app.command("close-day")
def close_day(
    through: Annotated[
        str, typer.Option("--through", metavar="YYYY-MM-DD", help="Last business date to close.")
    ],
    db: DbOption = None,
) -> None:
    """Close every date from the day after the last closed one (or from the earliest effective
    date when none was closed) through --through."""
    with _refusals():
        last_day = parse_as_of(through)
        with _ledger(db) as ledger:
            last_closed = ledger.last_closed_day()
            first = (
                last_closed + timedelta(days=1)
                if last_closed is not None
                else ledger.earliest_effective_date()
            )
            if first is None:
                typer.echo("nothing to close: the ledger records no loan yet")
                return
            if first > last_day:
                typer.echo(f"nothing to close: closed through {last_closed} already")
                return
            days = (last_day - first).days + 1
            loans = events = 0
            with _progress() as progress:
                task = progress.add_task("close-day", total=days)
                for offset in range(days):
                    day = first + timedelta(days=offset)
                    progress.update(task, description=f"close-day {day.isoformat()}")
                    result = ledger.close_day(day)
                    loans += int(result["loans_processed"])
                    events += int(result["events_recorded"])
                    progress.advance(task)
        typer.echo(
            f"closed {days} days {first.isoformat()}..{last_day.isoformat()}: "
            f"{loans} loan-days processed, {events} events recorded"
        )


@app.command()
def report(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help=f"One of: {', '.join(REPORT_NAMES)}.")
    ],
    as_of: AsOfOption,
    known_at: KnownAtOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="YYYY-MM-DD",
            help="journal only: lines dated from this date (default: all) to --as-of.",
        ),
    ] = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
) -> None:
    """Print a §8 report as of a business date."""
    with _refusals():
        if name not in REPORT_NAMES:
            raise Refusal(f"unknown report {name!r}; reports: {', '.join(REPORT_NAMES)}")
        if since is not None and name != "journal":
            raise Refusal(f"--since applies to the journal report only, not to {name!r}")
        day = parse_as_of(as_of)
        try:
            start = parse_as_of(since) if since is not None else None
        except DomainError as error:
            raise Refusal(f"--since must be an ISO date 'YYYY-MM-DD', got {since!r}") from error
        moment = parse_known_at(known_at)
        _check_format(fmt)
        with _ledger(db) as ledger:
            rows = ledger.report(name, as_of=day, known_at=moment, since=start)
        period = f"{start.isoformat()}..{day.isoformat()}" if start else f"as of {day.isoformat()}"
        title = f"{name} {period}" + (f", known at {known_at}" if known_at else "")
        _emit_rows(rows, fmt, output, title=title, sheet=name)


@app.command()
def schedule(
    loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", metavar="YYYY-MM-DD", help="Schedule in force then (default: latest)."
        ),
    ] = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
) -> None:
    """Print a loan's repayment schedule in force."""
    with _refusals():
        day: date | None = parse_as_of(as_of) if as_of is not None else None
        _check_format(fmt)
        with _ledger(db) as ledger:
            rows = ledger.schedule(loan_id, as_of=day)
        title = f"schedule of {loan_id}" + (f" as of {day.isoformat()}" if day else "")
        _emit_rows(rows, fmt, output, title=title, sheet="schedule")


@app.command()
def loan(
    loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
    as_of: AsOfOption,
    known_at: KnownAtOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    db: DbOption = None,
) -> None:
    """Print one loan's §8 fields as of a business date."""
    with _refusals():
        day, moment = _when(as_of, known_at)
        _check_format(fmt, ("table", "json"))
        with _ledger(db) as ledger:
            view = ledger.loan(loan_id, as_of=day, known_at=moment)
        if fmt == "json":
            typer.echo(json.dumps(view, ensure_ascii=False, indent=2))
        else:
            _stdout().print(formats.key_value_table(view, title=f"{loan_id} as of {day}"))


@app.command()
def installments(
    loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
    as_of: AsOfOption,
    known_at: KnownAtOption = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
) -> None:
    """Print each installment with what is due, paid and outstanding of it, and its status."""
    with _refusals():
        day, moment = _when(as_of, known_at)
        _check_format(fmt)
        with _ledger(db) as ledger:
            rows = ledger.installments(loan_id, as_of=day, known_at=moment)
        _emit_rows(
            rows, fmt, output, title=f"installments of {loan_id} as of {day}", sheet="installments"
        )


@app.command()
def statement(
    loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
    from_date: Annotated[
        str, typer.Option("--from", metavar="YYYY-MM-DD", help="First business date.")
    ],
    to_date: Annotated[
        str, typer.Option("--to", metavar="YYYY-MM-DD", help="Last business date (end of day).")
    ],
    known_at: KnownAtOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    db: DbOption = None,
) -> None:
    """Print a loan's statement: opening balances, money movements, closing balances."""
    with _refusals():
        start, end = parse_as_of(from_date), parse_as_of(to_date)
        moment = parse_known_at(known_at)
        _check_format(fmt, ("table", "json"))
        with _ledger(db) as ledger:
            result = ledger.statement(loan_id, start, end, known_at=moment)
        if fmt == "json":
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
            return
        console = _stdout()
        title = f"statement of {loan_id}, {start} to {end}"
        console.print(formats.key_value_table(result["opening"], title=f"{title}: opening"))
        rows = [
            {
                "on": movement["on"],
                "kind": movement["kind"],
                "reference": movement["reference"],
                "amount": movement["amount"],
                **{f"to_{name}": value for name, value in movement.get("allocation", {}).items()},
                "principal_after": movement["balances"]["principal_outstanding"],
                "late": "yes" if movement["recorded_late"] else "",
            }
            for movement in result["movements"]
        ]
        if rows:
            console.print(formats.to_table(rows, title=f"{title}: movements"))
        console.print(formats.key_value_table(result["closing"], title=f"{title}: closing"))


@app.command()
def explain(
    loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
    field: Annotated[str, typer.Argument(metavar="FIELD", help="A field of the loan view.")],
    as_of: AsOfOption,
    known_at: KnownAtOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="tree or json.")] = "tree",
    db: DbOption = None,
) -> None:
    """Explain a figure of the loan view: the rule, what it is made of, the facts it rests on."""
    with _refusals():
        day, moment = _when(as_of, known_at)
        _check_format(fmt, ("tree", "json"))
        with _ledger(db) as ledger:
            result = ledger.explain(loan_id, field, as_of=day, known_at=moment)
        if fmt == "json":
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
            return
        for line in explanation_lines(result):
            typer.echo(line)


@app.command()
def preview(
    file: Annotated[str, typer.Argument(metavar="FILE", help="JSON Lines journal; - for stdin.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="YYYY-MM-DD", help="Date of both views (default: latest)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    db: DbOption = None,
) -> None:
    """Run a journal on a what-if branch and print each loan before and after; records nothing."""
    with _refusals():
        day = parse_as_of(as_of) if as_of is not None else None
        _check_format(fmt, ("table", "json"))
        commands = []
        with _journal(file) as lines:
            for number, line in numbered_lines(lines):
                try:
                    commands.append(parse_line(line))
                except DomainError as error:
                    raise type(error)(f"line {number}: {error}; nothing previewed") from error
        with _ledger(db) as ledger:
            result = ledger.preview(commands, as_of=day)
        if fmt == "json":
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
            return
        console = _stdout()
        for loan_id, sides in result["loans"].items():
            before, after = sides["before"]["loan"] or {}, sides["after"]["loan"] or {}
            rows = [
                {"field": name, "before": before.get(name), "after": after.get(name)}
                for name in (after or before)
                if not isinstance((after or before).get(name), list)
            ]
            console.print(formats.to_table(rows, title=f"{loan_id} as of {result['as_of']}"))
        for refusal in result["refusals"]:
            typer.echo(f"refused: command {refusal['line']}: {refusal['message']}", err=True)
        typer.echo("nothing recorded (preview)")


@app.command()
def verify(
    db: DbOption = None,
    against: Annotated[
        Path | None,
        typer.Option("--against", help="Also hold the book against this checkpoint (JSON)."),
    ] = None,
) -> None:
    """Recompute every loan's hash chain and hold the events against the stored checkpoints (and
    `--against`); exit 1 and name the first break if one is broken."""
    with _refusals(), _ledger(db) as ledger:
        result = ledger.verify(against=against)
    typer.echo(
        f"verify: {'ok' if result.ok else 'BROKEN'}: {result.loans_checked} loans, "
        f"{result.events_checked} events checked"
    )
    if not result.ok:
        typer.echo(f"first break: {result.first_break}", err=True)
        raise typer.Exit(EXIT_FAILED)


@app.command()
def rebuild(db: DbOption = None) -> None:
    """Drop every projection and rebuild it from the events."""
    with _refusals(), _ledger(db) as ledger:
        ledger.rebuild()
        typer.echo(f"rebuilt projections of {ledger.settings.redacted_url}")


@app.command()
def project(
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Keep projecting until Ctrl-C or SIGTERM: wake on NOTIFY (PostgreSQL) and poll.",
        ),
    ] = False,
    poll: Annotated[
        float,
        typer.Option("--poll", metavar="SECONDS", min=0.01, help="Poll interval with --follow."),
    ] = 1.0,
    status: Annotated[
        bool,
        typer.Option(
            "--status",
            help="Catch up, then print each projection's position, lag and stuck event (JSON).",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Catch the read models up with the events once, or keep them caught up (--follow)."""
    with _refusals(), _ledger(db) as ledger:
        url = ledger.settings.redacted_url
        if status:
            rows = projection_status(ledger)
            sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
            if any(row["stuck"] for row in rows):
                raise typer.Exit(code=1)
            return
        if not follow:
            processed = ledger.projections.catch_up()
            typer.echo(
                f"projected {_events(processed)} into {url}; "
                f"projections at position {ledger.projections.caught_up_to}"
            )
            return
        projected = _follow(ledger, poll)
    typer.echo(f"stopped: {_events(projected)} projected while following {url}")


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


def _follow(ledger: LoanLedger, poll: float) -> int:
    """Run the ledger's follower here until SIGINT or SIGTERM sets its stop event, with a status
    line on stderr; return how many events it projected."""
    stop = threading.Event()

    def stop_following(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, stop_following) for sig in (signal.SIGINT, signal.SIGTERM)}
    wakes = "wakes on NOTIFY, " if ledger.settings.kind == "postgresql" else ""
    console = Console(stderr=True, highlight=False)
    console.print(
        f"following {ledger.settings.redacted_url} ({wakes}polls every {poll:g} s; Ctrl-C stops)"
    )
    projected = ledger.projections.catch_up()  # so that the status starts at the position

    def status_text() -> str:
        at = ledger.projections.caught_up_to
        return f"{_events(projected)} projected, at position {at}; waiting"

    try:
        with console.status(status_text()) as status:

            def on_batch(processed: int) -> None:
                nonlocal projected
                projected += processed
                status.update(status_text())

            ledger.follow_projections(stop, poll, on_batch=on_batch)
            return projected
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command()
def archive(
    loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="json or html.")] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Print a loan's archive (贷款业务管理档案): every fact in chain order with its proof."""
    with _refusals():
        _check_format(fmt, ("json", "html"))
        with _ledger(db) as ledger:
            if fmt == "json":
                text = json.dumps(ledger.archive(loan_id), ensure_ascii=False, indent=2) + "\n"
            else:
                text = ledger.archive_html(loan_id)
        if output is None:
            sys.stdout.write(text)
            return
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote the {fmt} archive of {loan_id} to {output}")


@app.command("migrate")
def migrate_command(db: DbOption = None) -> None:
    """Apply the pending PostgreSQL migrations (for a DBA-managed schema); print each one."""
    with _refusals():
        settings = parse_store_url(resolve_store_url(db))
        if settings.kind != "postgresql":
            typer.echo(
                f"nothing to migrate: {settings.kind} stores have no migrations; the library "
                "creates their tables itself when it opens them"
            )
            return
        try:
            applied = apply_migrations(settings.url)
        except LoanLedgerError:
            raise
        except Exception as error:  # psycopg's own errors: server down, no privilege, bad SQL
            notes = " ".join(getattr(error, "__notes__", []))
            raise StoreUnavailableError(
                f"cannot migrate {settings.redacted_url}: {error} {notes}".strip()
            ) from error
        for name in applied:
            typer.echo(f"applied {name}")
        if not applied:
            typer.echo("nothing to apply")


def _user() -> str:
    """Who runs the command, for the personal-data log (the login name, else `unknown`)."""
    return os.environ.get("USER") or "unknown"


def _log_unmasked() -> None:
    """The audit line every export of unmasked personal data leaves on stderr (the ledger also
    records it in its personal-data log and on the `loanledger.audit` logger)."""
    moment = datetime.now(UTC).isoformat(timespec="seconds")
    typer.echo(f"UNMASKED export of personal data by {_user()} at {moment}", err=True)


@app.command("forget-borrower")
def forget_borrower(
    borrower_id: Annotated[str, typer.Argument(metavar="BORROWER_ID")],
    db: DbOption = None,
) -> None:
    r"""Crypto-shred a borrower: destroy their data key, so their name and identity number read
    as \[erased] everywhere; figures, reports and verify are unchanged. Logged; idempotent."""
    with _refusals(), _ledger(db) as ledger:
        result = ledger.forget_borrower(borrower_id, actor=_user())
    if result["already_forgotten"]:
        typer.echo(f"borrower {borrower_id} was already forgotten at {result['forgotten_at']}")
        return
    typer.echo(
        f"forgot borrower {borrower_id} at {result['forgotten_at']}: personal data of "
        f"{len(result['loans'])} loan(s) now reads as [erased]"
    )


@app.command("forget-guarantor")
def forget_guarantor(
    guarantor_id: Annotated[str, typer.Argument(metavar="GUARANTOR_ID")],
    db: DbOption = None,
) -> None:
    r"""Crypto-shred a guarantor the same way: their name reads as \[erased]. Logged; idempotent."""
    with _refusals(), _ledger(db) as ledger:
        result = ledger.forget_guarantor(guarantor_id, actor=_user())
    if result["already_forgotten"]:
        typer.echo(f"guarantor {guarantor_id} was already forgotten at {result['forgotten_at']}")
        return
    typer.echo(f"forgot guarantor {guarantor_id} at {result['forgotten_at']}")


@app.command("new-master-key")
def new_master_key() -> None:
    """Print a new random master key (base64 of 32 bytes) for LOANLEDGER_MASTER_KEY."""
    typer.echo(MasterKey.generate_text())


@app.command("rotate-master-key")
def rotate_master_key(db: DbOption = None) -> None:
    """Re-wrap every data key under env LOANLEDGER_NEW_MASTER_KEY (the current key stays in
    LOANLEDGER_MASTER_KEY until this finishes); no event is touched. Keys never go on the
    command line, where other users could read them."""
    with _refusals():
        new = os.environ.get(NEW_MASTER_KEY_ENV)
        if not new:
            raise Refusal(f"set {NEW_MASTER_KEY_ENV} to the new master key")
        with _ledger(db) as ledger:
            result = ledger.rotate_master_key(new, actor=_user())
    typer.echo(
        f"re-wrapped {result['data_keys_rewrapped']} data keys under master key "
        f"{result['master_key_id']}; now set LOANLEDGER_MASTER_KEY to the new key"
    )


@export_app.command("loan-level")
def export_loan_level(
    as_of: AsOfOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
    known_at: KnownAtOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or xlsx.")] = "csv",
    unmasked: UnmaskedOption = False,
    db: DbOption = None,
) -> None:
    """Write the loan-level report (个人信贷分户账), personal data masked unless --unmasked."""
    with _refusals():
        day, moment = _when(as_of, known_at)
        _check_format(fmt, ("csv", "xlsx"))
        if unmasked:
            _log_unmasked()
        with _ledger(db) as ledger:
            rows = ledger.export_loan_level(day, moment, unmasked=unmasked, actor=_user())
        _emit_rows(rows, fmt, output, title=f"loan_level as of {day}", sheet="loan_level")


@export_app.command("arbitration")
def export_arbitration(
    as_of: AsOfOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="PATH.zip", help="The zip file to write.")
    ],
    unmasked: UnmaskedOption = False,
    db: DbOption = None,
) -> None:
    """Write the batch arbitration package (批量仲裁): one evidence bundle per loan in legal
    recovery on --as-of, plus index.csv, as a zip that is byte-identical for the same records."""
    with _refusals():
        day = parse_as_of(as_of)
        if unmasked:
            _log_unmasked()
        with _ledger(db) as ledger:
            if unmasked:
                ledger.record_unmasked_export(
                    f"arbitration package as of {day.isoformat()}", actor=_user()
                )
            claims = [
                row
                for row in ledger.report("loan_ledger", as_of=day)
                if row["status"] == "legal_recovery"
            ]
            notices: dict[str, list[dict[str, Any]]] = {row["loan_id"]: [] for row in claims}
            for notice in ledger.report("notices", as_of=day):
                if notice["loan_id"] in notices:
                    notices[notice["loan_id"]].append(notice)
            bundles = [
                (
                    arbitration.evidence_bundle(
                        ledger.archive(row["loan_id"]),
                        row,
                        notices[row["loan_id"]],
                        day.isoformat(),
                        unmasked=unmasked,
                    ),
                    arbitration.index_row(row, notices[row["loan_id"]]),
                )
                for row in claims
            ]
        output.write_bytes(arbitration.package(arbitration.arbitration_files(bundles)))
        typer.echo(f"wrote {len(bundles)} evidence bundles and index.csv to {output}")


@contextmanager
def _guarded_ledger(db: str | None) -> Iterator[LoanLedger]:
    with _refusals(), _ledger(db) as ledger:
        yield ledger


cli_proof.register(app, _guarded_ledger)


def main() -> None:
    """The `loanledger` console script."""
    app()


if __name__ == "__main__":
    main()
