"""B7p on B7's large book (issue 20): `verify()` against `verify(workers=2)` on PostgreSQL,
alternately, a `LocalCluster` of 2 processes started once before the clock.

    python -m benchmarks.b7p_ranges [--copies 60] [--runs 5] [--interleave]

The book is B7's: `--copies` renamed copies of a 500-loan book (60: 30,000 loans, 332,100
events), one copy after the other as B7 builds it (the middle of the log is a copy's boundary:
no loan's chain crosses it), or with `--interleave` event by event (every loan's chain crosses
it: the merge checks 28,680 openings). Its schema is dropped at the end.

The machine has 2 cores, which the PostgreSQL server and whatever else runs share: each run
prints, besides the clock and the load average, the CPU-seconds it took in this process (the
coordinator, and the cluster's scheduler, which a `LocalCluster` runs here), in the two
workers, in PostgreSQL (its live backends and the ones that ended) and in the rest of the
machine, so that a run slowed by other work can be told from one slowed by its own.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.b2_rebuild import build
from benchmarks.books import prepare_base
from benchmarks.common import Store, Workspace, insert_stored, opened, replicate, settle, workspace
from loanledger.persistence.keys import MASTER_KEY_ENV, MasterKey
from loanledger.persistence.verify import VerifyResult

LOANS = 500
TICKS = os.sysconf("SC_CLK_TCK")


def book(space: Workspace, copies: int, *, interleave: bool) -> Store:
    base = prepare_base(space, "b7p", LOANS, repayment_day=None)
    if not interleave:
        store = build(space, "postgresql", base, copies, LOANS)
    else:
        store = space.postgres()
        with opened(base) as original, opened(store) as ledger:
            copied = replicate(base.rows(), copies, LOANS, original.data_keys, interleave=True)
            insert_stored(ledger, copied, keys_from=base)
        settle(store)
    space.drop(base)
    return store


def _process_seconds(pid: int | str, *, ended_children: bool = False) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if ended_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def _postgres_seconds() -> float:
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm", encoding="ascii") as comm:
                if comm.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        total += _process_seconds(pid, ended_children=True)
    return total


def _machine_seconds() -> float:
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS  # busy: neither idle nor iowait


def _own_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measured(action: Callable[[], VerifyResult], workers: list[int]) -> tuple[float, list[float]]:
    """Seconds on the clock, and CPU-seconds: [this process, workers, PostgreSQL, the rest]."""

    def sample() -> list[float]:
        return [
            _own_seconds(),
            sum(_process_seconds(pid) for pid in workers),
            _postgres_seconds(),
            _machine_seconds(),
        ]

    before = sample()
    began = time.perf_counter()
    action()
    wall = time.perf_counter() - began
    spent = [after - first for first, after in zip(before, sample(), strict=True)]
    spent[3] -= sum(spent[:3])
    return wall, spent


def run(store: Store, runs: int) -> None:
    from loanledger.application.partitioned import dask_client, local_cluster

    with local_cluster(2) as cluster, opened(store) as ledger:
        address = cluster.scheduler_address
        with dask_client(2, address) as client:
            workers = [int(pid) for pid in client.run(os.getpid).values()]
        single = ledger.verify()
        assert ledger.verify(workers=2, scheduler=address) == single  # and the workers warm
        print(f"{single}; {store.count():,} events", flush=True)
        walls: dict[str, list[float]] = {"1 process": [], "2 workers": []}
        actions: dict[str, Callable[[], Any]] = {
            "1 process": ledger.verify,
            "2 workers": lambda: ledger.verify(workers=2, scheduler=address),
        }
        for number in range(runs):
            for name, action in actions.items():
                load = os.getloadavg()[0]
                wall, spent = measured(action, workers)
                walls[name].append(wall)
                print(
                    f"run {number + 1} {name}: {wall:.2f} s, load {load:.2f}; CPU-s: this process "
                    f"{spent[0]:.2f}, workers {spent[1]:.2f}, PostgreSQL {spent[2]:.2f}, "
                    f"the rest of the machine {spent[3]:.2f}",
                    flush=True,
                )
        one, two = walls["1 process"], walls["2 workers"]
        ratios = sorted(round(a / b, 2) for a, b in zip(one, two, strict=True))
        print(
            f"1 process: median {statistics.median(one):.2f} s ({min(one):.2f}-{max(one):.2f}); "
            f"2 workers: median {statistics.median(two):.2f} s ({min(two):.2f}-{max(two):.2f}); "
            f"speed-up of the medians {statistics.median(one) / statistics.median(two):.2f}x; "
            f"each run's {ratios}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interleave", action="store_true")
    parser.add_argument("--url", help="time this book (made by a run without --url)")
    args = parser.parse_args(argv)
    if args.url:
        run(Store("postgresql", args.url, schema=args.url.rsplit("schema=", 1)[1]), args.runs)
        return 0
    os.environ.setdefault(MASTER_KEY_ENV, MasterKey.generate_text())
    with workspace() as space:
        store = book(space, args.copies, interleave=args.interleave)
        # Timed in a new process: making the book leaves this one's heap large, and every
        # collection of the garbage collector during a verify walks the whole heap (the
        # single-process verify took 5.8 CPU-seconds here against 4.1 in a new process).
        command = [sys.executable, "-m", "benchmarks.b7p_ranges", "--url", store.url]
        subprocess.run([*command, "--runs", str(args.runs)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
