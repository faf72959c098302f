"""On- and off-balance-sheet figures of one loan's view (表内 / 表外).

A written-off loan (核销) has left the balance sheet: its principal, interest and penalty went
to `write_off_expense` with a memo in `offbs_written_off`, yet the borrower still owes them and
penalty keeps accruing, so the view's owed figures go on growing. These fields say where the
figures stand, so that a growing penalty on a written-off loan reads as an off-balance claim and
not as an asset. They are added to the view; every existing field keeps its meaning.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loanledger.reports.amounts import amount_text

BALANCE_SHEET_FIELDS = (
    "balance_sheet",
    "on_balance_outstanding",
    "off_balance_outstanding",
)


def balance_sheet_figures(view: dict[str, Any]) -> dict[str, Any]:
    """`balance_sheet` is `off` once the loan is written off, else `on`; the amount owed
    (principal outstanding + overdue interest + penalty outstanding) is reported as
    `on_balance_outstanding` while the loan is on the books and as `off_balance_outstanding`
    after its write-off, the other being 0.00. Interest a loan on the books owes beyond 90 days
    past due is tracked off balance sheet by the general ledger (`offbs_interest`), not here."""
    owed = (
        Decimal(view["principal_outstanding"])
        + Decimal(view["overdue_interest"])
        + Decimal(view["penalty_outstanding"])
    )
    off = view["status"] == "written_off"
    zero = Decimal(0)
    return {
        "balance_sheet": "off" if off else "on",
        "on_balance_outstanding": amount_text(zero if off else owed),
        "off_balance_outstanding": amount_text(owed if off else zero),
    }
