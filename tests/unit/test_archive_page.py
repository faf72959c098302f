"""How the archive page writes values (`loanledger.reports.archive_page`): as a reader expects,
never as a Python value."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from loanledger.reports.amounts import amount_text
from loanledger.reports.archive_page import (
    amount_display,
    changes_html,
    fields_html,
    page_rows,
    rate_display,
    scalar_text,
)

amounts = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4, allow_nan=False
)


@given(amounts)
def test_an_amount_reads_as_the_ledgers_amount_text_with_thousands_separators(
    value: Decimal,
) -> None:
    shown = amount_display(str(value))

    assert shown.replace(",", "") == amount_text(value)
    whole = shown.lstrip("-").split(".")[0]
    assert all(len(group) == 3 for group in whole.split(",")[1:])
    assert 1 <= len(whole.split(",")[0]) <= 3


def test_amounts_rates_booleans_and_nothing_read_as_words_and_figures() -> None:
    assert amount_display("1234567.891") == "1,234,567.89"
    assert amount_display("-0.005") == "-0.01"  # ROUND_HALF_UP, as amount_text
    assert (rate_display("0.0435"), rate_display("0.1"), rate_display("0.043125")) == (
        "4.35%",
        "10.00%",
        "4.3125%",
    )
    assert [scalar_text("passed", value) for value in (True, False, None)] == ["yes", "no", "—"]
    assert scalar_text("amount", "12000") == "12,000.00"  # an amount recorded without decimals
    assert scalar_text("ltv", "0.6173") == "0.6173"
    assert scalar_text("days_past_due", 91) == "91"
    assert scalar_text("reference", "R-1") == "R-1"
    assert scalar_text("due_date", "2024-02-15") == "2024-02-15"


def test_records_and_lists_become_small_tables_and_joined_text_never_reprs() -> None:
    html = fields_html(
        {
            "allocation": {"interest": "4475.31", "principal": "95524.69"},
            "investigators": ["inv-1", "inv-2"],
            "borrower": {"id": "B-1", "name": "张*", "id_number": None},
            "warnings": [],
            "prepay": False,
        }
    )

    assert "<table" in html and "4,475.31" in html and "95,524.69" in html
    assert "inv-1, inv-2" in html and "prepay:</span> no" in html
    for repr_text in ("{'", "None", "True", "False", "[]"):
        assert repr_text not in html


def test_a_change_that_reads_the_same_both_ways_is_not_shown() -> None:
    html = changes_html({"warnings": [None, []], "status": [None, "applied"]})

    assert "warnings" not in html
    assert "status:</span> — → applied" in html


def test_time_driven_rows_stand_before_the_first_fact_on_or_after_their_date() -> None:
    archive = {
        "facts": [
            {"version": 1, "effective_date": "2024-01-02"},
            {"version": 2, "effective_date": "2024-02-16"},
            {"version": 3, "effective_date": None},  # unreadable
            {"version": 4, "effective_date": "2024-03-01"},
        ],
        "timeline": [{"date": "2024-02-16"}, {"date": "2024-02-20"}, {"date": "2024-04-01"}],
    }

    rows = [(row["kind"], row.get("version") or row.get("date")) for row in page_rows(archive)]

    assert rows == [
        ("fact", 1),
        ("time", "2024-02-16"),
        ("fact", 2),
        ("fact", 3),
        ("time", "2024-02-20"),
        ("fact", 4),
        ("time", "2024-04-01"),
    ]
