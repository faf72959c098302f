"""Issue 17: impossible facts refused, and collection without gaps. One test per rule, each
named after the rule it holds the ledger to.

The book: L-0001 is 12,000.00 over 12 months at 6%, annuity, disbursed 2024-01-15
(installments due on the 15th, 2024-02-15 to 2025-01-15) and not repaid unless a test says so.
Installment 1 falls due 2024-02-15, so DPD 91 (legal recovery) is 2024-05-16.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import (
    InvalidCommandError,
    InvalidDateError,
    LimitExceededError,
    LoanNotFoundError,
    SeparationOfDutiesError,
    WrongStateError,
)
from loanledger.persistence.ids import loan_uuid
from tests.journal import FINDINGS, disburse, pre_loan, repay

LOAN = "L-0001"


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _book(ledger: LoanLedger) -> None:
    for command in pre_loan(LOAN):
        ledger.execute(command)
    ledger.execute(disburse(LOAN, "2024-01-15", "12000.00"))


def _close_through(ledger: LoanLedger, start: date, end: date) -> None:
    for day in _days(start, end):
        ledger.close_day(day)


def _notices(ledger: LoanLedger, kind: str) -> list[str]:
    issued: list[Any] = [
        event
        for event in ledger.events.get(loan_uuid(LOAN))
        if type(event).__name__ == "NoticeIssued"
    ]
    return [notice.notice_id for notice in issued if notice.kind == kind]


def _event_count(ledger: LoanLedger) -> int:
    return len(list(ledger.events.get(loan_uuid(LOAN))))


def _write_off(on: str) -> dict[str, Any]:
    return {"command": "write_off", "loan_id": LOAN, "on": on, "approver": "ap-2", "reason": "x"}


# --- 1. no disbursement after close or write-off ------------------------------------------------


def test_disbursing_a_written_off_loan_is_refused_and_records_nothing(ledger: LoanLedger) -> None:
    for command in pre_loan(LOAN, amount="100000.00"):
        ledger.execute(command)
    ledger.execute(disburse(LOAN, "2024-01-15", "50000.00"))
    ledger.execute(_write_off("2024-09-01"))
    before = _event_count(ledger)

    with pytest.raises(
        WrongStateError, match=r"^loan L-0001 is written off; disburse is not allowed"
    ):
        ledger.execute(disburse(LOAN, "2024-09-02", "50000.00", reference="D-2"))

    assert _event_count(ledger) == before
    assert ledger.reconcile("2024-09-30") == []


def test_disbursing_a_closed_loan_is_refused_and_records_nothing(ledger: LoanLedger) -> None:
    for command in pre_loan(LOAN, amount="100000.00", term_months=1, method="bullet"):
        ledger.execute(command)
    ledger.execute(disburse(LOAN, "2024-01-15", "1000.00"))
    ledger.execute(repay(LOAN, "2024-02-15", "1005.00", "R-1"))
    ledger.execute({"command": "close", "loan_id": LOAN, "on": "2024-02-16"})
    before = _event_count(ledger)

    with pytest.raises(WrongStateError, match=r"^loan L-0001 is closed; disburse is not allowed"):
        ledger.execute(disburse(LOAN, "2024-02-20", "100.00", reference="D-2"))

    assert _event_count(ledger) == before
    view = ledger.loan(LOAN, as_of="2024-03-01")
    assert (view["status"], view["principal_outstanding"]) == ("closed", "0.00")


def test_disbursing_a_loan_that_owes_nothing_is_refused_before_its_close(
    ledger: LoanLedger,
) -> None:
    for command in pre_loan(LOAN, amount="100000.00", term_months=1, method="bullet"):
        ledger.execute(command)
    ledger.execute(disburse(LOAN, "2024-01-15", "1000.00"))
    ledger.execute(repay(LOAN, "2024-02-15", "1005.00", "R-1"))

    with pytest.raises(
        WrongStateError,
        match=re.escape("loan L-0001 is fully repaid, nothing is owed; disburse is not allowed"),
    ):
        ledger.execute(disburse(LOAN, "2024-02-15", "100.00", reference="D-2"))


def test_a_repeated_disbursement_reference_after_close_is_still_a_no_op(ledger: LoanLedger) -> None:
    for command in pre_loan(LOAN, amount="1000.00", term_months=1, method="bullet"):
        ledger.execute(command)
    ledger.execute(disburse(LOAN, "2024-01-15", "1000.00"))
    ledger.execute(repay(LOAN, "2024-02-15", "1005.00", "R-1"))
    ledger.execute({"command": "close", "loan_id": LOAN, "on": "2024-02-16"})

    result = ledger.execute(disburse(LOAN, "2024-01-15", "1000.00"))

    assert result["repeated"] is True


# --- 2. a cured loan leaves legal recovery ----------------------------------------------------


def test_legal_recovery_ends_when_the_arrears_are_repaid_and_a_relapse_opens_a_new_case(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    _close_through(ledger, date(2024, 1, 15), date(2024, 5, 19))
    assert ledger.loan(LOAN, as_of="2024-05-19")["status"] == "legal_recovery"
    # Arrears on 05-19: overdue principal 3,920.48 + interest 210.72 + penalty 50.86.
    ledger.execute(repay(LOAN, "2024-05-20", "4182.06", "R-1"))
    _close_through(ledger, date(2024, 5, 20), date(2024, 6, 16))

    cured = ledger.loan(LOAN, as_of="2024-05-20")
    relapsed = ledger.loan(LOAN, as_of="2024-06-16")

    assert (cured["status"], cured["days_past_due"]) == ("active", 0)
    assert (relapsed["status"], relapsed["days_past_due"]) == ("overdue", 1)
    (row,) = ledger.report("loan_ledger", as_of="2024-06-16")  # the read model says the same
    assert row["status"] == "overdue"
    assert _notices(ledger, "legal") == ["L-0001/legal/2024-05-16"]

    # Installment 5 (due 06-15) unpaid: DPD 91 of the new arrears is 2024-09-14.
    _close_through(ledger, date(2024, 6, 17), date(2024, 9, 14))
    assert ledger.loan(LOAN, as_of="2024-09-13")["status"] == "overdue"
    assert ledger.loan(LOAN, as_of="2024-09-14")["status"] == "legal_recovery"
    (row,) = ledger.report("loan_ledger", as_of="2024-09-14")
    assert row["status"] == "legal_recovery"
    assert _notices(ledger, "legal") == ["L-0001/legal/2024-05-16", "L-0001/legal/2024-09-14"]


# --- 3. dunning has no upper bound ------------------------------------------------------------


def test_dunning_continues_past_forty_notices_and_agrees_with_the_worklist() -> None:
    ledger = LoanLedger.open("memory://")
    try:
        _book(ledger)
        # DPD 1,171 (the 40th dunning day) is 2027-05-01; the 41st is DPD 1,201: 2027-05-31.
        for day in _days(date(2024, 1, 15), date(2027, 5, 31)):
            ledger.close_day(day)
        dunning = _notices(ledger, "dunning")
        worklist = [
            item
            for item in ledger.report("worklist", as_of="2027-05-31")
            if item["item"] == "dunning"
        ]
    finally:
        ledger.close()

    assert len(dunning) == 41
    assert dunning[-1] == "L-0001/dunning/2027-05-31"
    assert worklist == [{"loan_id": LOAN, "item": "dunning", "detail": "days past due 1201"}]


# --- 6. separation of duties on normalised staff ids --------------------------------------------


def _investigation(investigators: list[str]) -> dict[str, Any]:
    return {
        "command": "record_investigation",
        "loan_id": LOAN,
        "on": "2024-01-02",
        "investigators": investigators,
        "findings": FINDINGS,
        "conclusion": "recommend",
    }


def test_investigators_differing_only_in_case_are_one_person(ledger: LoanLedger) -> None:
    ledger.execute(pre_loan(LOAN)[0])

    with pytest.raises(SeparationOfDutiesError, match="two distinct people"):
        ledger.execute(_investigation(["inv-1", "INV-1"]))

    assert _event_count(ledger) == 1


def test_a_reviewer_differing_from_an_investigator_only_by_spaces_is_refused(
    ledger: LoanLedger,
) -> None:
    ledger.execute(pre_loan(LOAN)[0])
    ledger.execute(_investigation(["inv-1", "inv-2"]))
    review = {**pre_loan(LOAN)[2], "reviewer": "inv-1 "}

    # Refused before the rule is reached: a staff id with a space is not an identifier at all
    # (issue 24's alphabet), so the two cannot pass as different people either way.
    with pytest.raises(InvalidCommandError, match="'inv-1 ' holds ' '"):
        ledger.execute(review)
    with pytest.raises(SeparationOfDutiesError, match="must not be one of the investigators"):
        ledger.execute({**review, "reviewer": "INV-1"})


def test_an_approver_differing_from_the_reviewer_only_in_case_is_refused(
    ledger: LoanLedger,
) -> None:
    for command in pre_loan(LOAN)[:3]:
        ledger.execute(command)
    approve = {**pre_loan(LOAN)[3], "approver": "REV-1"}

    with pytest.raises(SeparationOfDutiesError, match="must not be the reviewer"):
        ledger.execute(approve)


# --- 13. smaller holes ----------------------------------------------------------------------


def test_the_journal_report_takes_since_as_an_iso_string_like_as_of(ledger: LoanLedger) -> None:
    _book(ledger)

    as_string = ledger.report("journal", as_of="2024-03-31", since="2024-01-31")
    as_date = ledger.report("journal", as_of="2024-03-31", since=date(2024, 1, 31))

    assert as_string == as_date
    assert as_string and all(row["on"] >= "2024-01-31" for row in as_string)


def test_a_malformed_since_is_refused_naming_since(ledger: LoanLedger) -> None:
    _book(ledger)

    with pytest.raises(InvalidDateError, match=r"^since must be an ISO date"):
        ledger.report("journal", as_of="2024-03-31", since="31/01/2024")


def test_a_loan_asked_for_before_it_was_recorded_names_known_at(ledger: LoanLedger) -> None:
    _book(ledger)

    with pytest.raises(
        LoanNotFoundError,
        match=re.escape("loan L-0001 was not yet recorded at known_at 2024-01-01T08:00:00+00:00"),
    ):
        ledger.loan(LOAN, as_of="2024-03-01", known_at="2024-01-01T08:00:00+00:00")


def test_a_written_off_loan_shows_its_claim_off_balance_sheet(ledger: LoanLedger) -> None:
    _book(ledger)
    ledger.execute(_write_off("2024-09-01"))

    before = ledger.loan(LOAN, as_of="2024-08-31")
    after = ledger.loan(LOAN, as_of="2024-10-01")

    assert {key: before[key] for key in ("balance_sheet", "off_balance_outstanding")} == {
        "balance_sheet": "on",
        "off_balance_outstanding": "0.00",
    }
    # 12,000.00 principal + 317.01 overdue interest + 194.43 penalty, on the books.
    assert before["on_balance_outstanding"] == "12511.44"
    assert after["status"] == "written_off"
    assert (after["balance_sheet"], after["on_balance_outstanding"]) == ("off", "0.00")
    # 12,000.00 + 342.45 + 254.60 (penalty still accruing), off the books.
    assert after["off_balance_outstanding"] == "12597.05"


# --- 10. close of day without gaps -----------------------------------------------------------


def test_closing_a_day_after_a_gap_closes_the_missed_days_and_issues_their_notices(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    ledger.close_day("2024-02-07")
    skipped = ledger.close_day("2024-02-09")
    ledger.close_day("2024-02-14")

    # The reminder for installment 1 (due 02-15) is owed on 02-08, a date never closed by name.
    assert _notices(ledger, "reminder") == ["L-0001/reminder/2024-02-08"]
    assert (skipped["days_closed"], skipped["events_recorded"]) == (2, 1)
    assert ledger.last_closed_day() == date(2024, 2, 14)


def test_a_close_of_day_gap_over_366_days_is_refused_naming_the_last_closed_date(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    ledger.close_day("2024-01-15")
    before = _event_count(ledger)

    with pytest.raises(
        LimitExceededError,
        match=re.escape(
            "close_day 2025-01-16 would close 367 dates after the last closed date 2024-01-15"
        ),
    ):
        ledger.close_day("2025-01-16")

    assert ledger.last_closed_day() == date(2024, 1, 15)
    assert _event_count(ledger) == before
    assert ledger.close_day("2025-01-15")["days_closed"] == 366


# --- 11. far-future facts refused -------------------------------------------------------------


@pytest.fixture
def default_horizon(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's default horizon, not the test suite's (see conftest)."""
    monkeypatch.delenv("LOANLEDGER_FUTURE_HORIZON_DAYS", raising=False)
    monkeypatch.delenv("LOANLEDGER_TIME_ZONE", raising=False)


