"""The transparency log on real stores: every way of rewriting history an auditor fears is
caught by `verify()` against a checkpoint, and located (loan, version, reason)."""

from __future__ import annotations

import json
from pathlib import Path

from loanledger import LoanLedger
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.pages import page_reader
from loanledger.persistence.verify import read_notifications, verify_chains
from loanledger.proof import check_consistency, check_inclusion
from tests.integration import book_tampering as tamper
from tests.integration.tampering import flip_bit, overwrite_state, stored_states, swap_events
from tests.journal import disburse, pre_loan, repay

STORE_KINDS = ("sqlite", "postgresql")
LOANS = ("L-0001", "L-0002", "L-0003")


def _book(ledger: LoanLedger) -> dict[str, object]:
    """Three loans, each applied, approved, disbursed and repaid twice; then a checkpoint."""
    for loan_id in LOANS:
        for command in pre_loan(loan_id):
            ledger.execute(command)
        ledger.execute(disburse(loan_id, "2024-01-15", "12000.00"))
    for loan_id in LOANS:
        ledger.execute(repay(loan_id, "2024-02-15", "1032.80", f"{loan_id}-R1"))
        ledger.execute(repay(loan_id, "2024-03-15", "1032.80", f"{loan_id}-R2"))
    return ledger.checkpoint()


def _versions(ledger: LoanLedger, loan_id: str) -> int:
    return len(stored_states(ledger, loan_uuid(loan_id)))


def test_an_untouched_book_verifies_against_its_checkpoint_and_its_stored_ones(
    ledger: LoanLedger, tmp_path: Path
) -> None:
    checkpoint = _book(ledger)
    ledger.execute(repay("L-0002", "2024-04-15", "1032.80", "L-0002-R3"))
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(checkpoint))

    result = ledger.verify(against=path)

    assert result.ok
    assert result.first_break is None
    assert result.checkpoints_checked == 2
    assert result.events_checked == checkpoint["tree_size"] + 1  # type: ignore[operator]


def test_a_flipped_byte_is_altered_at_its_loan_and_version(ledger: LoanLedger) -> None:
    checkpoint = _book(ledger)
    aggregate_id = loan_uuid("L-0002")
    overwrite_state(ledger, aggregate_id, 3, flip_bit(stored_states(ledger, aggregate_id)[3], 90))

    result = ledger.verify(against=checkpoint)

    assert result.ok is False
    assert result.first_break is not None
    assert (result.first_break.loan_id, result.first_break.version) == ("L-0002", 3)
    assert result.first_break.reason == "altered"


def test_a_deleted_middle_event_is_missing(ledger: LoanLedger) -> None:
    checkpoint = _book(ledger)
    tamper.delete_versions(ledger, loan_uuid("L-0003"), [2])

    broken = ledger.verify(against=checkpoint).first_break

    assert broken is not None
    assert (broken.loan_id, broken.version, broken.reason) == ("L-0003", 2, "missing")


def test_a_deleted_last_event_and_a_deleted_tail_are_missing(ledger: LoanLedger) -> None:
    checkpoint = _book(ledger)
    last = _versions(ledger, "L-0001")
    tamper.delete_versions(ledger, loan_uuid("L-0001"), [last])

    broken = ledger.verify(against=checkpoint).first_break
    assert broken is not None
    assert (broken.loan_id, broken.version, broken.reason) == ("L-0001", last, "missing")

    tamper.delete_versions(ledger, loan_uuid("L-0002"), range(last - 4, last + 1))
    # The stored checkpoint catches it too, with no checkpoint given; L-0002's last five events
    # start before L-0001's last one in the log.
    broken = ledger.verify().first_break
    assert broken is not None
    assert (broken.loan_id, broken.version, broken.reason) == ("L-0002", last - 4, "missing")


def test_a_whole_deleted_loan_is_named_by_its_journal_id(ledger: LoanLedger) -> None:
    checkpoint = _book(ledger)
    tamper.delete_loan(ledger, loan_uuid("L-0002"))

    result = ledger.verify(against=checkpoint)

    assert result.first_break is not None
    assert (result.first_break.loan_id, result.first_break.version) == ("L-0002", 1)
    assert result.first_break.reason == "missing"
    assert result.loans_checked == 2


