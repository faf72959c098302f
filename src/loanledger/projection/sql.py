"""Merge-time alias: SQL file loading moved to `loanledger.persistence.sql` (issue 15).

Only `application.py` still imports this path while the application package is split in another
branch; delete this module once that import line reads `loanledger.persistence.sql`.
"""

from loanledger.persistence.sql import statements

__all__ = ["statements"]
