"""The book's own facts: its policy and its staff register, each a hash-chained stream.

`BookRegister` is what the application asks about them: it records `set_policy`,
`grant_authority` and `revoke_authority`, tells which rule set and settings are in force on a
business date as known at a moment, and checks a loan command's staff against the register
before the loan sees the command. The streams live in the same store and notification log as
the loans (so `verify` checks their chains), under aggregate ids of their own namespace.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid5

from loanledger.application.rates import publish_rate
from loanledger.domain.book_commands import (
    BookCommand,
    DefineCalendar,
    DefineProduct,
    GrantAuthority,
    PublishRate,
    RevokeAuthority,
    SetPolicy,
)
from loanledger.domain.commands import (
    Apply,
    Approve,
    Command,
    Downgrade,
    RecordInvestigation,
    Reject,
    ReleaseCollateral,
    Restructure,
    Review,
    WriteOff,
)
from loanledger.domain.errors import (
    AuthorityLimitError,
    ConcurrencyError,
    InvalidDateError,
    ProvisionRuleError,
    UnknownRuleSetError,
    UnregisteredStaffError,
)
from loanledger.domain.event import DomainEvent
from loanledger.domain.loan_events import CalendarApplied
from loanledger.domain.policy import BookPolicy, Policy
from loanledger.domain.products.calendars import Calendar, CalendarDefined
from loanledger.domain.products.catalogue import Product, ProductVersion
from loanledger.domain.provisions import named_products, provision_rules
from loanledger.domain.rate_index import IndexValue, RateIndex
from loanledger.domain.rules import RULE_SETS, RuleSet
from loanledger.domain.staff import Authority, StaffMember, normalised

if TYPE_CHECKING:
    from loanledger.application.ledger import LoanLedger
    from loanledger.domain.loan import Loan

BOOK_NAMESPACE = UUID("3b7e0f52-8c1d-5a9e-b6f4-2d9c7a1e0b35")
"""Fixed forever, and not the loans' namespace: no loan id can name a book stream."""

POLICY_ID = uuid5(BOOK_NAMESPACE, "policy:book")

MAX_ATTEMPTS = 10
"""How often a book command is re-run after losing an optimistic-concurrency race."""


BookCache = dict[object, Any]
"""Policy and staff streams as read once for a batch of loan commands (a bulk load reads them
once, not line by line); whoever holds one empties it when the batch records a book fact."""

Stream = TypeVar("Stream", Product, Calendar, RateIndex)
"""A book stream read by `_stream`: a product's versions, a calendar's, an index's values."""


def product_uuid(product_id: str) -> UUID:
    return uuid5(BOOK_NAMESPACE, "product:" + product_id)


def calendar_uuid(calendar_id: str) -> UUID:
    return uuid5(BOOK_NAMESPACE, "calendar:" + calendar_id)


def index_uuid(index: str) -> UUID:
    return uuid5(BOOK_NAMESPACE, "index:" + index)


@lru_cache(maxsize=10_000)
def staff_uuid(staff_id: str) -> UUID:
    return uuid5(BOOK_NAMESPACE, "staff:" + normalised(staff_id))


