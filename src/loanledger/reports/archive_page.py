"""The loan archive as a page a person reads and prints (`render_html`).

Every value is shown as text a reader expects, never as a Python value: amounts with thousands
separators and two decimals (`1,234,567.89`, ROUND_HALF_UP should one carry more places), rates
as percentages, booleans as `yes` / `no`, nothing as `—`, lists joined, nested records as small
tables. Time-driven changes (a due date passing unpaid, a days-past-due threshold reached) are
rows between the facts, on the date they happened. Each fact carries its chain link, the link
before it, the SHA-256 of its stored bytes, its Merkle leaf and whether it is proven into the
latest checkpoint, with the note on how to recompute them (`docs/archive.md`).

The page is laid out for a 1280-pixel window without horizontal scrolling and prints on A4
portrait; its fonts are a stack that reaches a CJK-capable font on Linux (Noto Sans CJK, Source
Han Sans), macOS (PingFang) and Windows (Microsoft YaHei).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup, escape

AMOUNT_KEYS = frozenset(
    {
        "amount",
        "authority_limit",
        "value",
        "guaranteed_amount",
        "amount_due",
        "principal",
        "interest",
        "penalty",
        "overpayment",
        "refund",
        "claim_amount",
        "award_amount",
    }
)
"""Fields that hold an amount even when recorded without decimals (`12000`)."""

RATE_KEYS = frozenset({"annual_rate"})
"""Fields that hold a rate as a decimal fraction, shown as a percentage."""

DECIMAL_TEXT = re.compile(r"-?\d+\.\d+")
"""A decimal number written as text: every amount in the views and reports."""

RATIO_KEYS = frozenset({"ltv"})
"""Ratios shown as recorded (4-decimal strings), not as amounts."""

FEN = Decimal("0.01")
NOTHING = "—"
YES, NO = "yes", "no"
HORIZONTAL_TABLE_KEYS = 6
"""A nested record with at most this many fields is a one-row table (keys as its header)..."""
SHORT_RECORD = 60
"""... and at most this many characters in its values; a longer one is a row per field."""


def amount_display(value: str | Decimal) -> str:
    """`1234567.891` -> `1,234,567.89` (ROUND_HALF_UP to the fen, as `amount_text`)."""
    return f"{Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP):,.2f}"


def rate_display(value: str | Decimal) -> str:
    """`0.0435` -> `4.35%`; a rate with more places keeps them (`0.043125` -> `4.3125%`)."""
    percent = Decimal(value) * 100
    shown = percent.quantize(FEN) if percent == percent.quantize(FEN) else percent.normalize()
    return f"{shown:f}%"


def label(key: str) -> str:
    """`guaranteed_amount` -> `guaranteed amount`."""
    return key.replace("_", " ")


def scalar_text(key: str, value: Any) -> str:
    """One scalar as a reader expects it (see the module docstring)."""
    if value is None:
        return NOTHING
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if key in RATE_KEYS and _is_decimal(text):
        return rate_display(text)
    if key in RATIO_KEYS:
        return text
    if (key in AMOUNT_KEYS and _is_decimal(text)) or DECIMAL_TEXT.fullmatch(text):
        return amount_display(text)
    return text


def _is_decimal(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def value_html(key: str, value: Any) -> Markup:
    """A value as HTML: scalars as text, lists joined (or a small table when they hold
    records), records as a small table."""
    if isinstance(value, Mapping):
        return record_table(value)
    if isinstance(value, list | tuple):
        if value and all(isinstance(item, Mapping) for item in value):
            return records_table(value)
        if not value:
            return Markup(NOTHING)
        return Markup(", ").join(escape(scalar_text(key, item)) for item in value)
    css = "num" if _numeric(key, value) else ("date" if _is_date(value) else "")
    text = escape(scalar_text(key, value))
    return Markup(f'<span class="{css}">{text}</span>') if css else Markup(text)


def _numeric(key: str, value: Any) -> bool:
    return isinstance(value, str) and (
        (key in AMOUNT_KEYS and _is_decimal(value)) or DECIMAL_TEXT.fullmatch(value) is not None
    )


def _is_date(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None


def record_table(record: Mapping[str, Any]) -> Markup:
    """A nested record: one row under its keys when short, else one row per field."""
    short = sum(len(scalar_text(key, item)) for key, item in record.items()) <= SHORT_RECORD
    if len(record) <= HORIZONTAL_TABLE_KEYS and short:
        head = "".join(f"<th>{escape(label(key))}</th>" for key in record)
        cells = "".join(f"<td>{value_html(key, item)}</td>" for key, item in record.items())
        return Markup(f'<table class="nested"><tr>{head}</tr><tr>{cells}</tr></table>')
    rows = "".join(
        f"<tr><th>{escape(label(key))}</th><td>{value_html(key, item)}</td></tr>"
        for key, item in record.items()
    )
    return Markup(f'<table class="nested">{rows}</table>')


def records_table(records: Sequence[Mapping[str, Any]]) -> Markup:
    """A list of records as one small table, their keys (in first-seen order) as its header."""
    keys: list[str] = []
    for record in records:
        keys.extend(key for key in record if key not in keys)
    head = "".join(f"<th>{escape(label(key))}</th>" for key in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{value_html(key, record.get(key))}</td>" for key in keys) + "</tr>"
        for record in records
    )
    return Markup(f'<table class="nested"><tr>{head}</tr>{body}</table>')


def fields_html(data: Mapping[str, Any] | None) -> Markup:
    """A fact's fields as compact `label: value` lines."""
    if not data:
        return Markup("")
    lines = (
        f'<div class="field"><span class="label">{escape(label(key))}:</span> '
        f"{value_html(key, value)}</div>"
        for key, value in data.items()
    )
    return Markup("".join(lines))


