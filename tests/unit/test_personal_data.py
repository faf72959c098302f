"""Sealing personal fields in a stored event's JSON state, with data keys in a private in-memory
read store (no ledger): what the mapper does at the storage edge."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from eventsourcing.utils import get_topic

from loanledger.domain.erasure import ERASED
from loanledger.domain.errors import InvalidMasterKeyError, MasterKeyMismatchError
from loanledger.domain.loan_events import GuarantorAdded, LoanApplied
from loanledger.persistence.keys import DataKeys, Keyring, MasterKey
from loanledger.persistence.personal_data import open_state, seal_state
from loanledger.persistence.read_store import SQLiteReadStore

APPLIED = get_topic(LoanApplied)
GUARANTOR = get_topic(GuarantorAdded)
LOAN = uuid.uuid4()


def _keys(master: MasterKey | None = None) -> DataKeys:
    keys = DataKeys(
        Keyring(master or MasterKey.from_text(MasterKey.generate_text())),
        lambda: datetime(2024, 1, 1, tzinfo=UTC),
        "memory://",
    )
    keys.attach(SQLiteReadStore(None), create_tables=True)
    return keys


def _application() -> dict[str, Any]:
    return {
        "borrower": {"id": "B-1", "name": "张三", "id_number": "110101199001011234"},
        "amount": "12000.00",
    }


def test_sealing_takes_the_personal_fields_out_and_opening_puts_them_back() -> None:
    keys = _keys()
    state = _application()

    seal_state(state, APPLIED, LOAN, 1, keys)

    assert state["borrower"] == {"id": "B-1"}
    assert state["amount"] == "12000.00"
    assert state["personal_data"]["fields"] == ["borrower.name", "borrower.id_number"]
    open_state(state, APPLIED, LOAN, 1, keys)
    assert state == _application()


def test_a_sealed_value_moved_to_another_event_does_not_open() -> None:
    keys = _keys()
    state = _application()
    seal_state(state, APPLIED, LOAN, 1, keys)

    with pytest.raises(InvalidTag):
        open_state(copy.deepcopy(state), APPLIED, LOAN, 2, keys)
    with pytest.raises(InvalidTag):
        open_state(copy.deepcopy(state), APPLIED, uuid.uuid4(), 1, keys)


def test_a_sealed_value_under_another_persons_id_is_refused() -> None:
    keys = _keys()
    state = _application()
    seal_state(state, APPLIED, LOAN, 1, keys)
    state["borrower"]["id"] = "B-2"

    with pytest.raises(ValueError, match="belongs to borrower:B-1, not to the fact's person"):
        open_state(state, APPLIED, LOAN, 1, keys)


def test_once_the_key_is_destroyed_every_sealed_field_reads_erased_and_none_stays_none() -> None:
    keys = _keys()
    state = {"borrower": {"id": "B-3", "name": "李四", "id_number": None}, "amount": "1.00"}
    seal_state(state, APPLIED, LOAN, 1, keys)

    keys.destroy("borrower:B-3", "dpo-1")
    open_state(state, APPLIED, LOAN, 1, keys)

    assert state["borrower"] == {"id": "B-3", "name": ERASED, "id_number": None}


def test_a_guarantor_is_sealed_under_their_own_key() -> None:
    keys = _keys()
    state: dict[str, Any] = {
        "guarantor_id": "G-1",
        "guarantor_name": "王五",
        "guaranteed_amount": "1.00",
    }

    seal_state(state, GUARANTOR, LOAN, 5, keys)

    assert state["personal_data"]["subject"] == "guarantor:G-1"
    assert "guarantor_name" not in state


def test_a_master_key_id_is_stable_and_reveals_nothing_of_the_key() -> None:
    text = MasterKey.generate_text()

    first, again = MasterKey.from_text(text), MasterKey.from_text(text.replace("+", "-"))

    assert first.key_id == again.key_id
    assert first.key_id.startswith("mk-") and len(first.key_id) == 19
    assert first.key_id[3:] not in text


def test_a_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidMasterKeyError, match="must be 32 bytes"):
        MasterKey.from_text("c2hvcnQ=")


def test_a_data_key_row_wrapped_for_another_person_does_not_unwrap() -> None:
    master = MasterKey.from_text(MasterKey.generate_text())
    wrapped = master.wrap(b"k" * 32, "borrower:B-1", "id-1")

    with pytest.raises(MasterKeyMismatchError, match="does not unwrap"):
        master.unwrap(wrapped, "borrower:B-2", "id-1")
