"""A loan remembers its money facts (the money walk's input) for as long as the events they are
built from stay the same: a fact that moves no money (a notice, a grade, a check) does not build
them again, and the facts it hands out are always those a replay of its events builds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from loanledger import LoanLedger
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.domain.servicing import MoneyFact
from loanledger.projection.kept_loans import fork
from tests.journal import disburse, pre_loan, repay, write_off
from tests.unit.demo_histories import demo_histories, replay


@pytest.fixture(scope="module")
def histories() -> list[list[DomainEvent]]:
    """Every loan's events in a small demo book (every kind of loan the demo makes)."""
    return list(demo_histories(loans=24, seed=5, months=9).values())


BUILD = Loan._build_money_facts
"""Building a loan's money facts afresh (the reference the tests compare with)."""


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The version of each loan whose money facts were built afresh, in order."""
    versions: list[int] = []

    def counted(loan: Loan) -> list[MoneyFact]:
        versions.append(loan.version)
        return BUILD(loan)

    monkeypatch.setattr(Loan, "_build_money_facts", counted)
    return versions


def test_the_money_facts_asked_after_each_event_are_those_a_replay_builds(
    histories: list[list[DomainEvent]],
) -> None:
    checked = 0
    for events in histories:
        loan = Loan(events[0].originator_id)
        for count, event in enumerate(events, start=1):
            event.mutate(loan)
            expected = replay(events[:count])._build_money_facts()
            assert loan.money_facts() == expected
            # A fork carries the memo: it must not hand out the facts of the loan it came from
            # once it has facts of its own.
            copy = fork(loan)
            for later in events[count : count + 3]:
                later.mutate(copy)
            assert copy.money_facts() == replay(events[: count + 3])._build_money_facts()
            assert loan.money_facts() == expected
            checked += 1
    assert checked > 300


def test_a_fact_that_moves_no_money_does_not_build_the_money_facts_again(
    histories: list[list[DomainEvent]], built: list[int]
) -> None:
    events = next(
        events
        for events in histories
        if any(type(event).__name__ == "NoticeIssued" for event in events)
    )
    cut = next(i for i, event in enumerate(events) if type(event).__name__ == "NoticeIssued")
    loan = replay(events[:cut])
    before = loan.money_facts()
    assert built == [loan.version]
    events[cut].mutate(loan)  # a notice: no money moves
    assert loan.money_facts() == before
    assert built == [loan.version - 1]
    repayment = next(event for event in events[cut:] if type(event).__name__ == "RepaymentReceived")
    later = replay(events[: events.index(repayment) + 1])
    later.money_facts()
    assert len(built) == 2  # money moved: built again


def test_a_repayment_puts_its_fact_among_those_remembered_instead_of_building_them_all_again(
    histories: list[list[DomainEvent]], built: list[int]
) -> None:
    added = 0
    for events in histories:
        loan = Loan(events[0].originator_id)
        for count, event in enumerate(events, start=1):
            event.mutate(loan)
            before = len(built)
            facts = loan.money_facts()
            if type(event).__name__ == "RepaymentReceived" and count > 1:
                # Only the repayment was added since the facts were last asked for.
                assert len(built) == before, (loan.loan_id, count)
                added += 1
            assert facts == BUILD(replay(events[:count]))
    assert added > 50


def test_a_repayment_after_a_restructure_a_refund_and_a_write_off_keeps_the_facts_order(
    clock: Callable[[], datetime], request: pytest.FixtureRequest
) -> None:
    """Facts list disbursements, repayments, refunds, restructures, then endings: a repayment's
    fact goes among the repayments, before those of later kinds recorded earlier."""
    ledger = LoanLedger.open("memory://", clock=clock)
    try:
        for command in [
            *pre_loan("L-1", amount="12000.00", term_months=12),
            disburse("L-1", "2024-01-15", "12000.00"),
            repay("L-1", "2024-02-15", "1032.80", "R-1"),
            {
                "command": "restructure",
                "loan_id": "L-1",
                "on": "2024-04-20",
                "approver": "approver-2",
                "term_months": 12,
                "annual_rate": "0.05",
                "repayment_method": "annuity",
                "reason": "hardship",
            },
            repay("L-1", "2024-05-20", "2000.00", "R-2"),
            {
                "command": "refund",
                "loan_id": "L-1",
                "on": "2024-05-21",
                "amount": "50.00",
                "reference": "RF-1",
            },
            repay("L-1", "2024-06-20", "900.00", "R-3"),
            write_off("L-1", "2024-12-20"),
            repay("L-1", "2025-01-20", "500.00", "R-4"),
        ]:
            ledger.execute(command)
        events = list(ledger._get("L-1").history)
    finally:
        ledger.close()
    assert [type(event).__name__ for event in events[4:]] == [
        "LoanDisbursed",
        "RepaymentReceived",
        "LoanRestructured",
        "RepaymentReceived",
        "OverpaymentRefunded",
        "RepaymentReceived",
        "LoanWrittenOff",
        "RepaymentReceived",
    ]
    built: list[int] = request.getfixturevalue("built")  # (not while the ledger records)
    loan = Loan(events[0].originator_id)
    for count, event in enumerate(events, start=1):
        event.mutate(loan)
        assert loan.money_facts() == BUILD(replay(events[:count])), count
    # Built afresh only when something other than a repayment was added.
    assert built == [1, 4, 5, 7, 9, 11]