def test_a_truncated_log_is_missing_from_the_first_event_cut(ledger: LoanLedger) -> None:
    checkpoint = _book(ledger)
    notifications = ledger.recorder.select_notifications(1, 1000)
    first_cut = notifications[12]
    tamper.truncate_after(ledger, 12)

    broken = ledger.verify().first_break

    assert broken is not None
    assert broken.reason == "missing"
    assert broken.version == first_cut.originator_version
    assert loan_uuid(broken.loan_id) == first_cut.originator_id
    given = ledger.verify(against=checkpoint).first_break
    assert given is not None
    assert (given.loan_id, given.version, given.reason) == (
        broken.loan_id,
        broken.version,
        broken.reason,
    )


def test_two_events_swapped_in_the_log_are_reordered(ledger: LoanLedger) -> None:
    checkpoint = _book(ledger)
    notifications = ledger.recorder.select_notifications(1, 1000)
    first, second = notifications[3], notifications[12]
    tamper.swap_notification_order(ledger, first.id, second.id)

    broken = ledger.verify(against=checkpoint).first_break

    assert broken is not None
    assert (broken.version, broken.reason) == (first.originator_version, "reordered")
    assert loan_uuid(broken.loan_id) == first.originator_id


def test_two_versions_swapped_within_a_loan_are_reordered(ledger: LoanLedger) -> None:
    checkpoint = _book(ledger)
    swap_events(ledger, loan_uuid("L-0003"), 2, 3)

    broken = ledger.verify(against=checkpoint).first_break

    assert broken is not None
    assert (broken.loan_id, broken.version, broken.reason) == ("L-0003", 2, "reordered")


def test_a_forged_event_with_a_valid_chain_is_inserted(ledger: LoanLedger) -> None:
    checkpoint = _book(ledger)
    # The forged event's chain link is right: only the tree tells it from a real one.
    forged = tamper.forge_after(ledger, loan_uuid("L-0001"))
    chains = verify_chains(read_notifications(page_reader(ledger.recorder)))
    assert chains.ok

    broken = ledger.verify(against=checkpoint).first_break

    assert broken is not None
    assert (broken.loan_id, broken.version, broken.reason) == ("L-0001", forged, "inserted")


def test_an_altered_stored_checkpoint_is_reported_at_its_last_event(ledger: LoanLedger) -> None:
    checkpoint = _book(ledger)
    ledger.execute(repay("L-0001", "2024-04-15", "1032.80", "L-0001-R3"))
    ledger.checkpoint()
    tamper.alter_checkpoint(ledger, checkpoint["tree_size"], "ab" * 32)  # type: ignore[arg-type]

    result = ledger.verify()

    assert result.ok is False
    assert result.first_break is not None
    assert (result.first_break.loan_id, result.first_break.reason) == ("L-0003", "altered")
    assert result.first_break.version == _versions(ledger, "L-0003")
    assert "the checkpoint row was altered" in result.first_break.detail
    # The book itself is intact: the checkpoint the auditor kept still holds it.
    given = ledger.verify(against=checkpoint).first_break
    assert given is not None
    assert "the checkpoint row was altered" in given.detail


def test_a_loan_proof_checks_against_the_checkpoint_and_fails_on_any_changed_byte(
    ledger: LoanLedger, tmp_path: Path
) -> None:
    old = _book(ledger)
    ledger.execute(repay("L-0002", "2024-04-15", "1032.80", "L-0002-R3"))
    new = ledger.checkpoint()
    proof = ledger.prove("L-0002")

    assert check_inclusion(proof, new)
    assert [event["version"] for event in proof["events"]] == list(
        range(1, _versions(ledger, "L-0002") + 1)
    )
    assert check_inclusion(ledger.prove("L-0002", checkpoint=old), old)
    assert not check_inclusion(proof, old)
    text = json.dumps(proof)
    for position in range(0, len(text), 97):
        changed = text[:position] + chr(ord(text[position]) ^ 1) + text[position + 1 :]
        try:
            mangled = json.loads(changed)
        except ValueError:
            continue
        if mangled != proof:
            assert not check_inclusion(mangled, new), position
    root = new["root"]
    for position in range(64):
        other = root[:position] + ("0" if root[position] != "0" else "1") + root[position + 1 :]
        assert not check_inclusion(proof, {**new, "root": other})
    consistency = ledger.prove_consistency(old, new)
    assert check_consistency(consistency, old, new)
    assert not check_consistency(consistency, new, old)
    assert not check_consistency(consistency, old, {**new, "root": "00" * 32})
