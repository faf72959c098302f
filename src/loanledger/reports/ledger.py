"""General-ledger reports: the trial balance and the journal (DESIGN §8, §9)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from loanledger.domain.books import CHART, Posting
from loanledger.reports.amounts import amount_text

LoanPostings = tuple[str, list[Posting]]


def trial_balance(loans: Iterable[LoanPostings]) -> list[dict[str, Any]]:
    """Each account's closing balance on the side where it falls (never negative); every
    account of the chart is listed, so the rows are the same shape on every date."""
    balances = dict.fromkeys(CHART, Decimal(0))
    for _, postings in loans:
        for posting in postings:
            for account, amount in posting.lines:
                balances[account] += amount
    rows = []
    for account in CHART:
        balance = balances[account]
        debit = balance if balance > 0 else Decimal(0)
        credit = -balance if balance < 0 else Decimal(0)
        rows.append(
            {"account": account, "debit": amount_text(debit), "credit": amount_text(credit)}
        )
    debits = sum((Decimal(row["debit"]) for row in rows), start=Decimal(0))
    credits = sum((Decimal(row["credit"]) for row in rows), start=Decimal(0))
    assert debits == credits, f"trial balance does not balance: {debits} != {credits}"
    return rows


def journal(loans: Iterable[LoanPostings], since: date | None = None) -> list[dict[str, Any]]:
    """Every posting line dated from `since` (default: all) to the report date."""
    rows = []
    for loan_id, postings in loans:
        for entry_number, posting in enumerate(postings, start=1):
            if since is not None and posting.on < since:
                continue
            for account, amount in posting.lines:
                rows.append(
                    {
                        "on": posting.on.isoformat(),
                        "loan_id": loan_id,
                        "entry": entry_number,
                        "kind": posting.kind,
                        "reference": posting.reference,
                        "account": account,
                        "debit": amount_text(amount if amount > 0 else Decimal(0)),
                        "credit": amount_text(-amount if amount < 0 else Decimal(0)),
                    }
                )
    return sorted(rows, key=lambda row: (row["on"], row["loan_id"], row["entry"]))


def subledger_differences(
    loan_id: str, postings: list[Posting], view: dict[str, Any], *, written_off: bool
) -> list[str]:
    """Reconciliation: the loan's subledger balances that must tie to its own figures."""
    balances = dict.fromkeys(CHART, Decimal(0))
    for posting in postings:
        for account, amount in posting.lines:
            balances[account] += amount
    expected_principal = Decimal(0) if written_off else Decimal(view["principal_outstanding"])
    checks = {
        "loans_principal": (balances["loans_principal"], expected_principal),
        "overpayments": (-balances["overpayments"], Decimal(view["overpayment"])),
    }
    return [
        f"{loan_id}: {account} is {actual} in the ledger but {expected} in the loan view"
        for account, (actual, expected) in checks.items()
        if actual != expected
    ]
