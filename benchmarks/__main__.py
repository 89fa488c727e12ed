"""The token-budget suite: realistic GitHub traffic direct, through ghproxy as Go ghproxy behaves, and with ghproxy's
defaults, against ghsim; tokens charged against the lower bound, secondary-limit hits, latency and throughput.

    python -m benchmarks --quick --out DIR        # about 2 minutes: limits and pacing 10x faster
    python -m benchmarks --out DIR                # GitHub's limits: under 20 minutes
    python -m benchmarks --workloads herd,write-burst --modes compat,full --seed 7

Workloads (benchmarks/suite/workloads.py): prow-steady, app-rotation, herd, write-burst, replicas. Modes: direct
(no proxy), compat (ghproxy configured as Go ghproxy: partitioned, always revalidate, no cross-token reuse, nothing
served without asking, Go's spacing and app token behaviour), full (ghproxy's defaults). Writes DIR/tokens.md,
DIR/tokens.json and DIR/tokens.png; the table also goes to stdout, a progress bar to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from benchmarks.latency import machine
from benchmarks.suite import report, runner, workloads
from benchmarks.suite.scale import FULL, QUICK, SCALES
from benchmarks.suite.stack import MODES, Mode


def _names(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown) or '(none)'}; choose from {', '.join(allowed)}"
        )
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller workloads, limits and pacing 10x faster (~2 min)")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # the smoke test's scale
    p.add_argument("--out", type=Path, default=None, help="directory for tokens.md, tokens.json and tokens.png")
    p.add_argument(
        "--workloads",
        type=lambda v: _names(v, workloads.WORKLOADS, "workload"),
        default=list(workloads.WORKLOADS),
        help=f"comma-separated, from {','.join(workloads.WORKLOADS)} (default all)",
    )
    p.add_argument(
        "--modes",
        type=lambda v: _names(v, tuple(m.value for m in MODES), "mode"),
        default=[m.value for m in MODES],
        help="comma-separated, from direct,compat,full (default all)",
    )
    p.add_argument("--seed", type=int, default=1, help="workload and dataset seed (default 1)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    scale = SCALES["tiny"] if args.tiny else QUICK if args.quick else FULL
    info = machine()
    planned = [(workloads.build(name, scale, args.seed), Mode(mode)) for name in args.workloads for mode in args.modes]
    results = []
    started = time.monotonic()
    total = sum(runner.steps(w) for w, _ in planned)
    with tqdm(total=total, file=sys.stderr, unit="step", dynamic_ncols=True) as bar:
        for workload, mode in planned:
            bar.set_description(f"{workload.name} {mode.value}")
            results.append(runner.run(workload, mode, scale, args.seed, bar.update))
    wall = time.monotonic() - started
    table = report.markdown(results, info, scale, args.seed, wall)
    print(table)
    if args.out is not None:
        for path in report.write(results, args.out, info, scale, args.seed, wall):
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
