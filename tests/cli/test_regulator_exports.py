"""The regulator's side of the CLI on the three-loan book of `test_exports`: the loan-level
export with Chinese headers, grade codes and allowances; the reports `provisions`, `kpi`,
`roll_rates`, `vintage` as the library gives them, and the book's ratios."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loanledger import LoanLedger
from tests.cli.test_exports import AS_OF, _csv_rows, invoke
from tests.cli.test_exports import book as book  # the fixture (a module-scoped SQLite book)


def test_export_loan_level_with_chinese_headers_has_grade_codes_provisions_and_product(
    book: str, tmp_path: Path
) -> None:
    """Allowances under CN-PROV-2002: substandard 25 % + general 1.5 % of 12,000.00 = 3,180.00
    and of 5,830.00 = 1,544.95; normal 1.5 % of 8,079.52 = 121.19."""
    output = tmp_path / "loan_level_zh.csv"

    result = invoke(
        "export", "loan-level", "--as-of", AS_OF, "--headers", "zh", "--output", str(output),
        "--db", book,
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    rows = _csv_rows(output)
    assert list(rows[0])[:3] == ["合同编号", "证件号码", "借款人名称"]
    assert [
        (
            row["合同编号"],
            row["借款人名称"],
            row["五级分类"],
            row["五级分类代码"],
            row["五级分类名称"],
            row["产品"],
            row["利率类型"],
            row["贷款损失准备"],
        )
        for row in rows
    ] == [
        ("L-0001", "张*", "substandard", "3", "次级", "default", "fixed", "3180.00"),
        ("L-0002", "欧***", "substandard", "3", "次级", "default", "fixed", "1544.95"),
        ("L-0003", "李*", "normal", "1", "正常", "default", "fixed", "121.19"),
    ]


def test_export_loan_level_refuses_unknown_headers(book: str, tmp_path: Path) -> None:
    result = invoke(
        "export", "loan-level", "--as-of", AS_OF, "--headers", "fr", "--output",
        str(tmp_path / "x.csv"), "--db", book,
    )  # fmt: skip

    assert result.exit_code == 2
    assert result.stderr == "error: unknown headers 'fr'; headers: en, zh\n"


@pytest.mark.parametrize("name", ["provisions", "kpi", "roll_rates", "vintage"])
def test_report_gives_the_regulators_reports_as_the_library_does(book: str, name: str) -> None:
    result = invoke("report", name, "--as-of", AS_OF, "-f", "json", "--db", book)

    assert result.exit_code == 0, result.stderr
    opened = LoanLedger.open(f"{book}")
    try:
        assert json.loads(result.stdout) == opened.report(name, as_of=AS_OF)
    finally:
        opened.close()


def test_kpi_reads_the_ratios_of_the_book(book: str) -> None:
    """Portfolio 12,000.00 + 5,830.00 + 8,079.52 = 25,909.52, NPL 17,830.00 (both more than 90
    days past due); allowance 3,180.00 + 1,544.95 + 121.19 = 4,846.14."""
    result = invoke("report", "kpi", "--as-of", AS_OF, "-f", "json", "--db", book)

    (row,) = json.loads(result.stdout)
    assert {
        name: row[name]
        for name in (
            "loans",
            "principal_outstanding",
            "npl_ratio",
            "par30",
            "par90",
            "overdue90_to_npl",
            "allowance",
            "provision_coverage_ratio",
            "loan_provision_ratio",
        )
    } == {
        "loans": 3,
        "principal_outstanding": "25909.52",
        "npl_ratio": "0.6882",
        "par30": "0.6882",
        "par90": "0.6882",
        "overdue90_to_npl": "1.0000",
        "allowance": "4846.14",
        "provision_coverage_ratio": "0.2718",
        "loan_provision_ratio": "0.1870",
    }
