"""Terminal tables: separators, right-aligned amounts, totals rows, 80 columns, plural words."""

from __future__ import annotations

from rich.console import Console

from loanledger.entrypoints.console import plural
from loanledger.reports import formats
from loanledger.reports.tables import shown

TRIAL_BALANCE = [
    {"account": "loans_principal", "debit": "1360170.51", "credit": "0.00"},
    {"account": "cash_clearing", "debit": "0.00", "credit": "1304820.52"},
    {"account": "interest_income", "debit": "0.00", "credit": "55349.99"},
]


def _printed(renderable: object, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, no_color=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text().splitlines()


def test_amounts_and_counts_are_shown_with_thousands_separators() -> None:
    assert shown("1360170.51") == "1,360,170.51"
    assert shown("0.00") == "0.00"
    assert shown(37700) == "37,700"
    assert shown("0.6543") == "0.6543"
    assert shown("L-00001") == "L-00001"
    assert shown(["a", "b"]) == "a;b"
    assert (shown(None), shown(True)) == ("", "yes")


def test_the_trial_balance_ends_with_a_totals_row_whose_debits_equal_its_credits() -> None:
    lines = _printed(formats.to_table(TRIAL_BALANCE, title="trial_balance", totals=True))

    assert lines[-2] == "│ total           │ 1,360,170.51 │ 1,360,170.51 │"
    assert lines[-3].startswith("├")
    assert "│ loans_principal │ 1,360,170.51 │         0.00 │" in lines


def test_a_table_too_wide_for_80_columns_is_split_and_never_wraps_an_id_or_an_amount() -> None:
    row = {
        "loan_id": "L-00001/dunning/2025-03-01",
        **{f"amount_number_{n}": "1234567.89" for n in range(9)},
    }
    lines = _printed(formats.to_table([row, row], title="wide"))

    assert max(len(line) for line in lines) <= 80
    assert sum("L-00001/dunning/2025-03-01" in line for line in lines) >= 4  # in every part
    assert sum(line.count("1,234,567.89") for line in lines) == 18
    assert "wide (1 of" in lines[0]


def test_cells_are_plain_text_so_erased_stays_erased() -> None:
    lines = _printed(formats.to_table([{"borrower_name": "[erased]", "amount": "1.00"}]))

    assert any("[erased]" in line for line in lines)


def test_messages_say_one_command_and_two_commands() -> None:
    assert plural(1, "command") == "1 command"
    assert plural(2, "command") == "2 commands"
    assert plural(0, "loan") == "0 loans"
    assert plural(37700, "command") == "37,700 commands"
    assert plural(1, "data key") == "1 data key"


def test_long_free_text_wraps_inside_one_table_and_short_headers_stay_whole() -> None:
    rows = [
        {
            "loan_id": "L-00002",
            "item": "receipt_overdue",
            "detail": "notice L-00002/dunning/2024-04-11 issued 2024-04-11 and not acknowledged",
        },
        {"loan_id": "L-00003", "item": "warning", "detail": "days_past_due"},
    ]
    lines = _printed(formats.to_table(rows, title="worklist"))

    assert max(len(line) for line in lines) <= 80
    assert lines[0].strip() == "worklist"  # one table, not split
    assert "│ loan_id │ item            │" in lines[2].replace("┃", "│")
    assert sum(line.count("L-00002") for line in lines) == 2  # the id, and inside the detail


def test_only_what_the_reports_write_as_amounts_is_taken_for_an_amount() -> None:
    from loanledger.reports.totals import kind_of

    assert [kind_of(value) for value in ("0.00", "-12.50", "1360170.51", "0.6543")] == [
        "amount",
        "amount",
        "amount",
        "ratio",
    ]
    assert [kind_of(value) for value in ("007.10", "1.5", "12", "2024-02-30x", True)] == [
        "text"
    ] * 5
