"""`loanledger`: the command line (DESIGN §8).

Every command takes `--db URL` (default: env `LOANLEDGER_DB`, else `sqlite:///loanledger.db`).
A refusal (any `DomainError`: a bad date, an unknown report, a journal line the ledger refuses)
prints one line on stderr and exits 2; a broken hash chain makes `verify` exit 1; any other
library error exits 1. Output for machines (`--format json|csv`) goes to stdout alone, or to
`--output PATH`.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.console import Console

from loanledger.application import (
    REPORTS,
    RISK_REPORTS,
    LoanLedger,
    parse_as_of,
    parse_known_at,
)
from loanledger.application.journal import numbered_lines, parse_line
from loanledger.domain.commands import parse_command
from loanledger.domain.errors import DomainError, LoanLedgerError, StoreUnavailableError
from loanledger.entrypoints import cli_charts, cli_proof
from loanledger.entrypoints.cli_desk import register as register_desk
from loanledger.entrypoints.cli_personal_data import acting_user, log_unmasked
from loanledger.entrypoints.cli_personal_data import register as register_personal_data
from loanledger.entrypoints.console import (
    EXIT_FAILED,
    AsOfOption,
    DbOption,
    FormatOption,
    KnownAtOption,
    OutputOption,
    Refusal,
    SchedulerOption,
    UnmaskedOption,
    WorkersOption,
    check_format,
    emit_rows,
    guarded_ledger,
    journal_file,
    opened_ledger,
    plural,
    progress_bar,
    query_dates,
    refusals,
    report_about,
    stdout_console,
)
from loanledger.entrypoints.projection_status import projection_status
from loanledger.persistence.migrate import migrate as apply_migrations
from loanledger.persistence.urls import parse_store_url, resolve_store_url
from loanledger.reports import formats

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
REPORT_NAMES = tuple(sorted([*REPORTS, *RISK_REPORTS, *LEDGER_REPORTS]))
PERSONAL_REPORTS = ("loan_level",)
"""Reports with personal columns (names, identity-document numbers): they need the master key;
every other report runs without one."""

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

    with refusals():
        run_demo(loans=loans, seed=seed, db=db, out=out, console=stdout_console())


@app.command()
def load(
    file: Annotated[str, typer.Argument(metavar="FILE", help="JSON Lines journal; - for stdin.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate every line; record nothing.")
    ] = False,
    db: DbOption = None,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
) -> None:
    """Apply a journal (JSON Lines, one command a line) in order.

    Every line is parsed and validated first, so a malformed line records nothing at all. A line
    the ledger then refuses (a broken rule) stops the load: the lines before it stay applied.
    With --workers N each stretch between close-of-day and book commands is split by loan and
    run by N Dask workers, the events stored in bulk (same semantics).
    """
    with refusals(), journal_file(file) as handle:
        commands = _validate(handle)
        if dry_run:
            typer.echo(f"ok: {plural(commands, 'command')} valid; nothing recorded (dry run)")
            return
        handle.seek(0)
        with opened_ledger(db) as ledger, progress_bar() as progress:
            task = progress.add_task("load", total=commands)
            consumed: list[int] = []
            """The numbers of the non-blank lines read so far."""

            def ticking() -> Iterator[str]:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        consumed.append(number)
                        if len(consumed) > 1:
                            progress.advance(task)
                    yield line

            try:
                result = ledger.load(ticking(), workers=workers, scheduler=scheduler)
            except DomainError as error:
                refused = re.match(r"line (\d+):", str(error))
                stop = int(refused.group(1)) if refused else consumed[-1]
                applied = sum(1 for number in consumed if number < stop)
                raise type(error)(
                    f"{error} (the {plural(applied, 'command')} before it stay applied)"
                ) from error
            progress.advance(task)
        typer.echo(
            f"loaded {plural(result['applied'], 'command')} into {ledger.settings.redacted_url}"
        )


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
    with refusals():
        last_day = parse_as_of(through)
        with opened_ledger(db) as ledger:
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
            with progress_bar() as progress:
                task = progress.add_task("close-day", total=days)
                for offset in range(days):
                    day = first + timedelta(days=offset)
                    progress.update(task, description=f"close-day {day.isoformat()}")
                    result = ledger.close_day(day)
                    loans += int(result["loans_processed"])
                    events += int(result["events_recorded"])
                    progress.advance(task)
        typer.echo(
            f"closed {plural(days, 'day')} {first.isoformat()}..{last_day.isoformat()}: "
            f"{plural(loans, 'loan-day')} processed, {plural(events, 'event')} recorded"
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
    with refusals():
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
        check_format(fmt)
        personal = name in PERSONAL_REPORTS
        with opened_ledger(db, withhold_personal_data=not personal) as ledger:
            rows = ledger.report(name, as_of=day, known_at=moment, since=start)
            about = report_about(ledger, name, day, moment, start)
        period = f"{start.isoformat()}..{day.isoformat()}" if start else f"as of {day.isoformat()}"
        title = f"{name} {period}" + (f", known at {known_at}" if known_at else "")
        emit_rows(rows, fmt, output, title=title, sheet=name, about=about)


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
    with refusals():
        day: date | None = parse_as_of(as_of) if as_of is not None else None
        check_format(fmt)
        with opened_ledger(db, withhold_personal_data=True) as ledger:
            rows = ledger.schedule(loan_id, as_of=day)
            about = {"book": ledger.settings.redacted_url, "report": f"schedule of {loan_id}"}
            about["in force on"] = day.isoformat() if day else "the latest date recorded"
        title = f"schedule of {loan_id}" + (f" as of {day.isoformat()}" if day else "")
        emit_rows(rows, fmt, output, title=title, sheet="schedule", about=about)


@app.command()
def loan(
    loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
    as_of: AsOfOption,
    known_at: KnownAtOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    db: DbOption = None,
) -> None:
    """Print one loan's §8 fields as of a business date."""
    with refusals():
        day, moment = query_dates(as_of, known_at)
        check_format(fmt, ("table", "json"))
        with opened_ledger(db, withhold_personal_data=True) as ledger:
            view = ledger.loan(loan_id, as_of=day, known_at=moment)
        if fmt == "json":
            typer.echo(json.dumps(view, ensure_ascii=False, indent=2))
        else:
            stdout_console().print(formats.key_value_table(view, title=f"{loan_id} as of {day}"))


