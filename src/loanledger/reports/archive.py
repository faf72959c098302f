"""The loan archive (贷款业务管理档案): every fact of one loan, in order, with its proof.

For each stored event: its chain position (version), recorded time, effective date, actor, the
stored chain link and its predecessor, the SHA-256 of its stored bytes and its Merkle leaf hash
(so an auditor can recompute both, see `RECOMPUTE`), whether it is proven into the latest
checkpoint, the fact's own fields, and the loan's derived state right after it as known then (as
of the fact's effective date), with the figures that fact changed. Between the facts, the
`timeline` lists what time alone changed (a due date passing unpaid, a days-past-due threshold
reached: status, bucket, grade, IFRS 9 stage), and `summary` heads the whole with the loan's
terms, security and totals. An auditor can read the whole life of the loan, see who decided what
and when it was recorded, and check each link against `verify()`.

Personal data (names, identity-document numbers, payees) is masked unless the caller asks for it
(`unmasked=True`, which the ledger allows only through its audited personal-data path).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.proof import GENESIS_LINK, leaf_hash
from loanledger.reports.archive_page import render_html
from loanledger.reports.archive_summary import loan_summary
from loanledger.reports.installments import installment_rows
from loanledger.reports.regulator import mask_personal_data
from loanledger.reports.views import loan_view

__all__ = ["StoredFact", "TimeStep", "build_archive", "render_html"]

ACTOR_FIELDS = ("approver", "reviewer", "inspector", "appraiser")
"""Fields that name the person who decided or did a fact, in order of precedence."""

SYSTEM_FACTS = frozenset(
    {
        "NoticeIssued",
        "LegalRecoveryOpened",
        "ClassificationChanged",
        "AllocationRevised",
        "CalendarApplied",
    }
)
"""Facts recorded by the ledger itself (close of day and compensating records)."""

BORROWER_FACTS = frozenset(
    {"LoanApplied", "RepaymentReceived", "PrepaymentReceived", "ApplicationWithdrawn"}
)

TRACKED_FIGURES = (
    "status",
    "principal_outstanding",
    "overdue_principal",
    "overdue_interest",
    "penalty_outstanding",
    "days_past_due",
    "classification",
    "ifrs9_stage",
    "ltv",
    "warnings",
    "overpayment",
)

TIME_FIGURES = (
    "status",
    "bucket",
    "classification",
    "ifrs9_stage",
    "overdue_principal",
    "overdue_interest",
)
"""What time alone can change between two facts (days past due grow every day and penalty
accrues every day, so those two are shown as the value reached, not as a change)."""

RECOMPUTE = {
    "stored_sha256": "SHA-256 of the event's bytes exactly as stored (64-hex link + JSON body)",
    "leaf_hash": "SHA-256(0x00 || stored bytes): the event's leaf in the checkpoint's tree",
    "hash": (
        "SHA-256(previous_hash | originator_id hex | version | topic | body), where body is the "
        "stored bytes after their first 64 characters and | is the byte 0x7c"
    ),
    "inclusion": "loanledger prove LOAN_ID gives each leaf's audit path to the checkpoint root",
}
"""How an auditor recomputes each hash the archive shows (docs/archive.md says more)."""


def actor_of(event: DomainEvent) -> str:
    """Who the fact belongs to: the named decision-maker, the borrower, or the ledger."""
    kind = type(event).__name__
    if kind in SYSTEM_FACTS:
        return "system"
    if kind == "InvestigationRecorded":
        return " & ".join(getattr(event, "investigators", ()))
    for name in ACTOR_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, str) and value:
            return value
    if kind in BORROWER_FACTS:
        return "borrower"
    return "servicer"


def fact_fields(event: DomainEvent) -> dict[str, Any]:
    """The fact's own fields, JSON-ready, without the position and times shown separately."""
    data = event.model_dump(mode="json")
    for name in ("originator_id", "originator_version", "timestamp", "loan_id", "effective_date"):
        data.pop(name, None)
    return data


