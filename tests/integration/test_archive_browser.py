"""The archive page in a real browser (headless Chromium, `tests.browser`): it fits a 1280-pixel
window without horizontal scrolling, shows no Python value and no unmasked identity number, and
prints to A4 portrait. The screenshot and the PDF are kept in `tests/artifacts/`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loanledger import LoanLedger
from tests import browser
from tests.archive_book import ID_NUMBER, LOAN, NAMES, book

A4_POINTS = (595.28, 841.89)
"""A4 portrait in PDF points (210 × 297 mm)."""
PRINTABLE_WIDTH = 718
"""A4's width inside the page's 10 mm side margins, in CSS pixels (190 mm at 96 per inch)."""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    browser.chromium()  # skip (or fail under CI=true) before building anything
    state = {"now": datetime(2024, 1, 1, 9, 0, tzinfo=UTC)}

    def tick() -> datetime:
        state["now"] += timedelta(seconds=1)
        return state["now"]

    ledger = LoanLedger.open("memory://", clock=tick)
    try:
        book(ledger)
        path = tmp_path_factory.mktemp("archive") / "archive_book.html"
        path.write_text(ledger.archive_html(LOAN), encoding="utf-8")
    finally:
        ledger.close()
    yield path


def check_in_browser(page: Path, secrets: tuple[str, ...]) -> None:
    """What issue 22 asks of every archive page a browser shows: no horizontal scrolling at 1280
    pixels, no Python value, none of `secrets` (unmasked personal data), an A4 portrait PDF,
    and a screenshot kept as an artefact."""
    fit = browser.measure(page, 1280)
    assert fit.inner_width == 1280
    assert fit.scroll_width <= fit.inner_width, fit
    assert browser.PYTHON_REPRS.search(fit.text) is None, browser.PYTHON_REPRS.search(fit.text)
    assert "贷款业务管理档案" in fit.text
    source = page.read_text(encoding="utf-8")
    for secret in secrets:
        assert secret not in fit.text and secret not in source
    pdf = browser.print_pdf(page, page.with_suffix(".pdf")).read_bytes()
    assert pdf.startswith(b"%PDF-")
    sizes = browser.pdf_pages(pdf)
    assert sizes, "the PDF has no page"
    for width, height in sizes:
        assert abs(width - A4_POINTS[0]) < 2 and abs(height - A4_POINTS[1]) < 2, (width, height)
    shot = browser.screenshot(page, page.with_suffix(".png"))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (browser.ARTIFACTS / shot.name).exists()


def test_the_archive_of_a_demo_like_loan_reads_well_in_a_real_browser(page: Path) -> None:
    check_in_browser(page, (ID_NUMBER, *NAMES))


def test_the_archive_also_fits_a_window_as_narrow_as_a4s_printable_width(page: Path) -> None:
    fit = browser.measure(page, PRINTABLE_WIDTH)

    assert fit.scroll_width <= fit.inner_width, fit
