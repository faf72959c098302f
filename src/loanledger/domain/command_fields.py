"""The field types of journal commands: strict ISO dates in the ledger's range, positive
amounts within the minor-unit places of some currency, rates as fractions, JSON booleans and
whole numbers. Loan commands (`commands`) and book commands (`book_commands`) share them.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    PlainSerializer,
)

from loanledger.domain.errors import (
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
    InvalidRateError,
)
from loanledger.domain.money import CURRENCIES, parse_decimal

EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2199, 12, 31)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _strict_date(value: object) -> date:
    if isinstance(value, date):
        parsed = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            parsed = date.fromisoformat(value)
        except ValueError as error:
            raise InvalidDateError(f"{value!r} is not a calendar date") from error
    else:
        raise InvalidDateError(f"must be an ISO date 'YYYY-MM-DD', got {value!r}")
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise InvalidDateError(
            f"{parsed.isoformat()} is outside "
            f"{EARLIEST_DATE.isoformat()}..{LATEST_DATE.isoformat()}"
        )
    return parsed


MAX_AMOUNT_PLACES = max(unit.minor_unit for unit in CURRENCIES.values())
"""No currency the ledger knows has more minor-unit places; the loan's own currency is checked
again when the command meets the loan (JPY allows none)."""


def _amount(value: object) -> Decimal:
    parsed = parse_decimal(value, "amount", error=InvalidAmountError)
    if parsed <= 0:
        raise InvalidAmountError(f"amount must be greater than zero, got {value}")
    exponent = parsed.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -MAX_AMOUNT_PLACES:
        raise InvalidAmountError(f"amount {value} has more than {MAX_AMOUNT_PLACES} decimal places")
    return parsed


def _rate(value: object) -> Decimal:
    parsed = parse_decimal(value, "annual_rate", error=InvalidRateError)
    if not Decimal(0) <= parsed <= Decimal(1):
        raise InvalidRateError(
            f"annual_rate must be between 0 and 1 (a fraction, 0.049 for 4.9%), got {value}"
        )
    return parsed


def _strict_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidCommandError(f"must be true or false, got {value!r}")
    return value


def _strict_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCommandError(f"must be a whole number, got {value!r}")
    return value


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


IsoDate = Annotated[date, BeforeValidator(_strict_date)]
Amount = Annotated[Decimal, BeforeValidator(_amount), PlainSerializer(_decimal_text)]
Rate = Annotated[Decimal, BeforeValidator(_rate), PlainSerializer(_decimal_text)]
Flag = Annotated[bool, BeforeValidator(_strict_bool)]
WholeNumber = Annotated[int, BeforeValidator(_strict_int)]
RepaymentMethodName = Literal["annuity", "equal_principal", "interest_only", "bullet"]
