"""Post-loan servicing cases (issue 5), with every figure worked by hand to the fen.

Each figure in these docstrings was recomputed with plain `Decimal`/`Fraction` arithmetic (not
with the library) before it was asserted. Conventions used throughout (DESIGN §7):

* 12,000.00 over 12 months at 6%, annuity, disbursed 2024-01-15 (`pre_loan` defaults): monthly
  rate 0.005, installment 12000 × 0.005 / (1 − 1.005^−12) = 1032.797… → 1032.80. Interest and
  principal per installment (interest = remaining × 0.005, HALF_UP):
  1: 60.00 + 972.80 → 11027.20;  2: 55.14 + 977.66 → 10049.54;  3: 50.25 + 982.55 → 9066.99;
  4: 45.33 + 987.47 → 8079.52;   5: 40.40 + 992.40 → 7087.12;   6: 35.44 + 997.36 → 6089.76.
  Due on the 15th from 2024-02-15.
* Penalty per day on an overdue installment: base × 0.06 × 1.5 / 360 = base × 0.00025; for an
  unpaid 1032.80 that is exactly 0.2582 a day. A payment (or restructure) on day t meets the
  penalty accrued through day t − 1; each installment's accrual is rounded HALF_UP on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import (
    DuplicateReferenceError,
    InvalidDateError,
    UnknownReferenceError,
    WrongStateError,
)
from loanledger.persistence.ids import loan_uuid
from tests.journal import disburse, pre_loan, repay

CONTAGION = "borrower non-performing elsewhere (contagion)"
OBSERVATION = "restructured: observation period"


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _close_through(ledger: LoanLedger, start: date, end: date) -> None:
    for day in _days(start, end):
        ledger.close_day(day)


def _book(
    ledger: LoanLedger,
    loan_id: str,
    *,
    amount: str = "12000.00",
    disbursed_on: str = "2024-01-15",
    borrower_id: str = "B-1",
    **terms: Any,
) -> None:
    for command in pre_loan(loan_id, amount=amount, borrower_id=borrower_id, **terms):
        ledger.execute(command)
    ledger.execute(disburse(loan_id, disbursed_on, amount))


def _events(ledger: LoanLedger, loan_id: str, kind: str) -> list[Any]:
    return [
        event for event in ledger.events.get(loan_uuid(loan_id)) if type(event).__name__ == kind
    ]


def _balances(ledger: LoanLedger, as_of: str) -> dict[str, str]:
    """Non-zero trial-balance accounts as signed strings (debit positive); checks the totals."""
    rows = ledger.report("trial_balance", as_of=as_of)
    debits = sum((Decimal(row["debit"]) for row in rows), start=Decimal(0))
    credits = sum((Decimal(row["credit"]) for row in rows), start=Decimal(0))
    assert debits == credits
    result = {}
    for row in rows:
        net = Decimal(row["debit"]) - Decimal(row["credit"])
        if net:
            result[row["account"]] = f"{net:.2f}"
    return result


def _five_category(ledger: LoanLedger, as_of: str) -> dict[str, tuple[int, str]]:
    return {
        row["classification"]: (row["loans"], row["principal_outstanding"])
        for row in ledger.report("five_category", as_of=as_of)
    }


# --- borrower contagion ------------------------------------------------------------------------


def test_a_borrowers_non_performing_loan_makes_the_current_sibling_substandard(
    ledger: LoanLedger,
) -> None:
    """B-1 has L-0001 (12,000.00 from 2024-01-15, never repaid: installment 1 due 02-15, so DPD
    91 and `substandard` on 2024-05-16) and L-0002 (12,000.00 disbursed 2024-05-01, first due
    2024-06-01: current, DPD 0). On 05-16 the non-performing share is 12000 / 24000 = 0.5 > 0.1,
    so L-0002 is `substandard` too, and close of day records that for it on 05-16."""
    _book(ledger, "L-0001")
    _book(ledger, "L-0002", disbursed_on="2024-05-01")
    _close_through(ledger, date(2024, 1, 15), date(2024, 5, 16))

    before = ledger.loan("L-0002", as_of="2024-05-15")
    after = ledger.loan("L-0002", as_of="2024-05-16")

    assert (before["classification"], before["classification_reasons"]) == (
        "normal",
        ["days_past_due=0"],
    )
    assert (after["status"], after["days_past_due"], after["classification"]) == (
        "active",
        0,
        "substandard",
    )
    assert after["classification_reasons"] == ["days_past_due=0", CONTAGION]
    assert _five_category(ledger, "2024-05-15") == {
        "normal": (1, "12000.00"),
        "special_mention": (1, "12000.00"),
        "substandard": (0, "0.00"),
        "doubtful": (0, "0.00"),
        "loss": (0, "0.00"),
    }
    assert _five_category(ledger, "2024-05-16") == {
        "normal": (0, "0.00"),
        "special_mention": (0, "0.00"),
        "substandard": (2, "24000.00"),
        "doubtful": (0, "0.00"),
        "loss": (0, "0.00"),
    }
    changes = [
        (
            event.effective_date.isoformat(),
            event.previous,
            event.classification,
            event.previous_stage,
            event.ifrs9_stage,
            list(event.reasons),
        )
        for event in _events(ledger, "L-0002", "ClassificationChanged")
    ]
    assert changes == [
        ("2024-05-16", "normal", "substandard", 1, 1, ["days_past_due=0", CONTAGION])
    ]


@pytest.mark.parametrize(
    ("bad_amount", "sibling", "substandard_row"),
    [
        # 1333.33 / (1333.33 + 12000.00) = 0.0999999… ≤ 0.1: no contagion.
        ("1333.33", ("normal", ["days_past_due=0"]), (1, "1333.33")),
        # 1333.34 / 13333.34 = 0.1000004… > 0.1: contagion.
        ("1333.34", ("substandard", ["days_past_due=0", CONTAGION]), (2, "13333.34")),
    ],
    ids=["just-under-10-percent", "just-over-10-percent"],
)
def test_contagion_needs_more_than_a_tenth_of_the_borrowers_balance(
    ledger: LoanLedger,
    bad_amount: str,
    sibling: tuple[str, list[str]],
    substandard_row: tuple[int, str],
) -> None:
    """The bad loan is never repaid (DPD 91 on 2024-05-16); its principal outstanding is the
    whole amount. The threshold is a share of principal outstanding, to the fen."""
    _book(ledger, "L-0001", amount=bad_amount)
    _book(ledger, "L-0002", disbursed_on="2024-05-01")
    _close_through(ledger, date(2024, 5, 14), date(2024, 5, 16))

    view = ledger.loan("L-0002", as_of="2024-05-16")

    assert (view["classification"], view["classification_reasons"]) == sibling
    assert _five_category(ledger, "2024-05-16")["substandard"] == substandard_row
    recorded = [
        (event.effective_date.isoformat(), event.classification)
        for event in _events(ledger, "L-0002", "ClassificationChanged")
    ]
    assert recorded == ([("2024-05-16", "substandard")] if sibling[0] == "substandard" else [])


# --- restructure -------------------------------------------------------------------------------


def _restructure(ledger: LoanLedger, loan_id: str, on: str, term_months: int) -> None:
    ledger.execute(
        {
            "command": "restructure",
            "loan_id": loan_id,
            "on": on,
            "approver": "board-1",
            "term_months": term_months,
            "annual_rate": "0.05",
            "repayment_method": "annuity",
            "reason": "cash-flow shortfall",
        }
    )


def test_restructuring_an_annuity_loan_capitalises_arrears_penalty_and_broken_period_interest(
    ledger: LoanLedger,
) -> None:
    """L-0001 (annuity, never repaid) restructured on 2024-03-26, 40 days past due:
    principal outstanding 12000.00; overdue interest 60.00 + 55.14 = 115.14; penalty owed
    through 03-25: installment 1, 39 days (02-16..03-25) × 0.2582 = 10.0698 → 10.07,
    installment 2, 10 days (03-16..03-25) × 0.2582 = 2.582 → 2.58, together 12.65; interest
    accrued since the last due date 03-15 on the principal not yet due (10,049.54; the overdue
    972.80 + 977.66 bears penalty instead): 10049.54 × 0.06 × 11 / 360 = 18.4242 → 18.42.
    New principal: 12000.00 + 115.14 + 12.65 + 18.42 = 12146.21."""
    _book(ledger, "L-0001")
    before = ledger.loan("L-0001", as_of="2024-03-25")
    assert (before["principal_outstanding"], before["overdue_interest"]) == ("12000.00", "115.14")
    assert before["penalty_outstanding"] == "12.65"
    assert ledger.loan("L-0001", as_of="2024-03-26")["days_past_due"] == 40

    _restructure(ledger, "L-0001", "2024-03-26", 12)

    assert ledger.loan("L-0001", as_of="2024-03-26")["principal_outstanding"] == "12146.21"
    balances = _balances(ledger, "2024-03-26")
    assert balances["loans_principal"] == "12146.21"
    # 115.14 + 18.42 interest and 12.65 penalty recognised, then moved into principal.
    assert (balances["interest_income"], balances["penalty_income"]) == ("-133.56", "-12.65")
    assert ledger.reconcile("2024-03-26") == []


@pytest.fixture
def restructured(ledger: LoanLedger) -> LoanLedger:
    """L-0001: 12,000.00 interest-only (60.00 a month, 12000 × 0.005), never repaid, closed day
    by day from disbursement, restructured on 2024-03-26 at 40 days past due into 24 months at
    5% annuity from that date; the new installments due 2024-04-26 .. 2025-01-26 are paid on
    their due dates, 2025-02-26's is not; closed day by day through 2025-03-26."""
    _book(ledger, "L-0001", method="interest_only")
    _close_through(ledger, date(2024, 1, 15), date(2024, 3, 25))
    _restructure(ledger, "L-0001", "2024-03-26", 24)
    paid = [
        row for row in ledger.schedule("L-0001") if "2024-03-26" < row["due_date"] <= "2025-01-26"
    ]
    ledger.close_day("2024-03-26")
    for number, row in enumerate(paid, start=1):
        ledger.execute(repay("L-0001", row["due_date"], row["installment"], f"R-{number}"))
    _close_through(ledger, date(2024, 3, 27), date(2025, 3, 26))
    return ledger


