"""The auditor's checker never raises on what it is handed, and signed checkpoints verify only
under their key (RFC 8032's first Ed25519 test key)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from loanledger.domain.errors import InvalidCheckpointError, InvalidSigningKeyError
from loanledger.persistence.chain import compute_link
from loanledger.persistence.checkpoints import SigningKey, load_checkpoint
from loanledger.proof import chain_link, check_consistency, check_inclusion, check_signature

SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
HEAD = {"tree_size": 3, "root": "ab" * 32, "recorded_at": "2024-01-01T09:00:00+00:00"}


def test_the_signing_key_derives_rfc_8032s_public_key_and_its_signature_checks() -> None:
    key = SigningKey(SECRET)
    signed = key.sign(HEAD)

    assert signed["public_key"] == PUBLIC
    assert signed["key_id"] == hashlib.sha256(bytes.fromhex(PUBLIC)).hexdigest()[:16]
    assert check_signature(signed)
    assert check_signature(signed, PUBLIC)
    assert not check_signature({**signed, "tree_size": 4})
    assert not check_signature({**signed, "root": "cd" * 32})
    assert not check_signature(signed, "00" * 32)
    assert not check_signature(HEAD, PUBLIC)  # a key was named: unsigned is not enough
    assert check_signature(HEAD)


def test_a_signing_key_that_is_not_64_hex_is_refused_by_name() -> None:
    with pytest.raises(InvalidSigningKeyError, match="LOANLEDGER_SIGNING_KEY must be"):
        SigningKey("not hex")


@pytest.mark.parametrize(
    ("checkpoint", "message"),
    [
        ({**HEAD, "tree_size": -1}, "tree_size must be a non-negative integer"),
        ({**HEAD, "tree_size": True}, "tree_size must be a non-negative integer"),
        ({**HEAD, "root": "AB" * 32}, "root must be 64 lower-case hex"),
        ({**HEAD, "root": "ab"}, "root must be 64 lower-case hex"),
    ],
)
def test_a_malformed_checkpoint_is_refused(checkpoint: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidCheckpointError, match=message):
        load_checkpoint(checkpoint)


def test_an_unreadable_checkpoint_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    path.write_text("[1, 2")
    with pytest.raises(InvalidCheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "proof",
    [{}, {"kind": "loanledger.inclusion/1"}, [], "no such file", {"events": None}, 7],
)
def test_the_checker_answers_false_and_never_raises_on_garbage(proof: Any, tmp_path: Path) -> None:
    assert check_inclusion(proof, HEAD) is False
    assert check_consistency(proof, HEAD, HEAD) is False
    assert check_inclusion(proof, tmp_path / "missing.json") is False


def test_the_checkers_chain_link_is_the_ledgers() -> None:
    import uuid

    originator = uuid.uuid4()
    body = b'{"loan_id":"L-1"}'
    assert chain_link("0" * 64, originator, 3, "t:Event", body) == compute_link(
        "0" * 64, originator, 3, "t:Event", body
    )


def test_proof_py_runs_alone_copied_out_of_the_package(tmp_path: Path) -> None:
    """An auditor may copy the one file: it imports nothing from loanledger or its dependencies."""
    import json
    import shutil
    import subprocess
    import sys

    import loanledger.proof

    shutil.copy(loanledger.proof.__file__, tmp_path / "proof.py")
    script = (
        f"import json, sys; sys.path.insert(0, {str(tmp_path)!r}); import proof\n"
        "ok = proof.check_inclusion({}, {'tree_size': 0, 'root': '00' * 32})\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('loanledger', 'eventsourcing', 'pydantic', 'psycopg', 'cryptography'))\n"
        "print(json.dumps([ok, loaded]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == [False, []]
