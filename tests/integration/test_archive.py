"""The loan archive (贷款业务管理档案): every fact in order, with its chain proof and effect."""

from __future__ import annotations

import itertools

import pytest

from loanledger import LoanLedger
from loanledger.application import LoanEvents
from loanledger.domain.errors import CorruptHistoryError
from loanledger.persistence.chain import GENESIS_LINK
from loanledger.persistence.ids import loan_uuid
from tests.html import TagBalance
from tests.integration.tampering import flip_bit, overwrite_state, stored_states
from tests.journal import disburse, pre_loan, repay


def _book(ledger: LoanLedger) -> None:
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    ledger.execute(repay("L-0001", "2024-03-20", "1000.00", "R-1"))
    ledger.close_day("2024-03-21")


def test_the_archive_lists_every_fact_in_chain_order_with_its_actor_and_link(
    ledger: LoanLedger,
) -> None:
    _book(ledger)

    archive = ledger.archive("L-0001")
    facts = archive["facts"]

    assert [fact["version"] for fact in facts] == list(range(1, len(facts) + 1))
    assert [(fact["fact"], fact["actor"]) for fact in facts[:6]] == [
        ("LoanApplied", "borrower"),
        ("InvestigationRecorded", "inv-1 & inv-2"),
        ("ReviewRecorded", "rev-1"),
        ("LoanApproved", "approver-1"),
        ("LoanDisbursed", "servicer"),
        ("RepaymentReceived", "borrower"),
    ]
    assert facts[0]["previous_hash"] == GENESIS_LINK
    assert all(
        later["previous_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(facts)
    )
    checkpoint = archive["verify"].pop("checkpoint")  # close_day recorded one
    assert archive["verify"] == {"ok": True, "events_checked": len(facts), "first_break": None}
    assert (checkpoint["included"], checkpoint["events_proven"]) == (True, len(facts))


def test_each_fact_shows_exactly_the_figures_it_changed_on_its_date(ledger: LoanLedger) -> None:
    _book(ledger)

    repayment = ledger.archive("L-0001")["facts"][5]

    assert repayment["changes"] == {
        "principal_outstanding": ["12000.00", "11068.52"],
        "overdue_principal": ["1950.46", "1018.98"],
        "overdue_interest": ["115.14", "55.14"],
        "penalty_outstanding": ["10.07", "1.30"],
    }
    assert repayment["data"]["allocation"]["principal"] == "931.48"


def test_the_archive_of_a_tampered_loan_says_where_the_chain_breaks(ledger: LoanLedger) -> None:
    _book(ledger)
    aggregate_id = loan_uuid("L-0001")
    state = stored_states(ledger, aggregate_id)[3]
    overwrite_state(ledger, aggregate_id, 3, flip_bit(state, len(state) // 2))

    archive = ledger.archive("L-0001")
    verified = archive["verify"]

    assert verified["ok"] is False
    assert verified["first_break"].startswith("loan L-0001 version 3:")
    assert [fact["unreadable"] for fact in archive["facts"][2:4]] == [True, False]
    assert archive["facts"][1]["state_after"]["status"] == "investigated"
    assert archive["facts"][3]["state_after"] is None  # figures stop at the break
    ledger._loan_events = LoanEvents()  # as a ledger that has not read the loan before
    with pytest.raises(CorruptHistoryError, match="loan L-0001 has stored events that cannot"):
        ledger.loan("L-0001", as_of="2024-03-21")


def test_the_html_archive_is_well_formed_and_shows_every_fact(ledger: LoanLedger) -> None:
    _book(ledger)
    archive = ledger.archive("L-0001")

    page = ledger.archive_html("L-0001")
    parser = TagBalance()
    parser.feed(page)

    assert parser.open == []
    text = "".join(parser.text)
    assert "贷款业务管理档案" in text and "verified" in text
    for fact in archive["facts"]:
        assert fact["hash"] in text and fact["fact"] in text
    assert "<script" not in page


def test_the_archive_shows_whether_the_loan_proves_into_the_latest_checkpoint(
    ledger: LoanLedger,
) -> None:
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    assert ledger.archive("L-0001")["verify"]["checkpoint"] is None
    head = ledger.checkpoint()

    status = ledger.archive("L-0001")["verify"]["checkpoint"]

    assert status == {
        "tree_size": head["tree_size"],
        "root": head["root"],
        "recorded_at": head["recorded_at"],
        "included": True,
        "events_proven": len(stored_states(ledger, loan_uuid("L-0001"))),
        "reason": None,
    }
    assert f"events proven in the tree of {head['tree_size']}" in ledger.archive_html("L-0001")
    aggregate_id = loan_uuid("L-0001")
    state = stored_states(ledger, aggregate_id)[2]
    overwrite_state(ledger, aggregate_id, 2, flip_bit(state, len(state) // 2))

    status = ledger.archive("L-0001")["verify"]["checkpoint"]

    assert (status["included"], status["events_proven"]) == (False, 0)
    assert "NOT PROVEN" in ledger.archive_html("L-0001")
