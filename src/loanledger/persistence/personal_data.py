"""Personal data in stored events: which fields are personal, and how they are sealed.

The domain keeps plain names in memory; only the stored bytes hold ciphertext. On the way to the
store the mapper takes each personal field out of the event's JSON state and puts one envelope in
its place, under the key `personal_data`:

    {"subject": "borrower:B-1", "key": "<data key id>",
     "fields": ["borrower.name", "borrower.id_number"], "sealed": "<base64 nonce|ciphertext>"}

`sealed` is AES-256-GCM, under the subject's data key, of the JSON list of the fields' values (in
`fields` order). The subject, the data key id, the field names and the event's position (aggregate
id, version, topic) are the associated data: in clear, so the key can be found and the record is
auditable, and authenticated, so a sealed value cannot be moved to another event or person. Ids,
amounts and dates stay in clear: figures, the loan index, `verify()` and auditors need them.

The hash chain is computed over these stored bytes (ciphertext included), so destroying a data
key changes nothing that `verify()` reads. Without the data key the listed fields decode as
`ERASED`; a field that was None is not listed and stays None.

Which fields: the borrower's name and identity-document number (`LoanApplied.borrower`), the
guarantor's name (`GuarantorAdded`): a guarantor is a person too, with a data key of their own,
and the payee of an entrusted payment (`LoanDisbursed.payee`, 受托支付) or of a refund of money
held (`OverpaymentRefunded.payee`). A payee is sealed
under the *borrower's* data key: the journal gives a payee a name but no id of their own, the
payee is most often the borrower, and a third-party payee is named because of the borrower's
loan, so forgetting the borrower must erase it too. An event whose personal fields are all
None (a disbursement without a payee) carries no envelope.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from loanledger.domain.erasure import ERASED, WITHHELD
from loanledger.domain.loan_events import (
    GuarantorAdded,
    LoanApplied,
    LoanDisbursed,
    OverpaymentRefunded,
)
from loanledger.persistence.keys import NONCE_BYTES, DataKeys

ENVELOPE_FIELD = "personal_data"
"""The key of the sealed envelope in a stored event's JSON (no event has a field of that name)."""

_CONTEXT = "loanledger-personal-data-v1"


@dataclass(frozen=True)
class PersonalFields:
    """Where an event class keeps a data subject's id (in clear) and their personal fields."""

    kind: str
    subject_path: tuple[str, ...]
    paths: tuple[tuple[str, ...], ...]

    def subject(self, state: Mapping[str, Any]) -> str:
        return subject_of(self.kind, str(_get(state, self.subject_path)))


PERSONAL_FIELDS: Mapping[str, PersonalFields] = {
    get_topic(LoanApplied): PersonalFields(
        "borrower", ("borrower", "id"), (("borrower", "name"), ("borrower", "id_number"))
    ),
    get_topic(GuarantorAdded): PersonalFields(
        "guarantor", ("guarantor_id",), (("guarantor_name",),)
    ),
    get_topic(LoanDisbursed): PersonalFields("borrower", ("borrower_id",), (("payee",),)),
    get_topic(OverpaymentRefunded): PersonalFields("borrower", ("borrower_id",), (("payee",),)),
}
"""Every stored event class that carries personal data, by topic."""

_BY_CLASS: Mapping[type, PersonalFields] = {
    LoanApplied: PERSONAL_FIELDS[get_topic(LoanApplied)],
    GuarantorAdded: PERSONAL_FIELDS[get_topic(GuarantorAdded)],
    LoanDisbursed: PERSONAL_FIELDS[get_topic(LoanDisbursed)],
    OverpaymentRefunded: PERSONAL_FIELDS[get_topic(OverpaymentRefunded)],
}


def subject_of(kind: str, identifier: str) -> str:
    """The data subject's name in the key table: `borrower:B-1`, `guarantor:G-7`. Borrowers and
    guarantors are separate namespaces because the journal gives them separate ids."""
    return f"{kind}:{identifier}"


