"""The burst workload with and without ghproxy's throttle: throughput, waits, and GitHub's secondary-limit answers.

20 clients on one token send 2,000 GETs and 200 mutations (label additions) through ghproxy to ghsim, which enforces
GitHub's secondary limits (900 points a minute, GET 1 and writes 5, one second between mutations, a 60 s block after
a hit). Run twice in one go: with the throttle (the default) and with `--secondary-limits=false` (what a proxy
without a model of the limits does). The ledger's secondary-limit count is reported beside each.

    python -m benchmarks.burst             # GitHub's real limits: the throttled run takes about 4 minutes
    python -m benchmarks.burst --quick     # limits and workload scaled 10x faster
    python -m benchmarks.burst --out DIR   # also write DIR/burst.json and DIR/burst.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from benchmarks.latency import console, free_port, machine, process

TOKEN = "sim_ci-robot"
CLIENTS = 20


@dataclass
class Run:
    throttle: bool
    requests: int
    seconds: float
    requests_per_s: float
    mutations_per_s: float
    allowed_mutations_per_s: float
    statuses: dict[str, int]
    latency_p50_ms: float
    latency_p99_ms: float
    wait_p50_ms: float
    wait_p99_ms: float
    secondary_limited: int
    charged: int
    free_304: int


def workload(gets: int, mutations: int) -> list[tuple[str, str]]:
    paths = [f"/repos/org0/repo{r}/issues/{n}" for r in range(2) for n in range(9, 17)]
    work = [("GET", paths[i % len(paths)]) for i in range(gets)]
    every = max(1, gets // mutations)
    for k in range(mutations):
        work.insert(k * (every + 1), ("POST", f"/repos/org0/repo{k % 2}/issues/{9 + k % 8}/labels"))
    return work


def quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


async def drive(proxy: str, work: list[tuple[str, str]]) -> tuple[float, list[float], list[int], int]:
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    latencies: list[float] = []
    statuses: list[int] = []
    mutations_done = 0
    started = time.monotonic()
    async with aiohttp.ClientSession(headers={"Authorization": f"token {TOKEN}"}) as s:

        async def client() -> None:
            nonlocal mutations_done
            while not queue.empty():
                method, path = queue.get_nowait()
                t = time.monotonic()
                data = json.dumps({"labels": ["kind/bug"]}) if method == "POST" else None
                async with s.request(method, proxy + path, data=data) as r:
                    await r.read()
                    statuses.append(r.status)
                latencies.append(time.monotonic() - t)
                mutations_done += method == "POST" and r.status < 300

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.monotonic() - started, latencies, statuses, mutations_done


def waits(proxy: str) -> list[float]:
    """Approximate wait samples from ghproxy's github_request_wait_duration_seconds histogram (bucket bounds)."""
    with urllib.request.urlopen(proxy + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("github_request_wait_duration_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
    samples: list[float] = []
    previous = 0.0
    for bound in sorted(buckets):
        count = int(buckets[bound] - previous)
        previous = buckets[bound]
        samples += [bound if bound != float("inf") else 120.0] * count
    return samples


def run_one(throttle: bool, scale: float, gets: int, mutations: int) -> Run:
    sim_port, proxy_port = free_port(), free_port()
    sim_url, proxy_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{proxy_port}"
    interval, per_minute = 1.0 / scale, int(900 * scale)
    sim = [*console("ghsim"), "--port", str(sim_port), "--min-mutation-interval-s", str(interval)]
    sim += ["--points-per-minute", str(per_minute), "--core-limit", "1000000"]
    proxy = [*console("ghproxy"), "--host", "127.0.0.1", "--port", str(proxy_port), "--upstream", sim_url]
    proxy += ["--metrics-port", "0", "--health-port", "0", "--log-level", "error", "--cache-dir", ""]
    proxy += ["--mutation-interval-seconds", str(interval), "--points-per-minute", str(per_minute)]
    proxy += ["--throttling-max-delay-duration-seconds", str(300 / scale)]
    if not throttle:
        proxy += ["--secondary-limits=false"]
    with process(sim, sim_url + "/_sim/ledger"), process(proxy, proxy_url + "/metrics"):
        seconds, latencies, statuses, mutations_done = asyncio.run(drive(proxy_url, workload(gets, mutations)))
        wait_samples = waits(proxy_url)
        with urllib.request.urlopen(sim_url + "/_sim/ledger", timeout=10) as resp:
            ledger = json.load(resp)["totals"]
    points = gets + 5 * mutations
    allowed_seconds = max(mutations * interval, points / per_minute * 60)
    counts: dict[str, int] = {}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    return Run(
        throttle=throttle,
        requests=len(statuses),
        seconds=seconds,
        requests_per_s=len(statuses) / seconds,
        mutations_per_s=mutations_done / seconds,
        allowed_mutations_per_s=mutations / allowed_seconds,
        statuses=counts,
        latency_p50_ms=quantile(latencies, 0.5) * 1e3,
        latency_p99_ms=quantile(latencies, 0.99) * 1e3,
        wait_p50_ms=quantile(wait_samples, 0.5) * 1e3 if wait_samples else 0.0,
        wait_p99_ms=quantile(wait_samples, 0.99) * 1e3 if wait_samples else 0.0,
        secondary_limited=ledger["secondary_limited"],
        charged=ledger["charged"],
        free_304=ledger["free_304"],
    )


def markdown(runs: list[Run], info: dict[str, str], scale: float) -> str:
    limits = "GitHub's limits" if scale == 1 else f"GitHub's limits scaled {scale:g}x faster"
    lines = [
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), Python {info['python']}; {limits}; "
        f"{CLIENTS} clients on one token.",
        "",
        "| throttle | requests | seconds | req/s | mutations/s (allowed) | statuses | latency p50 / p99 | "
        "throttle wait p50 / p99 (bucket bound) | secondary-limit answers | charged | free 304s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.statuses.items()))
        lines.append(
            f"| {'on' if r.throttle else 'off'} | {r.requests} | {r.seconds:.1f} | {r.requests_per_s:.1f} | "
            f"{r.mutations_per_s:.2f} ({r.allowed_mutations_per_s:.2f}) | {statuses} | "
            f"{r.latency_p50_ms:.0f} / {r.latency_p99_ms:.0f} ms | {r.wait_p50_ms:.0f} / {r.wait_p99_ms:.0f} ms | "
            f"{r.secondary_limited} | {r.charged} | {r.free_304} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.burst", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="limits and workload 10x faster")
    p.add_argument("--scale", type=float, default=None, help="how many times faster than GitHub's limits")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    scale = args.scale or (10.0 if args.quick else 1.0)
    info = machine()
    runs = []
    for throttle in (True, False):
        print(f"throttle {'on' if throttle else 'off'} ...", file=sys.stderr, flush=True)
        runs.append(run_one(throttle, scale, 2000, 200))
    table = markdown(runs, info, scale)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "burst.md").write_text(table)
        (args.out / "burst.json").write_text(json.dumps({"machine": info, "runs": [asdict(r) for r in runs]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
