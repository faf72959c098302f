"""A projection that cannot apply an event stops there, says why, and serves what it has.

When a projection's rows for an event cannot be written (a read-model row the database
refuses, a bug in the projection, an event that no longer decodes), the engine does not fail
every catch-up, and so every query and close of day, on every loan. It projects the events
before that one, stops that projection at it and remembers a `StuckEvent`: the projection, the
event's position in the log, the loan id and version, and the error. The other projections go
on. Every catch-up tries the stuck event once more, so fixing the code or the data and catching
up again (`loanledger project`, any query) is the whole recovery; `rebuild()` starts over.

While a projection is stuck, each catch-up warns with `StaleReadModelWarning`, and
`ProjectionEngine.status()` (`LoanLedger.projection_status()`, `loanledger project --status`)
shows every projection's position, lag and stuck event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class StaleReadModelWarning(UserWarning):
    """A read model is behind the events because a projection is stuck at an event: what it
    answers is true as of its position, not as of the latest event."""


@dataclass(frozen=True)
class StuckEvent:
    """Where a projection stopped, and why."""

    projection: str
    position: int
    """The position in the notification log of the event the projection could not apply."""
    loan_id: str | None
    """The journal loan id of that event (None if the event itself could not be decoded)."""
    originator_id: str
    version: int
    """The event's 1-based version within its loan."""
    error: str

    def __str__(self) -> str:
        loan = repr(self.loan_id) if self.loan_id is not None else f"stream {self.originator_id}"
        return (
            f"projection {self.projection} is stuck at event {self.position} "
            f"(loan {loan} version {self.version}): {self.error}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "loan_id": self.loan_id,
            "originator_id": self.originator_id,
            "version": self.version,
            "error": self.error,
        }


def describe(error: BaseException) -> str:
    """An error as one line: its type and first line of text (bounded)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:500]
