"""Resumed walks (`servicing.Checkpoints`) must give exactly the figures of a walk from scratch.

Each test first derives positions so that walks are remembered, then changes the facts in a way
a stale checkpoint would get wrong (a backdated repayment, a fact on the remembered date itself,
facts known earlier), and compares with a derivation that has nothing remembered.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain import servicing
from loanledger.domain.money import Money
from loanledger.domain.rates import AnnualRate
from loanledger.domain.schedule import RepaymentMethod
from loanledger.domain.servicing import MoneyFact, Position, Terms, derive_position
from tests.journal import disburse, pre_loan, repay

TERMS = Terms(
    amount=Money.of("12000.00"),
    term_months=12,
    annual_rate=AnnualRate.of("0.06"),
    method=RepaymentMethod("annuity"),
    repayment_day=15,
)


@pytest.fixture(autouse=True)
def _nothing_remembered() -> Iterator[None]:
    servicing.CHECKPOINTS.clear()
    yield
    servicing.CHECKPOINTS.clear()


def _figures(position: Position) -> tuple[Any, ...]:
    return (
        position.as_of,
        position.principal_outstanding,
        position.overdue_principal,
        position.overdue_interest,
        position.penalty_outstanding,
        position.days_past_due,
        position.overpayment,
        sorted((ref, item.as_dict()) for ref, item in position.allocations.items()),
        [
            (due.number, due.principal_paid, due.interest_paid, due.penalty_unpaid)
            for due in position.installments
        ],
    )


def _from_scratch(facts: list[MoneyFact], as_of: date) -> Position:
    servicing.CHECKPOINTS.clear()
    return derive_position(TERMS, facts, as_of)


def _fact(kind: str, on: date, amount: str, reference: str, sequence: int) -> MoneyFact:
    return MoneyFact(kind, on, Money.of(amount), reference, sequence)


DISBURSED = _fact("disburse", date(2024, 1, 15), "12000.00", "D1", 5)
PAID = _fact("repay", date(2024, 2, 15), "1032.80", "R1", 6)


def test_a_later_derivation_continues_the_remembered_walk() -> None:
    facts = [DISBURSED, PAID]
    derive_position(TERMS, facts, date(2024, 3, 1))
    walked = derive_position(TERMS, facts, date(2024, 5, 20))  # resumed: penalty since 03-15
    assert _figures(walked) == _figures(_from_scratch(facts, date(2024, 5, 20)))
    assert walked.days_past_due == 66


def test_a_backdated_repayment_after_a_remembered_position_changes_the_figures() -> None:
    facts = [DISBURSED, PAID]
    stale = derive_position(TERMS, facts, date(2024, 4, 30))  # remembered: overdue since 03-15
    assert stale.days_past_due == 46
    late = [*facts, _fact("repay", date(2024, 3, 15), "1032.80", "R2", 7)]  # recorded later
    after = derive_position(TERMS, late, date(2024, 5, 1))
    assert _figures(after) == _figures(_from_scratch(late, date(2024, 5, 1)))
    assert after.days_past_due == 16  # 04-15 is unpaid now, not 03-15
    # The remembered walk of the old facts is still right for them.
    assert _figures(derive_position(TERMS, facts, date(2024, 4, 30))) == _figures(stale)


def test_a_fact_on_the_remembered_date_itself_is_not_skipped() -> None:
    facts = [DISBURSED, PAID]
    derive_position(TERMS, facts, date(2024, 3, 20))
    same_day = [*facts, _fact("repay", date(2024, 3, 20), "500.00", "R2", 7)]
    for day in (date(2024, 3, 20), date(2024, 3, 21)):
        assert _figures(derive_position(TERMS, same_day, day)) == _figures(
            _from_scratch(same_day, day)
        )
    assert derive_position(TERMS, same_day, date(2024, 3, 20)).allocations["R2"].penalty > 0


def test_facts_known_earlier_are_not_served_from_a_walk_that_took_more() -> None:
    facts = [DISBURSED, PAID, _fact("repay", date(2024, 3, 15), "1032.80", "R2", 7)]
    derive_position(TERMS, facts, date(2024, 6, 1))
    known_earlier = facts[:2]  # as known before R2 was recorded
    assert _figures(derive_position(TERMS, known_earlier, date(2024, 6, 1))) == _figures(
        _from_scratch(known_earlier, date(2024, 6, 1))
    )


def test_a_resumed_walk_leaves_the_remembered_one_as_it_was() -> None:
    facts = [DISBURSED, PAID]
    first = derive_position(TERMS, facts, date(2024, 4, 1))
    before = _figures(first)
    derive_position(
        TERMS, [*facts, _fact("repay", date(2024, 4, 10), "5000.00", "R2", 7)], date(2024, 9, 1)
    )
    assert _figures(first) == before


def test_the_ledger_sees_a_backdated_repayment_recorded_after_a_cached_position(
    ledger: LoanLedger,
) -> None:
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    day = date(2024, 3, 1)
    while day <= date(2024, 4, 30):  # close of day derives (and remembers) every day
        ledger.close_day(day)
        day += timedelta(days=1)
    stale = ledger.loan("L-0001", as_of="2024-04-30")
    assert stale["days_past_due"] == 75
    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "BANK-1"))
    fresh = ledger.loan("L-0001", as_of="2024-04-30")
    servicing.CHECKPOINTS.clear()
    assert fresh == ledger.loan("L-0001", as_of="2024-04-30")
    assert fresh["days_past_due"] == 46
    assert Decimal(fresh["penalty_outstanding"]) < Decimal(stale["penalty_outstanding"])
