"""`loanledger demo`'s archive page, as a fresh clone's user opens it: the same browser checks as
the library's archive (`tests.integration.test_archive_browser`), on the demo's defaulted loan."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loanledger import LoanLedger
from loanledger.entrypoints.cli import app
from loanledger.entrypoints.demo import defaulted_loan
from tests import browser
from tests.integration.test_archive_browser import check_in_browser


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    browser.chromium()  # skip (or fail under CI=true) before running the demo
    out = tmp_path_factory.mktemp("demo-archive")
    result = CliRunner().invoke(app, ["demo", "--loans", "20", "--out", str(out)])
    assert result.exit_code == 0, result.stderr or repr(result.exception)
    return out


def test_the_demos_archive_page_reads_well_in_a_real_browser(demo_out: Path) -> None:
    rows = list(csv.DictReader(io.StringIO((demo_out / "loan_ledger.csv").read_text())))
    chosen = defaulted_loan([{**row, "days_past_due": int(row["days_past_due"])} for row in rows])
    assert chosen is not None
    page = demo_out / f"archive_{chosen}.html"
    opened = LoanLedger.open(f"sqlite:///{demo_out}/demo.db")
    try:
        archive = opened.archive(chosen)
        borrower = opened.archive(chosen, unmasked=True, actor="test")["borrower"]
    finally:
        opened.close()
    secrets = tuple(value for value in (borrower["id_number"], borrower["name"]) if value)

    assert borrower["id_number"], "the demo's borrowers carry an identity number"
    assert archive["summary"]["status"] in ("written_off", "legal_recovery", "overdue")
    assert archive["timeline"], "a defaulted loan has changes that time made"
    check_in_browser(page, secrets)
