"""The private parts of eventsourcing the ledger overrides or calls, held to the signatures our code
was written against. eventsourcing has no public hook for sealing the hash chain in the
transaction that stores a batch (`loanledger.application.chain` overrides `Application._record`),
for the PostgreSQL recorder's binary insert (`loanledger.persistence.recorder` overrides
`_insert_stored_events` and calls `_lock_table` and `_notify_channel`), or for calling the
recorder once without its retries (`loanledger.application.store._without_hidden_retries`
unwraps its `retry_decorator`). If one of these tests fails after upgrading eventsourcing, read
the library's new code for that name before changing the expectation here: the override may now
skip something the library does, or never be called at all.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder

from loanledger.application.chain import ChainedRecording
from loanledger.persistence.recorder import PostgresEventRecorder

PRIVATE_HOOKS: list[tuple[Callable[..., Any], str, str]] = [
    (
        Application._record,
        "(self, processing_event: 'ProcessingEvent[TAggregateID]') "
        "-> 'list[Recording[TAggregateID]]'",
        "loanledger/application/chain.py (ChainedRecording._record)",
    ),
    (
        PostgresApplicationRecorder._insert_stored_events,
        "(self, curs: 'Cursor[DictRow]', stored_events: 'Sequence[StoredEvent]', "
        "**kwargs: 'Any') -> 'None'",
        "loanledger/persistence/recorder.py (PostgresEventRecorder._insert_stored_events)",
    ),
    (
        PostgresApplicationRecorder._lock_table,
        "(self, curs: 'Cursor[DictRow]') -> 'None'",
        "loanledger/persistence/recorder.py (called before the insert)",
    ),
    (
        PostgresApplicationRecorder._notify_channel,
        "(self, curs: 'Cursor[DictRow]') -> 'None'",
        "loanledger/persistence/recorder.py (called before the insert)",
    ),
]


@pytest.mark.parametrize(
    ("hook", "expected", "ours"),
    PRIVATE_HOOKS,
    ids=[hook.__qualname__ for hook, *_ in PRIVATE_HOOKS],
)
def test_the_private_eventsourcing_signatures_we_override_are_unchanged(
    hook: Callable[..., Any], expected: str, ours: str
) -> None:
    found = str(inspect.signature(hook))
    assert found == expected, (
        f"eventsourcing's private {hook.__qualname__} changed: {found} (expected {expected}). "
        f"Check {ours} against the library's new code before changing this test."
    )


def test_save_still_records_through_the_private_record_hook() -> None:
    """`Application.save` must call `self._record`: otherwise new events are stored unsealed."""
    assert "self._record(" in inspect.getsource(Application.save), (
        "eventsourcing's Application.save no longer calls self._record: the hash chain would not "
        "be sealed. Check loanledger/application/chain.py against the library's new code."
    )


def test_the_overrides_are_the_ones_in_use() -> None:
    assert ChainedRecording._record is not Application._record
    assert (
        PostgresEventRecorder._insert_stored_events
        is not PostgresApplicationRecorder._insert_stored_events
    )


def test_the_postgres_recorder_still_retries_through_a_decorator_we_can_unwrap() -> None:
    """`_without_hidden_retries` finds the recorder's retried methods by the decorator's inner
    function name (`retry_decorator`) and calls what it wraps (`__wrapped__`)."""
    wrapped = [
        name
        for name, member in inspect.getmembers(PostgresApplicationRecorder, inspect.isfunction)
        if getattr(member, "__wrapped__", None) is not None
        and member.__code__.co_name == "retry_decorator"
    ]
    assert "insert_events" in wrapped, (
        "eventsourcing's PostgreSQL recorder no longer wraps insert_events in its retry "
        "decorator the way loanledger/application/store.py (_without_hidden_retries) expects: "
        "check that the ledger still calls the store once, without hidden retries."
    )