def test_restructuring_capitalises_overdue_interest_penalty_and_accrued_interest(
    restructured: LoanLedger,
) -> None:
    """On 2024-03-26 (DPD 40): principal outstanding 12000.00 (none overdue: interest-only);
    overdue interest 60.00 + 60.00 = 120.00; penalty owed through 03-25: 39 days × 60.00 ×
    0.00025 = 0.585 → 0.59 and 10 days × 60.00 × 0.00025 = 0.15; interest since the last due
    date 03-15: 12000 × 0.06 × 11 / 360 = 22.00. New principal 12000.00 + 120.00 + 0.59 + 0.15
    + 22.00 = 12142.74, all of it in `loans_principal`; DPD back to 0."""
    before = restructured.loan("L-0001", as_of="2024-03-25")
    assert (before["principal_outstanding"], before["overdue_principal"]) == ("12000.00", "0.00")
    assert (before["overdue_interest"], before["penalty_outstanding"]) == ("120.00", "0.74")

    view = restructured.loan("L-0001", as_of="2024-03-26")

    assert view["principal_outstanding"] == "12142.74"
    assert (view["days_past_due"], view["overdue_interest"], view["penalty_outstanding"]) == (
        0,
        "0.00",
        "0.00",
    )
    assert (view["status"], view["classification"], view["observation_until"]) == (
        "active",
        "substandard",
        "2025-03-26",
    )
    balances = _balances(restructured, "2024-03-26")
    assert balances["loans_principal"] == "12142.74"
    # 120.00 + 22.00 interest and 0.74 penalty recognised, then moved into principal.
    assert (balances["interest_income"], balances["penalty_income"]) == ("-142.00", "-0.74")
    assert "interest_receivable" not in balances and "penalty_receivable" not in balances


