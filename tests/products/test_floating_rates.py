"""Floating rates (issue 19 item 5): a loan priced at LPR + spread resets on its reset dates,
re-amortising the rest of its schedule; each reset is a `RateReset` fact on the loan.

The book used by most tests:

    define_product HOME: annuity/equal_principal/interest_only, LPR5Y + 0.0035, anniversary
    publish_rate   LPR5Y 2023-12-20 0.042    (approval: 0.042 + 0.0035 = 0.0455)
    publish_rate   LPR5Y 2024-07-22 0.0385   (in force on the first anniversary: 0.042)
    L-1            1,000,000.00 over 60 months, disbursed 2024-01-15, due on the 15th
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import (
    FloatingRateError,
    InvalidCommandError,
    InvalidIndexRateError,
    InvalidProductError,
    LoanNotFoundError,
    NoIndexRateError,
    UnregisteredStaffError,
)
from tests.journal import disburse, repay
from tests.products.floating import (
    annuity_rows,
    fen,
    home_loan,
    home_product,
    level_installment,
    publish,
)

STORE_KINDS = ("memory",)

PRINCIPAL = Decimal("1000000.00")


def _book(ledger: LoanLedger, *, method: str = "annuity", reset: str = "anniversary") -> None:
    for line in [
        home_product(reset),
        publish("2023-12-20", "0.042"),
        publish("2024-07-22", "0.0385"),
        *home_loan(method=method),
        disburse("L-1", "2024-01-15", "1000000.00"),
    ]:
        ledger.execute(line)


def _close_through(ledger: LoanLedger, *days: str) -> None:
    for day in days:
        ledger.close_day(day)


def _close_past_the_reset(ledger: LoanLedger, last: str = "2025-01-15") -> None:
    """Close the disbursement date, the year's end and `last` (the first reset is 2025-01-15
    on the anniversary, 2025-01-01 on January first)."""
    _close_through(ledger, "2024-01-15", "2024-12-31", last)


def _rows(ledger: LoanLedger, as_of: str) -> dict[int, dict[str, str]]:
    return {row["number"]: row for row in ledger.schedule("L-1", as_of=as_of)}


def test_a_5_year_lpr5y_plus_35_bp_annuity_resets_on_its_first_anniversary(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    payment = level_installment(PRINCIPAL, "0.0455", 60)
    first_year = annuity_rows(PRINCIPAL, "0.0455", 60, 12)
    for number in range(1, 13):
        ledger.execute(
            repay(
                "L-1",
                f"{2024 + number // 12}-{number % 12 + 1:02d}-15",
                str(payment),
                f"R-{number}",
            )
        )
    _close_past_the_reset(ledger)

    # Year one at 4.55%: the textbook annuity (1,000,000 × 0.0455/12 / (1 − (1 + 0.0455/12)^−60)).
    rows = _rows(ledger, "2025-01-15")
    assert payment == Decimal("18665.76")
    assert rows[1]["installment"] == "18665.76"
    assert (rows[12]["principal"], rows[12]["interest"]) == (
        str(first_year[11][0]),
        str(first_year[11][1]),
    )
    remaining = first_year[11][2]
    assert rows[12]["principal_remaining"] == str(remaining)
    # From 2025-01-15 the rate is LPR5Y in force then (0.0385, published 2024-07-22) + 0.0035 =
    # 0.042: the remaining principal is re-amortised over the 48 installments left.
    new_payment = level_installment(remaining, "0.042", 48)
    interest_13 = fen(Fraction(remaining) * Fraction("0.042") / 12)
    assert (rows[13]["interest"], rows[13]["principal"], rows[13]["installment"]) == (
        str(interest_13),
        str(new_payment - interest_13),
        str(new_payment),
    )
    assert (remaining, new_payment, interest_13) == (
        Decimal("817741.19"),
        Decimal("18537.10"),
        Decimal("2862.09"),
    )
    view = ledger.loan("L-1", as_of="2025-01-15")
    assert view["status"] == "active"
    assert view["rate"] == {
        "type": "floating",
        "index": "LPR5Y",
        "spread": "0.0035",
        "index_rate": "0.0385",
        "annual_rate": "0.042",
        "reset": "anniversary",
        "next_reset_date": "2026-01-15",
        "apr": "0.0420",
    }
    # The contract's APR at signing stays; the day before the reset the rate is the first one.
    assert view["apr"] == "0.0455"
    before = ledger.loan("L-1", as_of="2025-01-14")["rate"]
    assert (before["annual_rate"], before["index_rate"], before["next_reset_date"]) == (
        "0.0455",
        "0.042",
        "2025-01-15",
    )
    resets = [fact for fact in ledger.archive("L-1")["facts"] if fact["fact"] == "RateReset"]
    assert [(fact["effective_date"], fact["actor"], fact["data"]) for fact in resets] == [
        (
            "2025-01-15",
            "servicer",
            {
                "index": "LPR5Y",
                "index_rate": "0.0385",
                "index_published_on": "2024-07-22",
                "spread": "0.0035",
                "annual_rate": "0.042",
                "previous_rate": "0.0455",
                "corrects_version": None,
            },
        )
    ]
    assert ledger.verify().ok


def test_an_equal_principal_loan_keeps_its_principal_and_changes_its_interest_at_a_reset(
    ledger: LoanLedger,
) -> None:
    _book(ledger, method="equal_principal")
    _close_past_the_reset(ledger)
    rows = _rows(ledger, "2025-01-15")
    # 1,000,000 / 60 = 16666.67 a month; after 12 rows 800,000.00 - 0.04 of rounding remains.
    assert rows[12]["principal"] == rows[13]["principal"] == "16666.67"
    remaining = Decimal(rows[12]["principal_remaining"])
    assert remaining == Decimal("799999.96")
    assert rows[12]["interest"] == str(
        fen(Fraction(remaining + Decimal("16666.67")) * Fraction("0.0455") / 12)
    )
    assert (
        rows[13]["interest"] == str(fen(Fraction(remaining) * Fraction("0.042") / 12)) == "2800.00"
    )


def test_a_january_first_reset_splits_the_period_at_the_old_and_the_new_rate(
    ledger: LoanLedger,
) -> None:
    _book(ledger, reset="january_first")
    _close_past_the_reset(ledger)
    rows = _rows(ledger, "2025-01-15")
    first_year = annuity_rows(PRINCIPAL, "0.0455", 60, 11)
    remaining = first_year[10][2]  # after row 11, due 2024-12-15
    assert rows[11]["principal_remaining"] == str(remaining)
    # Row 12 (2024-12-15 .. 2025-01-15) runs 17 days at 4.55% (carried, ACT/360) and 14 days
    # at 4.2% (the re-amortised schedule's irregular first period, ACT/360); its principal is
    # the new level installment's regular principal portion over the 49 rows left.
    carried = fen(Fraction(remaining) * Fraction("0.0455") * 17 / 360)
    new_interest = fen(Fraction(remaining) * Fraction("0.042") * 14 / 360)
    new_payment = level_installment(remaining, "0.042", 49)
    regular_principal = new_payment - fen(Fraction(remaining) * Fraction("0.042") / 12)
    assert (rows[12]["interest"], rows[12]["principal"]) == (
        str(carried + new_interest),
        str(regular_principal),
    )
    assert rows[13]["installment"] == str(new_payment)
    view = ledger.loan("L-1", as_of="2025-01-15")["rate"]
    assert (view["reset"], view["next_reset_date"]) == ("january_first", "2026-01-01")


def test_an_anniversary_loan_does_not_reset_on_the_first_of_january(ledger: LoanLedger) -> None:
    _book(ledger)
    _close_past_the_reset(ledger, "2025-01-02")
    assert ledger.loan("L-1", as_of="2025-01-02")["rate"]["annual_rate"] == "0.0455"


def test_a_backdated_publication_corrects_the_reset_and_leaves_what_was_known_before(
    ledger: LoanLedger,
) -> None:
    for line in [
        home_product(),
        publish("2023-12-20", "0.042"),
        *home_loan(),
        disburse("L-1", "2024-01-15", "1000000.00"),
    ]:
        ledger.execute(line)
    _close_past_the_reset(ledger, "2025-01-20")
    as_known = ledger.loan("L-1", as_of="2025-01-20")
    assert as_known["rate"]["annual_rate"] == "0.0455"
    rows_before = ledger.schedule("L-1", as_of="2025-01-20")
    archive = ledger.archive("L-1")["facts"]
    before = datetime.fromisoformat(archive[-1]["recorded_at"])
    result = ledger.execute(publish("2024-07-22", "0.0385"))
    assert result["loans_reset"] == 1
    after = ledger.loan("L-1", as_of="2025-01-20")
    assert after["rate"]["annual_rate"] == "0.042"
    assert ledger.loan("L-1", as_of="2025-01-20", known_at=before) == as_known
    assert ledger.schedule("L-1", as_of="2025-01-20") != rows_before
    reset = [fact for fact in ledger.archive("L-1")["facts"] if fact["fact"] == "RateReset"]
    assert [(fact["data"]["index_rate"], fact["data"]["corrects_version"]) for fact in reset] == [
        ("0.042", None),
        ("0.0385", reset[0]["version"]),
    ]
    # Publishing the same value again records nothing, on the index or on the loan.
    facts = len(ledger.archive("L-1")["facts"])
    assert ledger.execute(publish("2024-07-22", "0.0385"))["loans_reset"] == 0
    assert len(ledger.archive("L-1")["facts"]) == facts


def test_no_index_value_by_the_application_date_is_refused(ledger: LoanLedger) -> None:
    ledger.execute(home_product())
    ledger.execute(publish("2024-02-01", "0.042"))
    with pytest.raises(
        NoIndexRateError,
        match=r"index 'LPR5Y' has no value published on or before 2024-01-02 "
        r"\(its first value is effective from 2024-02-01\)",
    ):
        ledger.execute(home_loan()[0])
    with pytest.raises(LoanNotFoundError):
        ledger.loan("L-1", as_of="2024-01-02")


def test_an_approved_rate_other_than_index_plus_spread_is_refused(ledger: LoanLedger) -> None:
    ledger.execute(home_product())
    ledger.execute(publish("2023-12-20", "0.042"))
    lines = home_loan(annual_rate="0.05")
    for line in lines[:-1]:
        ledger.execute(line)
    with pytest.raises(
        FloatingRateError,
        match=r"approve: annual_rate 0.05 is not product 'HOME' version 1's floating rate LPR5Y "
        r"0.042 \(published 2023-12-20\) \+ spread 0.0035 = 0.0455",
    ):
        ledger.execute(lines[-1])
    assert ledger.loan("L-1", as_of="2024-01-10")["status"] == "reviewed"


def test_a_floor_and_a_cap_bound_the_rate(ledger: LoanLedger) -> None:
    for line in [
        home_product(floor="0.046", cap="0.06"),
        publish("2023-12-20", "0.042"),
        publish("2024-07-22", "0.0385"),
        *home_loan(annual_rate="0.046"),
        disburse("L-1", "2024-01-15", "1000000.00"),
    ]:
        ledger.execute(line)
    _close_past_the_reset(ledger)
    assert ledger.loan("L-1", as_of="2025-01-15")["rate"]["annual_rate"] == "0.046"


@pytest.mark.parametrize(
    ("rate", "error", "message"),
    [
        ("NaN", InvalidIndexRateError, "rate must be a finite number"),
        ("0.0385001", InvalidIndexRateError, "at most 6 decimal places"),
        ("0.31", InvalidIndexRateError, "between 0 and 0.30"),
        ("-0.01", InvalidIndexRateError, "between 0 and 0.30"),
        (0.0385, InvalidIndexRateError, "not float"),
    ],
)
def test_an_index_rate_that_is_not_sane_is_refused_and_nothing_is_recorded(
    ledger: LoanLedger, rate: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ledger.execute(
            {"command": "publish_rate", "index": "LPR5Y", "on": "2024-01-02", "rate": rate}
        )
    assert ledger.verify().events_checked == 0


def test_publish_rate_refuses_unknown_fields_and_bad_index_names(ledger: LoanLedger) -> None:
    with pytest.raises(InvalidCommandError):
        ledger.execute(publish("2024-01-02", "0.04") | {"tenor": "5Y"})
    with pytest.raises(InvalidCommandError):
        ledger.execute(publish("2024-01-02", "0.04", index="lpr 5y"))


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ({"type": "fixed", "index": "LPR5Y"}, "a fixed rate takes no index"),
        (
            {"type": "floating", "index": "LPR5Y", "reset": "anniversary"},
            "a floating rate needs spread",
        ),
        (
            {
                "type": "floating",
                "index": "LPR5Y",
                "spread": "0.0035",
                "reset": "anniversary",
                "floor": "0.05",
                "cap": "0.04",
            },
            "the floor 0.05 is above the cap 0.04",
        ),
        (
            {"type": "floating", "index": "LPR5Y", "spread": "0.2", "reset": "anniversary"},
            "a spread is a fraction between",
        ),
    ],
)
def test_an_inconsistent_rate_definition_is_refused(
    ledger: LoanLedger, rate: dict[str, str], message: str
) -> None:
    line = home_product()
    line["rate"] = rate
    with pytest.raises(InvalidProductError, match=message):
        ledger.execute(line)


def test_a_correction_of_a_published_value_is_a_new_version_known_from_when_it_was_recorded(
    ledger: LoanLedger,
) -> None:
    first = ledger.execute(publish("2024-01-22", "0.042"))
    again = ledger.execute(publish("2024-01-22", "0.042"))
    corrected = ledger.execute(publish("2024-01-22", "0.0415"))
    assert (first["version"], again["version"], corrected["version"]) == (1, 1, 2)
    stream = ledger.book.rate_index("LPR5Y")
    assert stream.in_force("LPR5Y", stream.facts[0].effective_date).rate == Decimal("0.0415")
    assert stream.in_force(
        "LPR5Y", stream.facts[0].effective_date, known_at=stream.facts[0].timestamp
    ).rate == Decimal("0.042")


def test_once_the_register_is_required_an_administrator_publishes_the_rate(
    ledger: LoanLedger,
) -> None:
    ledger.execute(
        {
            "command": "grant_authority",
            "staff_id": "admin-2",
            "on": "2024-01-01",
            "role": "administrator",
            "granted_by": "admin-1",
        }
    )
    ledger.execute({"command": "set_policy", "on": "2024-01-01", "require_staff_register": True})
    with pytest.raises(
        UnregisteredStaffError,
        match="publish_rate: the book requires the staff register, so published_by must name",
    ):
        ledger.execute(publish("2024-01-22", "0.042"))
    with pytest.raises(UnregisteredStaffError, match="'rev-1' holds no administrator authority"):
        ledger.execute(publish("2024-01-22", "0.042") | {"published_by": "rev-1"})
    result = ledger.execute(publish("2024-01-22", "0.042") | {"published_by": "admin-2"})
    assert (result["index"], result["version"]) == ("LPR5Y", 1)


def test_an_interest_only_loan_pays_interest_at_the_new_rate_after_a_reset(
    ledger: LoanLedger,
) -> None:
    _book(ledger, method="interest_only")
    _close_past_the_reset(ledger)
    rows = _rows(ledger, "2025-01-15")
    # 1,000,000.00 × 0.0455 / 12 = 3791.666… → 3791.67; × 0.042 / 12 = 3500.00.
    assert (rows[12]["interest"], rows[12]["principal"]) == ("3791.67", "0.00")
    assert (rows[13]["interest"], rows[13]["principal"]) == ("3500.00", "0.00")
    assert (rows[60]["interest"], rows[60]["principal"]) == ("3500.00", "1000000.00")


def test_explain_of_overdue_interest_names_the_rate_periods_and_the_reset(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    _close_past_the_reset(ledger, "2025-01-20")
    why = ledger.explain("L-1", "overdue_interest", as_of="2025-01-20")
    assert why["rule"].endswith(
        "; interest at 0.0455 from 2024-01-10, 0.042 from 2025-01-15 (RateReset, LPR5Y 0.0385 "
        "+ 0.0035)"
    )
    assert [fact["type"] for fact in why["facts"]][-1] == "RateReset"


def test_each_schedule_row_carries_the_rate_its_interest_is_charged_at(
    ledger: LoanLedger,
) -> None:
    # Before the reset is recorded every row shows the approved rate; after it, rows due up to
    # the anniversary keep 0.0455 and every row from 2025-02-15 (the first period starting on
    # 2025-01-15) carries the new 0.042.
    _book(ledger)
    _close_through(ledger, "2024-01-15")
    assert {row["annual_rate"] for row in ledger.schedule("L-1", as_of="2024-01-15")} == {"0.0455"}
    _close_through(ledger, "2024-12-31", "2025-01-15")
    rows = ledger.schedule("L-1", as_of="2025-01-15")
    assert [row["annual_rate"] for row in rows] == ["0.0455"] * 12 + ["0.042"] * 48
    assert (rows[11]["due_date"], rows[12]["due_date"]) == ("2025-01-15", "2025-02-15")
    # Known as of the day before the reset, the schedule is the approved one throughout.
    assert {row["annual_rate"] for row in ledger.schedule("L-1", as_of="2025-01-14")} == {"0.0455"}


def test_a_row_straddling_a_reset_carries_the_rate_in_force_on_its_last_interest_day(
    ledger: LoanLedger,
) -> None:
    # Row 12 (2024-12-15 .. 2025-01-15) is charged 17 days at 0.0455 and 14 at 0.042: it shows
    # 0.042, the rate in force on 2025-01-14, the last day of its period.
    _book(ledger, reset="january_first")
    _close_past_the_reset(ledger)
    rows = _rows(ledger, "2025-01-15")
    assert [rows[number]["annual_rate"] for number in (11, 12, 13, 60)] == [
        "0.0455",
        "0.042",
        "0.042",
        "0.042",
    ]
