"""kill -9 the projecting process at random points of a rebuild (Reliability issue, item 2):
after restarting, the read models equal a clean rebuild and nothing is duplicated."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan, repay

pytestmark = pytest.mark.slow

RUNS = 20
CHILD = """
import sys, time
from loanledger import LoanLedger
ledger = LoanLedger.open(sys.argv[1])
ledger.projections.batch_size = 10
process = ledger.loan_index.process
def slowed(txn, store, batch):
    process(txn, store, batch)
    time.sleep(0.005)  # a rebuild long enough for the kill to land inside it, on any machine
ledger.loan_index.process = slowed
print("ready", flush=True)
ledger.rebuild()
print("done", flush=True)
"""


def _index(ledger: LoanLedger) -> list[tuple[Any, ...]]:
    return ledger.read_store.query(
        "SELECT loan_id, aggregate_id, borrower_id, applied_on, last_version "
        "FROM loanledger_loan_index ORDER BY loan_id"
    )


def _state(ledger: LoanLedger) -> list[tuple[Any, ...]]:
    """Every segment of the bitemporal loan state, and each loan's coverage."""
    return ledger.read_store.query(
        "SELECT * FROM loanledger_loan_state ORDER BY loan_id, recorded_from, valid_from"
    ) + ledger.read_store.query("SELECT * FROM loanledger_loan_state_cover ORDER BY loan_id")


def _reports(ledger: LoanLedger) -> list[list[dict[str, Any]]]:
    return [ledger.report(name, as_of="2024-03-20") for name in ("loan_ledger", "aging")]


def test_killing_a_rebuild_at_random_points_then_resuming_equals_a_clean_rebuild(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/books.db"
    ledger = LoanLedger.open(url)
    for number in range(60):
        loan_id = f"L-{number:04d}"
        for command in pre_loan(loan_id, borrower_id=f"B-{number % 7}"):
            ledger.execute(command)
        ledger.execute(disburse(loan_id, "2024-01-15", "12000.00"))
        ledger.execute(repay(loan_id, "2024-02-15", "1032.80", "R-1"))
    # The child rebuilds 10 events a batch; the reference does too, since the loan state's
    # segments reach as far as the business horizon of the batch that wrote them.
    ledger.projections.batch_size = 10
    ledger.rebuild()
    clean = _index(ledger)
    clean_state = _state(ledger)
    clean_reports = _reports(ledger)
    assert len(clean_state) > 60
    ledger.close()
    rng = random.Random(20241129)
    killed_mid_way = 0

    for _ in range(RUNS):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, url],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.08))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        killed_mid_way += child.returncode == -signal.SIGKILL

        resumed = LoanLedger.open(url)
        resumed.projections.batch_size = 10
        resumed.projections.catch_up()
        assert _index(resumed) == clean
        assert _state(resumed) == clean_state  # no segment lost or written twice
        assert _reports(resumed) == clean_reports
        resumed.close()

    assert killed_mid_way == RUNS  # every kill landed before the rebuild finished