def test_the_new_schedule_runs_from_the_restructure_date(restructured: LoanLedger) -> None:
    """12,142.74 over 24 months at 5%: monthly rate 0.05/12, installment 12142.74 × r /
    (1 − (1 + r)^−24) = 532.7194… → 532.72. First due 2024-04-26 (the 26th, a regular month
    from 03-26): interest 12142.74 × 0.05 / 12 = 50.5947 → 50.59, principal 482.13; second
    11660.61 × 0.05 / 12 = 48.5858 → 48.59; the last (2026-03-26) 530.51 + 2.21 = 532.72."""
    rows = [row for row in restructured.schedule("L-0001") if row["due_date"] > "2024-03-26"]

    assert len(rows) == 24
    assert rows[0] == {
        "number": 3,
        "due_date": "2024-04-26",
        "principal": "482.13",
        "interest": "50.59",
        "installment": "532.72",
        "principal_remaining": "11660.61",
        "fee": "0.00",
        "annual_rate": "0.05",
    }
    # Rows due on or before the restructure keep the approved rate; the new ones carry 5%.
    before = [row for row in restructured.schedule("L-0001") if row["due_date"] <= "2024-03-26"]
    assert [row["annual_rate"] for row in before] == ["0.06", "0.06"]
    assert {row["annual_rate"] for row in rows} == {"0.05"}
    assert (rows[1]["due_date"], rows[1]["interest"], rows[1]["principal"]) == (
        "2024-05-26",
        "48.59",
        "484.13",
    )
    assert (rows[-1]["due_date"], rows[-1]["principal"], rows[-1]["interest"]) == (
        "2026-03-26",
        "530.51",
        "2.21",
    )
    assert sum(Decimal(row["principal"]) for row in rows) == Decimal("12142.74")


