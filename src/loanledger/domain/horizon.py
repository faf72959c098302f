"""The future horizon: a fact dated far beyond the moment it is recorded is a typo, refused.

A repayment dated 2199-01-01 is never what a bank means to book. A fact's effective date may lie
ahead of the day it is recorded (a disbursement booked the day before it is paid out, a
simulation a year ahead), but not by more than the book's horizon: `future_horizon_days` after
the recording moment's calendar date in the book's time zone (default 366 days in
Asia/Shanghai, where a recording at 23:30 UTC is already the next day). The recording moment
comes from the application's clock; this module only compares dates, so the domain stays pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loanledger.domain.errors import InvalidDateError

DEFAULT_FUTURE_HORIZON_DAYS = 366
DEFAULT_TIME_ZONE = "Asia/Shanghai"
HORIZON_ENV = "LOANLEDGER_FUTURE_HORIZON_DAYS"
"""Environment variable: the horizon in days where the default does not suit (a test suite
whose clock is pinned to a date long before its journals, say)."""
TIME_ZONE_ENV = "LOANLEDGER_TIME_ZONE"
MAX_FUTURE_HORIZON_DAYS = 3660
"""The largest horizon a book may set (ten years): the check must stay a check."""


@dataclass(frozen=True)
class FutureHorizon:
    """How far ahead of its recording a fact may be dated, and in which time zone the
    recording moment's calendar date is read."""

    days: int = DEFAULT_FUTURE_HORIZON_DAYS
    time_zone: str = DEFAULT_TIME_ZONE

    def __post_init__(self) -> None:
        if not 0 <= self.days <= MAX_FUTURE_HORIZON_DAYS:
            raise InvalidDateError(
                f"future_horizon_days must be between 0 and {MAX_FUTURE_HORIZON_DAYS}, "
                f"got {self.days}"
            )
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise InvalidDateError(f"unknown time zone {self.time_zone!r}") from error

    def recording_date(self, recorded_at: datetime) -> date:
        return recorded_at.astimezone(ZoneInfo(self.time_zone)).date()

    def latest(self, recorded_at: datetime) -> date:
        """The latest effective date a fact recorded at `recorded_at` may carry."""
        return self.recording_date(recorded_at) + timedelta(days=self.days)

    def require_within(self, on: date, recorded_at: datetime, what: str = "fact") -> None:
        """Refuse `on` if it lies more than the horizon after the recording date."""
        latest = self.latest(recorded_at)
        if on > latest:
            recorded_on = self.recording_date(recorded_at)
            raise InvalidDateError(
                f"{what} dated {on.isoformat()} is more than {self.days} days after the date "
                f"it is recorded on, {recorded_on.isoformat()} ({self.time_zone}); the latest "
                f"date the book's future horizon accepts is {latest.isoformat()}"
            )


def horizon_from_env(env: Mapping[str, str]) -> FutureHorizon:
    """The horizon `LOANLEDGER_FUTURE_HORIZON_DAYS` / `LOANLEDGER_TIME_ZONE` set, else the
    default (366 days, Asia/Shanghai). The caller passes the environment: this module reads
    nothing itself."""
    days_text = env.get(HORIZON_ENV, "").strip()
    try:
        days = int(days_text) if days_text else DEFAULT_FUTURE_HORIZON_DAYS
    except ValueError as error:
        raise InvalidDateError(f"{HORIZON_ENV} must be a whole number of days") from error
    return FutureHorizon(days, env.get(TIME_ZONE_ENV, "").strip() or DEFAULT_TIME_ZONE)
