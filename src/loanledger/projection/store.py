"""Merge-time alias: the read store moved to `loanledger.persistence.read_store` (issue 15).

Only `application.py` still imports this path while the application package is split in another
branch; delete this module once that import line reads `loanledger.persistence.read_store`.
"""

from loanledger.persistence.read_store import Row, open_read_store

__all__ = ["Row", "open_read_store"]