def test_the_observation_period_holds_substandard_then_drops_to_the_dpd_floor(
    restructured: LoanLedger,
) -> None:
    """Observation until the later of 2025-03-26 (one year) and the second new due date
    2024-05-26: 2025-03-26. Installment 13 (2025-02-26, 532.72) is unpaid, so DPD is 27 on
    2025-03-25 (floor special_mention, held at substandard) and 28 on 2025-03-26, when the loan
    drops to its floor. Principal outstanding after installments 3..12 is 7230.09."""
    held = restructured.loan("L-0001", as_of="2025-03-25")
    dropped = restructured.loan("L-0001", as_of="2025-03-26")

    assert restructured.loan("L-0001", as_of="2024-12-31")["days_past_due"] == 0
    assert (held["days_past_due"], held["classification"], held["classification_reasons"]) == (
        27,
        "substandard",
        ["days_past_due=27", OBSERVATION],
    )
    assert (
        dropped["days_past_due"],
        dropped["classification"],
        dropped["classification_reasons"],
    ) == (28, "special_mention", ["days_past_due=28"])
    assert (dropped["principal_outstanding"], dropped["overdue_principal"]) == (
        "7230.09",
        "502.59",
    )
    steps = [
        (event.effective_date.isoformat(), event.previous, event.classification)
        for event in _events(restructured, "L-0001", "ClassificationChanged")
        if event.effective_date >= date(2024, 3, 26)
    ]
    assert steps == [
        ("2024-03-26", "special_mention", "substandard"),
        ("2025-03-26", "substandard", "special_mention"),
    ]
    assert _balances(restructured, "2025-03-26")["loans_principal"] == "7230.09"


def test_a_restructured_loan_reconciles_throughout(restructured: LoanLedger) -> None:
    """Every month end, the restructure date and the day before it, and the due dates."""
    days = {date(2024, 3, 25), date(2024, 3, 26), date(2025, 3, 26)}
    for day in _days(date(2024, 1, 15), date(2025, 3, 26)):
        if (day + timedelta(days=1)).day == 1 or day.day in (15, 26):
            days.add(day)
    for day in sorted(days):
        assert restructured.reconcile(day) == [], day


# --- close with refund -------------------------------------------------------------------------


