"""Post-loan servicing day by day (DESIGN §7): a year of close of day with exact dates.

The book: L-0001 is 12,000.00 over 12 months at 6%, annuity, disbursed 2024-01-15 (installments
due on the 15th, 2024-02-15 to 2025-01-15) and never repaid. Installment 1 falls due 2024-02-15,
so days past due on date D is D − 2024-02-15: DPD 1 on 02-16, 31 on 03-17, 61 on 04-16, 91 on
05-16, 271 on 11-12 and 361 on 2025-02-10 (2024 is a leap year).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from loanledger import LoanLedger, application
from loanledger.domain.errors import ClassificationError, UnknownReferenceError, WrongStateError
from loanledger.persistence.ids import loan_uuid
from tests.journal import disburse, pre_loan, repay


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _book(ledger: LoanLedger, loan_id: str = "L-0001", borrower_id: str = "B-1") -> None:
    for command in pre_loan(loan_id, borrower_id=borrower_id):
        ledger.execute(command)
    ledger.execute(disburse(loan_id, "2024-01-15", "12000.00"))


def _events(ledger: LoanLedger, loan_id: str, kind: str) -> list[Any]:
    return [
        event for event in ledger.events.get(loan_uuid(loan_id)) if type(event).__name__ == kind
    ]


def _close_through(ledger: LoanLedger, start: date, end: date) -> list[dict[str, Any]]:
    return [ledger.close_day(day) for day in _days(start, end)]


@pytest.fixture
def defaulted(ledger: LoanLedger) -> LoanLedger:
    _book(ledger)
    _close_through(ledger, date(2024, 1, 15), date(2025, 2, 15))
    return ledger


def test_reminders_go_out_seven_days_before_each_unpaid_installment(defaulted: LoanLedger) -> None:
    reminders = [
        (notice.effective_date.isoformat(), notice.due_date.isoformat())
        for notice in _events(defaulted, "L-0001", "NoticeIssued")
        if notice.kind == "reminder"
    ]

    assert reminders == [
        (f"2024-{month:02d}-08", f"2024-{month:02d}-15") for month in range(2, 13)
    ] + [("2025-01-08", "2025-01-15")]


def test_dunning_notices_go_out_at_dpd_1_31_61_and_every_30_days_after(
    defaulted: LoanLedger,
) -> None:
    dunning = [
        (notice.effective_date.isoformat(), notice.days_past_due)
        for notice in _events(defaulted, "L-0001", "NoticeIssued")
        if notice.kind == "dunning"
    ]

    assert dunning == [
        ("2024-02-16", 1),
        ("2024-03-17", 31),
        ("2024-04-16", 61),
        ("2024-05-16", 91),
        ("2024-06-15", 121),
        ("2024-07-15", 151),
        ("2024-08-14", 181),
        ("2024-09-13", 211),
        ("2024-10-13", 241),
        ("2024-11-12", 271),
        ("2024-12-12", 301),
        ("2025-01-11", 331),
        ("2025-02-10", 361),
    ]


def test_legal_recovery_opens_once_on_the_first_day_past_90(defaulted: LoanLedger) -> None:
    opened = _events(defaulted, "L-0001", "LegalRecoveryOpened")
    legal = [
        notice for notice in _events(defaulted, "L-0001", "NoticeIssued") if notice.kind == "legal"
    ]

    assert [(event.effective_date.isoformat(), event.days_past_due) for event in opened] == [
        ("2024-05-16", 91)
    ]
    assert [notice.notice_id for notice in legal] == ["L-0001/legal/2024-05-16"]
    assert defaulted.loan("L-0001", as_of="2024-05-15")["status"] == "overdue"
    assert defaulted.loan("L-0001", as_of="2024-05-16")["status"] == "legal_recovery"


def test_every_classification_and_stage_step_is_recorded_with_the_rule_set(
    defaulted: LoanLedger,
) -> None:
    steps = [
        (
            event.effective_date.isoformat(),
            event.previous,
            event.classification,
            event.previous_stage,
            event.ifrs9_stage,
            event.rule_set,
        )
        for event in _events(defaulted, "L-0001", "ClassificationChanged")
    ]

    assert steps == [
        ("2024-02-16", "normal", "special_mention", 1, 1, "CN-2023"),
        ("2024-03-17", "special_mention", "special_mention", 1, 2, "CN-2023"),
        ("2024-05-16", "special_mention", "substandard", 2, 3, "CN-2023"),
        ("2024-11-12", "substandard", "doubtful", 3, 3, "CN-2023"),
        ("2025-02-10", "doubtful", "loss", 3, 3, "CN-2023"),
    ]


def test_closing_a_day_twice_records_nothing_new(defaulted: LoanLedger) -> None:
    events_before = defaulted.verify().events_checked

    again = defaulted.close_day("2024-05-16")

    assert again["events_recorded"] == 0
    assert defaulted.verify().events_checked == events_before


def test_close_day_through_execute_reports_its_work(ledger: LoanLedger) -> None:
    _book(ledger)

    result = ledger.execute({"command": "close_day", "on": "2024-02-16"})

    assert result == {
        "command": "close_day",
        "on": "2024-02-16",
        "loans_processed": 1,
        "events_recorded": 2,
        "days_closed": 1,
    }
    assert ledger.last_closed_day() == date(2024, 2, 16)


def test_close_day_touches_only_loans_with_work_that_day(ledger: LoanLedger) -> None:
    _book(ledger, "L-0001")
    _book(ledger, "L-0002", borrower_id="B-2")
    ledger.close_day("2024-01-15")

    quiet = ledger.close_day("2024-01-20")
    reminder_day = ledger.close_day("2024-02-08")

    assert quiet["loans_processed"] == 0
    assert reminder_day["loans_processed"] == 2


@pytest.mark.parametrize("enabled", [True, False])
def test_close_day_derives_loans_with_the_collector_paused_a_bounded_number_at_a_time(
    ledger: LoanLedger, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    for number in range(1, 6):
        _book(ledger, f"L-{number:04d}", borrower_id=f"B-{number}")
    monkeypatch.setattr(application.close_of_day, "CLOSE_DAY_LOANS_PER_PAUSE", 2)
    seen: list[bool] = []
    close_loan_day = ledger._close_loan_day

    def noting(loan_id: str, on: date) -> Any:
        seen.append(gc.isenabled())
        return close_loan_day(loan_id, on)

    monkeypatch.setattr(ledger, "_close_loan_day", noting)
    collections: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections.append(len(seen))

    was = gc.isenabled()
    gc.callbacks.append(count)
    try:
        if not enabled:
            gc.disable()
        gc.collect()
        collections.clear()
        result = ledger.close_day("2024-02-08")
        assert gc.isenabled() is enabled
    finally:
        gc.callbacks.remove(count)
        if was:
            gc.enable()

    assert result["loans_processed"] == 5
    assert seen == [False] * 5
    # Collections happen only between the pauses (after 2 and 4 loans), never inside one.
    assert set(collections) <= {0, 2, 4, 5}


def test_the_notice_receipt_is_recorded_and_restarts_the_limitation_clock(
    defaulted: LoanLedger,
) -> None:
    before = defaulted.loan("L-0001", as_of="2024-06-01")["limitation_expires_on"]

    defaulted.execute(
        {
            "command": "acknowledge_notice",
            "loan_id": "L-0001",
            "on": "2024-06-20",
            "notice_id": "L-0001/dunning/2024-06-15",
        }
    )

    assert before == "2027-02-15"
    assert defaulted.loan("L-0001", as_of="2024-06-20")["limitation_expires_on"] == "2027-06-20"
    notice = [
        row
        for row in defaulted.report("notices", as_of="2024-06-30")
        if row["notice_id"] == "L-0001/dunning/2024-06-15"
    ]
    assert notice == [
        {
            "notice_id": "L-0001/dunning/2024-06-15",
            "loan_id": "L-0001",
            "kind": "dunning",
            "issued_on": "2024-06-15",
            "due_date": None,
            "acknowledged_on": "2024-06-20",
        }
    ]
    with pytest.raises(WrongStateError, match="was acknowledged on 2024-06-20"):
        defaulted.execute(
            {
                "command": "acknowledge_notice",
                "loan_id": "L-0001",
                "on": "2024-06-21",
                "notice_id": "L-0001/dunning/2024-06-15",
            }
        )
    with pytest.raises(UnknownReferenceError, match="no notice 'N-404'"):
        defaulted.execute(
            {
                "command": "acknowledge_notice",
                "loan_id": "L-0001",
                "on": "2024-06-21",
                "notice_id": "N-404",
            }
        )


def _pay_every_installment(ledger: LoanLedger, loan_id: str, through: date) -> None:
    for number, row in enumerate(ledger.schedule(loan_id), start=1):
        if date.fromisoformat(row["due_date"]) > through:
            return
        ledger.execute(repay(loan_id, row["due_date"], row["installment"], f"R-{number}"))


def test_a_revaluation_above_80_percent_ltv_warns_and_moves_a_current_loan_to_stage_2(
    ledger: LoanLedger,
) -> None:
    """Outstanding after three installments is 9,066.99; collateral revalued to 11,000.00 gives
    9066.99 / 11000 = 0.82427 → 0.8243 > 0.8."""
    _book(ledger)
    ledger.execute(
        {
            "command": "pledge_collateral",
            "loan_id": "L-0001",
            "on": "2024-01-15",
            "collateral_id": "C-1",
            "kind": "house",
            "value": "20000.00",
            "appraiser": "appraiser-1",
        }
    )
    _pay_every_installment(ledger, "L-0001", date(2024, 4, 15))
    before = ledger.loan("L-0001", as_of="2024-04-20")

    ledger.execute(
        {
            "command": "revalue_collateral",
            "loan_id": "L-0001",
            "on": "2024-04-20",
            "collateral_id": "C-1",
            "value": "11000.00",
        }
    )
    after = ledger.loan("L-0001", as_of="2024-04-20")

    assert (before["ltv"], before["warnings"], before["ifrs9_stage"]) == ("0.4533", [], 1)
    assert (after["ltv"], after["warnings"], after["ifrs9_stage"]) == ("0.8243", ["ltv_breach"], 2)
    assert after["classification"] == "normal"
    assert {"loan_id": "L-0001", "item": "warning", "detail": "ltv_breach"} in ledger.report(
        "worklist", as_of="2024-04-20"
    )


def test_post_loan_checks_fall_due_every_90_days_and_an_adverse_one_warns(
    ledger: LoanLedger,
) -> None:
    """Disbursed 2024-01-15: the first check is due 2024-04-14; a check on 2024-04-20 moves the
    next to 2024-07-19."""
    _book(ledger)
    _pay_every_installment(ledger, "L-0001", date(2024, 4, 15))
    check_item = {"loan_id": "L-0001", "item": "post_loan_check", "detail": "due 2024-04-14"}

    assert check_item not in ledger.report("worklist", as_of="2024-04-13")
    assert check_item in ledger.report("worklist", as_of="2024-04-14")

    ledger.execute(
        {
            "command": "record_post_loan_check",
            "loan_id": "L-0001",
            "on": "2024-04-20",
            "inspector": "inspector-1",
            "findings": {
                "use_of_funds": "as agreed",
                "repayment_ability": "orders down 40%",
                "collateral": "intact",
                "guarantor": "n/a",
            },
            "rating": "adverse",
        }
    )
    view = ledger.loan("L-0001", as_of="2024-04-20")

    assert view["next_check_due"] == "2024-07-19"
    assert (view["warnings"], view["ifrs9_stage"]) == (["adverse_post_loan_check"], 2)


def test_funds_misused_switch_the_penalty_to_the_misuse_rate_from_the_check(
    ledger: LoanLedger,
) -> None:
    """Installment 1 (1,032.80) unpaid. Days 02-16..02-29 (14) at 0.06 × 1.5 / 360 = 0.00025:
    3.6148; from the check on 03-01, days 03-01..03-10 (10) at 0.06 × 2 / 360: 3.4427; total
    7.0575 → 7.06 (the ordinary rate alone would give 24 × 0.2582 = 6.1968 → 6.20)."""
    _book(ledger)
    ledger.execute(
        {
            "command": "record_post_loan_check",
            "loan_id": "L-0001",
            "on": "2024-03-01",
            "inspector": "inspector-1",
            "findings": {
                "use_of_funds": "bought shares",
                "repayment_ability": "weak",
                "collateral": "intact",
                "guarantor": "n/a",
            },
            "rating": "adverse",
            "funds_misused": True,
        }
    )

    assert ledger.loan("L-0001", as_of="2024-03-10")["penalty_outstanding"] == "7.06"


def test_a_manual_downgrade_holds_but_can_never_rise_above_the_dpd_floor(
    defaulted: LoanLedger,
) -> None:
    with pytest.raises(ClassificationError, match="above the floor 'substandard'"):
        defaulted.execute(
            {
                "command": "downgrade",
                "loan_id": "L-0001",
                "on": "2024-06-01",
                "classification": "special_mention",
                "approver": "risk-1",
                "reason": "optimism",
            }
        )
    defaulted.execute(
        {
            "command": "downgrade",
            "loan_id": "L-0001",
            "on": "2024-06-01",
            "classification": "doubtful",
            "approver": "risk-1",
            "reason": "borrower absconded",
        }
    )

    view = defaulted.loan("L-0001", as_of="2024-06-01")

    assert view["classification"] == "doubtful"
    assert view["classification_reasons"] == ["days_past_due=107", "manual: borrower absconded"]


def test_a_weakened_guarantor_is_an_early_warning(ledger: LoanLedger) -> None:
    _book(ledger)
    ledger.execute(
        {
            "command": "add_guarantor",
            "loan_id": "L-0001",
            "on": "2024-01-15",
            "guarantor": {"id": "G-1", "name": "李四"},
            "guaranteed_amount": "12000.00",
        }
    )
    ledger.execute(
        {
            "command": "assess_guarantor",
            "loan_id": "L-0001",
            "on": "2024-02-01",
            "guarantor_id": "G-1",
            "ability": "weakened",
            "notes": "business closed",
        }
    )

    view = ledger.loan("L-0001", as_of="2024-02-01")

    assert (view["warnings"], view["ifrs9_stage"]) == (["guarantor_weakened"], 2)
    assert view["guarantee_expires_on"] == "2025-07-15"  # maturity 2025-01-15 + 6 months


def test_a_written_off_loan_leaves_the_portfolio_summaries(defaulted: LoanLedger) -> None:
    defaulted.execute(
        {
            "command": "write_off",
            "loan_id": "L-0001",
            "on": "2025-02-15",
            "approver": "board",
            "reason": "uncollectable after enforcement",
        }
    )

    view = defaulted.loan("L-0001", as_of="2025-02-15")
    summary = defaulted.report("five_category", as_of="2025-02-15")

    assert (view["status"], view["classification"], view["ifrs9_stage"]) == (
        "written_off",
        "loss",
        3,
    )
    assert all(row["loans"] == 0 for row in summary)
    written_off = _events(defaulted, "L-0001", "LoanWrittenOff")[0]
    contractual_interest = sum(Decimal(row["interest"]) for row in defaulted.schedule("L-0001"))
    assert (written_off.principal, written_off.interest, written_off.penalty) == (
        Decimal("12000.00"),
        contractual_interest,
        Decimal(view["penalty_outstanding"]),
    )
    assert contractual_interest == Decimal("393.58")  # 11 × 1032.80 + 1032.78 − 12000


def test_closing_late_after_a_backdated_repayment_equals_closing_on_time() -> None:
    """Ledger A closes through 03-20, then learns of a repayment effective 02-15 and closes on to
    04-30; ledger B learns of it on time. Their loan views agree on every date."""
    early = LoanLedger.open("memory://")
    on_time = LoanLedger.open("memory://")
    for ledger in (early, on_time):
        _book(ledger)
    _close_through(early, date(2024, 1, 15), date(2024, 3, 20))
    early.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))
    _close_through(early, date(2024, 3, 21), date(2024, 4, 30))
    on_time.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))
    _close_through(on_time, date(2024, 1, 15), date(2024, 4, 30))

    for day in _days(date(2024, 1, 15), date(2024, 4, 30)):
        assert early.loan("L-0001", as_of=day) == on_time.loan("L-0001", as_of=day)


def test_closing_days_before_a_recorded_disbursement_still_services_it_later(
    ledger: LoanLedger,
) -> None:
    """A journal loaded ahead of time, then closed day by day from the application date: the
    days before the disbursement have nothing to do, but must not forget the loan."""
    _book(ledger)

    _close_through(ledger, date(2024, 1, 2), date(2024, 5, 16))

    notices = [
        (notice.kind, notice.effective_date.isoformat())
        for notice in _events(ledger, "L-0001", "NoticeIssued")
    ]
    assert notices[:2] == [("reminder", "2024-02-08"), ("dunning", "2024-02-16")]
    assert ("legal", "2024-05-16") in notices
    assert ledger.loan("L-0001", as_of="2024-05-16")["status"] == "legal_recovery"