@pytest.mark.usefixtures("default_horizon")
def test_a_fact_dated_beyond_the_future_horizon_is_refused_naming_both_dates(
    store_url: str, clock: Callable[[], datetime]
) -> None:
    """The test clock reads 2024-01-01 09:00 UTC: 17:00 in Shanghai, still 2024-01-01."""
    ledger = LoanLedger.open(store_url, clock=clock)
    try:
        _refuses_the_far_future(ledger)
    finally:
        ledger.close()


def _refuses_the_far_future(ledger: LoanLedger) -> None:
    _book(ledger)
    before = _event_count(ledger)

    with pytest.raises(
        InvalidDateError,
        match=re.escape(
            "repay dated 2199-01-01 is more than 366 days after the date it is recorded on, "
            "2024-01-01 (Asia/Shanghai); the latest date the book's future horizon accepts is "
            "2025-01-01"
        ),
    ):
        ledger.execute(repay(LOAN, "2199-01-01", "100.00", "R-1"))

    assert _event_count(ledger) == before
    ledger.execute(repay(LOAN, "2025-01-01", "100.00", "R-2"))


@pytest.mark.usefixtures("default_horizon")
def test_the_future_horizon_counts_from_the_recording_date_in_the_books_time_zone() -> None:
    """20:00 UTC on 2024-01-01 is already 2024-01-02 in Shanghai."""
    evening = datetime(2024, 1, 1, 20, 0, tzinfo=UTC)
    ledger = LoanLedger.open("memory://", clock=lambda: evening)
    try:
        ledger.execute(pre_loan(LOAN, applied_on="2025-01-02")[0])
        with pytest.raises(InvalidDateError, match=r"the latest date .* accepts is 2025-01-02"):
            ledger.execute(pre_loan("L-0002", applied_on="2025-01-03")[0])
    finally:
        ledger.close()


