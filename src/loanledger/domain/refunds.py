"""Refunds (退还多收款): held overpayment paid back to the borrower (issue 17 item 5).

Money received is never refused once a loan is disbursed: what nothing is owed for is held as
overpayment (a liability, `overpayments`), and a settled loan that holds money reads `overpaid`
until it is paid back. A refund may pay back at most what is held on its date, and a refund
recorded with an earlier date may not take away money a later refund already paid back.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from loanledger.domain.errors import OverRefundError
from loanledger.domain.money import Money
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.domain.servicing import MoneyFact, Terms, derive_position

ZERO = Decimal(0)


def check_refund(
    loan_id: str,
    terms: Terms,
    facts: Sequence[MoneyFact],
    refund: MoneyFact,
    rules: RuleSet = CN_2023,
) -> None:
    """Refuse `refund` (OverRefundError) unless every refund, it included, pays back in full
    from what is held on its date."""
    held = derive_position(terms, facts, refund.on, rules).overpayment
    wanted = refund.amount.amount
    if wanted > held:
        code = terms.currency
        raise OverRefundError(
            f"refund of {refund.amount} on {refund.on.isoformat()} is more than the "
            f"{Money.of(held, code)} overpayment loan {loan_id} holds then"
        )
    every = [*facts, refund]
    latest = max(fact.on for fact in every)
    paid = derive_position(terms, every, latest, rules).refunds
    for fact in every:
        if fact.kind == "refund" and paid.get(fact.reference, ZERO) != fact.amount.amount:
            raise OverRefundError(
                f"refund of {refund.amount} on {refund.on.isoformat()} would leave refund "
                f"{fact.reference!r} of {fact.amount} on {fact.on.isoformat()} more than loan "
                f"{loan_id} holds then"
            )
