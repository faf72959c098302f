"""Fuzzing the journal: whatever a line holds, the ledger refuses it with a DomainError (or
applies it) and never crashes; a refused line changes nothing in the store."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from loanledger.domain.commands import LOAN_COMMANDS
from tests.journal import disburse, pre_loan

COMMAND_NAMES = [*LOAN_COMMANDS, "close_day", "nonsense"]
FIELD_NAMES = [
    "loan_id",
    "on",
    "amount",
    "reference",
    "prepay",
    "borrower",
    "term_months",
    "annual_rate",
    "repayment_method",
    "purpose",
    "investigators",
    "findings",
    "conclusion",
    "reviewer",
    "passed",
    "notes",
    "approver",
    "authority_limit",
    "repayment_day",
    "collateral_id",
    "kind",
    "value",
    "notice_id",
    "classification",
    "reason",
    "currency",
    "extra",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        ["1e9999", "-0", "0.001", "NaN", "Infinity", "2024-02-30", "2024-01-15", "L-0001", "١٢٣"]
    ),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES), children, max_size=4)
    ),
    max_leaves=8,
)


@st.composite
def command_dicts(draw: st.DrawFn) -> dict[str, Any]:
    command: dict[str, Any] = {"command": draw(st.sampled_from(COMMAND_NAMES))}
    if draw(st.booleans()):
        command["loan_id"] = "L-0001"
    command.update(draw(st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=6)))
    return command


lines = st.one_of(
    command_dicts().map(lambda command: json.dumps(command, ensure_ascii=False)),
    st.text(max_size=80),
    st.binary(max_size=40).map(lambda raw: raw.decode("latin-1")),
    st.sampled_from(["", "{}", "[]", "null", '{"command": 1}', "{" * 200, '{"a": 1, "a": 2}']),
)


def _ledger() -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    return ledger


@given(line=lines)
def test_any_journal_line_is_applied_or_refused_with_a_domain_error(line: str) -> None:
    ledger = _ledger()
    before = ledger.verify().events_checked
    try:
        ledger.load([line])
    except DomainError as error:
        assert str(error).startswith("line 1: ")
        assert ledger.verify().events_checked == before
    assert ledger.verify().ok
    ledger.close()


@given(command=command_dicts())
def test_any_command_dict_is_applied_or_refused_with_a_domain_error(
    command: dict[str, Any],
) -> None:
    ledger = _ledger()
    before = ledger.verify().events_checked
    try:
        ledger.execute(command)
    except DomainError:
        assert ledger.verify().events_checked == before
    assert ledger.verify().ok
    ledger.close()
