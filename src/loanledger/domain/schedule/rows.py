"""The schedule's vocabulary: term limits, repayment methods, what a prepayment keeps, one
installment row, and the checks every schedule input goes through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from loanledger.domain.errors import (
    InvalidAmountError,
    InvalidDateError,
    InvalidRateError,
    InvalidTermError,
    UnknownRepaymentMethodError,
)
from loanledger.domain.money import (
    Money,
)
from loanledger.domain.rates import AnnualRate, DayCount

MIN_TERM_MONTHS = 1
MAX_TERM_MONTHS = 600
"""The longest term accepted: 50 years, beyond any mortgage; a limit keeps schedules bounded."""


class RepaymentMethod(StrEnum):
    """How principal and interest are spread over the installments (DESIGN §6 journal values)."""

    ANNUITY = "annuity"  # 等额本息: level installments
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金: level principal, falling installments
    INTEREST_ONLY = "interest_only"  # 先息后本: interest monthly, principal at maturity
    BULLET = "bullet"  # 一次性还本付息: principal and interest in one installment at maturity


def parse_repayment_method(value: object) -> RepaymentMethod:
    """Return the RepaymentMethod spelt exactly as in the journal; refuse anything else.

    Spelling variants ("Annuity", "equal-principal") are refused rather than guessed, so that a
    journal spells each method one way.
    """
    if isinstance(value, RepaymentMethod):
        return value
    if isinstance(value, str):
        for method in RepaymentMethod:
            if method.value == value:
                return method
    known = ", ".join(method.value for method in RepaymentMethod)
    raise UnknownRepaymentMethodError(f"repayment_method must be one of {known}, got {value!r}")


class Keep(StrEnum):
    """What a prepayment keeps unchanged when the remaining schedule is re-amortised."""

    TERM = "term"  # keep the number of installments; the installment falls (DESIGN §7 default)
    INSTALLMENT = "installment"  # keep the installment; the term shortens


@dataclass(frozen=True, slots=True)
class Installment:
    """One row of a schedule: what falls due on `due_date` and what principal remains after it.

    The invariants are checked on construction: the four amounts share a currency, none is
    negative, and installment == principal + interest exactly.
    """

    number: int
    due_date: date
    principal: Money
    interest: Money
    installment: Money
    principal_remaining: Money

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            raise InvalidTermError(
                f"installment number must be an int of 1 or more, got {self.number!r}"
            )
        if not isinstance(self.due_date, date) or hasattr(self.due_date, "hour"):
            raise InvalidDateError(f"due_date must be a datetime.date, got {self.due_date!r}")
        amounts = (self.principal, self.interest, self.installment, self.principal_remaining)
        if not all(isinstance(amount, Money) for amount in amounts):
            raise InvalidAmountError("installment amounts must be Money")
        if any(amount.is_negative for amount in amounts):
            raise InvalidAmountError(f"installment {self.number} has a negative amount")
        if self.principal + self.interest != self.installment:
            raise InvalidAmountError(
                f"installment {self.number}: installment {self.installment} is not principal "
                f"{self.principal} plus interest {self.interest}"
            )

    def as_row(self) -> dict[str, str | int]:
        """The row as JSON-ready values: amounts as strings with exactly the minor-unit places."""
        return {
            "number": self.number,
            "due_date": self.due_date.isoformat(),
            "principal": str(self.principal),
            "interest": str(self.interest),
            "installment": str(self.installment),
            "principal_remaining": str(self.principal_remaining),
        }


# -- validation -----------------------------------------------------------------------------------


def validate_principal(principal: object, what: str = "principal") -> Money:
    if not isinstance(principal, Money):
        raise InvalidAmountError(f"{what} must be Money, got {type(principal).__name__}")
    if not principal.is_positive:
        raise InvalidAmountError(f"{what} must be greater than zero, got {principal}")
    return principal


def validate_term(term: object, what: str = "term_months") -> int:
    if isinstance(term, bool) or not isinstance(term, int):
        raise InvalidTermError(f"{what} must be an int, got {type(term).__name__}")
    if not MIN_TERM_MONTHS <= term <= MAX_TERM_MONTHS:
        raise InvalidTermError(
            f"{what} must be between {MIN_TERM_MONTHS} and {MAX_TERM_MONTHS}, got {term}"
        )
    return term


def validate_rate(annual_rate: object) -> AnnualRate:
    if not isinstance(annual_rate, AnnualRate):
        raise InvalidRateError(
            f"annual_rate must be an AnnualRate, got {type(annual_rate).__name__}; "
            "use AnnualRate.of('0.049')"
        )
    return annual_rate


def validate_day_count(day_count: object) -> DayCount:
    if isinstance(day_count, DayCount):
        return day_count
    known = ", ".join(convention.value for convention in DayCount)
    raise InvalidTermError(f"day_count must be one of {known}, got {day_count!r}")


def validate_date(value: object, what: str) -> date:
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise InvalidDateError(f"{what} must be a datetime.date, got {type(value).__name__}")
    return value


# -- the arithmetic -------------------------------------------------------------------------------
