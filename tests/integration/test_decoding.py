"""Decoding stored events: the fast path (pydantic-core `validate_json` on the body bytes) and
the batch decode of the projection engine give exactly what the reference decode gives —
`json.loads`, opening personal data, upcasting, `validate_python` — for every kind of event a
realistic book stores, on every store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.utils import resolve_topic

from loanledger import LoanLedger
from loanledger.domain.errors import MasterKeyMissingError
from loanledger.domain.event import DomainEvent
from loanledger.entrypoints.synthetic import SyntheticBook
from loanledger.persistence.chain import ChainHeads, unseal
from loanledger.persistence.keys import DataKeys
from loanledger.persistence.mapper import LedgerMapper, decode_body
from loanledger.persistence.personal_data import ENVELOPE_FIELD, open_state


def reference_decode_body(
    topic: str,
    originator_id: UUID,
    version: int,
    body: bytes,
    data_keys: DataKeys | None = None,
) -> DomainEvent:
    """What decoding meant before the fast path: the plain state, then `validate_python`."""
    cls = resolve_topic(topic)
    assert isinstance(cls, type) and issubclass(cls, DomainEvent)
    state: dict[str, Any] = json.loads(body)
    if ENVELOPE_FIELD in state:
        if data_keys is None:
            raise MasterKeyMissingError("this mapper has no data keys to open personal data")
        open_state(state, topic, originator_id, version, data_keys)
    from_version = int(state.pop("class_version", 1))
    while from_version < cls.class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1
    state["originator_id"] = originator_id
    state["originator_version"] = version
    return cls.model_validate(state)


def reference_decode(ledger: LoanLedger, stored: StoredEvent) -> DomainEvent:
    originator_id = (
        stored.originator_id
        if isinstance(stored.originator_id, UUID)
        else UUID(str(stored.originator_id))
    )
    _, body = unseal(stored.state)
    return reference_decode_body(
        stored.topic, originator_id, stored.originator_version, body, ledger.data_keys
    )


def exactly(event: DomainEvent) -> str:
    """Every field's value and type (Decimal exponent, tzinfo class, tuple vs list...)."""
    return f"{type(event).__qualname__}{event.model_dump()!r}"


@pytest.fixture(scope="module")
def books() -> Iterator[dict[str, LoanLedger]]:
    """The book of each store kind, built once for the module: its tests only read it."""
    built: dict[str, LoanLedger] = {}
    yield built
    for ledger in built.values():
        ledger.close()


@pytest.fixture
def book(store_url: str, books: dict[str, LoanLedger]) -> LoanLedger:
    kind = store_url.split(":", 1)[0]
    if kind not in books:
        ledger = LoanLedger.open(store_url)
        SyntheticBook(ledger, loans=12, seed=11, months=12).run(lambda command: None)
        books[kind] = ledger
    return books[kind]


def test_every_stored_event_decodes_exactly_as_the_reference(book: LoanLedger) -> None:
    notifications = book.recorder.select_notifications(1, 1_000_000)
    assert isinstance(book.mapper, LedgerMapper)
    batch = book.mapper.to_domain_events(notifications)
    topics = set()
    for notification, from_batch in zip(notifications, batch, strict=True):
        expected = exactly(reference_decode(book, notification))
        assert exactly(book.mapper.to_domain_event(notification)) == expected
        assert exactly(from_batch) == expected
        topics.add(notification.topic)
    # The book covers the pre-loan, in-loan and post-loan kinds, personal data included.
    assert len(topics) >= 10, topics
    assert any(topic.endswith("LoanApplied") for topic in topics)


def test_batch_decoding_leaves_each_loans_newest_link_in_the_chain_heads(
    book: LoanLedger,
) -> None:
    notifications = book.recorder.select_notifications(1, 1_000_000)
    newest: dict[UUID, tuple[int, str]] = {}
    for notification in notifications:
        link, _ = unseal(notification.state)
        originator_id = UUID(str(notification.originator_id))
        newest[originator_id] = (notification.originator_version, link)
    heads = ChainHeads()
    mapper = LedgerMapper(heads, book.data_keys)
    mapper.to_domain_events(notifications)
    for originator_id, (version, link) in newest.items():
        assert heads.get(originator_id, version) == link
        assert heads.get(originator_id, version - 1) is None


BODY = (
    b'{"effective_date":"2024-01-15","loan_id":"L-1","timestamp":"2024-01-15T08:00:00+00:00",'
    b'"amount":"100.00","content_hash":"x","reference":"D-1","payee":null}'
)


@pytest.mark.parametrize(
    "body",
    [
        BODY,
        b"{}",
        b" {}",
        b"[]",
        b"not json",
        BODY.replace(b'"100.00"', b"1e400"),
        BODY.replace(b"}", b',"unknown":1}'),
        BODY.replace(b"}", b',"originator_version":99}'),
        BODY.replace(b"{", b'{"originator_id":"00000000-0000-0000-0000-000000000009",'),
        BODY.replace(b"}", b',"personal_data":{"subject":"borrower:B-1"}}'),
        BODY + b"\n",
        BODY[:-1],
        BODY[:-1] + b"x",
        BODY[:-1] + b" ",
        BODY + b"x",
        BODY + b"}",
        BODY.replace(b"}", b',"class_version":1}'),
        BODY.replace(b"+00:00", b""),
    ],
)
def test_a_body_the_fast_path_refuses_gives_what_the_reference_gives(body: bytes) -> None:
    from loanledger.domain.loan_events import LoanDisbursed

    topic = f"{LoanDisbursed.__module__}:{LoanDisbursed.__qualname__}"
    originator_id = UUID(int=7)
    try:
        expected: str | None = exactly(reference_decode_body(topic, originator_id, 3, body))
    except Exception as error:
        expected = f"error: {error}"
    try:
        got: str | None = exactly(decode_body(topic, originator_id, 3, body))
    except Exception as error:
        got = f"error: {error}"
    assert got == expected


def test_an_unreadable_event_in_a_batch_is_named_as_before(book: LoanLedger) -> None:
    notifications: list[StoredEvent] = list(book.recorder.select_notifications(1, 5))
    broken = notifications[2]
    notifications[2] = StoredEvent(
        originator_id=broken.originator_id,
        originator_version=broken.originator_version,
        topic=broken.topic,
        state=broken.state[:-1] + b"x",  # one character in place of the closing brace
    )
    assert isinstance(book.mapper, LedgerMapper)
    with pytest.raises(MapperDeserialisationError, match="cannot read stored event"):
        book.mapper.to_domain_events(notifications)


def test_a_batch_raises_what_decoding_one_by_one_raises_first(book: LoanLedger) -> None:
    """Without data keys the first sealed event raises the key error; an unreadable event
    before it is named instead, as decoding in order would."""
    every = book.recorder.select_notifications(1, 200)
    # From the first event that is not sealed: a sealed one comes after it.
    first = next(i for i, n in enumerate(every) if b"personal_data" not in n.state)
    notifications: list[StoredEvent] = list(every[first : first + 40])
    assert any(b"personal_data" in n.state for n in notifications)
    keyless = LedgerMapper(ChainHeads())
    with pytest.raises(MasterKeyMissingError):
        keyless.to_domain_events(notifications)
    broken = notifications[0]
    notifications[0] = StoredEvent(
        originator_id=broken.originator_id,
        originator_version=broken.originator_version,
        topic=broken.topic,
        state=broken.state + b"x",
    )
    with pytest.raises(
        MapperDeserialisationError,
        match=f"cannot read stored event {broken.originator_version} of",
    ):
        keyless.to_domain_events(notifications)
