"""Hostile inputs for the walk over the public API (issue 24), and one valid template of every
journal command, so that each string field can be replaced by each hostile value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.journal import FINDINGS

HOSTILE_STRINGS: tuple[str, ...] = (
    "L-\u0000x",
    "\u0000",
    "B-\ud800",
    "\udfff",
    "x" * 100_000,
    "L-😀",
    "😀👨‍👩‍👧",
    "L-1'; DROP TABLE stored_events; --",
    "../../etc/passwd",
    "/etc/passwd",
    '=HYPERLINK("http://x","y")',
    "+1",
    "-2+3",
    "@SUM(A1)",
    " L-0001 ",
    "\t\r\n",
    "\u202eevil",
    "e\u0301",
    "",
    "\x1b[31mred",
)
"""NUL bytes, lone surrogates, a huge string, emoji, SQL, path traversal, spreadsheet formulas,
spaces, controls, a bidi override, a non-NFC string, the empty string and a terminal escape."""

CHECK_FINDINGS = {
    "use_of_funds": "as agreed",
    "repayment_ability": "steady",
    "collateral": "intact",
    "guarantor": "solvent",
}


def templates(loan_id: str) -> list[dict[str, Any]]:
    """One valid-looking command of every kind for `loan_id` (state may refuse some)."""
    base = {"loan_id": loan_id, "on": "2024-02-01"}
    return [
        {
            "command": "apply",
            **base,
            "borrower": {"id": "B-9", "name": "王五", "id_number": "110105194912310021"},
            "amount": "1000.00",
            "currency": "CNY",
            "term_months": 12,
            "annual_rate": "0.06",
            "repayment_method": "annuity",
            "purpose": "working capital",
        },
        {
            "command": "record_investigation",
            **base,
            "investigators": ["inv-1", "inv-2"],
            "findings": dict(FINDINGS),
            "conclusion": "recommend",
        },
        {"command": "review", **base, "reviewer": "rev-1", "passed": True, "notes": "ok"},
        {
            "command": "approve",
            **base,
            "approver": "app-1",
            "authority_limit": "5000.00",
            "amount": "1000.00",
            "term_months": 12,
            "annual_rate": "0.06",
            "repayment_method": "annuity",
        },
        {"command": "reject", **base, "approver": "app-1", "reason": "no"},
        {"command": "withdraw", **base, "reason": "changed mind"},
        {"command": "disburse", **base, "amount": "1.00", "reference": "D-9", "payee": "王五"},
        {"command": "repay", **base, "amount": "1.00", "reference": "R-9"},
        {
            "command": "pledge_collateral",
            **base,
            "collateral_id": "C-9",
            "kind": "house",
            "value": "900.00",
            "appraiser": "ap-1",
        },
        {
            "command": "revalue_collateral",
            **base,
            "collateral_id": "C-9",
            "value": "800.00",
            "appraiser": "ap-1",
        },
        {"command": "release_collateral", **base, "collateral_id": "C-9"},
        {
            "command": "add_guarantor",
            **base,
            "guarantor": {"id": "G-9", "name": "赵六"},
            "guaranteed_amount": "500.00",
        },
        {
            "command": "assess_guarantor",
            **base,
            "guarantor_id": "G-9",
            "ability": "normal",
            "notes": "fine",
        },
        {
            "command": "record_post_loan_check",
            **base,
            "inspector": "ins-1",
            "findings": dict(CHECK_FINDINGS),
            "rating": "normal",
        },
        {"command": "acknowledge_notice", **base, "notice_id": f"{loan_id}/dunning/2024-02-01"},
        {
            "command": "downgrade",
            **base,
            "classification": "special_mention",
            "approver": "app-1",
            "reason": "late",
        },
        {
            "command": "restructure",
            **base,
            "approver": "app-1",
            "term_months": 12,
            "annual_rate": "0.05",
            "repayment_method": "annuity",
            "reason": "hardship",
        },
        {
            "command": "file_arbitration",
            **base,
            "case_id": "ARB-9",
            "forum": "上海仲裁委员会",
            "claim_amount": "100.00",
        },
        {"command": "record_award", **base, "case_id": "ARB-9", "award_amount": "100.00"},
        {"command": "apply_enforcement", **base, "case_id": "ARB-9", "court": "浦东法院"},
        {
            "command": "record_recovery",
            **base,
            "case_id": "ARB-9",
            "amount": "1.00",
            "repayment_reference": "R-9",
        },
        {"command": "write_off", **base, "approver": "app-1", "reason": "lost"},
        {"command": "close", **base},
    ]


def string_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every string leaf of a command (except `command` itself)."""
    if isinstance(value, str) and path != ("command",):
        yield path
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from string_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from string_paths(child, (*path, index))


def replaced(command: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    """A deep copy of `command` with the leaf at `path` replaced by `new`."""
    if not path:
        raise ValueError("empty path")
    head, *rest = path
    copy: Any = dict(command) if isinstance(command, dict) else list(command)
    copy[head] = new if not rest else replaced(copy[head], tuple(rest), new)
    return copy  # type: ignore[no-any-return]