def changes_html(changes: Mapping[str, Sequence[Any]] | None) -> Markup:
    """`label: before → after` per changed figure."""
    if not changes:
        return Markup("")
    shown = (
        (key, value_html(key, pair[0]), value_html(key, pair[1])) for key, pair in changes.items()
    )
    lines = (
        f'<div class="field"><span class="label">{escape(label(key))}:</span> '
        f"{before} → {after}</div>"
        for key, before, after in shown
        if before != after  # None and [] both read "—"
    )
    return Markup("".join(lines))


def recorded_html(recorded_at: str | None) -> Markup:
    """`2024-01-02T09:30:00.123456+00:00` -> the date and the time to the second (UTC), each
    on its own unbroken line (the full value is in the JSON archive)."""
    if not recorded_at:
        return Markup(NOTHING)
    day, clock = _moment(recorded_at)
    return Markup(
        f'<span class="date">{escape(day)}</span><br><span class="date">{escape(clock)}</span>'
    )


def moment_text(recorded_at: str | None) -> str:
    """`2024-01-02T09:30:00.123456+00:00` -> `2024-01-02 09:30:00` (UTC)."""
    if not recorded_at:
        return NOTHING
    return " ".join(_moment(recorded_at))


def _moment(recorded_at: str) -> tuple[str, str]:
    day, _, rest = recorded_at.partition("T")
    return day, rest[:8]


INSTALLMENT_AMOUNTS = (
    "principal_due",
    "principal_paid",
    "interest_due",
    "interest_paid",
    "penalty_due",
    "penalty_paid",
    "fee_due",
    "fee_paid",
)


def installment_totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The schedule's totals row: each due and paid column summed exactly (two-decimal amounts
    add up without rounding)."""
    return {
        name: amount_display(sum((Decimal(row.get(name, 0)) for row in rows), start=Decimal(0)))
        for name in INSTALLMENT_AMOUNTS
    }


def page_rows(archive: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The facts in chain order with each time-driven change placed before the first fact
    effective on or after its date (those after the last fact come last)."""
    pending = list(archive.get("timeline") or [])
    rows: list[dict[str, Any]] = []
    for fact in archive["facts"]:
        day = fact.get("effective_date")
        while day is not None and pending and pending[0]["date"] <= day:
            rows.append({"kind": "time", **pending.pop(0)})
        rows.append({"kind": "fact", **fact})
    rows.extend({"kind": "time", **item} for item in pending)
    return rows


def render_html(archive: Mapping[str, Any]) -> str:
    """The archive as a self-contained HTML page a person can read and print."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("loanledger.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )
    environment.filters.update(
        amount=lambda value: NOTHING if value is None else amount_display(value),
        rate=lambda value: NOTHING if value is None else rate_display(value),
        text=lambda value, key="": scalar_text(key, value),
        fields=fields_html,
        changes=changes_html,
        value=lambda value, key="": value_html(key, value),
        recorded=recorded_html,
        moment=moment_text,
        label=label,
    )
    return environment.get_template("archive.html").render(
        archive=archive,
        rows=page_rows(archive),
        totals=installment_totals(archive.get("installments") or []),
        # The fee column only for a loan that was charged a fee (every other archive reads as
        # it did before fees existed).
        fees_shown=any(Decimal(row.get("fee_due", 0)) for row in archive.get("installments") or []),
    )
