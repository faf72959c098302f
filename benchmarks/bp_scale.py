"""B1p, B2p, B7p (issue 20): the partitioned runs on Dask against their single-process and raw
baselines, on PostgreSQL, in one process's run.

    python -m benchmarks.bp_scale [--loans 2000] [--runs 3] [--workers 2]

- B2p: every-projection rebuild, `rebuild()` (one process) vs `rebuild(workers=2)`;
- B1p: `load(path, workers=2)` vs raw psycopg `executemany` of the same rows (and the serial load);
- B7p: `verify()` vs `verify(workers=2)`.

The partitioned runs use a `LocalCluster` of `--workers` processes started once, before the
clock (`scheduler=` its address), as a deployment keeps its cluster up; its start-up (about two
seconds) is reported apart. The figures are merged into benchmarks/RESULTS.json (replacing earlier
B1p/B2p/B7p figures). The machine has 2 cores shared with other work: the load average is
recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.b1_import import raw_postgres
from benchmarks.common import Figure, Report, Workspace, load_average, median, opened, workspace
from benchmarks.journal import generate
from loanledger.persistence.keys import MASTER_KEY_ENV, MasterKey

HERE = Path(__file__).resolve().parent
TARGET_SPEEDUP = 1.7
TARGET_LOAD_RAW = 0.25


def _seconds(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(space: Workspace, *, loans: int, runs: int, workers: int) -> list[Report]:
    from loanledger.application.partitioned import local_cluster

    book = generate(loans)
    journal = book.write(space.dir / "bp-journal.jsonl")
    began = time.perf_counter()
    with local_cluster(workers) as cluster:
        startup = time.perf_counter() - began
        address = cluster.scheduler_address
        b1p, store = _load(space, journal, runs, workers, address)
        b1p.size(
            f"{loans} loans, {len(book.commands)} journal lines; cluster start {startup:.1f} s"
        )
        with opened(store) as ledger:
            events = ledger.recorder.max_notification_id() or 0
            b2p = Report("B2p", "partitioned rebuild on Dask (PostgreSQL)")
            b2p.size(f"{events} events ({loans} loans), every projection, {workers} workers")
            serial = [_seconds(ledger.rebuild) for _ in range(runs)]
            parallel = [
                _seconds(lambda: ledger.rebuild(workers=workers, scheduler=address))
                for _ in range(runs)
            ]
            _pair(b2p, "rebuild", events, serial, parallel, workers)
            b7p = Report("B7p", "partitioned verify on Dask (PostgreSQL)")
            b7p.size(f"{events} events ({loans} loans), {workers} workers")
            serial = [_seconds(ledger.verify) for _ in range(runs)]
            parallel = [
                _seconds(lambda: ledger.verify(workers=workers, scheduler=address))
                for _ in range(runs)
            ]
            _pair(b7p, "verify", events, serial, parallel, workers)
    return [b1p, b2p, b7p]


def _load(
    space: Workspace, journal: Path, runs: int, workers: int, address: str
) -> tuple[Report, Any]:
    report = Report("B1p", "parallel bulk load on Dask (PostgreSQL)")
    serial, parallel, raw = [], [], []
    store = None
    events = 0
    for _ in range(runs):
        one = space.postgres()
        with opened(one) as ledger:
            serial.append(_seconds(lambda ledger=ledger: ledger.load(journal)))
        space.drop(one)
        store = space.postgres()
        with opened(store) as ledger:
            parallel.append(
                _seconds(
                    lambda ledger=ledger: ledger.load(journal, workers=workers, scheduler=address)
                )
            )
            events = ledger.recorder.max_notification_id() or 0
        raw.append(raw_postgres(str(store.schema), store.rows(), copy=False))
    report.add(Figure("B1p", "postgresql load, 1 process", events / median(serial), "events/s"))
    report.add(
        Figure(
            "B1p",
            f"postgresql load, {workers} workers",
            events / median(parallel),
            "events/s",
            runs=parallel,
        )
    )
    report.add(
        Figure("B1p", "postgresql raw psycopg executemany", events / median(raw), "events/s")
    )
    ratio = median(raw) / median(parallel)
    report.add(
        Figure(
            "B1p",
            f"postgresql load ({workers} workers) / raw executemany",
            ratio,
            "x",
            target=f">= {TARGET_LOAD_RAW}x",
            met=ratio >= TARGET_LOAD_RAW,
        )
    )
    assert store is not None
    return report, store


def _pair(
    report: Report,
    name: str,
    events: int,
    serial: list[float],
    parallel: list[float],
    workers: int,
) -> None:
    bench = report.bench
    report.add(
        Figure(
            bench, f"postgresql {name}, 1 process", events / median(serial), "events/s", runs=serial
        )
    )
    report.add(
        Figure(
            bench,
            f"postgresql {name}, {workers} workers",
            events / median(parallel),
            "events/s",
            runs=parallel,
        )
    )
    speedup = median(serial) / median(parallel)
    report.add(
        Figure(
            bench,
            f"postgresql {name} speed-up, {workers} workers / 1 process",
            speedup,
            "x",
            target=f">= {TARGET_SPEEDUP}x (2 cores, shared)",
            met=speedup >= TARGET_SPEEDUP,
        )
    )


def merge_results(reports: list[Report], command: str, loadavg: tuple[str, str]) -> None:
    """Put the figures into RESULTS.json, replacing earlier figures of these benches."""
    path = HERE / "RESULTS.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    names = {report.bench for report in reports}
    results["figures"] = [f for f in results["figures"] if f["bench"] not in names]
    results["figures"] += [vars(figure) for report in reports for figure in report.figures]
    for report in reports:
        results["sizes"][report.bench] = [
            *report.sizes,
            f"command: {command}; load average {loadavg[0]} at the start, {loadavg[1]} at the end",
        ]
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    os.environ.setdefault(MASTER_KEY_ENV, MasterKey.generate_text())
    start = load_average()
    with workspace() as space:
        reports = run(space, loans=args.loans, runs=args.runs, workers=args.workers)
    for report in reports:
        for figure in report.figures:
            print(figure.line(), flush=True)
    end = load_average()
    print(f"load average: {start} at the start, {end} at the end")
    if not args.no_write:
        command = "python -m benchmarks.bp_scale " + " ".join(
            f"--{key} {value}" for key, value in vars(args).items() if key != "no_write"
        )
        merge_results(reports, command, (start, end))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
