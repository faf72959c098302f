"""Properties of a whole loan's life through the public API (DESIGN §2, §5–§8).

Each test drives real `LoanLedger`s (the in-memory store, and SQLite where replay is the point)
with a random approved and disbursed loan and a random stream of repayments, then checks what
the Contract promises of every answer: that recording a fact late gives the figures recording it
on time gives, that `known_at` answers never change, that every view keeps its invariants and that
a refusal records nothing. Examples are bounded by the hypothesis profile loaded in
tests/conftest.py (`ci`: 60); no test raises it.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from loanledger.domain.errors import (
    DuplicateReferenceError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
    LoanNotFoundError,
    OverDisbursementError,
    WrongStateError,
)
from tests.journal import disburse, pre_loan, repay

LOAN_ID = "L-P1"
METHODS = ("annuity", "equal_principal", "interest_only", "bullet")
REPAYMENTS_MAX = 8
"""Repayments per generated loan: enough to interleave with several due dates, small enough to
keep every example well under a second."""

ZERO = Decimal(0)
FEN = Decimal("0.01")


class SteppingClock:
    """A recorded-time clock the test controls: each reading is one second after the last.

    Unlike the `clock` fixture it is created per hypothesis example (a function-scoped fixture
    would be shared between examples) and it remembers its last reading, which is how a test
    names "the moment just after this prefix was recorded" for a `known_at` query.
    """

    def __init__(self, start: datetime = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def fen_text(fen: int) -> str:
    """An amount in fen as the journal writes it: a decimal string with exactly two places."""
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass(frozen=True)
class Repayment:
    on: date
    amount: str
    reference: str
    prepay: bool

    def command(self) -> dict[str, Any]:
        return repay(LOAN_ID, self.on.isoformat(), self.amount, self.reference, prepay=self.prepay)


@dataclass(frozen=True)
class Scenario:
    """One approved and disbursed loan and the repayments made on it, in effective-date order."""

    amount_fen: int
    term_months: int
    annual_rate: str
    method: str
    repayment_day: int | None
    disbursed_on: date
    repayments: tuple[Repayment, ...] = field(default_factory=tuple)

    @property
    def amount(self) -> str:
        return fen_text(self.amount_fen)

    def booking(self) -> list[dict[str, Any]]:
        """apply → investigation → review → approval → one disbursement of the whole amount."""
        approved_on = (self.disbursed_on - timedelta(days=5)).isoformat()
        applied_on = (self.disbursed_on - timedelta(days=12)).isoformat()
        return [
            *pre_loan(
                LOAN_ID,
                amount=self.amount,
                term_months=self.term_months,
                annual_rate=self.annual_rate,
                method=self.method,
                applied_on=applied_on,
                approved_on=approved_on,
                repayment_day=self.repayment_day,
            ),
            disburse(LOAN_ID, self.disbursed_on.isoformat(), self.amount),
        ]

    def maturity_bound(self) -> date:
        """A date safely after maturity: the term in months plus two, at 31 days a month."""
        return self.disbursed_on + timedelta(days=31 * (self.term_months + 2))


@st.composite
def scenarios(draw: st.DrawFn, repayments_max: int = REPAYMENTS_MAX) -> Scenario:
    """A random loan and at most one repayment per effective date, totalling less than the loan.

    Each repayment takes at most (amount − 1 fen) / count, so their total stays below the amount
    and none can be refused because the loan is fully repaid, and none can pay it off.
    """
    amount_fen = draw(st.integers(min_value=1_000_00, max_value=2_000_000_00))
    term_months = draw(st.integers(min_value=3, max_value=36))
    rate_basis_points = draw(st.integers(min_value=300, max_value=2400))
    method = draw(st.sampled_from(METHODS))
    repayment_day = draw(st.none() | st.integers(min_value=1, max_value=28))
    disbursed_on = draw(st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 12, 31)))
    horizon_days = 31 * (term_months + 3)
    offsets = draw(
        st.lists(
            st.integers(min_value=0, max_value=horizon_days),
            unique=True,
            max_size=repayments_max,
        )
    )
    offsets.sort()
    share_max_fen = max(1, (amount_fen - 1) // max(1, len(offsets)))
    repayments = []
    for number, offset in enumerate(offsets, start=1):
        # Half the draws are near an installment's size, so due dates are met as well as missed.
        installment_like = max(1, min(share_max_fen, amount_fen // term_months))
        amount = draw(
            st.integers(min_value=1, max_value=installment_like)
            | st.integers(min_value=1, max_value=share_max_fen)
        )
        repayments.append(
            Repayment(
                on=disbursed_on + timedelta(days=offset),
                amount=fen_text(amount),
                reference=f"R-{number}",
                prepay=draw(st.booleans()),
            )
        )
    return Scenario(
        amount_fen=amount_fen,
        term_months=term_months,
        annual_rate=f"0.{rate_basis_points:04d}",
        method=method,
        repayment_day=repayment_day,
        disbursed_on=disbursed_on,
        repayments=tuple(repayments),
    )


def booked(scenario: Scenario, url: str = "memory://") -> tuple[LoanLedger, SteppingClock]:
    clock = SteppingClock()
    ledger = LoanLedger.open(url, clock=clock)
    for command in scenario.booking():
        ledger.execute(command)
    return ledger, clock


def sample_dates(ledger: LoanLedger, scenario: Scenario) -> list[date]:
    """Every repayment date, every due date and the days either side, and a date after maturity."""
    days = {scenario.disbursed_on, scenario.maturity_bound()}
    days.update(repayment.on for repayment in scenario.repayments)
    for row in ledger.schedule(LOAN_ID, scenario.maturity_bound()):
        due = date.fromisoformat(row["due_date"])
        days.update((due - timedelta(days=1), due, due + timedelta(days=1)))
    return sorted(days)


def money(text: str) -> Decimal:
    return Decimal(text)


def has_two_places(value: object) -> bool:
    return isinstance(value, str) and Decimal(value).as_tuple().exponent == -2


# -- recording late equals recording on time ------------------------------------------------------

# A loan whose second repayment (a prepayment) is recorded before the first: the smallest shape in
# which a backdated fact changes a later, already recorded, allocation and the schedule.
BACKDATED_PREPAYMENT = Scenario(
    amount_fen=12_000_00,
    term_months=12,
    annual_rate="0.0600",
    method="annuity",
    repayment_day=15,
    disbursed_on=date(2024, 1, 15),
    repayments=(
        Repayment(date(2024, 2, 15), "1032.80", "R-1", prepay=False),
        Repayment(date(2024, 3, 20), "3000.00", "R-2", prepay=True),
    ),
)


@pytest.mark.slow  # A 36-month loan is ~120 sampled dates × 4 queries: up to ~1.6 s an example.
@given(scenario=scenarios(), order=st.randoms(use_true_random=False))
@example(scenario=BACKDATED_PREPAYMENT, order=None)
def test_recording_repayments_late_gives_the_figures_recording_them_on_time_gives(
    scenario: Scenario, order: random.Random | None
) -> None:
    """DESIGN §2.2: a fact recorded late changes the figures from its effective date on exactly
    as if it had been recorded on time. Ledger A records the repayments in effective-date order,
    ledger B in a random permutation (so some are backdated behind later ones); every `loan` and
    `schedule` answer must be the same on every sampled date."""
    on_time, _ = booked(scenario)
    late, _ = booked(scenario)
    shuffled = list(scenario.repayments)
    if order is None:
        shuffled.reverse()
    else:
        order.shuffle(shuffled)
    for repayment in scenario.repayments:
        on_time.execute(repayment.command())
    for repayment in shuffled:
        late.execute(repayment.command())

    for day in sample_dates(on_time, scenario):
        assert late.loan(LOAN_ID, as_of=day) == on_time.loan(LOAN_ID, as_of=day), day
        assert late.schedule(LOAN_ID, day) == on_time.schedule(LOAN_ID, day), day
    for repayment in scenario.repayments:
        # The current allocation of every reference agrees too (after any revisions in B).
        again_on_time = on_time.execute(repayment.command())
        again_late = late.execute(repayment.command())
        assert again_late["allocation"] == again_on_time["allocation"], repayment.reference


# -- known_at is stable ----------------------------------------------------------------------------


@given(
    scenario=scenarios(),
    prefix_length=st.integers(min_value=0, max_value=REPAYMENTS_MAX),
    order=st.randoms(use_true_random=False),
)
def test_an_answer_known_at_a_moment_is_not_changed_by_anything_recorded_after_it(
    scenario: Scenario, prefix_length: int, order: random.Random
) -> None:
    """DESIGN §5: with `known_at=T` only facts recorded at or before T count. The ledger records
    a random prefix of the repayments (in random order), takes every view at T, records the rest
    (some backdated before the prefix's dates), and must then give the same views at T."""
    ledger, clock = booked(scenario)
    shuffled = list(scenario.repayments)
    order.shuffle(shuffled)
    prefix, rest = shuffled[:prefix_length], shuffled[prefix_length:]
    for repayment in prefix:
        ledger.execute(repayment.command())
    known_at = clock()
    days = sample_dates(ledger, scenario)
    before = {day: ledger.loan(LOAN_ID, as_of=day, known_at=known_at) for day in days}

    for repayment in rest:
        ledger.execute(repayment.command())

    after = {day: ledger.loan(LOAN_ID, as_of=day, known_at=known_at) for day in days}
    assert after == before
    assert ledger.loan(LOAN_ID, as_of=days[-1], known_at=known_at.isoformat()) == before[days[-1]]


# -- invariants of every view ----------------------------------------------------------------------

AMOUNT_FIELDS = (
    "principal_outstanding",
    "overdue_principal",
    "overdue_interest",
    "penalty_outstanding",
    "overpayment",
)
SCHEDULE_AMOUNT_FIELDS = ("principal", "interest", "installment", "principal_remaining")
ALLOCATION_PARTS = ("penalty", "interest", "principal", "prepaid_principal", "overpayment")


def allocation_total(allocation: dict[str, str]) -> Decimal:
    """The cash a repayment brought: its parts less the held overpayment a prepayment used
    (`overpayment_applied`, present only then)."""
    assert set(allocation) - {"overpayment_applied"} == set(ALLOCATION_PARTS)
    assert all(has_two_places(value) for value in allocation.values()), allocation
    parts = sum((money(allocation[part]) for part in ALLOCATION_PARTS), start=ZERO)
    return parts - money(allocation.get("overpayment_applied", "0.00"))


def check_view(view: dict[str, Any]) -> None:
    """The invariants every `loan` answer keeps on its own."""
    for name in AMOUNT_FIELDS:
        assert has_two_places(view[name]), (name, view[name])
    if view["next_due_amount"] is not None:
        assert has_two_places(view["next_due_amount"])
    outstanding = money(view["principal_outstanding"])
    overdue_principal = money(view["overdue_principal"])
    assert outstanding >= 0
    assert ZERO <= overdue_principal <= outstanding
    assert money(view["overdue_interest"]) >= 0
    assert money(view["penalty_outstanding"]) >= 0
    assert isinstance(view["days_past_due"], int) and view["days_past_due"] >= 0
    if overdue_principal == 0 and money(view["overdue_interest"]) == 0:
        assert view["days_past_due"] == 0, view


def check_schedule(rows: list[dict[str, Any]], disbursed: Decimal, prepaid: Decimal) -> None:
    """The schedule in force: every amount at two places, principal plus prepaid principal sums
    exactly to the disbursed amount, and the last row leaves nothing remaining.

    Prepaid principal is in no row: a prepayment reduces principal at once and the rows after it
    are re-amortised on the lower balance (DESIGN §7), so the rows carry disbursed − prepaid.
    """
    assert rows
    for row in rows:
        for name in SCHEDULE_AMOUNT_FIELDS:
            assert has_two_places(row[name]), (name, row)
        assert money(row["principal"]) + money(row["interest"]) == money(row["installment"])
    column = sum((money(row["principal"]) for row in rows), start=ZERO)
    assert column + prepaid == disbursed, (column, prepaid, disbursed)
    if prepaid == 0:
        assert column == disbursed
    assert rows[-1]["principal_remaining"] == "0.00"


@given(scenario=scenarios(repayments_max=6), order=st.randoms(use_true_random=False))
def test_every_view_keeps_its_invariants_and_replay_from_sqlite_equals_live(
    scenario: Scenario, order: random.Random
) -> None:
    """DESIGN §5–§8 invariants, on a SQLite ledger so that a second ledger opened on the same
    file (replay from stored bytes) can be compared with the live one:

    * every amount is a string with exactly two decimals; balances are never negative; overdue
      principal never exceeds principal outstanding; DPD is 0 when nothing but penalty is overdue;
    * each allocation's parts sum exactly to its repayment amount, and a repeated command
      returns the current allocation with `repeated: True`;
    * principal outstanding is the disbursed amount less the principal every current allocation
      paid (plus prepaid), less only the principal that held overpayment met as it fell due;
    * the schedule's principal column plus prepaid principal is the disbursed amount and the
      last row has nothing remaining;
    * replay equals live, and the hash chain verifies.
    """
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory).resolve()}/ledger.db"
        ledger, _ = booked(scenario, url)
        shuffled = list(scenario.repayments)
        order.shuffle(shuffled)
        for repayment in shuffled:
            first = ledger.execute(repayment.command())
            assert first["repeated"] is False
            assert allocation_total(first["allocation"]) == money(repayment.amount)

        current: dict[str, dict[str, str]] = {}
        for repayment in scenario.repayments:
            again = ledger.execute(repayment.command())
            assert again["repeated"] is True
            assert again["reference"] == repayment.reference
            assert allocation_total(again["allocation"]) == money(repayment.amount)
            current[repayment.reference] = again["allocation"]

        disbursed = money(scenario.amount)
        days = sample_dates(ledger, scenario)
        views = {day: ledger.loan(LOAN_ID, as_of=day) for day in days}
        for view in views.values():
            check_view(view)
        # The schedule in force changes only on a money fact's effective date, so it is checked
        # on each of those, the day before, and after maturity (keeping an example under 1 s).
        schedule_days = sorted(
            {scenario.disbursed_on, scenario.maturity_bound()}
            | {r.on for r in scenario.repayments}
            | {
                r.on - timedelta(days=1)
                for r in scenario.repayments
                if r.on > scenario.disbursed_on
            }
        )
        schedules = {day: ledger.schedule(LOAN_ID, day) for day in schedule_days}
        for day, rows in schedules.items():
            effective = [r for r in scenario.repayments if r.on <= day]
            prepaid = sum(
                (money(current[r.reference]["prepaid_principal"]) for r in effective), start=ZERO
            )
            check_schedule(rows, disbursed, prepaid)

        last_day = max((r.on for r in scenario.repayments), default=scenario.disbursed_on)
        at_last = ledger.loan(LOAN_ID, as_of=last_day)
        allocated_principal = sum(
            (
                money(allocation["principal"]) + money(allocation["prepaid_principal"])
                for allocation in current.values()
            ),
            start=ZERO,
        )
        held_then_applied = sum(
            (
                money(a["overpayment"]) - money(a.get("overpayment_applied", "0.00"))
                for a in current.values()
            ),
            start=ZERO,
        ) - money(at_last["overpayment"])
        unexplained = disbursed - allocated_principal - money(at_last["principal_outstanding"])
        assert ZERO <= unexplained <= held_then_applied, (unexplained, held_then_applied)
        if held_then_applied == 0:
            assert money(at_last["principal_outstanding"]) == disbursed - allocated_principal

        replayed = LoanLedger.open(url, clock=SteppingClock())
        for day, view in views.items():
            assert replayed.loan(LOAN_ID, as_of=day) == view, day
        for day, rows in schedules.items():
            assert replayed.schedule(LOAN_ID, day) == rows, day
        verified = ledger.verify()
        assert verified.ok, str(verified)
        assert replayed.verify() == verified
        replayed.close()
        ledger.close()


