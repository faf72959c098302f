"""The demo book generator: deterministic for a seed, realistic, and only valid commands."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.application.journal import parse_line
from loanledger.domain.calendar import add_months
from loanledger.domain.commands import parse_command
from loanledger.entrypoints.synthetic import SyntheticBook
from loanledger.entrypoints.synthetic_mix import BEHAVIOURS, OUTCOMES, quota

LOANS = 30


def generate(loans: int, seed: int, months: int = 18) -> tuple[list[dict[str, Any]], SyntheticBook]:
    ledger = LoanLedger.open("memory://")
    try:
        commands: list[dict[str, Any]] = []
        book = SyntheticBook(ledger, loans=loans, seed=seed, months=months)
        book.run(commands.append)
        return commands, book
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def journal() -> list[dict[str, Any]]:
    commands, _ = generate(LOANS, seed=7)
    return commands


def by_name(journal: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [command for command in journal if command["command"] == name]


def test_the_same_seed_gives_the_same_journal_and_another_seed_a_different_one(
    journal: list[dict[str, Any]],
) -> None:
    again, _ = generate(LOANS, seed=7)
    other, _ = generate(LOANS, seed=8, months=3)

    assert again == journal
    assert other[:50] != journal[:50]


def test_every_line_is_a_valid_command_and_the_journal_replays_into_an_empty_ledger(
    journal: list[dict[str, Any]],
) -> None:
    lines = [json.dumps(command, ensure_ascii=False) for command in journal]
    for line in lines:
        parse_command(parse_line(line))
    ledger = LoanLedger.open("memory://")
    try:
        assert ledger.load(lines) == {"applied": len(lines)}
    finally:
        ledger.close()


def test_commands_come_in_effective_date_order_with_a_close_day_for_every_day(
    journal: list[dict[str, Any]],
) -> None:
    dates = [date.fromisoformat(command["on"]) for command in journal]
    closed = [date.fromisoformat(command["on"]) for command in by_name(journal, "close_day")]

    assert dates == sorted(dates)
    assert closed[0] == date(2024, 1, 2)
    assert closed[-1] == date(2025, 7, 1)
    assert len(closed) == (closed[-1] - closed[0]).days + 1


def test_applications_have_realistic_terms_spread_over_the_first_six_months(
    journal: list[dict[str, Any]],
) -> None:
    applications = by_name(journal, "apply")

    assert len(applications) == LOANS
    assert {command["repayment_method"] for command in applications} >= {"annuity", "bullet"}
    for command in applications:
        assert date(2024, 1, 2) <= date.fromisoformat(command["on"]) <= date(2024, 7, 1)
        assert 6 <= command["term_months"] <= 36
        assert Decimal("0.0350") <= Decimal(command["annual_rate"]) <= Decimal("0.1800")
        assert len(command["annual_rate"]) == 6
        assert command["amount"] == f"{Decimal(command['amount']):.2f}"


def test_each_dossier_is_handled_by_four_distinct_people(journal: list[dict[str, Any]]) -> None:
    people: dict[str, set[str]] = {}
    for command in journal:
        roles = people.setdefault(command.get("loan_id", ""), set())
        if command["command"] == "record_investigation":
            roles.update(command["investigators"])
        elif command["command"] == "review":
            roles.add(command["reviewer"])
        elif command["command"] == "approve":
            roles.add(command["approver"])

    approved = {command["loan_id"] for command in by_name(journal, "approve")}
    assert approved
    assert all(len(people[loan_id]) == 4 for loan_id in approved)


def test_the_book_mixes_pre_loan_outcomes_and_post_loan_behaviours(
    journal: list[dict[str, Any]],
) -> None:
    names = Counter(command["command"] for command in journal)
    checks = by_name(journal, "record_post_loan_check")

    for name in ("reject", "withdraw", "pledge_collateral", "revalue_collateral"):
        assert names[name] > 0, name
    for name in ("add_guarantor", "assess_guarantor", "acknowledge_notice", "write_off", "close"):
        assert names[name] > 0, name
    assert any(command.get("prepay") for command in by_name(journal, "repay"))
    assert {command["rating"] for command in checks} == {"normal", "attention", "adverse"}
    assert names["file_arbitration"] == names["record_award"] > 0


def test_some_loans_default_into_legal_recovery_and_some_pay_off_early() -> None:
    commands, book = generate(LOANS, seed=7, months=10)
    ledger = LoanLedger.open("memory://")
    try:
        ledger.load(json.dumps(command, ensure_ascii=False) for command in commands)
        statuses = Counter(row["status"] for row in ledger.report("loan_ledger", as_of=book.end))
    finally:
        ledger.close()

    assert statuses["legal_recovery"] + statuses["written_off"] > 0
    assert statuses["closed"] > 0
    assert statuses["active"] > statuses["overdue"]


def test_quota_keeps_the_proportions_and_gives_every_label_at_least_one() -> None:
    small = Counter(quota(random.Random(1), 8, BEHAVIOURS))
    large = Counter(quota(random.Random(1), 1000, OUTCOMES))

    assert set(small) == set(BEHAVIOURS)
    assert sum(small.values()) == 8
    assert large == {"disbursed": 860, "rejected": 90, "withdrawn": 50}


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2024, 1, 2), 18, date(2025, 7, 2)),
        (date(2024, 12, 15), 1, date(2025, 1, 15)),
    ],
)
def test_add_months_caps_the_day_at_the_end_of_the_month(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected
