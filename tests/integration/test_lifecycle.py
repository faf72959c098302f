"""The loan lifecycle through the public API, on every store (memory, SQLite, PostgreSQL).

Figures are worked by hand in each docstring: a 12,000.00 loan over 12 months at 6% a year,
annuity (等额本息), disbursed 2024-01-15 with repayment day 15. Its level installment is
12000 × 0.005 / (1 − 1.005^−12) = 1032.7990 → 1032.80; installment 1 is 60.00 interest (one
regular month) + 972.80 principal; installment 2 is 55.14 + 977.66; installment 3 50.25 + 982.55.
Penalty per day is balance × 0.06 × 1.5 / 360 = balance × 0.00025.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from loanledger import DomainError, LoanLedger
from loanledger.domain.errors import (
    AuthorityLimitError,
    DuplicateReferenceError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
    LoanNotFoundError,
    OverDisbursementError,
    SeparationOfDutiesError,
    WrongStateError,
)
from tests.journal import disburse, lines, pre_loan, repay


def _book(ledger: LoanLedger, loan_id: str = "L-0001", **terms: Any) -> None:
    for command in pre_loan(loan_id, **terms):
        ledger.execute(command)
    ledger.execute(disburse(loan_id, "2024-01-15", terms.get("amount", "12000.00")))


def _figures(view: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(view[name] for name in names)


def test_an_approved_loan_has_the_contract_schedule_from_its_disbursement_date(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    rows = ledger.schedule("L-0001")

    assert len(rows) == 12
    assert rows[0] == {
        "number": 1,
        "due_date": "2024-02-15",
        "principal": "972.80",
        "interest": "60.00",
        "installment": "1032.80",
        "principal_remaining": "11027.20",
        "fee": "0.00",
        "annual_rate": "0.06",
    }
    assert rows[1]["interest"] == "55.14" and rows[1]["principal"] == "977.66"
    assert rows[-1]["due_date"] == "2025-01-15" and rows[-1]["principal_remaining"] == "0.00"


def test_every_row_of_a_fixed_rate_loan_carries_the_approved_rate(ledger: LoanLedger) -> None:
    """Approved at 0.0435 and not yet disbursed (the provisional schedule), then disbursed and
    part-prepaid (the re-amortised schedule): every row shows the approved rate as written."""
    for command in pre_loan("L-0003", annual_rate="0.0435"):
        ledger.execute(command)
    assert [row["annual_rate"] for row in ledger.schedule("L-0003", as_of="2024-01-10")] == [
        "0.0435"
    ] * 12
    ledger.execute(disburse("L-0003", "2024-01-15", "12000.00"))
    ledger.execute(repay("L-0003", "2024-02-15", "5000.00", "R-1", prepay=True))
    rows = ledger.schedule("L-0003", as_of="2024-02-15")
    assert [row["annual_rate"] for row in rows] == ["0.0435"] * 12


def test_an_irregular_first_period_charges_actual_days_over_360(ledger: LoanLedger) -> None:
    """Disbursed 2024-01-20, repayment day 15: 26 days, 12000 × 0.06 × 26 / 360 = 52.00, and the
    annuity's first principal is still the regular portion 1032.80 − 60.00 = 972.80."""
    for command in pre_loan("L-0002", repayment_day=15):
        ledger.execute(command)
    ledger.execute(disburse("L-0002", "2024-01-20", "12000.00"))

    first = ledger.schedule("L-0002")[0]

    assert _figures(first, "due_date", "interest", "principal", "installment") == (
        "2024-02-15",
        "52.00",
        "972.80",
        "1024.80",
    )


