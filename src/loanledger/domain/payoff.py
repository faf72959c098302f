"""The payoff quote (提前结清金额): what must be paid on a date to settle a loan exactly.

The quote is the money walk's own answer, not a second formula: the loan's facts are walked with
one more repayment on `on` that asks to prepay and is larger than anything the loan could owe,
and what that repayment used is the quote. So penalty runs to the day before (a payment on a day
meets the penalty accrued through the day before), installments due on `on` are met first, the
interest of the current period is charged as a prepayment charges it, and the overpayment the
loan holds counts toward it: paying `total` on `on` with `prepay: true` leaves nothing owed and
nothing held (DESIGN §12: "total": "0.00" settles exactly). A total of zero before anything is
paid means the money held covers the payoff already: nothing more is to be paid, and the held
money meets the installments as they fall due (or any prepayment uses it at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from loanledger.domain.money import Money
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.domain.servicing import MoneyFact, Terms, derive_position

ZERO = Decimal(0)

QUOTE_REFERENCE = "payoff-quote"
"""The reference of the repayment the quote walks with (never recorded)."""


@dataclass(frozen=True)
class Payoff:
    """What settles a loan on `on`: its parts, what it holds, and the `total` still to pay."""

    on: date
    principal: Money
    interest: Money
    """Interest due and unpaid plus the interest earned in the current period up to `on`."""
    penalty: Money
    fees: Money
    held: Money
    """Overpayment the loan holds, which counts toward the payoff."""

    @property
    def owed(self) -> Money:
        return self.principal + self.interest + self.penalty + self.fees

    @property
    def total(self) -> Money:
        """What is still to pay after what is held (zero when the held money covers it)."""
        if self.owed <= self.held:
            return Money.zero(self.owed.currency)
        return self.owed - self.held

    def as_dict(self, loan_id: str) -> dict[str, str]:
        return {
            "loan_id": loan_id,
            "on": self.on.isoformat(),
            "principal": _text(self.principal),
            "interest": _text(self.interest),
            "penalty": _text(self.penalty),
            "fees": _text(self.fees),
            "held": _text(self.held),
            "total": _text(self.total),
        }


def payoff(terms: Terms, facts: Sequence[MoneyFact], on: date, rules: RuleSet = CN_2023) -> Payoff:
    """The payoff quote of a disbursed loan on `on` from its money facts (pure)."""
    code = terms.currency
    before = derive_position(terms, facts, on, rules)
    owed_at_most = (
        before.principal_outstanding
        + sum((due.interest_unpaid for due in before.installments), start=ZERO)
        + before.penalty_outstanding
        + before.fees_outstanding
    )
    # Larger than anything the loan could owe on `on`: the carried interest of a broken period
    # is at most a few days' more than a scheduled installment's interest.
    probe = 2 * owed_at_most + 1
    sequence = max((fact.sequence for fact in facts), default=0) + 1
    quote = MoneyFact("repay", on, Money.of(probe, code), QUOTE_REFERENCE, sequence, prepay=True)
    # The walk to the end of the day before is remembered, so the hypothetical walk continues it
    # instead of walking the loan's whole history again; the hypothetical walk itself is not
    # remembered (no recorded history continues it).
    derive_position(terms, facts, on - timedelta(days=1), rules)
    after = derive_position(terms, [*facts, quote], on, rules, remember=False)
    met = after.allocations[QUOTE_REFERENCE]
    principal = met.principal + met.prepaid_principal
    owed = met.penalty + met.interest + principal + met.fee
    held = owed + after.overpayment - probe
    return Payoff(
        on=on,
        principal=Money.of(principal, code),
        interest=Money.of(met.interest, code),
        penalty=Money.of(met.penalty, code),
        fees=Money.of(met.fee, code),
        held=Money.of(held, code),
    )


def _text(value: Money) -> str:
    return f"{value.amount:.2f}"
