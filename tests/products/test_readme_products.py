"""The README's Products example runs as written and gives the figures the README states."""

from __future__ import annotations

import json
import re
from pathlib import Path

from loanledger import LoanLedger

README = Path(__file__).resolve().parents[2] / "README.md"


def _journal() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Products: pricing a loan") :]
    block = re.search(r"```jsonl\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1).splitlines()


def test_the_readme_product_example_gives_the_figures_it_states() -> None:
    ledger = LoanLedger.open("memory://")
    lines = _journal()
    assert ledger.load(lines) == {"applied": len(lines)}
    view = ledger.loan("L-0100", as_of="2024-04-20")
    assert (view["product"], view["product_version"], view["apr"]) == ("SME-WC", 1, "0.0425")
    rows = ledger.schedule("L-0100")
    assert rows[0]["interest"] == "371.84"
    assert len(rows) == 11 and rows[-2]["installment"] == "10237.19"
    statement = ledger.statement("L-0100", "2024-02-01", "2024-04-20")
    allocations = {
        m["reference"]: m["allocation"] for m in statement["movements"] if "allocation" in m
    }
    assert (allocations["R-102"]["interest"], allocations["R-102"]["principal"]) == (
        "334.69",
        "4665.31",
    )
    assert allocations["R-103"]["penalty"] == "36.78"
    assert allocations["R-103"]["prepaid_principal"] == "14499.70"
    assert json.loads(lines[0])["allocation"] == "interest_principal_penalty"
