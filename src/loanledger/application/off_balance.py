"""On- and off-balance-sheet figures of one loan's view (表内 / 表外).

A written-off loan (核销) has left the balance sheet: its principal, interest and penalty went
to `write_off_expense` with a memo in `offbs_written_off`, yet the borrower still owes them and
penalty keeps accruing, so the view's owed figures go on growing. These fields say where the
figures stand, so that a growing penalty on a written-off loan reads as an off-balance claim and
not as an asset. They are added to the view; every existing field keeps its meaning.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from loanledger.domain.books import FEE_RECEIVABLE, Posting
from loanledger.reports.amounts import amount_text

BALANCE_SHEET_FIELDS = (
    "balance_sheet",
    "on_balance_outstanding",
    "off_balance_outstanding",
)


def balance_sheet_figures(
    view: dict[str, Any], fee_receivable: Decimal = Decimal(0)
) -> dict[str, Any]:
    """`balance_sheet` is `off` once the loan is written off, else `on`; the amount owed
    (principal outstanding + overdue interest + penalty outstanding) is reported as
    `on_balance_outstanding` while the loan is on the books and as `off_balance_outstanding`
    after its write-off, the other being 0.00. Interest a loan on the books owes beyond 90 days
    past due is tracked off balance sheet by the general ledger (`offbs_interest`), not here.

    Unpaid fees (`fees_outstanding`) count where the general ledger keeps them: the loan's
    `fee_receivable` balance (`fee_receivable`, from its postings) is on balance; the rest —
    late fees charged past the non-accrual threshold, held in the memo pair until paid — is off
    balance; after a write-off every unpaid fee is off balance."""
    owed = (
        Decimal(view["principal_outstanding"])
        + Decimal(view["overdue_interest"])
        + Decimal(view["penalty_outstanding"])
    )
    fees = Decimal(view.get("fees_outstanding", "0.00"))
    off = view["status"] == "written_off"
    zero = Decimal(0)
    return {
        "balance_sheet": "off" if off else "on",
        "on_balance_outstanding": amount_text(zero if off else owed + fee_receivable),
        "off_balance_outstanding": amount_text(owed + fees if off else fees - fee_receivable),
    }


def fee_receivable_of(postings: Iterable[Posting]) -> Decimal:
    """The balance of `fee_receivable` in one loan's postings (debits less credits)."""
    return sum(
        (amount for posting in postings for account, amount in posting.lines
         if account == FEE_RECEIVABLE),
        start=Decimal(0),
    )  # fmt: skip