def test_penalty_runs_over_a_month_boundary_on_two_overdue_installments(
    ledger: LoanLedger,
) -> None:
    """Nothing paid by 2024-03-20. Installment 1 (due 02-15) is 34 days late (14 in a leap
    February + 20): 1032.80 × 0.00025 × 34 = 8.7788 → 8.78. Installment 2 (due 03-15) is 5 days
    late: 1032.80 × 0.00025 × 5 = 1.2910 → 1.29. Penalty 10.07; DPD 34 → M2, 关注, stage 2."""
    _book(ledger)

    view = ledger.loan("L-0001", as_of="2024-03-20")

    assert view == {
        "loan_id": "L-0001",
        "status": "overdue",
        "principal_outstanding": "12000.00",
        "overdue_principal": "1950.46",
        "overdue_interest": "115.14",
        "penalty_outstanding": "10.07",
        "days_past_due": 34,
        "bucket": "M2",
        "classification": "special_mention",
        "ifrs9_stage": 2,
        "next_due_date": "2024-04-15",
        "next_due_amount": "1032.80",
        "ltv": None,
        "warnings": ["days_past_due"],
        "overpayment": "0.00",
        "currency": "CNY",
        "rule_set": "CN-2023",
        "as_of": "2024-03-20",
        "classification_reasons": ["days_past_due=34"],
        "limitation_expires_on": "2027-02-15",
        "guarantee_expires_on": None,
        "observation_until": None,
        "next_check_due": "2024-04-14",
        "product": "default",
        "product_version": 0,
        "apr": "0.0600",
        "fees_charged": "0.00",
        "fees_outstanding": "0.00",
        "balance_sheet": "on",
        "on_balance_outstanding": "12125.21",
        "off_balance_outstanding": "0.00",
    }


def test_a_due_date_itself_is_not_past_due_and_the_next_day_is(ledger: LoanLedger) -> None:
    _book(ledger)

    on_due = ledger.loan("L-0001", as_of="2024-02-15")
    next_day = ledger.loan("L-0001", as_of="2024-02-16")

    assert _figures(on_due, "status", "days_past_due", "overdue_principal") == ("active", 0, "0.00")
    assert on_due["next_due_date"] == "2024-02-15"
    assert _figures(next_day, "status", "days_past_due", "overdue_principal", "bucket") == (
        "overdue",
        1,
        "972.80",
        "M1",
    )
    assert next_day["penalty_outstanding"] == "0.26"  # 1032.80 × 0.00025 = 0.2582


def test_a_partial_payment_meets_penalty_then_interest_then_principal(ledger: LoanLedger) -> None:
    """1,000.00 on 03-20 meets installment 1's penalty through 03-19 (33 days: 8.5206 → 8.52),
    its interest 60.00, then 931.48 of principal. What stays overdue: 41.32 of installment 1 and
    all of installment 2. Penalty after: 41.32 × 0.00025 for 03-20 (0.0103 → 0.01) plus
    installment 2's five days (1.29) = 1.30."""
    _book(ledger)

    result = ledger.execute(repay("L-0001", "2024-03-20", "1000.00", "R-1"))
    view = ledger.loan("L-0001", as_of="2024-03-20")

    assert result["allocation"] == {
        "penalty": "8.52",
        "interest": "60.00",
        "principal": "931.48",
        "prepaid_principal": "0.00",
        "overpayment": "0.00",
    }
    assert _figures(
        view,
        "principal_outstanding",
        "overdue_principal",
        "overdue_interest",
        "penalty_outstanding",
        "days_past_due",
    ) == ("11068.52", "1018.98", "55.14", "1.30", 34)


def test_paying_on_the_first_overdue_day_costs_no_penalty(ledger: LoanLedger) -> None:
    """算头不算尾: paid in full on 02-16, the first overdue day does not count against it."""
    _book(ledger)

    result = ledger.execute(repay("L-0001", "2024-02-16", "1032.80", "R-1"))

    assert result["allocation"]["penalty"] == "0.00"
    assert ledger.loan("L-0001", as_of="2024-02-16")["penalty_outstanding"] == "0.00"
    assert ledger.loan("L-0001", as_of="2024-02-16")["days_past_due"] == 0


def test_an_overpayment_is_held_and_applied_when_the_next_installment_falls_due(
    ledger: LoanLedger,
) -> None:
    """1,500.00 on 02-15 pays installment 1 (1032.80) and holds 467.20. On 03-15 it meets
    installment 2's interest 55.14 and 412.06 of principal, leaving 565.60 due that day; a day
    later 565.60 is overdue and bears 565.60 × 0.00025 = 0.1414 → 0.14."""
    _book(ledger)

    result = ledger.execute(repay("L-0001", "2024-02-15", "1500.00", "R-1"))
    before = ledger.loan("L-0001", as_of="2024-03-14")
    due_day = ledger.loan("L-0001", as_of="2024-03-15")
    late = ledger.loan("L-0001", as_of="2024-03-16")

    assert result["allocation"]["overpayment"] == "467.20"
    assert _figures(before, "overpayment", "principal_outstanding") == ("467.20", "11027.20")
    assert _figures(due_day, "overpayment", "next_due_date", "next_due_amount") == (
        "0.00",
        "2024-03-15",
        "565.60",
    )
    assert _figures(late, "days_past_due", "overdue_principal", "penalty_outstanding") == (
        1,
        "565.60",
        "0.14",
    )


