"""Store-kind selections for tests that need one kind of store (see `store_url` in conftest)."""

from __future__ import annotations

import pytest

ON_POSTGRESQL = pytest.mark.parametrize(
    "store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
"""Run the test on PostgreSQL only (connection pools, say, exist there only)."""
