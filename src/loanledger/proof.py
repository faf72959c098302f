"""Check a loanledger proof with nothing but the proof file and a published checkpoint.

This module is the auditor's side: it needs no store, no ledger and no other loanledger module,
only `hashlib`, `json`, `base64` and `uuid` from the standard library (and `cryptography`, loaded
only when a checkpoint carries an Ed25519 signature). It is short on purpose, so that an auditor
can read all of it.

The tree is the Merkle tree of RFC 9162 (Certificate Transparency v2, as RFC 6962):

    leaf hash  = SHA-256(0x00 || leaf bytes)
    node hash  = SHA-256(0x01 || left || right)
    root of n  = the left subtree holds the largest power of two below n leaves

Each leaf is one stored event, in the store's global order (notification id); its leaf bytes are
the event's bytes exactly as stored: its 64-hex chain link followed by its JSON body (personal
data in it stays encrypted). The chain link binds the event to its loan, version and type:

    link_v = SHA-256(link_{v-1} | originator_id hex | v | topic | body)    (link_0 = 64 zeros)

`check_inclusion` recomputes every leaf of a loan proof from the event bytes it carries, checks
the loan's chain from its first version, and walks each audit path up to the checkpoint's root.
`check_consistency` checks that a later checkpoint's tree extends an earlier one's (the book only
grew). Both return a bool and never raise on a malformed proof.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

HASH_HEX_LENGTH = 64
GENESIS_LINK = "0" * HASH_HEX_LENGTH
INCLUSION_KIND = "loanledger.inclusion/1"
CONSISTENCY_KIND = "loanledger.consistency/1"
CHECKPOINT_HEADER = "loanledger checkpoint v1"


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root an inclusion path leads to (RFC 9162 §2.1.3.2), or None if the path has the
    wrong length for `index` in a tree of `size` leaves."""
    if not 0 <= index < size:
        return None
    fn, sn = index, size - 1
    result = leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None


def consistent(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does `path` prove that the tree of `new_size` leaves with `new_root`
    starts with the tree of `old_size` leaves with `old_root`?"""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    if old_size == 0:
        return not path  # every tree extends the empty one
    if not path:
        return False
    nodes = list(path)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        nodes.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for node in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def chain_link(
    previous_link: str, originator_id: UUID, version: int, topic: str, body: bytes
) -> str:
    """The event's chain link from its predecessor's (see the module docstring)."""
    digest = hashlib.sha256()
    for part in (previous_link, originator_id.hex, str(version)):
        digest.update(part.encode("ascii") + b"|")
    digest.update(topic.encode("utf-8") + b"|")
    digest.update(body)
    return digest.hexdigest()


def checkpoint_message(checkpoint: Mapping[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: header, tree size, root, time, one a line."""
    return (
        f"{CHECKPOINT_HEADER}\n{int(checkpoint['tree_size'])}\n{checkpoint['root']}\n"
        f"{checkpoint['recorded_at']}\n"
    ).encode()


def key_id_of(public_key: bytes) -> str:
    """A short name for an Ed25519 public key: the first 16 hex of SHA-256 of its 32 bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def check_signature(checkpoint: Mapping[str, Any], public_key: str | None = None) -> bool:
    """True when the checkpoint is unsigned, or its Ed25519 signature verifies under
    `public_key` (hex), else under the key it carries. A key carried in the checkpoint proves
    only that the file is intact: compare `key_id` with the one the ledger published."""
    if "signature" not in checkpoint:
        return public_key is None  # a trusted key was named, so an unsigned checkpoint fails
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        raw = bytes.fromhex(public_key or checkpoint["public_key"])
        if checkpoint.get("key_id") != key_id_of(raw):
            return False
        Ed25519PublicKey.from_public_bytes(raw).verify(
            bytes.fromhex(checkpoint["signature"]), checkpoint_message(checkpoint)
        )
    except (InvalidSignature, KeyError, TypeError, ValueError):
        return False
    return True


def check_inclusion(
    proof: Mapping[str, Any] | str | Path,
    checkpoint: Mapping[str, Any] | str | Path,
    *,
    public_key: str | None = None,
) -> bool:
    """True iff every event in the loan proof is in the checkpoint's tree, at the position the
    proof names, and the events form the loan's hash chain from its first version on.

    Proves inclusion only: events of the loan recorded after the checkpoint, and whether the
    store still holds the events, are outside what a proof can say (`verify` answers that)."""
    try:
        return _check_inclusion(_load(proof), _load(checkpoint), public_key)
    except (KeyError, TypeError, ValueError, AttributeError, OSError, RecursionError):
        return False


def _check_inclusion(
    proof: Mapping[str, Any], checkpoint: Mapping[str, Any], public_key: str | None
) -> bool:
    size, root = _tree_head(checkpoint)
    if proof["kind"] != INCLUSION_KIND or not check_signature(checkpoint, public_key):
        return False
    if proof["tree_size"] != size or proof["root"] != checkpoint["root"]:
        return False
    originator_id = UUID(proof["originator_id"])
    events = proof["events"]
    if not isinstance(events, list) or not events:
        return False
    link, last_index = GENESIS_LINK, -1
    for expected_version, event in enumerate(events, start=1):
        state = base64.b64decode(event["state"], validate=True)
        index = event["leaf_index"]
        if (
            event["version"] != expected_version
            or not isinstance(index, int)
            or index <= last_index
        ):
            return False
        stored_link = state[:HASH_HEX_LENGTH].decode("ascii")
        body = state[HASH_HEX_LENGTH:]
        link = chain_link(link, originator_id, expected_version, event["topic"], body)
        if (
            stored_link != link
            or json.loads(body).get("loan_id", proof["loan_id"]) != proof["loan_id"]
        ):
            return False
        path = [_hash(node) for node in event["path"]]
        if root_from_inclusion(index, size, leaf_hash(state), path) != root:
            return False
        last_index = index
    return True


def check_consistency(
    proof: Mapping[str, Any] | str | Path,
    old: Mapping[str, Any] | str | Path,
    new: Mapping[str, Any] | str | Path,
    *,
    public_key: str | None = None,
) -> bool:
    """True iff the proof shows the `new` checkpoint's tree begins with the `old` one's: every
    event the old checkpoint covered is still there, unchanged and in the same order."""
    try:
        proof, old, new = _load(proof), _load(old), _load(new)
        old_size, old_root = _tree_head(old)
        new_size, new_root = _tree_head(new)
        if proof["kind"] != CONSISTENCY_KIND:
            return False
        if (proof["old_size"], proof["new_size"]) != (old_size, new_size):
            return False
        if not (check_signature(old, public_key) and check_signature(new, public_key)):
            return False
        path = [_hash(node) for node in proof["path"]]
        return consistent(old_size, new_size, old_root, new_root, path)
    except (KeyError, TypeError, ValueError, AttributeError, OSError, RecursionError):
        return False


def _tree_head(checkpoint: Mapping[str, Any]) -> tuple[int, bytes]:
    size = checkpoint["tree_size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError("tree_size must be a non-negative integer")
    return size, _hash(checkpoint["root"])


def _hash(text: Any) -> bytes:
    if not isinstance(text, str) or len(text) != HASH_HEX_LENGTH or text != text.lower():
        raise ValueError("a hash is 64 lower-case hex characters")
    return bytes.fromhex(text)


def _load(source: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    """A proof or checkpoint given as a dict, or the path of its JSON file."""
    if isinstance(source, Mapping):
        return source
    loaded = json.loads(Path(source).read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError("expected a JSON object")
    return loaded