@app.command()
def verify(
    db: DbOption = None,
    against: Annotated[
        Path | None,
        typer.Option("--against", help="Also hold the book against this checkpoint (JSON)."),
    ] = None,
    workers: WorkersOption = 1,
    scheduler: SchedulerOption = None,
) -> None:
    """Recompute every loan's hash chain and hold the events against the stored checkpoints (and
    `--against`); exit 1 and name the first break if one is broken."""
    with refusals(), opened_ledger(db) as ledger:
        result = ledger.verify(against=against, workers=workers, scheduler=scheduler)
    typer.echo(
        f"verify: {'ok' if result.ok else 'BROKEN'}: {plural(result.loans_checked, 'loan')}, "
        f"{plural(result.events_checked, 'event')} checked"
    )
    if not result.ok:
        typer.echo(f"first break: {result.first_break}", err=True)
        raise typer.Exit(EXIT_FAILED)


@app.command()
def rebuild(
    db: DbOption = None, workers: WorkersOption = 1, scheduler: SchedulerOption = None
) -> None:
    """Drop every projection and rebuild it from the events (in --workers partitions of loans
    on Dask, to the same rows)."""
    with refusals(), opened_ledger(db) as ledger:
        if workers == 1 and scheduler is None:
            ledger.rebuild()
        else:
            with progress_bar() as progress:
                task = progress.add_task(f"rebuild ({workers} workers)", total=None)

                def advance(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                ledger.rebuild(workers=workers, scheduler=scheduler, progress=advance)
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
    with refusals(), opened_ledger(db) as ledger:
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
    return plural(count, "event")


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
    unmasked: UnmaskedOption = False,
    db: DbOption = None,
) -> None:
    """Print a loan's archive (贷款业务管理档案): every fact in chain order with its proof, the
    changes time made between facts, and a summary; personal data masked unless --unmasked."""
    with refusals():
        check_format(fmt, ("json", "html"))
        if unmasked:
            log_unmasked()
        with opened_ledger(db) as ledger:
            actor = acting_user()
            if fmt == "json":
                result = ledger.archive(loan_id, unmasked=unmasked, actor=actor)
                text = json.dumps(result, ensure_ascii=False, indent=2) + "\n"
            else:
                text = ledger.archive_html(loan_id, unmasked=unmasked, actor=actor)
        if output is None:
            sys.stdout.write(text)
            return
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote the {fmt} archive of {loan_id} to {output}")


@app.command("migrate")
def migrate_command(db: DbOption = None) -> None:
    """Apply the pending PostgreSQL migrations (for a DBA-managed schema); print each one."""
    with refusals():
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


register_personal_data(app, export_app)
register_desk(app)
cli_charts.register(app)
cli_proof.register(app, guarded_ledger)


def main() -> None:
    """The `loanledger` console script."""
    app()


if __name__ == "__main__":
    main()
