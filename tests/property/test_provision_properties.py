"""Properties of provisions and the regulator's ratios on random books: the allowance posted is
the sum of the loans' allowances, the trial balance balances, before and after backdated facts;
`kpi` is what an independent sum of `loan_ledger` rows gives; roll-rate rows add up to the
previous month end's buckets; vintage curves never fall."""

from __future__ import annotations

import contextlib
import itertools
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from tests.journal import repay
from tests.property.test_books_properties import books

START = date(2024, 1, 10)
CN_RATES = {
    "normal": Decimal("0.015"),
    "special_mention": Decimal("0.035"),
    "substandard": Decimal("0.265"),
    "doubtful": Decimal("0.515"),
    "loss": Decimal("1.015"),
}
PORTFOLIO = {"active", "overdue", "legal_recovery", "overpaid"}
FOUR = Decimal("0.0001")


def _book(commands: list[dict[str, Any]]) -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    for command in commands:
        with contextlib.suppress(DomainError):  # a random step may be refused
            ledger.execute(command)
    return ledger


def _net(rows: list[dict[str, Any]], account: str) -> Decimal:
    row = next(row for row in rows if row["account"] == account)
    return Decimal(row["debit"]) - Decimal(row["credit"])


def _ties(ledger: LoanLedger, day: date) -> None:
    trial = ledger.report("trial_balance", as_of=day)
    debits = sum(Decimal(row["debit"]) for row in trial)
    assert debits == sum(Decimal(row["credit"]) for row in trial)
    provisions = ledger.report("provisions", as_of=day)
    per_loan = sum(
        Decimal(row["allowance"])
        for row in provisions
        if row["level"] == "loan" and row["allowance"] is not None
    )
    total = next(row for row in provisions if row["level"] == "total")
    assert -_net(trial, "loan_loss_allowance") == per_loan == Decimal(total["allowance"])
    by_class = sum(
        Decimal(row["allowance"]) for row in provisions if row["level"] == "classification"
    )
    assert by_class == per_loan
    by_stage = sum(Decimal(row["allowance"]) for row in provisions if row["level"] == "stage")
    assert by_stage == per_loan
    assert ledger.report("kpi", as_of=day)[0]["allowance"] == f"{per_loan:.2f}"


@given(
    commands=books(),
    report_days=st.lists(st.integers(0, 800), min_size=1, max_size=2),
    late=st.tuples(st.integers(0, 400), st.integers(1, 400_000)),
)
def test_the_posted_allowance_is_the_sum_of_the_loans_and_ties_after_backdated_facts(
    commands: list[dict[str, Any]], report_days: list[int], late: tuple[int, int]
) -> None:
    ledger = _book(commands)
    days = [START + timedelta(days=offset) for offset in report_days]
    for day in days:
        _ties(ledger, day)
    # A repayment recorded late, effective before the report dates.
    with contextlib.suppress(DomainError):
        ledger.execute(
            repay(
                "L-0000",
                (START + timedelta(days=late[0])).isoformat(),
                f"{late[1] / 100:.2f}",
                "LATE",
            )
        )
    for day in days:
        _ties(ledger, day)
    ledger.close()


def _ratio(numerator: Decimal, denominator: Decimal) -> str | None:
    if denominator == 0:
        return None
    return f"{(numerator / denominator).quantize(FOUR, rounding=ROUND_HALF_UP):.4f}"


