"""A synthetic, realistic loan book for the demo, generated deterministically from a seed.

`SyntheticBook(ledger, loans=N, seed=S).run(emit)` walks business days from `start` for `months`
months. Each day it decides, with one `random.Random(seed)`, what every loan's people do that day
(apply, investigate, review, approve or reject, disburse, repay, pledge and revalue collateral,
check, acknowledge notices, go to arbitration, write off, close), applies each command to the
ledger at once (in a `LoanLedger.batch`: a day's commands are stored in one transaction) and hands
it to `emit`, then closes the day. The commands are valid by construction and come in the order
they were entered, so the journal replays with `LoanLedger.load`. Repayment amounts come from the
ledger itself (the schedule, and the `loan` view on the days a borrower cures arrears or a case is
filed); nothing else is queried. With `late` (the demo) a few facts are entered late.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from loanledger.application import LoanLedger
from loanledger.domain.calendar import add_months
from loanledger.entrypoints.synthetic_late import LATE_DAYS, BookClock, LateFacts
from loanledger.entrypoints.synthetic_mix import (
    APPLICATION_WINDOW_DAYS,
    APPRAISERS,
    APPROVERS,
    BEHAVIOURS,
    CENT,
    COLLATERAL_KINDS,
    GIVEN,
    INSPECTORS,
    INVESTIGATORS,
    METHODS,
    MONTHS,
    OUTCOMES,
    PURPOSES,
    REVIEWERS,
    START,
    SURNAMES,
    TERMS,
    ZERO,
    BookSummary,
    LoanPlan,
    id_number,
    quota,
    weekday,
)
from loanledger.reports.amounts import amount_text

Emit = Callable[[dict[str, Any]], None]
DayHook = Callable[[date, dict[str, Any]], None]


Action = tuple[str, str, dict[str, Any]]


class SyntheticBook:
    """Generates and applies a demo book to `ledger`, day by day, from `seed`."""

    def __init__(
        self,
        ledger: LoanLedger,
        *,
        loans: int = 2000,
        seed: int = 7,
        start: date = START,
        months: int = MONTHS,
        clock: BookClock | None = None,
        late: LateFacts | None = None,
    ) -> None:
        if loans < 1:
            raise ValueError("the book needs at least one loan")
        self.ledger = ledger
        self.rng = random.Random(seed)
        self.start = start
        self.end = add_months(start, months) - timedelta(days=1)
        self.summary = BookSummary()
        self.clock, self.late = clock, late
        self.plans: dict[str, LoanPlan] = {}
        self._agenda: dict[date, list[Action]] = defaultdict(list)
        self._installment_days: dict[str, set[date]] = defaultdict(set)
        """Every date an installment action was put on the agenda for, per loan (dates already
        run stay: they are only asked about later dates)."""
        self._emit: Emit = lambda command: None
        self._batch = ledger.batch()
        self._plan(loans)

    # --- planning ------------------------------------------------------------------------------

    def _plan(self, count: int) -> None:
        rng = self.rng
        outcomes = quota(rng, count, OUTCOMES)
        behaviours = quota(rng, count, BEHAVIOURS)
        window = min(APPLICATION_WINDOW_DAYS, (self.end - self.start).days)
        days = sorted(weekday(self.start + timedelta(rng.randrange(window))) for _ in outcomes)
        for number, (applied_on, outcome, behaviour) in enumerate(
            zip(days, outcomes, behaviours, strict=True), start=1
        ):
            method = rng.choices(METHODS, weights=(50, 25, 15, 10))[0]
            term = rng.choice((6, 9, 12)) if method == "bullet" else rng.choice(TERMS)
            amount = Decimal(round(10 ** rng.uniform(4.3, 5.9), -2))
            if rng.random() < 0.2:
                amount += Decimal(rng.randrange(1, 100)) / 100
            plan = LoanPlan(
                loan_id=f"L-{number:05d}",
                borrower_id=f"B-{number:05d}",
                borrower_name=rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2)))),
                id_number=id_number(rng),
                amount=amount,
                term_months=term,
                annual_rate=Decimal(rng.randrange(350, 1801)) / 10000,
                method=method,
                purpose=rng.choice(PURPOSES),
                applied_on=applied_on,
                outcome=outcome,
                behaviour=behaviour,
                collateral_value=(
                    (amount * Decimal(str(round(rng.uniform(1.25, 2.2), 2)))).quantize(Decimal(100))
                    if rng.random() < 0.55
                    else None
                ),
                guarantor=rng.random() < 0.35,
            )
            self.plans[plan.loan_id] = plan
            self._at(applied_on, plan.loan_id, "apply")

    def _at(self, day: date, loan_id: str, action: str, **params: Any) -> None:
        if day <= self.end:
            self._agenda[day].append((loan_id, action, params))
            if action == "installment":
                self._installment_days[loan_id].add(day)

    # --- running -------------------------------------------------------------------------------

    def run(self, emit: Emit, on_day_closed: DayHook | None = None) -> BookSummary:
        """Generate and apply the whole book; `emit` receives every accepted command in order,
        `on_day_closed` the date and the close-of-day result after each day."""
        self._emit = emit
        day = self.start
        with self.ledger.batch() as self._batch:
            while day <= self.end:
                if self.clock is not None:
                    self.clock.day = day
                actions = self._agenda.pop(day, [])
                index = 0
                while index < len(actions):  # handlers may add work for the same day
                    loan_id, action, params = actions[index]
                    getattr(self, f"_do_{action}")(self.plans[loan_id], day, **params)
                    index += 1
                result = self._execute({"command": "close_day", "on": day.isoformat()})
                assert result is not None
                self.summary.days += 1
                if on_day_closed is not None:
                    on_day_closed(day, result)
                day += timedelta(days=1)
        return self.summary

    def _execute(self, command: dict[str, Any]) -> dict[str, Any] | None:
        result = self._batch.execute(command)
        self._emit(command)
        self.summary.commands += 1
        name = command["command"]
        self.summary.by_command[name] = self.summary.by_command.get(name, 0) + 1
        return result

    def _loan_command(self, name: str, plan: LoanPlan, day: date, **fields: Any) -> None:
        self._execute({"command": name, "loan_id": plan.loan_id, "on": day.isoformat(), **fields})

    def _ledger(self) -> LoanLedger:
        """The ledger for a query: the commands staged so far are stored first."""
        self._batch.flush()
        return self.ledger

    def _later(self, day: date, low: int, high: int) -> date:
        return day + timedelta(days=self.rng.randint(low, high))

    # --- pre-loan ------------------------------------------------------------------------------

    def _do_apply(self, plan: LoanPlan, day: date) -> None:
        self.summary.applications += 1
        self._loan_command(
            "apply",
            plan,
            day,
            borrower={
                "id": plan.borrower_id,
                "name": plan.borrower_name,
                "id_number": plan.id_number,
            },
            amount=amount_text(plan.amount),
            currency="CNY",
            term_months=plan.term_months,
            annual_rate=f"{plan.annual_rate:.4f}",
            repayment_method=plan.method,
            purpose=plan.purpose,
        )
        self._at(self._later(day, 1, 3), plan.loan_id, "investigate")

    def _do_investigate(self, plan: LoanPlan, day: date) -> None:
        rng = self.rng
        declined = plan.outcome == "rejected" and rng.random() < 0.4
        first, second = rng.sample(INVESTIGATORS, 2)
        self._loan_command(
            "record_investigation",
            plan,
            day,
            investigators=[first, second],
            findings={
                "basic": rng.choice(("营业执照 valid", "registered 2016", "sole proprietor")),
                "operations": rng.choice(("steady orders", "seasonal sales", "two outlets")),
                "finances": f"debt ratio {rng.randrange(20, 85)}%",
                "credit_record": rng.choice(
                    ("no defaults in PBoC report", "one late card payment 2022", "thin file")
                ),
                "management": rng.choice(("experienced owner", "family business", "new manager")),
                "guarantees": (
                    "collateral offered" if plan.collateral_value is not None else "unsecured"
                ),
            },
            conclusion="decline" if declined else "recommend",
        )
        if declined:
            self._at(
                self._later(day, 1, 3), plan.loan_id, "reject", reason="investigators declined"
            )
        else:
            self._at(self._later(day, 1, 3), plan.loan_id, "review")

    def _do_review(self, plan: LoanPlan, day: date) -> None:
        failed = plan.outcome == "rejected" and self.rng.random() < 0.5
        self._loan_command(
            "review",
            plan,
            day,
            reviewer=self.rng.choice(REVIEWERS),
            passed=not failed,
            notes="cash flow does not cover installments" if failed else "dossier complete",
        )
        if failed:
            self._at(self._later(day, 1, 2), plan.loan_id, "reject", reason="review failed")
        elif plan.outcome == "rejected":
            self._at(self._later(day, 1, 3), plan.loan_id, "reject", reason="credit committee")
        else:
            self._at(self._later(day, 1, 3), plan.loan_id, "approve")

    def _do_reject(self, plan: LoanPlan, day: date, reason: str) -> None:
        self.summary.rejected += 1
        self._loan_command(
            "reject", plan, day, approver=self.rng.choice(list(APPROVERS)), reason=reason
        )

    def _do_approve(self, plan: LoanPlan, day: date) -> None:
        rng = self.rng
        approved = plan.amount
        if rng.random() < 0.15:
            approved = max(Decimal(1000), (plan.amount * Decimal("0.8")).quantize(Decimal(100)))
        approvers = [name for name, limit in APPROVERS.items() if limit >= approved]
        plan.approver = rng.choice(approvers)
        plan.approved_amount = approved
        fields: dict[str, Any] = {
            "approver": plan.approver,
            "authority_limit": amount_text(APPROVERS[plan.approver]),
            "amount": amount_text(approved),
            "term_months": plan.term_months,
            "annual_rate": f"{plan.annual_rate:.4f}",
            "repayment_method": plan.method,
        }
        if rng.random() < 0.3:
            fields["repayment_day"] = rng.choice((5, 10, 15, 20, 25))
        self._loan_command("approve", plan, day, **fields)
        if plan.collateral_value is not None:
            self._loan_command(
                "pledge_collateral",
                plan,
                day,
                collateral_id=f"{plan.loan_id}-C1",
                kind=rng.choice(COLLATERAL_KINDS),
                value=amount_text(plan.collateral_value),
                appraiser=rng.choice(APPRAISERS),
            )
        if plan.guarantor:
            self._loan_command(
                "add_guarantor",
                plan,
                day,
                guarantor={"id": f"G-{plan.loan_id[2:]}", "name": rng.choice(SURNAMES) + "某"},
                guaranteed_amount=amount_text(approved),
            )
        if plan.outcome == "withdrawn":
            self._at(self._later(day, 1, 10), plan.loan_id, "withdraw")
        else:
            self._at(self._later(day, 1, 7), plan.loan_id, "disburse")

    def _do_withdraw(self, plan: LoanPlan, day: date) -> None:
        self.summary.withdrawn += 1
        self._loan_command("withdraw", plan, day, reason="borrower found cheaper funding")

    # --- in-loan -------------------------------------------------------------------------------

    def _do_disburse(self, plan: LoanPlan, day: date) -> None:
        rng = self.rng
        self.summary.disbursed += 1
        self.summary.behaviours[plan.behaviour] = self.summary.behaviours.get(plan.behaviour, 0) + 1
        self._loan_command(
            "disburse",
            plan,
            day,
            amount=amount_text(plan.approved_amount),
            reference=f"{plan.loan_id}-D1",
            payee=plan.borrower_name,
        )
        plan.open = True
        self._refresh_schedule(plan, day)
        numbers = sorted(row["number"] for row in plan.schedule.values())
        last = numbers[-1]
        if plan.behaviour == "defaulter":
            plan.default_from = rng.randint(1, min(4, last))
        elif plan.behaviour == "late_cured":
            plan.special_installments = frozenset({rng.randint(1, min(6, last))})
        elif plan.behaviour == "partial":
            plan.special_installments = frozenset(rng.sample(numbers, min(2, len(numbers))))
        elif plan.behaviour == "prepayer" and last >= 3:
            plan.special_installments = frozenset({rng.randint(2, min(last - 1, 9))})
        for due_date in plan.schedule:
            self._at(due_date, plan.loan_id, "installment")
        check = day
        while True:
            check = check + timedelta(days=90 - rng.randrange(6))
            if check > self.end:
                break
            self._at(check, plan.loan_id, "check")
        if plan.collateral_value is not None and rng.random() < 0.35:
            self._at(self._later(day, 60, 300), plan.loan_id, "revalue")
        if plan.guarantor:
            self._at(self._later(day, 150, 200), plan.loan_id, "assess")

    def _refresh_schedule(self, plan: LoanPlan, day: date) -> None:
        rows = self._ledger().schedule(plan.loan_id, as_of=day)
        plan.schedule = {
            date.fromisoformat(row["due_date"]): row
            for row in rows
            if date.fromisoformat(row["due_date"]) >= day
        }
        plan.last_due = max(plan.schedule) if plan.schedule else None

    def _repay(self, plan: LoanPlan, day: date, amount: Decimal, *, prepay: bool = False) -> str:
        plan.repayments += 1
        reference = f"{plan.loan_id}-R{plan.repayments:03d}"
        fields: dict[str, Any] = {"amount": amount_text(amount), "reference": reference}
        if prepay:
            fields["prepay"] = True
        self._loan_command("repay", plan, day, **fields)
        return reference

    def _do_installment(self, plan: LoanPlan, day: date) -> None:
        row = plan.schedule.get(day)
        if not plan.open or row is None:
            return
        rng = self.rng
        number = row["number"]
        installment = Decimal(row["installment"])
        special = number in plan.special_installments
        if plan.behaviour == "defaulter" and number >= plan.default_from:
            if number == plan.default_from:
                self._plan_default(plan, day)
            return
        if plan.behaviour == "late_cured" and special:
            self._at(self._later(day, 5, 20), plan.loan_id, "cure")
            return
        if plan.behaviour == "partial" and special:
            share = Decimal(rng.randrange(50, 81)) / 100
            self._repay(plan, day, (installment * share).quantize(CENT))
            self._at(self._later(day, 5, 20), plan.loan_id, "cure")
            return
        if self.late is not None and self.late.delays_repayment(plan.behaviour, number):
            self._at(day + timedelta(days=LATE_DAYS), plan.loan_id, "late_repay", on=day)
            return
        self._repay(plan, day, installment)
        if plan.behaviour == "prepayer" and special:
            remaining = Decimal(row["principal_remaining"])
            if rng.random() < 0.35:
                self._repay(plan, day, remaining, prepay=True)
                self._close_if_settled(plan, day)
                if not plan.open:
                    return
            self._repay(
                plan,
                day,
                (remaining * Decimal(rng.randrange(20, 61)) / 100).quantize(CENT),
                prepay=True,
            )
            self._refresh_schedule(plan, day)
            for due_date in plan.schedule:
                if due_date > day and due_date not in self._installment_days[plan.loan_id]:
                    self._at(due_date, plan.loan_id, "installment")
        if day == plan.last_due:
            self._at(self._later(day, 0, 3), plan.loan_id, "close")

    def _do_late_repay(self, plan: LoanPlan, day: date, on: date) -> None:
        """The installment due `on`, paid then, entered today (`synthetic_late`)."""
        assert self.late is not None
        self._repay(plan, on, Decimal(plan.schedule[on]["installment"]))
        self.late.note(plan.loan_id, "repay", on, day)

    def _do_cure(self, plan: LoanPlan, day: date) -> None:
        """Pay every arrear and the penalty accrued through yesterday (算头不算尾)."""
        if not plan.open:
            return
        view = self._ledger().loan(plan.loan_id, as_of=day - timedelta(days=1))
        owed = (
            Decimal(view["overdue_principal"])
            + Decimal(view["overdue_interest"])
            + Decimal(view["penalty_outstanding"])
        )
        if owed > 0:
            self._repay(plan, day, owed)
        if plan.last_due is not None and day > plan.last_due:
            self._close_if_settled(plan, day)

    def _do_close(self, plan: LoanPlan, day: date) -> None:
        if plan.open:
            self._close_if_settled(plan, day)

    def _close_if_settled(self, plan: LoanPlan, day: date) -> None:
        view = self._ledger().loan(plan.loan_id, as_of=day)
        owed = sum(
            Decimal(view[name])
            for name in (
                "principal_outstanding",
                "overdue_principal",
                "overdue_interest",
                "penalty_outstanding",
            )
        )
        if owed != 0:
            return
        self._loan_command("close", plan, day)
        plan.open = False
        if plan.collateral_value is not None:
            self._loan_command("release_collateral", plan, day, collateral_id=f"{plan.loan_id}-C1")

    # --- post-loan -----------------------------------------------------------------------------

    def _do_check(self, plan: LoanPlan, day: date) -> None:
        if not plan.open:
            return
        rng = self.rng
        in_default = plan.behaviour == "defaulter" and any(
            row["number"] >= plan.default_from and due < day for due, row in plan.schedule.items()
        )
        if in_default:
            rating = "adverse"
        else:
            rating = rng.choices(("normal", "attention", "adverse"), weights=(82, 12, 6))[0]
        misused = rating == "adverse" and not in_default and rng.random() < 0.1
        fields: dict[str, Any] = {
            "inspector": rng.choice(INSPECTORS),
            "findings": {
                "use_of_funds": "funds moved to a securities account" if misused else "as agreed",
                "repayment_ability": {
                    "normal": "sales steady",
                    "attention": "orders down 20%",
                    "adverse": "unpaid wages, orders down 50%",
                }[rating],
                "collateral": "intact" if plan.collateral_value is not None else "n/a",
                "guarantor": "reachable" if plan.guarantor else "n/a",
            },
            "rating": rating,
        }
        if misused:
            fields["funds_misused"] = True
        self._loan_command("record_post_loan_check", plan, day, **fields)
        if misused:
            self._loan_command(
                "downgrade",
                plan,
                day,
                classification="substandard",
                approver=plan.approver,
                reason="loan funds used against the agreed purpose",
            )

    def _do_revalue(self, plan: LoanPlan, day: date) -> None:
        if not plan.open or plan.collateral_value is None:
            return
        factor = Decimal(str(round(self.rng.uniform(0.35, 1.1), 2)))
        on = day if self.late is None else self.late.revaluation_date(plan.loan_id, day)
        self._loan_command(
            "revalue_collateral",
            plan,
            on,
            collateral_id=f"{plan.loan_id}-C1",
            value=amount_text(
                max(Decimal(100), (plan.collateral_value * factor).quantize(Decimal(100)))
            ),
            appraiser=self.rng.choice(APPRAISERS),
        )

    def _do_assess(self, plan: LoanPlan, day: date) -> None:
        if not plan.open:
            return
        weakened = self.rng.random() < (0.6 if plan.behaviour == "defaulter" else 0.15)
        self._loan_command(
            "assess_guarantor",
            plan,
            day,
            guarantor_id=f"G-{plan.loan_id[2:]}",
            ability="weakened" if weakened else "normal",
            notes="guarantor's business closed" if weakened else "income verified",
        )

    # --- default, collection, legal ------------------------------------------------------------

    def _plan_default(self, plan: LoanPlan, missed: date) -> None:
        """The first missed due date: dunning at DPD 1, legal recovery at DPD 91 (close of day
        issues both); then receipts, an arbitration case or a write-off."""
        rng = self.rng
        dunning = missed + timedelta(days=1)
        legal = missed + timedelta(days=91)
        if rng.random() < 0.6:
            self._at(
                self._later(dunning, 2, 12),
                plan.loan_id,
                "acknowledge",
                notice=f"dunning/{dunning}",
            )
        if rng.random() < 0.4:
            self._at(
                self._later(legal, 3, 15), plan.loan_id, "acknowledge", notice=f"legal/{legal}"
            )
        path = rng.random()
        if path < 0.45:
            self._at(self._later(legal, 10, 40), plan.loan_id, "arbitrate")
        elif path < 0.8:
            self._at(self._later(missed, 185, 260), plan.loan_id, "write_off")

    def _do_acknowledge(self, plan: LoanPlan, day: date, notice: str) -> None:
        self._loan_command("acknowledge_notice", plan, day, notice_id=f"{plan.loan_id}/{notice}")

    def _do_arbitrate(self, plan: LoanPlan, day: date) -> None:
        if not plan.open:
            return
        view = self._ledger().loan(plan.loan_id, as_of=day)
        claim = sum(
            (
                Decimal(view[name])
                for name in ("principal_outstanding", "overdue_interest", "penalty_outstanding")
            ),
            start=ZERO,
        )
        case_id = f"{plan.loan_id}-CASE1"
        self._loan_command(
            "file_arbitration",
            plan,
            day,
            case_id=case_id,
            forum=self.rng.choice(("上海仲裁委员会", "深圳国际仲裁院", "北京仲裁委员会")),
            claim_amount=amount_text(claim),
        )
        self._at(self._later(day, 30, 75), plan.loan_id, "award", case_id=case_id, claim=claim)

    def _do_award(self, plan: LoanPlan, day: date, case_id: str, claim: Decimal) -> None:
        self._loan_command(
            "record_award", plan, day, case_id=case_id, award_amount=amount_text(claim)
        )
        self._at(self._later(day, 10, 30), plan.loan_id, "enforce", case_id=case_id, claim=claim)

    def _do_enforce(self, plan: LoanPlan, day: date, case_id: str, claim: Decimal) -> None:
        self._loan_command("apply_enforcement", plan, day, case_id=case_id, court="区人民法院")
        self._at(self._later(day, 20, 60), plan.loan_id, "recover", case_id=case_id, claim=claim)

    def _do_recover(self, plan: LoanPlan, day: date, case_id: str, claim: Decimal) -> None:
        if not plan.open:
            return
        amount = (claim * Decimal(self.rng.randrange(15, 61)) / 100).quantize(CENT)
        reference = self._repay(plan, day, amount)
        self._loan_command(
            "record_recovery",
            plan,
            day,
            case_id=case_id,
            amount=amount_text(amount),
            repayment_reference=reference,
        )

    def _do_write_off(self, plan: LoanPlan, day: date) -> None:
        if not plan.open:
            return
        reason = "borrower absconded; collection exhausted (呆账核销)"
        self._loan_command("write_off", plan, day, approver=plan.approver, reason=reason)
        plan.open = False
