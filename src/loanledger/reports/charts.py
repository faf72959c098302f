"""Charts of the regulator's reports (matplotlib, PNG or SVG): `loanledger chart NAME --as-of D`.

* `aging`: principal per aging bucket at each month end (stacked bars), with the number of
  loans past due on a second axis;
* `npl_par`: NPL ratio and PAR30 (and PAR90) at each month end;
* `roll_rates`: the month-end to month-end roll-rate matrix as a heat map (share of loans);
* `vintage`: the cumulative share of each disbursement month's amount ever more than 30 days
  (solid) and 90 days (dashed, same colour) past due, by months on book.

Every chart is titled with the book and the as-of date, its axes say their units, the bucket
definitions are in the legend, and the colours are the Okabe-Ito palette (distinguishable with
every common colour-vision deficiency; neighbours never share a hue) or `cividis` for the heat
map. SVG output is deterministic (a fixed `svg.hashsalt`, no date in the metadata), so the same
book gives the same file byte for byte.

The charts read only report rows: `collect` asks a `report(name, as_of)` callable (the ledger's
`report`) for what a chart needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from loanledger.domain.rules import BUCKETS
from loanledger.reports.risk import ROLL_TARGETS, month_ends

CHARTS = ("aging", "npl_par", "roll_rates", "vintage")
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)
BUCKET_LABELS = {
    "M0": "M0 current",
    "M1": "M1 1-30 days",
    "M2": "M2 31-60 days",
    "M3": "M3 61-90 days",
    "M4": "M4 91-120 days",
    "M5": "M5 121-150 days",
    "M6": "M6 151-180 days",
    "M7+": "M7+ over 180 days",
}
"""Bucket definitions (days past due) as the legends show them."""
MONTHS_SHOWN = 24
SVG_SALT = "loanledger"

Report = Callable[[str, date], list[dict[str, Any]]]


def collect(name: str, report: Report, as_of: date, start: date | None) -> dict[str, Any]:
    """What chart `name` needs, from the reports as of `as_of` (and each month end before it,
    from `start`'s month, at most the last 24)."""
    ends = month_ends(start, as_of) if start is not None else []
    ends = ends[-MONTHS_SHOWN:]
    if name == "aging":
        return {"months": ends, "aging": [report("aging", on) for on in ends]}
    if name == "npl_par":
        return {"months": ends, "kpi": [report("kpi", on)[0] for on in ends]}
    if name == "roll_rates":
        return {"rows": report("roll_rates", as_of)}
    if name == "vintage":
        return {"rows": report("vintage", as_of)}
    raise ValueError(name)


def draw(name: str, data: dict[str, Any], path: Path, *, book: str, as_of: date) -> None:
    """Write chart `name` to `path` (`.png` or `.svg`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "none"}):
        figure, axes = plt.subplots(figsize=(11, 6))
        title = {
            "aging": "Aging by principal, loans past due on the right",
            "npl_par": "NPL ratio and portfolio at risk",
            "roll_rates": "Roll rates between month ends (share of loans)",
            "vintage": "Vintage: share of amount ever more than 30 / 90 days past due",
        }[name]
        DRAWERS[name](figure, axes, data)
        axes.set_title(f"{title}\n{book}, as of {as_of.isoformat()}")
        figure.tight_layout()
        metadata: dict[str, Any] = (
            {"Date": None, "Creator": None} if path.suffix == ".svg" else {"Software": None}
        )
        figure.savefig(path, dpi=110, metadata=metadata)
        plt.close(figure)


def _aging(figure: Any, axes: Any, data: dict[str, Any]) -> None:
    labels = [month.strftime("%Y-%m") for month in data["months"]]
    base = [0.0] * len(labels)
    for index, bucket in enumerate(BUCKETS):
        values = [
            float(next(Decimal(r["principal_outstanding"]) for r in rows if r["bucket"] == bucket))
            / 10_000
            for rows in data["aging"]
        ]
        axes.bar(
            labels,
            values,
            bottom=base,
            label=BUCKET_LABELS[bucket],
            color=OKABE_ITO[index],
            edgecolor="white",
            linewidth=0.5,
        )
        base = [low + high for low, high in zip(base, values, strict=True)]
    axes.set_xlabel("month end")
    axes.set_ylabel("principal outstanding (10,000 CNY)")
    axes.set_ylim(0, max([*base, 1.0]) * 1.45)  # room for the legend above the bars
    axes.tick_params(axis="x", labelrotation=45)
    counts = [sum(r["loans"] for r in rows if r["bucket"] != "M0") for rows in data["aging"]]
    right = axes.twinx()
    right.plot(labels, counts, color="#000000", marker="o", linestyle="--", label="loans past due")
    right.set_ylabel("loans past due (count, M1 and worse)")
    right.set_ylim(0, max([*counts, 1]) * 1.45)
    handles, names = axes.get_legend_handles_labels()
    more, more_names = right.get_legend_handles_labels()
    axes.legend(handles + more, names + more_names, loc="upper left", fontsize="small", ncols=3)


def _npl_par(figure: Any, axes: Any, data: dict[str, Any]) -> None:
    labels = [month.strftime("%Y-%m") for month in data["months"]]
    series = (
        ("npl_ratio", "NPL ratio (substandard + doubtful + loss)"),
        ("par30", "PAR30 (more than 30 days past due)"),
        ("par90", "PAR90 (more than 90 days past due)"),
    )
    styles = (("-", "o", 9), ("--", "s", 6), (":", "^", 6))  # overlapping lines stay visible
    for index, (key, label) in enumerate(series):
        values = [float(row[key]) * 100 if row[key] is not None else 0.0 for row in data["kpi"]]
        line, marker, size = styles[index]
        axes.plot(
            labels, values, linestyle=line, marker=marker, markersize=size,
            color=OKABE_ITO[index], label=label,
        )  # fmt: skip
    axes.set_xlabel("month end")
    axes.set_ylabel("share of principal outstanding (%)")
    axes.set_ylim(0, 110)
    axes.tick_params(axis="x", labelrotation=45)
    axes.legend(loc="upper left", fontsize="small")


def _roll_rates(figure: Any, axes: Any, data: dict[str, Any]) -> None:
    rows: Sequence[dict[str, Any]] = data["rows"]
    matrix = [
        [float(row[f"to_{target}_rate"] or 0) * 100 for target in ROLL_TARGETS] for row in rows
    ]
    image = axes.imshow(matrix, cmap="cividis", vmin=0, vmax=100, aspect="auto")
    axes.set_xticks(range(len(ROLL_TARGETS)), [t.replace("_", " ") for t in ROLL_TARGETS])
    axes.set_yticks(
        range(len(rows)), [f"{BUCKET_LABELS[r['bucket']]} ({r['loans']})" for r in rows]
    )
    for y, line in enumerate(matrix):
        for x, value in enumerate(line):
            if value:
                axes.text(
                    x, y, f"{value:.0f}", ha="center", va="center",
                    color="black" if value > 60 else "white", fontsize="small",
                )  # fmt: skip
    if rows:
        axes.set_xlabel(f"where the loans are at {rows[0]['to_month_end']}")
        axes.set_ylabel(f"bucket at {rows[0]['from_month_end']} (loans)")
    figure.colorbar(image, ax=axes, label="share of the bucket's loans (%)")


def _vintage(figure: Any, axes: Any, data: dict[str, Any]) -> None:
    from matplotlib.lines import Line2D

    curves: dict[str, tuple[list[int], list[float], list[float]]] = {}
    for row in data["rows"]:
        months, dpd30, dpd90 = curves.setdefault(row["cohort"], ([], [], []))
        months.append(row["months_on_book"])
        dpd30.append(float(row["dpd30_share"] or 0) * 100)
        dpd90.append(float(row["dpd90_share"] or 0) * 100)
    cohorts = []
    for index, (cohort, (months, dpd30, dpd90)) in enumerate(sorted(curves.items())):
        colour = OKABE_ITO[index % len(OKABE_ITO)]
        marker = (None, "o", "s", "^")[index // len(OKABE_ITO) % 4]  # colours repeat after 8
        for key, share, style in (("dpd30", dpd30, "-"), ("dpd90", dpd90, "--")):
            axes.plot(
                months, share, linestyle=style, color=colour, marker=marker, markersize=4,
                gid=f"{key}-{cohort}",
            )  # fmt: skip
        cohorts.append(Line2D([], [], color=colour, marker=marker, markersize=4, label=cohort))
    thresholds = [
        Line2D([], [], color="#000000", linestyle="-", label="30+ days past due"),
        Line2D([], [], color="#000000", linestyle="--", label="90+ days past due"),
    ]
    axes.set_xlabel("months on book")
    axes.set_ylabel("cumulative share of amount ever past due beyond the threshold (%)")
    axes.set_ylim(0, 110)
    kinds = axes.legend(handles=thresholds, title="threshold", loc="upper right", fontsize="small")
    axes.add_artist(kinds)
    axes.legend(handles=cohorts, title="disbursed in", loc="upper left", fontsize="small", ncols=4)


DRAWERS: dict[str, Callable[[Any, Any, dict[str, Any]], None]] = {
    "aging": _aging,
    "npl_par": _npl_par,
    "roll_rates": _roll_rates,
    "vintage": _vintage,
}
