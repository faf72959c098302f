"""`loanledger checkpoint`, `verify --against`, `prove`, `check-proof` and the consistency pair:
the files an auditor keeps and checks, end to end on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loanledger import LoanLedger
from loanledger.persistence.ids import loan_uuid
from tests.cli.test_cli import book, invoke, write_journal
from tests.integration import book_tampering as tamper
from tests.journal import repay

SIGNING_KEY = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
"""RFC 8032's first Ed25519 test key (public key d75a9801...511a)."""


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/ledger.db"
    journal = write_journal(tmp_path / "book.jsonl", book())
    assert invoke("load", str(journal), "--db", url).exit_code == 0
    return url


def test_a_checkpoint_file_holds_the_book_until_an_event_is_deleted(
    db: str, tmp_path: Path
) -> None:
    kept = tmp_path / "checkpoint.json"

    made = invoke("checkpoint", "--out", str(kept), "--db", db)

    assert made.exit_code == 0, made.stderr
    head = json.loads(kept.read_text())
    assert sorted(head) == ["recorded_at", "root", "tree_size"]
    assert made.stdout == f"wrote the checkpoint of {head['tree_size']} events to {kept}\n"
    assert invoke("verify", "--against", str(kept), "--db", db).exit_code == 0

    ledger = LoanLedger.open(db)
    try:
        tamper.delete_versions(ledger, loan_uuid("L-0002"), [5])  # its last event
    finally:
        ledger.close()
    broken = invoke("verify", "--against", str(kept), "--db", db)

    assert broken.exit_code == 1
    assert broken.stderr.startswith("first break: loan L-0002 version 5: missing (")


def test_a_loan_proof_checks_with_no_store_and_fails_once_changed(db: str, tmp_path: Path) -> None:
    kept, proof = tmp_path / "checkpoint.json", tmp_path / "proof.json"
    assert invoke("checkpoint", "--out", str(kept), "--db", db).exit_code == 0

    made = invoke("prove", "L-0001", "--checkpoint", str(kept), "--out", str(proof), "--db", db)

    assert made.exit_code == 0, made.stderr
    assert made.stdout == f"wrote the proof of 6 events of L-0001 to {proof}\n"
    checked = invoke("check-proof", str(proof), str(kept))
    assert (checked.exit_code, checked.stdout) == (0, f"proof {proof}: ok\n")
    document = json.loads(proof.read_text())
    document["events"][2]["leaf_index"] += 1
    proof.write_text(json.dumps(document))
    assert invoke("check-proof", str(proof), str(kept)).exit_code == 1


def test_a_signed_checkpoint_names_its_key_and_a_consistency_proof_links_two(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOANLEDGER_SIGNING_KEY", SIGNING_KEY)
    public_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    old, new, proof = (tmp_path / name for name in ("old.json", "new.json", "proof.json"))
    assert invoke("checkpoint", "--out", str(old), "--db", db).exit_code == 0
    ledger = LoanLedger.open(db)
    try:
        ledger.execute(repay("L-0002", "2024-02-16", "1000.00", "R-2"))
    finally:
        ledger.close()
    assert invoke("checkpoint", "--out", str(new), "--db", db).exit_code == 0
    head = json.loads(new.read_text())
    assert head["public_key"] == public_key
    assert len(head["signature"]) == 128

    made = invoke("prove-consistency", str(old), str(new), "--out", str(proof), "--db", db)

    assert made.exit_code == 0, made.stderr
    args = ("check-consistency", str(proof), str(old), str(new), "--public-key", public_key)
    assert invoke(*args).exit_code == 0
    assert invoke("check-consistency", str(proof), str(new), str(old)).exit_code == 1
    head["tree_size"] += 1
    new.write_text(json.dumps(head))
    assert invoke(*args).exit_code == 1
    forged = invoke("verify", "--against", str(new), "--db", db)
    assert forged.exit_code == 1
    assert "signature does not verify" in forged.stderr
