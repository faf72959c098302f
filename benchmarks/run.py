"""Runs the loanledger benchmarks (Issue 8) and writes benchmarks/RESULTS.md.

    python -m benchmarks.run            # full suite (make bench), rewrites RESULTS.md's table
    python -m benchmarks.run --quick    # small smoke run (make bench-quick), writes nothing

Each benchmark runs its baseline in the same process, on the same database, with the same rows
(DESIGN §11), reports medians of `--runs` runs (at least 3) and says whether its target is met.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import (
    b1_import,
    b2_rebuild,
    b2r_demo_books,
    b3_close_day,
    b4_long_loan,
    b5_reports,
    b6_memory,
    b7_proofs,
)
from benchmarks.common import SETTINGS, Report, Store, fmt, load_average, machine, workspace
from loanledger.persistence.keys import MASTER_KEY_ENV, MasterKey

HERE = Path(__file__).resolve().parent
BEGIN = "<!-- BEGIN GENERATED: benchmarks/run.py rewrites this block -->"
END = "<!-- END GENERATED -->"
ALL = ("B1", "B2", "B2R", "B3", "B4", "B5", "B6", "B7")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run, writes nothing")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median; >= 3)")
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated, e.g. B1,B3")
    parser.add_argument(
        "--output", type=Path, default=None, help="results file (default: RESULTS.md, full runs)"
    )
    args = parser.parse_args(argv)
    # Every store here is a throwaway workspace: a random master key for the run encrypts its
    # personal data as a real deployment's would (and costs what it costs there).
    os.environ.setdefault(MASTER_KEY_ENV, MasterKey.generate_text())
    runs = max(3, args.runs)
    only = {name.strip().upper() for name in args.only.split(",") if name.strip()}
    command = "python -m benchmarks.run" + " ".join(["", *(argv or sys.argv[1:])]).rstrip()
    SETTINGS.profile = not args.quick
    info = machine()
    print("machine: " + ", ".join(f"{key} {value}" for key, value in info.items()), flush=True)
    started = time.perf_counter()
    reports: list[Report] = []
    errors: dict[str, str] = {}

    def attempt(name: str, action: Any) -> Any:
        if name not in only:
            return None
        print(f"--- {name}", flush=True)
        began = time.perf_counter()
        try:
            return action()
        except Exception:
            errors[name] = traceback.format_exc()
            print(f"[{name}] FAILED\n{errors[name]}", flush=True)
            return None
        finally:
            print(f"--- {name} took {time.perf_counter() - began:.0f} s", flush=True)

    with workspace() as space:
        b1: tuple[Report, dict[str, Store]] | None = None
        if only & {"B1", "B2", "B6"}:
            b1 = attempt("B1", lambda: b1_import.run(space, quick=args.quick, runs=runs))
            if b1 is None and "B1" not in only:  # B2/B6 alone still need the loaded book
                b1 = b1_import.run(space, quick=args.quick, runs=1)
            elif b1 is not None:
                reports.append(b1[0])
        loans = b1_import.B1_LOANS_QUICK if args.quick else b1_import.B1_LOANS
        if b1 is not None:
            kept = b1[1]
            reports.append(
                attempt(
                    "B2",
                    lambda: b2_rebuild.run(space, kept, quick=args.quick, runs=runs, loans=loans),
                )
            )
            reports.append(
                attempt(
                    "B6",
                    lambda: b6_memory.run(
                        space, kept["sqlite"], loans, quick=args.quick, runs=runs
                    ),
                )
            )
            for store in kept.values():
                space.drop(store)
        b3 = None
        if only & {"B3", "B5"}:
            b3 = attempt("B3", lambda: b3_close_day.run(space, quick=args.quick, runs=runs))
            if b3 is not None and "B3" in only:
                reports.append(b3[0])
        if b3 is not None:
            big, big_loans = b3[1], b3[2]
            reports.append(attempt("B5", lambda: b5_reports.run(big, big_loans, runs=runs)))
            space.drop(big)
        reports.append(
            attempt("B2R", lambda: b2r_demo_books.run(space, quick=args.quick, runs=runs))
        )
        reports.append(attempt("B4", lambda: b4_long_loan.run(space, quick=args.quick, runs=runs)))
        reports.append(attempt("B7", lambda: b7_proofs.run(space, quick=args.quick, runs=runs)))
    done = [report for report in reports if report is not None]
    elapsed = time.perf_counter() - started
    info["loadavg_end"] = load_average()
    print(f"suite took {elapsed:.0f} s", flush=True)
    summary(done)
    if args.quick:
        print("(quick run: tiny books, a smoke test; only a full run's verdicts count)")
    output = args.output or (None if args.quick else HERE / "RESULTS.md")
    if output is not None:
        write(output, render(done, info, command, elapsed, errors, runs))
        (output.with_suffix(".json")).write_text(
            json.dumps(
                {
                    "machine": info,
                    "command": command,
                    "seconds": elapsed,
                    "figures": [vars(f) for r in done for f in r.figures],
                    "sizes": {r.bench: r.sizes for r in done},
                    "errors": errors,
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"wrote {output}", flush=True)
    return 1 if errors else 0


def summary(reports: list[Report]) -> None:
    print("\nsummary of targets:")
    for report in reports:
        for figure in report.figures:
            if figure.met is not None:
                print("  " + figure.line())


def render(
    reports: list[Report],
    info: dict[str, str],
    command: str,
    elapsed: float,
    errors: dict[str, str],
    runs: int,
) -> str:
    lines = [
        BEGIN,
        "",
        f"**Date:** {info['date']}  ",
        f"**Command:** `{command}` (what `make bench` runs), {elapsed / 60:.1f} minutes  ",
        f"**Machine:** {info['nproc']} CPUs (`nproc`), {info['cpu']}; Python {info['python']}; "
        f"SQLite {info['sqlite']}; PostgreSQL {info['postgresql']} (same host, 127.0.0.1); "
        f"eventsourcing {info['eventsourcing']}; {info['platform']}  ",
        f"**Load average** (1/5/15 min; the machine is shared with other work): "
        f"{info['loadavg']} at the start, {info['loadavg_end']} at the end  ",
        f"**Runs:** median of {runs} runs per figure unless the row says otherwise.",
        "",
        "| bench | figure | value | target | met |",
        "|---|---|---:|---|---|",
    ]
    for report in reports:
        for figure in report.figures:
            verdict = "" if figure.met is None else ("yes" if figure.met else "**no**")
            note = f" ({figure.note})" if figure.note else ""
            lines.append(
                f"| {figure.bench} | {figure.name}{note} | {fmt(figure.value)} {figure.unit} | "
                f"{figure.target} | {verdict} |"
            )
    lines += ["", "### Sizes used (vs. the issue's)", ""]
    for report in reports:
        for size in report.sizes:
            lines.append(f"- **{report.bench}** {report.title}: {size}")
    if errors:
        lines += ["", "### Benchmarks that failed", ""]
        for name, text in errors.items():
            lines += [f"**{name}**", "", "```", text.rstrip(), "```", ""]
    lines += [
        "",
        "### Profiles of the targets not met (cProfile, top 10 by own time)",
        "",
    ]
    for report in reports:
        for name, text in report.profiles.items():
            lines += [f"**{report.bench} — {name}**", "", "```", text, "```", ""]
    lines += [END]
    return "\n".join(lines) + "\n"


def write(path: Path, block: str) -> None:
    """Replace the generated block of `path`, keeping everything written around it."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            path.write_text(head + block.rstrip("\n") + tail, encoding="utf-8")
            return
    path.write_text("# Benchmark results\n\n" + block, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