def test_a_prepayment_on_a_due_date_re_amortises_keeping_the_term(ledger: LoanLedger) -> None:
    """After the partial payment of 03-20, 5,000.00 with prepay on 04-15 first clears what is due:
    penalty 0.27 (installment 1: 0.0103 + 25 days × 41.32 × 0.00025) + 7.75 (installment 2: 30
    days × 1032.80 × 0.00025), interest 55.14 + 50.25, principal 41.32 + 977.66 + 982.55. The rest,
    2,885.06, reduces principal from 9,066.99 to 6,181.93, re-amortised over the 9 remaining
    months: 6181.93 × 0.005 / (1 − 1.005^−9) = 704.17 a month."""
    _book(ledger)
    ledger.execute(repay("L-0001", "2024-03-20", "1000.00", "R-1"))

    result = ledger.execute(repay("L-0001", "2024-04-15", "5000.00", "R-2", prepay=True))
    rows = ledger.schedule("L-0001")

    assert result["allocation"] == {
        "penalty": "8.02",
        "interest": "105.39",
        "principal": "2001.53",
        "prepaid_principal": "2885.06",
        "overpayment": "0.00",
    }
    assert len(rows) == 12
    assert _figures(rows[3], "number", "due_date", "interest", "principal", "installment") == (
        4,
        "2024-05-15",
        "30.91",
        "673.26",
        "704.17",
    )
    assert ledger.loan("L-0001", as_of="2024-04-15")["principal_outstanding"] == "6181.93"
    assert rows[-1]["principal_remaining"] == "0.00"


def test_paying_everything_closes_the_loan(ledger: LoanLedger) -> None:
    """A prepayment on 02-15 of installment 1 plus all remaining principal (11,027.20) pays off."""
    _book(ledger)

    ledger.execute(repay("L-0001", "2024-02-15", "12060.00", "R-1", prepay=True))
    view = ledger.loan("L-0001", as_of="2024-02-15")

    assert _figures(view, "status", "principal_outstanding", "next_due_date") == (
        "closed",
        "0.00",
        None,
    )
    # Money that arrives afterwards is never refused: it is held, and the loan reads `overpaid`.
    ledger.execute(repay("L-0001", "2024-03-15", "1.00", "R-2"))
    later = ledger.loan("L-0001", as_of="2024-03-15")
    assert _figures(later, "status", "overpayment") == ("overpaid", "1.00")


def test_a_repeated_reference_with_the_same_content_records_nothing(ledger: LoanLedger) -> None:
    _book(ledger)
    first = ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))

    again = ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))

    assert again == {**first, "repeated": True}
    assert ledger.verify().events_checked == 6


def test_a_repeated_reference_with_different_content_is_refused(ledger: LoanLedger) -> None:
    _book(ledger)
    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))

    with pytest.raises(DuplicateReferenceError, match="'R-1' was already used"):
        ledger.execute(repay("L-0001", "2024-02-15", "1032.81", "R-1"))
    with pytest.raises(DuplicateReferenceError):
        ledger.execute(disburse("L-0001", "2024-01-15", "12000.00", reference="R-1"))


def test_a_backdated_repayment_revises_later_allocations_with_a_linked_event(
    ledger: LoanLedger,
) -> None:
    """R-1 (1,000.00 on 03-20) was allocated as if installment 1 were unpaid. R-0, recorded later
    but effective 02-15, paid installment 1, so R-1 now meets installment 2: penalty for 03-16..19
    (4 × 1032.80 × 0.00025 = 1.0328 → 1.03), interest 55.14, principal 943.83."""
    _book(ledger)
    ledger.execute(repay("L-0001", "2024-03-20", "1000.00", "R-1"))

    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-0"))

    revision = list(ledger.events.get(ledger._get("L-0001").id))[-1]
    assert type(revision).__name__ == "AllocationRevised"
    assert revision.reference == "R-1"  # type: ignore[attr-defined]
    assert revision.revises_version == 6  # type: ignore[attr-defined]
    assert revision.caused_by_version == 7  # type: ignore[attr-defined]
    assert ledger.execute(repay("L-0001", "2024-03-20", "1000.00", "R-1"))["allocation"] == {
        "penalty": "1.03",
        "interest": "55.14",
        "principal": "943.83",
        "prepaid_principal": "0.00",
        "overpayment": "0.00",
    }
    view = ledger.loan("L-0001", as_of="2024-03-20")
    assert _figures(view, "overdue_principal", "penalty_outstanding", "days_past_due") == (
        "33.83",
        "0.01",
        5,
    )


