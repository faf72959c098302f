"""Merge-time alias: the loan views moved to `loanledger.reports.views` (issue 15).

Only `application.py`, `whatif.py` and `off_balance.py` (moved into the application package in
another branch) still import this path; delete this module once those import lines read
`loanledger.reports.views`.
"""

from loanledger.reports.amounts import amount_text
from loanledger.reports.views import loan_row, loan_view, schedule_rows

__all__ = ["amount_text", "loan_row", "loan_view", "schedule_rows"]
