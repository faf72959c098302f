"""A real browser for the tests: headless Chromium (Debian's `chromium` package) renders a page,
measures whether it fits the window, screenshots it and prints it to PDF.

Without Chromium the browser tests skip with the reason, except under `CI=true`, where they fail
(`.ci/run` installs it): CI must really look at the pages. Screenshots and PDFs are kept under
`tests/artifacts/` (git-ignored) for a person to look at after the run.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
ARTIFACTS = Path(__file__).parent / "artifacts"
TIMEOUT_SECONDS = 120
PROBE_ID = "loanledger-browser-probe"
PROBE = (
    "<script>(function () {"
    "var result = JSON.stringify({"
    "scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,"
    "text: document.body.innerText});"
    f"var out = document.createElement('pre'); out.id = '{PROBE_ID}';"
    "out.textContent = result; document.body.appendChild(out);"
    "})();</script>"
)
"""Measured after the page's own content is laid out (the script runs last in the body), then
written into the DOM, which `--dump-dom` prints."""

PYTHON_REPRS = re.compile(r"\{'|\bNone\b|\bTrue\b|\bFalse\b")
"""Text that only a Python value printed as-is would put on a page."""


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium() -> str:
    """The Chromium executable; skips the test without one (fails under CI=true)."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = "Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it"
    if _running_in_ci():
        pytest.fail(f"CI=true requires a real browser: {message}", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class Fit:
    """What the browser measured on a page."""

    scroll_width: int
    inner_width: int
    text: str
    """The page's visible text (`innerText`)."""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="loanledger-chromium-") as profile:
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",  # the tests may run as root in a container
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",  # no shared profile between concurrent runs
            *args,
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def measure(page: Path, width: int, height: int = 900) -> Fit:
    """Open `page` in a `width` × `height` window and measure its width and visible text."""
    probed = page.with_name(page.stem + ".probe.html")
    probed.write_text(
        page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    dom = _run(f"--window-size={width},{height}", "--dump-dom", probed.as_uri()).stdout
    found = re.search(f'<pre id="{PROBE_ID}">(.*?)</pre>', dom, re.DOTALL)
    assert found is not None, "the probe did not run: " + dom[-500:]
    values = json.loads(html.unescape(found.group(1)))
    return Fit(values["scrollWidth"], values["innerWidth"], values["text"])


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 2400) -> Path:
    """A PNG of the page's top `height` pixels in a `width`-pixel window, kept as an artefact."""
    _run(f"--window-size={width},{height}", f"--screenshot={out}", page.as_uri())
    return keep(out)


def print_pdf(page: Path, out: Path) -> Path:
    """The page printed to PDF (the page's own `@page` size), kept as an artefact."""
    _run("--no-pdf-header-footer", f"--print-to-pdf={out}", page.as_uri())
    return keep(out)


def keep(path: Path) -> Path:
    """Copy a file to `tests/artifacts/` (git-ignored) so it outlives pytest's temporary dir."""
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(path, ARTIFACTS / path.name)
    return path


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """The (width, height) in points of each page of a PDF Chromium printed (uncompressed page
    dictionaries, each with its own /MediaBox)."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]
