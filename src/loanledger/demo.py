"""`make demo`: the main job on the embedded SQLite default, through the public API only.

Until the CLI issue lands this is a short scripted run: open the default store, record, verify.
"""

from __future__ import annotations

import sys

from loanledger import LoanLedger


def main(url: str | None = None) -> int:
    ledger = LoanLedger.open(url)
    print(f"store: {ledger.settings.redacted_url}")
    result = ledger.verify()
    print(f"verify: {result}")
    ledger.close()
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
