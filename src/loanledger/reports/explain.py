"""`LoanLedger.explain`: why a figure of the loan view is what it is.

The answer for one field of the loan view on one date holds the `value` exactly as the view shows
it, the `rule_set`, the `rule` applied (in words), `parts` (a tree of what the value is made of)
and `facts` (every recorded event the figure rests on, with its version, type, effective date,
recorded time and chain link, so an auditor can find each in the archive and check its proof).

Money parts sum exactly to the value: the loan view rounds each installment's figure to the fen
and sums them, and so do the parts. Penalty windows below an installment are exact (unrounded)
accruals: base × daily rate × days for each stretch of days over which the overdue balance stayed
the same. Their sum, less what was paid and less what a payment of the rounded amount settled
(`settled_by_rounding_exact`: paying the amount owed, rounded to the fen, settles the accrual), is
the exact amount unpaid, which the installment's part rounds to the fen.
Everything is derived with the same functions as the loan view itself (the money walk, the
post-loan state and the risk assessment), so an explanation can never disagree with its figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from loanledger.domain.errors import InvalidCommandError
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.domain.rules import (
    BUCKETS,
    CN_2023,
    RuleSet,
    bucket,
    classification_floor,
    ifrs9_stage,
)
from loanledger.domain.servicing import InstallmentDue, PenaltyWindow, Position, penalty_windows
from loanledger.reports.amounts import amount_text
from loanledger.reports.floating import rate_periods
from loanledger.reports.views import derive, loan_view

EXACT_PLACES = Decimal("0.000001")
"""Places an exact (unrounded) accrual is shown with; the figure itself is never rounded so."""

MONEY_EVENTS = frozenset(
    {
        "LoanDisbursed",
        "RepaymentReceived",
        "AllocationRevised",
        "LoanRestructured",
        "LoanWrittenOff",
        "LoanClosed",
        "LoanApproved",
        "RateReset",
        "OverpaymentRefunded",
    }
)
"""Events the money walk reads (the approval fixes the terms)."""

RISK_EVENTS = MONEY_EVENTS | {
    "ClassificationDowngraded",
    "CollateralPledged",
    "CollateralRevalued",
    "CollateralReleased",
    "PostLoanCheckRecorded",
    "GuarantorAdded",
    "GuarantorAssessed",
}
COLLATERAL_EVENTS = MONEY_EVENTS | {"CollateralPledged", "CollateralRevalued", "CollateralReleased"}
LIFECYCLE_EVENTS = RISK_EVENTS | {
    "LoanApplied",
    "InvestigationRecorded",
    "ReviewRecorded",
    "LoanRejected",
    "ApplicationWithdrawn",
    "LegalRecoveryOpened",
}


def explain(
    loan: Loan,
    field: str,
    as_of: date,
    rules: RuleSet = CN_2023,
    *,
    contagion: bool = False,
    links: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """The explanation of `field` of `loan`'s view on `as_of` (see the module docstring)."""
    explainer = EXPLAINERS.get(field)
    if explainer is None:
        known = ", ".join(sorted(EXPLAINERS))
        raise InvalidCommandError(f"explain: unknown field {field!r}; fields: {known}")
    view = loan_view(loan, as_of, rules, contagion=contagion)
    context = _Context(loan, as_of, rules, contagion, view)
    rule, parts, kinds = explainer(context)
    return {
        "loan_id": loan.loan_id,
        "field": field,
        "as_of": as_of.isoformat(),
        "value": view[field],
        "rule_set": rules.version,
        "rule": rule,
        "parts": parts,
        "facts": _facts(loan.history, kinds, as_of, links or {}),
    }


class _Context:
    def __init__(
        self, loan: Loan, as_of: date, rules: RuleSet, contagion: bool, view: dict[str, Any]
    ) -> None:
        self.loan = loan
        self.as_of = as_of
        self.rules = rules
        self.contagion = contagion
        self.view = view
        derived = derive(loan, as_of, rules, contagion=contagion)
        self.figures: Position | None = derived.figures
        self.risk = derived.risk
        self.state = derived.state

    def installments(self) -> list[InstallmentDue]:
        return self.figures.installments if self.figures is not None else []


Explainer = Callable[[_Context], tuple[str, list[dict[str, Any]], frozenset[str]]]


