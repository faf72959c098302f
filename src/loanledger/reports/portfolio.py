"""Portfolio reports built from per-loan views (DESIGN §8).

These builders take the Contract `loan` view of each loan (plus a few loan facts) and aggregate
them. They are the reference definition of each report: whatever faster read model serves a
report must give exactly these rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loanledger.domain.rules import BUCKETS, CLASSIFICATIONS, IFRS9_STAGES
from loanledger.reports.amounts import amount_text

IN_PORTFOLIO = frozenset({"active", "overdue", "legal_recovery", "overpaid"})
"""Portfolio summaries cover loans disbursed and neither closed nor written off (an `overpaid`
loan owes nothing but still holds the borrower's money)."""

WORKLIST_ORDER = (
    "reminder",
    "dunning",
    "legal_recovery",
    "post_loan_check",
    "warning",
    "refund_due",
    "origination_ltv",
    "limitation",
    "guarantee_period",
    "receipt_overdue",
)


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


def loan_ledger(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    """贷款台帐: one row per loan, the `loan` fields plus the contract's key terms."""
    result = []
    for row in rows:
        result.append(
            {
                **row.view,
                "borrower_id": row.borrower_id,
                "amount": amount_text(row.amount),
                "annual_rate": f"{row.annual_rate}",
                "disbursed_on": row.disbursed_on,
                "maturity_date": row.maturity_date,
            }
        )
    return sorted(result, key=lambda item: item["loan_id"])


@dataclass
class _Tally:
    loans: int = 0
    principal: Decimal = Decimal(0)
    overdue: Decimal = Decimal(0)

    def add(self, view: Mapping[str, Any]) -> None:
        self.loans += 1
        self.principal += Decimal(view["principal_outstanding"])
        self.overdue += Decimal(view["overdue_principal"]) + Decimal(view["overdue_interest"])


def _tally(
    views: Iterable[Mapping[str, Any]], key: str, groups: Iterable[Any]
) -> dict[Any, _Tally]:
    totals = {group: _Tally() for group in groups}
    for view in views:
        if view["status"] in IN_PORTFOLIO:
            totals[view[key]].add(view)
    return totals


def _five_category(views: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "classification": name,
            "loans": tally.loans,
            "principal_outstanding": amount_text(tally.principal),
        }
        for name, tally in _tally(views, "classification", CLASSIFICATIONS).items()
    ]


def _aging(views: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "bucket": name,
            "loans": tally.loans,
            "principal_outstanding": amount_text(tally.principal),
            "overdue_amount": amount_text(tally.overdue),
        }
        for name, tally in _tally(views, "bucket", BUCKETS).items()
    ]


def _ifrs9_stages(views: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "stage": stage,
            "loans": tally.loans,
            "principal_outstanding": amount_text(tally.principal),
        }
        for stage, tally in _tally(views, "ifrs9_stage", IFRS9_STAGES).items()
    ]


_SUMMARIES = {"five_category": _five_category, "aging": _aging, "ifrs9_stages": _ifrs9_stages}


def summary(name: str, views: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The portfolio summary `name` of loans given by their `loan` views: exactly what the
    builder of that name gives for rows with these views, for a read model that has the fields
    but no `LoanRow`s. A view needs only the fields `_tally` reads: status, the grouping field
    (classification, bucket or ifrs9_stage), principal_outstanding, overdue_principal and
    overdue_interest."""
    return _SUMMARIES[name](views)


def five_category(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    """五级分类: every class, empty ones with zeros."""
    return _five_category(row.view for row in rows)


def aging(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    """Days-past-due buckets M0..M7+, with overdue principal + interest per bucket."""
    return _aging(row.view for row in rows)


def ifrs9_stages(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    """IFRS 9 stages 1..3, empty ones with zeros."""
    return _ifrs9_stages(row.view for row in rows)


def notices(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    items = [notice for row in rows for notice in row.notices]
    return sorted(items, key=lambda item: (item["loan_id"], item["issued_on"], item["notice_id"]))


def worklist(rows: Iterable[LoanRow]) -> list[dict[str, Any]]:
    items = [item for row in rows for item in row.worklist]
    return sorted(
        items,
        key=lambda item: (item["loan_id"], WORKLIST_ORDER.index(item["item"]), item["detail"]),
    )
