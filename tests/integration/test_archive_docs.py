"""docs/archive.md's recomputation runs as written, so the page cannot drift from the ledger."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "archive.md"


def test_the_archive_docs_recompute_every_hash_from_a_proof_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)

    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {"__name__": "docs_archive"})

    assert capsys.readouterr().out == "4 links, stored-bytes hashes and leaves recomputed\n"