def test_closing_a_loan_paid_off_with_an_overpayment_refunds_it(ledger: LoanLedger) -> None:
    """L-0001: 3,000.00 over 3 months at 6%, annuity, from 2024-01-15: installment
    3000 × 0.005 / (1 − 1.005^−3) = 1010.0166 → 1010.02; 1: 15.00 + 995.02 → 2004.98;
    2: 10.0249 → 10.02 + 1000.00 → 1004.98; 3: 5.0249 → 5.02 + 1004.98 = 1010.00.
    Paid 1010.02, 1010.02 and 1100.00 on the due dates: 90.00 over, held, then refunded by
    `close`. Cash: −3000.00 + 3120.04 − 90.00 = +30.04 = the interest 15.00 + 10.02 + 5.02."""
    _book(ledger, "L-0001", amount="3000.00", term_months=3)
    ledger.execute(repay("L-0001", "2024-02-15", "1010.02", "R-1"))
    ledger.execute(repay("L-0001", "2024-03-15", "1010.02", "R-2"))

    with pytest.raises(
        WrongStateError,
        match=re.escape("still owes principal 1004.98 and penalty 0.00 on 2024-03-20"),
    ):
        ledger.execute({"command": "close", "loan_id": "L-0001", "on": "2024-03-20"})

    ledger.execute(repay("L-0001", "2024-04-15", "1100.00", "R-3"))
    paid_off = ledger.loan("L-0001", as_of="2024-04-15")
    assert (paid_off["principal_outstanding"], paid_off["overpayment"]) == ("0.00", "90.00")
    assert _balances(ledger, "2024-04-15") == {
        "cash_clearing": "120.04",
        "interest_income": "-30.04",
        "overpayments": "-90.00",
    }

    with pytest.raises(
        InvalidDateError,
        match=re.escape("effective date 2024-04-14 is before the last money fact on 2024-04-15"),
    ):
        ledger.execute({"command": "close", "loan_id": "L-0001", "on": "2024-04-14"})

    ledger.execute({"command": "close", "loan_id": "L-0001", "on": "2024-04-20"})

    closed = _events(ledger, "L-0001", "LoanClosed")
    assert [(event.effective_date, event.refund) for event in closed] == [
        (date(2024, 4, 20), Decimal("90.00"))
    ]
    view = ledger.loan("L-0001", as_of="2024-04-20")
    assert (view["status"], view["overpayment"], view["principal_outstanding"]) == (
        "closed",
        "0.00",
        "0.00",
    )
    assert _balances(ledger, "2024-04-20") == {
        "cash_clearing": "30.04",
        "interest_income": "-30.04",
    }
    assert ledger.reconcile("2024-04-20") == []
    assert all(row["loans"] == 0 for row in ledger.report("five_category", as_of="2024-04-20"))
    with pytest.raises(WrongStateError, match=re.escape("loan L-0001 is closed; close is not")):
        ledger.execute({"command": "close", "loan_id": "L-0001", "on": "2024-04-21"})


# --- legal cases -------------------------------------------------------------------------------


