"""The head of a loan archive: the loan's terms, security and totals on its last fact's date.

Amounts are two-decimal strings and dates ISO, as in every view; the rate is the contract's
annual rate as recorded (a decimal fraction, `0.0435`). Collateral is listed with its latest
appraised value and whether it was released; guarantors with their guaranteed amount. Totals are
sums of the recorded facts: money received (repayments and prepayments), refunded, written off
(principal, interest and penalty moved off balance sheet) and recovered after the write-off.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from loanledger.domain.loan import Loan
from loanledger.domain.loan_events import (
    CollateralPledged,
    CollateralReleased,
    CollateralRevalued,
    GuarantorAdded,
    LoanDisbursed,
    LoanRestructured,
    LoanWrittenOff,
    OverpaymentRefunded,
    RecoveryRecorded,
    RepaymentReceived,
)
from loanledger.domain.rules import RuleSet
from loanledger.reports.amounts import amount_text
from loanledger.reports.views import loan_view


def loan_summary(loan: Loan, as_of: date, rules: RuleSet) -> dict[str, Any]:
    """The archive's header for `loan` (every readable fact applied) on `as_of`."""
    assert loan.application is not None
    terms = loan.approval or loan.application
    zero = Decimal(0)
    disbursed = repaid = refunded = written_off = recovered = zero
    written_off_on: date | None = None
    collateral: dict[str, dict[str, Any]] = {}
    guarantors: list[dict[str, Any]] = []
    term_months, annual_rate = terms.term_months, terms.annual_rate
    method = terms.repayment_method
    for event in loan.history:
        if isinstance(event, LoanDisbursed):
            disbursed += event.amount
        elif isinstance(event, RepaymentReceived):
            repaid += event.amount
        elif isinstance(event, OverpaymentRefunded):
            refunded += event.amount
        elif isinstance(event, LoanWrittenOff):
            written_off += event.principal + event.interest + event.penalty
            written_off_on = event.effective_date
        elif isinstance(event, RecoveryRecorded):
            recovered += event.amount
        elif isinstance(event, LoanRestructured):
            term_months, annual_rate = event.term_months, event.annual_rate
            method = event.repayment_method
        elif isinstance(event, CollateralPledged):
            collateral[event.collateral_id] = {
                "collateral_id": event.collateral_id,
                "kind": event.kind,
                "value": amount_text(event.value),
                "released": False,
            }
        elif isinstance(event, CollateralRevalued) and event.collateral_id in collateral:
            collateral[event.collateral_id]["value"] = amount_text(event.value)
        elif isinstance(event, CollateralReleased) and event.collateral_id in collateral:
            collateral[event.collateral_id]["released"] = True
        elif isinstance(event, GuarantorAdded):
            guarantors.append(
                {
                    "guarantor_id": event.guarantor_id,
                    "guarantor_name": event.guarantor_name,
                    "guaranteed_amount": amount_text(event.guaranteed_amount),
                }
            )
    position = loan.position(as_of, rules)
    figures = position if position is not None and position.disbursed > 0 else None
    view = loan_view(loan, as_of, rules) if loan.exists_on(as_of) else {}
    maturity = figures.maturity_date if figures is not None else None
    first = figures.first_disbursed_on if figures is not None else None
    return {
        "as_of": as_of.isoformat(),
        "amount": amount_text(terms.amount),
        "currency": loan.currency_code,
        "annual_rate": f"{annual_rate}",
        "term_months": term_months,
        "repayment_method": method,
        "disbursed": amount_text(disbursed),
        "disbursed_on": first.isoformat() if first is not None else None,
        "maturity_date": maturity.isoformat() if maturity is not None else None,
        "collateral": list(collateral.values()),
        "guarantors": guarantors,
        "total_repaid": amount_text(repaid),
        "refunded": amount_text(refunded),
        "written_off": amount_text(written_off),
        "written_off_on": written_off_on.isoformat() if written_off_on is not None else None,
        "recovered": amount_text(recovered),
        "principal_outstanding": view.get("principal_outstanding"),
        "status": view.get("status"),
        "days_past_due": view.get("days_past_due"),
        "classification": view.get("classification"),
        "ifrs9_stage": view.get("ifrs9_stage"),
    }