def test_held_overpayment_applied_at_a_due_date_reduces_principal_outside_any_allocation() -> None:
    """An allocation says how a repayment was applied when received; held overpayment applied
    later, as an installment falls due, is not a repayment (the ledger posts it as an
    `overpayment_applied` entry). 12,000.00 at 6% annuity, R-1 1,500.00 on 02-15 pays
    installment 1 (972.80 principal) and holds 467.20; on 03-15 that meets installment 2's 55.14
    interest and 412.06 principal; R-2 800.00 on 04-20 pays 743.77 principal. Outstanding:
    12000 − 972.80 − 743.77 − 412.06 = 9871.37."""
    scenario = Scenario(
        amount_fen=12_000_00,
        term_months=12,
        annual_rate="0.0600",
        method="annuity",
        repayment_day=15,
        disbursed_on=date(2024, 1, 15),
        repayments=(
            Repayment(date(2024, 2, 15), "1500.00", "R-1", prepay=False),
            Repayment(date(2024, 4, 20), "800.00", "R-2", prepay=False),
        ),
    )
    ledger, _ = booked(scenario)
    allocations = [ledger.execute(r.command())["allocation"] for r in scenario.repayments]
    view = ledger.loan(LOAN_ID, as_of="2024-04-20")

    allocated = sum(
        (money(a["principal"]) + money(a["prepaid_principal"]) for a in allocations), start=ZERO
    )
    applied = [
        line
        for line in ledger.report("journal", as_of="2024-04-20")
        if line["kind"] == "overpayment_applied" and line["account"] == "loans_principal"
    ]
    assert [line["credit"] for line in applied] == ["412.06"]
    assert money(view["principal_outstanding"]) == money(scenario.amount) - allocated - money(
        "412.06"
    )
    assert view["principal_outstanding"] == "9871.37"


