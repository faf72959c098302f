"""`loanledger chart NAME --as-of D --output PATH`: PNG and SVG charts of the regulator's
reports, titled with the book and the date, the same bytes for the same book (SVG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from loanledger.entrypoints.cli import app
from tests.journal import disburse, lines, pre_loan, repay

runner = CliRunner()
AS_OF = "2024-06-30"


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> str:
    """L-0001 never repays; L-0002 pays its first two installments (1,032.80 each) on time."""
    folder = tmp_path_factory.mktemp("charts")
    commands = [
        *pre_loan("L-0001"),
        disburse("L-0001", "2024-01-15", "12000.00"),
        *pre_loan("L-0002", borrower_id="B-2"),
        disburse("L-0002", "2024-01-15", "12000.00"),
        repay("L-0002", "2024-02-15", "1032.80", "R-1"),
        repay("L-0002", "2024-03-15", "1032.80", "R-2"),
    ]
    path = folder / "book.jsonl"
    path.write_text("\n".join(lines(commands)) + "\n", encoding="utf-8")
    url = f"sqlite:///{folder}/charts.db"
    result = runner.invoke(app, ["load", str(path), "--db", url])
    assert result.exit_code == 0, result.stderr
    return url


@pytest.mark.parametrize("name", ["aging", "npl_par", "roll_rates", "vintage"])
def test_a_chart_is_an_svg_titled_with_the_book_and_date_and_the_same_bytes_each_time(
    book: str, tmp_path: Path, name: str
) -> None:
    first, second = tmp_path / "first.svg", tmp_path / "second.svg"

    for path in (first, second):
        result = runner.invoke(
            app, ["chart", name, "--as-of", AS_OF, "--output", str(path), "--db", book]
        )
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"wrote chart {name} as of {AS_OF} to {path}\n"

    text = first.read_text(encoding="utf-8")
    assert first.read_bytes() == second.read_bytes()
    assert f"as of {AS_OF}" in text and "charts.db" in text
    assert "<dc:date>" not in text


def test_the_aging_chart_has_labelled_axes_and_the_bucket_definitions(
    book: str, tmp_path: Path
) -> None:
    path = tmp_path / "aging.svg"
    runner.invoke(app, ["chart", "aging", "--as-of", AS_OF, "--output", str(path), "--db", book])

    text = path.read_text(encoding="utf-8")
    for label in (
        "principal outstanding (10,000 CNY)",
        "loans past due (count, M1 and worse)",
        "M0 current",
        "M4 91-120 days",
        "M7+ over 180 days",
        "month end",
    ):
        assert label in text, label


def test_a_chart_can_be_a_png(book: str, tmp_path: Path) -> None:
    path = tmp_path / "npl.png"

    result = runner.invoke(
        app, ["chart", "npl_par", "--as-of", AS_OF, "--output", str(path), "--db", book]
    )

    assert result.exit_code == 0, result.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_chart_or_suffix_is_refused(book: str, tmp_path: Path) -> None:
    unknown = runner.invoke(
        app, ["chart", "pie", "--as-of", AS_OF, "--output", str(tmp_path / "x.svg"), "--db", book]
    )
    suffix = runner.invoke(
        app, ["chart", "aging", "--as-of", AS_OF, "--output", str(tmp_path / "x.pdf"), "--db", book]
    )

    assert (unknown.exit_code, unknown.stderr) == (
        2,
        "error: unknown chart 'pie'; charts: aging, npl_par, roll_rates, vintage\n",
    )
    assert (suffix.exit_code, suffix.stderr) == (
        2,
        "error: --output must end in .png or .svg, got 'x.pdf'\n",
    )


def test_the_aging_buckets_are_filled_with_the_okabe_ito_palette_in_order(
    book: str, tmp_path: Path
) -> None:
    """Okabe & Ito's eight colours stay distinguishable with every common colour-vision
    deficiency: each bucket's bars take the next one, so neighbouring buckets never share it."""
    from loanledger.reports.charts import OKABE_ITO

    path = tmp_path / "aging.svg"
    runner.invoke(app, ["chart", "aging", "--as-of", AS_OF, "--output", str(path), "--db", book])

    assert OKABE_ITO == (
        "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000",
    )  # fmt: skip
    text = path.read_text(encoding="utf-8").lower()
    # M0 to M6; M7+ is black, SVG's default fill, which matplotlib leaves unwritten.
    fills = [f"fill: {colour.lower()}" for colour in OKABE_ITO[:7]]
    positions = [text.find(fill) for fill in fills]
    assert all(position >= 0 for position in positions), positions
    assert positions == sorted(positions)  # drawn bucket by bucket, M0 first


def test_the_vintage_chart_draws_a_dashed_90_plus_curve_beside_each_30_plus_curve(
    book: str, tmp_path: Path
) -> None:
    """Issue 21: the `vintage` report has DPD 30+ and 90+ shares; the chart draws both, one
    colour per disbursement month, solid for 30+ and dashed for 90+, the legend saying which."""
    from loanledger.reports.charts import DRAWERS, OKABE_ITO

    path = tmp_path / "vintage.svg"
    result = runner.invoke(
        app, ["chart", "vintage", "--as-of", AS_OF, "--output", str(path), "--db", book]
    )
    assert result.exit_code == 0, result.stderr
    text = path.read_text(encoding="utf-8")
    assert '<g id="dpd30-2024-01">' in text and '<g id="dpd90-2024-01">' in text
    for label in ("disbursed in", "threshold", "30+ days past due", "90+ days past due"):
        assert label in text, label
    assert "share of amount ever more than 30 / 90 days past due" in text

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        {"cohort": "2024-01", "months_on_book": m, "dpd30_share": s30, "dpd90_share": s90}
        for m, s30, s90 in ((0, "0", "0"), (1, "0.5", "0"), (4, "1", "0.5"))
    ] + [{"cohort": "2024-02", "months_on_book": 0, "dpd30_share": "0", "dpd90_share": None}]
    figure, axes = plt.subplots()
    DRAWERS["vintage"](figure, axes, {"rows": rows})
    lines = {str(line.get_gid()): line for line in axes.get_lines()}
    plt.close(figure)

    assert sorted(lines) == ["dpd30-2024-01", "dpd30-2024-02", "dpd90-2024-01", "dpd90-2024-02"]
    shares: dict[str, Any] = {gid: line.get_ydata() for gid, line in lines.items()}
    assert [float(y) for y in shares["dpd90-2024-01"]] == [0.0, 0.0, 50.0]
    assert [float(y) for y in shares["dpd30-2024-01"]] == [0.0, 50.0, 100.0]
    assert (lines["dpd30-2024-01"].get_linestyle(), lines["dpd90-2024-01"].get_linestyle()) == (
        "-",
        "--",
    )
    assert lines["dpd30-2024-02"].get_color() == lines["dpd90-2024-02"].get_color() == OKABE_ITO[1]
