"""Loan-loss provisions: what each loan's allowance is under a versioned provision rule set, and
the general-ledger entries that keep the `loan_loss_allowance` at it.

Two regimes, each a frozen value (`ProvisionRules`) a book adopts by a recorded `set_policy`
fact (`provisioning`) from a business date on, book-wide, like a servicing rule set:

* `CN-PROV-2002` (the default): specific provisions by five-category grade at the rates of
  《贷款损失准备计提指引》(银发〔2002〕98号) — special mention 2 %, substandard 25 %, doubtful 50 %,
  loss 100 %; substandard and doubtful may move 20 % either way (20-30 %, 40-60 %) — plus a
  general provision on every loan (default 1.5 % of principal). A loan's allowance is
  principal × (grade rate + general rate), at most its principal.
* `IFRS9-ECL-2026`: expected credit loss PD × LGD × EAD per IFRS 9 stage. EAD is principal plus
  overdue interest. Stage 1 takes the twelve-month PD; stages 2 and 3 the lifetime PD, spread
  evenly over the months left to maturity and discounted month by month at the loan's
  effective (contract) rate — a mean discount factor (1 − v^n) / (n · m), m = rate / 12,
  v = 1 / (1 + m). PD and LGD come from a table by stage: the book's (`pd_1` … `lgd_3`), or the
  table of the product the loan is pinned on (`products`: product id -> the stages it sets,
  each overriding the book's table for that stage; `LossTable`). Loans on no product (the
  built-in default product) take the book's table.

Each loan's allowance is rounded HALF_UP to the fen once (`FEN`); the book's allowance is the sum
of the loans' rounded allowances, so the control account ties to the per-loan figures exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from loanledger.domain.books import (
    IMPAIRMENT_EXPENSE,
    LOAN_LOSS_ALLOWANCE,
    WRITE_OFF_EXPENSE,
    Posting,
)
from loanledger.domain.errors import ProvisionRuleError
from loanledger.domain.products.pricing import DEFAULT_PRODUCT_ID as DEFAULT_PRODUCT
from loanledger.domain.rules import CLASSIFICATIONS, IFRS9_STAGES

FEN = Decimal("0.01")
ZERO = Decimal(0)
ONE = Decimal(1)

CN = "CN"
IFRS9 = "IFRS9"


ProvisioningObject = dict[str, str | dict[str, dict[str, str]]]
"""The type `set_policy` and its recorded fact give `provisioning` (checked for shape by the
command's model, for names and ranges by `provision_rules`)."""

ProvisioningSettings = Mapping[str, Any]
"""A `set_policy` `provisioning` object as recorded: rate names -> decimal text, and (IFRS 9)
`products`: product id -> {rate name -> decimal text}."""

PRODUCTS = "products"
"""The `provisioning` key of the per-product PD and LGD tables (IFRS 9)."""

BOOK_TABLE = "book"
"""What `LossTable.source` says for the book's own table (loans on no product, or on a product
without a table of its own)."""


@dataclass(frozen=True)
class LossTable:
    """The IFRS 9 PD and LGD by stage one loan is provided with, and whose table it is."""

    pd: Mapping[int, Decimal]
    lgd: Mapping[int, Decimal]
    source: str = BOOK_TABLE
    """`book`, or the product id whose table this is."""


@dataclass(frozen=True)
class ProvisionRules:
    """One versioned provision rule set."""

    version: str
    regime: str
    """`CN` (by grade) or `IFRS9` (expected credit loss by stage)."""
    grade_rates: Mapping[str, Decimal] = field(default_factory=dict)
    """CN specific provision rate per five-category grade."""
    general_rate: Decimal = ZERO
    """CN general provision on every loan's principal."""
    pd: Mapping[int, Decimal] = field(default_factory=dict)
    """IFRS 9 probability of default per stage: twelve-month for stage 1, lifetime for 2 and 3."""
    lgd: Mapping[int, Decimal] = field(default_factory=dict)
    """IFRS 9 loss given default per stage (the book's table)."""
    products: Mapping[str, LossTable] = field(default_factory=dict)
    """IFRS 9 tables per product id: the book's table with the stages the product sets
    replaced (complete, so a loan's table is one look-up)."""

    def table(self, product: str | None) -> LossTable:
        """The PD and LGD table of a loan pinned on `product` (None or a product without a
        table of its own: the book's)."""
        if product is not None:
            found = self.products.get(product)
            if found is not None:
                return found
        return LossTable(self.pd, self.lgd)

    def settings(self) -> dict[str, Any]:
        """The rates by the names `set_policy` takes (what a report or an audit shows); under
        IFRS 9 with per-product tables, `products` holds each product's complete table."""
        if self.regime == CN:
            rates = {"general": self.general_rate, **self.grade_rates}
            return {"rule_set": self.version, **{name: f"{v}" for name, v in rates.items()}}
        result: dict[str, Any] = {"rule_set": self.version, **_table_settings(self.pd, self.lgd)}
        if self.products:
            result[PRODUCTS] = {
                product: _table_settings(table.pd, table.lgd)
                for product, table in sorted(self.products.items())
            }
        return result


def _table_settings(pd: Mapping[int, Decimal], lgd: Mapping[int, Decimal]) -> dict[str, str]:
    return {
        **{f"pd_{stage}": f"{value}" for stage, value in sorted(pd.items())},
        **{f"lgd_{stage}": f"{value}" for stage, value in sorted(lgd.items())},
    }


CN_PROVISIONS = ProvisionRules(
    version="CN-PROV-2002",
    regime=CN,
    grade_rates={
        "normal": ZERO,
        "special_mention": Decimal("0.02"),
        "substandard": Decimal("0.25"),
        "doubtful": Decimal("0.50"),
        "loss": Decimal("1.00"),
    },
    general_rate=Decimal("0.015"),
)

IFRS9_ECL = ProvisionRules(
    version="IFRS9-ECL-2026",
    regime=IFRS9,
    pd={1: Decimal("0.01"), 2: Decimal("0.20"), 3: Decimal("1.00")},
    lgd={1: Decimal("0.45"), 2: Decimal("0.45"), 3: Decimal("0.45")},
)

PROVISION_RULE_SETS = {rules.version: rules for rules in (CN_PROVISIONS, IFRS9_ECL)}

ADJUSTABLE = {
    "substandard": (Decimal("0.20"), Decimal("0.30")),
    "doubtful": (Decimal("0.40"), Decimal("0.60")),
}
"""Grades whose rate may move 20 % either way from the guideline's (25 %, 50 %)."""


def _rate(name: str, text: object) -> Decimal:
    value = Decimal("NaN")
    if isinstance(text, str):
        with contextlib.suppress(InvalidOperation):
            value = Decimal(text)
    if not value.is_finite() or value < 0 or value > 1:
        raise ProvisionRuleError(
            f"provisioning: rate {name} must be a decimal from 0 to 1, not {text!r}"
        )
    return value


def provision_rules(settings: ProvisioningSettings) -> ProvisionRules:
    """The rule set a `set_policy` `provisioning` object names, with its rates changed: e.g.
    `{"rule_set": "CN-PROV-2002", "general": "0.01", "substandard": "0.30"}` or
    `{"rule_set": "IFRS9-ECL-2026", "pd_2": "0.25", "lgd_3": "0.6", "products": {"mortgage":
    {"pd_1": "0.005", "lgd_1": "0.20"}}}`. Refused (nothing recorded) when the rule set, a rate
    or a stage is unknown, a rate is out of range, or per-product tables are given to the CN
    rules (regulatory rates by grade, book-wide). Whether each product id is defined is the
    book's to check (`named_products`)."""
    name = settings.get("rule_set", CN_PROVISIONS.version)
    base = PROVISION_RULE_SETS.get(name) if isinstance(name, str) else None
    if base is None:
        known = ", ".join(sorted(PROVISION_RULE_SETS))
        raise ProvisionRuleError(
            f"provisioning: unknown provision rule set {name!r}; known: {known}"
        )
    grade_rates = dict(base.grade_rates)
    pd, lgd = dict(base.pd), dict(base.lgd)
    general = base.general_rate
    tables: Mapping[str, Any] = {}
    for key, text in sorted(settings.items()):
        if key == "rule_set":
            continue
        if base.regime == IFRS9 and key == PRODUCTS:
            if not isinstance(text, Mapping) or not text:
                raise ProvisionRuleError(
                    "provisioning: products must map each product id to its PD and LGD rates, "
                    f'e.g. {{"mortgage": {{"pd_1": "0.005"}}}}, not {text!r}'
                )
            tables = text
        elif base.regime == CN and key == PRODUCTS:
            raise ProvisionRuleError(
                f"provisioning: per-product tables are an {IFRS9_ECL.version} setting; the "
                f"{name} rates are by grade and book-wide (银发〔2002〕98号)"
            )
        elif base.regime == CN and key == "general":
            general = _rate(key, text)
        elif base.regime == CN and key in ADJUSTABLE:
            value = _rate(key, text)
            low, high = ADJUSTABLE[key]
            if not low <= value <= high:
                raise ProvisionRuleError(
                    f"provisioning: {key} rate {text} is outside {low:.2f}-{high:.2f} "
                    "(银发〔2002〕98号: substandard and doubtful may move 20 % either way)"
                )
            grade_rates[key] = value
        elif base.regime == CN and key in grade_rates:
            raise ProvisionRuleError(
                f"provisioning: the {key} rate is fixed at {base.grade_rates[key]} "
                "(银发〔2002〕98号: only substandard and doubtful may move, 20 % either way)"
            )
        elif base.regime == IFRS9 and _stage_of(key) is not None:
            _set_stage_rate(pd, lgd, key, _rate(key, text))
        else:
            names = sorted(base.settings()) + ([PRODUCTS] if base.regime == IFRS9 else [])
            raise ProvisionRuleError(
                f"provisioning: unknown provision rate {key!r} for {name}; "
                f"known: {', '.join(names)}"
            )
    products = {
        product: _product_table(product, rates, pd, lgd)
        for product, rates in sorted(tables.items())
    }
    return replace(
        base, grade_rates=grade_rates, general_rate=general, pd=pd, lgd=lgd, products=products
    )


def _product_table(
    product: object, rates: object, pd: Mapping[int, Decimal], lgd: Mapping[int, Decimal]
) -> LossTable:
    """A product's table: the book's (`pd`, `lgd`) with the stages `rates` sets replaced."""
    if not isinstance(product, str) or product in ("", DEFAULT_PRODUCT):
        raise ProvisionRuleError(
            f"provisioning: products: {product!r} is not a product id (loans on no product, "
            "the built-in default product, take the book's table: set pd_N / lgd_N at the top "
            "level)"
        )
    if not isinstance(rates, Mapping) or not rates:
        raise ProvisionRuleError(
            f"provisioning: products: {product!r} must give at least one rate of pd_1 … pd_3, "
            f"lgd_1 … lgd_3, not {rates!r}"
        )
    product_pd, product_lgd = dict(pd), dict(lgd)
    for key, text in sorted(rates.items()):
        if not isinstance(key, str) or _stage_of(key) is None:
            raise ProvisionRuleError(
                f"provisioning: unknown provision rate {key!r} for product {product!r}; "
                f"known: {', '.join(sorted(_table_settings(pd, lgd)))}"
            )
        _set_stage_rate(product_pd, product_lgd, key, _rate(f"{key} of product {product}", text))
    return LossTable(product_pd, product_lgd, product)


def _set_stage_rate(
    pd: dict[int, Decimal], lgd: dict[int, Decimal], key: str, value: Decimal
) -> None:
    stage = _stage_of(key)
    assert stage is not None
    (pd if key.startswith("pd_") else lgd)[stage] = value


def named_products(settings: ProvisioningSettings) -> list[str]:
    """The product ids a `provisioning` object gives tables for (sorted)."""
    tables = settings.get(PRODUCTS)
    return sorted(str(key) for key in tables) if isinstance(tables, Mapping) else []


def _stage_of(key: str) -> int | None:
    prefix, _, stage = key.partition("_")
    if prefix in ("pd", "lgd") and stage.isdigit() and int(stage) in IFRS9_STAGES:
        return int(stage)
    return None


@dataclass(frozen=True)
class Exposure:
    """What provisioning needs of one loan in the portfolio on one date."""

    loan_id: str
    classification: str
    ifrs9_stage: int
    principal: Decimal
    overdue_interest: Decimal
    annual_rate: Decimal
    months_remaining: int
    product: str | None = None
    """The product the loan is pinned on (None or `default`: the book's PD and LGD table)."""


@dataclass(frozen=True)
class LoanProvision:
    """One loan's allowance and how it was made."""

    loan_id: str
    classification: str
    ifrs9_stage: int
    rule_set: str
    exposure: Decimal
    rate: Decimal | None
    """CN: the grade rate plus the general rate (None under IFRS 9)."""
    pd: Decimal | None
    lgd: Decimal | None
    allowance: Decimal
    table: str | None = None
    """IFRS 9: whose PD and LGD table (`book` or the product id; None under CN)."""


def loan_provision(exposure: Exposure, rules: ProvisionRules) -> LoanProvision:
    """The loan's allowance under `rules`, rounded HALF_UP to the fen."""
    if exposure.classification not in CLASSIFICATIONS:
        raise ProvisionRuleError(f"unknown classification {exposure.classification!r}")
    if rules.regime == CN:
        amount = exposure.principal
        rate = rules.grade_rates[exposure.classification] + rules.general_rate
        allowance = cn_allowance(amount, rate)
        return LoanProvision(
            exposure.loan_id,
            exposure.classification,
            exposure.ifrs9_stage,
            rules.version,
            amount,
            rate,
            None,
            None,
            allowance,
        )
    stage = exposure.ifrs9_stage
    ead = exposure.principal + exposure.overdue_interest
    table = rules.table(exposure.product)
    pd, lgd = table.pd[stage], table.lgd[stage]
    loss = pd * lgd * ead
    if stage > 1:
        loss *= discount_factor(exposure.annual_rate, exposure.months_remaining)
    allowance = min(ead, loss.quantize(FEN, rounding=ROUND_HALF_UP))
    return LoanProvision(
        exposure.loan_id,
        exposure.classification,
        stage,
        rules.version,
        ead,
        None,
        pd,
        lgd,
        allowance,
        table.source,
    )


def cn_allowance(principal: Decimal, rate: Decimal) -> Decimal:
    """A CN allowance: principal × (grade rate + general rate), HALF_UP to the fen, at most the
    principal (what `loan_provision` gives, for callers that need only the amount)."""
    return min(principal, (principal * rate).quantize(FEN, rounding=ROUND_HALF_UP))


def cn_rates(rules: ProvisionRules) -> dict[str, Decimal]:
    """Each grade's CN rate with the general rate added."""
    return {grade: rate + rules.general_rate for grade, rate in rules.grade_rates.items()}


# --- the same arithmetic in whole fen, for a book of 100,000 loans a month end -----------------


def fen(text: str) -> int:
    """An amount's text in whole fen, exactly ("1234.56" -> 123456; the read models and reports
    write every amount with two decimals; other text goes through Decimal, HALF_UP)."""
    if text[-3:-2] == "." and text[-2:].isdigit() and text[-4:-3].isdigit():
        return int(text.replace(".", "", 1))
    return int((Decimal(text) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def fen_text(amount: int) -> str:
    """Whole fen as an amount's text with exactly two decimals (123456 -> "1234.56"; the digits
    cut, not divided: a report writes 400,000 of them)."""
    if amount >= 100:
        digits = str(amount)
        return digits[:-2] + "." + digits[-2:]
    if amount >= 0:
        return f"0.{amount:02d}"
    return "-" + fen_text(-amount)


def fen_decimal(amount: int) -> Decimal:
    """Whole fen as a Decimal amount with two places (exact)."""
    return Decimal(amount).scaleb(-2)


def cn_allowance_fen(principal: int, rate: tuple[int, int]) -> int:
    """`cn_allowance` in whole fen: principal × rate (`rate` as `Decimal.as_integer_ratio`)
    rounded HALF_UP to the fen — floor(x + ½) for x ≥ 0 — at most the principal; exactly the
    Decimal figure (a property test compares them)."""
    numerator, denominator = rate
    return min(principal, (2 * principal * numerator + denominator) // (2 * denominator))


def discount_factor(annual_rate: Decimal, months: int) -> Decimal:
    """The mean of (1 + m)^-k for k = 1..n, m the monthly rate: a lifetime loss spread evenly
    over the n months left, each month's share discounted at the effective rate. 1 for a loan
    due now (n ≤ 1 with no rate) or at a zero rate."""
    months = max(1, months)
    monthly = annual_rate / 12
    if monthly <= 0:
        return ONE
    v = ONE / (ONE + monthly)
    return (ONE - v**months) / monthly / months


def months_between(start: date, end: date) -> int:
    """Whole months from `start` to `end`, a part month counted as one (0 when `end` has come)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day > start.day:
        months += 1
    return max(0, months)


def allowance_postings(
    targets: Iterable[tuple[date, Decimal]],
    *,
    write_off: tuple[date, Decimal] | None = None,
    recoveries: Iterable[tuple[date, Decimal]] = (),
    reference: str = "",
) -> list[Posting]:
    """One loan's allowance entries: at each date of `targets` (month ends and the report date)
    the difference to the allowance held is charged (`impairment_expense` debit,
    `loan_loss_allowance` credit) or released; a write-off first draws down what is held
    (`loan_loss_allowance` debit, `write_off_expense` credit, up to the amount written off); a
    recovery of a written-off amount is credited back to the allowance (and released to
    `impairment_expense` at the next date of `targets`). On one date a write-off and recoveries
    come before the true-up."""
    steps: list[tuple[date, int, Decimal]] = [(on, 2, amount) for on, amount in targets]
    if write_off is not None:
        steps.append((write_off[0], 0, write_off[1]))
    steps += [(on, 1, amount) for on, amount in recoveries]
    held = ZERO
    postings: list[Posting] = []
    for on, kind, amount in sorted(steps, key=lambda step: (step[0], step[1])):
        if kind == 0:
            used = min(held, amount)
            if used > 0:
                postings.append(
                    Posting(
                        on,
                        "allowance_use",
                        reference,
                        ((LOAN_LOSS_ALLOWANCE, used), (WRITE_OFF_EXPENSE, -used)),
                    )
                )
                held -= used
        elif kind == 1:
            if amount > 0:
                postings.append(
                    Posting(
                        on,
                        "recovery_credit",
                        reference,
                        ((WRITE_OFF_EXPENSE, amount), (LOAN_LOSS_ALLOWANCE, -amount)),
                    )
                )
                held += amount
        else:
            change = amount - held
            if change > 0:
                lines = ((IMPAIRMENT_EXPENSE, change), (LOAN_LOSS_ALLOWANCE, -change))
            else:
                lines = ((LOAN_LOSS_ALLOWANCE, -change), (IMPAIRMENT_EXPENSE, change))
            if change != 0:
                postings.append(Posting(on, "provision", reference, lines))
            held = amount
    return postings
