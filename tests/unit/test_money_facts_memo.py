"""A loan remembers its money facts (the money walk's input) for as long as the events they are
built from stay the same: a fact that moves no money (a notice, a grade, a check) does not build
them again, and the facts it hands out are always those a replay of its events builds."""

from __future__ import annotations

import pytest

from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.domain.servicing import MoneyFact
from loanledger.projection.kept_loans import fork
from tests.unit.demo_histories import demo_histories, replay


@pytest.fixture(scope="module")
def histories() -> list[list[DomainEvent]]:
    """Every loan's events in a small demo book (every kind of loan the demo makes)."""
    return list(demo_histories(loans=24, seed=5, months=9).values())


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
    histories: list[list[DomainEvent]], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []
    build = Loan._build_money_facts

    def counted(loan: Loan) -> list[MoneyFact]:
        built.append(loan.version)
        return build(loan)

    events = next(
        events
        for events in histories
        if any(type(event).__name__ == "NoticeIssued" for event in events)
    )
    cut = next(i for i, event in enumerate(events) if type(event).__name__ == "NoticeIssued")
    loan = replay(events[:cut])
    monkeypatch.setattr(Loan, "_build_money_facts", counted)
    before = loan.money_facts()
    assert built == [loan.version]
    events[cut].mutate(loan)  # a notice: no money moves
    assert loan.money_facts() == before
    assert built == [loan.version - 1]
    repayment = next(event for event in events[cut:] if type(event).__name__ == "RepaymentReceived")
    later = replay(events[: events.index(repayment) + 1])
    later.money_facts()
    assert len(built) == 2  # money moved: built again