def subjects_of(events: Iterable[object]) -> set[str]:
    """The data subjects whose personal data these events carry (to create keys in one go)."""
    found = set()
    for event in events:
        spec = _BY_CLASS.get(type(event))
        if spec is not None and any(_attr(event, path) is not None for path in spec.paths):
            found.add(subject_of(spec.kind, str(_attr(event, spec.subject_path))))
    return found


def seal_state(
    state: dict[str, Any],
    topic: str,
    originator_id: UUID,
    version: int,
    data_keys: DataKeys,
) -> None:
    """Replace the personal fields of a stored event's JSON state by one sealed envelope."""
    spec = PERSONAL_FIELDS.get(topic)
    if spec is None:
        return
    if all(_get(state, path) is None for path in spec.paths):
        return  # nothing personal to seal (a disbursement without a payee)
    subject = spec.subject(state)
    fields: list[str] = []
    values: list[Any] = []
    for path in spec.paths:
        value = _get(state, path)
        if value is None:
            continue
        fields.append(".".join(path))
        values.append(value)
        _set(state, path, None, delete=True)
    key = data_keys.for_subject(subject)
    plain = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    nonce = _nonce()
    sealed = key.aead.encrypt(
        nonce,
        plain,
        _context(subject, key.data_key_id, fields, originator_id, version, topic),
    )
    state[ENVELOPE_FIELD] = {
        "subject": subject,
        "key": key.data_key_id,
        "fields": fields,
        "sealed": base64.b64encode(nonce + sealed).decode("ascii"),
    }


def open_state(
    state: dict[str, Any],
    topic: str,
    originator_id: UUID,
    version: int,
    data_keys: DataKeys,
) -> None:
    """Put the personal fields back from the envelope: plain if the data key exists, else
    `ERASED`. Stored events without an envelope (recorded before encryption) are left as they
    are. A ciphertext that does not open under its key was altered: that raises, and the mapper
    reports the event as unreadable (the chain check names it too)."""
    envelope = state.pop(ENVELOPE_FIELD, None)
    if envelope is None:
        return
    subject = envelope["subject"]
    data_key_id = envelope["key"]
    fields: list[str] = list(envelope["fields"])
    key = None if data_keys.withholding else data_keys.by_id(data_key_id)
    if data_keys.withholding:
        values: list[Any] = [WITHHELD] * len(fields)
    elif key is None:
        values = [ERASED] * len(fields)
    else:
        raw = base64.b64decode(envelope["sealed"], validate=True)
        plain = key.aead.decrypt(
            raw[:NONCE_BYTES],
            raw[NONCE_BYTES:],
            _context(subject, data_key_id, fields, originator_id, version, topic),
        )
        values = json.loads(plain)
        if len(values) != len(fields):
            raise ValueError("the sealed personal data does not match its field list")
    for field, value in zip(fields, values, strict=True):
        _set(state, tuple(field.split(".")), value)
    spec = PERSONAL_FIELDS.get(topic)
    if spec is not None and spec.subject(state) != subject:
        # Asserted again where the fact is read: the person named in clear is the one whose key
        # sealed the fields (the chain already refuses edited bytes; this names the mismatch).
        raise ValueError(f"the sealed personal data belongs to {subject}, not to the fact's person")


def _context(
    subject: str,
    data_key_id: str,
    fields: list[str],
    originator_id: UUID,
    version: int,
    topic: str,
) -> bytes:
    return (
        f"{_CONTEXT}|{subject}|{data_key_id}|{','.join(fields)}|{originator_id.hex}|{version}|"
        f"{topic}"
    ).encode()


def _nonce() -> bytes:
    return os.urandom(NONCE_BYTES)


def _attr(event: object, path: tuple[str, ...]) -> Any:
    value: Any = event
    for part in path:
        value = getattr(value, part, None)
    return value


def _get(state: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = state
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _set(state: dict[str, Any], path: tuple[str, ...], value: Any, *, delete: bool = False) -> None:
    target = state
    for part in path[:-1]:
        target = target.setdefault(part, {})
    if delete:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
