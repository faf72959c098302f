"""Keys for personal data at rest: the master key, and one data key per data subject.

Envelope encryption, as a bank's key management expects it:

- every data subject (a borrower, a guarantor) gets a random 256-bit **data key** the first time
  their personal data is stored; their fields are sealed with AES-256-GCM under it
  (`loanledger.persistence.personal_data`);
- data keys are stored **wrapped** (AES-256-GCM under the **master key**) in
  `loanledger_data_keys`, in the same store as the events, with the id of the master key that
  wraps them; the master key itself is never stored: it comes from env `LOANLEDGER_MASTER_KEY`
  or the `master_key` argument of `LoanLedger.open`;
- destroying a subject's data key is crypto-shredding: their ciphertext in the immutable,
  hash-chained events can never be read again, while the chain still verifies;
- rotating the master key re-wraps the data keys (a few bytes each) and touches no event.

Unwrapped data keys are cached (bounded, `DATA_KEY_CACHE_SIZE`), so a subject's key costs one
read and one unwrap per process, not one per event. A destroyed data key id never comes back
(ids are random), so "this id is destroyed" is cached too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from loanledger.domain.errors import (
    InvalidMasterKeyError,
    MasterKeyMismatchError,
    MasterKeyMissingError,
)
from loanledger.persistence.read_store import ReadStore
from loanledger.persistence.sql import statements

MASTER_KEY_ENV = "LOANLEDGER_MASTER_KEY"
"""The master key: base64 text of 32 random bytes (`loanledger new-master-key` prints one)."""

PREVIOUS_MASTER_KEY_ENV = "LOANLEDGER_PREVIOUS_MASTER_KEY"
"""The master key being rotated away from: it only unwraps, never wraps, so that every process
can read during a rotation (see the README's rotation procedure)."""

KEY_BYTES = 32
"""AES-256: both master and data keys are 256 bits."""

NONCE_BYTES = 12
"""AES-GCM's 96-bit nonce, random per encryption (never reused under one key in practice:
2^-32 collision odds only after 2^32 encryptions under the same key)."""

DATA_KEY_CACHE_SIZE = 1_024
"""Unwrapped data keys kept per process. Each costs ~2.6 KiB with its AES-GCM object (measured),
so the bound is what keeps a rebuild's memory flat as the number of people grows: a rebuild of
10x the events with a borrower per loan peaked at 1.18x the RSS with 4,096 keys and 1.09x with
1,024 (B6). It holds at least a chunk of the projection engine's events as it decodes them
(`DECODE_BATCH`, one person an event at most): a chunk fetches the keys it lacks in one query,
and each stays cached until the chunk is decoded, so a smaller cache costs a query a chunk, not one
a person."""

SUBJECTS_PER_QUERY = 500
"""Subjects whose keys one query reads (`ensure`): a bulk load's batch of new borrowers costs a
few queries, not one round trip per borrower (on PostgreSQL that was most of a load's flush)."""

ROTATION_BATCH_SIZE = 1000
"""Data keys re-wrapped per transaction while rotating the master key."""

_WRAP_CONTEXT = "loanledger-data-key-v1"


@dataclass(frozen=True)
class DataKey:
    """One subject's unwrapped data key, ready to seal and open their fields."""

    data_key_id: str
    aead: AESGCM


class MasterKey:
    """A 256-bit key-encryption key. Its id is derived from the key (a keyed fingerprint, not
    the key), so that a stored row can say which master key wraps it without revealing it."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_BYTES:
            raise InvalidMasterKeyError(
                f"a master key must be {KEY_BYTES} bytes (base64 text), got {len(raw)} bytes"
            )
        digest = hashlib.sha256(b"loanledger master key id\x00" + raw).hexdigest()
        self.key_id = "mk-" + digest[:16]
        self._aead = AESGCM(raw)

    @classmethod
    def from_text(cls, text: str | bytes) -> MasterKey:
        """A key from its base64 text (standard or URL-safe alphabet), or raw 32 bytes."""
        if isinstance(text, bytes) and len(text) == KEY_BYTES:
            return cls(text)
        value = text.decode("ascii", "replace") if isinstance(text, bytes) else text
        value = value.strip()
        try:
            raw = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidMasterKeyError(
                "a master key must be the base64 text of 32 random bytes: for a store that "
                "holds personal data, the key it was written with (a store made by `loanledger "
                "demo` keeps it in loanledger-demo/master.key); for a new store, "
                "`loanledger new-master-key` prints one"
            ) from None
        return cls(raw)

    @staticmethod
    def generate_text() -> str:
        """A new random master key as base64 text."""
        return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")

    def wrap(self, data_key: bytes, subject: str, data_key_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, data_key, _wrap_context(subject, data_key_id))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def unwrap(self, wrapped: str, subject: str, data_key_id: str) -> bytes:
        try:
            raw = base64.b64decode(wrapped, validate=True)
            return self._aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _wrap_context(subject, data_key_id)
            )
        except (InvalidTag, binascii.Error, ValueError):
            raise MasterKeyMismatchError(
                f"the data key of {subject} does not unwrap under master key {self.key_id}: "
                "the key table row was altered, or the configured key is not the one it names"
            ) from None


def _wrap_context(subject: str, data_key_id: str) -> bytes:
    # Binding the wrapped key to its subject and id means swapping rows of the key table cannot
    # make one person's data key open another person's fields.
    return f"{_WRAP_CONTEXT}|{subject}|{data_key_id}".encode()


@dataclass(frozen=True)
class Keyring:
    """The master key that wraps (`current`) and any that may still unwrap (`previous`)."""

    current: MasterKey
    previous: tuple[MasterKey, ...] = ()

    def find(self, key_id: str) -> MasterKey | None:
        for key in (self.current, *self.previous):
            if key.key_id == key_id:
                return key
        return None

    def describe(self) -> str:
        ids = [self.current.key_id, *(key.key_id for key in self.previous)]
        return " and ".join(ids)


def load_keyring(
    master_key: str | bytes | None,
    previous_master_key: str | bytes | None,
    environ: Mapping[str, str],
    *,
    ephemeral: bool,
) -> Keyring | None:
    """The keyring from the arguments, else the environment; None when no key is configured.

    `ephemeral` (a memory:// store, whose data dies with the process) makes a random key for
    this process instead: nothing outlives it that a configured key would have to open.
    """
    current_text = master_key if master_key is not None else environ.get(MASTER_KEY_ENV)
    previous_text = (
        previous_master_key
        if previous_master_key is not None
        else environ.get(PREVIOUS_MASTER_KEY_ENV)
    )
    if not current_text:
        if ephemeral:
            return Keyring(MasterKey(os.urandom(KEY_BYTES)))
        return None
    previous = (MasterKey.from_text(previous_text),) if previous_text else ()
    return Keyring(MasterKey.from_text(current_text), previous)


_DESTROYED = object()
"""Cache entry of a data key id whose key was destroyed (its fields read as erased)."""


class DataKeys:
    """Each data subject's data key: created on first use, cached unwrapped, destroyed when the
    subject is forgotten. Rows live in the store's `loanledger_data_keys` table; every use of
    personal data worth an auditor's attention goes to `loanledger_personal_data_log`."""

    def __init__(
        self,
        keyring: Keyring | None,
        clock: Callable[[], datetime],
        store_name: str,
        capacity: int = DATA_KEY_CACHE_SIZE,
        *,
        withhold: bool = False,
    ) -> None:
        self._keyring = keyring
        self.withholding = keyring is None and withhold
        """No master key, and personal fields are to read as `WITHHELD` instead of refusing."""
        self._clock = clock
        self._store_name = store_name
        self._capacity = capacity
        self._store: ReadStore | None = None
        self._sql: dict[str, str] = {}
        self._by_subject: OrderedDict[str, DataKey] = OrderedDict()
        self._by_id: OrderedDict[str, DataKey | object] = OrderedDict()
        self._lock = threading.RLock()

    def attach(self, store: ReadStore, *, create_tables: bool) -> None:
        """Use `store` (the ledger's read-model store: same file or database as the events)."""
        self._store = store
        self._sql = statements("personal_data", store.dialect)
        if create_tables:
            with store.transaction() as txn:
                txn.execute(self._sql["create_keys"])
                txn.execute(self._sql["create_log"])
                txn.execute(self._sql["create_log_index"])

    # --- keys ------------------------------------------------------------------------------------

    def for_subject(self, subject: str) -> DataKey:
        """The subject's data key, created (and committed) first if they have none."""
        with self._lock:
            cached = self._by_subject.get(subject)
            if cached is not None:
                self._by_subject.move_to_end(subject)
                return cached
        self.ensure([subject])
        with self._lock:
            cached = self._by_subject.get(subject)
        if cached is None:  # evicted meanwhile by a huge batch: read it again
            cached = self._load_subject(subject)
            if cached is None:
                raise AssertionError(f"the data key of {subject} vanished while being created")
        return cached

    def ensure(self, subjects: Iterable[str]) -> None:
        """Create the missing data keys of `subjects` in one transaction (a bulk load stores
        thousands of new borrowers), and cache all of them.

        Each subject's row is read even when its key is cached: another process may have
        forgotten the person since, and sealing new data under a destroyed key would lose it.
        Facts with personal data are few (applications, guarantors), so the read is cheap."""
        wanted = sorted(set(subjects))
        if not wanted:
            return
        keyring = self._require_keyring()
        store = self._require_store()
        have = self._load_subjects(wanted)
        missing = [subject for subject in wanted if subject not in have]
        if not missing:
            return
        now = self._clock().isoformat()
        rows = []
        for subject in missing:
            data_key_id = uuid.uuid4().hex
            wrapped = keyring.current.wrap(os.urandom(KEY_BYTES), subject, data_key_id)
            rows.append((subject, data_key_id, keyring.current.key_id, wrapped, now))
        # Another process may create the same subject's key at the same moment: the row that
        # committed first wins (ON CONFLICT DO NOTHING), and both read back that one.
        with store.transaction() as txn:
            txn.executemany(self._sql["insert_key"], rows)
        stored = self._load_subjects(missing)
        for subject in missing:
            if subject not in stored:
                raise AssertionError(f"the data key of {subject} was not stored")

    def by_id(self, data_key_id: str) -> DataKey | None:
        """The data key with this id, or None when it was destroyed (the subject forgotten)."""
        with self._lock:
            cached = self._by_id.get(data_key_id)
            if cached is not None:
                self._by_id.move_to_end(data_key_id)
                return cached if isinstance(cached, DataKey) else None
        rows = self._require_store().query(self._sql["key_by_id"], (data_key_id,))
        if not rows:
            # Keys are committed before the events sealed with them, so a missing key was
            # destroyed, and a destroyed id never returns: remember that.
            self._remember(data_key_id, _DESTROYED)
            return None
        subject, master_key_id, wrapped = rows[0]
        key = self._unwrap(subject, data_key_id, master_key_id, wrapped)
        self._remember(data_key_id, key)
        return key

    def prefetch(self, data_key_ids: Iterable[str]) -> None:
        """Read the uncached ones of these data keys, `SUBJECTS_PER_QUERY` a query, so that
        decoding a page of events asks the store once, not once per person (`by_id`). An id
        not found was destroyed (keys are committed before the events sealed with them), and is
        remembered so, as `by_id` would."""
        if self.withholding:
            return
        with self._lock:
            wanted = sorted({key_id for key_id in data_key_ids if key_id not in self._by_id})
        found = {key.data_key_id for key in self._read_keys("keys_by_ids", wanted).values()}
        for data_key_id in set(wanted) - found:
            self._remember(data_key_id, _DESTROYED)

    def _load_subjects(self, subjects: Sequence[str]) -> dict[str, DataKey]:
        """The stored keys of `subjects` (those that have one), cached."""
        return self._read_keys("keys_of_subjects", subjects)

    def _load_subject(self, subject: str) -> DataKey | None:
        return self._load_subjects([subject]).get(subject)

    def _read_keys(self, statement: str, values: Sequence[str]) -> dict[str, DataKey]:
        """The keys a batch statement (`?` = a JSON array of `values`) finds, by subject, read
        `SUBJECTS_PER_QUERY` values a query, unwrapped and cached."""
        found: dict[str, DataKey] = {}
        if not values:
            return found
        store = self._require_store()
        for start in range(0, len(values), SUBJECTS_PER_QUERY):
            chunk = json.dumps(list(values[start : start + SUBJECTS_PER_QUERY]))
            for subject, data_key_id, master_key_id, wrapped in store.query(
                self._sql[statement], (chunk,)
            ):
                found[subject] = self._keep(
                    subject, data_key_id, self._unwrap(subject, data_key_id, master_key_id, wrapped)
                )
        return found

    def _keep(self, subject: str, data_key_id: str, key: DataKey) -> DataKey:
        with self._lock:
            self._by_subject[subject] = key
            self._by_subject.move_to_end(subject)
            while len(self._by_subject) > self._capacity:
                self._by_subject.popitem(last=False)
        self._remember(data_key_id, key)
        return key

    def _unwrap(self, subject: str, data_key_id: str, master_key_id: str, wrapped: str) -> DataKey:
        raw = self._unwrap_raw(subject, data_key_id, master_key_id, wrapped)
        return DataKey(data_key_id, AESGCM(raw))

    def _unwrap_raw(
        self, subject: str, data_key_id: str, master_key_id: str, wrapped: str
    ) -> bytes:
        keyring = self._require_keyring()
        master = keyring.find(master_key_id)
        if master is None:
            raise MasterKeyMismatchError(
                f"the data key of {subject} in {self._store_name} is wrapped under master key "
                f"{master_key_id}, but the configured master key is {keyring.describe()}: set "
                "LOANLEDGER_MASTER_KEY to the key this store was written with (during a rotation, "
                "the old one as LOANLEDGER_PREVIOUS_MASTER_KEY)"
            )
        return master.unwrap(wrapped, subject, data_key_id)

    def _remember(self, data_key_id: str, entry: DataKey | object) -> None:
        with self._lock:
            self._by_id[data_key_id] = entry
            self._by_id.move_to_end(data_key_id)
            while len(self._by_id) > self._capacity:
                self._by_id.popitem(last=False)

    # --- forgetting, rotation, audit -------------------------------------------------------------

    def destroy(self, subject: str, actor: str) -> tuple[str, bool, str | None]:
        """Destroy the subject's data key and log it, in one transaction.

        Returns (when the subject was first forgotten, whether that was before this call, the
        destroyed data key id or None). Idempotent: a second call finds no key and the earlier
        log row, and changes nothing.
        """
        store = self._require_store()
        now = self._clock().isoformat()
        with store.transaction() as txn:
            rows = txn.execute(self._sql["key_of_subject"], (subject,))
            earlier = txn.execute(self._sql["forgotten"], (subject,))
            forgotten_at = earlier[0][0] if earlier and earlier[0][0] else None
            destroyed = rows[0][0] if rows else None
            if destroyed is None and forgotten_at is not None:
                return forgotten_at, True, None
            txn.execute(self._sql["delete_key"], (subject,))
            detail = (
                f"data key {destroyed} destroyed"
                if destroyed
                else "no data key held: nothing encrypted to destroy"
            )
            txn.execute(self._sql["insert_log"], (now, "forget", subject, actor, detail))
        with self._lock:
            self._by_subject.pop(subject, None)
            if destroyed is not None:
                self._by_id[destroyed] = _DESTROYED
        return now, False, destroyed

    def has_key_or_was_forgotten(self, subject: str) -> bool:
        store = self._require_store()
        if store.query(self._sql["key_of_subject"], (subject,)):
            return True
        earlier = store.query(self._sql["forgotten"], (subject,))
        return bool(earlier and earlier[0][0])

    def rotate(self, new: MasterKey, actor: str) -> int:
        """Re-wrap every data key under `new`, `ROTATION_BATCH_SIZE` a transaction; afterwards
        `new` wraps and the old current key only unwraps. Resumable: rows already under `new`
        are skipped, so an interrupted rotation is finished by running it again."""
        keyring = self._require_keyring()
        store = self._require_store()
        old_ids = keyring.describe()
        rewrapped = 0
        while True:
            with store.transaction() as txn:
                rows = txn.execute(self._sql["keys_not_under"], (new.key_id, ROTATION_BATCH_SIZE))
                for subject, data_key_id, master_key_id, wrapped in rows:
                    raw = self._unwrap_raw(subject, data_key_id, master_key_id, wrapped)
                    txn.execute(
                        self._sql["rewrap"],
                        (new.key_id, new.wrap(raw, subject, data_key_id), subject, data_key_id),
                    )
            rewrapped += len(rows)
            if len(rows) < ROTATION_BATCH_SIZE:
                break
        self._keyring = Keyring(new, (keyring.current, *keyring.previous))
        self.log_action(
            "rotate_master_key",
            "*",
            actor,
            f"{rewrapped} data keys re-wrapped from {old_ids} to {new.key_id}",
        )
        return rewrapped

    def log_action(self, action: str, subject: str, actor: str, detail: str) -> str:
        """Append one row to the personal-data log; returns its recorded time."""
        now = self._clock().isoformat()
        with self._require_store().transaction() as txn:
            txn.execute(self._sql["insert_log"], (now, action, subject, actor, detail))
        return now

    def log(self) -> list[dict[str, str]]:
        rows = self._require_store().query(self._sql["log"])
        return [
            {
                "recorded_at": row[0],
                "action": row[1],
                "subject": row[2],
                "actor": row[3],
                "detail": row[4],
            }
            for row in rows
        ]

    def _require_keyring(self) -> Keyring:
        if self._keyring is None:
            raise MasterKeyMissingError(self._missing_key_advice())
        return self._keyring

    def _missing_key_advice(self) -> str:
        """Why a master key is needed, and which one: a store whose personal data is already
        encrypted needs the key it was written with (a new key would only be refused as a
        mismatch); only a store with none yet may start with a new one."""
        rows = self._store.query(self._sql["any_master_key"]) if self._store else []
        if rows:
            return (
                f"no master key for {self._store_name}: its personal data is encrypted under "
                f"master key {rows[0][0]}, so set LOANLEDGER_MASTER_KEY to the key this store "
                "was written with (a store made by `loanledger demo` keeps it in its output "
                "directory: LOANLEDGER_MASTER_KEY=$(cat loanledger-demo/master.key)); a new "
                "key cannot open it"
            )
        return (
            f"no master key for {self._store_name}: personal data is stored encrypted, so "
            "set LOANLEDGER_MASTER_KEY to the base64 text of 32 random bytes "
            "(`loanledger new-master-key` prints one) or pass master_key= to LoanLedger.open"
        )

    def _require_store(self) -> ReadStore:
        if self._store is None:
            raise AssertionError("DataKeys used before attach()")
        return self._store
