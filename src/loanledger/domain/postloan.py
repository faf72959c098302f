"""Post-loan (贷后) state and decisions, derived from a loan's facts for one business date.

`PostLoanState` gathers what was in force at the end of `as_of` (collateral values, guarantors'
latest assessments, the latest post-loan check, notices and receipts, legal recovery, write-off,
restructure, closure). `assess` turns it and the money position into the risk view the Contract
reports: warnings, classification (五级分类) and IFRS 9 stage. `actions_on` lists the notices and
records close of day owes on a date, and `next_action_after` tells the close-of-day index when a
loan next needs looking at, so that closing a day touches only loans with work that day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from loanledger.domain.calendar import add_months
from loanledger.domain.contagion import spread_to
from loanledger.domain.event import DomainEvent
from loanledger.domain.limitation import (
    CLOCK_WARNINGS,
    GUARANTEE_PERIOD_MONTHS,
    clock_warnings,
    limitation_expiry,
)
from loanledger.domain.loan_events import (
    ArbitrationFiled,
    ClassificationChanged,
    ClassificationDowngraded,
    CollateralPledged,
    CollateralReleased,
    CollateralRevalued,
    GuarantorAdded,
    GuarantorAssessed,
    LegalRecoveryOpened,
    LoanClosed,
    LoanDisbursed,
    LoanRestructured,
    LoanWrittenOff,
    NoticeAcknowledged,
    NoticeIssued,
    PostLoanCheckRecorded,
    RepaymentReceived,
)
from loanledger.domain.origination import ltv_breached, made_today
from loanledger.domain.rules import (
    RuleSet,
    classification_floor,
    ifrs9_stage,
    stage_floor,
    worse_classification,
)
from loanledger.domain.servicing import InstallmentDue, Position


class LoanHistory(Protocol):
    """What the post-loan rules read from a loan: its recorded facts. A protocol rather than the
    `Loan` class, so this module never imports the aggregate that imports it."""

    @property
    def history(self) -> Sequence[DomainEvent]: ...


OBSERVATION_MONTHS = 12
"""A restructured loan stays at least substandard for at least a year ..."""

OBSERVATION_PERIODS = 2
"""... and at least two repayment periods."""

WARNING_ORDER = (
    "days_past_due",
    "ltv_breach",
    "adverse_post_loan_check",
    "guarantor_weakened",
    *CLOCK_WARNINGS,
)


@dataclass
class PostLoanState:
    """What was in force at the end of `as_of`, from facts effective by then."""

    as_of: date
    collateral: dict[str, Decimal] = field(default_factory=dict)
    """Active collateral: id -> latest appraised value."""
    guarantors: dict[str, GuarantorAdded] = field(default_factory=dict)
    guarantor_ability: dict[str, str] = field(default_factory=dict)
    checks: list[PostLoanCheckRecorded] = field(default_factory=list)
    notices: dict[str, NoticeIssued] = field(default_factory=dict)
    acknowledged: dict[str, NoticeAcknowledged] = field(default_factory=dict)
    legal: LegalRecoveryOpened | None = None
    written_off: LoanWrittenOff | None = None
    restructured: LoanRestructured | None = None
    closed: LoanClosed | None = None
    manual: ClassificationDowngraded | None = None
    recorded_grade: ClassificationChanged | None = None
    origination_on: date | None = None
    """The first disbursement's date (initial recognition, for the origination LTV)."""
    origination_principal: Decimal = Decimal(0)
    collateral_history: list[tuple[date, Decimal]] = field(default_factory=list)
    interruptions: list[date] = field(default_factory=list)
    """Dates a claim was filed or a payment made: each restarts the limitation clock."""
    """(effective date, total active collateral value after it), one entry per collateral fact."""

    @property
    def collateral_value(self) -> Decimal:
        return sum(self.collateral.values(), start=Decimal(0))

    @property
    def last_check(self) -> PostLoanCheckRecorded | None:
        return self.checks[-1] if self.checks else None


def post_loan_state(loan: LoanHistory, as_of: date) -> PostLoanState:
    """Gather the post-loan facts effective on or before `as_of`, in effective order."""
    state = PostLoanState(as_of)
    events = sorted(
        (event for event in loan.history if event.effective_date <= as_of),
        key=lambda event: (event.effective_date, event.originator_version),
    )
    for event in events:
        gather_post_loan_fact(state, event)
    return state


