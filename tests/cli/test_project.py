"""`loanledger project`: catch the read models up once, or follow the store until stopped."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loanledger import LoanLedger
from loanledger.projection.loan_index import LoanIndexProjection
from tests.cli.test_cli import book, events_recorded, invoke, write_journal


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/ledger.db"


def _loaded(tmp_path: Path, db: str) -> None:
    result = invoke("load", str(write_journal(tmp_path / "book.jsonl", book())), "--db", db)
    assert result.exit_code == 0, result.stderr


def _projected_through(url: str) -> int:
    ledger = LoanLedger.open(url)
    try:
        return min(ledger.projections.position(p) for p in ledger.projections.projections)
    finally:
        ledger.close()


def test_project_catches_up_once_and_says_how_many_events_it_projected(
    tmp_path: Path, db: str
) -> None:
    _loaded(tmp_path, db)
    recorded = events_recorded(db)

    first = invoke("project", "--db", db)
    again = invoke("project", "--db", db)

    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith(f"projected {recorded} events")
    assert f"at position {recorded}" in first.stdout
    assert again.exit_code == 0, again.stderr
    assert again.stdout.startswith("projected 0 events")


def test_project_follow_projects_new_events_and_stops_cleanly_on_sigterm(
    tmp_path: Path, db: str
) -> None:
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loanledger.entrypoints.cli",
            "project",
            "--follow",
            "--poll",
            "0.1",
        ],
        env={**os.environ, "LOANLEDGER_DB": db},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _loaded(tmp_path, db)
        recorded = events_recorded(db)
        deadline = time.monotonic() + 20
        while _projected_through(db) < recorded:
            assert follower.poll() is None, follower.communicate()
            assert time.monotonic() < deadline, "the follower did not project the book"
            time.sleep(0.1)
        follower.send_signal(signal.SIGTERM)
        stdout, stderr = follower.communicate(timeout=10)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()

    assert follower.returncode == 0, stderr
    assert f"stopped: {recorded} events projected while following" in stdout


def test_project_status_prints_each_projections_position_lag_and_stuck_event(
    tmp_path: Path, db: str
) -> None:
    _loaded(tmp_path, db)
    recorded = events_recorded(db)

    result = invoke("project", "--status", "--db", db)

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"projection": name, "position": recorded, "lag": 0, "stuck": None}
        for name in ("loan_index", "loan_state", "notices")
    ]


def test_project_status_names_a_stuck_event_and_exits_1(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _loaded(tmp_path, db)
    with sqlite3.connect(db.removeprefix("sqlite:///")) as connection:
        connection.execute("DELETE FROM loanledger_tracking WHERE projection = 'loan_index'")
        connection.execute("DELETE FROM loanledger_loan_index")

    def refuse(*args: object) -> None:
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(LoanIndexProjection, "process", refuse)
    result = invoke("project", "--status", "--db", db)

    assert result.exit_code == 1
    rows = {row["projection"]: row for row in json.loads(result.stdout)}
    assert rows["loan_index"]["position"] == 0
    assert rows["loan_index"]["stuck"]["position"] == 1
    assert rows["loan_index"]["stuck"]["version"] == 1
    assert rows["loan_index"]["stuck"]["error"] == "RuntimeError: index unavailable"
    assert rows["loan_state"]["stuck"] is None
