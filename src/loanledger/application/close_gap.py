"""Close of day without gaps: `close_day(D)` first closes every date since the last closed one.

Notices are owed on exact dates (a reminder seven days before a due date, dunning on DPD 1, 31,
...); a date never closed never issues them. So closing D after a gap closes each missed date
first, in order, exactly as `loanledger close-day --through D` does. The gap is bounded: more
than `MAX_CLOSE_DAY_GAP_DAYS` at once is refused (a typo in a year, most likely), naming the
last closed date, and nothing is closed. A date on or before the last closed one is closed on
its own (closing a date twice records nothing new).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from loanledger.domain.errors import LimitExceededError

if TYPE_CHECKING:
    from loanledger.application.close_of_day import CloseOfDay

MAX_CLOSE_DAY_GAP_DAYS = 366
"""The most dates one `close_day` call closes after the last closed date (a leap year)."""


def dates_to_close(on: date, last_closed: date | None) -> list[date]:
    """The dates `close_day(on)` closes, in order."""
    if last_closed is None or on <= last_closed + timedelta(days=1):
        return [on]
    gap = (on - last_closed).days
    if gap > MAX_CLOSE_DAY_GAP_DAYS:
        raise LimitExceededError(
            f"close_day {on.isoformat()} would close {gap} dates after the last closed date "
            f"{last_closed.isoformat()}; at most {MAX_CLOSE_DAY_GAP_DAYS} are closed at once "
            "(close the dates in between first)"
        )
    return [last_closed + timedelta(days=offset) for offset in range(1, gap + 1)]


def close_through(ledger: CloseOfDay, on: date, last_closed: date | None) -> dict[str, Any]:
    """Close every date `dates_to_close` lists; the counts are summed over them."""
    loans = events = 0
    days = dates_to_close(on, last_closed)
    for day in days:
        result = ledger.close_one_day(day)
        loans += int(result["loans_processed"])
        events += int(result["events_recorded"])
    return {
        "on": on.isoformat(),
        "loans_processed": loans,
        "events_recorded": events,
        "days_closed": len(days),
    }
