"""Derived state of a disbursed loan: dues, allocation, penalty and days past due (DESIGN §7).

Everything here is a pure function of the money facts (disbursements and repayments with their
effective dates), the approved terms, the business date `as_of` and a rule set. Nothing is stored:
the same facts always give the same figures, which is what makes replay equal live and makes a
fact recorded late give the same balances as one recorded on time.

The walk is event-driven, not day by day. Between two changes the overdue balance of an
installment is constant, so its penalty for a stretch of days is balance × daily rate × days,
accrued lazily just before the balance changes and at the end of `as_of`.

Conventions, each from the Contract:

* Penalty 罚息 for calendar day t after a due date is (overdue principal + unpaid overdue interest,
  复利) at the end of day t × annual_rate × 1.5 / 360. End-of-day balances mean the first overdue
  day counts and the repayment day does not (算头不算尾): a payment on day t meets the penalty
  accrued through day t−1. Penalty is accrued exactly (as a rational) per installment; what is
  owed is that accrual rounded HALF_UP to the fen, and paying that amount settles it.
* A repayment is allocated oldest installment first; within one, penalty → interest → principal
  (Civil Code art. 561). A remainder is held as overpayment and applied (interest, then principal)
  to installments as they fall due, unless the repayment asks to prepay.
* A prepayment (提前还款) takes the remainder together with the overpayment the loan already
  holds. It settles first the interest the principal earned from the start of the current period
  to the prepayment date (carried into the next installment's interest, and paid now), then
  reduces principal; the remaining installments are re-amortised over the same number of
  installments (lower installments) or, asked to keep the installment, over fewer. An amount that
  covers the payoff (principal plus that interest) pays the loan off that day and only the rest
  is held; otherwise nothing is held (see `prepayment.py`).
* A refund pays held overpayment back to the borrower.
* A further tranche of disbursement re-amortises the remaining installments the same way, with
  the tranche added to the principal.
* Days past due on D = D − the earliest due date whose principal or interest is unpaid at the end
  of D (0 on the due date itself); penalty alone does not make a loan past due.

Walks are resumed, not repeated. A loan is derived again and again on later dates (close of day,
each repayment, month-end reports) with the same facts plus perhaps a few new ones, so the walk at
the end of an earlier date is remembered (`Checkpoints`) and a later derivation continues it when
the facts effective by that date are exactly the ones it walked. A backdated fact (or a fact
known later removed, as in a `known_at` query) changes that prefix, so the remembered walk is not
used and the derivation starts further back or from the beginning. Continuing is exact, not an
approximation: between two changes a balance is constant and penalty is an exact rational, so
accruing a stretch of days in two steps gives the same figure as in one.
"""

from loanledger.domain.servicing.checkpoints import CHECKPOINTS, Checkpoints
from loanledger.domain.servicing.derive import derive_position, penalty_windows
from loanledger.domain.servicing.figures import (
    ONE_DAY,
    ZERO,
    Allocation,
    InstallmentDue,
    MoneyFact,
    PenaltyWindow,
    Position,
    Terms,
)
from loanledger.domain.servicing.walk import Walk

__all__ = [
    "CHECKPOINTS",
    "ONE_DAY",
    "ZERO",
    "Allocation",
    "Checkpoints",
    "InstallmentDue",
    "MoneyFact",
    "PenaltyWindow",
    "Position",
    "Terms",
    "Walk",
    "derive_position",
    "penalty_windows",
]