def _installment(due: InstallmentDue, amount: Decimal, **fields: Any) -> dict[str, Any]:
    return {
        "part": f"installment {due.number}",
        "installment": due.number,
        "due_date": due.due_date.isoformat(),
        **fields,
        "amount": amount_text(amount),
    }


def _principal_outstanding(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
    parts = [
        _installment(
            due,
            due.principal_unpaid,
            principal=amount_text(due.principal),
            principal_paid=amount_text(due.principal_paid),
        )
        for due in context.installments()
        if due.principal_unpaid != 0
    ]
    rule = (
        "principal outstanding = the sum over the installments of the schedule in force (after "
        "tranches, prepayments and restructures) of scheduled principal less principal paid"
    )
    return rule, parts, MONEY_EVENTS


def _overdue(kind: str) -> Explainer:
    def explain_overdue(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
        parts = []
        for due in context.installments():
            unpaid = due.principal_unpaid if kind == "principal" else due.interest_unpaid
            if due.due_date < context.as_of and unpaid != 0:
                scheduled = due.principal if kind == "principal" else due.interest
                parts.append(
                    _installment(
                        due,
                        unpaid,
                        **{
                            kind: amount_text(scheduled),
                            f"{kind}_paid": amount_text(scheduled - unpaid),
                        },
                    )
                )
        rule = (
            f"overdue {kind} = the sum over installments due before {context.as_of.isoformat()} "
            f"of scheduled {kind} less {kind} paid (an amount is overdue once its due date is "
            "before the date asked)"
        ) + (rate_periods(context.loan, context.as_of) if kind == "interest" else "")
        return rule, parts, MONEY_EVENTS

    return explain_overdue


def _penalty_outstanding(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
    parts: list[dict[str, Any]] = []
    if context.figures is not None:
        position, windows = penalty_windows(
            context.loan.terms(), context.loan.money_facts(), context.as_of, context.rules
        )
        by_installment: dict[int, list[PenaltyWindow]] = {}
        for window in windows:
            by_installment.setdefault(window.installment, []).append(window)
        for due in position.installments:
            owed = due.penalty_owed(position.currency, position.rounding)
            accrued = by_installment.get(due.number, [])
            if owed == 0 and not accrued:
                continue
            total = sum((window.accrued for window in accrued), start=Fraction(0))
            parts.append(
                _installment(
                    due,
                    owed,
                    accrued_exact=_exact(total),
                    paid=amount_text(due.penalty_paid),
                    settled_by_rounding_exact=_exact(
                        total - Fraction(due.penalty_paid) - due.penalty_unpaid
                    ),
                    unpaid_exact=_exact(due.penalty_unpaid),
                    windows=[_window(window) for window in accrued],
                )
            )
    pricing = context.loan.pricing()
    priced = pricing.applied_to(context.rules) if pricing is not None else context.rules
    multiplier = priced.penalty_multiplier
    rule = (
        "penalty outstanding = the sum over installments of penalty accrued less penalty paid, "
        "each rounded to the fen; for each calendar day after a due date, penalty = (overdue "
        f"principal + unpaid overdue interest) at the end of the day × annual rate × {multiplier}"
        f" / {priced.penalty_day_count_basis} (the first overdue day counts, the payment "
        "day does not; penalty bears no penalty)"
    )
    return rule, parts, MONEY_EVENTS


def _window(window: PenaltyWindow) -> dict[str, Any]:
    return {
        "from": window.first_day.isoformat(),
        "to": window.last_day.isoformat(),
        "days": window.days,
        "base": amount_text(window.base),
        "daily_rate": _exact(window.daily_rate, Decimal("0.0000000001")),
        "accrued_exact": _exact(window.accrued),
    }


def _exact(value: Fraction, places: Decimal = EXACT_PLACES) -> str:
    """An exact rational shown to `places` (for reading only; figures are rounded elsewhere)."""
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(places))


def _days_past_due(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
    parts = []
    oldest = context.figures.oldest_unpaid if context.figures is not None else None
    if oldest is not None and oldest.due_date < context.as_of:
        parts.append(
            {
                "part": f"installment {oldest.number}",
                "installment": oldest.number,
                "due_date": oldest.due_date.isoformat(),
                "unpaid": amount_text(oldest.overdue_base),
                "days": context.view["days_past_due"],
            }
        )
    rule = (
        "days past due = the date asked less the earliest due date whose principal or interest "
        "is still unpaid at the end of that date (0 on the due date itself; penalty alone does "
        "not make a loan past due)"
    )
    return rule, parts, MONEY_EVENTS


def _bucket(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
    days = context.view["days_past_due"]
    bounds = ", ".join(
        f"{name} up to {upper}"
        for name, upper in zip(
            BUCKETS,
            context.rules.bucket_upper_bounds,
            strict=False,
        )
    )
    parts = [{"part": "days_past_due", "value": days, "bucket": bucket(days, context.rules)}]
    return f"bucket by days past due: {bounds}, {BUCKETS[-1]} above", parts, MONEY_EVENTS


def _classification(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
    state, risk, as_of = context.state, context.risk, context.as_of
    days = context.view["days_past_due"]
    candidates = [
        {
            "part": "days past due floor",
            "days_past_due": days,
            "grade": classification_floor(days, context.rules),
        },
    ]
    if state.manual is not None:
        candidates.append(
            {
                "part": "manual downgrade",
                "grade": state.manual.classification,
                "reason": state.manual.reason,
                "version": state.manual.originator_version,
            }
        )
    if risk.observation_until is not None and as_of < risk.observation_until:
        candidates.append(
            {
                "part": "restructure observation",
                "grade": "substandard",
                "until": risk.observation_until.isoformat(),
            }
        )
    if context.contagion:
        candidates.append({"part": "borrower contagion", "grade": "substandard"})
    if state.written_off is not None:
        candidates.append({"part": "written off", "grade": "loss"})
    for candidate in candidates:
        candidate["decides"] = candidate["grade"] == risk.classification
    rule = (
        "classification = the most severe of: the floor by days past due (0 normal, 1-90 special "
        "mention, 91-270 substandard, 271-360 doubtful, over 360 loss), a manual downgrade, "
        "substandard while a restructured loan is observed, substandard when the borrower is "
        "non-performing elsewhere, loss once written off"
    )
    return rule, candidates, RISK_EVENTS


def _ifrs9_stage(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
    risk, rules = context.risk, context.rules
    days = context.view["days_past_due"]
    by_days = ifrs9_stage(days, flagged=False, written_off=False, rules=rules)
    candidates: list[dict[str, Any]] = [
        {"part": "days past due", "days_past_due": days, "stage": by_days}
    ]
    flags = [name for name in risk.warnings if name != "days_past_due"]
    if flags:
        candidates.append({"part": "early warning", "warnings": flags, "stage": 2})
    if context.state.written_off is not None:
        candidates.append({"part": "written off", "stage": 3})
    for candidate in candidates:
        candidate["decides"] = candidate["stage"] == risk.ifrs9_stage
    rule = (
        f"IFRS 9 stage = the highest of: by days past due (stage 2 from "
        f"{rules.stage2_days_past_due}, stage 3 from {rules.stage3_days_past_due}), stage 2 while "
        "an early warning other than days past due is open, stage 3 once written off"
    )
    return rule, candidates, RISK_EVENTS


def _next_due_amount(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
    parts = []
    figures = context.figures
    due = figures.next_due if figures is not None else None
    if due is not None:
        parts = [
            {
                "part": "principal unpaid",
                "installment": due.number,
                "amount": amount_text(due.principal_unpaid),
            },
            {
                "part": "interest unpaid",
                "installment": due.number,
                "amount": amount_text(due.interest_unpaid),
            },
        ]
    rule = (
        "next due amount = what is still unpaid (principal + interest) of the earliest installment "
        "due on or after the date asked with anything unpaid"
    )
    return rule, parts, MONEY_EVENTS


def _overpayment(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
    parts: list[dict[str, Any]] = []
    figures = context.figures
    if figures is not None:
        held = Decimal(0)
        for allocation in sorted(figures.allocations.values(), key=lambda item: item.on):
            if allocation.overpayment:
                held += allocation.overpayment
                parts.append(
                    {
                        "part": f"held from repayment {allocation.reference}",
                        "on": allocation.on.isoformat(),
                        "amount": amount_text(allocation.overpayment),
                    }
                )
        used = held - figures.overpayment
        if used:
            parts.append(
                {
                    "part": "applied to installments as they fell due, or paid back",
                    "amount": amount_text(-used),
                }
            )
    rule = (
        "overpayment = money received beyond what was owed and not asked to prepay, held as a "
        "liability, less what was applied to installments as they fell due or paid back"
    )
    return rule, parts, MONEY_EVENTS


def _ltv(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
    parts: list[dict[str, Any]] = [
        {"part": "principal outstanding", "amount": context.view["principal_outstanding"]}
    ]
    for collateral_id, value in sorted(context.state.collateral.items()):
        parts.append({"part": f"collateral {collateral_id}", "value": amount_text(value)})
    rule = (
        "LTV = principal outstanding / the value of the collateral pledged and not released "
        "(latest appraisal), 4 places HALF_UP; none without collateral; an early warning above "
        f"{context.rules.ltv_warning_above}"
    )
    return rule, parts, COLLATERAL_EVENTS


def _status(context: _Context) -> tuple[str, list[dict[str, Any]], frozenset[str]]:
    view = context.view
    parts = [
        {"part": "days_past_due", "value": view["days_past_due"]},
        {"part": "principal_outstanding", "value": view["principal_outstanding"]},
        {"part": "legal recovery open", "value": context.risk.legal_recovery},
        {"part": "overpayment held", "value": view["overpayment"]},
    ]
    rule = (
        "status: withdrawn or rejected once so decided; closed once closed or nothing is owed, "
        "overpaid instead while money is held for the borrower there; written_off once written "
        "off; legal_recovery from the first day past 90 days past due until the arrears are "
        "repaid; overdue while days past due > 0; else active; before "
        "disbursement the last pre-loan step reached (applied, investigated, reviewed, approved)"
    )
    return rule, parts, LIFECYCLE_EVENTS


EXPLAINERS: dict[str, Explainer] = {
    "principal_outstanding": _principal_outstanding,
    "overdue_principal": _overdue("principal"),
    "overdue_interest": _overdue("interest"),
    "penalty_outstanding": _penalty_outstanding,
    "days_past_due": _days_past_due,
    "bucket": _bucket,
    "classification": _classification,
    "ifrs9_stage": _ifrs9_stage,
    "next_due_amount": _next_due_amount,
    "overpayment": _overpayment,
    "ltv": _ltv,
    "status": _status,
}
"""Every field `explain` answers for."""


def _facts(
    history: Iterable[DomainEvent], kinds: frozenset[str], as_of: date, links: Mapping[int, str]
) -> list[dict[str, Any]]:
    return [
        {
            "version": event.originator_version,
            "type": type(event).__name__,
            "effective_date": event.effective_date.isoformat(),
            "recorded_at": event.timestamp.isoformat(),
            "chain_link": links.get(event.originator_version),
        }
        for event in history
        if type(event).__name__ in kinds and event.effective_date <= as_of
    ]


def explanation_lines(result: Mapping[str, Any]) -> list[str]:
    """An explanation as an indented tree of plain text lines (what the CLI prints)."""
    lines = [
        f"{result['field']} of {result['loan_id']} as of {result['as_of']}: {result['value']}",
        f"  rule ({result['rule_set']}): {result['rule']}",
        "  parts:",
    ]
    for part in result["parts"]:
        lines += _part_lines(part, "    ")
    if not result["parts"]:
        lines.append("    (none)")
    lines.append("  facts:")
    for fact in result["facts"]:
        link = fact["chain_link"] or "-"
        lines.append(
            f"    v{fact['version']} {fact['type']} effective {fact['effective_date']} "
            f"recorded {fact['recorded_at']} link {link[:16]}"
        )
    return lines


def _part_lines(part: Mapping[str, Any], indent: str) -> list[str]:
    scalars = ", ".join(
        f"{key}={_text(value)}"
        for key, value in part.items()
        if key != "part" and not isinstance(value, list)
    )
    lines = [f"{indent}{part.get('part', '')}: {scalars}"]
    for key, value in part.items():
        if isinstance(value, list):
            for child in value:
                if isinstance(child, Mapping):
                    lines += _part_lines({"part": key[:-1], **child}, indent + "  ")
                else:
                    lines.append(f"{indent}  {key}: {_text(child)}")
    return lines


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
