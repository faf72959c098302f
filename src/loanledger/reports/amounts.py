"""The one place an amount becomes text (like Beancount's display module, apart from the numbers).

Every amount the ledger shows (views, report rows, statements, explanations, exports, the journal
the demo writes) is a string with exactly two decimals, the fen (分). Figures reach here already
rounded to the fen by the domain, each at the place its rule says (`domain.money`); should a
value carry more places (a rate times an amount, an exact accrual), this rounds it ROUND_HALF_UP
(四舍五入, ties away from zero), the convention of the contract and of the default rule set, so
the same figure never reads differently in two reports.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
"""The smallest unit an amount is shown in: one fen (0.01 yuan)."""


def amount_text(value: Decimal) -> str:
    """An amount as the Contract writes it: exactly two decimals (ROUND_HALF_UP if needed)."""
    return f"{value.quantize(FEN, rounding=ROUND_HALF_UP):.2f}"
