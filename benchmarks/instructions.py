"""Instructions a rebuild executes, counted under valgrind, to compare versions of the code.

On a shared machine the same rebuild's time drifts by 5-15 % from run to run, which hides any
change of a few percent (benchmarks/RESULTS.md, ninth and tenth sessions). The number of
instructions a process executes does not depend on what else the machine does: valgrind's
cachegrind counts them (`--cache-sim=no`: no cache simulation, about 13x slower than a plain
run). Instructions are not time (a cache miss costs more than an add), so a change is confirmed
by timing as well when the machine allows; but an instruction count that does not move means the
change saves nothing.

For each `--sources` folder (a checkout's `src`; by default this checkout's), the rebuild of the
same book is counted, and the same process without the rebuild (start-up, opening, closing) is
subtracted. Every folder's modules are compiled first: with `PYTHONDONTWRITEBYTECODE` set (as in
some environments) a folder that never wrote its `.pyc` files would compile every module in each
counted run.

    python -m benchmarks.instructions [--book demo|b2] [--loans 250] [--months 18] [--page N]
                                      [--sources DIR ...]

The book is the demo's (`b2r_demo_books.journal`, cached in `LOANLEDGER_BENCH_CACHE`), or with
`--book b2` B2's (B1's journal of 500 loans, loaded loan by loan, so the business horizon runs
ahead of most facts), loaded once into a temporary SQLite file; each count runs on a fresh copy
of it, with `PYTHONHASHSEED=0` (the same code then counts the same within about 1 %).
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.b1_import import B1_LOANS
from benchmarks.b2r_demo_books import journal
from benchmarks.journal import generate
from loanledger import LoanLedger
from loanledger.persistence.keys import MASTER_KEY_ENV, MasterKey

ROOT = Path(__file__).resolve().parents[1]
COUNTED = re.compile(r"I\s+refs:\s+([\d,]+)")


def child(url: str, runs: int, page: int | None) -> None:
    """Open the book at `url` and rebuild it `runs` times (0: only open and close it)."""
    ledger = LoanLedger.open(url)
    try:
        if page is not None:
            ledger.projections.batch_size = page
        for _ in range(runs):
            ledger.rebuild()
    finally:
        ledger.close()


def count(sources: Path, book: Path, work: Path, runs: int, page: int | None) -> int:
    """Instructions of the child process run with `sources` first on the path."""
    copy = work / f"count-{runs}.sqlite"
    shutil.copyfile(book, copy)
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        f"--cachegrind-out-file={work / 'cachegrind.out'}",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--child",
        f"sqlite:///{copy}",
        "--runs",
        str(runs),
    ]
    if page is not None:
        command += ["--page", str(page)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    env["PYTHONPATH"] = os.pathsep.join([str(sources), str(ROOT)])
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    found = COUNTED.findall(done.stderr)
    if not found:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found[-1].replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--book",
        choices=("demo", "b2"),
        default="demo",
        help="the demo's book (--loans, --months) or B2's (B1's journal, 500 loans)",
    )
    parser.add_argument("--loans", type=int, default=250)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--page", type=int, default=None, help="events per page of the rebuild")
    parser.add_argument("--sources", type=Path, nargs="*", default=[ROOT / "src"])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.runs, args.page)
        return 0
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    os.environ.setdefault(MASTER_KEY_ENV, MasterKey.generate_text())
    with tempfile.TemporaryDirectory(prefix="loanledger-instructions-") as folder:
        work = Path(folder)
        book = work / "book.sqlite"
        if args.book == "b2":
            source = generate(B1_LOANS).write(work / "b2.jsonl")
            name = f"B2's book (B1's journal, {B1_LOANS} loans)"
        else:
            source = journal(args.loans, args.months)
            name = f"the demo's book of {args.loans} loans, {args.months} months"
        ledger = LoanLedger.open(f"sqlite:///{book}")
        try:
            ledger.load(source)
            events = ledger.recorder.max_notification_id() or 0
        finally:
            ledger.close()
        print(f"{name}: {events} events")
        for sources in (path.resolve() for path in args.sources):
            compileall.compile_dir(str(sources), quiet=1)
            start = count(sources, book, work, 0, args.page)
            whole = count(sources, book, work, 1, args.page)
            print(
                f"{sources}: rebuild {whole - start:,} instructions "
                f"({(whole - start) / max(events, 1):,.0f} an event; start-up {start:,})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
