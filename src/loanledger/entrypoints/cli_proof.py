"""`loanledger checkpoint | prove | prove-consistency | check-proof | check-consistency |
new-signing-key`: the auditor's commands (see README "Proving the book to an auditor").

`check-proof` and `check-consistency` open no store: they read two or three JSON files and exit
0 when the proof holds, 1 when it does not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from loanledger.entrypoints.console import plural
from loanledger.proof import check_consistency, check_inclusion

OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write the JSON to this file, not stdout.")
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--public-key",
        help="The ledger's published Ed25519 public key (hex): the checkpoint must be signed "
        "by it.",
    ),
]


def _write(document: dict[str, Any], out: Path | None, what: str) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {what} to {out}")


def _verdict(holds: bool, what: str) -> None:
    typer.echo(f"{what}: {'ok' if holds else 'FAILED'}")
    if not holds:
        raise typer.Exit(1)


def register(app: typer.Typer, context: Callable[[str | None], Any]) -> None:
    """Add the commands to `app`; `context(db)` is the CLI's guarded ledger context."""

    @app.command()
    def checkpoint(
        out: OutOption = None,
        db: Annotated[str | None, typer.Option("--db", help="Store URL.")] = None,
    ) -> None:
        """Record a checkpoint (tree size, root, time; signed with LOANLEDGER_SIGNING_KEY) and
        print it: keep it outside the system."""
        with context(db) as ledger:
            head = ledger.checkpoint()
        _write(head, out, f"the checkpoint of {plural(head['tree_size'], 'event')}")

    @app.command()
    def prove(
        loan_id: Annotated[str, typer.Argument(metavar="LOAN_ID")],
        checkpoint: Annotated[
            Path | None,
            typer.Option("--checkpoint", "-c", help="Prove under this checkpoint (JSON file)."),
        ] = None,
        out: OutOption = None,
        db: Annotated[str | None, typer.Option("--db", help="Store URL.")] = None,
    ) -> None:
        """Print the inclusion proof of a loan's events (under the latest stored checkpoint)."""
        with context(db) as ledger:
            proof = ledger.prove(loan_id, checkpoint)
        _write(proof, out, f"the proof of {plural(len(proof['events']), 'event')} of {loan_id}")

    @app.command("prove-consistency")
    def prove_consistency(
        old: Annotated[Path, typer.Argument(metavar="OLD")],
        new: Annotated[Path, typer.Argument(metavar="NEW")],
        out: OutOption = None,
        db: Annotated[str | None, typer.Option("--db", help="Store URL.")] = None,
    ) -> None:
        """Print the proof that the book only grew from checkpoint OLD to checkpoint NEW."""
        with context(db) as ledger:
            proof = ledger.prove_consistency(old, new)
        _write(proof, out, "the consistency proof")

    @app.command("check-proof")
    def check_proof(
        proof: Annotated[Path, typer.Argument(metavar="PROOF")],
        checkpoint: Annotated[Path, typer.Argument(metavar="CHECKPOINT")],
        public_key: KeyOption = None,
    ) -> None:
        """Check a loan's inclusion proof against a checkpoint, with no store: exit 0 or 1."""
        _verdict(check_inclusion(proof, checkpoint, public_key=public_key), f"proof {proof}")

    @app.command("check-consistency")
    def check_consistency_command(
        proof: Annotated[Path, typer.Argument(metavar="PROOF")],
        old: Annotated[Path, typer.Argument(metavar="OLD")],
        new: Annotated[Path, typer.Argument(metavar="NEW")],
        public_key: KeyOption = None,
    ) -> None:
        """Check that NEW's tree extends OLD's, with no store: exit 0 or 1."""
        holds = check_consistency(proof, old, new, public_key=public_key)
        _verdict(holds, f"consistency {proof}")

    @app.command("new-signing-key")
    def new_signing_key() -> None:
        """Print a new Ed25519 private key (hex) for LOANLEDGER_SIGNING_KEY, and on stderr its
        public key and key id to publish."""
        from secrets import token_hex

        from loanledger.persistence.checkpoints import SigningKey

        private = token_hex(32)
        key = SigningKey(private)
        typer.echo(private)
        typer.echo(f"public key {key.public_key.hex()} (key id {key.key_id})", err=True)