@dataclass(frozen=True)
class StoredFact:
    """One stored event as the archive sees it: its position, topic and chain link as stored,
    the decoded event (None when its bytes cannot be read) and the stored bytes themselves."""

    version: int
    topic: str
    link: str | None
    event: DomainEvent | None
    stored: bytes | None = None


@dataclass(frozen=True)
class TimeStep:
    """The loan's report row from `day` on (one segment of effective time), and whether a fact
    that can change the row is effective on `day` (else only time changed it)."""

    day: date
    by_fact: bool
    row: dict[str, Any]


Timeline = Callable[[Loan, date], Iterable[TimeStep]]
"""The loan's report rows segment by segment from its application through a date (the
application layer walks the loan with the `loan_state` read model's timeline)."""


def build_archive(
    loan_id: str,
    stored: Sequence[StoredFact],
    verified: dict[str, Any],
    rules: RuleSet = CN_2023,
    *,
    timeline: Timeline | None = None,
    unmasked: bool = False,
) -> dict[str, Any]:
    """The archive of one loan from its stored facts. After an unreadable fact the figures are
    no longer derived (they would be wrong), but every stored fact is still listed."""
    facts = []
    after: Loan | None = None
    last_view: tuple[date, dict[str, Any]] | None = None
    readable = True
    previous_link = GENESIS_LINK
    proven = _proven_versions(verified)
    for item in stored:
        entry: dict[str, Any] = {
            "version": item.version,
            "fact": item.topic.rsplit(":", 1)[-1],
            "hash": item.link,
            "previous_hash": previous_link,
            "topic": item.topic,
            "stored_sha256": hashlib.sha256(item.stored).hexdigest() if item.stored else None,
            "leaf_hash": leaf_hash(item.stored).hex() if item.stored else None,
            "inclusion": _inclusion(item.version, proven),
        }
        previous_link = item.link or ""
        event = item.event
        readable = readable and event is not None
        if event is None or not readable:
            entry.update(
                recorded_at=None,
                effective_date=None,
                actor=None,
                data=None,
                state_after=None,
                changes=None,
                unreadable=event is None,
            )
            facts.append(entry)
            continue
        if after is None:
            after = Loan(event.originator_id)
        # The loan just before and just after this fact was recorded, both seen on the fact's
        # effective date, so `changes` shows what this fact alone did to each figure. The view
        # after the previous fact is the view before this one when both fall on one day (close
        # of day records several facts a day), so it is derived once.
        day = event.effective_date
        if last_view is not None and last_view[0] == day:
            previous_view = last_view[1]
        else:
            previous_view = loan_view(after, day, rules) if after.exists_on(day) else {}
        event.mutate(after)
        view = loan_view(after, day, rules) if after.exists_on(day) else {}
        last_view = (day, view)
        data = fact_fields(event)
        entry.update(
            recorded_at=event.timestamp.isoformat(),
            effective_date=day.isoformat(),
            actor=actor_of(event),
            data=data if unmasked else mask_personal_data(data),
            state_after={name: view.get(name) for name in TRACKED_FIGURES},
            changes={
                **{
                    name: [previous_view.get(name), view.get(name)]
                    for name in TRACKED_FIGURES
                    if view.get(name) != previous_view.get(name)
                },
                **_recorded_grade_change(entry["fact"], data),
            },
        )
        facts.append(entry)
    application = after.application if after is not None else None
    # Schedule against actual: each installment as the last fact left it; the time-driven
    # transitions between facts; the summary (none when a stored fact is unreadable: figures
    # after it would be wrong).
    installments: list[dict[str, Any]] = []
    transitions: list[dict[str, Any]] = []
    summary: dict[str, Any] | None = None
    if after is not None and readable and after.history and application is not None:
        last_day = max(event.effective_date for event in after.history)
        installments = installment_rows(after, last_day, rules)
        if timeline is not None:
            transitions = time_transitions(timeline(after, last_day), _changed_by_facts(facts))
        summary = loan_summary(after, last_day, rules)
        if not unmasked:
            summary = mask_personal_data(summary)
    borrower = application.borrower.model_dump(mode="json") if application else None
    return {
        "loan_id": loan_id,
        "borrower": borrower if unmasked else mask_personal_data(borrower),
        "currency": application.currency if application else None,
        "rule_set": rules.version,
        "masked": not unmasked,
        "originator_id": after.id.hex if after is not None else None,
        "summary": summary,
        "facts": facts,
        "timeline": transitions,
        "installments": installments,
        "verify": verified,
        "recompute": RECOMPUTE,
    }


