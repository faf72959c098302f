"""docs/ says what the code does: every journal command with exactly its fields, every report
with exactly its fields, the rule sets' settings as the code holds them, and no link that leaves
the repository."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import loanledger
from loanledger import LoanLedger
from loanledger.domain import errors
from loanledger.domain.book_commands import BOOK_COMMANDS
from loanledger.domain.commands import LOAN_COMMANDS, CloseDay
from loanledger.domain.rules import RULE_SETS
from loanledger.entrypoints.synthetic import SyntheticBook

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
JOURNAL_COMMANDS: dict[str, type[BaseModel]] = {
    "close_day": CloseDay,
    **BOOK_COMMANDS,
    **LOAN_COMMANDS,
}
REPORTS = (
    "five_category", "aging", "ifrs9_stages", "loan_ledger", "loan_level", "notices", "worklist",
    "trial_balance", "journal", "provisions", "kpi", "roll_rates", "vintage",
)  # fmt: skip


def sections(path: Path) -> dict[str, str]:
    """The `### \\`name\\`` sections of a Markdown page, by name."""
    parts = re.split(r"^### `([^`]+)`\n", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {
        parts[index]: parts[index + 1].split("\n## ", 1)[0] for index in range(1, len(parts), 2)
    }


def table_fields(section: str) -> list[str]:
    """The first column of a section's table (backquoted names), in order."""
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)


def model_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    names: list[str] = []
    for name, info in model.model_fields.items():
        if name == "command":
            continue
        names.append(prefix + (info.alias or name))
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            names.extend(model_fields(info.annotation, f"{prefix}{name}."))
    return names


# --- the journal -------------------------------------------------------------------------------


def test_every_command_the_journal_accepts_is_documented_and_every_documented_one_exists() -> None:
    documented = sections(DOCS / "journal.md")

    assert sorted(documented) == sorted(JOURNAL_COMMANDS), (
        f"document in docs/journal.md: {sorted(set(JOURNAL_COMMANDS) - set(documented))}; "
        f"unknown there: {sorted(set(documented) - set(JOURNAL_COMMANDS))}"
    )


@pytest.mark.parametrize("command", sorted(JOURNAL_COMMANDS))
def test_each_documented_command_lists_exactly_its_fields_in_order(command: str) -> None:
    section = sections(DOCS / "journal.md")[command]

    assert table_fields(section) == model_fields(JOURNAL_COMMANDS[command])
    assert "Refused with:" in section


def test_every_error_the_docs_name_is_one_the_library_raises() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCS.glob("*.md"))
    named = set(re.findall(r"`([A-Z][A-Za-z]+Error)`", text))

    assert named
    unknown = {
        name for name in named if not hasattr(errors, name) and not hasattr(loanledger, name)
    }
    assert unknown == set()


# --- reports -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def views() -> dict[str, list[dict[str, Any]]]:
    """Every report and view of a small synthetic book (defaults, notices, a worklist)."""
    ledger = LoanLedger.open("memory://")
    try:
        book = SyntheticBook(ledger, loans=12, seed=7, months=10)
        book.run(lambda command: None)
        found = {name: ledger.report(name, as_of=book.end) for name in REPORTS}
        loan = next(row for row in found["loan_ledger"] if row["disbursed_on"])["loan_id"]
        found["loan"] = [ledger.loan(loan, as_of=book.end)]
        found["schedule"] = ledger.schedule(loan)
        found["installments"] = ledger.installments(loan, as_of=book.end)
        return found
    finally:
        ledger.close()


@pytest.mark.parametrize("name", [*REPORTS, "loan", "schedule", "installments"])
def test_each_report_is_documented_with_exactly_its_fields_in_order(
    name: str, views: dict[str, list[dict[str, Any]]]
) -> None:
    documented = sections(DOCS / "reports.md")
    rows = views[name]

    assert rows, f"the test book has no {name} rows"
    assert name in documented, f"document the {name} report in docs/reports.md"
    assert all(list(row) == list(rows[0]) for row in rows)
    assert table_fields(documented[name]) == list(rows[0])


# --- rules -------------------------------------------------------------------------------------


def _setting(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value)
    if hasattr(value, "name") and not isinstance(value, str):
        return str(value.name)
    return str(value)


def test_the_rules_page_holds_every_rule_set_and_every_setting_as_the_code_does() -> None:
    text = (DOCS / "rules.md").read_text(encoding="utf-8")
    sets = list(RULE_SETS.values())

    for rules in sets:
        assert f"\n## {rules.version}\n" in text
    for field in fields(sets[0]):
        cells = " | ".join(f"`{_setting(getattr(rules, field.name))}`" for rules in sets)
        assert f"| `{field.name}` | {cells} |" in text, field.name


# --- links -------------------------------------------------------------------------------------


def _prose(text: str) -> str:
    """Markdown without its code blocks and inline code."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


@pytest.mark.parametrize(
    "page", [ROOT / "README.md", *sorted(DOCS.glob("*.md"))], ids=lambda path: path.name
)
def test_no_link_leaves_the_repository_and_every_link_inside_it_resolves(page: Path) -> None:
    prose = _prose(page.read_text(encoding="utf-8"))

    assert re.findall(r"https?://\S+", prose) == []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        assert not re.match(r"[a-z]+:", target), target
        path = target.split("#", 1)[0]
        if path:
            assert not path.startswith(("../", "/")), target
            assert (page.parent / path).resolve().is_relative_to(ROOT), target
            assert (page.parent / path).exists(), target
