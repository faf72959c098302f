"""Personal data through the real CLI entry point on a SQLite file: `forget-borrower`,
`new-master-key`, `rotate-master-key`, and what a missing or wrong master key looks like.

The book: L-0001 (B-1 张三, 110101199001011234) disbursed 12,000.00 on 2024-01-15 with guarantor
G-1 王五 and never repaid; L-0002 (B-2 欧阳娜娜, 44030119851231567X) disbursed 6,000.00.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from loanledger import LoanLedger
from loanledger.entrypoints.cli import app
from loanledger.persistence.keys import MasterKey
from tests.conftest import TEST_MASTER_KEY
from tests.journal import disburse, lines, pre_loan

runner = CliRunner()

AS_OF = "2024-05-31"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


def journal() -> list[dict[str, Any]]:
    second = pre_loan("L-0002", borrower_id="B-2", amount="6000.00")
    second[0] = {
        **second[0],
        "borrower": {"id": "B-2", "name": "欧阳娜娜", "id_number": "44030119851231567X"},
    }
    return [
        *pre_loan("L-0001"),
        disburse("L-0001", "2024-01-15", "12000.00"),
        {
            "command": "add_guarantor",
            "loan_id": "L-0001",
            "on": "2024-01-15",
            "guarantor": {"id": "G-1", "name": "王五"},
            "guaranteed_amount": "12000.00",
        },
        *second,
        disburse("L-0002", "2024-01-16", "6000.00"),
        {"command": "close_day", "on": AS_OF},
    ]


@pytest.fixture
def book(tmp_path: Path) -> str:
    path = tmp_path / "book.jsonl"
    path.write_text("\n".join(lines(journal())) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path}/ledger.db"
    result = invoke("load", str(path), "--db", url)
    assert result.exit_code == 0, result.stderr
    return url


def _loan_level(book: str, output: Path, *extra: str) -> list[dict[str, str]]:
    result = invoke(
        "export", "loan-level", "--as-of", AS_OF, "--output", str(output), "--db", book, *extra,
        env={"USER": "auditor-7"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8"))))


def _log(book: str) -> list[tuple[str, str, str, str]]:
    ledger = LoanLedger.open(book)
    try:
        return [
            (row["action"], row["subject"], row["actor"], row["detail"])
            for row in ledger.personal_data_log()
        ]
    finally:
        ledger.close()


def test_forget_borrower_erases_the_name_in_every_export_even_unmasked(
    book: str, tmp_path: Path
) -> None:
    result = invoke("forget-borrower", "B-1", "--db", book, env={"USER": "dpo-1"})

    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(
        r"forgot borrower B-1 at \S+: personal data of 1 loan now reads as \[erased\]\n",
        result.stdout,
    )
    unmasked = _loan_level(book, tmp_path / "u.csv", "--unmasked")
    masked = _loan_level(book, tmp_path / "m.csv")
    assert [(r["borrower_name"], r["borrower_id_number"]) for r in unmasked] == [
        ("[erased]", "[erased]"),
        ("欧阳娜娜", "44030119851231567X"),
    ]
    assert [(r["borrower_name"], r["borrower_id_number"]) for r in masked] == [
        ("[erased]", "[erased]"),
        ("欧***", "440301********567X"),
    ]
    archive = invoke("archive", "L-0001", "--unmasked", "--db", book)
    assert json.loads(archive.stdout)["borrower"] == {
        "id": "B-1",
        "name": "[erased]",
        "id_number": "[erased]",
    }
    package = tmp_path / "u.zip"
    invoke(
        "export", "arbitration", "--as-of", AS_OF, "-o", str(package), "--unmasked", "--db", book,
    )  # fmt: skip
    with zipfile.ZipFile(package) as bundles:
        text = bundles.read("L-0001.json").decode("utf-8")
    erased = {"id": "B-1", "name": "[erased]", "id_number": "[erased]"}
    assert json.loads(text)["borrower"] == erased
    assert "张三" not in text and "110101199001011234" not in text
    assert invoke("verify", "--db", book).stdout == "verify: ok: 2 loans, 17 events checked\n"
    assert _log(book)[0][:3] == ("forget", "borrower:B-1", "dpo-1")


def test_forgetting_again_says_so_and_an_unknown_borrower_is_refused(book: str) -> None:
    invoke("forget-borrower", "B-1", "--db", book)

    again = invoke("forget-borrower", "B-1", "--db", book)
    unknown = invoke("forget-borrower", "B-404", "--db", book)

    assert again.exit_code == 0
    assert again.stdout.startswith("borrower B-1 was already forgotten at ")
    assert (unknown.exit_code, unknown.stderr) == (
        2,
        "error: borrower B-404 has no loan in this ledger: nothing to forget\n",
    )


def test_forget_guarantor_erases_the_guarantors_name_only(book: str) -> None:
    result = invoke("forget-guarantor", "G-1", "--db", book, env={"USER": "dpo-1"})

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("forgot guarantor G-1 at ")
    archive = json.loads(invoke("archive", "L-0001", "--unmasked", "--db", book).stdout)
    guarantor = next(fact for fact in archive["facts"] if fact["fact"] == "GuarantorAdded")
    assert guarantor["data"]["guarantor_name"] == "[erased]"
    assert archive["borrower"]["name"] == "张三"


def test_an_unmasked_loan_level_export_is_recorded_in_the_personal_data_log(
    book: str, tmp_path: Path
) -> None:
    _loan_level(book, tmp_path / "m.csv")
    _loan_level(book, tmp_path / "u.csv", "--unmasked")

    assert _log(book) == [("unmasked_export", "*", "auditor-7", f"loan_level as of {AS_OF}")]


def test_an_unmasked_arbitration_package_is_recorded_and_a_masked_one_hides_the_guarantor(
    book: str, tmp_path: Path
) -> None:
    masked, unmasked = tmp_path / "m.zip", tmp_path / "u.zip"

    quiet = invoke("export", "arbitration", "--as-of", AS_OF, "-o", str(masked), "--db", book)
    logged = invoke(
        "export", "arbitration", "--as-of", AS_OF, "-o", str(unmasked), "--unmasked",
        "--db", book, env={"USER": "auditor-7"},
    )  # fmt: skip

    assert (quiet.exit_code, logged.exit_code) == (0, 0)
    with zipfile.ZipFile(masked) as archive:
        text = archive.read("L-0001.json").decode("utf-8")
    guarantor = next(
        fact for fact in json.loads(text)["security"] if fact["fact"] == "GuarantorAdded"
    )
    assert guarantor["data"]["guarantor_name"] == "王*"
    assert "王五" not in text and "张三" not in text
    with zipfile.ZipFile(unmasked) as archive:
        claims = [name.removesuffix(".json") for name in archive.namelist() if ".json" in name]
        assert "王五" in archive.read("L-0001.json").decode("utf-8")
    assert claims == ["L-0001", "L-0002"]
    assert _log(book) == [  # the package, then each loan's unmasked archive in it
        ("unmasked_export", "*", "auditor-7", f"arbitration package as of {AS_OF}"),
        *(("unmasked_export", "*", "auditor-7", f"archive of {loan}") for loan in claims),
    ]


def test_the_archive_masks_personal_data_and_an_unmasked_one_is_logged_on_stderr_and_in_the_store(
    book: str, tmp_path: Path
) -> None:
    page = tmp_path / "L-0001.html"

    masked = invoke("archive", "L-0001", "--db", book)
    html = invoke("archive", "L-0001", "--format", "html", "-o", str(page), "--db", book)
    assert _log(book) == []
    unmasked = invoke("archive", "L-0001", "--unmasked", "--db", book, env={"USER": "auditor-7"})

    assert (masked.exit_code, html.exit_code, unmasked.exit_code) == (0, 0, 0)
    assert json.loads(masked.stdout)["borrower"] == {
        "id": "B-1",
        "name": "张*",
        "id_number": "110101********1234",
    }
    for text in ("张三", "王五", "110101199001011234"):
        assert text not in masked.stdout and text not in page.read_text(encoding="utf-8")
    assert json.loads(unmasked.stdout)["borrower"]["id_number"] == "110101199001011234"
    assert "UNMASKED export of personal data by auditor-7" in unmasked.stderr
    assert _log(book) == [("unmasked_export", "*", "auditor-7", "archive of L-0001")]


def test_new_master_key_prints_a_fresh_usable_key_each_time() -> None:
    first, second = invoke("new-master-key"), invoke("new-master-key")

    assert first.exit_code == 0
    assert first.stdout != second.stdout
    assert MasterKey.from_text(first.stdout.strip()).key_id.startswith("mk-")


def test_rotate_master_key_rewraps_every_data_key_under_the_new_key(book: str) -> None:
    new = MasterKey.generate_text()

    missing = invoke("rotate-master-key", "--db", book)
    rotated = invoke("rotate-master-key", "--db", book, env={"LOANLEDGER_NEW_MASTER_KEY": new})
    loan = invoke(
        "archive", "L-0001", "--unmasked", "--db", book, env={"LOANLEDGER_MASTER_KEY": new}
    )

    assert (missing.exit_code, missing.stderr) == (
        2,
        "error: set LOANLEDGER_NEW_MASTER_KEY to the new master key\n",
    )
    assert rotated.exit_code == 0, rotated.stderr
    assert rotated.stdout == (
        f"re-wrapped 3 data keys under master key {MasterKey.from_text(new).key_id}; now set "
        "LOANLEDGER_MASTER_KEY to the new key\n"
    )
    assert json.loads(loan.stdout)["borrower"]["name"] == "张三"


def test_a_wrong_master_key_is_one_error_line_and_verify_needs_no_key(book: str) -> None:
    wrong = {"LOANLEDGER_MASTER_KEY": MasterKey.generate_text()}

    refused = invoke("loan", "L-0001", "--as-of", AS_OF, "--db", book, env=wrong)
    verified = invoke("verify", "--db", book, env={"LOANLEDGER_MASTER_KEY": ""})

    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: the data key of borrower:B-1 in sqlite:///")
    assert MasterKey.from_text(TEST_MASTER_KEY).key_id in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert verified.exit_code == 0, verified.stderr


def test_loading_personal_data_without_a_master_key_is_refused_and_records_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "book.jsonl"
    path.write_text("\n".join(lines(journal())) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path}/nokey.db"

    result = invoke("load", str(path), "--db", url, env={"LOANLEDGER_MASTER_KEY": ""})

    assert result.exit_code == 1
    assert f"error: no master key for {url}: personal data is stored" in result.stderr
    assert invoke("verify", "--db", url).stdout == "verify: ok: 0 loans, 0 events checked\n"