_GATHERED = frozenset(
    {
        CollateralPledged,
        CollateralRevalued,
        CollateralReleased,
        GuarantorAdded,
        GuarantorAssessed,
        PostLoanCheckRecorded,
        NoticeIssued,
        NoticeAcknowledged,
        LegalRecoveryOpened,
        LoanWrittenOff,
        LoanRestructured,
        LoanClosed,
        LoanDisbursed,
        ClassificationDowngraded,
        ClassificationChanged,
        ArbitrationFiled,
        RepaymentReceived,
    }
)
"""The post-loan facts; most of a loan's events (money, pre-loan) are skipped at once."""


def gather_post_loan_fact(state: PostLoanState, event: DomainEvent) -> None:
    """Add one fact to `state` when the post-loan rules read it (others are passed over). Facts
    are gathered in effective order; `post_loan_state` does it for all of a loan's facts, the
    segment projection one fact at a time."""
    if type(event) not in _GATHERED:
        return
    if isinstance(event, CollateralPledged | CollateralRevalued):
        state.collateral[event.collateral_id] = event.value
        state.collateral_history.append((event.effective_date, state.collateral_value))
    elif isinstance(event, CollateralReleased):
        state.collateral.pop(event.collateral_id, None)
        state.collateral_history.append((event.effective_date, state.collateral_value))
    elif isinstance(event, ArbitrationFiled | RepaymentReceived):
        state.interruptions.append(event.effective_date)
    elif isinstance(event, LoanDisbursed):
        if state.origination_on is None:
            state.origination_on = event.effective_date
        if state.origination_on == event.effective_date:
            state.origination_principal += event.amount
    elif isinstance(event, GuarantorAdded):
        state.guarantors[event.guarantor_id] = event
        state.guarantor_ability[event.guarantor_id] = "normal"
    elif isinstance(event, GuarantorAssessed):
        state.guarantor_ability[event.guarantor_id] = event.ability
    elif isinstance(event, PostLoanCheckRecorded):
        state.checks.append(event)
    elif isinstance(event, NoticeIssued):
        state.notices[event.notice_id] = event
    elif isinstance(event, NoticeAcknowledged):
        state.acknowledged[event.notice_id] = event
    elif isinstance(event, LegalRecoveryOpened):
        state.legal = event
    elif isinstance(event, LoanWrittenOff):
        state.written_off = event
    elif isinstance(event, LoanRestructured):
        state.restructured = event
    elif isinstance(event, LoanClosed):
        state.closed = event
    elif isinstance(event, ClassificationDowngraded):
        state.manual = event
    elif isinstance(event, ClassificationChanged):
        state.recorded_grade = event


@dataclass(frozen=True)
class RiskView:
    """Warnings, classification and stage of one loan on one date, with the reasons."""

    warnings: tuple[str, ...]
    classification: str
    ifrs9_stage: int
    reasons: tuple[str, ...]
    ltv: Decimal | None
    limitation_expires_on: date | None
    guarantee_expires_on: date | None
    observation_until: date | None
    legal_recovery: bool
    next_check_due: date | None


def ltv_of(position: Position | None, state: PostLoanState) -> Decimal | None:
    """Loan outstanding / active collateral value, 4 places HALF_UP; None without collateral."""
    value = state.collateral_value
    if position is None or value <= 0:
        return None
    return (position.principal_outstanding / value).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )


def assess(
    state: PostLoanState, position: Position | None, rules: RuleSet, *, contagion: bool = False
) -> RiskView:
    """The Contract's risk view: DPD floors, manual downgrade, restructure observation, warnings."""
    days_past_due = position.days_past_due if position is not None else 0
    ltv = ltv_of(position, state)
    warnings = set()
    if days_past_due >= 1:
        warnings.add("days_past_due")
    if ltv_breached(state, ltv, rules):
        warnings.add("ltv_breach")
    last_check = state.last_check
    if last_check is not None and last_check.rating == "adverse":
        warnings.add("adverse_post_loan_check")
    if any(ability == "weakened" for ability in state.guarantor_ability.values()):
        warnings.add("guarantor_weakened")
    limitation = limitation_expires_on(state, position)
    guarantee = guarantee_expires_on(state, position)
    warnings |= clock_warnings(state.as_of, limitation, guarantee, overdue=days_past_due >= 1)
    ordered = tuple(name for name in WARNING_ORDER if name in warnings)

    classification = classification_floor(days_past_due, rules)
    reasons = [f"days_past_due={days_past_due}"]
    if state.manual is not None:
        manual = state.manual.classification
        if worse_classification(manual, classification) == manual and manual != classification:
            reasons.append(f"manual: {state.manual.reason}")
        classification = worse_classification(classification, manual)
    observation_until = observation_ends_on(state, position)
    if observation_until is not None and state.as_of < observation_until:
        if worse_classification(classification, "substandard") != classification:
            reasons.append("restructured: observation period")
        classification = worse_classification(classification, "substandard")
    if contagion:
        classification, reasons = spread_to(classification, reasons)
    if state.written_off is not None:
        classification = "loss"
    flagged = any(name != "days_past_due" and name not in CLOCK_WARNINGS for name in ordered)
    stage = ifrs9_stage(
        days_past_due, flagged=flagged, written_off=state.written_off is not None, rules=rules
    )
    in_observation = observation_until is not None and state.as_of < observation_until
    stage = max(stage, stage_floor(classification, in_observation=in_observation, rules=rules))
    if made_today(state) and state.written_off is None:
        # Initial recognition: nothing can have increased since, so only days past due count.
        stage = ifrs9_stage(days_past_due, flagged=False, written_off=False, rules=rules)
    legal = legal_recovery_in_force(state, position)
    return RiskView(
        warnings=ordered,
        classification=classification,
        ifrs9_stage=stage,
        reasons=tuple(reasons),
        ltv=ltv,
        limitation_expires_on=limitation,
        guarantee_expires_on=guarantee,
        observation_until=observation_until,
        legal_recovery=legal,
        next_check_due=_next_check_due(state, position, rules),
    )


