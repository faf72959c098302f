"""The loan-level report (EAST 个人信贷分户账 style), its masking, and the arbitration package."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any

import pytest

from loanledger.application import REPORTS
from loanledger.reports import arbitration
from loanledger.reports.portfolio import LoanRow
from loanledger.reports.regulator import (
    gl_account,
    loan_level,
    mask_id_number,
    mask_name,
    mask_personal_data,
)


def _row(
    loan_id: str,
    status: str = "active",
    *,
    disbursed_on: str | None = "2024-01-15",
    name: str | None = "张三",
    id_number: str | None = "110101199001011234",
) -> LoanRow:
    view = {
        "loan_id": loan_id,
        "status": status,
        "principal_outstanding": "8079.52",
        "overdue_principal": "0.00",
        "overdue_interest": "0.00",
        "penalty_outstanding": "0.00",
        "days_past_due": 0,
        "bucket": "M0",
        "classification": "normal",
        "ifrs9_stage": 1,
        "currency": "CNY",
    }
    return LoanRow(
        view=view,
        borrower_id="B-1",
        amount=Decimal("12000.00"),
        annual_rate=Decimal("0.0435"),
        disbursed_on=disbursed_on,
        maturity_date="2025-01-15" if disbursed_on else None,
        notices=[],
        worklist=[],
        borrower_name=name,
        borrower_id_number=id_number,
    )


# --- masking -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("110101199001011234", "110101********1234"),
        ("44030119851231567X", "440301********567X"),
        ("E12345678AB", "E12345*78AB"),
        ("1234567890", "**********"),
        ("", ""),
        (None, None),
    ],
)
def test_an_id_number_keeps_its_first_six_and_last_four_characters_only(
    value: str | None, masked: str | None
) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("Li Wei", "L*****"), ("王", "王"), (None, None)],
)
def test_a_name_keeps_its_first_character_only(value: str | None, masked: str | None) -> None:
    assert mask_name(value) == masked


def test_personal_data_is_masked_wherever_it_occurs_and_nothing_else_changes() -> None:
    record: dict[str, Any] = {
        "borrower": {"id": "B-1", "name": "张三", "id_number": "110101199001011234"},
        "facts": [{"data": {"guarantor": {"id": "G-1", "name": "李四"}, "amount": "1.00"}}],
        "verify": {"ok": True, "first_break": None},
    }

    masked = mask_personal_data(record)

    assert masked == {
        "borrower": {"id": "B-1", "name": "张*", "id_number": "110101********1234"},
        "facts": [{"data": {"guarantor": {"id": "G-1", "name": "李*"}, "amount": "1.00"}}],
        "verify": {"ok": True, "first_break": None},
    }
    assert record["borrower"]["name"] == "张三"  # the input is not touched


def test_a_guarantors_name_is_masked_as_the_guarantor_added_fact_stores_it() -> None:
    fact = {"data": {"guarantor_id": "G-1", "guarantor_name": "王五", "amount": "1.00"}}

    assert mask_personal_data(fact) == {
        "data": {"guarantor_id": "G-1", "guarantor_name": "王*", "amount": "1.00"}
    }


def test_an_erased_name_or_id_number_stays_erased_when_masked() -> None:
    record = {"borrower": {"id": "B-1", "name": "[erased]", "id_number": "[erased]"}}

    assert mask_personal_data(record) == record
    assert (mask_name("[erased]"), mask_id_number("[erased]")) == ("[erased]", "[erased]")


# --- loan_level ----------------------------------------------------------------------------------


def test_loan_level_is_registered_as_a_report() -> None:
    assert REPORTS["loan_level"] is loan_level


def test_loan_level_gives_one_row_per_loan_with_the_east_fields_and_masked_personal_data() -> None:
    rows = loan_level([_row("L-0002", name="欧阳娜娜", id_number=None), _row("L-0001")])

    assert [row["contract_number"] for row in rows] == ["L-0001", "L-0002"]
    assert rows[0] == {
        "contract_number": "L-0001",
        "borrower_id_number": "110101********1234",
        "borrower_name": "张*",
        "currency": "CNY",
        "amount": "12000.00",
        "annual_rate": "0.0435",
        "disbursed_on": "2024-01-15",
        "maturity_date": "2025-01-15",
        "principal_outstanding": "8079.52",
        "overdue_principal": "0.00",
        "overdue_interest": "0.00",
        "days_past_due": 0,
        "status": "active",
        "classification": "normal",
        "ifrs9_stage": 1,
        "gl_account": "loans_principal",
        "classification_code": "1",
        "classification_zh": "正常",
        "product": "default",
        "rate_type": "fixed",
        "allowance": None,
    }
    assert (rows[1]["borrower_name"], rows[1]["borrower_id_number"]) == ("欧***", None)


def test_loan_level_gives_each_loans_allowance_and_every_column_a_chinese_header() -> None:
    from decimal import Decimal

    from loanledger.reports.regulator import ZH_HEADERS, zh_headers

    rows = loan_level([_row("L-0001"), _row("L-0002")], allowances={"L-0001": Decimal("121.19")})

    assert [row["allowance"] for row in rows] == ["121.19", "0.00"]
    (first, _) = zh_headers(rows)
    assert list(first) == [ZH_HEADERS[key] for key in rows[0]]
    assert (first["合同编号"], first["五级分类代码"], first["贷款损失准备"]) == (
        "L-0001",
        "1",
        "121.19",
    )


def test_loan_level_unmasked_gives_the_full_name_and_id_number() -> None:
    (row,) = loan_level([_row("L-0001")], unmasked=True)

    assert (row["borrower_name"], row["borrower_id_number"]) == ("张三", "110101199001011234")


def test_loan_level_tolerates_rows_without_borrower_fields() -> None:
    (row,) = loan_level([_row("L-0001", name=None, id_number=None)])

    assert (row["borrower_name"], row["borrower_id_number"]) == (None, None)


@pytest.mark.parametrize(
    ("status", "disbursed_on", "account"),
    [
        ("active", "2024-01-15", "loans_principal"),
        ("legal_recovery", "2024-01-15", "loans_principal"),
        ("closed", "2024-01-15", "loans_principal"),
        ("written_off", "2024-01-15", "offbs_written_off"),
        ("approved", None, None),
        ("rejected", None, None),
    ],
)
def test_the_gl_account_follows_the_principal_on_and_off_the_balance_sheet(
    status: str, disbursed_on: str | None, account: str | None
) -> None:
    assert gl_account(status, disbursed_on) == account
    (row,) = loan_level([_row("L-0001", status, disbursed_on=disbursed_on)])
    assert row["gl_account"] == account


# --- the arbitration package ---------------------------------------------------------------------


def _fact(version: int, fact: str, effective_date: str) -> dict[str, Any]:
    return {
        "version": version,
        "fact": fact,
        "hash": f"h{version}",
        "previous_hash": f"h{version - 1}",
        "recorded_at": f"2024-06-0{version}T00:00:00+00:00",
        "effective_date": effective_date,
        "actor": "borrower",
        "data": {"borrower": {"id": "B-1", "name": "张三"}} if fact == "LoanApplied" else {},
        "state_after": {},
        "changes": {},
    }


ARCHIVE = {
    "loan_id": "L-0001",
    "borrower": {"id": "B-1", "name": "张三", "id_number": "110101199001011234"},
    "currency": "CNY",
    "rule_set": "CN-2023",
    "facts": [
        _fact(1, "LoanApplied", "2024-01-02"),
        _fact(2, "LoanDisbursed", "2024-01-15"),
        _fact(3, "RepaymentReceived", "2024-02-15"),
        _fact(4, "RepaymentReceived", "2024-06-20"),
    ],
    "verify": {"ok": True, "events_checked": 4, "first_break": None},
}


def test_a_bundle_lists_facts_up_to_the_claim_date_and_the_whole_chain() -> None:
    bundle = arbitration.evidence_bundle(ARCHIVE, {"status": "legal_recovery"}, [], "2024-05-31")

    assert [fact["version"] for fact in bundle["contract"]] == [1, 2]
    assert [fact["version"] for fact in bundle["repayments"]] == [3]
    assert [link["hash"] for link in bundle["chain"]] == ["h1", "h2", "h3", "h4"]
    assert bundle["borrower"] == {"id": "B-1", "name": "张*", "id_number": "110101********1234"}
    assert bundle["contract"][0]["data"]["borrower"]["name"] == "张*"
    assert bundle["verify"] == ARCHIVE["verify"]


def test_the_same_files_always_zip_to_the_same_bytes_in_name_order() -> None:
    files = {"index.csv": "loan_id\n", "L-0002.json": "{}\n", "L-0001.json": "{}\n"}

    first = arbitration.package(files)
    second = arbitration.package(dict(reversed(list(files.items()))))

    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["L-0001.json", "L-0002.json", "index.csv"]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_an_empty_package_still_has_the_index_header() -> None:
    files = arbitration.arbitration_files([])

    assert files == {"index.csv": ",".join(arbitration.INDEX_COLUMNS) + "\n"}


def test_a_loan_id_that_is_no_safe_file_name_is_percent_encoded() -> None:
    assert arbitration.bundle_name("L-0001") == "L-0001.json"
    assert arbitration.bundle_name("../etc/passwd") == "..%2Fetc%2Fpasswd.json"
    assert arbitration.bundle_name("贷/1") == "%E8%B4%B7%2F1.json"
