"""Every event's recorded time is a UTC moment: a clock in another zone records the same
instant in UTC, and a time without a zone is refused where the event is made."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from loanledger import LoanLedger
from loanledger.domain.loan_events import ReviewRecorded
from loanledger.projection.loan_state import moment_text
from tests.journal import pre_loan

BEIJING = timezone(timedelta(hours=8))


def test_a_clock_in_beijing_time_records_the_same_instant_in_utc() -> None:
    ledger = LoanLedger.open(
        "memory://", clock=lambda: datetime(2024, 1, 2, 17, 30, tzinfo=BEIJING)
    )
    for command in pre_loan("L-0001", borrower_id="B-1"):
        ledger.execute(command)

    stored = ledger._get("L-0001").history
    archive = ledger.archive("L-0001")
    ledger.close()

    assert {event.timestamp for event in stored} == {datetime(2024, 1, 2, 9, 30, tzinfo=UTC)}
    assert {event.timestamp.utcoffset() for event in stored} == {timedelta(0)}
    assert archive["facts"][0]["recorded_at"] == "2024-01-02T09:30:00+00:00"


def _review(timestamp: datetime) -> ReviewRecorded:
    return ReviewRecorded(
        originator_id=uuid4(),
        originator_version=3,
        timestamp=timestamp,
        loan_id="L-0001",
        effective_date=date(2024, 1, 2),
        reviewer="R-1",
        passed=True,
        notes="",
    )


def test_an_event_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        _review(datetime(2024, 1, 2, 9, 30))


def test_an_event_is_made_in_utc_only() -> None:
    assert _review(datetime(2024, 1, 2, 9, 30, tzinfo=UTC)).timestamp.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError, match="offset"):
        _review(datetime(2024, 1, 2, 17, 30, tzinfo=BEIJING))


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),  # (a day's margin: +08:00 moves back across year 1)
        max_value=datetime(9998, 12, 31),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]),
    )
)
def test_a_moment_is_written_as_fixed_width_utc_text_as_strftime_writes_it(
    moment: datetime,
) -> None:
    """`loan_state` writes each recorded moment as text (text order is time order): the fast
    path gives strftime's text exactly, years before 1000 included."""
    expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert moment_text(moment) == expected
