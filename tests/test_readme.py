"""Every Python and console example in the README runs here, as a person would run it from a
fresh clone, so the README cannot drift from the code (see `tests/readme.py` for the rules).

Python blocks run in order in one namespace, in a directory holding a fresh 20-loan demo book
(`loanledger demo --loans 20`, as the README's first steps make it). Console blocks run through
the installed `loanledger` command, with `.venv/bin` first on PATH as the README tells users, each
in a fresh directory, on an 80-column terminal, without any LOANLEDGER_* variable set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.readme import README, Block, blocks, commands, missing_lines, readme_blocks, run_console

BIN = Path(sys.executable).parent
ALL = readme_blocks()
CONSOLE = [block for block in ALL if block.runs and block.lang != "python"]


def _clean_env(home: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LOANLEDGER_", "VIRTUAL_ENV", "PYTHON", "COLUMNS", "LINES"))
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        TERM="xterm-256color",
        NO_COLOR="1",
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
    )
    return env


# --- the harness itself ------------------------------------------------------------------------


def test_a_block_marked_not_run_is_skipped_and_every_other_example_is_collected() -> None:
    text = (
        "<!-- not-run: needs a second terminal -->\n```console\n$ sleep 100\n```\n\n"
        "```python\nx = 1\n```\n```json\n{}\n```\n```sh\nmake demo   # slow\n  # more\n```\n"
    )

    found = blocks(text)

    assert [(block.lang, block.runs, block.not_run) for block in found] == [
        ("console", False, "needs a second terminal"),
        ("python", True, None),
        ("json", False, None),
        ("sh", True, None),
    ]
    assert [command.text for command in commands(found[3])] == ["make demo   # slow"]


def test_shown_output_must_appear_in_order_after_times_and_durations_are_normalised() -> None:
    printed = [
        "forgot B-1 at 2026-12-06T01:02:03.456789+00:00: erased",
        "936 commands in 4.2 s",
        "UNMASKED export of personal data by bob at 2026-12-06T01:02:04+00:00",
    ]

    assert missing_lines(["forgot B-1 at 2025-01-01T00:00:00+00:00: erased"], printed) == []
    assert missing_lines(["   ...", "936 commands in 3.9 s"], printed) == []
    assert (
        missing_lines(
            ["UNMASKED export of personal data by alice at 2026-11-29T02:10:10+00:00"], printed
        )
        == []
    )
    assert missing_lines(["936 commands in 3.9 s", "forgot B-1 at x"], printed) == [
        "forgot B-1 at x"
    ]


def test_every_not_run_marker_gives_a_reason_and_stays_rare() -> None:
    skipped = [block for block in ALL if block.not_run is not None]

    assert all(block.not_run.strip() for block in skipped if block.not_run is not None)
    assert len(skipped) <= max(3, len(ALL) // 5), [block.line for block in skipped]


# --- the README's examples -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory with a fresh 20-loan demo book in `loanledger-demo/`, as the first steps
    leave it (its random master key saved in `loanledger-demo/master.key`)."""
    from rich.console import Console

    from loanledger.entrypoints.demo import run_demo

    home = tmp_path_factory.mktemp("readme-python")
    saved = {
        name: os.environ.pop(name) for name in list(os.environ) if name.startswith("LOANLEDGER_")
    }
    cwd = Path.cwd()
    try:
        os.chdir(home)
        with open(os.devnull, "w", encoding="utf-8") as quiet:
            run_demo(loans=20, out=Path("loanledger-demo"), console=Console(file=quiet))
        yield home
    finally:
        os.chdir(cwd)
        os.environ.update(saved)


def test_the_python_examples_run_in_order_against_the_demo_book(demo_book: Path) -> None:
    python = [block for block in ALL if block.runs and block.lang == "python"]
    assert python
    namespace: dict[str, object] = {"__name__": "readme"}
    saved = {
        name: os.environ.pop(name) for name in list(os.environ) if name.startswith("LOANLEDGER_")
    }
    cwd = Path.cwd()
    os.chdir(demo_book)
    try:
        for block in python:
            # Blank lines keep the README's line numbers in tracebacks.
            code = "\n" * block.line + block.code
            exec(compile(code, str(README), "exec"), namespace)
    finally:
        os.chdir(cwd)
        os.environ.update(saved)
        ledger = namespace.get("ledger")
        close = getattr(ledger, "close", None)
        if callable(close):
            close()


@pytest.mark.parametrize("block", CONSOLE, ids=[f"README.md:{block.line}" for block in CONSOLE])
def test_each_console_example_runs_through_the_installed_command_and_prints_what_it_shows(
    block: Block, tmp_path: Path
) -> None:
    ran = run_console(block, tmp_path, _clean_env(tmp_path))

    assert len(ran) == len(commands(block))
    for result in ran:
        where = f"README.md:{block.line}: $ {result.command.text}"
        assert result.status == 0, f"{where} exited {result.status}:\n" + "\n".join(result.printed)
        missing = missing_lines(result.command.shown, result.printed)
        assert missing == [], f"{where} did not print:\n" + "\n".join(
            [*missing, "--- it printed:", *result.printed]
        )
