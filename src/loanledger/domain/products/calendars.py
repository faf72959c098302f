"""Holiday calendars (节假日日历, issue 19 item 6): which days are business days, and where a due
date on another day moves.

A calendar is a book stream of its own (`calendar:ID`), like a product: each `define_calendar`
call records the next version (`CalendarDefined`), effective from its `on` date. A version is
the whole calendar from `on` on: its `holidays` (days the bank is closed, weekend or not) and its
`working_days` (weekend days the bank works, as China moves weekends around its holidays: the
2026 Spring Festival's 2026-02-14 and 2026-02-28 are Saturdays worked). Any other Saturday or
Sunday is not a business day.

Holidays are published yearly, after most loans running through that year were approved, so a
loan does not pin a calendar version: its due dates follow the version in force on each due
date, as known when the figures are asked for. The loan keeps the versions it follows as its
own facts (`CalendarApplied`, recorded at approval for every version then known and again on
every loan on the calendar when a new version is defined), so its figures stay a pure function
of its own events and a later version re-derives the loan as a backdated fact does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from loanledger.domain.aggregate import FactStream
from loanledger.domain.errors import InvalidCalendarError, UnknownCalendarError
from loanledger.domain.policy import BookEvent

ONE_DAY = timedelta(days=1)

MAX_CALENDAR_DATES = 1000
"""Holidays (and, separately, working days) one version may list: decades of a national
calendar; more is a mistake, and every derivation of every loan on the calendar reads them."""

MAX_YEARS_AHEAD = 10
"""A version may list days up to this many years after its `on` date (later: a typo)."""

MAX_CLOSED_RUN_DAYS = 14
"""The longest run of days that are not business days a version may make (China's longest
holiday is 8 days with its weekends): so a due date never moves more than two weeks."""

SATURDAY = 5


class BusinessDayRule(StrEnum):
    """Where a due date that is not a business day moves (a product's `business_day`)."""

    FOLLOWING = "following"
    """To the next business day."""
    MODIFIED_FOLLOWING = "modified_following"
    """To the next business day, unless that is in the next month: then the previous one."""
    NONE = "none"
    """It stays where it is."""


def calendar_stream(calendar_id: str) -> str:
    """The `loan_id` a calendar's facts carry (their stream's name in verify and the archive)."""
    return f"calendar:{calendar_id}"


def is_weekend(day: date) -> bool:
    return day.weekday() >= SATURDAY


def check_calendar(
    calendar_id: str, on: date, holidays: Sequence[date], working_days: Sequence[date]
) -> None:
    """Refuse an inconsistent version (InvalidCalendarError naming every problem)."""
    what = f"define_calendar {calendar_id!r}"
    problems: list[str] = []
    last = date(min(on.year + MAX_YEARS_AHEAD, date.max.year), on.month, min(on.day, 28))
    for name, days, limit in (
        ("holidays", holidays, MAX_CALENDAR_DATES),
        ("working_days", working_days, MAX_CALENDAR_DATES),
    ):
        if len(days) > limit:
            problems.append(f"{name} lists {len(days)} dates; at most {limit}")
        repeated = sorted(day for day, count in Counter(days).items() if count > 1)
        if repeated:
            problems.append(f"{name} lists {', '.join(d.isoformat() for d in repeated)} twice")
        early = sorted(day for day in days if day < on)
        if early:
            problems.append(
                f"{name} {early[0].isoformat()} is before the version's on date "
                f"{on.isoformat()} (a version governs due dates from its on date)"
            )
        late = sorted(day for day in days if day > last)
        if late:
            problems.append(
                f"{name} {late[-1].isoformat()} is more than {MAX_YEARS_AHEAD} years after "
                f"{on.isoformat()}"
            )
    both = sorted(set(holidays) & set(working_days))
    if both:
        problems.append(
            f"{', '.join(d.isoformat() for d in both)} is both a holiday and a working day"
        )
    weekdays = sorted(day for day in working_days if not is_weekend(day))
    if weekdays:
        problems.append(
            f"working_days {weekdays[0].isoformat()} is not a Saturday or Sunday (a working day "
            "is a weekend day worked)"
        )
    if not problems:
        version = CalendarVersion(on, 0, frozenset(holidays), frozenset(working_days))
        for holiday in sorted(holidays):
            run = version.closed_run(holiday)
            if run > MAX_CLOSED_RUN_DAYS:
                problems.append(
                    f"the days from {holiday.isoformat()} make {run} days in a row that are not "
                    f"business days; at most {MAX_CLOSED_RUN_DAYS}"
                )
                break
    if problems:
        raise InvalidCalendarError(f"{what}: " + "; ".join(problems))


class CalendarDefined(BookEvent):
    """One version of a holiday calendar, the whole calendar from `effective_date` on."""

    calendar_id: str
    holidays: tuple[date, ...]
    working_days: tuple[date, ...] = ()
    defined_by: str | None = None

    def create_aggregate(self) -> Any:
        return Calendar(self.originator_id)


class Calendar(FactStream[CalendarDefined]):
    """The stream of one calendar's versions."""

    fact_type = CalendarDefined
    what = "a calendar"

    def define(
        self,
        calendar_id: str,
        on: date,
        recorded_at: datetime,
        holidays: Sequence[date],
        working_days: Sequence[date],
        defined_by: str | None,
    ) -> CalendarDefined:
        """Check and record the next version, effective from `on`."""
        check_calendar(calendar_id, on, holidays, working_days)
        return self.trigger(
            CalendarDefined,
            recorded_at,
            loan_id=calendar_stream(calendar_id),
            effective_date=on,
            calendar_id=calendar_id,
            holidays=tuple(sorted(holidays)),
            working_days=tuple(sorted(working_days)),
            defined_by=defined_by,
        )

    def require_defined(self, calendar_id: str, what: str) -> None:
        if not self.facts:
            raise UnknownCalendarError(f"{what}: calendar {calendar_id!r} is not defined")


@dataclass(frozen=True)
class CalendarVersion:
    """One version as a loan follows it."""

    on: date
    version: int
    holidays: frozenset[date]
    working_days: frozenset[date] = frozenset()

    def is_business_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        return not (day in self.holidays or is_weekend(day))

    def closed_run(self, day: date) -> int:
        """How many days in a row from `day` on are not business days (bounded)."""
        run = 0
        while not self.is_business_day(day) and run <= MAX_CLOSED_RUN_DAYS:
            run += 1
            day += ONE_DAY
        return run


@dataclass(frozen=True)
class BusinessCalendar:
    """The calendar versions a loan follows and its product's rule: where each due date falls."""

    calendar_id: str
    rule: BusinessDayRule
    versions: tuple[CalendarVersion, ...]
    """Sorted by (on, version): the one in force on a day is the last with on <= day."""

    def __hash__(self) -> int:
        # Every derivation hashes its terms (remembered schedules, positions): hash once.
        found: int | None = self.__dict__.get("_hash")
        if found is None:
            found = hash((self.calendar_id, self.rule, self.versions))
            object.__setattr__(self, "_hash", found)
        return found

    def __getstate__(self) -> dict[str, object]:
        # The remembered hash is this process's (strings hash differently in another).
        return {key: value for key, value in self.__dict__.items() if key != "_hash"}

    @classmethod
    def of(
        cls, calendar_id: str, rule: str, versions: Iterable[CalendarVersion]
    ) -> BusinessCalendar:
        return cls(
            calendar_id,
            BusinessDayRule(rule),
            tuple(sorted(versions, key=lambda item: (item.on, item.version))),
        )

    def in_force(self, day: date) -> CalendarVersion | None:
        found = None
        for version in self.versions:
            if version.on > day:
                break
            found = version
        return found

    def adjust(self, day: date) -> date:
        """The due date a contractual date `day` becomes: moved by the rule off a day that is not
        a business day in the version in force on `day` (no version in force: not moved)."""
        version = self.in_force(day)
        if version is None or self.rule is BusinessDayRule.NONE:
            return day
        moved = day
        for _ in range(MAX_CLOSED_RUN_DAYS + 1):
            if version.is_business_day(moved):
                break
            moved += ONE_DAY
        if self.rule is BusinessDayRule.MODIFIED_FOLLOWING and moved.month != day.month:
            moved = day
            for _ in range(MAX_CLOSED_RUN_DAYS + 1):
                if version.is_business_day(moved):
                    break
                moved -= ONE_DAY
        return moved
