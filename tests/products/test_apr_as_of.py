"""The product fields of a loan are as of the date asked, like every other field of the view: no
APR and no pinned version before the approval's date, the APR of the approved terms from then,
and the APR of the actual cash flows once the first disbursement's date is reached. The read
model's rows (`loan_ledger`) give the same as a replay whichever order the facts were recorded in.

Found by the read-model property (`tests/property/test_read_models.py`): before, the view used
every fact recorded (a disbursement still weeks ahead set the APR of an application being
investigated), and the read model kept whatever the loan's facts were when a segment was built.
"""

from __future__ import annotations

import pytest

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan

# 100.00 for one month at 1.5 %. Before money moves, the contract starts on the approval date
# 2024-01-10: one installment of 100.13 on 2024-02-10, an APR of 12 x 0.13 % = 0.0156. From the
# disbursement on 2024-01-30 the cash flows are the schedule's: 100.12 on 2024-02-28 (29 days of
# interest, 0.12), 0.0144.
EXPECTED = {
    "2024-01-05": ("investigated", None, None),
    "2024-01-09": ("investigated", None, None),
    "2024-01-10": ("approved", 0, "0.0156"),
    "2024-01-29": ("approved", 0, "0.0156"),
    "2024-01-30": ("active", 0, "0.0144"),
    "2024-02-05": ("active", 0, "0.0144"),
}


def _book(disbursement_recorded_first: bool) -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    commands = pre_loan("L-1", amount="100.00", term_months=1, annual_rate="0.015")
    for command in commands:
        ledger.execute(command)
    # A query between the approval and the disbursement makes the read model build its rows
    # while the loan has no disbursement yet.
    if not disbursement_recorded_first:
        ledger.report("loan_ledger", as_of="2024-01-15")
    ledger.execute(disburse("L-1", "2024-01-30", "100.00"))
    return ledger


@pytest.mark.parametrize("queried_before_disbursement", [False, True])
def test_the_view_and_the_loan_ledger_show_product_fields_as_of_the_date(
    queried_before_disbursement: bool,
) -> None:
    ledger = _book(not queried_before_disbursement)
    for day, (status, version, apr) in EXPECTED.items():
        view = ledger.loan("L-1", as_of=day)
        (row,) = [r for r in ledger.report("loan_ledger", as_of=day) if r["loan_id"] == "L-1"]
        assert (view["status"], view["product_version"], view["apr"]) == (status, version, apr), day
        assert (row["product_version"], row["apr"]) == (version, apr), day
        assert view["product"] == row["product"] == "default"
