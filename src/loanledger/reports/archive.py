"""The loan archive (贷款业务管理档案): every fact of one loan, in order, with its proof.

For each stored event: its chain position (version), recorded time, effective date, actor, the
stored chain link and its predecessor, the fact's own fields, and the loan's derived state right
after it as known then (as of the fact's effective date), with the figures that fact changed. An
auditor can read the whole life of the loan, see who decided what and when it was recorded, and
check each link against `verify()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.domain.rules import CN_2023, RuleSet
from loanledger.proof import GENESIS_LINK
from loanledger.reports.installments import installment_rows
from loanledger.reports.views import loan_view

ACTOR_FIELDS = ("approver", "reviewer", "inspector", "appraiser")
"""Fields that name the person who decided or did a fact, in order of precedence."""

SYSTEM_FACTS = frozenset(
    {"NoticeIssued", "LegalRecoveryOpened", "ClassificationChanged", "AllocationRevised"}
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
    and the decoded event, or None when its bytes cannot be read."""

    version: int
    topic: str
    link: str | None
    event: DomainEvent | None


def build_archive(
    loan_id: str,
    stored: Sequence[StoredFact],
    verified: dict[str, Any],
    rules: RuleSet = CN_2023,
) -> dict[str, Any]:
    """The archive of one loan from its stored facts. After an unreadable fact the figures are
    no longer derived (they would be wrong), but every stored fact is still listed."""
    facts = []
    before: Loan | None = None
    after: Loan | None = None
    readable = True
    previous_link = GENESIS_LINK
    for item in stored:
        entry: dict[str, Any] = {
            "version": item.version,
            "fact": item.topic.rsplit(":", 1)[-1],
            "hash": item.link,
            "previous_hash": previous_link,
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
        # effective date, so `changes` shows what this fact alone did to each figure.
        event.mutate(after)
        day = event.effective_date
        view = loan_view(after, day, rules) if after.exists_on(day) else {}
        previous_view = (
            loan_view(before, day, rules) if before is not None and before.exists_on(day) else {}
        )
        entry.update(
            recorded_at=event.timestamp.isoformat(),
            effective_date=day.isoformat(),
            actor=actor_of(event),
            data=fact_fields(event),
            state_after={name: view.get(name) for name in TRACKED_FIGURES},
            changes={
                name: [previous_view.get(name), view.get(name)]
                for name in TRACKED_FIGURES
                if view.get(name) != previous_view.get(name)
            },
        )
        facts.append(entry)
        if before is None:
            before = Loan(event.originator_id)
        event.mutate(before)
    application = after.application if after is not None else None
    # Schedule against actual: each installment as the last fact left it (not when a stored
    # fact is unreadable: figures after it would be wrong).
    installments: list[dict[str, Any]] = []
    if after is not None and readable and after.history:
        last_day = max(event.effective_date for event in after.history)
        installments = installment_rows(after, last_day, rules)
    return {
        "loan_id": loan_id,
        "borrower": application.borrower.model_dump(mode="json") if application else None,
        "currency": application.currency if application else None,
        "rule_set": rules.version,
        "facts": facts,
        "installments": installments,
        "verify": verified,
    }


def render_html(archive: dict[str, Any]) -> str:
    """The archive as a self-contained HTML page a person can read and print."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("loanledger.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )
    return environment.get_template("archive.html").render(archive=archive)
