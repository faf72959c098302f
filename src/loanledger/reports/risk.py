"""What regulators read first: provisions, the key ratios, roll rates and vintages (DESIGN §12).

Builders of rows from loan states handed in (each a dict with the `loan` view fields the
portfolio summaries read: loan_id, status, classification, ifrs9_stage, bucket,
principal_outstanding, overdue_principal, overdue_interest). The application finds the states
(from the `loan_state` read model, or by replay) and the per-loan provisions
(`domain.provisions`); these functions only add up and divide, so a test can hand them rows
made any other way.

Definitions (the README's "Provisions and ratios" section says the same):

* portfolio: loans disbursed and neither closed nor written off (as the summaries);
* NPL (不良贷款): substandard, doubtful and loss, by principal outstanding;
* PAR1 / PAR30 / PAR90: principal of loans more than 0 / 30 / 90 days past due (bucket M1+,
  M2+, M4+) over the portfolio's principal;
* overdue-90 to NPL: principal more than 90 days past due over NPL principal;
* provision coverage (拨备覆盖率): allowance over NPL principal; loan provision ratio (贷款拨备率):
  allowance over the portfolio's principal.

Ratios are 4-decimal strings rounded HALF_UP, null when the denominator is zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from loanledger.domain.provisions import LoanProvision, fen, fen_decimal, fen_text
from loanledger.domain.rules import BUCKETS, CLASSIFICATIONS, IFRS9_STAGES
from loanledger.reports.amounts import amount_text
from loanledger.reports.portfolio import IN_PORTFOLIO

State = Mapping[str, Any]
RATIO = Decimal("0.0001")
NPL = frozenset({"substandard", "doubtful", "loss"})
ROLL_TARGETS = (*BUCKETS, "settled", "written_off")
"""Where a loan in a bucket at one month end is at the next: a bucket, settled (closed or owing
nothing), or written off."""
PAR_BUCKETS = {
    "par1": frozenset(BUCKETS[1:]),
    "par30": frozenset(BUCKETS[2:]),
    "par90": frozenset(BUCKETS[4:]),
}


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    first_next = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def previous_month_end(day: date) -> date:
    """The last day of the month before `day`'s month."""
    return day.replace(day=1) - timedelta(days=1)


def month_ends(start: date, end: date) -> list[date]:
    """Every month end from `start`'s month through `end` (inclusive)."""
    result = []
    current = month_end(start)
    while current <= end:
        result.append(current)
        current = month_end(current + timedelta(days=1))
    return result


def ratio(numerator: Decimal, denominator: Decimal) -> str | None:
    """A ratio as a 4-decimal string (HALF_UP), None when the denominator is zero."""
    if denominator == 0:
        return None
    return f"{(numerator / denominator).quantize(RATIO, rounding=ROUND_HALF_UP):.4f}"


def in_portfolio(state: State) -> bool:
    return state["status"] in IN_PORTFOLIO


# --- provisions -------------------------------------------------------------------------------


PROVISION_GROUPS = (
    *(("classification", name) for name in CLASSIFICATIONS),
    *(("stage", str(stage)) for stage in IFRS9_STAGES),
    ("total", "all"),
)
"""The total rows of `provisions`, in order."""


class ProvisionLine(NamedTuple):
    """One loan's provision as the report shows it (amounts in whole fen)."""

    loan_id: str
    classification: str
    ifrs9_stage: int
    rule_set: str
    exposure: int
    rate: str | None
    pd: str | None
    lgd: str | None
    allowance: int
    pd_lgd_table: str | None = None
    """IFRS 9: `book` or the product whose PD and LGD table the loan took (None under CN)."""

    @classmethod
    def of(cls, provision: LoanProvision) -> ProvisionLine:
        return cls(
            provision.loan_id,
            provision.classification,
            provision.ifrs9_stage,
            provision.rule_set,
            fen(amount_text(provision.exposure)),
            None if provision.rate is None else f"{provision.rate}",
            None if provision.pd is None else f"{provision.pd}",
            None if provision.lgd is None else f"{provision.lgd}",
            fen(amount_text(provision.allowance)),
            provision.table,
        )


def _total_row(level: str, group: str, total: list[int]) -> dict[str, Any]:
    loans, exposure, allowance, before = total
    return {
        "level": level, "group": group, "loan_id": None, "loans": loans,
        "classification": None, "ifrs9_stage": None, "rule_set": None,
        "exposure": fen_text(exposure), "rate": None, "pd": None, "lgd": None,
        "pd_lgd_table": None, "allowance": fen_text(allowance),
        "previous_allowance": fen_text(before),
        "change": fen_text(allowance - before),
    }  # fmt: skip


