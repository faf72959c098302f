"""Repayment schedules (还款计划) and their re-amortisation, by the rules of DESIGN §7 (CN-2023).

The rules, and why they are what they are:

* Installments fall monthly on the repayment day. Installment k (1-based) is due on the repayment
  day k months after the disbursement month, so the first due date is the repayment day in the
  month after the disbursement month (see `loanledger.domain.calendar`).
* A first period of exactly one month (the first due date is `add_months(disbursed_on, 1)`) is
  regular; any other first period is irregular. A regular period charges
  outstanding × annual_rate / 12; an irregular first period charges outstanding × days ×
  annual_rate / 360, the days counted by the day-count convention (ACT/360 by default). Note the
  month-end case: a loan disbursed on 31 January with repayment day 28 has a regular first period
  in a common year (one month after 31 January is 28 February) but an irregular one of 29 days in
  a leap year, because "exactly one month" is measured with the same clamped month arithmetic
  everywhere.
* Every amount is rounded once, to the minor unit (the fen, 分), with the named rounding
  (ROUND_HALF_UP by default). All arithmetic before that rounding is exact (rationals built from
  the exact Decimal inputs), so a figure never depends on a decimal context's precision.
* Interest is rounded per period: interest_k = round(outstanding before k × periodic rate).
* The last installment takes whatever principal remains, so principal sums exactly to the amount
  and the last row's principal_remaining is 0.00. No row ever takes more principal than is
  outstanding: if rounding up of a level amount would exhaust the principal before the last row
  (only possible for tiny principals over long terms), the later rows carry 0.00, so that the
  number of installments and the maturity date stay those of the contract.

Methods (`RepaymentMethod`):

* `annuity` 等额本息: a level payment P = round(A × r / (1 − (1 + r)^−n)), r = annual / 12
  (P = round(A / n) at a zero rate); principal_k = P − interest_k. An irregular first installment
  takes the regular principal portion P − round(A × r) plus its irregular interest, so it differs
  from the rest.
* `equal_principal` 等额本金: principal_k = round(A / n) for k < n; interest on the outstanding.
* `interest_only` 先息后本: interest each period, all principal in the last installment.
* `bullet` 一次性还本付息: one installment at maturity (the date installment n would have), with
  interest = A × annual_rate × term_months / 12, as DESIGN §7 prescribes for origination.
"""

from loanledger.domain.schedule.build import (
    accrued_interest,
    annuity_payment,
    build_schedule,
    contract_amounts,
    is_regular_period,
)
from loanledger.domain.schedule.reamortise import (
    reamortise,
    reamortise_after_prepayment,
    reamortise_after_rate_change,
    reamortise_after_restructure,
    shorten_term,
)
from loanledger.domain.schedule.rows import (
    MAX_TERM_MONTHS,
    MIN_TERM_MONTHS,
    Installment,
    Keep,
    RepaymentMethod,
    parse_repayment_method,
)

__all__ = [
    "MAX_TERM_MONTHS",
    "MIN_TERM_MONTHS",
    "Installment",
    "Keep",
    "RepaymentMethod",
    "accrued_interest",
    "annuity_payment",
    "build_schedule",
    "contract_amounts",
    "is_regular_period",
    "parse_repayment_method",
    "reamortise",
    "reamortise_after_prepayment",
    "reamortise_after_rate_change",
    "reamortise_after_restructure",
    "shorten_term",
]
