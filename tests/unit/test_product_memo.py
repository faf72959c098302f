"""The `loan_state` projection solves a loan's product fields (its product, the version it
pinned, the APR of its contract) once and reuses them from one of the loan's timelines to the
next (`segments.ProductMemo`). Whatever order the loan's versions are rendered in, the memo
gives exactly what `reports.views.product_fields` gives for that version on any date: the
approval, the product and the first disbursement date (each once its date is reached) change the
fields, and the memo notices.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger.domain.loan import Loan
from loanledger.domain.rules import CN_2023
from loanledger.projection.segments import ProductMemo
from loanledger.reports.views import product_fields
from tests.unit.demo_histories import demo_histories, replay


@pytest.fixture(scope="module")
def versions() -> list[Loan]:
    """Every version of every loan of a small demo book (each loan replayed up to each of its
    events), loan by loan in version order."""
    histories = demo_histories(loans=12, seed=3, months=5).values()
    return [replay(events[:cut]) for events in histories for cut in range(1, len(events) + 1)]


def dates(loan: Loan) -> list[date]:
    """Each of the loan's effective dates and the day before it: where product fields change."""
    days = {event.effective_date for event in loan.history}
    return sorted(days | {day - timedelta(days=1) for day in days})


def test_the_memo_gives_each_version_of_a_loan_its_own_product_fields(
    versions: list[Loan],
) -> None:
    memo = ProductMemo()
    aprs = set()
    for loan in versions:
        if loan.application is None:
            continue
        for day in dates(loan):
            fields = memo.fields(loan, CN_2023, day)
            assert fields == product_fields(loan, CN_2023, day), (loan.loan_id, day)
            aprs.add((loan.loan_id, fields["apr"]))
    # Not vacuous: loans go from no APR (before approval) to one, and APRs differ between loans.
    assert len({apr for _, apr in aprs}) > 3
    assert any(apr is None for _, apr in aprs)
    assert len(memo) > 0


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_the_memo_is_right_whatever_order_the_versions_come_in(
    versions: list[Loan], data: st.DataObject
) -> None:
    chosen = data.draw(st.lists(st.sampled_from(versions), min_size=1, max_size=60))
    memo = ProductMemo(loans=data.draw(st.sampled_from([1, 2, 8192])))
    for loan in chosen:
        if loan.application is not None:
            day = data.draw(st.sampled_from(dates(loan)))
            assert memo.fields(loan, CN_2023, day) == product_fields(loan, CN_2023, day)
    assert len(memo) <= memo.loans_kept
