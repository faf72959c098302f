"""A newcomer's first steps: the demo enters some facts late (so `known_at` shows a difference),
prints how to reach its store and key, and the master-key errors give the advice that fits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from loanledger import LoanLedger, MasterKeyMissingError
from loanledger.entrypoints.cli import app
from loanledger.entrypoints.synthetic import SyntheticBook
from loanledger.entrypoints.synthetic_late import BookClock, LateFact, LateFacts, entered_at
from loanledger.entrypoints.synthetic_mix import START
from tests.journal import pre_loan

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Result]]:
    """A 20-loan demo made without a master key in the environment (it saves its own)."""
    out = tmp_path_factory.mktemp("first-steps") / "loanledger-demo"
    result = invoke("demo", "--loans", "20", "--out", str(out), env={"LOANLEDGER_MASTER_KEY": ""})
    assert result.exit_code == 0, result.stderr or repr(result.exception)
    yield out, result


def _db(out: Path) -> str:
    return f"sqlite:///{out}/demo.db"


def test_the_demo_prints_the_line_that_opens_its_store_with_its_key(
    demo: tuple[Path, Result],
) -> None:
    out, result = demo

    assert (
        f"to look at this book: export LOANLEDGER_DB=sqlite:///{out}/demo.db "
        f"LOANLEDGER_MASTER_KEY=$(cat {out}/master.key)\n"
    ) in result.stdout


def test_the_demo_lists_the_facts_it_entered_late(demo: tuple[Path, Result]) -> None:
    _, result = demo
    printed = " ".join(result.stdout.split())

    assert (
        "entered late (ask with known_at to see the book before): L-00005 repay of 2024-04-08 "
        "entered 2024-04-11, L-00006 repay of 2024-04-17 entered 2024-04-20, L-00009 repay of "
        "2024-05-25 entered 2024-05-28, L-00011 revalue_collateral of 2024-10-12 entered "
        "2024-10-22, L-00009 revalue_collateral of 2024-10-25 entered 2024-11-04"
    ) in printed


def test_a_repayment_entered_late_shows_as_overdue_only_as_known_before_it_was_entered(
    demo: tuple[Path, Result],
) -> None:
    out, _ = demo
    key = (out / "master.key").read_text().strip()
    ledger = LoanLedger.open(_db(out), master_key=key)
    try:
        then = ledger.loan("L-00005", as_of="2024-04-09", known_at="2024-04-09T18:00:00+08:00")
        now = ledger.loan("L-00005", as_of="2024-04-09")
        notices = ledger.report("notices", as_of="2024-04-30")
    finally:
        ledger.close()

    assert (then["status"], then["days_past_due"], then["overdue_principal"]) == (
        "overdue",
        1,
        "639.00",
    )
    assert (now["status"], now["days_past_due"], now["overdue_principal"]) == ("active", 0, "0.00")
    assert "L-00005/dunning/2024-04-09" in {row["notice_id"] for row in notices}


def test_the_demo_records_each_day_at_six_in_the_evening_in_shanghai() -> None:
    clock = BookClock(START)

    assert clock().isoformat() == "2024-01-02T10:00:00+00:00"
    clock.day = date(2024, 4, 11)
    assert clock() == entered_at(date(2024, 4, 11))
    assert clock().isoformat() == "2024-04-11T10:00:00+00:00"


def _late_book(loans: int) -> tuple[list[dict[str, Any]], list[LateFact]]:
    clock = BookClock(START)
    ledger = LoanLedger.open("memory://", clock=clock)
    try:
        late = LateFacts()
        commands: list[dict[str, Any]] = []
        SyntheticBook(ledger, loans=loans, seed=7, months=8, clock=clock, late=late).run(
            commands.append
        )
        return commands, late.entered
    finally:
        ledger.close()


def test_the_late_book_is_the_same_on_every_run_and_replays_into_an_empty_ledger() -> None:
    first, late = _late_book(12)
    again, late_again = _late_book(12)

    assert first == again and late == late_again
    assert [fact.command for fact in late].count("repay") == 3
    replayed = LoanLedger.open("memory://")
    try:
        assert replayed.load(json.dumps(command) for command in first) == {"applied": len(first)}
    finally:
        replayed.close()


# --- master keys ---------------------------------------------------------------------------------


def test_a_store_with_personal_data_and_no_key_asks_for_its_own_key_never_a_new_one(
    demo: tuple[Path, Result],
) -> None:
    out, _ = demo

    result = invoke("archive", "L-00002", "--db", _db(out), env={"LOANLEDGER_MASTER_KEY": ""})

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: no master key for {_db(out)}: its personal data is ")
    assert "set LOANLEDGER_MASTER_KEY to the key this store was written with" in result.stderr
    assert "LOANLEDGER_MASTER_KEY=$(cat loanledger-demo/master.key)" in result.stderr
    assert "new-master-key" not in result.stderr


def test_an_empty_store_without_a_key_may_start_with_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOANLEDGER_MASTER_KEY", raising=False)
    ledger = LoanLedger.open(f"sqlite:///{tmp_path}/new.db")
    try:
        with pytest.raises(MasterKeyMissingError, match="`loanledger new-master-key` prints one"):
            ledger.execute(pre_loan("L-0001")[0])
    finally:
        ledger.close()


@pytest.mark.parametrize(
    "args",
    [
        ("loan", "L-00002", "--as-of", "2025-06-30", "--format", "json"),
        ("schedule", "L-00002", "--format", "json"),
        ("installments", "L-00002", "--as-of", "2025-06-30", "--format", "json"),
        ("explain", "L-00002", "days_past_due", "--as-of", "2025-06-30", "--format", "json"),
        ("report", "loan_ledger", "--as-of", "2025-06-30", "--format", "json"),
        ("report", "worklist", "--as-of", "2025-06-30", "--format", "json"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_queries_that_print_no_personal_data_run_without_the_key_and_match_the_keyed_answer(
    demo: tuple[Path, Result], args: tuple[str, ...]
) -> None:
    out, _ = demo
    key = (out / "master.key").read_text().strip()

    keyless = invoke(*args, "--db", _db(out), env={"LOANLEDGER_MASTER_KEY": ""})
    keyed = invoke(*args, "--db", _db(out), env={"LOANLEDGER_MASTER_KEY": key})

    assert keyless.exit_code == 0, keyless.stderr
    assert keyless.stdout == keyed.stdout
    assert "[withheld]" not in keyless.stdout


def test_the_loan_level_report_shows_names_so_it_still_needs_the_key(
    demo: tuple[Path, Result],
) -> None:
    out, _ = demo

    result = invoke(
        "report", "loan_level", "--as-of", "2025-06-30", "--db", _db(out),
        env={"LOANLEDGER_MASTER_KEY": ""},
    )  # fmt: skip

    assert result.exit_code == 1
    assert "no master key for" in result.stderr


# --- spreadsheets and tables ----------------------------------------------------------------------


def test_two_xlsx_exports_of_a_past_report_are_byte_identical_and_say_what_they_hold(
    demo: tuple[Path, Result], tmp_path: Path
) -> None:
    out, _ = demo
    args = ("report", "aging", "--as-of", "2025-06-30", "--known-at", "2025-07-01T12:00:00+08:00")
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"

    for path in (first, second):
        written = invoke(*args, "--format", "xlsx", "--output", str(path), "--db", _db(out))
        assert written.exit_code == 0, written.stderr

    assert first.read_bytes() == second.read_bytes()
    sheet = load_workbook(first).worksheets[0]
    assert [(row[0].value, row[1].value) for row in sheet.iter_rows(max_row=5)] == [
        ("book", _db(out)),
        ("report", "aging"),
        ("as of", "2025-06-30"),
        ("known at", "2025-07-01T04:00:00+00:00"),
        ("rule set", "CN-2023"),
    ]


def test_the_demo_writes_summaries_as_spreadsheets_with_numbers_and_a_totals_row(
    demo: tuple[Path, Result],
) -> None:
    out, _ = demo
    sheet = load_workbook(out / "aging.xlsx").worksheets[0]
    header = [cell.value for cell in sheet[7]]
    rows = list(sheet.iter_rows(min_row=8, values_only=True))

    assert header == ["bucket", "loans", "principal_outstanding", "overdue_amount"]
    assert sheet.freeze_panes == "A8" and sheet.auto_filter.ref == "A7:D15"
    assert rows[-1] == ("total", 9, 1360170.51, 241330.68)
    assert sheet.cell(row=8, column=3).number_format == "#,##0.00"


def test_the_demo_prints_its_summaries_with_separators_and_totals(
    demo: tuple[Path, Result],
) -> None:
    _, result = demo

    assert "│ total           │     9 │          1,360,170.51 │" in result.stdout
    assert "│ normal          │     7 │          1,119,248.89 │" in result.stdout


def test_an_installments_spreadsheet_names_its_loan_and_holds_amounts_as_numbers(
    demo: tuple[Path, Result], tmp_path: Path
) -> None:
    out, _ = demo
    path = tmp_path / "installments.xlsx"

    written = invoke(
        "installments", "L-00002", "--as-of", "2025-06-30", "--format", "xlsx",
        "--output", str(path), "--db", _db(out), env={"LOANLEDGER_MASTER_KEY": ""},
    )  # fmt: skip

    assert written.exit_code == 0, written.stderr
    sheet = load_workbook(path).worksheets[0]
    assert (sheet["A2"].value, sheet["B2"].value) == ("report", "installments of L-00002")
    header = [cell.value for cell in sheet[7]]
    first = {name: cell for name, cell in zip(header, sheet[8], strict=True)}
    assert (first["principal_due"].value, first["principal_due"].number_format) == (
        3364.68,
        "#,##0.00",
    )
    assert first["due_date"].is_date