def merged_by_loan_id(
    lines: Iterable[ProvisionLine], gone: Iterable[str]
) -> list[ProvisionLine | str]:
    """The lines and the ids of loans gone from the portfolio, in loan id order."""
    ordered: list[ProvisionLine | str] = sorted(lines, key=itemgetter(0))
    if gone:
        ordered = sorted(
            [*ordered, *gone], key=lambda item: item if isinstance(item, str) else item[0]
        )
    return ordered


def provisions(lines: Sequence[ProvisionLine], previous: Mapping[str, int]) -> list[dict[str, Any]]:
    """Per loan in the portfolio (sorted by loan id; a loan that left it since the previous
    month end with its release), then totals by classification, by IFRS 9 stage and overall:
    exposure, rate (CN) or PD/LGD and whose table they are (IFRS 9), allowance, the previous
    month end's allowance (`previous`, loan id -> fen) and the change. A loan that left the
    portfolio has no class or stage now: it counts in the overall total only."""
    # Summed by (class, stage) pair first: a handful of pairs, folded into the totals below.
    pairs: dict[tuple[str, int], list[int]] = {}
    rows: list[dict[str, Any]] = []
    in_portfolio = {line.loan_id for line in lines}
    gone = {key: value for key, value in previous.items() if value and key not in in_portfolio}
    left = sum(gone.values())
    text = fen_text
    for line in merged_by_loan_id(lines, gone):
        if isinstance(line, str):  # a loan that left the portfolio: its release
            before = gone[line]
            rows.append(
                {
                    "level": "loan", "group": None, "loan_id": line, "loans": 0,
                    "classification": None, "ifrs9_stage": None, "rule_set": None,
                    "exposure": None, "rate": None, "pd": None, "lgd": None,
                    "pd_lgd_table": None, "allowance": None,
                    "previous_allowance": text(before), "change": text(-before),
                }
            )  # fmt: skip
            continue
        loan_id, grade, stage, rule_set, exposure, rate, pd, lgd, allowance, table = line
        before = previous.get(loan_id, 0)
        pair = pairs.get((grade, stage))
        if pair is None:
            pair = pairs[(grade, stage)] = [0, 0, 0, 0]
        pair[0] += 1
        pair[1] += exposure
        pair[2] += allowance
        pair[3] += before
        rows.append(
            {
                "level": "loan", "group": None, "loan_id": loan_id, "loans": 1,
                "classification": grade, "ifrs9_stage": stage, "rule_set": rule_set,
                "exposure": text(exposure), "rate": rate, "pd": pd, "lgd": lgd,
                "pd_lgd_table": table, "allowance": text(allowance),
                "previous_allowance": text(before), "change": text(allowance - before),
            }
        )  # fmt: skip
    totals = {group: [0, 0, 0, 0] for group in PROVISION_GROUPS}
    totals[("total", "all")][3] = left
    for (grade, stage), pair in pairs.items():
        for key in (("classification", grade), ("stage", str(stage)), ("total", "all")):
            totals[key] = [a + b for a, b in zip(totals[key], pair, strict=True)]
    rows += [_total_row(level, group, total) for (level, group), total in totals.items()]
    return rows


# --- kpi -------------------------------------------------------------------------------------


def kpi_figures(
    states: Iterable[State],
    allowance: Decimal,
    *,
    write_offs: Decimal = Decimal(0),
    recoveries: Decimal = Decimal(0),
) -> dict[str, Any]:
    """The ratios of one date from the loans' states and the book's allowance (sums in whole
    fen: exact, and a pass over 100,000 loans stays cheap)."""
    loans = principal = npl = par1 = par30 = par90 = 0
    for state in states:
        if state["status"] not in IN_PORTFOLIO:
            continue
        loans += 1
        amount = fen(state["principal_outstanding"])
        principal += amount
        if state["classification"] in NPL:
            npl += amount
        bucket = state["bucket"]
        if bucket != "M0":
            par1 += amount
            if bucket in PAR_BUCKETS["par30"]:
                par30 += amount
                if bucket in PAR_BUCKETS["par90"]:
                    par90 += amount
    total, npl_amount = fen_decimal(principal), fen_decimal(npl)
    return {
        "loans": loans,
        "principal_outstanding": fen_text(principal),
        "npl_principal": fen_text(npl),
        "npl_ratio": ratio(npl_amount, total),
        "par1": ratio(fen_decimal(par1), total),
        "par30": ratio(fen_decimal(par30), total),
        "par90": ratio(fen_decimal(par90), total),
        "overdue90_principal": fen_text(par90),
        "overdue90_to_npl": ratio(fen_decimal(par90), npl_amount),
        "allowance": amount_text(allowance),
        "provision_coverage_ratio": ratio(allowance, npl_amount),
        "loan_provision_ratio": ratio(allowance, total),
        "write_offs": amount_text(write_offs),
        "recoveries": amount_text(recoveries),
    }


