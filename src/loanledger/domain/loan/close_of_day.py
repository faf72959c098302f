"""Close of day for one loan: the notices (dunning 书面催收通知) and classification changes the
post-loan rules (`domain.postloan`) say a business day owes it, recorded as facts.
"""

from __future__ import annotations

from datetime import date, datetime

from loanledger.domain.event import DomainEvent
from loanledger.domain.loan.aggregate import LoanCore
from loanledger.domain.loan_events import (
    ClassificationChanged,
    LegalRecoveryOpened,
    NoticeIssued,
)
from loanledger.domain.postloan import (
    Action,
    actions_on,
    assess,
    next_action_after,
    post_loan_state,
)
from loanledger.domain.rules import CN_2023, RuleSet

SERVICING_EVENTS: dict[str, type[DomainEvent]] = {
    "NoticeIssued": NoticeIssued,
    "LegalRecoveryOpened": LegalRecoveryOpened,
    "ClassificationChanged": ClassificationChanged,
}


class CloseOfDay(LoanCore):
    """Close of day for one loan: the notices and grade changes a day owes it."""

    def close_day(
        self, day: date, recorded_at: datetime, rules: RuleSet = CN_2023, *, contagion: bool = False
    ) -> tuple[list[DomainEvent], date | None]:
        """Record the notices and grade changes `day` owes this loan; return them and the next
        date close of day needs to look at it. Running it twice for a day records nothing new."""
        position = self.position(day, rules)
        state = post_loan_state(self, day)
        risk = assess(state, position, rules, contagion=contagion)
        events: list[DomainEvent] = []
        for action in actions_on(self.loan_id, day, position, state, risk, rules):
            events.append(self._record_action(action, day, recorded_at))
        next_on = next_action_after(day, position, risk, rules)
        # Facts dated after `day` (a disbursement recorded ahead of its date, say) change what
        # later days owe, so the loan must be looked at again by then at the latest.
        later = [event.effective_date for event in self.history if event.effective_date > day]
        if later:
            next_on = min(later) if next_on is None else min(next_on, min(later))
        return events, next_on

    def _record_action(self, action: Action, day: date, recorded_at: datetime) -> DomainEvent:
        event_class = SERVICING_EVENTS[action.kind]
        return self.trigger(
            event_class, recorded_at, loan_id=self.loan_id, effective_date=day, **action.fields
        )
