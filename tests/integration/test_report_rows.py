"""Summary reports read rows without notices and worklist; they equal the full rows' reports."""

from __future__ import annotations

from loanledger import LoanLedger
from loanledger.application import REPORTS, SUMMARY_REPORTS
from tests.journal import disburse, pre_loan, repay


def test_summary_reports_equal_their_builders_over_the_full_rows(ledger: LoanLedger) -> None:
    for loan_id, borrower in (("L-0001", "B-1"), ("L-0002", "B-2")):
        for command in pre_loan(loan_id, borrower_id=borrower):
            ledger.execute(command)
        ledger.execute(disburse(loan_id, "2024-01-15", "12000.00"))
    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))
    for day in ("2024-03-08", "2024-04-30"):
        ledger.close_day(day)
        full = list(ledger.loan_rows(day))
        assert any(row.notices for row in full) and any(row.worklist for row in full)
        for name in sorted(SUMMARY_REPORTS):
            assert ledger.report(name, as_of=day) == REPORTS[name](full)
