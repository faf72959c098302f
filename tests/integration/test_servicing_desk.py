"""What a servicing desk asks on the spot: installment status, statements, what-if previews.

The book: L-0001 is 12,000.00 over 12 months at 6 %, annuity, disbursed 2024-01-15, installments
due on the 15th (1,032.80 each: 2024-02-15 is 972.80 principal + 60.00 interest). The borrower
pays installment 1 on its due date (R-1, 1,032.80) and 500.00 on 2024-03-20 (R-2), five days
after installment 2 fell due: that pays 1.03 of penalty, 55.14 of interest and 443.83 of
principal of installment 2, and leaves 533.83 of it overdue. Nothing more is paid.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loanledger import DomainError, LoanLedger
from loanledger.domain.errors import InvalidAmountError, LoanNotFoundError, WrongStateError
from tests.journal import disburse, pre_loan, repay

LOAN = "L-0001"


def _book(ledger: LoanLedger) -> None:
    for command in pre_loan(LOAN):
        ledger.execute(command)
    ledger.execute(disburse(LOAN, "2024-01-15", "12000.00"))
    ledger.execute(repay(LOAN, "2024-02-15", "1032.80", "R-1"))
    ledger.execute(repay(LOAN, "2024-03-20", "500.00", "R-2"))


def _money_fields(row: dict[str, Any], *names: str) -> tuple[str, ...]:
    return tuple(row[name] for name in names)


# --- installment status ------------------------------------------------------------------------


def test_installments_show_what_was_paid_of_each_and_whether_it_is_paid_overdue_due_or_future(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    rows = ledger.installments(LOAN, as_of="2024-04-20")
    assert [row["status"] for row in rows] == ["paid", "overdue", "overdue", "due"] + ["future"] * 8
    assert rows[0] == {
        "number": 1,
        "due_date": "2024-02-15",
        "status": "paid",
        "principal_due": "972.80",
        "principal_paid": "972.80",
        "principal_outstanding": "0.00",
        "interest_due": "60.00",
        "interest_paid": "60.00",
        "interest_outstanding": "0.00",
        "penalty_due": "0.00",
        "penalty_paid": "0.00",
        "penalty_outstanding": "0.00",
        "fee_due": "0.00",
        "fee_paid": "0.00",
        "fee_outstanding": "0.00",
        "paid_on": "2024-02-15",
    }
    assert rows[1] == {
        "number": 2,
        "due_date": "2024-03-15",
        "status": "overdue",
        "principal_due": "977.66",
        "principal_paid": "443.83",
        "principal_outstanding": "533.83",
        "interest_due": "55.14",
        "interest_paid": "55.14",
        "interest_outstanding": "0.00",
        "penalty_due": "5.30",
        "penalty_paid": "1.03",
        "penalty_outstanding": "4.27",
        "fee_due": "0.00",
        "fee_paid": "0.00",
        "fee_outstanding": "0.00",
        "paid_on": None,
    }
    assert _money_fields(rows[3], "principal_due", "interest_due", "principal_paid") == (
        "987.47",
        "45.33",
        "0.00",
    )


def test_installment_outstanding_amounts_sum_to_the_loan_view(ledger: LoanLedger) -> None:
    _book(ledger)
    rows = ledger.installments(LOAN, as_of="2024-04-20")
    view = ledger.loan(LOAN, as_of="2024-04-20")
    principal = sum(float(row["principal_outstanding"]) * 100 for row in rows)
    penalty = sum(float(row["penalty_outstanding"]) * 100 for row in rows)
    assert round(principal) / 100 == float(view["principal_outstanding"]) == 10583.37
    assert round(penalty) / 100 == float(view["penalty_outstanding"]) == 5.56


def test_an_installment_met_from_money_held_early_is_paid_on_its_due_date(
    ledger: LoanLedger,
) -> None:
    for command in pre_loan(LOAN):
        ledger.execute(command)
    ledger.execute(disburse(LOAN, "2024-01-15", "12000.00"))
    ledger.execute(repay(LOAN, "2024-02-01", "1100.00", "R-early"))
    rows = ledger.installments(LOAN, as_of="2024-02-20")
    assert (rows[0]["status"], rows[0]["paid_on"]) == ("paid", "2024-02-15")
    assert (rows[1]["status"], rows[1]["principal_paid"]) == ("due", "0.00")


def test_an_installment_paid_late_in_two_parts_is_paid_on_the_day_of_the_second(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    ledger.execute(repay(LOAN, "2024-03-25", "538.66", "R-3"))
    rows = ledger.installments(LOAN, as_of="2024-03-31")
    assert rows[1]["penalty_outstanding"] == "0.00"
    assert (rows[1]["status"], rows[1]["paid_on"]) == ("paid", "2024-03-25")


def test_installments_before_disbursement_are_empty_and_an_unknown_loan_is_refused(
    ledger: LoanLedger,
) -> None:
    for command in pre_loan(LOAN):
        ledger.execute(command)
    assert ledger.installments(LOAN, as_of="2024-01-12") == []
    with pytest.raises(LoanNotFoundError):
        ledger.installments("L-9999", as_of="2024-01-12")


# --- statements --------------------------------------------------------------------------------


def test_a_statement_lists_each_movement_with_its_allocation_and_closes_at_the_loan_view(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    result = ledger.statement(LOAN, "2024-02-01", "2024-04-20")
    assert result["opening"] == {
        "principal_outstanding": "12000.00",
        "overdue_principal": "0.00",
        "overdue_interest": "0.00",
        "penalty_outstanding": "0.00",
        "overpayment": "0.00",
        "fees_outstanding": "0.00",
    }
    assert [(m["on"], m["kind"], m["reference"], m["amount"]) for m in result["movements"]] == [
        ("2024-02-15", "repayment", "R-1", "1032.80"),
        ("2024-03-20", "repayment", "R-2", "500.00"),
    ]
    assert result["movements"][1]["allocation"] == {
        "penalty": "1.03",
        "interest": "55.14",
        "principal": "443.83",
        "prepaid_principal": "0.00",
        "overpayment": "0.00",
    }
    assert result["movements"][1]["balances"]["principal_outstanding"] == "10583.37"
    assert result["totals"] == {
        "disbursement": "0.00",
        "repayment": "1532.80",
        "refund": "0.00",
        "write_off": "0.00",
    }
    view = ledger.loan(LOAN, as_of="2024-04-20")
    assert result["closing"] == {name: view[name] for name in result["closing"]}
    assert result["closing"]["overdue_principal"] == "1516.38"


def test_a_backdated_repayment_shows_in_the_statement_as_recorded_late_with_what_it_revised(
    store_url: str,
) -> None:
    now = {"moment": datetime(2024, 1, 1, 9, tzinfo=UTC)}

    def clock() -> datetime:
        now["moment"] += timedelta(minutes=1)
        return now["moment"]

    ledger = LoanLedger.open(store_url, clock=clock)
    try:
        for command in pre_loan(LOAN):
            ledger.execute(command)
        ledger.execute(disburse(LOAN, "2024-01-15", "12000.00"))
        ledger.execute(repay(LOAN, "2024-03-20", "500.00", "R-2"))
        now["moment"] = datetime(2024, 4, 1, 9, tzinfo=UTC)
        ledger.execute(repay(LOAN, "2024-02-15", "1032.80", "R-1"))
        result = ledger.statement(LOAN, "2024-02-01", "2024-04-20")
    finally:
        ledger.close()
    first, second = result["movements"]
    assert (first["reference"], first["recorded_late"]) == ("R-1", True)
    assert (second["reference"], second["recorded_late"]) == ("R-2", False)
    assert second["revised_by_versions"] == [first["version"]]
    assert second["allocation"]["principal"] == "443.83"


def test_a_statement_whose_end_is_before_its_start_is_refused(ledger: LoanLedger) -> None:
    _book(ledger)
    with pytest.raises(DomainError, match="to_date 2024-03-01 is before from_date 2024-04-01"):
        ledger.statement(LOAN, "2024-04-01", "2024-03-01")


# --- what-if previews --------------------------------------------------------------------------


def _stored(ledger: LoanLedger) -> tuple[Any, ...]:
    """What the store holds and what its read models answer."""
    return (
        ledger.recorder.max_notification_id(),
        ledger.verify().events_checked,
        ledger.report("loan_ledger", as_of="2024-04-20"),
        ledger.report("trial_balance", as_of="2024-04-20"),
        ledger.report("notices", as_of="2024-04-20"),
    )


def test_a_preview_shows_the_loan_before_and_after_and_records_nothing(
    ledger: LoanLedger, store_url: str
) -> None:
    _book(ledger)
    before = _stored(ledger)
    file_digest = _sqlite_digest(store_url)
    result = ledger.preview([repay(LOAN, "2024-04-20", "5000.00", "R-3", prepay=True)])
    assert result["as_of"] == "2024-04-20"
    assert result["refusals"] == []
    sides = result["loans"][LOAN]
    assert sides["before"]["loan"]["principal_outstanding"] == "10583.37"
    assert sides["after"]["loan"]["principal_outstanding"] == "5646.35"
    assert sides["before"]["schedule"] == ledger.schedule(LOAN, as_of="2024-04-20")
    assert sides["after"]["schedule"] != sides["before"]["schedule"]
    assert _stored(ledger) == before
    assert _sqlite_digest(store_url) == file_digest


def _sqlite_digest(store_url: str) -> str | None:
    if not store_url.startswith("sqlite:///"):
        return None
    path = Path(store_url.removeprefix("sqlite:///"))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_preview_then_execute_gives_exactly_the_previewed_figures(ledger: LoanLedger) -> None:
    _book(ledger)
    commands = [
        repay(LOAN, "2024-04-20", "5000.00", "R-3", prepay=True),
        {"command": "close_day", "on": "2024-04-21"},
    ]
    previewed = ledger.preview(commands, as_of="2024-04-21")
    for command in commands:
        ledger.execute(command)
    after = previewed["loans"][LOAN]["after"]
    assert ledger.loan(LOAN, as_of="2024-04-21") == after["loan"]
    assert ledger.schedule(LOAN, as_of="2024-04-21") == after["schedule"]


def test_a_refused_command_in_a_preview_is_listed_with_the_error_execute_would_raise(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    bad = {**repay(LOAN, "2024-04-20", "1.00", "R-9"), "amount": "-1"}
    result = ledger.preview([bad, repay(LOAN, "2024-04-20", "100.00", "R-4")])
    assert result["refusals"] == [
        {
            "line": 1,
            "command": "repay",
            "loan_id": LOAN,
            "error": "InvalidAmountError",
            "message": "repay: field 'amount': amount must be greater than zero, got -1",
        }
    ]
    with pytest.raises(InvalidAmountError, match="amount must be greater than zero, got -1"):
        ledger.execute(bad)
    assert [item["command"] for item in result["results"]] == ["repay"]


def test_a_what_if_branch_runs_several_steps_and_its_reports_include_them(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    stored_balance = ledger.report("trial_balance", as_of="2024-04-20")
    with ledger.what_if() as branch:
        branch.execute(repay(LOAN, "2024-04-20", "5000.00", "R-3", prepay=True))
        for command in pre_loan("L-0002", borrower_id="B-2"):
            branch.execute(command)
        branch.execute(disburse("L-0002", "2024-04-01", "3000.00"))
        assert branch.loan(LOAN, as_of="2024-04-20")["principal_outstanding"] == "5646.35"
        assert branch.installments("L-0002", as_of="2024-04-20") != []
        principal = branch.report("trial_balance", as_of="2024-04-20")[0]
        assert principal == {"account": "loans_principal", "debit": "8646.35", "credit": "0.00"}
        ledger_rows = branch.report("loan_ledger", as_of="2024-04-20")
        assert [row["loan_id"] for row in ledger_rows] == [LOAN, "L-0002"]
        with pytest.raises(WrongStateError, match="has applied already"):
            branch.execute(pre_loan("L-0002")[0])
    assert ledger.report("trial_balance", as_of="2024-04-20") == stored_balance
    with pytest.raises(LoanNotFoundError):
        ledger.loan("L-0002", as_of="2024-04-20")
    with pytest.raises(WrongStateError, match="discarded"):
        branch.loan(LOAN, as_of="2024-04-20")


def test_a_branch_without_changes_reports_what_the_ledger_reports(ledger: LoanLedger) -> None:
    _book(ledger)
    ledger.close_day("2024-04-20")
    with ledger.what_if() as branch:
        for name in ("loan_ledger", "five_category", "aging", "notices", "trial_balance"):
            assert branch.report(name, as_of="2024-04-20") == ledger.report(
                name, as_of="2024-04-20"
            )


# --- explain -----------------------------------------------------------------------------------


def test_explain_penalty_shows_each_installments_windows_and_sums_exactly_to_the_figure(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    result = ledger.explain(LOAN, "penalty_outstanding", as_of="2024-04-20")
    assert (result["value"], result["rule_set"]) == ("5.56", "CN-2023")
    second, third = result["parts"]
    assert (second["installment"], second["amount"], second["paid"]) == (2, "4.27", "1.03")
    assert second["windows"] == [
        {
            "from": "2024-03-16",
            "to": "2024-03-19",
            "days": 4,
            "base": "1032.80",
            "daily_rate": "0.0002500000",
            "accrued_exact": "1.032800",
        },
        {
            "from": "2024-03-20",
            "to": "2024-04-20",
            "days": 32,
            "base": "533.83",
            "daily_rate": "0.0002500000",
            "accrued_exact": "4.270640",
        },
    ]
    assert second["settled_by_rounding_exact"] == "0.002800"
    assert (third["installment"], third["amount"]) == (3, "1.29")
    assert [fact["type"] for fact in result["facts"]] == [
        "LoanApproved",
        "LoanDisbursed",
        "RepaymentReceived",
        "RepaymentReceived",
    ]
    archive_links = {fact["version"]: fact["hash"] for fact in ledger.archive(LOAN)["facts"]}
    assert all(fact["chain_link"] == archive_links[fact["version"]] for fact in result["facts"])


def test_explain_classification_lists_each_candidate_grade_and_the_one_that_decides(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    ledger.execute(
        {
            "command": "downgrade",
            "loan_id": LOAN,
            "on": "2024-04-01",
            "classification": "doubtful",
            "reason": "borrower's plant closed",
            "approver": "risk-1",
        }
    )
    result = ledger.explain(LOAN, "classification", as_of="2024-04-20")
    assert result["value"] == "doubtful"
    assert [(part["part"], part["grade"], part["decides"]) for part in result["parts"]] == [
        ("days past due floor", "special_mention", False),
        ("manual downgrade", "doubtful", True),
    ]


def test_explain_days_past_due_and_next_due_amount_name_the_installments_they_come_from(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    days = ledger.explain(LOAN, "days_past_due", as_of="2024-04-20")
    assert days["value"] == 36
    assert days["parts"] == [
        {
            "part": "installment 2",
            "installment": 2,
            "due_date": "2024-03-15",
            "unpaid": "533.83",
            "days": 36,
        }
    ]
    due = ledger.explain(LOAN, "next_due_amount", as_of="2024-04-20")
    assert due["value"] == "1032.80"
    assert [part["amount"] for part in due["parts"]] == ["987.47", "45.33"]


def test_explain_refuses_a_field_the_loan_view_does_not_explain(ledger: LoanLedger) -> None:
    _book(ledger)
    with pytest.raises(DomainError, match="explain: unknown field 'loan_id'"):
        ledger.explain(LOAN, "loan_id", as_of="2024-04-20")


def test_the_archive_shows_each_installment_against_what_was_paid_of_it(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    archive = ledger.archive(LOAN)
    assert archive["installments"] == ledger.installments(LOAN, as_of="2024-03-20")
    assert [row["status"] for row in archive["installments"][:3]] == ["paid", "overdue", "due"]
    html = ledger.archive_html(LOAN)
    assert "Installments: schedule against payments" in html
    assert '<td class="num">977.66 / 443.83</td>' in html
