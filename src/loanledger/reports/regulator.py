"""Regulatory loan-level data (EAST 个人信贷分户账 style) and the masking of personal data.

`loan_level` gives one row per loan, sorted by `contract_number` (the loan id), with the fields a
supervisory loan-level submission asks for. Personal data is masked unless the caller asks for it
explicitly (`unmasked=True`): an identity-document number keeps its first 6 and last 4
characters (the region code and the check digits), a name its first character; every other
character becomes one `*`, so the masked text has the original length. The masking functions are
also what the batch arbitration package applies to its evidence bundles.

`gl_account` is the ledger account that carries the loan's principal (DESIGN §9):
`loans_principal` once it has been disbursed and while it is on the balance sheet (a closed loan
keeps the account it was booked in, with a zero balance), `offbs_written_off` once it is written
off, and None for an application that was never disbursed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from loanledger.domain.erasure import ERASED
from loanledger.reports.amounts import amount_text
from loanledger.reports.portfolio import LoanRow

MASK = "*"
ID_NUMBER_KEEP_HEAD = 6
ID_NUMBER_KEEP_TAIL = 4
NAME_KEEP_HEAD = 1

ON_BALANCE_SHEET_ACCOUNT = "loans_principal"
WRITTEN_OFF_ACCOUNT = "offbs_written_off"

NAME_FIELDS = ("name", "guarantor_name", "borrower_name", "payee")
ID_NUMBER_FIELDS = ("id_number", "borrower_id_number")
PERSONAL_FIELDS = (*NAME_FIELDS, *ID_NUMBER_FIELDS)
"""Keys whose values `mask_personal_data` masks wherever they occur (borrowers, guarantors: a
guarantor's name is stored as `guarantor_name` in the `GuarantorAdded` fact)."""


def mask_id_number(value: str | None) -> str | None:
    """`110101199001011234` -> `110101********1234`. A value too short to hide anything between
    the kept head and tail (10 characters or fewer) is masked entirely; None and `[erased]` (a
    forgotten person) stay as they are."""
    if value is None or value == ERASED:
        return value
    keep = ID_NUMBER_KEEP_HEAD + ID_NUMBER_KEEP_TAIL
    if len(value) <= keep:
        return MASK * len(value)
    hidden = len(value) - keep
    return value[:ID_NUMBER_KEEP_HEAD] + MASK * hidden + value[-ID_NUMBER_KEEP_TAIL:]


def mask_name(value: str | None) -> str | None:
    """`张三` -> `张*`, `欧阳娜娜` -> `欧***`; None and `[erased]` stay as they are."""
    if value is None or value == ERASED:
        return value
    return value[:NAME_KEEP_HEAD] + MASK * max(len(value) - NAME_KEEP_HEAD, 0)


def mask_personal_data(value: Any) -> Any:
    """A copy of a JSON-ready structure with every name and id number string masked
    (`PERSONAL_FIELDS`)."""
    if isinstance(value, dict):
        masked: dict[str, Any] = {}
        for key, item in value.items():
            if key in NAME_FIELDS and (item is None or isinstance(item, str)):
                masked[key] = mask_name(item)
            elif key in ID_NUMBER_FIELDS and (item is None or isinstance(item, str)):
                masked[key] = mask_id_number(item)
            else:
                masked[key] = mask_personal_data(item)
        return masked
    if isinstance(value, list):
        return [mask_personal_data(item) for item in value]
    return value


def gl_account(status: str, disbursed_on: str | None) -> str | None:
    """The account that carries the loan's principal (see the module docstring)."""
    if status == "written_off":
        return WRITTEN_OFF_ACCOUNT
    if disbursed_on is None:
        return None
    return ON_BALANCE_SHEET_ACCOUNT


CLASSIFICATION_CODES = {
    "normal": ("1", "正常"),
    "special_mention": ("2", "关注"),
    "substandard": ("3", "次级"),
    "doubtful": ("4", "可疑"),
    "loss": ("5", "损失"),
}
"""五级分类: the grade's code (1-5, the order of the Guidelines on Risk-Based Loan Classification)
and its Chinese name, exported beside the ledger's name."""

DEFAULT_PRODUCT = "default"
DEFAULT_RATE_TYPE = "fixed"
"""What the export says for a loan whose view names no product or rate type (every loan until
products exist: the built-in product is `default`, at a fixed rate)."""

ZH_HEADERS = {
    "contract_number": "合同编号",
    "borrower_id_number": "证件号码",
    "borrower_name": "借款人名称",
    "currency": "币种",
    "amount": "合同金额",
    "annual_rate": "年利率",
    "disbursed_on": "放款日期",
    "maturity_date": "到期日期",
    "principal_outstanding": "贷款余额",
    "overdue_principal": "逾期本金",
    "overdue_interest": "逾期利息",
    "days_past_due": "逾期天数",
    "status": "贷款状态",
    "classification": "五级分类",
    "classification_code": "五级分类代码",
    "classification_zh": "五级分类名称",
    "ifrs9_stage": "减值阶段",
    "gl_account": "科目",
    "product": "产品",
    "rate_type": "利率类型",
    "allowance": "贷款损失准备",
}
"""The loan-level columns' Chinese headers (`--headers zh`), one for every column."""


def zh_headers(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The same rows with Chinese column headers (values unchanged)."""
    return [{ZH_HEADERS[key]: value for key, value in row.items()} for row in rows]


def loan_level(
    rows: Iterable[LoanRow],
    *,
    unmasked: bool = False,
    allowances: Mapping[str, Decimal] | None = None,
) -> list[dict[str, Any]]:
    """个人信贷分户账: one row per loan, personal data masked unless `unmasked`; `allowances`
    (loan id -> its loan-loss allowance, `application.risk`) fills the `allowance` column (null
    without them; "0.00" for a loan outside the portfolio)."""
    result = []
    for row in rows:
        view = row.view
        name, id_number = row.borrower_name, row.borrower_id_number
        code, name_zh = CLASSIFICATION_CODES[view["classification"]]
        allowance = None
        if allowances is not None:
            allowance = amount_text(allowances.get(view["loan_id"], Decimal(0)))
        result.append(
            {
                "contract_number": view["loan_id"],
                "borrower_id_number": id_number if unmasked else mask_id_number(id_number),
                "borrower_name": name if unmasked else mask_name(name),
                "currency": view["currency"],
                "amount": amount_text(row.amount),
                "annual_rate": f"{row.annual_rate}",
                "disbursed_on": row.disbursed_on,
                "maturity_date": row.maturity_date,
                "principal_outstanding": view["principal_outstanding"],
                "overdue_principal": view["overdue_principal"],
                "overdue_interest": view["overdue_interest"],
                "days_past_due": view["days_past_due"],
                "status": view["status"],
                "classification": view["classification"],
                "ifrs9_stage": view["ifrs9_stage"],
                "gl_account": gl_account(view["status"], row.disbursed_on),
                "classification_code": code,
                "classification_zh": name_zh,
                "product": view.get("product") or DEFAULT_PRODUCT,
                "rate_type": view.get("rate_type") or DEFAULT_RATE_TYPE,
                "allowance": allowance,
            }
        )
    return sorted(result, key=lambda item: item["contract_number"])
