"""Proxy-added latency and revalidation-path throughput, against direct-to-ghsim, in one run.

ghsim and ghproxy run as their own processes (the console scripts a user runs); this process is the load generator.
Every figure in one report comes from one run on one machine, so ratios are meaningful even on a noisy box.

    python -m benchmarks.latency                # full: 10 s phases, ghsim at 0 ms and 50 ms
    python -m benchmarks.latency --quick        # 3 s phases
    python -m benchmarks.latency --out DIR      # also write DIR/latency.json and DIR/latency.md

Phases, per upstream latency:
- open loop at a fixed rate (default 500 req/s): latency percentiles direct and through the proxy; the proxy's
  added latency is the difference of medians (and of p99s);
- closed loop (default 32 concurrent clients): requests/s direct and through the proxy, and their ratio.
ghproxy runs with its default tiers (memory in front of disk, in a temporary directory). Requests cycle over a fixed
set of GitHub paths with one token; the proxy is warmed first, so every proxied request
takes the revalidation path (a conditional request upstream, answered 304), and one second at the full rate is
sent and discarded before measuring, so connection pools are open on both paths.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

# 50 tokens x 10 paths, sent in rotation: a key comes round again only after 500 requests (a second at 500/s), so
# no two identical requests are in flight together and every proxied request takes the revalidation path rather
# than being coalesced.
TOKENS = tuple(f"bench-{i}" for i in range(50))
PATHS = (
    "/repos/org0/repo0",
    "/repos/org0/repo0/pulls?state=open",
    "/repos/org0/repo0/pulls/1",
    "/repos/org0/repo0/pulls/1/files",
    "/repos/org0/repo0/issues/1/comments",
    "/repos/org0/repo0/labels",
    "/repos/org0/repo1",
    "/repos/org0/repo1/pulls/2",
    "/repos/org0/repo1/collaborators",
    "/orgs/org0/members",
)
KEYS = tuple((path, token) for token in TOKENS for path in PATHS)


@dataclass
class Percentiles:
    n: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int


@dataclass
class Result:
    upstream_latency_ms: float
    rate: float
    direct: Percentiles
    proxied: Percentiles
    added_p50_ms: float
    added_p99_ms: float
    concurrency: int
    direct_rps: float
    proxied_rps: float
    throughput_ratio: float
    proxied_modes: dict[str, int]
    proxy_overhead_mean_ms: float  # ghproxy's own time per request, from its ghproxy_overhead_seconds histogram


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


@contextmanager
def process(args: list[str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(ready_url)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def console(name: str) -> list[str]:
    exe = shutil.which(name)
    return [exe] if exe else [sys.executable, "-m", name]


def percentiles(samples: list[float], errors: int) -> Percentiles:
    if not samples:
        return Percentiles(0, float("nan"), float("nan"), float("nan"), errors)
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return Percentiles(len(samples), statistics.median(samples) * 1e3, qs[89] * 1e3, qs[98] * 1e3, errors)


async def open_loop(base: str, rate: float, seconds: float) -> tuple[list[float], int, dict[str, int]]:
    """Send at a fixed rate regardless of answers (no coordinated omission); latency from the scheduled time."""
    headers = {"Accept-Encoding": "gzip"}
    latencies: list[float] = []
    modes: dict[str, int] = {}
    errors = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(i: int, scheduled: float) -> None:
            nonlocal errors
            path, token = KEYS[i % len(KEYS)]
            try:
                async with session.get(base + path, headers={"Authorization": f"token {token}"}) as resp:
                    await resp.read()
                    mode = resp.headers.get("X-Cache-Mode", "-")
                    modes[mode] = modes.get(mode, 0) + 1
                    if resp.status != 200:
                        errors += 1
                        return
            except aiohttp.ClientError:
                errors += 1
                return
            latencies.append(time.perf_counter() - scheduled)

        total = int(rate * seconds)
        start = time.perf_counter() + 0.05
        tasks = []
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
    return latencies, errors, modes


async def closed_loop(base: str, concurrency: int, seconds: float) -> float:
    """Requests per second with `concurrency` clients each sending its next request when the last one answers."""
    headers = {"Accept-Encoding": "gzip"}
    done = 0
    counter = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done, counter
            while time.perf_counter() < deadline:
                path, token = KEYS[counter % len(KEYS)]
                counter += 1
                async with session.get(base + path, headers={"Authorization": f"token {token}"}) as resp:
                    await resp.read()
                    if resp.status == 200:
                        done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


async def warm(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for path, token in KEYS:
            async with session.get(base + path, headers={"Authorization": f"token {token}"}) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"warm-up GET {path} answered {resp.status}")


def overhead(proxy_url: str) -> tuple[float, float]:
    """(sum, count) of ghproxy_overhead_seconds from the proxy's /metrics."""
    with urllib.request.urlopen(proxy_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith(("ghproxy_overhead_seconds_sum", "ghproxy_overhead_seconds_count")):
            name, value = line.split()
            values[name] = float(value)
    return values["ghproxy_overhead_seconds_sum"], values["ghproxy_overhead_seconds_count"]


def run_one(upstream_ms: float, rate: float, concurrency: int, seconds: float) -> Result:
    sim_port, proxy_port = free_port(), free_port()
    sim_url, proxy_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{proxy_port}"
    sim_args = [*console("ghsim"), "--port", str(sim_port), "--latency-ms", str(upstream_ms)]
    sim_args += ["--no-secondary-limits", "--core-limit", "100000000"]
    proxy_args = [*console("ghproxy"), "--host", "127.0.0.1", "--port", str(proxy_port), "--upstream", sim_url]
    proxy_args += ["--metrics-port", "0", "--health-port", "0", "--log-level", "error", "--secondary-limits=false"]
    with (
        tempfile.TemporaryDirectory(prefix="ghproxy-bench-") as cache_dir,
        process(sim_args, sim_url + "/_sim/ledger"),
        process([*proxy_args, "--cache-dir", cache_dir], proxy_url + "/metrics"),
    ):
        asyncio.run(warm(proxy_url))
        asyncio.run(warm(sim_url))
        # one discarded second at the full rate each, so connection pools are open before anything is measured
        asyncio.run(open_loop(sim_url, rate, 1.0))
        asyncio.run(open_loop(proxy_url, rate, 1.0))
        d_lat, d_err, _ = asyncio.run(open_loop(sim_url, rate, seconds))
        before = overhead(proxy_url)
        p_lat, p_err, modes = asyncio.run(open_loop(proxy_url, rate, seconds))
        after = overhead(proxy_url)
        d_rps = asyncio.run(closed_loop(sim_url, concurrency, seconds))
        p_rps = asyncio.run(closed_loop(proxy_url, concurrency, seconds))
    direct, proxied = percentiles(d_lat, d_err), percentiles(p_lat, p_err)
    return Result(
        upstream_latency_ms=upstream_ms,
        rate=rate,
        direct=direct,
        proxied=proxied,
        added_p50_ms=proxied.p50_ms - direct.p50_ms,
        added_p99_ms=proxied.p99_ms - direct.p99_ms,
        concurrency=concurrency,
        direct_rps=d_rps,
        proxied_rps=p_rps,
        throughput_ratio=p_rps / d_rps if d_rps else float("nan"),
        proxied_modes=modes,
        proxy_overhead_mean_ms=(after[0] - before[0]) / max(1.0, after[1] - before[1]) * 1e3,
    )


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def markdown(results: list[Result], info: dict[str, str]) -> str:
    lines = [
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), Python {info['python']}; "
        "load generator, ghsim and ghproxy share the machine.",
        "",
        "| upstream latency | rate | direct p50 / p99 | proxied p50 / p99 | added p50 / p99 | ghproxy's own time "
        "(mean) | direct req/s | proxied req/s | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.upstream_latency_ms:g} ms | {r.rate:g}/s | {r.direct.p50_ms:.2f} / {r.direct.p99_ms:.2f} ms | "
            f"{r.proxied.p50_ms:.2f} / {r.proxied.p99_ms:.2f} ms | {r.added_p50_ms:+.2f} / {r.added_p99_ms:+.2f} ms | "
            f"{r.proxy_overhead_mean_ms:.2f} ms | "
            f"{r.direct_rps:.0f} | {r.proxied_rps:.0f} | {r.throughput_ratio:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="3 s phases instead of 10 s")
    p.add_argument("--seconds", type=float, default=None, help="length of each phase")
    p.add_argument("--rate", type=float, default=500.0, help="open-loop request rate (default 500/s)")
    p.add_argument("--concurrency", type=int, default=32, help="closed-loop clients (default 32)")
    p.add_argument("--upstream-latency-ms", type=float, nargs="+", default=[0.0, 50.0])
    p.add_argument("--out", type=Path, default=None, help="directory for latency.json and latency.md")
    args = p.parse_args(argv)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    info = machine()
    results = []
    for ms in args.upstream_latency_ms:
        print(f"upstream latency {ms:g} ms: {seconds:g} s per phase ...", file=sys.stderr, flush=True)
        results.append(run_one(ms, args.rate, args.concurrency, seconds))
    table = markdown(results, info)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "latency.md").write_text(table)
        doc = {"machine": info, "results": [asdict(r) for r in results]}
        (args.out / "latency.json").write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
