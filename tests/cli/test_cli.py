"""The `loanledger` command line end to end, through its real entry point, on SQLite files."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from loanledger import LoanLedger
from loanledger.entrypoints.cli import app
from loanledger.entrypoints.demo import defaulted_loan
from loanledger.persistence.ids import loan_uuid
from loanledger.reports import formats
from tests.html import TagBalance
from tests.integration.tampering import flip_bit, overwrite_state, stored_states
from tests.journal import disburse, lines, pre_loan, repay

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=stdin)


def events_recorded(url: str) -> int:
    ledger = LoanLedger.open(url)
    try:
        return ledger.verify().events_checked
    finally:
        ledger.close()


def book() -> list[dict[str, Any]]:
    """Two loans: L-0001 disbursed 2024-01-15 and repaid once, L-0002 disbursed and unpaid."""
    return [
        *pre_loan("L-0001"),
        disburse("L-0001", "2024-01-15", "12000.00"),
        *pre_loan("L-0002", borrower_id="B-2", amount="6000.00", method="equal_principal"),
        disburse("L-0002", "2024-01-16", "6000.00"),
        repay("L-0001", "2024-02-15", "1032.80", "R-1"),
    ]


def write_journal(path: Path, commands: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(lines(commands)) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/ledger.db"


@pytest.fixture
def loaded(tmp_path: Path, db: str) -> str:
    """A ledger with the two-loan book recorded and closed through 2024-03-31."""
    result = invoke("load", str(write_journal(tmp_path / "book.jsonl", book())), "--db", db)
    assert result.exit_code == 0, result.stderr
    result = invoke("close-day", "--through", "2024-03-31", "--db", db)
    assert result.exit_code == 0, result.stderr
    return db


# --- load ----------------------------------------------------------------------------------------


def test_load_records_every_command_of_a_journal_file(tmp_path: Path, db: str) -> None:
    result = invoke("load", str(write_journal(tmp_path / "book.jsonl", book())), "--db", db)

    assert result.exit_code == 0, result.stderr
    assert "loaded 11 commands" in result.stdout
    assert events_recorded(db) == 11


def test_load_reads_the_journal_from_stdin_when_the_file_is_a_dash(db: str) -> None:
    result = invoke("load", "-", "--db", db, stdin="\n".join(lines(book())) + "\n")

    assert result.exit_code == 0, result.stderr
    assert events_recorded(db) == 11


def test_a_dry_run_validates_every_line_and_records_nothing(tmp_path: Path, db: str) -> None:
    journal = write_journal(tmp_path / "book.jsonl", book())

    result = invoke("load", str(journal), "--dry-run", "--db", db)

    assert result.exit_code == 0, result.stderr
    assert "11 commands valid" in result.stdout
    assert events_recorded(db) == 0


def test_a_malformed_line_is_refused_with_its_number_and_nothing_of_the_file_is_recorded(
    tmp_path: Path, loaded: str
) -> None:
    before = events_recorded(loaded)
    journal = tmp_path / "bad.jsonl"
    good = lines([repay("L-0001", "2024-03-15", "1032.80", "R-2")])
    journal.write_text(f"{good[0]}\n\n{{not json\n", encoding="utf-8")

    result = invoke("load", str(journal), "--db", loaded)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: line 3: not valid JSON")
    assert len(result.stderr.strip().splitlines()) == 1
    assert events_recorded(loaded) == before


def test_a_command_with_an_unknown_field_is_refused_by_the_dry_run(tmp_path: Path, db: str) -> None:
    bad = {**repay("L-0001", "2024-03-15", "1032.80", "R-2"), "colour": "red"}
    journal = write_journal(tmp_path / "bad.jsonl", [*book(), bad])

    result = invoke("load", str(journal), "--dry-run", "--db", db)

    assert result.exit_code == 2
    assert "line 12: repay: unknown field 'colour'" in result.stderr


def test_a_line_the_ledger_refuses_stops_the_load_and_names_the_line(
    tmp_path: Path, db: str
) -> None:
    commands = pre_loan("L-0009")
    commands[2] = {**commands[2], "reviewer": "inv-1"}  # the reviewer investigated too
    journal = write_journal(tmp_path / "duties.jsonl", commands)

    result = invoke("load", str(journal), "--db", db)

    assert result.exit_code == 2
    assert "error: line 3:" in result.stderr
    assert "must not be one of the investigators" in result.stderr
    assert "the 2 commands before it stay applied" in result.stderr
    assert events_recorded(db) == 2


def test_a_missing_journal_file_is_refused(tmp_path: Path, db: str) -> None:
    result = invoke("load", str(tmp_path / "nope.jsonl"), "--db", db)

    assert result.exit_code == 2
    assert "no journal file" in result.stderr


# --- close-day -----------------------------------------------------------------------------------


def test_close_day_starts_at_the_earliest_effective_date_and_then_continues_after_the_last(
    tmp_path: Path, db: str
) -> None:
    invoke("load", str(write_journal(tmp_path / "book.jsonl", book())), "--db", db)

    first = invoke("close-day", "--through", "2024-01-31", "--db", db)
    second = invoke("close-day", "--through", "2024-02-16", "--db", db)
    again = invoke("close-day", "--through", "2024-02-16", "--db", db)

    assert first.exit_code == 0, first.stderr
    assert "closed 30 days 2024-01-02..2024-01-31" in first.stdout
    assert "closed 16 days 2024-02-01..2024-02-16" in second.stdout
    assert "nothing to close: closed through 2024-02-16 already" in again.stdout
    ledger = LoanLedger.open(db)
    try:
        assert ledger.last_closed_day() == date(2024, 2, 16)
    finally:
        ledger.close()


def test_close_day_on_an_empty_ledger_has_nothing_to_close(db: str) -> None:
    result = invoke("close-day", "--through", "2024-01-31", "--db", db)

    assert result.exit_code == 0
    assert "nothing to close" in result.stdout


def test_close_day_refuses_a_bad_date(loaded: str) -> None:
    result = invoke("close-day", "--through", "2024-02-30", "--db", loaded)

    assert result.exit_code == 2
    assert result.stderr == "error: as_of must be an ISO date 'YYYY-MM-DD', got '2024-02-30'\n"


# --- report --------------------------------------------------------------------------------------


def test_report_json_is_exactly_what_the_library_returns(loaded: str) -> None:
    result = invoke("report", "aging", "--as-of", "2024-03-31", "--format", "json", "--db", loaded)

    ledger = LoanLedger.open(loaded)
    try:
        expected = ledger.report("aging", as_of="2024-03-31")
    finally:
        ledger.close()
    assert result.exit_code == 0, result.stderr
    assert result.stdout == json.dumps(expected, ensure_ascii=False, indent=2) + "\n"
    assert [row["bucket"] for row in json.loads(result.stdout)][:3] == ["M0", "M1", "M2"]


def test_report_as_of_a_known_at_moment_before_anything_was_recorded_is_empty(
    loaded: str,
) -> None:
    result = invoke(
        "report", "loan_ledger", "--as-of", "2024-03-31", "--known-at",
        "2000-01-01T00:00:00+00:00", "--format", "json", "--db", loaded,
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_report_csv_has_the_first_rows_keys_as_header_and_joins_lists_with_semicolons(
    loaded: str,
) -> None:
    result = invoke(
        "report", "loan_ledger", "--as-of", "2024-03-31", "--format", "csv", "--db", loaded
    )

    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[:3] == ["loan_id", "status", "principal_outstanding"]
    assert [row["loan_id"] for row in rows] == ["L-0001", "L-0002"]
    unpaid = rows[1]
    assert unpaid["status"] == "overdue"
    assert unpaid["warnings"] == "days_past_due"
    as_json = invoke(
        "report", "loan_ledger", "--as-of", "2024-03-31", "--format", "json", "--db", loaded
    )
    reasons = json.loads(as_json.stdout)[1]["classification_reasons"]
    assert unpaid["classification_reasons"] == ";".join(reasons)
    assert unpaid["next_due_date"] == "2024-04-16"


def test_report_xlsx_holds_the_same_rows_as_the_csv_with_amounts_as_numbers(
    tmp_path: Path, loaded: str
) -> None:
    xlsx = tmp_path / "ledger.xlsx"
    csv_path = tmp_path / "ledger.csv"
    args = ("report", "loan_ledger", "--as-of", "2024-03-31", "--db", loaded)

    written = invoke(*args, "--format", "xlsx", "--output", str(xlsx))
    invoke(*args, "--format", "csv", "--output", str(csv_path))

    assert written.exit_code == 0, written.stderr
    assert f"wrote 2 rows to {xlsx}" in written.stdout
    from_xlsx = formats.read_xlsx(xlsx)
    from_csv = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert [{k: formats.cell_text(v) for k, v in row.items()} for row in from_xlsx] == from_csv
    assert isinstance(from_xlsx[0]["principal_outstanding"], str)  # read back as the report's
    assert isinstance(from_xlsx[0]["days_past_due"], int)
    sheet = load_workbook(xlsx).worksheets[0]
    header = [cell.value for cell in sheet[7]]
    cell = sheet.cell(row=8, column=header.index("principal_outstanding") + 1)
    assert (cell.data_type, cell.number_format) == ("n", "#,##0.00")


def test_report_as_a_table_lists_every_stage(loaded: str) -> None:
    result = invoke("report", "ifrs9_stages", "--as-of", "2024-03-31", "--db", loaded)

    assert result.exit_code == 0, result.stderr
    assert "ifrs9_stages as of 2024-03-31" in result.stdout
    assert "principal_outstanding" in result.stdout


def test_an_unknown_report_is_refused_with_exit_2_and_one_line_on_stderr(loaded: str) -> None:
    result = invoke("report", "balance_sheet", "--as-of", "2024-03-31", "--db", loaded)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: unknown report 'balance_sheet'; reports: aging,")
    assert result.stderr.count("\n") == 1


def test_a_bad_as_of_date_is_refused_with_exit_2(loaded: str) -> None:
    result = invoke("report", "aging", "--as-of", "31/03/2024", "--db", loaded)

    assert result.exit_code == 2
    assert "as_of must be an ISO date" in result.stderr


def test_a_known_at_without_a_timezone_is_refused(loaded: str) -> None:
    result = invoke(
        "report", "aging", "--as-of", "2024-03-31", "--known-at", "2024-03-31T12:00", "--db", loaded
    )

    assert result.exit_code == 2
    assert "known_at must be timezone-aware" in result.stderr


def test_an_unknown_format_and_xlsx_to_stdout_are_refused(loaded: str) -> None:
    args = ("report", "aging", "--as-of", "2024-03-31", "--db", loaded)

    unknown = invoke(*args, "--format", "pdf")
    to_stdout = invoke(*args, "--format", "xlsx")

    assert (unknown.exit_code, to_stdout.exit_code) == (2, 2)
    assert "unknown format 'pdf'" in unknown.stderr
    assert "--format xlsx needs --output PATH" in to_stdout.stderr


# --- schedule, loan ------------------------------------------------------------------------------


def test_schedule_prints_the_rows_in_force(loaded: str) -> None:
    result = invoke("schedule", "L-0001", "--format", "json", "--db", loaded)

    rows = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert len(rows) == 12
    assert rows[0] == {
        "number": 1,
        "due_date": "2024-02-15",
        "principal": rows[0]["principal"],
        "interest": rows[0]["interest"],
        "installment": "1032.80",
        "principal_remaining": rows[0]["principal_remaining"],
        "fee": "0.00",
        "annual_rate": "0.06",
    }


def test_schedule_as_a_table_shows_every_installment(loaded: str) -> None:
    result = invoke("schedule", "L-0002", "--as-of", "2024-02-01", "--db", loaded)

    assert result.exit_code == 0, result.stderr
    assert "schedule of L-0002 as of 2024-02-01" in result.stdout
    assert "2025-01-16" in result.stdout


def test_loan_prints_the_contract_fields(loaded: str) -> None:
    as_json = invoke("loan", "L-0002", "--as-of", "2024-03-31", "--format", "json", "--db", loaded)
    as_table = invoke("loan", "L-0002", "--as-of", "2024-03-31", "--db", loaded)

    view = json.loads(as_json.stdout)
    assert (as_json.exit_code, as_table.exit_code) == (0, 0)
    assert (view["status"], view["days_past_due"], view["bucket"]) == ("overdue", 44, "M2")
    assert "days_past_due" in as_table.stdout


def test_an_unknown_loan_is_refused(loaded: str) -> None:
    result = invoke("loan", "L-404", "--as-of", "2024-03-31", "--db", loaded)

    assert result.exit_code == 2
    assert result.stderr == "error: loan L-404 has not applied\n"


# --- verify, rebuild -----------------------------------------------------------------------------


def test_verify_reports_every_event_checked(loaded: str) -> None:
    result = invoke("verify", "--db", loaded)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("verify: ok: 2 loans,")


def test_verify_exits_1_and_names_the_first_break_when_stored_bytes_change(loaded: str) -> None:
    ledger = LoanLedger.open(loaded)
    try:
        state = stored_states(ledger, loan_uuid("L-0002"))[3]
        overwrite_state(ledger, loan_uuid("L-0002"), 3, flip_bit(state, len(state) - 3))
    finally:
        ledger.close()

    result = invoke("verify", "--db", loaded)

    assert result.exit_code == 1
    assert "BROKEN" in result.stdout
    assert result.stderr.startswith("first break: ")
    assert "L-0002" in result.stderr


def test_rebuild_rebuilds_the_projections_and_reports_stay_the_same(loaded: str) -> None:
    args = ("report", "loan_ledger", "--as-of", "2024-03-31", "--format", "json", "--db", loaded)
    before = invoke(*args).stdout

    result = invoke("rebuild", "--db", loaded)

    assert result.exit_code == 0, result.stderr
    assert "rebuilt projections" in result.stdout
    assert invoke(*args).stdout == before


# --- demo ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("demo")
    result = invoke("demo", "--loans", "20", "--out", str(out))
    assert result.exit_code == 0, result.stderr or repr(result.exception)
    yield out


def _last_closed(journal: Path) -> str:
    last = ""
    for line in journal.read_text(encoding="utf-8").splitlines():
        command = json.loads(line)
        if command["command"] == "close_day":
            last = command["on"]
    return last


def test_the_demo_journal_replays_into_a_fresh_ledger_with_the_same_reports(
    demo_out: Path,
) -> None:
    journal = demo_out / "journal.jsonl"
    as_of = _last_closed(journal)
    replayed = LoanLedger.open("memory://")
    original = LoanLedger.open(f"sqlite:///{demo_out}/demo.db")
    try:
        replayed.load(journal)
        for name in ("five_category", "aging", "loan_ledger"):
            assert replayed.report(name, as_of=as_of) == original.report(name, as_of=as_of)
            written = (demo_out / f"{name}.csv").read_text(encoding="utf-8")
            assert formats.to_csv(replayed.report(name, as_of=as_of)) == written
    finally:
        replayed.close()
        original.close()


def test_the_demo_writes_each_report_as_csv_and_xlsx_with_the_same_rows(demo_out: Path) -> None:
    for name in ("five_category", "aging", "ifrs9_stages", "loan_ledger"):
        from_csv = list(csv.DictReader(io.StringIO((demo_out / f"{name}.csv").read_text())))
        from_xlsx = formats.read_xlsx(demo_out / f"{name}.xlsx")
        assert from_csv, name
        assert [{k: formats.cell_text(v) for k, v in row.items()} for row in from_xlsx] == from_csv


def test_the_demo_draws_the_monthly_aging_chart_as_a_png(demo_out: Path) -> None:
    chart = demo_out / "aging_by_month.png"

    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 10_000


def test_the_demo_draws_the_regulators_charts_as_pngs(demo_out: Path) -> None:
    for name in ("aging", "npl_par", "roll_rates", "vintage"):
        chart = demo_out / f"chart_{name}.png"
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert chart.stat().st_size > 10_000, name


def test_the_demo_writes_the_archive_of_a_defaulted_loan_as_a_well_formed_page(
    demo_out: Path,
) -> None:
    rows = list(csv.DictReader(io.StringIO((demo_out / "loan_ledger.csv").read_text())))
    chosen = defaulted_loan([{**row, "days_past_due": int(row["days_past_due"])} for row in rows])
    assert chosen is not None
    assert next(row for row in rows if row["loan_id"] == chosen)["status"] in (
        "written_off",
        "legal_recovery",
        "overdue",
    )
    page = (demo_out / f"archive_{chosen}.html").read_text(encoding="utf-8")
    checker = TagBalance()
    checker.feed(page)
    checker.close()
    assert checker.open == []
    original = LoanLedger.open(f"sqlite:///{demo_out}/demo.db")
    try:
        facts = original.archive(chosen)["facts"]
    finally:
        original.close()
    assert len(facts) > 5
    for fact in facts:  # every fact of the loan is on the page
        assert fact["fact"] in page and fact["hash"] in page


def test_the_demo_refuses_a_store_that_already_holds_loans(loaded: str, tmp_path: Path) -> None:
    result = invoke("demo", "--loans", "3", "--db", loaded, "--out", str(tmp_path / "out"))

    assert result.exit_code == 2
    assert "already holds loans" in result.stderr


# --- the console script ---------------------------------------------------------------------


def test_the_console_script_lists_every_command() -> None:
    script = Path(sys.executable).with_name("loanledger")
    command = (
        [str(script)] if script.exists() else [sys.executable, "-m", "loanledger.entrypoints.cli"]
    )

    result = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, check=False, timeout=60
    )

    assert result.returncode == 0, result.stderr
    for name in ("demo", "load", "close-day", "report", "schedule", "loan", "verify", "rebuild"):
        assert name in result.stdout


def test_a_store_that_cannot_be_opened_is_one_line_on_stderr_with_exit_1(tmp_path: Path) -> None:
    result = invoke("verify", "--db", f"sqlite:///{tmp_path}/missing/dir/ledger.db")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot open store sqlite:///")
    assert result.stderr.count("\n") == 1


def test_a_journal_that_is_not_utf8_is_refused_and_nothing_is_recorded(
    tmp_path: Path, db: str
) -> None:
    journal = tmp_path / "latin1.jsonl"
    journal.write_bytes(b'{"command": "close_day", "on": "2024-01-02"}\n{"purpose": "caf\xe9"}\n')

    result = invoke("load", str(journal), "--db", db)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: the journal is not UTF-8 text")
    assert events_recorded(db) == 0


def test_help_text_keeps_the_erased_placeholder_literal() -> None:
    """Rich markup would read `[erased]` as a style tag and drop it from the help."""
    from typer.testing import CliRunner

    from loanledger.entrypoints.cli import app

    runner = CliRunner()
    for command in ("forget-borrower", "forget-guarantor"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert "[erased]" in result.output


def test_rebuild_and_verify_with_workers_run_on_a_local_dask_cluster_to_the_same_result(
    loaded: str,
) -> None:
    args = ("report", "loan_ledger", "--as-of", "2024-03-31", "--format", "json", "--db", loaded)
    before = invoke(*args).stdout
    serial = invoke("verify", "--db", loaded).stdout

    rebuilt = invoke("rebuild", "--workers", "2", "--db", loaded)
    verified = invoke("verify", "--workers", "2", "--db", loaded)

    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert "rebuilt projections" in rebuilt.stdout
    assert "rebuild (2 workers)" in rebuilt.stderr  # the progress bar
    assert invoke(*args).stdout == before
    assert verified.exit_code == 0, verified.stderr
    assert verified.stdout == serial


def test_a_worker_count_below_one_is_refused_by_the_command_line(loaded: str) -> None:
    result = invoke("rebuild", "--workers", "0", "--db", loaded)

    assert result.exit_code == 2
    assert "--workers" in result.stderr


def test_load_with_workers_records_what_the_single_process_load_records(
    tmp_path: Path, db: str
) -> None:
    journal = write_journal(tmp_path / "book.jsonl", book())
    parallel_db = f"sqlite:///{tmp_path}/parallel.db"
    args = ("report", "loan_ledger", "--as-of", "2024-03-31", "--format", "json", "--db")

    serial = invoke("load", str(journal), "--db", db)
    parallel = invoke("load", str(journal), "--workers", "2", "--db", parallel_db)

    assert parallel.exit_code == 0, parallel.stderr
    assert parallel.stdout.replace(parallel_db, db) == serial.stdout
    assert invoke(*args, parallel_db).stdout == invoke(*args, db).stdout
    assert events_recorded(parallel_db) == events_recorded(db)
