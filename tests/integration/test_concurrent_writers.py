"""Concurrent writers on real PostgreSQL never lose or duplicate an update (DESIGN §5)."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan, repay

pytestmark = pytest.mark.postgres


def test_threads_repaying_one_loan_record_every_repayment_exactly_once(
    postgres_url: str, clock: Callable[[], datetime]
) -> None:
    """Six threads, each with its own ledger (own connection pool), send 8 repayments each to the
    same loan; a third of the sends repeat an earlier reference with the same content. Every
    reference is recorded once, repeats are reported as such, and the allocations add up."""
    url = f"{postgres_url}?schema=t_{uuid4().hex[:12]}"
    setup = LoanLedger.open(url, clock=clock)
    for command in pre_loan("L-0001", amount="100000.00"):
        setup.execute(command)
    setup.execute(disburse("L-0001", "2024-01-15", "100000.00"))
    plans = {
        worker: [
            repay("L-0001", f"2024-02-{1 + step:02d}", "10.00", f"R-{worker}-{step}")
            for step in range(8)
        ]
        for worker in range(6)
    }
    rng = random.Random(7)

    def writer(worker: int) -> list[dict[str, Any]]:
        ledger = LoanLedger.open(url, clock=clock)
        results = []
        try:
            for command in plans[worker]:
                results.append(ledger.execute(command))
                if rng.random() < 0.33:
                    results.append(ledger.execute(command))
        finally:
            ledger.close()
        return results

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = [item for batch in pool.map(writer, range(6)) for item in batch]

    first_sends = [result for result in results if not result["repeated"]]
    assert len(first_sends) == 48
    assert len({result["reference"] for result in first_sends}) == 48
    final = [setup.execute(command) for commands in plans.values() for command in commands]
    assert all(result["repeated"] for result in final)
    allocated = sum(
        (Decimal(value) for result in final for value in result["allocation"].values()),
        start=Decimal(0),
    )
    assert allocated == Decimal("480.00")
    assert setup.verify().ok
    assert setup.verify().events_checked >= 5 + 48
    setup.close()