# -- refusals record nothing -----------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A command the ledger must refuse, and the DomainError subclass that names the rule."""

    name: str
    command: dict[str, Any]
    error: type[DomainError]


def _repay_with(scenario: Scenario, **fields: Any) -> dict[str, Any]:
    command = repay(LOAN_ID, scenario.disbursed_on.isoformat(), "10.00", "R-NEW")
    command.update(fields)
    return command


def refusals(scenario: Scenario) -> list[Refusal]:
    """Invalid commands against a booked loan with the scenario's repayments recorded."""
    day = scenario.disbursed_on.isoformat()
    before_disbursement = (scenario.disbursed_on - timedelta(days=1)).isoformat()
    booking = scenario.booking()
    found: list[Refusal] = [
        Refusal("float amount", _repay_with(scenario, amount=10.5), InvalidAmountError),
        Refusal("negative amount", _repay_with(scenario, amount="-1.00"), InvalidAmountError),
        Refusal("zero amount", _repay_with(scenario, amount="0.00"), InvalidAmountError),
        Refusal("over-precise", _repay_with(scenario, amount="10.001"), InvalidAmountError),
        Refusal("NaN amount", _repay_with(scenario, amount="NaN"), InvalidAmountError),
        Refusal("unknown field", _repay_with(scenario, colour="red"), InvalidCommandError),
        Refusal("missing amount", {**_repay_with(scenario), "amount": None}, DomainError),
        Refusal("prepay not bool", _repay_with(scenario, prepay="yes"), InvalidCommandError),
        Refusal("reference not str", _repay_with(scenario, reference=7), InvalidCommandError),
        Refusal("date not ISO", _repay_with(scenario, on="15/01/2024"), InvalidDateError),
        Refusal("date as number", _repay_with(scenario, on=20240115), InvalidDateError),
        Refusal("not a calendar date", _repay_with(scenario, on="2024-02-30"), InvalidDateError),
        Refusal(
            "unknown command", {**_repay_with(scenario), "command": "pay"}, InvalidCommandError
        ),
        Refusal(
            "before disbursement", _repay_with(scenario, on=before_disbursement), InvalidDateError
        ),
        Refusal("unknown loan", _repay_with(scenario, loan_id="L-NONE"), LoanNotFoundError),
        Refusal(
            "over-disbursement",
            disburse(LOAN_ID, day, "0.01", reference="D-2"),
            OverDisbursementError,
        ),
        Refusal(
            "disbursement reference reused",
            disburse(LOAN_ID, day, "1.00", reference="D-1"),
            DuplicateReferenceError,
        ),
        Refusal("apply twice", booking[0], WrongStateError),
        Refusal("investigate twice", booking[1], WrongStateError),
        Refusal("review twice", booking[2], WrongStateError),
        Refusal("approve twice", booking[3], WrongStateError),
        Refusal(
            "reject after approval",
            {
                "command": "reject",
                "loan_id": LOAN_ID,
                "on": day,
                "approver": "approver-2",
                "reason": "late doubts",
            },
            WrongStateError,
        ),
    ]
    for repayment in scenario.repayments:
        changed = dict(repayment.command())
        changed["amount"] = fen_text(int(money(repayment.amount) * 100) + 1)
        found.append(Refusal(f"{repayment.reference} reused", changed, DuplicateReferenceError))
        found.append(
            Refusal(
                f"{repayment.reference} reused for a disbursement",
                disburse(LOAN_ID, day, "1.00", reference=repayment.reference),
                DuplicateReferenceError,
            )
        )
    return found


