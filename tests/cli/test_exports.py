"""`archive`, `migrate`, `export loan-level`, `export arbitration` and the ledger reports, through
the real CLI entry point on a SQLite file.

The book, loaded as one chronological journal with a `close_day` line for every date from
2024-01-02 through 2024-05-31 (as a servicing team records it):

- L-0001 (B-1 张三, 12,000.00 annuity at 6%, disbursed 2024-01-15) is never repaid: installment 1
  fell due 2024-02-15, so legal recovery opened on 2024-05-16 (DPD 91);
- L-0002 (B-2 欧阳娜娜, 6,000.00 equal principal, disbursed 2024-01-16) paid 200.00 of its first
  installment (530.00) on 2024-02-16 and nothing after; the borrower signed for the first dunning
  notice on 2024-02-20; legal recovery opened on 2024-05-17;
- L-0003 (B-3 李四, no id number on file, 12,000.00 annuity) pays each installment on its due
  date and is current.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from loanledger import LoanLedger
from loanledger.entrypoints.cli import app
from loanledger.reports import formats
from tests.html import TagBalance
from tests.journal import disburse, lines, pre_loan, repay

runner = CliRunner()

AS_OF = "2024-05-31"
LEGAL_RECOVERY = ["L-0001", "L-0002"]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


def _borrower(
    commands: list[dict[str, Any]], name: str, id_number: str | None
) -> list[dict[str, Any]]:
    """The pre-loan commands with another borrower's name and id number on the application."""
    borrower: dict[str, Any] = {"id": commands[0]["borrower"]["id"], "name": name}
    if id_number is not None:
        borrower["id_number"] = id_number
    return [{**commands[0], "borrower": borrower}, *commands[1:]]


