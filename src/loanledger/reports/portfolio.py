"""Portfolio reports built from per-loan views (DESIGN §8).

These builders take the Contract `loan` view of each loan (plus a few loan facts) and aggregate
them. They are the reference definition of each report: whatever faster read model serves a
report must give exactly these rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loanledger.domain.rules import BUCKETS, CLASSIFICATIONS, IFRS9_STAGES

IN_PORTFOLIO = frozenset({"active", "overdue", "legal_recovery"})
"""Portfolio summaries cover loans disbursed and neither closed nor written off."""

WORKLIST_ORDER = ("reminder", "dunning", "legal_recovery", "post_loan_check", "warning")


@dataclass(frozen=True)
class LoanRow:
    """What the portfolio reports need of one loan on the report date."""

    view: dict[str, Any]
    borrower_id: str
    amount: Decimal
    annual_rate: Decimal
    disbursed_on: str | None
    maturity_date: str | None
    notices: list[dict[str, Any]]
    worklist: list[dict[str, Any]]
    borrower_name: str | None = None
    borrower_id_number: str | None = None


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def loan_ledger(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    """贷款台帐: one row per loan, the `loan` fields plus the contract's key terms."""
    result = []
    for row in rows:
        result.append(
            {
                **row.view,
                "borrower_id": row.borrower_id,
                "amount": _money(row.amount),
                "annual_rate": f"{row.annual_rate}",
                "disbursed_on": row.disbursed_on,
                "maturity_date": row.maturity_date,
            }
        )
    return sorted(result, key=lambda item: item["loan_id"])


def _in_portfolio(rows: Iterable[LoanRow]) -> list[LoanRow]:
    return [row for row in rows if row.view["status"] in IN_PORTFOLIO]


@dataclass
class _Tally:
    loans: int = 0
    principal: Decimal = Decimal(0)
    overdue: Decimal = Decimal(0)

    def add(self, view: dict[str, Any]) -> None:
        self.loans += 1
        self.principal += Decimal(view["principal_outstanding"])
        self.overdue += Decimal(view["overdue_principal"]) + Decimal(view["overdue_interest"])


def _tally(rows: Iterable[LoanRow], key: str, groups: Iterable[Any]) -> dict[Any, _Tally]:
    totals = {group: _Tally() for group in groups}
    for row in _in_portfolio(rows):
        totals[row.view[key]].add(row.view)
    return totals


def five_category(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    """五级分类: every class, empty ones with zeros."""
    return [
        {
            "classification": name,
            "loans": tally.loans,
            "principal_outstanding": _money(tally.principal),
        }
        for name, tally in _tally(rows, "classification", CLASSIFICATIONS).items()
    ]


def aging(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    """Days-past-due buckets M0..M7+, with overdue principal + interest per bucket."""
    return [
        {
            "bucket": name,
            "loans": tally.loans,
            "principal_outstanding": _money(tally.principal),
            "overdue_amount": _money(tally.overdue),
        }
        for name, tally in _tally(rows, "bucket", BUCKETS).items()
    ]


def ifrs9_stages(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    """IFRS 9 stages 1..3, empty ones with zeros."""
    return [
        {"stage": stage, "loans": tally.loans, "principal_outstanding": _money(tally.principal)}
        for stage, tally in _tally(rows, "ifrs9_stage", IFRS9_STAGES).items()
    ]


def notices(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    items = [notice for row in rows for notice in row.notices]
    return sorted(items, key=lambda item: (item["loan_id"], item["issued_on"], item["notice_id"]))


def worklist(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    items = [item for row in rows for item in row.worklist]
    return sorted(
        items,
        key=lambda item: (item["loan_id"], WORKLIST_ORDER.index(item["item"]), item["detail"]),
    )