def legal_recovery_in_force(state: PostLoanState, position: Position | None) -> bool:
    """Whether the latest legal recovery case (依法收贷) is still open at the end of `as_of`: it
    lasts until the arrears are fully repaid (or the loan is written off or closed). Once they
    were repaid on some day after it opened, the case has ended for good; a later DPD > 90
    opens a new one (close of day records a new `legal` notice)."""
    if state.legal is None or state.written_off is not None or state.closed is not None:
        return False
    if position is None:
        return True
    if position.overdue_principal + position.overdue_interest == 0:
        return False  # the arrears are fully repaid
    cleared = position.arrears_cleared_on
    return cleared is None or cleared < state.legal.effective_date


def observation_ends_on(state: PostLoanState, position: Position | None) -> date | None:
    """The end of a restructured loan's observation period (重组观察期): the later of
    `OBSERVATION_MONTHS` after the restructure and its `OBSERVATION_PERIODS`-th new due date;
    None when the loan was not restructured."""
    if state.restructured is None or position is None:
        return None
    start = state.restructured.effective_date
    new_dues = [due.due_date for due in position.installments if due.due_date > start]
    periods = new_dues[OBSERVATION_PERIODS - 1] if len(new_dues) >= OBSERVATION_PERIODS else start
    return max(add_months(start, OBSERVATION_MONTHS), periods)


def limitation_expires_on(state: PostLoanState, position: Position | None) -> date | None:
    """Three years from the earliest unpaid due date, restarted by the latest interruption (a
    receipt of a demand, a claim filed, a partial payment: `domain.limitation`)."""
    if position is None:
        return None
    # The first installment both past due and unpaid: installments are in due-date order, so it
    # is the oldest unpaid one if that is past due (a position that sums its installments once
    # for a row knows that one already).
    oldest = position.oldest_unpaid
    earliest = oldest.due_date if oldest is not None and oldest.due_date < state.as_of else None
    receipts = [event.effective_date for event in state.acknowledged.values()]
    return limitation_expiry(earliest, [*receipts, *state.interruptions])


def guarantee_expires_on(state: PostLoanState, position: Position | None) -> date | None:
    """The first date a guarantee of this loan lapses (its period counted from maturity)."""
    if not state.guarantors or position is None or position.maturity_date is None:
        return None
    maturity = position.maturity_date
    # The first guarantee to lapse is the one a claim must beat.
    return min(
        add_months(maturity, added.guarantee_period_months or GUARANTEE_PERIOD_MONTHS)
        for added in state.guarantors.values()
    )


def _next_check_due(state: PostLoanState, position: Position | None, rules: RuleSet) -> date | None:
    """Every `post_loan_check_interval_days` after the last check (or the first disbursement)."""
    if position is None or position.first_disbursed_on is None or position.is_settled:
        return None
    if state.written_off is not None or state.closed is not None:
        return None
    last = state.last_check.effective_date if state.last_check else position.first_disbursed_on
    return last + timedelta(days=rules.post_loan_check_interval_days)


# --- close of day ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One record close of day owes on a date: an event class name and its fields."""

    kind: str
    fields: dict[str, Any]


