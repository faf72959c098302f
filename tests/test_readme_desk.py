"""The README's servicing-desk example runs as written (so the README cannot drift from it)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _section_code(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, f"no python example under {heading!r}"
    return "\n".join(blocks)


def test_the_servicing_desk_example_in_the_readme_runs_and_its_assertions_hold() -> None:
    code = _section_code("### The servicing desk: explain, installments, statements, what-if")
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