def test_an_arbitration_case_runs_from_filing_to_recovery_and_is_archived(
    ledger: LoanLedger,
) -> None:
    """L-0001 never repaid; the case ARB-1 is filed 2024-07-01, awarded 08-01, enforced 08-10,
    and 2,000.00 recovered as repayment ENF-1 on 09-01 (recorded as a recovery on 09-02)."""
    _book(ledger, "L-0001")
    case = {"loan_id": "L-0001", "case_id": "ARB-1"}
    ledger.execute(
        {
            "command": "file_arbitration",
            **case,
            "on": "2024-07-01",
            "forum": "上海仲裁委员会",
            "claim_amount": "12500.00",
        }
    )
    enforcement = {"command": "apply_enforcement", **case, "court": "浦东新区人民法院"}

    with pytest.raises(
        WrongStateError, match=re.escape("case 'ARB-1' has no award to enforce yet")
    ):
        ledger.execute({**enforcement, "on": "2024-07-15"})
    with pytest.raises(UnknownReferenceError, match=re.escape("loan L-0001 has no case 'ARB-9'")):
        ledger.execute(
            {
                "command": "record_award",
                "loan_id": "L-0001",
                "case_id": "ARB-9",
                "on": "2024-08-01",
                "award_amount": "1.00",
            }
        )

    ledger.execute(
        {"command": "record_award", **case, "on": "2024-08-01", "award_amount": "12400.00"}
    )
    ledger.execute({**enforcement, "on": "2024-08-10"})
    ledger.execute(repay("L-0001", "2024-09-01", "2000.00", "ENF-1"))
    recovery = {"command": "record_recovery", **case, "on": "2024-09-02"}

    with pytest.raises(
        UnknownReferenceError,
        match=re.escape("recovery names repayment 'ENF-404', which loan L-0001 has not received"),
    ):
        ledger.execute({**recovery, "amount": "2000.00", "repayment_reference": "ENF-404"})
    with pytest.raises(
        UnknownReferenceError, match=re.escape("recovery names repayment 'D-1'")
    ):  # a disbursement reference is not a repayment
        ledger.execute({**recovery, "amount": "12000.00", "repayment_reference": "D-1"})
    with pytest.raises(
        DuplicateReferenceError,
        match=re.escape("recovery of 1999.99 does not match repayment 'ENF-1' of 2000.00"),
    ):
        ledger.execute({**recovery, "amount": "1999.99", "repayment_reference": "ENF-1"})

    ledger.execute({**recovery, "amount": "2000.00", "repayment_reference": "ENF-1"})

    archived = [
        (fact["fact"], fact["effective_date"], fact["data"])
        for fact in ledger.archive("L-0001")["facts"]
        if fact["fact"]
        in ("ArbitrationFiled", "AwardGranted", "EnforcementApplied", "RecoveryRecorded")
    ]
    assert archived == [
        (
            "ArbitrationFiled",
            "2024-07-01",
            {"case_id": "ARB-1", "forum": "上海仲裁委员会", "claim_amount": "12500.00"},
        ),
        ("AwardGranted", "2024-08-01", {"case_id": "ARB-1", "award_amount": "12400.00"}),
        ("EnforcementApplied", "2024-08-10", {"case_id": "ARB-1", "court": "浦东新区人民法院"}),
        (
            "RecoveryRecorded",
            "2024-09-02",
            {"case_id": "ARB-1", "amount": "2000.00", "repayment_reference": "ENF-1"},
        ),
    ]
    assert ledger.verify().ok


# --- non-accrual -------------------------------------------------------------------------------


def test_interest_falling_due_past_90_days_is_off_balance_sheet_until_paid(
    ledger: LoanLedger,
) -> None:
    """L-0001 never repaid until 2024-06-20. Installment 4 falls due 05-15 at DPD 90 (on
    balance); installment 5 (40.40) falls due 06-15 at DPD 121: off balance sheet.
    On balance: interest 60.00 + 55.14 + 50.25 + 45.33 = 210.72; penalty recognised at the
    04-30 month end (DPD 76 the next day, on balance) per installment: 75 days × 0.2582 =
    19.365 → 19.37, 46 × 0.2582 = 11.8772 → 11.88, 15 × 0.2582 = 3.873 → 3.87: 35.12. At 05-31
    (DPD 107 the next day) the increments go off balance: 106 days → 27.37 (+8.00), 77 → 19.88
    (+8.00), 46 → 11.88 (+8.01), installment 4 16 days → 4.13 (+4.13): 28.14. So on 06-19
    `offbs_interest` is 28.14 + 40.40 = 68.54.
    On 06-20, 5,247.92 pays installments 1-5: penalty through 06-19 125, 96, 65, 35 and 4 days ×
    0.2582 = 32.275 → 32.28, 24.7872 → 24.79, 16.783 → 16.78, 9.037 → 9.04, 1.0328 → 1.03
    (83.92); interest 251.12; principal 972.80 + 977.66 + 982.55 + 987.47 + 992.40 = 4912.88.
    Afterwards all of it is income and the memo pair is empty."""
    _book(ledger, "L-0001")
    view = ledger.loan("L-0001", as_of="2024-06-19")
    assert (view["overdue_interest"], view["penalty_outstanding"]) == ("251.12", "83.92")

    assert _balances(ledger, "2024-06-19") == {
        "loans_principal": "12000.00",
        "interest_receivable": "210.72",
        "penalty_receivable": "35.12",
        "cash_clearing": "-12000.00",
        "interest_income": "-210.72",
        "penalty_income": "-35.12",
        "offbs_interest": "68.54",
        "offbs_contra": "-68.54",
        # DPD 125: substandard, 25 % + the general 1.5 % of 12,000.00 (domain/provisions.py).
        "loan_loss_allowance": "-3180.00",
        "impairment_expense": "3180.00",
    }

    result = ledger.execute(repay("L-0001", "2024-06-20", "5247.92", "R-1"))

    assert result["allocation"] == {
        "penalty": "83.92",
        "interest": "251.12",
        "principal": "4912.88",
        "prepaid_principal": "0.00",
        "overpayment": "0.00",
    }
    assert _balances(ledger, "2024-06-20") == {
        "loans_principal": "7087.12",
        "cash_clearing": "-6752.08",
        "interest_income": "-251.12",
        "penalty_income": "-83.92",
        # Cured, normal again: the allowance is released to the general 1.5 % of 7,087.12.
        "loan_loss_allowance": "-106.31",
        "impairment_expense": "106.31",
    }
    assert ledger.loan("L-0001", as_of="2024-06-20")["days_past_due"] == 0
    assert ledger.reconcile("2024-06-19") == [] and ledger.reconcile("2024-06-20") == []