def time_transitions(
    steps: Iterable[TimeStep], by_facts: dict[str, set[str]] | None = None
) -> list[dict[str, Any]]:
    """What time alone changed: at each segment boundary, the figures of `TIME_FIGURES` that
    differ from the segment before, with the days past due reached that day. On a day with a
    fact that changes figures, only what none of that day's facts changed (`by_facts`, the
    figures each day's facts changed) is time's doing (a days-past-due threshold reached on the
    day legal recovery opens)."""
    by_facts = by_facts or {}
    result = []
    for previous, step in itertools.pairwise(steps):
        day = step.day.isoformat()
        excluded = by_facts.get(day, set()) if step.by_fact else set()
        changes = {
            name: [previous.row.get(name), step.row.get(name)]
            for name in TIME_FIGURES
            if name not in excluded and previous.row.get(name) != step.row.get(name)
        }
        if changes:
            result.append(
                {
                    "date": day,
                    "cause": "time",
                    "days_past_due": step.row.get("days_past_due"),
                    "changes": changes,
                }
            )
    return result


def _changed_by_facts(facts: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """Per effective date, the figures the facts of that day changed (the bucket with the days
    past due it is read from); a grade close of day recorded changed nothing by itself."""
    changed: dict[str, set[str]] = {}
    for fact in facts:
        if fact["fact"] == "ClassificationChanged":
            continue
        if fact.get("effective_date") and fact.get("changes"):
            names = changed.setdefault(fact["effective_date"], set())
            names.update(fact["changes"])
            if "days_past_due" in fact["changes"]:
                names.add("bucket")
    return changed


def _recorded_grade_change(kind: str, data: dict[str, Any]) -> dict[str, list[Any]]:
    """A grade recorded by close of day changes no derived figure on its own date (time
    already did), so its change is the one it records: previous → new grade and stage."""
    if kind != "ClassificationChanged":
        return {}
    changes: dict[str, list[Any]] = {}
    if data["previous"] != data["classification"]:
        changes["classification"] = [data["previous"], data["classification"]]
    if data["previous_stage"] != data["ifrs9_stage"]:
        changes["ifrs9_stage"] = [data["previous_stage"], data["ifrs9_stage"]]
    return changes


def _proven_versions(verified: dict[str, Any]) -> tuple[int, bool] | None:
    """How many of the loan's first versions prove into the latest checkpoint, and whether the
    loan's proof failed (None: no checkpoint recorded). A loan's versions are stored in order, so
    the tree holds a prefix of them; a loan with no event in the tree yet has nothing to prove."""
    checkpoint = verified.get("checkpoint")
    if not checkpoint:
        return None
    if checkpoint["included"]:
        return int(checkpoint["events_proven"]), False
    reason = str(checkpoint.get("reason") or "")
    return 0, NOT_IN_TREE not in reason


NOT_IN_TREE = "has no event in the tree"
"""How the transparency log refuses to prove a loan recorded entirely after the checkpoint."""


def _inclusion(version: int, proven: tuple[int, bool] | None) -> str:
    """`proven` (in the latest checkpoint's tree and its proof checks), `after_checkpoint`
    (recorded since), `not_proven` (the loan's proof fails) or `no_checkpoint`."""
    if proven is None:
        return "no_checkpoint"
    count, failed = proven
    if failed:
        return "not_proven"
    return "proven" if version <= count else "after_checkpoint"
