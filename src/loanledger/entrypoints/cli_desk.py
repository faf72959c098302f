"""`loanledger installments | statement | explain | payoff | preview`: what a servicing desk
asks on the spot, answered from the same money walk as the loan view (see README "The servicing
desk"). `preview` runs a journal on a what-if branch and records nothing.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from loanledger.application.journal import numbered_lines, parse_line
from loanledger.domain.errors import DomainError
from loanledger.entrypoints.console import (
    AsOfOption,
    DbOption,
    FormatOption,
    KnownAtOption,
    OutputOption,
    check_format,
    emit_rows,
    journal_file,
    opened_ledger,
    query_dates,
    refusals,
    report_about,
    stdout_console,
)
from loanledger.reports import formats
from loanledger.reports.explain import explanation_lines


def register(app: typer.Typer) -> None:
    """Add the servicing-desk commands to `app`."""
    for command in (installments, statement, explain, payoff, preview):
        app.command()(command)


def payoff(
    loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
    on: Annotated[str, typer.Option("--on", metavar="YYYY-MM-DD", help="Date of the payoff.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    db: DbOption = None,
) -> None:
    """Print what must be paid on a date to settle a loan exactly (a `prepay` of `total`)."""
    with refusals():
        day, _ = query_dates(on, None)
        check_format(fmt, ("table", "json"))
        with opened_ledger(db, withhold_personal_data=True) as ledger:
            quote = ledger.payoff(loan_id, day)
        if fmt == "json":
            typer.echo(json.dumps(quote, ensure_ascii=False, indent=2))
        else:
            stdout_console().print(formats.key_value_table(quote, title=f"payoff of {loan_id}"))


def installments(
    loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
    as_of: AsOfOption,
    known_at: KnownAtOption = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    db: DbOption = None,
) -> None:
    """Print each installment with what is due, paid and outstanding of it, and its status."""
    with refusals():
        day, moment = query_dates(as_of, known_at)
        check_format(fmt)
        with opened_ledger(db, withhold_personal_data=True) as ledger:
            rows = ledger.installments(loan_id, as_of=day, known_at=moment)
            about = report_about(ledger, f"installments of {loan_id}", day, moment)
        title = f"installments of {loan_id} as of {day}"
        emit_rows(rows, fmt, output, title=title, sheet="installments", about=about)


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
    with refusals():
        start, moment = query_dates(from_date, known_at)
        end, _ = query_dates(to_date, None)
        check_format(fmt, ("table", "json"))
        with opened_ledger(db, withhold_personal_data=True) as ledger:
            result = ledger.statement(loan_id, start, end, known_at=moment)
        if fmt == "json":
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
            return
        console = stdout_console()
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
            console.print(formats.to_table(rows, title=f"{title}: movements", width=console.width))
        console.print(formats.key_value_table(result["closing"], title=f"{title}: closing"))


def explain(
    loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
    field: Annotated[str, typer.Argument(metavar="FIELD", help="A field of the loan view.")],
    as_of: AsOfOption,
    known_at: KnownAtOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="tree or json.")] = "tree",
    db: DbOption = None,
) -> None:
    """Explain a figure of the loan view: the rule, what it is made of, the facts it rests on."""
    with refusals():
        day, moment = query_dates(as_of, known_at)
        check_format(fmt, ("tree", "json"))
        with opened_ledger(db, withhold_personal_data=True) as ledger:
            result = ledger.explain(loan_id, field, as_of=day, known_at=moment)
        if fmt == "json":
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
            return
        for line in explanation_lines(result):
            typer.echo(line)


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
    with refusals():
        day = query_dates(as_of, None)[0] if as_of is not None else None
        check_format(fmt, ("table", "json"))
        commands = []
        with journal_file(file) as lines:
            for number, line in numbered_lines(lines):
                try:
                    commands.append(parse_line(line))
                except DomainError as error:
                    raise type(error)(f"line {number}: {error}; nothing previewed") from error
        with opened_ledger(db) as ledger:
            result = ledger.preview(commands, as_of=day)
        if fmt == "json":
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
            return
        console = stdout_console()
        for loan_id, sides in result["loans"].items():
            before, after = sides["before"]["loan"] or {}, sides["after"]["loan"] or {}
            rows = [
                {"field": name, "before": before.get(name), "after": after.get(name)}
                for name in (after or before)
                if not isinstance((after or before).get(name), list)
            ]
            console.print(
                formats.to_table(
                    rows, title=f"{loan_id} as of {result['as_of']}", width=console.width
                )
            )
        for refusal in result["refusals"]:
            typer.echo(f"refused: command {refusal['line']}: {refusal['message']}", err=True)
        typer.echo("nothing recorded (preview)")