def notice_id(loan_id: str, kind: str, on: date) -> str:
    """Deterministic, so closing the same day twice finds the notice it already issued."""
    return f"{loan_id}/{kind}/{on.isoformat()}"


def actions_on(
    loan_id: str,
    day: date,
    position: Position | None,
    state: PostLoanState,
    risk: RiskView,
    rules: RuleSet,
) -> list[Action]:
    """What close of day records for one loan on `day`, given its state at the end of `day`."""
    if position is None or position.first_disbursed_on is None:
        return []
    if state.closed is not None or state.written_off is not None:
        return []
    actions: list[Action] = []

    def notice(
        kind: str, amount_due: Decimal, *, due: InstallmentDue | None = None, dpd: int = 0
    ) -> None:
        identifier = notice_id(loan_id, kind, day)
        if identifier in state.notices:
            return  # issued by an earlier close of this day
        fields = {
            "notice_id": identifier,
            "kind": kind,
            "due_date": due.due_date if due is not None else None,
            "installment_number": due.number if due is not None else None,
            "days_past_due": dpd,
            "amount_due": amount_due,
            "rule_set": rules.version,
        }
        actions.append(Action("NoticeIssued", fields))

    reminder_for = day + timedelta(days=rules.reminder_days_before_due)
    for due in position.installments:
        if due.due_date == reminder_for and due.overdue_base > position.overpayment:
            notice("reminder", due.overdue_base, due=due)
    days_past_due = position.days_past_due
    arrears = position.overdue_principal + position.overdue_interest + position.penalty_outstanding
    if days_past_due >= 1 and (days_past_due - 1) % rules.dunning_interval_days == 0:
        notice("dunning", arrears, dpd=days_past_due)
    if days_past_due > rules.legal_recovery_after_days and not risk.legal_recovery:
        actions.append(
            Action(
                "LegalRecoveryOpened", {"days_past_due": days_past_due, "rule_set": rules.version}
            )
        )
        notice("legal", arrears, dpd=days_past_due)
    previous = state.recorded_grade
    previous_grade = previous.classification if previous else "normal"
    previous_stage = previous.ifrs9_stage if previous else 1
    if (risk.classification, risk.ifrs9_stage) != (previous_grade, previous_stage):
        actions.append(
            Action(
                "ClassificationChanged",
                {
                    "previous": previous_grade,
                    "classification": risk.classification,
                    "previous_stage": previous_stage,
                    "ifrs9_stage": risk.ifrs9_stage,
                    "days_past_due": days_past_due,
                    "reasons": risk.reasons,
                    "rule_set": rules.version,
                },
            )
        )
    return actions


def next_action_after(
    day: date, position: Position | None, risk: RiskView | None, rules: RuleSet
) -> date | None:
    """The first date after `day` on which close of day may owe this loan a record, assuming no
    new facts arrive (any new fact re-queues the loan). None when nothing can fall due."""
    if position is None or position.first_disbursed_on is None or position.is_settled:
        return None
    candidates = []
    if risk is not None and risk.observation_until is not None and risk.observation_until > day:
        candidates.append(risk.observation_until)
    for due in position.installments:
        if due.overdue_base <= 0:
            continue
        reminder = due.due_date - timedelta(days=rules.reminder_days_before_due)
        for candidate in (reminder, due.due_date + timedelta(days=1)):
            if candidate > day:
                candidates.append(candidate)
    first_unpaid = next((due for due in position.installments if due.overdue_base > 0), None)
    if first_unpaid is not None and first_unpaid.due_date < day + timedelta(days=1):
        # Overdue: the next dunning day (dunning has no upper bound: DPD 1, 1 + interval, ...
        # for as long as the loan stays overdue), and each DPD threshold of grade, stage and
        # legal action.
        grace = timedelta(days=position.grace_days)
        since = first_unpaid.due_date + grace  # days past due count from here
        thresholds = [_next_dunning_days_past_due(max((day - since).days, 0), rules)]
        thresholds += [*rules.classification_floors, rules.stage2_days_past_due]
        thresholds += [rules.stage3_days_past_due, rules.legal_recovery_after_days + 1]
        for threshold in thresholds:
            candidate = since + timedelta(days=threshold)
            if candidate > day:
                candidates.append(candidate)
    return min(candidates) if candidates else None


def _next_dunning_days_past_due(days_past_due: int, rules: RuleSet) -> int:
    """The first dunning day's DPD (1, 1 + interval, 1 + 2 × interval, ...) after
    `days_past_due`."""
    interval = rules.dunning_interval_days
    if days_past_due < 1:
        return 1
    return 1 + interval * ((days_past_due - 1) // interval + 1)