def _kpi_from_loan_ledger(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The Contract's definitions, summed over `loan_ledger` rows (no code of the ledger's)."""
    book = [row for row in rows if row["status"] in PORTFOLIO]
    principal = sum((Decimal(row["principal_outstanding"]) for row in book), Decimal(0))
    npl = sum(
        (
            Decimal(row["principal_outstanding"])
            for row in book
            if row["classification"] in ("substandard", "doubtful", "loss")
        ),
        Decimal(0),
    )

    def past(days: int) -> Decimal:
        return sum(
            (Decimal(row["principal_outstanding"]) for row in book if row["days_past_due"] > days),
            Decimal(0),
        )

    allowance = Decimal(0)
    for row in book:
        amount = Decimal(row["principal_outstanding"])
        rated = (amount * CN_RATES[row["classification"]]).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        allowance += min(amount, rated)
    return {
        "loans": len(book),
        "principal_outstanding": f"{principal:.2f}",
        "npl_ratio": _ratio(npl, principal),
        "par30": _ratio(past(30), principal),
        "par90": _ratio(past(90), principal),
        "overdue90_to_npl": _ratio(past(90), npl),
        "allowance": f"{allowance:.2f}",
        "provision_coverage_ratio": _ratio(allowance, npl),
        "loan_provision_ratio": _ratio(allowance, principal),
    }


@given(commands=books(), offset=st.integers(0, 800))
def test_kpi_equals_an_independent_sum_of_the_loan_ledger(
    commands: list[dict[str, Any]], offset: int
) -> None:
    ledger = _book(commands)
    day = START + timedelta(days=offset)
    kpi = ledger.report("kpi", as_of=day)[0]
    expected = _kpi_from_loan_ledger(ledger.report("loan_ledger", as_of=day))
    assert {name: kpi[name] for name in expected} == expected
    ledger.close()


@given(commands=books(), offset=st.integers(0, 800))
def test_roll_rate_rows_add_up_to_the_previous_month_ends_buckets(
    commands: list[dict[str, Any]], offset: int
) -> None:
    ledger = _book(commands)
    day = START + timedelta(days=offset)
    rows = ledger.report("roll_rates", as_of=day)
    aging = ledger.report("aging", as_of=rows[0]["from_month_end"])
    assert [row["loans"] for row in rows] == [bucket["loans"] for bucket in aging]
    assert [row["principal_outstanding"] for row in rows] == [
        bucket["principal_outstanding"] for bucket in aging
    ]
    for row in rows:
        counts = [value for key, value in row.items() if key.endswith("_loans") and key != "loans"]
        assert sum(counts) == row["loans"]
        balances = [
            Decimal(v) for k, v in row.items() if k.startswith("to_") and k.endswith("_principal")
        ]
        assert sum(balances) == Decimal(row["principal_outstanding"])
    ledger.close()


@given(commands=books(), offset=st.integers(0, 800))
def test_vintage_curves_never_decrease(commands: list[dict[str, Any]], offset: int) -> None:
    ledger = _book(commands)
    rows = ledger.report("vintage", as_of=START + timedelta(days=offset))
    curves: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        curves.setdefault(row["cohort"], []).append(row)
    for curve in curves.values():
        assert [row["months_on_book"] for row in curve] == list(range(len(curve)))
        for earlier, later in itertools.pairwise(curve):
            assert Decimal(later["dpd30_amount"]) >= Decimal(earlier["dpd30_amount"])
            assert Decimal(later["dpd90_amount"]) >= Decimal(earlier["dpd90_amount"])
            assert Decimal(later["dpd30_amount"]) >= Decimal(later["dpd90_amount"])
    ledger.close()


PRODUCT_IDS = ("retail", "sme")
TABLE_RATES = st.sampled_from(["0", "0.003", "0.05", "0.2", "0.45", "0.7", "1"])


@st.composite
def product_tables(draw: st.DrawFn) -> dict[str, Any]:
    """An IFRS 9 `provisioning` object with random book rates and a table for some products,
    each setting some stages."""
    names = [f"{kind}_{stage}" for kind in ("pd", "lgd") for stage in (1, 2, 3)]
    settings: dict[str, Any] = {"rule_set": "IFRS9-ECL-2026"}
    for name in draw(st.lists(st.sampled_from(names), unique=True, max_size=3)):
        settings[name] = draw(TABLE_RATES)
    tables = {}
    for product_id in draw(st.lists(st.sampled_from(PRODUCT_IDS), unique=True, max_size=2)):
        chosen = draw(st.lists(st.sampled_from(names), unique=True, min_size=1, max_size=4))
        tables[product_id] = {name: draw(TABLE_RATES) for name in chosen}
    if tables:
        settings["products"] = tables
    return settings


def _on_products(commands: list[dict[str, Any]], products: list[str | None]) -> None:
    """Pin loan L-000n on `products[n]` (None: no product) by naming it in its `apply`."""
    for command in commands:
        if command["command"] == "apply":
            named = products[int(command["loan_id"][2:])]
            if named is not None:
                command["product"] = named


def _define_products() -> list[dict[str, Any]]:
    """Products wide enough for every loan `books()` draws."""
    return [
        {
            "command": "define_product",
            "product_id": product_id,
            "on": "2024-01-01",
            "name": product_id,
            "repayment_methods": ["annuity", "equal_principal", "interest_only", "bullet"],
            "amount_min": "1.00",
            "amount_max": "100000.00",
            "term_min": 1,
            "term_max": 36,
            "rate_min": "0",
            "rate_max": "0.30",
        }
        for product_id in PRODUCT_IDS
    ]


@given(
    commands=books(),
    products=st.lists(st.sampled_from([None, *PRODUCT_IDS]), min_size=3, max_size=3),
    provisioning=product_tables(),
    adopted=st.integers(0, 400),
    report_days=st.lists(st.integers(0, 800), min_size=1, max_size=2),
)
def test_per_product_tables_give_each_loan_its_products_rates_and_the_allowance_still_ties(
    commands: list[dict[str, Any]],
    products: list[str | None],
    provisioning: dict[str, Any],
    adopted: int,
    report_days: list[int],
) -> None:
    """Random books mixing products, then an IFRS 9 adoption with per-product tables recorded
    last, backdated: every loan's PD and LGD are its product's table (the book's for a stage
    the product does not set, or for loans on no product), and the allowance ties."""
    _on_products(commands, products)
    ledger = _book(_define_products() + commands)
    adoption = START + timedelta(days=adopted)
    ledger.execute(
        {"command": "set_policy", "on": adoption.isoformat(), "provisioning": provisioning}
    )
    book_table = {
        "pd_1": "0.01",
        "pd_2": "0.20",
        "pd_3": "1.00",
        **{name: value for name, value in provisioning.items() if name[:3] in ("pd_", "lgd")},
    }
    book_table = {"lgd_1": "0.45", "lgd_2": "0.45", "lgd_3": "0.45", **book_table}
    tables = provisioning.get("products", {})
    for day in (START + timedelta(days=offset) for offset in report_days):
        _ties(ledger, day)
        if day < adoption:
            continue
        pinned = {row["loan_id"]: row["product"] for row in ledger.report("loan_ledger", as_of=day)}
        for row in ledger.report("provisions", as_of=day):
            if row["level"] != "loan" or row["allowance"] is None:
                continue
            product_id = pinned[row["loan_id"]]
            table = {**book_table, **tables.get(product_id, {})}
            stage = row["ifrs9_stage"]
            assert (row["pd"], row["lgd"]) == (table[f"pd_{stage}"], table[f"lgd_{stage}"])
            assert row["pd_lgd_table"] == (product_id if product_id in tables else "book")
    ledger.close()