@pytest.mark.usefixtures("default_horizon")
def test_closing_a_day_beyond_the_future_horizon_is_refused(clock: Callable[[], datetime]) -> None:
    ledger = LoanLedger.open("memory://", clock=clock)
    try:
        _book(ledger)
        with pytest.raises(InvalidDateError, match=r"^close_day dated 2199-01-01 is more than"):
            ledger.close_day("2199-01-01")
        assert ledger.last_closed_day() is None
    finally:
        ledger.close()


@pytest.mark.usefixtures("default_horizon")
def test_the_books_policy_sets_the_future_horizon_and_its_time_zone_from_its_date(
    store_url: str, clock: Callable[[], datetime]
) -> None:
    """The horizon is the book's recorded policy (`set_policy`), in force from its date."""
    ledger = LoanLedger.open(store_url, clock=clock)
    try:
        _book(ledger)
        ledger.execute({"command": "set_policy", "on": "2024-01-01", "future_horizon_days": 30})
        with pytest.raises(
            InvalidDateError,
            match=re.escape(
                "repay dated 2024-02-01 is more than 30 days after the date it is recorded on, "
                "2024-01-01 (Asia/Shanghai); the latest date the book's future horizon accepts "
                "is 2024-01-31"
            ),
        ):
            ledger.execute(repay(LOAN, "2024-02-01", "100.00", "R-1"))
        ledger.execute(repay(LOAN, "2024-01-31", "100.00", "R-2"))
        ledger.execute({"command": "set_policy", "on": "2024-01-01", "time_zone": "UTC"})
        with pytest.raises(InvalidDateError, match=r"2024-01-01 \(UTC\)"):
            ledger.execute(repay(LOAN, "2024-02-01", "100.00", "R-3"))
    finally:
        ledger.close()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"future_horizon_days": 5000}, "future_horizon_days must be between 0 and 3660"),
        ({"time_zone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_a_policy_with_an_impossible_horizon_is_refused_and_nothing_recorded(
    setting: dict[str, object], message: str
) -> None:
    ledger = LoanLedger.open("memory://")
    try:
        with pytest.raises(InvalidDateError, match=re.escape(message)):
            ledger.execute({"command": "set_policy", "on": "2024-01-01", **setting})
        assert ledger.recorder.max_notification_id() in (None, 0)
    finally:
        ledger.close()
