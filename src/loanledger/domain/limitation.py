"""The claim clocks a servicing team must not let run out: limitation (诉讼时效) and the
guarantee period (保证期间), and notices still awaiting the borrower's receipt.

- Limitation: three years (Civil Code art. 188) from the earliest unpaid due date, restarted by
  each interruption (art. 195): a claim filed with an arbitration commission or court, a partial
  payment, or the borrower's receipt of a demand. The warning `limitation_expiring` runs for the
  90 days up to and including the expiry date; the worklist has an item 90 days before and on it.
- Guarantee period: six months after the debt falls due (art. 692, when none is agreed). While
  anything is overdue, `guarantee_period_lapsing` warns for the 90 days up to its end (a claim
  against the guarantors must be made within it); the worklist has an item 90 days before and on
  the last day.
- A written notice (dunning, legal) unacknowledged more than 30 days after issue is a worklist
  item: without the receipt the demand may not have interrupted the limitation clock.

These warnings are about deadlines, not credit risk: they never move the IFRS 9 stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from loanledger.domain.calendar import add_months

LIMITATION_YEARS = 3
GUARANTEE_PERIOD_MONTHS = 6
CLOCK_WARNING_DAYS = 90
"""How long before a clock runs out its warning starts."""
RECEIPT_WAIT_DAYS = 30
"""A written notice unacknowledged longer than this is chased."""
AWAITING_RECEIPT = frozenset({"dunning", "legal"})

CLOCK_WARNINGS = ("limitation_expiring", "guarantee_period_lapsing")
"""Warnings that never flag a loan for IFRS 9 (they are deadlines, not credit risk)."""


def limitation_expiry(earliest_unpaid: date | None, interruptions: Iterable[date]) -> date | None:
    """Three years from the earliest unpaid due date or the latest interruption after it."""
    if earliest_unpaid is None:
        return None
    start = max([earliest_unpaid, *interruptions])
    return add_months(start, 12 * LIMITATION_YEARS)


def in_warning_window(as_of: date, expires_on: date | None) -> bool:
    return (
        expires_on is not None
        and expires_on - timedelta(days=CLOCK_WARNING_DAYS) <= as_of <= expires_on
    )


def window_boundaries(expires_on: date | None) -> tuple[date, ...]:
    """The dates a clock warning starts and stops (for the read model's segments)."""
    if expires_on is None:
        return ()
    return (expires_on - timedelta(days=CLOCK_WARNING_DAYS), expires_on + timedelta(days=1))


def clock_warnings(
    as_of: date, limitation: date | None, guarantee: date | None, *, overdue: bool
) -> set[str]:
    warnings = set()
    if in_warning_window(as_of, limitation):
        warnings.add("limitation_expiring")
    if overdue and in_warning_window(as_of, guarantee):
        warnings.add("guarantee_period_lapsing")
    return warnings


def clock_items(
    as_of: date, limitation: date | None, guarantee: date | None, *, overdue: bool
) -> list[tuple[str, str]]:
    """Worklist (item, detail) pairs on the day a warning window opens and on the last day."""
    items = []
    for item, expires_on, applies in (
        ("limitation", limitation, True),
        ("guarantee_period", guarantee, overdue),
    ):
        if expires_on is None or not applies:
            continue
        if as_of == expires_on - timedelta(days=CLOCK_WARNING_DAYS):
            items.append(
                (item, f"expires {expires_on.isoformat()}: {CLOCK_WARNING_DAYS} days left")
            )
        elif as_of == expires_on:
            items.append((item, f"expires {expires_on.isoformat()}: last day"))
    return items


def receipts_overdue(
    as_of: date, notices: Mapping[str, Any], acknowledged: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Written notices awaiting their receipt more than `RECEIPT_WAIT_DAYS` days."""
    items = []
    for notice_id, notice in notices.items():
        if notice.kind not in AWAITING_RECEIPT or notice_id in acknowledged:
            continue
        if (as_of - notice.effective_date).days > RECEIPT_WAIT_DAYS:
            issued = notice.effective_date.isoformat()
            items.append(("receipt_overdue", f"notice {notice_id} issued {issued}"))
    return items
