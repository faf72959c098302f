"""Fuzzing the verifier with corrupted stored bytes: it reports the break, never crashes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loanledger import LoanLedger
from loanledger.persistence.ids import loan_uuid
from tests.integration.tampering import overwrite_state, stored_states
from tests.journal import disburse, pre_loan, repay


def _ledger() -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))
    return ledger


@given(
    version=st.integers(min_value=1, max_value=6),
    edits=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1, exclude_max=True), st.integers(0, 255)),
        min_size=1,
        max_size=4,
    ),
    truncate=st.booleans(),
)
def test_any_corruption_of_stored_bytes_is_named_as_a_break_at_or_before_it(
    version: int, edits: list[tuple[float, int]], truncate: bool
) -> None:
    ledger = _ledger()
    aggregate_id = loan_uuid("L-0001")
    original = stored_states(ledger, aggregate_id)[version]
    changed = bytearray(original)
    for where, byte in edits:
        changed[int(where * len(changed))] = byte
    corrupted = bytes(changed[: len(changed) // 2] if truncate else changed)
    overwrite_state(ledger, aggregate_id, version, corrupted)

    result = ledger.verify()

    if corrupted == original:
        assert result.ok
    else:
        assert result.ok is False
        assert result.first_break is not None
        assert result.first_break.loan_id == "L-0001"
        assert result.first_break.version == version
    ledger.close()