@given(scenario=scenarios(repayments_max=4), data=st.data())
def test_a_refused_command_raises_the_rule_it_broke_and_records_nothing(
    scenario: Scenario, data: st.DataObject
) -> None:
    """DESIGN §2.7 and §5: every refusal is a `DomainError` subclass naming the rule, and the
    store holds exactly the events it held before (the hash chain counts them)."""
    ledger, _ = booked(scenario)
    for repayment in scenario.repayments:
        ledger.execute(repayment.command())
    events_before = ledger.verify().events_checked
    chosen = data.draw(
        st.lists(st.sampled_from(refusals(scenario)), min_size=1, max_size=6),
        label="refusals",
    )

    for refusal in chosen:
        with pytest.raises(refusal.error):
            ledger.execute(refusal.command)

    verified = ledger.verify()
    assert verified.ok and verified.events_checked == events_before


@given(scenario=scenarios(repayments_max=0), data=st.data())
def test_money_commands_before_their_time_are_refused_and_record_nothing(
    scenario: Scenario, data: st.DataObject
) -> None:
    """Commands in the wrong state: repayment or disbursement before approval, and repayment
    before any disbursement, on a loan stopped at a random pre-loan step."""
    steps = data.draw(st.integers(min_value=1, max_value=4), label="pre-loan steps recorded")
    ledger = LoanLedger.open("memory://", clock=SteppingClock())
    for command in scenario.booking()[:steps]:
        ledger.execute(command)
    events_before = ledger.verify().events_checked
    day = scenario.disbursed_on.isoformat()
    commands: list[Callable[[], dict[str, Any]]] = [
        lambda: repay(LOAN_ID, day, "10.00", "R-1"),
    ]
    if steps < 4:
        commands.append(lambda: disburse(LOAN_ID, day, scenario.amount))

    for make in commands:
        with pytest.raises(WrongStateError):
            ledger.execute(make())

    assert ledger.verify().events_checked == events_before