def journal() -> list[dict[str, Any]]:
    facts = [
        *pre_loan("L-0001"),
        disburse("L-0001", "2024-01-15", "12000.00"),
        *_borrower(
            pre_loan("L-0002", borrower_id="B-2", amount="6000.00", method="equal_principal"),
            "欧阳娜娜",
            "44030119851231567X",
        ),
        disburse("L-0002", "2024-01-16", "6000.00"),
        repay("L-0002", "2024-02-16", "200.00", "R-1"),
        {
            "command": "acknowledge_notice",
            "loan_id": "L-0002",
            "on": "2024-02-20",
            "notice_id": "L-0002/dunning/2024-02-17",
        },
        *_borrower(pre_loan("L-0003", borrower_id="B-3"), "李四", None),
        disburse("L-0003", "2024-01-15", "12000.00"),
        *[
            repay("L-0003", f"2024-{month:02d}-15", "1032.80", f"R-{month}")
            for month in range(2, 6)
        ],
    ]
    commands: list[dict[str, Any]] = []
    day = date(2024, 1, 2)
    while day <= date.fromisoformat(AS_OF):
        commands += [command for command in facts if command["on"] == day.isoformat()]
        commands.append({"command": "close_day", "on": day.isoformat()})
        day += timedelta(days=1)
    return commands


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The three-loan book on a SQLite file (loaded once: every test here only reads it)."""
    folder = tmp_path_factory.mktemp("exports")
    path = folder / "book.jsonl"
    path.write_text("\n".join(lines(journal())) + "\n", encoding="utf-8")
    url = f"sqlite:///{folder}/ledger.db"
    result = invoke("load", str(path), "--db", url)
    assert result.exit_code == 0, result.stderr
    return url


@pytest.fixture
def opened(book: str) -> Iterator[LoanLedger]:
    ledger = LoanLedger.open(book)
    try:
        yield ledger
    finally:
        ledger.close()


# --- archive -------------------------------------------------------------------------------------


def test_archive_as_json_prints_exactly_what_the_library_returns(
    book: str, opened: LoanLedger
) -> None:
    result = invoke("archive", "L-0002", "--format", "json", "--db", book)

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == opened.archive("L-0002")


def test_archive_as_html_is_well_formed_and_shows_every_fact(
    book: str, opened: LoanLedger, tmp_path: Path
) -> None:
    page = tmp_path / "L-0002.html"

    result = invoke("archive", "L-0002", "--format", "html", "--output", str(page), "--db", book)

    assert result.exit_code == 0, result.stderr
    assert f"wrote the html archive of L-0002 to {page}" in result.stdout
    parser = TagBalance()
    parser.feed(page.read_text(encoding="utf-8"))
    assert parser.open == []
    text = "".join(parser.text)
    facts = opened.archive("L-0002")["facts"]
    assert len(facts) == 20
    for fact in facts:
        recorded_day, recorded_second = fact["recorded_at"][:10], fact["recorded_at"][11:19]
        for value in (fact["fact"], fact["hash"], fact["previous_hash"], recorded_day):
            assert value in text
        assert recorded_second in text  # the recorded time to the second (UTC)
        assert fact["effective_date"] in text and fact["actor"] in text
    assert "L-0002/dunning/2024-02-17" in text
    assert "verified" in text


def test_archive_refuses_an_unknown_format_and_an_unknown_loan(book: str) -> None:
    pdf = invoke("archive", "L-0001", "--format", "pdf", "--db", book)
    missing = invoke("archive", "L-404", "--db", book)

    assert (pdf.exit_code, missing.exit_code) == (2, 2)
    assert pdf.stderr == "error: unknown format 'pdf'; formats: json, html\n"
    assert missing.stderr == "error: loan L-404 has not applied\n"


# --- migrate -------------------------------------------------------------------------------------


def test_migrate_on_sqlite_explains_that_the_library_creates_its_tables_itself(
    tmp_path: Path,
) -> None:
    result = invoke("migrate", "--db", f"sqlite:///{tmp_path}/new.db")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "nothing to migrate: sqlite stores have no migrations; the library creates their tables "
        "itself when it opens them\n"
    )
    assert not (tmp_path / "new.db").exists()


@pytest.mark.postgres
def test_migrate_on_postgresql_applies_every_migration_and_then_nothing(
    postgres_url: str,
) -> None:
    url = f"{postgres_url}?schema=x_{uuid.uuid4().hex[:12]}"

    first = invoke("migrate", "--db", url)
    second = invoke("migrate", "--db", url)

    assert first.exit_code == 0, first.stderr
    assert first.stdout.splitlines() == [
        "applied 0001_event_store.sql",
        "applied 0002_read_models.sql",
        "applied 0003_immutable_events.sql",
        "applied 0004_roles.sql",
        "applied 0005_personal_data.sql",
        "applied 0006_loan_state.sql",
        "applied 0007_notices.sql",
        "applied 0008_snapshots.sql",
        "applied 0009_loan_state_current_index.sql",
        "applied 0010_transparency.sql",
        "applied 0011_auditor.sql",
        "applied 0012_citus.sql",
    ]
    assert (second.exit_code, second.stdout) == (0, "nothing to apply\n")


# --- report: the general-ledger reports ----------------------------------------------------------


def test_report_accepts_the_trial_balance_and_the_journal_since_a_date(
    book: str, opened: LoanLedger
) -> None:
    trial = invoke("report", "trial_balance", "--as-of", AS_OF, "-f", "json", "--db", book)
    since = invoke(
        "report", "journal", "--as-of", AS_OF, "--since", "2024-05-01", "-f", "json", "--db", book
    )

    assert (trial.exit_code, since.exit_code) == (0, 0), trial.stderr + since.stderr
    assert json.loads(trial.stdout) == opened.report("trial_balance", as_of=AS_OF)
    expected = opened.report("journal", as_of=AS_OF, since=date(2024, 5, 1))
    assert json.loads(since.stdout) == expected
    assert expected
    assert len(expected) < len(opened.report("journal", as_of=AS_OF))


def test_since_is_refused_for_a_report_other_than_the_journal(book: str) -> None:
    result = invoke("report", "aging", "--as-of", AS_OF, "--since", "2024-05-01", "--db", book)

    assert result.exit_code == 2
    assert result.stderr == "error: --since applies to the journal report only, not to 'aging'\n"


# --- export loan-level ---------------------------------------------------------------------------


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_export_loan_level_writes_one_row_per_loan_with_exact_figures(
    book: str, tmp_path: Path
) -> None:
    output = tmp_path / "loan_level.csv"

    result = invoke("export", "loan-level", "--as-of", AS_OF, "--output", str(output), "--db", book)

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    rows = _csv_rows(output)
    assert [row["contract_number"] for row in rows] == ["L-0001", "L-0002", "L-0003"]
    figures = [
        {
            name: row[name]
            for name in (
                "currency",
                "amount",
                "disbursed_on",
                "maturity_date",
                "principal_outstanding",
                "overdue_principal",
                "overdue_interest",
                "days_past_due",
                "status",
                "classification",
                "ifrs9_stage",
                "gl_account",
            )
        }
        for row in rows
    ]
    assert figures == [
        {
            "currency": "CNY",
            "amount": "12000.00",
            "disbursed_on": "2024-01-15",
            "maturity_date": "2025-01-15",
            "principal_outstanding": "12000.00",
            "overdue_principal": "3920.48",
            "overdue_interest": "210.72",
            "days_past_due": "106",
            "status": "legal_recovery",
            "classification": "substandard",
            "ifrs9_stage": "3",
            "gl_account": "loans_principal",
        },
        {
            "currency": "CNY",
            "amount": "6000.00",
            "disbursed_on": "2024-01-16",
            "maturity_date": "2025-01-16",
            "principal_outstanding": "5830.00",
            "overdue_principal": "1830.00",
            "overdue_interest": "75.00",
            "days_past_due": "105",
            "status": "legal_recovery",
            "classification": "substandard",
            "ifrs9_stage": "3",
            "gl_account": "loans_principal",
        },
        {
            "currency": "CNY",
            "amount": "12000.00",
            "disbursed_on": "2024-01-15",
            "maturity_date": "2025-01-15",
            "principal_outstanding": "8079.52",
            "overdue_principal": "0.00",
            "overdue_interest": "0.00",
            "days_past_due": "0",
            "status": "active",
            "classification": "normal",
            "ifrs9_stage": "1",
            "gl_account": "loans_principal",
        },
    ]


def test_export_loan_level_as_xlsx_holds_the_same_rows_as_the_csv(
    book: str, tmp_path: Path
) -> None:
    xlsx, csv_path = tmp_path / "loan_level.xlsx", tmp_path / "loan_level.csv"
    args = ("export", "loan-level", "--as-of", AS_OF, "--db", book)

    written = invoke(*args, "--format", "xlsx", "--output", str(xlsx))
    invoke(*args, "--format", "csv", "--output", str(csv_path))

    assert written.exit_code == 0, written.stderr
    assert f"wrote 3 rows to {xlsx}" in written.stdout
    from_xlsx = formats.read_xlsx(xlsx)
    assert [{k: formats.cell_text(v) for k, v in row.items()} for row in from_xlsx] == _csv_rows(
        csv_path
    )


def test_export_loan_level_refuses_a_format_other_than_csv_or_xlsx(
    book: str, tmp_path: Path
) -> None:
    result = invoke(
        "export", "loan-level", "--as-of", AS_OF, "--format", "json", "--output",
        str(tmp_path / "x.json"), "--db", book,
    )  # fmt: skip

    assert result.exit_code == 2
    assert result.stderr == "error: unknown format 'json'; formats: csv, xlsx\n"


UNMASKED_LINE = re.compile(
    r"^UNMASKED export of personal data by auditor-7 at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\n$"
)


def test_an_unmasked_loan_level_export_logs_who_exported_personal_data_and_when(
    book: str, tmp_path: Path
) -> None:
    output = tmp_path / "unmasked.csv"

    result = invoke(
        "export", "loan-level", "--as-of", AS_OF, "--output", str(output), "--unmasked",
        "--db", book, env={"USER": "auditor-7"},
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert UNMASKED_LINE.match(result.stderr), result.stderr


def test_an_unmasked_export_names_an_unknown_user_when_user_is_not_set(
    book: str, tmp_path: Path
) -> None:
    result = invoke(
        "export", "loan-level", "--as-of", AS_OF, "--output", str(tmp_path / "u.csv"),
        "--unmasked", "--db", book, env={"USER": ""},
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("UNMASKED export of personal data by unknown at ")


def test_export_loan_level_masks_names_and_id_numbers_unless_unmasked(
    book: str, tmp_path: Path
) -> None:
    masked, unmasked = tmp_path / "masked.csv", tmp_path / "unmasked.csv"
    args = ("export", "loan-level", "--as-of", AS_OF, "--db", book)

    invoke(*args, "--output", str(masked))
    invoke(*args, "--output", str(unmasked), "--unmasked")

    def people(path: Path) -> list[tuple[str, str]]:
        return [(row["borrower_name"], row["borrower_id_number"]) for row in _csv_rows(path)]

    assert people(masked) == [
        ("张*", "110101********1234"),
        ("欧***", "440301********567X"),
        ("李*", ""),
    ]
    assert people(unmasked) == [
        ("张三", "110101199001011234"),
        ("欧阳娜娜", "44030119851231567X"),
        ("李四", ""),
    ]


# --- export arbitration --------------------------------------------------------------------------


def _arbitration(book: str, output: Path, *extra: str) -> Result:
    return invoke(
        "export", "arbitration", "--as-of", AS_OF, "--output", str(output), "--db", book, *extra
    )


def _zip_texts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def test_the_arbitration_package_holds_exactly_the_loans_in_legal_recovery_and_an_index(
    book: str, tmp_path: Path
) -> None:
    output = tmp_path / "arbitration.zip"

    result = _arbitration(book, output)

    assert result.exit_code == 0, result.stderr
    assert f"wrote 2 evidence bundles and index.csv to {output}" in result.stdout
    with zipfile.ZipFile(output) as archive:
        assert archive.namelist() == ["L-0001.json", "L-0002.json", "index.csv"]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    index = _zip_texts(output)["index.csv"]
    assert index == (
        "loan_id,borrower_id,principal_outstanding,overdue_principal,overdue_interest,"
        "penalty_outstanding,days_past_due,notices_issued,notices_acknowledged\n"
        "L-0001,B-1,12000.00,3920.48,210.72,63.26,106,9,0\n"
        "L-0002,B-2,5830.00,1830.00,75.00,26.55,105,9,1\n"
    )


def test_the_arbitration_package_is_byte_identical_across_two_runs(
    book: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"

    _arbitration(book, first)
    _arbitration(book, second)

    assert first.read_bytes() == second.read_bytes()


def test_an_evidence_bundle_holds_the_contract_repayments_notices_and_chain_proof(
    book: str, opened: LoanLedger, tmp_path: Path
) -> None:
    output = tmp_path / "arbitration.zip"
    _arbitration(book, output)

    bundle = json.loads(_zip_texts(output)["L-0002.json"])

    archive = opened.archive("L-0002")
    assert [fact["fact"] for fact in bundle["contract"]] == [
        "LoanApplied",
        "InvestigationRecorded",
        "ReviewRecorded",
        "LoanApproved",
        "LoanDisbursed",
    ]
    assert [(fact["effective_date"], fact["data"]["amount"]) for fact in bundle["repayments"]] == [
        ("2024-02-16", "200.00")
    ]
    assert [fact["fact"] for fact in bundle["legal"]] == ["LegalRecoveryOpened"]
    assert bundle["legal"][0]["effective_date"] == "2024-05-17"
    assert bundle["notices"] == [
        row for row in opened.report("notices", as_of=AS_OF) if row["loan_id"] == "L-0002"
    ]
    dunning = {row["notice_id"]: row["acknowledged_on"] for row in bundle["notices"]}
    assert dunning["L-0002/dunning/2024-02-17"] == "2024-02-20"
    assert bundle["chain"] == [
        {
            name: fact[name]
            for name in (
                "version",
                "fact",
                "effective_date",
                "recorded_at",
                "hash",
                "previous_hash",
            )
        }
        for fact in archive["facts"]
    ]
    checkpoint = bundle["verify"].pop("checkpoint")  # the archive's proof status (issue 16)
    assert bundle["verify"] == {"ok": True, "events_checked": 20, "first_break": None}
    assert (checkpoint["included"], checkpoint["events_proven"]) == (True, 20)
    assert bundle["position"]["principal_outstanding"] == "5830.00"
    assert bundle["position"]["days_past_due"] == 105


def test_evidence_bundles_mask_personal_data_unless_unmasked_which_is_logged(
    book: str, tmp_path: Path
) -> None:
    masked, unmasked = tmp_path / "masked.zip", tmp_path / "unmasked.zip"

    quiet = _arbitration(book, masked)
    logged = invoke(
        "export", "arbitration", "--as-of", AS_OF, "--output", str(unmasked), "--unmasked",
        "--db", book, env={"USER": "auditor-7"},
    )  # fmt: skip

    assert quiet.stderr == ""
    assert UNMASKED_LINE.match(logged.stderr), logged.stderr
    hidden = json.loads(_zip_texts(masked)["L-0002.json"])
    shown = json.loads(_zip_texts(unmasked)["L-0002.json"])
    assert hidden["borrower"] == {"id": "B-2", "name": "欧***", "id_number": "440301********567X"}
    assert hidden["contract"][0]["data"]["borrower"] == hidden["borrower"]
    assert "欧阳娜娜" not in _zip_texts(masked)["L-0002.json"]
    assert shown["borrower"] == {"id": "B-2", "name": "欧阳娜娜", "id_number": "44030119851231567X"}


def test_an_arbitration_package_with_no_loan_in_legal_recovery_has_only_the_index(
    book: str, tmp_path: Path
) -> None:
    output = tmp_path / "early.zip"

    result = invoke(
        "export", "arbitration", "--as-of", "2024-05-15", "--output", str(output), "--db", book
    )

    assert result.exit_code == 0, result.stderr
    assert _zip_texts(output) == {
        "index.csv": "loan_id,borrower_id,principal_outstanding,overdue_principal,"
        "overdue_interest,penalty_outstanding,days_past_due,notices_issued,notices_acknowledged\n"
    }


def test_the_help_lists_the_archive_migrate_and_export_commands() -> None:
    top = invoke("--help")
    export = invoke("export", "--help")

    assert top.exit_code == 0
    for name in ("archive", "migrate", "export"):
        assert name in top.stdout
    assert "loan-level" in export.stdout and "arbitration" in export.stdout