def test_known_at_excludes_facts_recorded_later(
    ledger: LoanLedger, clock: Callable[[], datetime]
) -> None:
    _book(ledger)
    before_repayment = clock()
    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))

    as_known_then = ledger.loan("L-0001", as_of="2024-03-20", known_at=before_repayment)
    as_known_now = ledger.loan("L-0001", as_of="2024-03-20")

    assert as_known_then["days_past_due"] == 34
    assert as_known_now["days_past_due"] == 5
    assert (
        ledger.loan("L-0001", as_of="2024-03-20", known_at=before_repayment.isoformat())
        == as_known_then
    )


def test_statuses_follow_the_pre_loan_steps_by_effective_date(ledger: LoanLedger) -> None:
    steps = pre_loan("L-0003", applied_on="2024-01-02", approved_on="2024-01-10")
    steps[1]["on"] = "2024-01-05"
    for command in steps:
        ledger.execute(command)

    statuses = [
        ledger.loan("L-0003", as_of=day)["status"]
        for day in ("2024-01-02", "2024-01-05", "2024-01-10")
    ]

    assert statuses == ["applied", "investigated", "approved"]
    with pytest.raises(LoanNotFoundError, match="no application on or before 2024-01-01"):
        ledger.loan("L-0003", as_of="2024-01-01")


def test_a_rejected_application_can_do_nothing_more(ledger: LoanLedger) -> None:
    for command in pre_loan("L-0004")[:3]:
        ledger.execute(command)
    ledger.execute(
        {
            "command": "reject",
            "loan_id": "L-0004",
            "on": "2024-01-11",
            "approver": "approver-1",
            "reason": "insufficient cash flow",
        }
    )

    assert ledger.loan("L-0004", as_of="2024-01-11")["status"] == "rejected"
    with pytest.raises(WrongStateError, match="was rejected; approve is not allowed"):
        ledger.execute(pre_loan("L-0004")[3])


REFUSALS: list[tuple[str, Callable[[list[dict[str, Any]]], None], type[DomainError], str]] = []


def _refusal(
    name: str, error: type[DomainError], match: str
) -> Callable[[Callable[[list[dict[str, Any]]], None]], Callable[[list[dict[str, Any]]], None]]:
    def register(
        mutate: Callable[[list[dict[str, Any]]], None],
    ) -> Callable[[list[dict[str, Any]]], None]:
        REFUSALS.append((name, mutate, error, match))
        return mutate

    return register


@_refusal("same investigator twice", SeparationOfDutiesError, "two distinct people")
def _same_investigator(steps: list[dict[str, Any]]) -> None:
    steps[1]["investigators"] = ["inv-1", "inv-1"]


@_refusal("reviewer was an investigator", SeparationOfDutiesError, "must not be one of the")
def _reviewer_investigated(steps: list[dict[str, Any]]) -> None:
    steps[2]["reviewer"] = "inv-2"


@_refusal("approver was the reviewer", SeparationOfDutiesError, "must not be the reviewer")
def _approver_reviewed(steps: list[dict[str, Any]]) -> None:
    steps[3]["approver"] = "rev-1"


@_refusal("approver was an investigator", SeparationOfDutiesError, "investigators")
def _approver_investigated(steps: list[dict[str, Any]]) -> None:
    steps[3]["approver"] = "inv-1"


@_refusal("above the authority limit", AuthorityLimitError, "authority limit 10000.00")
def _above_limit(steps: list[dict[str, Any]]) -> None:
    steps[3]["authority_limit"] = "10000.00"


@_refusal("above the applied amount", AuthorityLimitError, "exceeds the applied amount")
def _above_applied(steps: list[dict[str, Any]]) -> None:
    steps[3]["amount"] = "12000.01"


