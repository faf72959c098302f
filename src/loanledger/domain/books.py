"""Posting rules: the general-ledger entries a loan's facts produce (DESIGN §9).

The money walk in `domain.servicing` calls these hooks as it replays a loan, so the entries follow
exactly the figures the loan view reports. Every entry balances (debits = credits) and the
per-loan subledger ties to the control accounts by construction: the balance of
`loans_principal` is the loan's principal outstanding (until written off), `interest_receivable`
its recognised unpaid interest, `overpayments` the money it holds, and so on.

Conventions:

* Interest is recognised when it falls due; at each month end the interest earned but not yet
  due is accrued and reversed the next day (an auto-reversing accrual), so month-end books show
  income earned to date without a rounding drift into the installment.
* Penalty is recognised at each month end and just before it is paid, up to the amount owed
  (the exact accrual rounded HALF_UP); a later rounding difference is posted as an adjustment.
* Non-accrual (表外): interest and penalty recognised while days past due exceed the rule set's
  threshold go to the memo pair `offbs_interest` / `offbs_contra`, not to income; when paid they
  are recognised as income and the memo is reversed. Income recognised before is not reversed.
* Write-off moves principal and on-balance receivables to `write_off_expense`, with a memo in
  `offbs_written_off`; later recoveries reduce the expense and reverse the memo.
* Fees: an origination fee spread over the schedule is charged in full at the disbursement
  (`fee_receivable` / `fee_income`, like a withheld one) and met by the installments as they are
  paid; a late fee is charged on the day it arises, on balance sheet — or, while days past due
  exceed the non-accrual threshold, to the memo pair like interest, recognised when paid. Fees
  are kept per loan, not per installment (a re-amortisation moves shares between installments;
  the receivable is the same).
* Off-balance-sheet memo accounts always post against `offbs_contra`, so the trial balance
  balances with them included and each memo pair nets to zero across the two accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

LOANS_PRINCIPAL = "loans_principal"
INTEREST_RECEIVABLE = "interest_receivable"
PENALTY_RECEIVABLE = "penalty_receivable"
CASH_CLEARING = "cash_clearing"
INTEREST_INCOME = "interest_income"
PENALTY_INCOME = "penalty_income"
OVERPAYMENTS = "overpayments"
LOAN_LOSS_ALLOWANCE = "loan_loss_allowance"
WRITE_OFF_EXPENSE = "write_off_expense"
IMPAIRMENT_EXPENSE = "impairment_expense"
OFFBS_INTEREST = "offbs_interest"
OFFBS_WRITTEN_OFF = "offbs_written_off"
OFFBS_COLLATERAL = "offbs_collateral"
OFFBS_CONTRA = "offbs_contra"
FEE_RECEIVABLE = "fee_receivable"
FEE_INCOME = "fee_income"

CHART = (
    LOANS_PRINCIPAL,
    INTEREST_RECEIVABLE,
    PENALTY_RECEIVABLE,
    CASH_CLEARING,
    INTEREST_INCOME,
    PENALTY_INCOME,
    OVERPAYMENTS,
    LOAN_LOSS_ALLOWANCE,
    WRITE_OFF_EXPENSE,
    IMPAIRMENT_EXPENSE,
    OFFBS_INTEREST,
    OFFBS_WRITTEN_OFF,
    OFFBS_COLLATERAL,
    OFFBS_CONTRA,
    FEE_RECEIVABLE,
    FEE_INCOME,
)
"""The default chart in report order (DESIGN §9, plus the memo contra account and the
impairment expense the allowance is charged to: `domain.provisions`; then the fee accounts
products brought: added last, so no account's row moves)."""

ZERO = Decimal(0)

_ACCOUNTS = {
    "interest": (INTEREST_RECEIVABLE, INTEREST_INCOME),
    "penalty": (PENALTY_RECEIVABLE, PENALTY_INCOME),
    "fee": (FEE_RECEIVABLE, FEE_INCOME),
}
"""Each charge's receivable and the income it is recognised as."""


@dataclass(frozen=True)
class Posting:
    """One balanced journal entry. Amounts are signed: positive debit, negative credit."""

    on: date
    kind: str
    reference: str
    lines: tuple[tuple[str, Decimal], ...]

    def __post_init__(self) -> None:
        total = sum((amount for _, amount in self.lines), start=ZERO)
        assert total == 0, f"unbalanced {self.kind} entry on {self.on}: {self.lines}"


@dataclass
class _Entry:
    on: date
    kind: str
    reference: str
    lines: list[tuple[str, Decimal]] = field(default_factory=list)

    def debit(self, account: str, amount: Decimal) -> None:
        if amount != 0:
            self.lines.append((account, amount))

    def credit(self, account: str, amount: Decimal) -> None:
        if amount != 0:
            self.lines.append((account, -amount))


@dataclass
class Buckets:
    """Where an installment's recognised but unpaid interest and penalty sit."""

    interest_recognised: Decimal = ZERO
    interest_on: Decimal = ZERO
    interest_off: Decimal = ZERO
    interest_written_off: Decimal = ZERO
    penalty_booked: Decimal = ZERO
    """Penalty recognised so far, paid or not (what `penalty_paid + owed` is compared with)."""
    penalty_on: Decimal = ZERO
    penalty_off: Decimal = ZERO
    penalty_written_off: Decimal = ZERO


class Books:
    """Collects one loan's postings during a money walk."""

    def __init__(self) -> None:
        self.postings: list[Posting] = []
        self.buckets: dict[int, Buckets] = {}
        self.written_off = False
        self.principal_written_off = ZERO
        self.fees = Buckets()
        """The loan's fees charged and unpaid: on balance sheet (`interest_on`), in the memo
        pair (`interest_off`) or written off (`interest_written_off`)."""

    def _post(self, entry: _Entry) -> None:
        if entry.lines:
            self.postings.append(Posting(entry.on, entry.kind, entry.reference, tuple(entry.lines)))

    def bucket(self, number: int) -> Buckets:
        return self.buckets.setdefault(number, Buckets())

    # --- recognition ---------------------------------------------------------------------------

    def disburse(self, on: date, amount: Decimal, reference: str) -> None:
        entry = _Entry(on, "disbursement", reference)
        entry.debit(LOANS_PRINCIPAL, amount)
        entry.credit(CASH_CLEARING, amount)
        self._post(entry)

    def collect_fee(self, on: date, kind: str, reference: str, amount: Decimal) -> None:
        """A fee charged and collected at once (an origination fee withheld from the proceeds):
        the receivable is raised as income and settled from the cash paid out."""
        charge = _Entry(on, kind, reference)
        charge.debit(FEE_RECEIVABLE, amount)
        charge.credit(FEE_INCOME, amount)
        self._post(charge)
        collected = _Entry(on, f"{kind}_collected", reference)
        collected.debit(CASH_CLEARING, amount)
        collected.credit(FEE_RECEIVABLE, amount)
        self._post(collected)

    def charge_fee(
        self, on: date, kind: str, reference: str, amount: Decimal, *, off: bool
    ) -> None:
        """A fee charged and not yet paid (an origination fee spread over the schedule, a late
        fee): a receivable and income, or while in non-accrual a memo recognised when paid."""
        if amount == 0:
            return
        entry = _Entry(on, kind, reference)
        if off or self.written_off:
            entry.debit(OFFBS_INTEREST, amount)
            entry.credit(OFFBS_CONTRA, amount)
            self.fees.interest_off += amount
        else:
            entry.debit(FEE_RECEIVABLE, amount)
            entry.credit(FEE_INCOME, amount)
            self.fees.interest_on += amount
        self._post(entry)

    def recognise_interest(self, on: date, number: int, total: Decimal, *, off: bool) -> None:
        """Recognise an installment's interest up to `total` (what is already recognised stays)."""
        bucket = self.bucket(number)
        amount = total - bucket.interest_recognised
        if amount == 0:
            return
        bucket.interest_recognised = total
        entry = _Entry(on, "interest_due", str(number))
        if off or self.written_off:
            entry.debit(OFFBS_INTEREST, amount)
            entry.credit(OFFBS_CONTRA, amount)
            bucket.interest_off += amount
        else:
            entry.debit(INTEREST_RECEIVABLE, amount)
            entry.credit(INTEREST_INCOME, amount)
            bucket.interest_on += amount
        self._post(entry)

    def recognise_penalty(self, on: date, number: int, total: Decimal, *, off: bool) -> None:
        """Recognise an installment's penalty so that what is booked equals `total`."""
        bucket = self.bucket(number)
        amount = total - bucket.penalty_booked
        if amount == 0:
            return
        bucket.penalty_booked = total
        entry = _Entry(on, "penalty_accrual", str(number))
        if amount < 0:
            # A rounding difference after a partial payment: take it back from where it sits.
            back = -amount
            from_on = min(back, bucket.penalty_on)
            bucket.penalty_on -= from_on
            entry.debit(PENALTY_INCOME, from_on)
            entry.credit(PENALTY_RECEIVABLE, from_on)
            rest = back - from_on
            bucket.penalty_off -= rest
            entry.debit(OFFBS_CONTRA, rest)
            entry.credit(OFFBS_INTEREST, rest)
        elif off or self.written_off:
            entry.debit(OFFBS_INTEREST, amount)
            entry.credit(OFFBS_CONTRA, amount)
            bucket.penalty_off += amount
        else:
            entry.debit(PENALTY_RECEIVABLE, amount)
            entry.credit(PENALTY_INCOME, amount)
            bucket.penalty_on += amount
        self._post(entry)

    def month_end_accrual(self, on: date, reverse_on: date, number: int, amount: Decimal) -> None:
        """Interest earned by the month end but not yet due, reversed the next day."""
        if amount == 0 or self.written_off:
            return
        accrual = _Entry(on, "interest_accrual", str(number))
        accrual.debit(INTEREST_RECEIVABLE, amount)
        accrual.credit(INTEREST_INCOME, amount)
        self._post(accrual)
        reversal = _Entry(reverse_on, "interest_accrual_reversal", str(number))
        reversal.debit(INTEREST_INCOME, amount)
        reversal.credit(INTEREST_RECEIVABLE, amount)
        self._post(reversal)

    # --- settlement ----------------------------------------------------------------------------

    def settle(
        self,
        on: date,
        kind: str,
        reference: str,
        source: str,
        amount: Decimal,
        parts: list[tuple[int, Decimal, Decimal, Decimal]],
        *,
        to_overpayment: Decimal = ZERO,
        from_overpayment: Decimal = ZERO,
        fee: Decimal = ZERO,
        fees_met: Decimal = ZERO,
    ) -> None:
        """Money from `source` (cash or held overpayment) meets installments' penalty, interest
        and principal (`parts`: number, penalty, interest, principal) and `fees_met` of the fees
        charged before; any rest is held. A prepayment also uses `from_overpayment` of what was
        held before, and pays a prepayment `fee` charged now."""
        entry = _Entry(on, kind, reference)
        entry.debit(source, amount)
        entry.debit(OVERPAYMENTS, from_overpayment)
        for number, penalty, interest, principal in parts:
            bucket = self.bucket(number)
            self._meet(entry, penalty, bucket, "penalty")
            self._meet(entry, interest, bucket, "interest")
            if principal:
                if self.written_off:
                    entry.credit(WRITE_OFF_EXPENSE, principal)
                    entry.debit(OFFBS_CONTRA, principal)
                    entry.credit(OFFBS_WRITTEN_OFF, principal)
                    self.principal_written_off -= principal
                else:
                    entry.credit(LOANS_PRINCIPAL, principal)
        if fees_met:
            self._meet(entry, fees_met, self.fees, "fee")
        if fee:
            # A prepayment fee: charged (receivable and income) and met by this money.
            charge = _Entry(on, "prepayment_fee", reference)
            charge.debit(FEE_RECEIVABLE, fee)
            charge.credit(FEE_INCOME, fee)
            self._post(charge)
            entry.credit(FEE_RECEIVABLE, fee)
        entry.credit(OVERPAYMENTS, to_overpayment)
        self._post(entry)

    def _meet(self, entry: _Entry, amount: Decimal, bucket: Buckets, what: str) -> None:
        receivable, income = _ACCOUNTS[what]
        # The loan's fees are kept in a bucket of their own, in its interest fields.
        kept = "interest" if what == "fee" else what
        on_name, off_name, wo_name = f"{kept}_on", f"{kept}_off", f"{kept}_written_off"
        rest = amount
        part = min(rest, getattr(bucket, on_name))
        setattr(bucket, on_name, getattr(bucket, on_name) - part)
        entry.credit(receivable, part)
        rest -= part
        part = min(rest, getattr(bucket, off_name))
        setattr(bucket, off_name, getattr(bucket, off_name) - part)
        entry.credit(income, part)  # non-accrual interest becomes income when paid
        entry.debit(OFFBS_CONTRA, part)
        entry.credit(OFFBS_INTEREST, part)
        rest -= part
        part = min(rest, getattr(bucket, wo_name))
        setattr(bucket, wo_name, getattr(bucket, wo_name) - part)
        entry.credit(WRITE_OFF_EXPENSE, part)  # a recovery of what was written off
        entry.debit(OFFBS_CONTRA, part)
        entry.credit(OFFBS_WRITTEN_OFF, part)
        rest -= part
        assert rest == 0, f"{what} paid beyond what was recognised: {rest}"

    def capitalise(
        self, on: date, numbers: list[int], principal_added: Decimal, *, fees: bool = False
    ) -> None:
        """A restructure turns recognised unpaid interest and penalty (and, with `fees`, the
        loan's unpaid fees) into principal."""
        entry = _Entry(on, "restructure", "")
        entry.debit(LOANS_PRINCIPAL, principal_added)
        moved = ZERO
        kept: list[tuple[Buckets, str, str]] = [
            (self.bucket(number), what, what)
            for number in numbers
            for what in ("interest", "penalty")
        ]
        if fees:
            kept.append((self.fees, "interest", "fee"))
        for bucket, what, account in kept:
            on_name, off_name = f"{what}_on", f"{what}_off"
            receivable, income = _ACCOUNTS[account]
            entry.credit(receivable, getattr(bucket, on_name))
            off = getattr(bucket, off_name)
            entry.credit(income, off)
            entry.debit(OFFBS_CONTRA, off)
            entry.credit(OFFBS_INTEREST, off)
            moved += getattr(bucket, on_name) + off
            setattr(bucket, on_name, ZERO)
            setattr(bucket, off_name, ZERO)
        assert moved == principal_added, f"capitalised {principal_added} but moved {moved}"
        self._post(entry)

    def write_off(self, on: date, principal: Decimal) -> None:
        """Principal and on-balance receivables to expense, with a memo of what is owed."""
        entry = _Entry(on, "write_off", "")
        total = principal
        entry.credit(LOANS_PRINCIPAL, principal)
        entry.credit(FEE_RECEIVABLE, self.fees.interest_on)
        total += self.fees.interest_on
        self.fees.interest_written_off += self.fees.interest_on
        self.fees.interest_on = ZERO
        for bucket in self.buckets.values():
            entry.credit(INTEREST_RECEIVABLE, bucket.interest_on)
            entry.credit(PENALTY_RECEIVABLE, bucket.penalty_on)
            total += bucket.interest_on + bucket.penalty_on
            bucket.interest_written_off += bucket.interest_on
            bucket.penalty_written_off += bucket.penalty_on
            bucket.interest_on = ZERO
            bucket.penalty_on = ZERO
        entry.debit(WRITE_OFF_EXPENSE, total)
        entry.debit(OFFBS_WRITTEN_OFF, total)
        entry.credit(OFFBS_CONTRA, total)
        self._post(entry)
        self.written_off = True
        self.principal_written_off = principal

    def refund(self, on: date, amount: Decimal, reference: str = "") -> None:
        """Held overpayment paid back (at close, or by a `refund` command)."""
        entry = _Entry(on, "refund", reference)
        entry.debit(OVERPAYMENTS, amount)
        entry.credit(CASH_CLEARING, amount)
        self._post(entry)

    def collateral(self, on: date, reference: str, change: Decimal) -> None:
        """Memo of collateral held: a pledge, a revaluation's change, or a release."""
        entry = _Entry(on, "collateral", reference)
        if change > 0:
            entry.debit(OFFBS_COLLATERAL, change)
            entry.credit(OFFBS_CONTRA, change)
        else:
            entry.debit(OFFBS_CONTRA, -change)
            entry.credit(OFFBS_COLLATERAL, -change)
        self._post(entry)
