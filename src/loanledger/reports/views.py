"""Contract-shaped, JSON-ready views of a loan (DESIGN §8 `loan` and `schedule`).

Amounts are strings with exactly two decimals, dates ISO strings, counts integers, `ltv` a
4-decimal string or None. The views are computed from the facts; nothing here is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from loanledger.domain.calendar import default_repayment_day
from loanledger.domain.limitation import clock_items, receipts_overdue
from loanledger.domain.loan import Loan
from loanledger.domain.money import Money
from loanledger.domain.origination import origination_item
from loanledger.domain.postloan import (
    PostLoanState,
    RiskView,
    actions_on,
    assess,
    post_loan_state,
)
from loanledger.domain.products.pricing import spread_fee
from loanledger.domain.rules import CN_2023, RuleSet, bucket
from loanledger.domain.schedule import Installment, build_schedule
from loanledger.domain.servicing import Position
from loanledger.reports.amounts import amount_text
from loanledger.reports.portfolio import IN_PORTFOLIO, LoanRow


@dataclass(frozen=True)
class Derived:
    """Everything derived for one loan on one date, computed once and shared by the views."""

    position: Position | None
    figures: Position | None
    """The position once money has moved (None before the first disbursement)."""
    state: PostLoanState
    risk: RiskView
    status: str
    product: dict[str, Any] | None = None
    """The loan's `product_fields` on the date, when the caller has them already: a caller
    rendering one loan on many dates (the read model's walk) reuses them while what they depend
    on is the same instead of solving the APR again for each row (`segments.ProductMemo`)."""


def derive(loan: Loan, as_of: date, rules: RuleSet, *, contagion: bool) -> Derived:
    position = loan.position(as_of, rules)
    figures = position if position is not None and position.disbursed > 0 else None
    state = post_loan_state(loan, as_of)
    risk = assess(state, figures, rules, contagion=contagion)
    return Derived(position, figures, state, risk, loan.status_on(as_of, position, risk))


def loan_view(
    loan: Loan,
    as_of: date,
    rules: RuleSet = CN_2023,
    *,
    contagion: bool = False,
    derived: Derived | None = None,
) -> dict[str, Any]:
    """The §8 `loan` fields for `loan` (already restricted to what was known) on `as_of`, plus
    the post-loan clocks a servicing team needs (limitation, guarantee, observation, next check).
    `contagion` is set by the caller when the borrower's other loans make this one
    non-performing."""
    if derived is None:
        derived = derive(loan, as_of, rules, contagion=contagion)
    figures, risk, status = derived.figures, derived.risk, derived.status
    zero = Decimal(0)
    days_past_due = figures.days_past_due if figures is not None else 0
    next_due = figures.next_due if figures is not None else None

    def day(value: date | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "loan_id": loan.loan_id,
        "status": status,
        "principal_outstanding": amount_text(figures.principal_outstanding if figures else zero),
        "overdue_principal": amount_text(figures.overdue_principal if figures else zero),
        "overdue_interest": amount_text(figures.overdue_interest if figures else zero),
        "penalty_outstanding": amount_text(figures.penalty_outstanding if figures else zero),
        "days_past_due": days_past_due,
        "bucket": bucket(days_past_due, rules),
        "classification": risk.classification,
        "ifrs9_stage": risk.ifrs9_stage,
        "next_due_date": day(next_due.due_date) if next_due is not None else None,
        "next_due_amount": amount_text(next_due.overdue_base) if next_due is not None else None,
        "ltv": f"{risk.ltv:.4f}" if risk.ltv is not None else None,
        "warnings": list(risk.warnings),
        "overpayment": amount_text(figures.overpayment if figures else zero),
        "currency": loan.currency_code,
        "rule_set": rules.version,
        "as_of": as_of.isoformat(),
        "classification_reasons": list(risk.reasons),
        "limitation_expires_on": day(risk.limitation_expires_on),
        "guarantee_expires_on": day(risk.guarantee_expires_on),
        "observation_until": day(risk.observation_until),
        "next_check_due": day(risk.next_check_due),
        **(derived.product if derived.product is not None else product_fields(loan, rules, as_of)),
        "fees_charged": amount_text(figures.fees_charged if figures else zero),
        "fees_outstanding": amount_text(figures.fees_outstanding if figures else zero),
    }


def product_fields(loan: Loan, rules: RuleSet, as_of: date) -> dict[str, Any]:
    """The loan's product, the version pinned at approval (None before; 0 for the built-in
    default product) and the APR of its contract (a 4-decimal string, None before approval), as
    of `as_of` (`Loan.product`, `Loan.apr`)."""
    product, version = loan.product(as_of)
    rate = loan.apr(rules, as_of=as_of)
    return {
        "product": product,
        "product_version": version,
        "apr": f"{rate:.4f}" if rate is not None else None,
    }


def schedule_rows(loan: Loan, as_of: date, rules: RuleSet = CN_2023) -> list[dict[str, Any]]:
    """The schedule in force on `as_of`, each row with its `fee` (its share of an origination
    fee spread over the schedule; "0.00" for every other loan). Approved but not yet disbursed:
    the provisional schedule for the approved amount as if disbursed on the approval date (it
    is rebuilt from the actual disbursement date once money moves)."""
    position = loan.position(as_of, rules)
    if position is None:
        return []
    if position.disbursed > 0:
        return [
            {
                **row.as_row(),
                "fee": amount_text(due.fee),
                "annual_rate": _row_rate(loan, row, as_of),
            }
            for row, due in zip(position.schedule(), position.installments, strict=True)
        ]
    terms = loan.terms()
    if terms.pricing is not None:
        rules = terms.pricing.applied_to(rules)
    assert loan.approval is not None
    start = loan.approval.effective_date
    rows = build_schedule(
        Money.of(terms.amount.amount, terms.currency),
        terms.annual_rate,
        terms.term_months,
        terms.method,
        start,
        terms.repayment_day or default_repayment_day(start),
        rounding=rules.rounding,
        day_count=rules.irregular_period_day_count,
        calendar=terms.calendar,
    )
    pricing = terms.pricing
    fee = (
        pricing.scheduled_fee(terms.amount.amount, terms.currency, first=True)
        if pricing is not None
        else Decimal(0)
    )
    shares = spread_fee(fee, len(rows), terms.currency)
    rate = format(loan.approval.annual_rate, "f")
    return [
        {**row.as_row(), "fee": amount_text(share), "annual_rate": rate}
        for row, share in zip(rows, shares, strict=True)
    ]


def _row_rate(loan: Loan, row: Installment, as_of: date) -> str:
    """A row's `annual_rate`: the contract rate in force on the last day of its interest period
    (the day before its due date). A row whose period straddles a rate reset is charged part at
    the old rate and part at the new one; it shows the new one (`explain` gives the split)."""
    return format(loan.contract_rate_on(row.due_date - timedelta(days=1), as_of), "f")


def loan_row(
    loan: Loan,
    as_of: date,
    rules: RuleSet = CN_2023,
    *,
    contagion: bool = False,
    details: bool = True,
    derived: Derived | None = None,
) -> LoanRow:
    """Everything the portfolio reports need of one loan on `as_of`; without `details`, the
    row's `notices` and `worklist` are left empty (the summaries read only the view). `derived`
    is given by a caller that derived the loan on `as_of` already (the read model's walk)."""
    if derived is None:
        derived = derive(loan, as_of, rules, contagion=contagion)
    view = loan_view(loan, as_of, rules, derived=derived)
    figures, state, risk = derived.figures, derived.state, derived.risk
    assert loan.application is not None
    terms = loan.approval or loan.application
    disbursed_on = figures.first_disbursed_on if figures is not None else None
    maturity = figures.maturity_date if figures is not None else None
    notices: list[dict[str, Any]] = []
    worklist: list[dict[str, Any]] = []
    if details:
        notices = [
            {
                "notice_id": notice.notice_id,
                "loan_id": loan.loan_id,
                "kind": notice.kind,
                "issued_on": notice.effective_date.isoformat(),
                "due_date": notice.due_date.isoformat() if notice.due_date else None,
                "acknowledged_on": (
                    state.acknowledged[notice.notice_id].effective_date.isoformat()
                    if notice.notice_id in state.acknowledged
                    else None
                ),
            }
            for notice in state.notices.values()
        ]
        worklist = _worklist(loan.loan_id, as_of, figures, state, risk, rules, view["status"])
    return LoanRow(
        view=view,
        borrower_id=loan.application.borrower.id,
        amount=terms.amount,
        annual_rate=terms.annual_rate,
        disbursed_on=disbursed_on.isoformat() if disbursed_on else None,
        maturity_date=maturity.isoformat() if maturity else None,
        notices=notices,
        borrower_name=loan.application.borrower.name,
        borrower_id_number=loan.application.borrower.id_number,
        worklist=worklist,
    )


def _worklist(
    loan_id: str,
    as_of: date,
    position: Position | None,
    state: PostLoanState,
    risk: RiskView,
    rules: RuleSet,
    status: str,
) -> list[dict[str, Any]]:
    """What a servicing team must do for this loan on `as_of`."""
    if status not in IN_PORTFOLIO:
        return []
    items: dict[tuple[str, str], dict[str, Any]] = {}

    def add(item: str, detail: str) -> None:
        items[(item, detail)] = {"loan_id": loan_id, "item": item, "detail": detail}

    issued_today = [n for n in state.notices.values() if n.effective_date == as_of]
    pending = [
        action.fields
        for action in actions_on(loan_id, as_of, position, state, risk, rules)
        if action.kind == "NoticeIssued"
    ]
    for notice in [*(n.model_dump() for n in issued_today), *pending]:
        kind = notice["kind"]
        if kind == "reminder":
            add("reminder", f"installment {notice['installment_number']} due {notice['due_date']}")
        elif kind == "dunning":
            add("dunning", f"days past due {notice['days_past_due']}")
        else:
            add("legal_recovery", f"days past due {notice['days_past_due']}")
    if risk.next_check_due is not None and risk.next_check_due <= as_of:
        add("post_loan_check", f"due {risk.next_check_due.isoformat()}")
    overdue = "days_past_due" in risk.warnings
    for item, detail in clock_items(
        as_of, risk.limitation_expires_on, risk.guarantee_expires_on, overdue=overdue
    ):
        add(item, detail)
    for item, detail in receipts_overdue(as_of, state.notices, state.acknowledged):
        add(item, detail)
    pre_loan = origination_item(state, as_of, rules)
    if pre_loan is not None:
        add("origination_ltv", pre_loan)
    for warning in risk.warnings:
        add("warning", warning)
    if status == "overpaid" and position is not None:
        add("refund_due", f"held {amount_text(position.overpayment)}")
    return list(items.values())