# --- close of day: grade changes it must not miss (bugs found by the servicing machine) --------


def test_contagion_ending_because_the_bad_loan_shrinks_is_recorded_that_day(
    ledger: LoanLedger,
) -> None:
    """L-0001: 1,400.00 (installment 1400 × 0.005 / (1 − 1.005^−12) = 120.49: interest 7.00,
    principal 113.49), never repaid until 05-17; L-0002: 12,000.00 from 2024-05-01, current.
    On 05-16 the share is 1400 / 13400 = 0.1045 > 0.1: L-0002 substandard (recorded). On 05-17
    L-0001 pays 110.00: penalty 91 days × 120.49 × 0.00025 = 2.741 → 2.74, interest 7.00,
    principal 100.26; it stays 92 days past due (substandard), but its share is
    1299.74 / 13299.74 = 0.0977 ≤ 0.1, so L-0002 is `normal` again on 05-17 and close of day
    must record that on 05-17."""
    _book(ledger, "L-0001", amount="1400.00")
    _book(ledger, "L-0002", disbursed_on="2024-05-01")
    _close_through(ledger, date(2024, 5, 14), date(2024, 5, 16))
    result = ledger.execute(repay("L-0001", "2024-05-17", "110.00", "R-1"))
    assert (result["allocation"]["penalty"], result["allocation"]["principal"]) == (
        "2.74",
        "100.26",
    )
    ledger.close_day("2024-05-17")

    assert ledger.loan("L-0001", as_of="2024-05-17")["classification"] == "substandard"
    assert ledger.loan("L-0002", as_of="2024-05-17")["classification"] == "normal"
    recorded = [
        (event.effective_date.isoformat(), event.classification)
        for event in _events(ledger, "L-0002", "ClassificationChanged")
    ]
    assert recorded == [("2024-05-16", "substandard"), ("2024-05-17", "normal")]


def test_closing_an_earlier_day_again_does_not_hide_a_newer_fact(ledger: LoanLedger) -> None:
    """L-0001 never repaid: 15 days past due on 2024-03-01 (special_mention, recorded). A
    downgrade to substandard effective 03-02 is recorded, then 03-01 is closed again (harmless,
    says the README), then 03-02 is closed: it must record the downgrade's grade on 03-02, as it
    does without the repeated close."""
    _book(ledger, "L-0001")
    ledger.close_day("2024-03-01")
    ledger.execute(
        {
            "command": "downgrade",
            "loan_id": "L-0001",
            "on": "2024-03-02",
            "classification": "substandard",
            "approver": "risk-1",
            "reason": "borrower absconded",
        }
    )
    assert ledger.close_day("2024-03-01")["events_recorded"] == 0

    ledger.close_day("2024-03-02")

    assert ledger.loan("L-0001", as_of="2024-03-02")["classification"] == "substandard"
    recorded = [
        (event.effective_date.isoformat(), event.classification)
        for event in _events(ledger, "L-0001", "ClassificationChanged")
    ]
    assert recorded == [("2024-03-01", "special_mention"), ("2024-03-02", "substandard")]