@_refusal("approval dated before review", InvalidDateError, "before the review")
def _approval_early(steps: list[dict[str, Any]]) -> None:
    steps[3]["on"] = "2024-01-09"


@_refusal("over-precise amount", InvalidAmountError, "more than 2 decimal places")
def _over_precise(steps: list[dict[str, Any]]) -> None:
    steps[0]["amount"] = "12000.001"


@_refusal("float amount", InvalidAmountError, "not float")
def _float_amount(steps: list[dict[str, Any]]) -> None:
    steps[0]["amount"] = 12000.5


@_refusal("negative amount", InvalidAmountError, "greater than zero")
def _negative(steps: list[dict[str, Any]]) -> None:
    steps[0]["amount"] = "-1.00"


@_refusal("NaN rate", DomainError, "finite")
def _nan_rate(steps: list[dict[str, Any]]) -> None:
    steps[0]["annual_rate"] = "NaN"


@_refusal("unknown field", InvalidCommandError, "unknown field 'colour'")
def _unknown_field(steps: list[dict[str, Any]]) -> None:
    steps[2]["colour"] = "red"


@_refusal("review before investigation", WrongStateError, "before investigation")
def _no_investigation(steps: list[dict[str, Any]]) -> None:
    del steps[1]


@_refusal("repayment day 29", DomainError, "repayment_day")
def _day_29(steps: list[dict[str, Any]]) -> None:
    steps[3]["repayment_day"] = 29


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [pytest.param(mutate, error, match, id=name) for name, mutate, error, match in REFUSALS],
)
def test_a_refused_pre_loan_command_names_its_rule_and_records_nothing(
    ledger: LoanLedger,
    mutate: Callable[[list[dict[str, Any]]], None],
    error: type[DomainError],
    match: str,
) -> None:
    steps = pre_loan("L-0009")
    mutate(steps)
    events_before = 0
    with pytest.raises(error, match=match):
        for command in steps:
            events_before = ledger.verify().events_checked
            ledger.execute(command)
    assert ledger.verify().events_checked == events_before


@pytest.mark.parametrize(
    ("command", "error", "match"),
    [
        (disburse("L-0001", "2024-01-15", "0.01", "D-2"), OverDisbursementError, "above the"),
        (repay("L-0001", "2024-01-14", "10.00", "R-9"), InvalidDateError, "before the first"),
        (repay("L-0001", "2024-02-15", "0.00", "R-9"), InvalidAmountError, "greater than zero"),
        (repay("L-0099", "2024-02-15", "1.00", "R-9"), LoanNotFoundError, "L-0099 has not"),
        (disburse("L-0001", "2025-01-15", "1.00", "D-3"), OverDisbursementError, "approved"),
    ],
)
def test_a_refused_money_command_records_nothing(
    ledger: LoanLedger, command: dict[str, Any], error: type[DomainError], match: str
) -> None:
    _book(ledger)

    with pytest.raises(error, match=match):
        ledger.execute(command)

    assert ledger.verify().events_checked == 5


def test_repayment_before_any_disbursement_is_refused(ledger: LoanLedger) -> None:
    for command in pre_loan("L-0005"):
        ledger.execute(command)

    with pytest.raises(WrongStateError, match="no repayment before the first disbursement"):
        ledger.execute(repay("L-0005", "2024-02-15", "10.00", "R-1"))


def test_load_applies_lines_in_order_and_stops_at_the_first_refused_line(
    ledger: LoanLedger,
) -> None:
    journal = lines(pre_loan("L-0006"))
    journal.insert(2, "")  # blank lines are skipped but counted
    journal.append('{"command": "disburse", "loan_id": "L-0006", "on": "2024-01-15"}')
    journal.append(lines([disburse("L-0006", "2024-01-15", "12000.00")])[0])

    with pytest.raises(InvalidCommandError, match=r"^line 6: disburse: missing field 'amount'"):
        ledger.load(journal)

    assert ledger.loan("L-0006", as_of="2024-01-15")["status"] == "approved"


def test_load_refuses_a_line_that_is_not_json_naming_the_line(ledger: LoanLedger) -> None:
    from loanledger.domain.errors import JournalParseError

    with pytest.raises(JournalParseError, match=r"^line 2: not valid JSON"):
        ledger.load([lines(pre_loan("L-0007"))[0], "{not json"])
