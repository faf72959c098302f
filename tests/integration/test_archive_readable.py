"""The archive a person reads (issue 22): masked personal data, a summary, what time changed
between facts, each grade change, hashes an auditor can recompute, and a page without Python
values. One demo-like loan (`tests.archive_book`) on the memory store."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.persistence.ids import loan_uuid
from tests.archive_book import ID_NUMBER, LOAN, NAMES, book
from tests.html import TagBalance

MASKED_BORROWER = {"id": "B-1", "name": "张*", "id_number": "110101********1234"}


def _clock() -> Any:
    state = {"now": datetime(2024, 1, 1, 9, 0, tzinfo=UTC)}

    def tick() -> datetime:
        state["now"] += timedelta(seconds=1)
        return state["now"]

    return tick


@pytest.fixture(scope="module")
def booked() -> Iterator[LoanLedger]:
    ledger = LoanLedger.open("memory://", clock=_clock())
    book(ledger)
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def archive(booked: LoanLedger) -> dict[str, Any]:
    return booked.archive(LOAN)


def test_the_archive_masks_personal_data_unless_asked_and_logs_an_unmasked_read(
    tmp_path: Any,
) -> None:
    ledger = LoanLedger.open("memory://", clock=_clock())
    try:
        book(ledger)
        masked = ledger.archive(LOAN)
        page = ledger.archive_html(LOAN)
        assert ledger.personal_data_log() == []

        unmasked = ledger.archive(LOAN, unmasked=True, actor="auditor-1")
        log = [(row["action"], row["actor"], row["detail"]) for row in ledger.personal_data_log()]
    finally:
        ledger.close()

    assert masked["masked"] is True and unmasked["masked"] is False
    assert masked["borrower"] == MASKED_BORROWER
    assert masked["facts"][0]["data"]["borrower"] == MASKED_BORROWER
    guarantor = next(fact for fact in masked["facts"] if fact["fact"] == "GuarantorAdded")
    assert guarantor["data"]["guarantor_name"] == "王*"
    assert masked["summary"]["guarantors"][0]["guarantor_name"] == "王*"
    for text in (ID_NUMBER, *NAMES):
        assert text not in page
        assert text not in str(masked)
    assert unmasked["borrower"] == {"id": "B-1", "name": "张三", "id_number": ID_NUMBER}
    assert log == [("unmasked_export", "auditor-1", f"archive of {LOAN}")]


def test_the_summary_heads_the_archive_with_terms_security_and_totals(
    archive: dict[str, Any],
) -> None:
    assert archive["summary"] == {
        "as_of": "2024-07-01",
        "amount": "1234567.89",
        "currency": "CNY",
        "annual_rate": "0.0435",
        "term_months": 12,
        "repayment_method": "annuity",
        "disbursed": "1234567.89",
        "disbursed_on": "2024-01-15",
        "maturity_date": "2025-01-15",
        "collateral": [
            {"collateral_id": "C-1", "kind": "property", "value": "2000000.00", "released": False}
        ],
        "guarantors": [
            {"guarantor_id": "G-1", "guarantor_name": "王*", "guaranteed_amount": "500000.00"}
        ],
        "total_repaid": "100000.00",
        "refunded": "0.00",
        "written_off": "1158141.79",
        "written_off_on": "2024-07-01",
        "recovered": "0.00",
        "principal_outstanding": "1139043.20",
        "status": "written_off",
        "days_past_due": 137,
        "classification": "loss",
        "ifrs9_stage": 3,
    }


def test_what_time_alone_changed_between_facts_is_listed_on_its_date(
    archive: dict[str, Any],
) -> None:
    def entry(day: str, days_past_due: int, **changes: list[Any]) -> dict[str, Any]:
        return {"date": day, "cause": "time", "days_past_due": days_past_due, "changes": changes}

    assert archive["timeline"] == [
        entry(
            "2024-02-16",
            1,
            status=["active", "overdue"],
            bucket=["M0", "M1"],
            classification=["normal", "special_mention"],
            overdue_principal=["0.00", "5320.86"],
        ),
        entry(
            "2024-03-16",
            30,
            overdue_principal=["5320.86", "106531.98"],
            overdue_interest=["0.00", "4109.74"],
        ),
        entry("2024-03-17", 31, bucket=["M1", "M2"], ifrs9_stage=[1, 2]),
        entry(
            "2024-04-16",
            61,
            bucket=["M2", "M3"],
            overdue_principal=["106531.98", "208109.99"],
            overdue_interest=["4109.74", "7852.59"],
        ),
        # Legal recovery opens on day 91 (a fact: the status is its change); the grade and the
        # stage are time's doing.
        entry(
            "2024-05-16",
            91,
            bucket=["M3", "M4"],
            classification=["special_mention", "substandard"],
            ifrs9_stage=[2, 3],
            overdue_principal=["208109.99", "310056.22"],
            overdue_interest=["7852.59", "11227.22"],
        ),
        entry("2024-06-15", 121, bucket=["M4", "M5"]),
        entry(
            "2024-06-16",
            122,
            overdue_principal=["310056.22", "412372.00"],
            overdue_interest=["11227.22", "14232.30"],
        ),
    ]


def test_a_grade_change_recorded_by_close_of_day_shows_the_change_it_records(
    archive: dict[str, Any],
) -> None:
    grades = [fact for fact in archive["facts"] if fact["fact"] == "ClassificationChanged"]

    assert [(fact["effective_date"], fact["changes"]) for fact in grades] == [
        ("2024-02-16", {"classification": ["normal", "special_mention"]}),
        ("2024-03-17", {"ifrs9_stage": [1, 2]}),
        (
            "2024-05-16",
            {"classification": ["special_mention", "substandard"], "ifrs9_stage": [2, 3]},
        ),
    ]


def test_each_facts_hashes_recompute_from_its_stored_bytes_as_the_archive_says(
    booked: LoanLedger, archive: dict[str, Any]
) -> None:
    stored = booked.recorder.select_events(loan_uuid(LOAN))
    previous = "0" * 64

    assert len(stored) == len(archive["facts"]) == 24
    for item, fact in zip(stored, archive["facts"], strict=True):
        state = bytes(item.state)
        body = state[64:]
        link = hashlib.sha256(
            b"|".join(
                [
                    previous.encode(),
                    loan_uuid(LOAN).hex.encode(),
                    str(item.originator_version).encode(),
                    item.topic.encode(),
                    body,
                ]
            )
        ).hexdigest()
        assert (fact["hash"], fact["previous_hash"], fact["topic"]) == (link, previous, item.topic)
        assert fact["stored_sha256"] == hashlib.sha256(state).hexdigest()
        assert fact["leaf_hash"] == hashlib.sha256(b"\x00" + state).hexdigest()
        previous = link
    assert archive["originator_id"] == loan_uuid(LOAN).hex


def test_each_fact_says_whether_it_is_proven_into_the_latest_checkpoint() -> None:
    ledger = LoanLedger.open("memory://", clock=_clock())
    try:
        book(ledger)
        # The last close of day recorded a checkpoint; the write-off came after it.
        before = [fact["inclusion"] for fact in ledger.archive(LOAN)["facts"]]
        page = ledger.archive_html(LOAN)
        ledger.checkpoint()
        after = {fact["inclusion"] for fact in ledger.archive(LOAN)["facts"]}
    finally:
        ledger.close()

    assert before == [*["proven"] * 23, "after_checkpoint"]
    assert "proof: after checkpoint" in page
    assert after == {"proven"}


def test_the_page_shows_amounts_rates_booleans_and_dates_as_a_reader_expects(
    booked: LoanLedger, archive: dict[str, Any]
) -> None:
    page = booked.archive_html(LOAN)
    parser = TagBalance()
    parser.feed(page)
    text = "".join(parser.text)

    assert parser.open == []
    assert re.search(r"\{'|\bNone\b|\bTrue\b|\bFalse\b", text) is None
    assert "1,234,567.89" in text and "1234567.89" not in text
    assert "4.35%" in text and "2,000,000.00" in text and "1,158,141.79" in text
    assert "prepay: no" in text and "passed: yes" in text and "payee: —" in text
    assert '<span class="date"><b>2024-02-16</b></span>' in page
    assert text.count("time passed") == len(archive["timeline"]) == 7
    assert "proof: proven" in text
    for fact in archive["facts"]:
        assert fact["hash"] in text and fact["stored_sha256"] in text and fact["leaf_hash"] in text
    assert ID_NUMBER not in page
    assert '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei"' in page
    assert "@page { size: A4 portrait" in page and "white-space: nowrap" in page


def test_the_page_sets_each_installment_against_what_was_paid_with_totals(
    booked: LoanLedger, archive: dict[str, Any]
) -> None:
    page = booked.archive_html(LOAN)

    assert [row["status"] for row in archive["installments"]] == [
        *["overdue"] * 5,
        "due",
        *["future"] * 6,
    ]
    assert '<td class="num">100,845.55 / 95,524.69</td>' in page
    assert "Total of 12 installments" in page
    assert '<th class="num">1,234,567.89 / 95,524.69</th>' in page
    assert '<th class="num">29,282.46 / 4,475.31</th>' in page