def kpi(
    as_of: date, current: dict[str, Any], previous_on: date, previous: dict[str, Any]
) -> list[dict[str, Any]]:
    """One row: the figures as of the date, then the previous month end's beside them
    (`previous_` + each name); write-offs and recoveries are those of the month to each date."""
    return [
        {
            "as_of": as_of.isoformat(),
            **current,
            "previous_month_end": previous_on.isoformat(),
            **{f"previous_{name}": value for name, value in previous.items()},
        }
    ]


# --- roll rates -----------------------------------------------------------------------------


def roll_target(state: State | None) -> str:
    """Where a loan stands at a month end, for the roll-rate columns."""
    if state is None:
        return "settled"
    if state["status"] == "written_off":
        return "written_off"
    if not in_portfolio(state) or state["status"] == "overpaid":
        return "settled"
    return str(state["bucket"])


def roll_rates(
    from_on: date, before: Mapping[str, State], to_on: date, after: Mapping[str, State]
) -> list[dict[str, Any]]:
    """One row per bucket at the earlier month end: the loans in the portfolio in it then
    (count and principal), and where they are at the later one (each target's count and the
    principal they had at the earlier month end), plus each target's share of the count."""
    counts = {name: dict.fromkeys(ROLL_TARGETS, 0) for name in BUCKETS}
    balances = {name: dict.fromkeys(ROLL_TARGETS, 0) for name in BUCKETS}  # whole fen
    for loan_id, state in before.items():  # one pass: a book's month end is 100,000 loans
        if not in_portfolio(state):
            continue
        target = roll_target(after.get(loan_id))
        counts[state["bucket"]][target] += 1
        balances[state["bucket"]][target] += fen(state["principal_outstanding"])
    rows = []
    for name in BUCKETS:
        loans = sum(counts[name].values())
        row: dict[str, Any] = {
            "from_month_end": from_on.isoformat(),
            "to_month_end": to_on.isoformat(),
            "bucket": name,
            "loans": loans,
            "principal_outstanding": fen_text(sum(balances[name].values())),
        }
        for target in ROLL_TARGETS:
            row[f"to_{target}_loans"] = counts[name][target]
        for target in ROLL_TARGETS:
            row[f"to_{target}_principal"] = fen_text(balances[name][target])
        for target in ROLL_TARGETS:
            row[f"to_{target}_rate"] = ratio(Decimal(counts[name][target]), Decimal(loans))
        rows.append(row)
    return rows


# --- vintage --------------------------------------------------------------------------------


def months_on_book(cohort: str, on: date) -> int:
    """Whole months from the disbursement month `cohort` (YYYY-MM) to the month of `on`."""
    year, month = int(cohort[:4]), int(cohort[5:7])
    return (on.year - year) * 12 + (on.month - month)


def vintage(
    loans: Mapping[str, tuple[str, Decimal]],
    month_end_states: Sequence[tuple[date, Mapping[str, State]]],
) -> list[dict[str, Any]]:
    """Per disbursement month (`loans`: loan id -> (YYYY-MM, loan amount)) and months on book at
    each month end: the cohort's loans and amount, and the cumulative amount and share of the
    loans that were ever more than 30 (and 90) days past due at a month end so far. Shares never
    decrease along a cohort."""
    cohorts: dict[str, list[str]] = {}
    for loan_id, (cohort, _) in loans.items():
        cohorts.setdefault(cohort, []).append(loan_id)
    ever30: set[str] = set()
    ever90: set[str] = set()
    rows = []
    for on, states in month_end_states:
        for loan_id, state in states.items():
            if loan_id not in loans or not in_portfolio(state):
                continue
            if state["bucket"] in PAR_BUCKETS["par30"]:
                ever30.add(loan_id)
            if state["bucket"] in PAR_BUCKETS["par90"]:
                ever90.add(loan_id)
        for cohort in sorted(cohorts):
            mob = months_on_book(cohort, on)
            if mob < 0:
                continue
            members = cohorts[cohort]
            amount = sum((loans[loan_id][1] for loan_id in members), start=Decimal(0))
            hit30 = sum((loans[i][1] for i in members if i in ever30), start=Decimal(0))
            hit90 = sum((loans[i][1] for i in members if i in ever90), start=Decimal(0))
            rows.append(
                {
                    "cohort": cohort,
                    "months_on_book": mob,
                    "month_end": on.isoformat(),
                    "loans": len(members),
                    "amount": amount_text(amount),
                    "dpd30_amount": amount_text(hit30),
                    "dpd30_share": ratio(hit30, amount),
                    "dpd90_amount": amount_text(hit90),
                    "dpd90_share": ratio(hit90, amount),
                }
            )
    return sorted(rows, key=lambda row: (row["cohort"], row["months_on_book"]))
