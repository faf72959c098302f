"""The journal fuzzer on every store, PostgreSQL included (issue 24): every command kind with
any field replaced by hostile text or a value of another type is applied or refused with a
`DomainError`, never a driver error; after each accepted line every report is built from the
read models; after each refused line the stored bytes and every projection position are
exactly as before."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from loanledger.application import REPORTS
from tests.hostile import HOSTILE_STRINGS, replaced, string_paths, templates
from tests.journal import disburse, pre_loan

LOAN = "L-F"
REPORT_NAMES = (*sorted(REPORTS), "trial_balance", "journal")
EXAMPLES = int(os.environ.get("LOANLEDGER_FUZZ_EXAMPLES", "40"))
"""Examples per test and store (40 in CI; set the variable to run more by hand)."""

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "So"]), max_size=10),
)
other_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.lists(st.text(), max_size=2),
)


def _paths(command: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(key,) for key in command if key != "command"] + list(string_paths(command))


@st.composite
def commands(draw: st.DrawFn) -> dict[str, Any]:
    template: dict[str, Any] = draw(st.sampled_from(templates(LOAN)))
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(_paths(template)))
        template = replaced(template, path, draw(st.one_of(hostile_text, other_values)))
    return template


def _stored_digest(ledger: LoanLedger) -> str:
    digest = hashlib.sha256()
    for item in ledger.recorder.select_notifications(1, 100_000):
        digest.update(
            f"{item.id}|{item.originator_id}|{item.originator_version}|{item.topic}|".encode()
        )
        digest.update(item.state)
    return digest.hexdigest()


def _positions(ledger: LoanLedger) -> dict[str, int]:
    engine = ledger.projections
    return {p.name: engine.position(p) for p in engine.projections}


@pytest.fixture
def book(ledger: LoanLedger) -> Iterator[LoanLedger]:
    for command in pre_loan(LOAN):
        ledger.execute(command)
    ledger.execute(disburse(LOAN, "2024-01-15", "12000.00", reference="D-F"))
    ledger.projections.catch_up()
    yield ledger


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=commands())
def test_any_command_is_applied_or_refused_and_a_refusal_changes_no_byte_nor_position(
    book: LoanLedger, command: dict[str, Any]
) -> None:
    before = (_stored_digest(book), _positions(book))
    try:
        book.execute(command)
    except DomainError:
        assert (_stored_digest(book), _positions(book)) == before, command
        return
    book.projections.catch_up()
    for name in REPORT_NAMES:
        book.report(name, as_of="2024-03-01")
    book.loan(LOAN, as_of="2024-03-01")
    assert not book.projections.stuck
    assert book.verify().ok


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(line=st.one_of(commands().map(lambda c: json.dumps(c, ensure_ascii=False)), hostile_text))
def test_any_journal_line_is_applied_or_refused_and_a_refusal_changes_nothing(
    book: LoanLedger, line: str
) -> None:
    before = (_stored_digest(book), _positions(book))
    try:
        book.load([line])
    except DomainError as error:
        assert str(error).startswith("line 1: ")
        assert (_stored_digest(book), _positions(book)) == before
