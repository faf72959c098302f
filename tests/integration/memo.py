"""A tiny aggregate for testing the store contract without the loan rules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from loanledger.domain.aggregate import EventSourcedAggregate
from loanledger.domain.event import DomainEvent


class MemoOpened(DomainEvent):
    text: str

    def create_aggregate(self) -> Memo:
        return Memo(self.originator_id)


class MemoAmended(DomainEvent):
    text: str


class Memo(EventSourcedAggregate):
    def __init__(self, aggregate_id: UUID) -> None:
        super().__init__(aggregate_id)
        self.texts: list[str] = []

    def apply(self, event: Any) -> None:
        super().apply(event)
        assert isinstance(event, MemoOpened | MemoAmended)
        self.texts.append(event.text)

    @classmethod
    def open(cls, memo_id: UUID, loan_id: str, text: str, recorded_at: datetime) -> Memo:
        memo = cls(memo_id)
        memo.trigger(
            MemoOpened, recorded_at, loan_id=loan_id, effective_date=date(2024, 1, 1), text=text
        )
        return memo

    def amend(self, text: str, recorded_at: datetime, loan_id: str) -> None:
        self.trigger(
            MemoAmended, recorded_at, loan_id=loan_id, effective_date=date(2024, 1, 2), text=text
        )
