"""`loanledger forget-borrower | forget-guarantor | new-master-key | rotate-master-key` and
`loanledger export loan-level | arbitration`: the commands that touch personal data.

Forgetting destroys a person's data key (crypto-shredding); an unmasked export leaves an audit
line on stderr as well as in the ledger's personal-data log (see README "Personal data").
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from loanledger.application import parse_as_of
from loanledger.entrypoints.console import (
    AsOfOption,
    DbOption,
    KnownAtOption,
    Refusal,
    UnmaskedOption,
    check_format,
    emit_rows,
    opened_ledger,
    plural,
    query_dates,
    refusals,
    report_about,
)
from loanledger.persistence.keys import MasterKey
from loanledger.reports import arbitration

NEW_MASTER_KEY_ENV = "LOANLEDGER_NEW_MASTER_KEY"
"""Where `rotate-master-key` reads the key it rotates to."""


def register(app: typer.Typer, export_app: typer.Typer) -> None:
    """Add the personal-data commands to `app` and the exports to `export_app`."""
    app.command("forget-borrower")(forget_borrower)
    app.command("forget-guarantor")(forget_guarantor)
    app.command("new-master-key")(new_master_key)
    app.command("rotate-master-key")(rotate_master_key)
    export_app.command("loan-level")(export_loan_level)
    export_app.command("arbitration")(export_arbitration)


def acting_user() -> str:
    """Who runs the command, for the personal-data log (the login name, else `unknown`)."""
    return os.environ.get("USER") or "unknown"


def log_unmasked() -> None:
    """The audit line every export of unmasked personal data leaves on stderr (the ledger also
    records it in its personal-data log and on the `loanledger.audit` logger)."""
    moment = datetime.now(UTC).isoformat(timespec="seconds")
    typer.echo(f"UNMASKED export of personal data by {acting_user()} at {moment}", err=True)


def forget_borrower(
    borrower_id: Annotated[str, typer.Argument(metavar="BORROWER_ID")],
    db: DbOption = None,
) -> None:
    r"""Crypto-shred a borrower: destroy their data key, so their name and identity number read
    as \[erased] everywhere; figures, reports and verify are unchanged. Logged; idempotent."""
    with refusals(), opened_ledger(db) as ledger:
        result = ledger.forget_borrower(borrower_id, actor=acting_user())
    if result["already_forgotten"]:
        typer.echo(f"borrower {borrower_id} was already forgotten at {result['forgotten_at']}")
        return
    typer.echo(
        f"forgot borrower {borrower_id} at {result['forgotten_at']}: personal data of "
        f"{plural(len(result['loans']), 'loan')} now reads as [erased]"
    )


def forget_guarantor(
    guarantor_id: Annotated[str, typer.Argument(metavar="GUARANTOR_ID")],
    db: DbOption = None,
) -> None:
    r"""Crypto-shred a guarantor the same way: their name reads as \[erased]. Logged; idempotent."""
    with refusals(), opened_ledger(db) as ledger:
        result = ledger.forget_guarantor(guarantor_id, actor=acting_user())
    if result["already_forgotten"]:
        typer.echo(f"guarantor {guarantor_id} was already forgotten at {result['forgotten_at']}")
        return
    typer.echo(f"forgot guarantor {guarantor_id} at {result['forgotten_at']}")


def new_master_key() -> None:
    """Print a new random master key (base64 of 32 bytes) for LOANLEDGER_MASTER_KEY."""
    typer.echo(MasterKey.generate_text())


def rotate_master_key(db: DbOption = None) -> None:
    """Re-wrap every data key under env LOANLEDGER_NEW_MASTER_KEY (the current key stays in
    LOANLEDGER_MASTER_KEY until this finishes); no event is touched. Keys never go on the
    command line, where other users could read them."""
    with refusals():
        new = os.environ.get(NEW_MASTER_KEY_ENV)
        if not new:
            raise Refusal(f"set {NEW_MASTER_KEY_ENV} to the new master key")
        with opened_ledger(db) as ledger:
            result = ledger.rotate_master_key(new, actor=acting_user())
    typer.echo(
        f"re-wrapped {plural(result['data_keys_rewrapped'], 'data key')} under master key "
        f"{result['master_key_id']}; now set LOANLEDGER_MASTER_KEY to the new key"
    )


def export_loan_level(
    as_of: AsOfOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
    known_at: KnownAtOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or xlsx.")] = "csv",
    unmasked: UnmaskedOption = False,
    headers: Annotated[
        str, typer.Option("--headers", help="Column headers: en (field names) or zh (中文).")
    ] = "en",
    db: DbOption = None,
) -> None:
    """Write the loan-level report (个人信贷分户账), personal data masked unless --unmasked."""
    with refusals():
        day, moment = query_dates(as_of, known_at)
        check_format(fmt, ("csv", "xlsx"))
        if headers not in ("en", "zh"):
            raise Refusal(f"unknown headers {headers!r}; headers: en, zh")
        if unmasked:
            log_unmasked()
        with opened_ledger(db) as ledger:
            rows = ledger.export_loan_level(
                day, moment, unmasked=unmasked, actor=acting_user(), headers=headers
            )
            about = report_about(ledger, "loan_level", day, moment)
        emit_rows(
            rows, fmt, output, title=f"loan_level as of {day}", sheet="loan_level", about=about
        )


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
    with refusals():
        day = parse_as_of(as_of)
        if unmasked:
            log_unmasked()
        with opened_ledger(db) as ledger:
            if unmasked:
                ledger.record_unmasked_export(
                    f"arbitration package as of {day.isoformat()}", actor=acting_user()
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
                        ledger.archive(row["loan_id"], unmasked=unmasked, actor=acting_user()),
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
