"""The ledger's clock and how it reads the dates callers give it (business dates and `known_at`
moments)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from loanledger.domain.errors import InvalidDateError

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The recorded time of a new fact: now, in UTC."""
    return datetime.now(UTC)


def parse_as_of(value: date | str, *, name: str = "as_of") -> date:
    """`as_of` (or another business date, `name`) as a date: a `datetime.date` or an ISO
    `YYYY-MM-DD` string."""
    if isinstance(value, datetime):
        raise InvalidDateError(
            f"{name} must be a date (the end of that business day), not a datetime"
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidDateError(f"{name} must be an ISO date 'YYYY-MM-DD', got {value!r}")


def parse_known_at(value: datetime | str | None) -> datetime | None:
    """`known_at` as an aware datetime (UTC), from a datetime or an ISO 8601 string with offset."""
    if value is None:
        return None
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidDateError(f"known_at must be an ISO 8601 datetime, got {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidDateError(f"known_at must be timezone-aware, got {value!r}")
    return parsed.astimezone(UTC)
