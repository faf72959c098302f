"""Several processes (not only threads) writing to the same loans on real PostgreSQL, with random
duplicate references: every acknowledged command is recorded exactly once, balances equal a
serial replay, and the hash chains verify (Reliability issue, item 1)."""

from __future__ import annotations

import multiprocessing
import random
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan, repay

pytestmark = pytest.mark.postgres

WORKERS = 4
REPAYMENTS_PER_WORKER = 12
LOANS = ("L-0001", "L-0002", "L-0003")


def _worker(url: str, worker: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    ledger = LoanLedger.open(url)
    acknowledged = []
    try:
        for step in range(REPAYMENTS_PER_WORKER):
            loan_id = rng.choice(LOANS)
            command = repay(loan_id, f"2024-02-{1 + step:02d}", "7.00", f"R-{worker}-{step}")
            result = ledger.execute(command)
            acknowledged.append({"loan_id": loan_id, **result})
            if rng.random() < 0.3:  # a client retrying after a lost reply
                again = ledger.execute(command)
                assert again["repeated"] is True
                assert again["allocation"]["principal"] is not None
    finally:
        ledger.close()
    return acknowledged


def test_processes_repaying_shared_loans_record_every_command_exactly_once(
    postgres_url: str,
) -> None:
    url = f"{postgres_url}?schema=p_{uuid4().hex[:12]}"
    setup = LoanLedger.open(url)
    for loan_id in LOANS:
        for command in pre_loan(loan_id, amount="50000.00"):
            setup.execute(command)
        setup.execute(disburse(loan_id, "2024-01-15", "50000.00"))
    setup.close()

    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        batches = pool.starmap(_worker, [(url, worker, worker + 11) for worker in range(WORKERS)])
    acknowledged = [result for batch in batches for result in batch]

    ledger = LoanLedger.open(url)
    references = {
        loan_id: [
            event.reference  # type: ignore[attr-defined]
            for event in ledger.events.get(ledger._get(loan_id).id)
            if type(event).__name__ == "RepaymentReceived"
        ]
        for loan_id in LOANS
    }
    recorded = [reference for refs in references.values() for reference in refs]
    assert len(acknowledged) == WORKERS * REPAYMENTS_PER_WORKER
    assert sorted(recorded) == sorted(result["reference"] for result in acknowledged)
    assert len(recorded) == len(set(recorded))  # no duplicate

    serial = LoanLedger.open("memory://")
    for loan_id in LOANS:
        for command in pre_loan(loan_id, amount="50000.00"):
            serial.execute(command)
        serial.execute(disburse(loan_id, "2024-01-15", "50000.00"))
    for result in sorted(acknowledged, key=lambda item: item["version"]):
        loan_id = result["loan_id"]
        serial.execute(repay(loan_id, _day_of(result["reference"]), "7.00", result["reference"]))
    for loan_id in LOANS:
        for day in ("2024-02-12", "2024-03-31"):
            assert ledger.loan(loan_id, as_of=day) == serial.loan(loan_id, as_of=day)
    total = sum(Decimal(result["amount"]) for result in acknowledged)
    assert total == Decimal("7.00") * WORKERS * REPAYMENTS_PER_WORKER
    assert ledger.verify().ok
    ledger.close()


def _day_of(reference: str) -> str:
    step = int(reference.rsplit("-", 1)[1])
    return f"2024-02-{1 + step:02d}"
