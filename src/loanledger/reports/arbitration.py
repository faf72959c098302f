"""The batch arbitration package (批量仲裁): one evidence bundle per loan in legal recovery.

A bundle is what an arbitration commission needs to hear a claim on one loan, taken from the
ledger's own records: the contract facts (application, investigation, review, approval,
disbursements, restructures), the security (collateral, guarantors), the repayment history, the
notices with their receipts, the legal-recovery facts, the loan's figures on the claim date, and
the proof that the record was not altered — every stored fact's hash-chain position (`version`,
`hash`, `previous_hash`) and the result of verifying the loan's chain.

Facts listed under a topic are those effective on or before the claim date; the chain lists every
stored fact, so that it can be checked link by link against the store. Personal data (every
`name` and `id_number`: borrower and guarantors) is masked unless asked for explicitly.

`package` zips the bundles and an `index.csv` deterministically: names sorted, every entry dated
1980-01-01 00:00:00 with the same attributes, so the same records give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from loanledger.reports.cells import neutralised
from loanledger.reports.regulator import mask_personal_data

FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip entry can hold: no entry carries the moment it was written."""

INDEX_NAME = "index.csv"
INDEX_COLUMNS = (
    "loan_id",
    "borrower_id",
    "principal_outstanding",
    "overdue_principal",
    "overdue_interest",
    "penalty_outstanding",
    "days_past_due",
    "notices_issued",
    "notices_acknowledged",
)

TOPICS: Mapping[str, frozenset[str]] = {
    "contract": frozenset(
        {
            "LoanApplied",
            "InvestigationRecorded",
            "ReviewRecorded",
            "LoanApproved",
            "LoanDisbursed",
            "LoanRestructured",
        }
    ),
    "security": frozenset(
        {
            "CollateralPledged",
            "CollateralRevalued",
            "CollateralReleased",
            "GuarantorAdded",
            "GuarantorAssessed",
        }
    ),
    "repayments": frozenset(
        {"RepaymentReceived", "PrepaymentReceived", "AllocationRevised", "OverpaymentRefunded"}
    ),
    "legal": frozenset(
        {
            "LegalRecoveryOpened",
            "ArbitrationFiled",
            "AwardGranted",
            "EnforcementApplied",
            "RecoveryRecorded",
        }
    ),
}
"""Which archived facts go under which heading of a bundle."""

FACT_FIELDS = ("version", "fact", "effective_date", "recorded_at", "actor", "hash", "data")
CHAIN_FIELDS = ("version", "fact", "effective_date", "recorded_at", "hash", "previous_hash")

POSITION_FIELDS = (
    "status",
    "amount",
    "annual_rate",
    "disbursed_on",
    "maturity_date",
    "principal_outstanding",
    "overdue_principal",
    "overdue_interest",
    "penalty_outstanding",
    "days_past_due",
    "bucket",
    "classification",
    "ifrs9_stage",
    "limitation_expires_on",
)
"""The `loan_ledger` fields a claim rests on."""


def evidence_bundle(
    archive: Mapping[str, Any],
    ledger_row: Mapping[str, Any],
    notices: Sequence[Mapping[str, Any]],
    as_of: str,
    *,
    unmasked: bool = False,
) -> dict[str, Any]:
    """One loan's bundle from its archive (`LoanLedger.archive`), its `loan_ledger` row and its
    rows of the `notices` report, all as of `as_of` (ISO date)."""
    facts: list[Mapping[str, Any]] = archive["facts"]

    def topic(kinds: frozenset[str]) -> list[dict[str, Any]]:
        return [
            {name: fact.get(name) for name in FACT_FIELDS}
            for fact in facts
            if fact.get("fact") in kinds
            and fact.get("effective_date") is not None
            and fact["effective_date"] <= as_of
        ]

    bundle: dict[str, Any] = {
        "loan_id": archive["loan_id"],
        "as_of": as_of,
        "rule_set": archive["rule_set"],
        "borrower": archive["borrower"],
        "currency": archive["currency"],
        "position": {name: ledger_row.get(name) for name in POSITION_FIELDS},
        **{heading: topic(kinds) for heading, kinds in TOPICS.items()},
        "notices": [dict(notice) for notice in notices],
        "chain": [{name: fact.get(name) for name in CHAIN_FIELDS} for fact in facts],
        "verify": archive["verify"],
    }
    return bundle if unmasked else dict(mask_personal_data(bundle))


def index_row(
    ledger_row: Mapping[str, Any], notices: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The loan's line in `index.csv`."""
    return {
        "loan_id": ledger_row["loan_id"],
        "borrower_id": ledger_row["borrower_id"],
        "principal_outstanding": ledger_row["principal_outstanding"],
        "overdue_principal": ledger_row["overdue_principal"],
        "overdue_interest": ledger_row["overdue_interest"],
        "penalty_outstanding": ledger_row["penalty_outstanding"],
        "days_past_due": ledger_row["days_past_due"],
        "notices_issued": len(notices),
        "notices_acknowledged": sum(1 for n in notices if n.get("acknowledged_on") is not None),
    }


def index_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """`index.csv`: the fixed header (even when no loan qualifies), one line per loan."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(INDEX_COLUMNS)
    for row in sorted(rows, key=lambda item: str(item["loan_id"])):
        writer.writerow(
            ["" if row[name] is None else neutralised(str(row[name])) for name in INDEX_COLUMNS]
        )
    return buffer.getvalue()


def bundle_name(loan_id: str) -> str:
    """`<loan_id>.json`, the loan id percent-encoded where it is not a safe file-name character
    (`/`, `\\`, spaces, non-ASCII), so no entry can point outside the folder it is unzipped
    in and two loan ids never share a name."""
    return f"{quote(loan_id, safe='')}.json"


def bundle_json(bundle: Mapping[str, Any]) -> str:
    return json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"


def package(files: Mapping[str, str]) -> bytes:
    """A zip of `files` (name -> UTF-8 text), the same bytes for the same files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, on every platform
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            archive.writestr(info, files[name].encode("utf-8"))
    return buffer.getvalue()


def arbitration_files(
    bundles: Iterable[tuple[dict[str, Any], dict[str, Any]]],
) -> dict[str, str]:
    """The package's files from (bundle, index row) pairs: `<loan_id>.json` each, `index.csv`."""
    files: dict[str, str] = {}
    rows = []
    for bundle, row in bundles:
        files[bundle_name(bundle["loan_id"])] = bundle_json(bundle)
        rows.append(row)
    files[INDEX_NAME] = index_csv(rows)
    return files
