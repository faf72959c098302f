"""B6 memory: peak RSS (VmHWM) of a rebuild at two sizes, each in its own process.

Run as `python -m benchmarks.b6_memory URL` the module is the child: it opens the ledger, rebuilds
every projection and prints its peak RSS (and the RSS right after opening) as JSON."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from benchmarks.common import (
    Figure,
    Report,
    Store,
    Workspace,
    insert_stored,
    median,
    open_ledger,
    opened,
    replicate,
)

TARGET_RATIO = 1.2
SMALL_EVENTS = 5_000
"""A rebuild now builds the bitemporal `loan_state` (~1k events/s), so the sizes are 5k vs 50k
events to keep make bench within its budget; the step between them is still 10x."""
ROOT = Path(__file__).resolve().parents[1]


def _status_kib(field: str) -> int:
    """VmHWM (peak RSS) or VmRSS (current RSS) of this process, in KiB.

    Not `getrusage(RUSAGE_SELF).ru_maxrss`: Linux keeps that high-water mark across fork and
    exec, so a child started from a large parent reports the parent's size. VmHWM belongs to
    the process's own address space and starts afresh at exec."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_kib() -> int:
    return _status_kib("VmHWM")


def _current_kib() -> int:
    return _status_kib("VmRSS")


def child(url: str) -> None:

    ledger = open_ledger(url)
    opened_kib = _current_kib()
    events = ledger.projections.rebuild()
    ledger.close()
    print(json.dumps({"events": events, "opened_kib": opened_kib, "peak_kib": _peak_kib()}))


def measure(url: str) -> dict[str, int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.b6_memory", url],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(
    space: Workspace,
    source: Store,
    loans: int,
    *,
    quick: bool,
    runs: int,
) -> Report:
    report = Report("B6", "rebuild memory")
    rows = source.rows()
    small_copies = 3 if quick else max(1, SMALL_EVENTS // len(rows))
    big_copies = 10 * small_copies
    sizes = {"small": small_copies, "big": big_copies}
    report.size(
        f"{len(rows) * small_copies} vs {len(rows) * big_copies} events (renamed copies of the "
        "B1 book), SQLite, one process per measurement, every projection rebuilt (issue: 100k vs "
        "1M events; scaled down to fit the 15-minute budget, same 10x step)"
    )
    peaks: dict[str, float] = {}
    for name, copies in sizes.items():
        store = space.sqlite(f"b6-{name}")
        with opened(source) as original, opened(store) as ledger:
            copied = replicate(rows, copies, loans, original.data_keys)
            insert_stored(ledger, copied, batch=5000, keys_from=source)
        results = [measure(store.url) for _ in range(runs)]
        events = results[-1]["events"]
        peak = median([r["peak_kib"] / 1024 for r in results])
        growth = median([(r["peak_kib"] - r["opened_kib"]) / 1024 for r in results])
        peaks[name] = peak
        report.add(
            Figure(
                "B6",
                f"peak RSS, rebuild of {events} events",
                peak,
                "MiB",
                runs=[r["peak_kib"] / 1024 for r in results],
            )
        )
        report.add(Figure("B6", f"RSS growth during the rebuild of {events} events", growth, "MiB"))
        space.drop(store)
    ratio = peaks["big"] / peaks["small"]
    report.add(
        Figure(
            "B6",
            f"peak RSS big / small ({big_copies // small_copies}x the events)",
            ratio,
            "x",
            target=f"<= {TARGET_RATIO}x",
            met=ratio <= TARGET_RATIO,
        )
    )
    return report


if __name__ == "__main__":
    child(sys.argv[1])
