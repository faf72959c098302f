"""Checkpoints as files and dicts: reading one an auditor hands back (shape checked), and the
Ed25519 key the ledger signs them with (`LOANLEDGER_SIGNING_KEY`). The signed bytes are
`loanledger.proof.checkpoint_message`'s, which the auditor's checker verifies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loanledger.domain.errors import InvalidCheckpointError, InvalidSigningKeyError
from loanledger.proof import checkpoint_message, key_id_of


def load_checkpoint(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A checkpoint given as a dict or as the path of its JSON file, its shape checked
    (`InvalidCheckpointError` otherwise); its signature is checked where it is used."""
    try:
        loaded: Any = (
            dict(source)
            if isinstance(source, Mapping)
            else json.loads(Path(source).read_text(encoding="utf-8"))
        )
    except (OSError, ValueError) as error:
        raise InvalidCheckpointError(f"cannot read checkpoint {source}: {error}") from error
    if not isinstance(loaded, dict):
        raise InvalidCheckpointError("a checkpoint is a JSON object")
    size, root = loaded.get("tree_size"), loaded.get("root")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidCheckpointError("checkpoint tree_size must be a non-negative integer")
    if not isinstance(root, str) or len(root) != 64 or root.strip("0123456789abcdef"):
        raise InvalidCheckpointError("checkpoint root must be 64 lower-case hex characters")
    if not isinstance(loaded.get("recorded_at", ""), str):
        raise InvalidCheckpointError("checkpoint recorded_at must be an ISO timestamp")
    return loaded


class SigningKey:
    """The Ed25519 key checkpoints are signed with (`LOANLEDGER_SIGNING_KEY`: 64 hex)."""

    def __init__(self, text: str) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        try:
            seed = bytes.fromhex(text.strip())
            if len(seed) != 32:
                raise ValueError("32 bytes expected")
        except ValueError as error:
            raise InvalidSigningKeyError(
                "LOANLEDGER_SIGNING_KEY must be an Ed25519 private key: 64 hex characters"
            ) from error
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id_of(self.public_key)

    def sign(self, checkpoint: dict[str, Any]) -> dict[str, Any]:
        return {
            **checkpoint,
            "signature": self._key.sign(checkpoint_message(checkpoint)).hex(),
            "key_id": self.key_id,
            "public_key": self.public_key.hex(),
        }
