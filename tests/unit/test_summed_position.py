"""`segments.Summed` sums a position's installments once for a row, and `limitation_expires_on`
takes the oldest unpaid installment from it: on every week of every demo loan, the summed
position gives the position's own figures, and the limitation clock is the one counted from the
first installment both past due and unpaid. Its fees outstanding and the installments that bear
penalty are those the position gives."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loanledger.domain.limitation import limitation_expiry
from loanledger.domain.loan import Loan
from loanledger.domain.postloan import limitation_expires_on, post_loan_state
from loanledger.projection.segments import Summed, _state_on
from tests.unit.demo_histories import demo_histories, replay

FIGURES = (
    "principal_outstanding",
    "overdue_principal",
    "overdue_interest",
    "penalty_outstanding",
    "fees_outstanding",
    "days_past_due",
    "next_due",
    "oldest_unpaid",
)


@pytest.fixture(scope="module")
def loans() -> list[Loan]:
    """Every loan of a small demo book (every kind of loan the demo makes)."""
    return [replay(events) for events in demo_histories(loans=24, seed=5, months=9).values()]


def test_a_summed_position_gives_the_positions_own_figures_and_limitation_clock(
    loans: list[Loan],
) -> None:
    checked = past_due = bearing = 0
    for loan in loans:
        assert loan.application is not None
        start = loan.application.effective_date
        for week in range(45):
            day = start + timedelta(days=7 * week)
            position = loan.position(day)
            if position is None:
                continue
            summed = Summed.of(position)
            for name in FIGURES:
                # The same Decimal, exponent included (a row prints them).
                expected_figure = getattr(position, name)
                assert getattr(summed, name) == expected_figure, (loan.loan_id, day, name)
                assert str(getattr(summed, name)) == str(expected_figure), (loan.loan_id, day)
            grace = timedelta(days=position.grace_days)
            assert summed.penalty_bases == [
                (due.penalty_unpaid, due.overdue_base if due.due_date + grace <= day else 0)
                for due in position.installments
                if due.penalty_unpaid or (due.due_date + grace <= day and due.overdue_base > 0)
            ], (loan.loan_id, day)
            bearing += any(base > 0 for _, base in summed.penalty_bases)
            state = post_loan_state(loan, day)
            earliest = next(
                (
                    due.due_date
                    for due in position.installments
                    if due.due_date < day and due.overdue_base > 0
                ),
                None,
            )
            receipts = [event.effective_date for event in state.acknowledged.values()]
            expected = limitation_expiry(earliest, [*receipts, *state.interruptions])
            assert limitation_expires_on(state, position) == expected, (loan.loan_id, day)
            assert limitation_expires_on(state, summed) == expected, (loan.loan_id, day)
            checked += 1
            past_due += earliest is not None
    assert checked > 300
    assert past_due > 20
    assert bearing > 20


def test_a_checkpoints_post_loan_state_shares_no_container_with_the_walks(
    loans: list[Loan],
) -> None:
    checked = 0
    for loan in loans:
        state = post_loan_state(loan, max(event.effective_date for event in loan.history))
        copied = _state_on(state, state.as_of)
        for name, value in vars(state).items():
            assert getattr(copied, name) == value, name
            if isinstance(value, dict | list):
                assert getattr(copied, name) is not value, name
                checked += 1
    assert checked > 100