class BookRegister:
    """Policy and staff register of one ledger."""

    def __init__(self, ledger: LoanLedger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._policy = BookPolicy(POLICY_ID)

    # --- reading -------------------------------------------------------------------------------

    def _events(self, aggregate_id: UUID, after: int) -> list[DomainEvent]:
        return list(self._ledger.events.get(aggregate_id, gt=after))  # type: ignore[arg-type]

    def policy_stream(self) -> BookPolicy:
        """The policy facts stored so far (read on from the last version seen)."""
        with self._lock:
            for event in self._events(POLICY_ID, self._policy.version):
                event.mutate(self._policy)
            return self._policy

    def policy(
        self, on: date, known_at: datetime | None = None, *, cache: BookCache | None = None
    ) -> Policy:
        if cache is None:
            return self.policy_stream().in_force(on, known_at)
        if POLICY_ID not in cache:
            cache[POLICY_ID] = self.policy_stream()
        stream: BookPolicy = cache[POLICY_ID]
        return stream.in_force(on, known_at)

    def rules(self, on: date, known_at: datetime | None = None) -> RuleSet:
        """The rule set in force on business date `on`, as known at `known_at` (None: now)."""
        stream = self.policy_stream()
        if not stream.facts:
            return self._ledger.rules
        return stream.in_force(on, known_at).rule_set

    def staff(self, staff_id: str, *, cache: BookCache | None = None) -> StaffMember:
        if cache is not None:
            key = staff_uuid(staff_id)
            if key not in cache:
                cache[key] = self.staff(staff_id)
            member: StaffMember = cache[key]
            return member
        member = StaffMember(staff_uuid(staff_id))
        for event in self._events(member.id, 0):
            event.mutate(member)
        return member

    def _stream(
        self, key: tuple[str, str], make: Callable[[], Stream], cache: BookCache | None
    ) -> Stream:
        """A book stream (a product's versions, a calendar's, an index's values) as stored, read
        once per batch with `cache`: `make` gives the empty aggregate its events are applied to."""
        if cache is not None and key in cache:
            found: Stream = cache[key]
            return found
        stream = make()
        for event in self._events(stream.id, 0):
            event.mutate(stream)
        if cache is not None:
            cache[key] = stream
        return stream

    def product(self, product_id: str, *, cache: BookCache | None = None) -> Product:
        """A product's stream of versions as stored (read once per batch with `cache`)."""
        return self._stream(
            ("product", product_id), lambda: Product(product_uuid(product_id)), cache
        )

    def calendar(self, calendar_id: str, *, cache: BookCache | None = None) -> Calendar:
        """A holiday calendar's stream of versions as stored (read once per batch with `cache`)."""
        return self._stream(
            ("calendar", calendar_id), lambda: Calendar(calendar_uuid(calendar_id)), cache
        )

    def rate_index(self, index: str, *, cache: BookCache | None = None) -> RateIndex:
        """An index's stream of published values as stored (read once per batch with `cache`)."""
        return self._stream(("index", index), lambda: RateIndex(index_uuid(index)), cache)

    def index_value(self, index: str, on: date, known_at: datetime | None = None) -> IndexValue:
        """The index's value in force on `on` as known at `known_at` (NoIndexRateError: none)."""
        return self.rate_index(index).in_force(index, on, known_at)

    def product_for(
        self, command: Apply | Command, loan: Loan | None, *, cache: BookCache | None = None
    ) -> ProductVersion | None:
        version = self._product_for(command, loan, cache=cache)
        floating = version.floating if version is not None else None
        if version is None or floating is None:
            return version
        # A floating product's loan is priced from the index in force on the command's date;
        # with none published by then it cannot be priced (NoIndexRateError).
        value = self.rate_index(floating.index, cache=cache).in_force(floating.index, command.on)
        return replace(version, index_value=value)

    def _product_for(
        self, command: Apply | Command, loan: Loan | None, *, cache: BookCache | None = None
    ) -> ProductVersion | None:
        """The product version an `apply` naming a product, or an `approve` of a loan on one,
        is checked against: the version in force on the command's date (None otherwise). For an
        approval it carries the versions of the product's holiday calendar known now, which the
        loan records (`CalendarApplied`)."""
        if isinstance(command, Apply):
            product_id = command.product
        elif isinstance(command, Approve) and loan is not None and loan.product_named:
            product_id = loan.product_named.product_id
        else:
            return None
        if product_id is None:
            return None
        version = self.product(product_id, cache=cache).in_force(product_id, command.on)
        calendar_id = version.fact.calendar
        if isinstance(command, Approve) and calendar_id is not None:
            facts = tuple(self.calendar(calendar_id, cache=cache).facts)
            version = replace(version, calendar_versions=facts)
        return version

    # --- commands ------------------------------------------------------------------------------

    def execute(self, command: BookCommand) -> dict[str, Any]:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return self._execute_once(command)
            except ConcurrencyError:
                if attempt == MAX_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _execute_once(self, command: BookCommand) -> dict[str, Any]:
        now = self._ledger.clock()
        if isinstance(command, SetPolicy):
            if command.rule_set is not None and command.rule_set not in RULE_SETS:
                known = ", ".join(sorted(RULE_SETS))
                raise UnknownRuleSetError(
                    f"set_policy: unknown rule set {command.rule_set!r}; known: {known}"
                )
            if command.provisioning is not None:
                provision_rules(command.provisioning)  # refuses an unknown set or a bad rate
                for product_id in named_products(command.provisioning):
                    if not self.product(product_id).facts:
                        raise ProvisionRuleError(
                            f"provisioning: products: unknown product {product_id!r} (a "
                            "product's PD and LGD table needs its define_product first)"
                        )
            last_closed = self._ledger.last_closed_day()
            if command.rule_set is not None and last_closed and command.on <= last_closed:
                raise InvalidDateError(
                    f"set_policy: a rule set is adopted from a business date not yet closed; "
                    f"{command.on.isoformat()} is on or before the last closed date "
                    f"{last_closed.isoformat()}"
                )
            # Otherwise anyone could switch the register off again.
            self._require_administrator(command.set_by, "set_by", command.on, "set_policy")
            stream = BookPolicy(POLICY_ID)
            for event in self._events(POLICY_ID, 0):
                event.mutate(stream)
            recorded_at = _recorded_at(now, stream)
            event = stream.set(
                command.on,
                recorded_at,
                rule_set=command.rule_set,
                require_staff_register=command.require_staff_register,
                set_by=command.set_by,
                future_horizon_days=command.future_horizon_days,
                time_zone=command.time_zone,
                provisioning=command.provisioning,
            )
            self._ledger.save(stream)
            return {
                "command": command.command,
                "on": command.on.isoformat(),
                "version": event.originator_version,
            }
        if isinstance(command, DefineProduct):
            return self._define_product(command, now)
        if isinstance(command, DefineCalendar):
            return self._define_calendar(command, now)
        if isinstance(command, PublishRate):
            return publish_rate(self._ledger, self, command, now)
        assert isinstance(command, GrantAuthority | RevokeAuthority)
        self._require(command.granted_by, "administrator", command.on, command.command)
        member = self.staff(command.staff_id)
        recorded_at = _recorded_at(now, member)
        if isinstance(command, GrantAuthority):
            member.grant(
                command.staff_id,
                command.on,
                command.role,
                command.limit,
                command.granted_by,
                recorded_at,
            )
        else:
            member.revoke(
                command.staff_id, command.on, command.role, command.granted_by, recorded_at
            )
        self._ledger.save(member)
        return {
            "command": command.command,
            "staff_id": normalised(command.staff_id),
            "version": member.version,
        }

    def _define_product(self, command: DefineProduct, now: datetime) -> dict[str, Any]:
        self._require_administrator(command.defined_by, "defined_by", command.on, "define_product")
        if command.calendar is not None:
            self.calendar(command.calendar).require_defined(
                command.calendar, f"define_product {command.product_id!r}"
            )
        product = self.product(command.product_id)
        recorded_at = _recorded_at(now, product)
        fields = command.model_dump(mode="json", exclude={"command", "on", "title", "fees", "rate"})
        if command.rate is not None and command.rate.type == "floating":
            fields["rate"] = command.rate.model_dump(mode="json", exclude_none=True)
        fields["repayment_methods"] = tuple(command.repayment_methods)
        if command.calendar is not None and command.business_day is None:
            fields["business_day"] = "following"
        if command.fees is not None and command.fees.origination is not None:
            fee = command.fees.origination.model_dump(mode="json", exclude_none=True)
            if fee["collect"] == "disbursement":
                # Withheld at disbursement is what a fee without `collect` has always meant, so
                # versions recorded before `collect: "schedule"` existed read the same.
                fee.pop("collect")
            fields["fees"] = {"origination": fee}
        if command.fees is not None and command.fees.prepayment is not None:
            fields.setdefault("fees", {})["prepayment"] = command.fees.prepayment.model_dump(
                mode="json"
            )
        if command.fees is not None and command.fees.late is not None:
            fields.setdefault("fees", {})["late"] = command.fees.late.model_dump(
                mode="json", exclude_none=True
            )
        event = product.define(command.on, recorded_at, name=command.title, **fields)
        self._ledger.save(product)
        return {
            "command": command.command,
            "product_id": command.product_id,
            "version": event.originator_version,
        }

    def _define_calendar(self, command: DefineCalendar, now: datetime) -> dict[str, Any]:
        """Record the calendar's next version and, in the same transaction, a `CalendarApplied`
        on every loan that follows the calendar (approved on a product naming it, neither closed
        nor written off), so each re-derives from its own facts as after a backdated fact."""
        self._require_administrator(command.defined_by, "defined_by", command.on, "define_calendar")
        calendar = self.calendar(command.calendar_id)
        recorded_at = _recorded_at(now, calendar)
        event = calendar.define(
            command.calendar_id,
            command.on,
            recorded_at,
            command.holidays,
            command.working_days,
            command.defined_by,
        )
        # The loans read to find the followers may be shared with readers: each one changed is a
        # fresh copy, so a failed save leaves no pending fact on a loan anyone else holds.
        loans = [
            self._ledger.stored_loan(loan.loan_id)
            for loan in self._ledger.stored_loans(None)
            if _follows(loan, command.calendar_id)
        ]
        for loan in loans:
            _apply_calendar(loan, event, max(recorded_at, self._ledger.recorded_at_for(loan)))
        self._ledger.save(calendar, *loans)
        return {
            "command": command.command,
            "calendar_id": command.calendar_id,
            "version": event.originator_version,
            "loans": len(loans),
        }

    def require_administrator(self, staff_id: str | None, field: str, on: date, what: str) -> None:
        """See `_require_administrator` (what `publish_rate` asks of its `published_by`)."""
        self._require_administrator(staff_id, field, on, what)

    def _require_administrator(self, staff_id: str | None, field: str, on: date, what: str) -> None:
        """A book fact (`set_policy`, `define_product`) names the administrator who made it once
        the book requires the staff register; whoever is named must be one in force on `on`."""
        if staff_id is None:
            if self.policy(on).require_staff_register:
                raise UnregisteredStaffError(
                    f"{what}: the book requires the staff register, so {field} must name an "
                    f"administrator in force on {on.isoformat()}"
                )
            return
        self._require(staff_id, "administrator", on, what)

    # --- checks on loan commands ---------------------------------------------------------------

    def _require(
        self,
        staff_id: str,
        role: str,
        on: date,
        what: str,
        *,
        limits: bool = False,
        cache: BookCache | None = None,
    ) -> Authority | None:
        """The person's grant of `role` on `on`; refused when the book requires the register
        and there is none (without the requirement, None: today's behaviour). Unless the
        grant's limit matters (`limits`), the register is read only when the book requires it,
        which keeps a bulk load of pre-loan commands from reading it line by line."""
        required = self.policy(on, cache=cache).require_staff_register
        if not required and not limits:
            return None
        authority = self.staff(staff_id, cache=cache).authority(role, on)
        if authority is None and required:
            raise UnregisteredStaffError(
                f"{what}: {staff_id!r} holds no {role} authority on {on.isoformat()} in the "
                "staff register, which the book's policy requires"
            )
        return authority

    def check(self, command: Command, loan: Loan, *, cache: BookCache | None = None) -> None:
        """Refuse a loan command whose staff the register does not allow on its date."""
        on = command.on
        if isinstance(command, RecordInvestigation):
            for person in command.investigators:
                self._require(person, "investigator", on, command.command, cache=cache)
        elif isinstance(command, Review):
            self._require(command.reviewer, "reviewer", on, command.command, cache=cache)
        elif isinstance(command, Approve):
            authority = self._require(
                command.approver, "approver", on, command.command, limits=True, cache=cache
            )
            limit = authority.limit if authority is not None else None
            if limit is not None and command.authority_limit > limit:
                raise AuthorityLimitError(
                    f"approve: declared authority_limit {command.authority_limit:.2f} is "
                    f"above {command.approver!r}'s granted limit {limit:.2f} in "
                    f"force on {on.isoformat()}"
                )
        elif isinstance(command, Reject | Downgrade | WriteOff | Restructure):
            self._require(command.approver, "approver", on, command.command, cache=cache)
        elif isinstance(command, ReleaseCollateral) and command.approver is not None:
            authority = self._require(
                command.approver, "approver", on, command.command, limits=True, cache=cache
            )
            if authority is not None and authority.limit is not None:
                position = loan.position(on)
                outstanding = position.principal_outstanding if position else Decimal(0)
                if outstanding > authority.limit:
                    raise AuthorityLimitError(
                        f"release_collateral: principal outstanding {outstanding:.2f} is above "
                        f"approver {command.approver!r}'s granted limit {authority.limit:.2f}"
                    )


def _follows(loan: Loan, calendar_id: str) -> bool:
    """Whether the loan's due dates follow the calendar: pinned on a product naming it, and
    neither closed nor written off (a finished loan's dates are history)."""
    pinned = loan.product_pinned
    return (
        pinned is not None
        and pinned.pricing.get("calendar") == calendar_id
        and loan.closed is None
        and loan.written_off is None
    )


def _apply_calendar(loan: Loan, event: CalendarDefined, recorded_at: datetime) -> None:
    approval = loan.approval
    assert approval is not None
    loan.trigger(
        CalendarApplied,
        recorded_at,
        loan_id=loan.loan_id,
        effective_date=max(event.effective_date, approval.effective_date),
        calendar_id=event.calendar_id,
        calendar_version=event.originator_version,
        calendar_on=event.effective_date,
        holidays=event.holidays,
        working_days=event.working_days,
    )


def _recorded_at(
    now: datetime, stream: BookPolicy | StaffMember | Product | Calendar | RateIndex
) -> datetime:
    """When a new fact on a book stream is recorded: now, never before the stream's last fact
    (a recorded time never goes backwards within a stream)."""
    return max(now, stream.modified_on) if stream.modified_on else now
