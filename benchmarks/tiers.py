"""Cache tiers on the hit path, at the store level and through the proxy, in one run.

    python -m benchmarks.tiers                # full: up to 1M entries on disk and in Redis, 10 s proxy phases
    python -m benchmarks.tiers --quick        # up to 10k entries, 3 s proxy phases (under 2 minutes)
    python -m benchmarks.tiers --out DIR      # also write DIR/tiers.json and DIR/tiers.md

Store level, per tier (memory, disk, Redis), with N entries already stored: `get()` of random stored keys, one
coroutine at a time and 32 concurrent, as operations/s and latency p50/p99; the `set()` rate while filling (32
concurrent, timed over the first 20k set() calls of each level: past them disk and Redis levels are written in
bulk, the same bytes under the same keys, as 1M disk set() calls alone would take ten minutes); and the bytes each
entry costs (memory: the tier's own accounting and this process's RSS growth; Redis:
`INFO memory` used_memory growth; disk: the directory's allocated bytes). Entries look like GitHub JSON answers:
ETag, Cache-Control, two Vary, Content-Type, Last-Modified and X-RateLimit-* headers, 2-6 KB seeded JSON bodies.
Levels are cumulative: the store filled to 1k is measured, then filled on to 10k, and so on.

Through the proxy: ghsim and ghproxy as their own processes (the console scripts), the memory, disk and Redis tiers
each on the hit path: ~200 distinct (token, path) keys are warmed, then 32 clients in a closed loop; requests/s and
the latency of REVALIDATED answers (a cache hit plus a conditional request upstream answered 304). The memory tier
cannot be switched off, so the disk and Redis configurations shrink it, to 1 MB (it then still holds part of the
~2 MB working set) and to 0.01 MB (every entry is over its quarter-of-the-budget limit, so it holds none); the
proxy's own tier counters say which tier answered each lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiohttp
import redis

from benchmarks._redis import redis_server
from benchmarks.latency import console, free_port, machine, process
from ghproxy.cache.base import Store
from ghproxy.cache.disk import DiskStore, directory_bytes
from ghproxy.cache.memory import MemoryStore
from ghproxy.cache.redis import RedisStore
from ghproxy.entry import Entry, dumps
from ghproxy.keys import partition_of

MiB = 1024 * 1024
GiB = 1024 * MiB
MEMORY_DEFAULT_BYTES = 256 * MiB  # ghproxy's default --memory-cache-mb
DISK_CAP_BYTES = 32 * GiB  # far above 1M entries: nothing is culled while measuring
CONCURRENCY = 32
FILL_BATCH = 10_000
SET_TIMED = 20_000  # set() calls timed per level; the rest of a level may be bulk-loaded
SAMPLE_KEYS = 100_000
PARTITIONS = 256  # tokens the stored entries are spread over
TEMPLATES = 64
SEED = 1

Bulk = Callable[[list[tuple[str, Entry]]], Awaitable[None]]  # stores a batch as set() would, faster


@dataclass
class GetStats:
    ops: int
    ops_per_s: float
    p50_us: float
    p99_us: float
    misses: int


@dataclass
class Level:
    tier: str
    n: int
    set_per_s: float  # over the entries added since the previous level, CONCURRENCY coroutines
    sequential: GetStats
    concurrent: GetStats
    body_bytes: float  # mean over the N stored entries
    serialised_bytes: float  # mean dumps() length: what disk and Redis store per value
    accounted_bytes: float | None  # memory tier: bytes_used / N
    measured_bytes: float  # memory: RSS growth / N; Redis: used_memory growth / N; disk: directory bytes / N
    measured_by: str


@dataclass
class ProxyResult:
    config: str
    flags: list[str]
    keys: int
    rps: float
    requests: int
    errors: int
    revalidated: int
    p50_ms: float
    p99_ms: float
    modes: dict[str, int]
    tier_gets: dict[str, int] = field(default_factory=dict)  # "memory hit", "disk hit", ... during the loop


# ---------------------------------------------------------------------------------------------------- entries


WORDS = (
    "the",
    "fix",
    "for",
    "flaky",
    "retry",
    "when",
    "token",
    "expires",
    "cache",
    "proxy",
    "merge",
    "branch",
    "review",
    "comment",
    "label",
    "needs",
    "rebase",
    "ci",
    "failure",
    "passes",
    "approve",
    "lgtm",
    "hold",
    "kind",
    "bug",
    "feature",
    "area",
    "test",
    "docs",
    "release",
    "note",
    "none",
    "cherry",
    "pick",
)


def _template(rng: random.Random, size: int) -> bytes:
    """A GitHub-issue-like JSON object of about `size` bytes, without its leading `{` (the id goes there)."""
    number = rng.randrange(1, 5000)
    base = f"https://api.github.com/repos/org{rng.randrange(20)}/repo{rng.randrange(50)}/issues/{number}"
    user = {"login": f"user{rng.randrange(10**5)}", "id": rng.randrange(10**8), "type": "User", "site_admin": False}
    user |= {"avatar_url": f"https://avatars.githubusercontent.com/u/{user['id']}?v=4", "url": base + "/user"}
    doc: dict[str, Any] = {
        "node_id": "I_kwDO"
        + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") for _ in range(14)),
        "url": base,
        "repository_url": base.rsplit("/issues/", 1)[0],
        "labels_url": base + "/labels{/name}",
        "comments_url": base + "/comments",
        "events_url": base + "/events",
        "html_url": base.replace("api.github.com/repos", "github.com"),
        "number": number,
        "title": " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 12))),
        "user": user,
        "labels": [{"name": rng.choice(WORDS), "color": f"{rng.randrange(1 << 24):06x}"} for _ in range(3)],
        "state": rng.choice(("open", "closed")),
        "locked": False,
        "comments": rng.randrange(40),
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-06-01T12:34:56Z",
        "author_association": "MEMBER",
        "body": "",
    }
    text = json.dumps(doc, separators=(",", ":"))
    words: list[str] = []
    while len(text) + sum(len(w) + 1 for w in words) < size:
        words.append(rng.choice(WORDS))
    doc["body"] = " ".join(words)
    return json.dumps(doc, separators=(",", ":")).encode()[1:]


class Entries:
    """Entry i and its key, the same in every run; each entry has its own body and header objects."""

    def __init__(self, seed: int = SEED) -> None:
        rng = random.Random(seed)
        self.templates = [_template(rng, rng.randrange(2048, 6144)) for _ in range(TEMPLATES)]
        self.partitions = [
            hashlib.sha256(f"auth\0token bench-{p}".encode()).hexdigest()[:32] for p in range(PARTITIONS)
        ]

    def key(self, i: int) -> str:
        digest = hashlib.sha256(f"{self.partitions[i % PARTITIONS]}\nGET\n/repos/org0/repo0/issues/{i}\n\n".encode())
        return f"{self.partitions[i % PARTITIONS]}:{digest.hexdigest()}"

    def entry(self, i: int) -> Entry:
        body = b'{"id":%d,' % (1_000_000_000 + i) + self.templates[i % TEMPLATES]
        etag = hashlib.sha256(body).hexdigest()
        stored = 1_700_000_000.0 + i
        headers = (
            ("Cache-Control", "private, max-age=60, s-maxage=60"),
            ("Content-Type", "application/json; charset=utf-8"),
            ("ETag", f'W/"{etag}"'),
            ("Last-Modified", formatdate(stored - 86400 - i % 7919, usegmt=True)),
            ("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP"),
            ("Vary", "Accept-Encoding, Accept, X-Requested-With"),
            ("X-RateLimit-Limit", "5000"),
            ("X-RateLimit-Remaining", str(4999 - i % 5000)),
            ("X-RateLimit-Reset", str(int(stored) + 3600)),
            ("X-RateLimit-Used", str(1 + i % 5000)),
            ("X-RateLimit-Resource", "core"),
        )
        return Entry(status=200, headers=headers, body=body, stored_at=stored)


# ---------------------------------------------------------------------------------------------------- store level


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def stats(latencies_ns: list[int], elapsed: float, misses: int) -> GetStats:
    if len(latencies_ns) < 2:
        return GetStats(len(latencies_ns), len(latencies_ns) / elapsed, float("nan"), float("nan"), misses)
    qs = statistics.quantiles(latencies_ns, n=100, method="inclusive")
    return GetStats(len(latencies_ns), len(latencies_ns) / elapsed, qs[49] / 1e3, qs[98] / 1e3, misses)


async def fill(store: Store, entries: Entries, lo: int, hi: int, totals: list[int], bulk: Bulk | None) -> float:
    """Store entries lo..hi-1; returns set()/s with CONCURRENCY coroutines over the first SET_TIMED of them.

    Past SET_TIMED entries the rest go through `bulk` (the same bytes under the same keys, written in bulk) when the
    tier has one: disk `set()` commits one SQLite transaction per entry, so 1M of them would take most of the run.
    """
    spent, timed = 0.0, 0
    for start in range(lo, hi, FILL_BATCH):
        batch = [(entries.key(i), entries.entry(i)) for i in range(start, min(hi, start + FILL_BATCH))]
        for _, e in batch:
            totals[0] += len(e.body)
            totals[1] += len(dumps(e))
        if bulk is not None and start - lo >= SET_TIMED:
            await bulk(batch)
            continue
        items = iter(batch)

        async def worker(items: Iterator[tuple[str, Entry]] = items) -> None:
            for key, entry in items:
                await store.set(key, entry)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        spent += time.perf_counter() - t0
        timed += len(batch)
    return timed / spent if spent else float("nan")


async def gets(store: Store, keys: list[str], seconds: float, concurrency: int) -> GetStats:
    """get() of `keys` in turn (random stored keys) for `seconds`, from `concurrency` coroutines."""
    latencies: list[int] = []
    misses = 0
    deadline = time.perf_counter() + seconds
    clock = time.perf_counter_ns

    async def worker(offset: int) -> None:
        nonlocal misses
        i = offset * 7919
        while time.perf_counter() < deadline:
            key = keys[i % len(keys)]
            t0 = clock()
            entry = await store.get(key)
            latencies.append(clock() - t0)
            if entry is None:
                misses += 1
            i += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return stats(latencies, time.perf_counter() - started, misses)


async def bench_tier(
    tier: str,
    store: Store,
    levels: list[int],
    entries: Entries,
    seconds: float,
    measure: Callable[[int], tuple[float | None, float]],
    measured_by: str,
    bulk: Bulk | None = None,
) -> list[Level]:
    results = []
    totals = [0, 0]
    stored = 0
    rng = random.Random(SEED)
    try:
        for n in levels:
            print(f"{tier}: filling to {n:,} entries ...", file=sys.stderr, flush=True)
            set_rate = await fill(store, entries, stored, n, totals, bulk)
            stored = n
            accounted, measured = measure(n)
            keys = [entries.key(rng.randrange(n)) for _ in range(min(SAMPLE_KEYS, 4 * n))]
            print(f"{tier}: {n:,} entries: get() for 2 x {seconds:g} s ...", file=sys.stderr, flush=True)
            await gets(store, keys[:1000], 0.2, 1)  # discarded: connections and threads warm
            sequential = await gets(store, keys, seconds, 1)
            concurrent = await gets(store, keys, seconds, CONCURRENCY)
            mean_body, mean_serialised = totals[0] / n, totals[1] / n
            results.append(
                Level(
                    tier,
                    n,
                    set_rate,
                    sequential,
                    concurrent,
                    mean_body,
                    mean_serialised,
                    accounted,
                    measured,
                    measured_by,
                )
            )
            del keys
    finally:
        await store.close()
    return results


def memory_levels(entries: Entries, limit: int, quick: bool) -> list[int]:
    """1k, 10k and (full run) the most entries the default 256 MB memory tier holds, rounded down to 1000."""
    if quick:
        return [1_000, 10_000]
    total, n = 0, 0
    while True:
        total += entries.entry(n).size
        if total > limit:
            break
        n += 1
    return [1_000, 10_000, n // 1000 * 1000]


def memory_tier(entries: Entries, args: Any) -> list[Level]:
    """Run first, while this process is small, so its RSS growth is the tier's."""
    gc.collect()
    store = MemoryStore(MEMORY_DEFAULT_BYTES)
    rss0 = rss_bytes()

    def measure(n: int) -> tuple[float | None, float]:
        gc.collect()
        return store.bytes_used / n, (rss_bytes() - rss0) / n

    levels = memory_levels(entries, MEMORY_DEFAULT_BYTES, args.quick)
    return asyncio.run(bench_tier("memory", store, levels, entries, args.get_seconds, measure, "RSS"))


def disk_tier(entries: Entries, directory: Path, levels: list[int], args: Any) -> list[Level]:
    store = DiskStore(directory, DISK_CAP_BYTES)

    def transaction(batch: list[tuple[str, Entry]]) -> None:
        # What DiskStore._set writes, in one transaction; reaches into the store for its diskcache.Cache.
        with store._cache.transact():
            for key, entry in batch:
                store._cache.set(key, dumps(entry), expire=store.default_ttl, tag=partition_of(key))

    async def bulk(batch: list[tuple[str, Entry]]) -> None:
        await store._run(transaction, batch)

    def measure(n: int) -> tuple[float | None, float]:
        return None, directory_bytes(directory) / n

    try:
        return asyncio.run(bench_tier("disk", store, levels, entries, args.get_seconds, measure, "directory", bulk))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def redis_tier(entries: Entries, url: str, client: redis.Redis, levels: list[int], args: Any) -> list[Level]:
    client.flushall()
    used0 = int(client.info("memory")["used_memory"])

    def measure(n: int) -> tuple[float | None, float]:
        return None, (int(client.info("memory")["used_memory"]) - used0) / n

    async def run() -> list[Level]:
        store = RedisStore(url, socket_timeout=5.0, socket_connect_timeout=5.0)
        px = math.ceil(store.default_ttl * 1000)

        async def bulk(batch: list[tuple[str, Entry]]) -> None:
            # What RedisStore.set writes, pipelined.
            pipe = client.pipeline(transaction=False)
            for key, entry in batch:
                pipe.set(store.redis_key(key), dumps(entry), px=px)
            pipe.execute()

        return await bench_tier("redis", store, levels, entries, args.get_seconds, measure, "used_memory", bulk)

    try:
        return asyncio.run(run())
    finally:
        client.flushall()


def store_level(entries: Entries, root: Path, redis_url: str, redis_client: redis.Redis, args: Any) -> list[Level]:
    levels = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    results = memory_tier(entries, args)
    gc.collect()
    results += disk_tier(entries, root / "disk-store", levels, args)
    results += redis_tier(entries, redis_url, redis_client, levels, args)
    return results


# ---------------------------------------------------------------------------------------------------- proxy


def proxy_keys() -> list[tuple[str, str]]:
    """200 (token, path) pairs: 4 tokens x (20 pulls + 15 + 15 issues); pulls are ~18 KB, issues ~4.5 KB."""
    paths = [f"/repos/org0/repo0/pulls/{n}" for n in range(1, 21)]
    paths += [f"/repos/org0/repo{r}/issues/{n}" for r in (0, 1) for n in range(1, 16)]
    return [(f"token bench-{t}", path) for t in range(4) for path in paths]


TIER_OPS = re.compile(r"^ghproxy_cache_tier_operations_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)


def tier_counts(proxy_url: str) -> dict[str, float]:
    with urllib.request.urlopen(proxy_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    counts: dict[str, float] = {}
    for m in TIER_OPS.finditer(text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"]))
        if labels.get("op") == "get":
            counts[f"{labels['tier']} {labels['result']}"] = float(m["value"])
    return counts


async def warm(base: str, keys: list[tuple[str, str]]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            for token, path in keys:
                async with session.get(base + path, headers={"Authorization": token}) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"warm-up GET {path} answered {resp.status}")


async def closed_loop(
    base: str, keys: list[tuple[str, str]], seconds: float
) -> tuple[float, int, int, list[float], dict[str, int]]:
    """CONCURRENCY clients, each sending a random key's GET when its last answer is read."""
    latencies: list[float] = []
    modes: dict[str, int] = {}
    done = errors = 0
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers={"Accept-Encoding": "gzip"}) as session:
        deadline = time.perf_counter() + seconds

        async def client(k: int) -> None:
            nonlocal done, errors
            rng = random.Random(k)
            while time.perf_counter() < deadline:
                token, path = keys[rng.randrange(len(keys))]
                t0 = time.perf_counter()
                try:
                    async with session.get(base + path, headers={"Authorization": token}) as resp:
                        await resp.read()
                        mode = resp.headers.get("X-Cache-Mode", "-")
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    errors += 1
                    continue
                elapsed = time.perf_counter() - t0
                modes[mode] = modes.get(mode, 0) + 1
                if not ok:
                    errors += 1
                    continue
                done += 1
                if mode == "REVALIDATED":
                    latencies.append(elapsed)

        started = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(CONCURRENCY)))
        return done / (time.perf_counter() - started), done, errors, latencies, modes


def proxy_level(root: Path, redis_url: str, redis_client: redis.Redis, seconds: float) -> list[ProxyResult]:
    keys = proxy_keys()
    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    sim_args = [*console("ghsim"), "--port", str(sim_port), "--no-secondary-limits", "--core-limit", "100000000"]
    sim_args += ["--prs-per-repo", "50", "--issues-per-repo", "50"]
    configs = [
        ("memory", ["--cache-dir", ""]),
        ("disk (memory 1 MB)", ["--memory-cache-mb", "1", "--cache-dir", "{dir}"]),
        ("disk (memory 0.01 MB)", ["--memory-cache-mb", "0.01", "--cache-dir", "{dir}"]),
        ("redis (memory 1 MB)", ["--memory-cache-mb", "1", "--cache-dir", "", "--redis-address", redis_url]),
        ("redis (memory 0.01 MB)", ["--memory-cache-mb", "0.01", "--cache-dir", "", "--redis-address", redis_url]),
    ]
    results = []
    with process(sim_args, sim_url + "/_sim/ledger"):
        for i, (name, flags) in enumerate(configs):
            print(f"proxy, {name}: warm {len(keys)} keys, then {seconds:g} s ...", file=sys.stderr, flush=True)
            redis_client.flushall()
            cache_dir = root / f"proxy-cache-{i}"
            flags = [f.replace("{dir}", str(cache_dir)) for f in flags]
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            proxy_args = [*console("ghproxy"), "--host", "127.0.0.1", "--port", str(port), "--upstream", sim_url]
            proxy_args += ["--metrics-port", "0", "--health-port", "0", "--log-level", "error", *flags]
            proxy_args.append("--secondary-limits=false")  # ghproxy's own model of them would pace the loop
            with process(proxy_args, url + "/metrics"):
                asyncio.run(warm(url, keys))
                asyncio.run(closed_loop(url, keys, 1.0))  # discarded: pools open, caches settled
                before = tier_counts(url)
                rps, done, errors, latencies, modes = asyncio.run(closed_loop(url, keys, seconds))
                after = tier_counts(url)
            shutil.rmtree(cache_dir, ignore_errors=True)
            gets_by_tier = {k: int(after[k] - before.get(k, 0)) for k in after if after[k] - before.get(k, 0) > 0}
            qs = (
                statistics.quantiles(latencies, n=100, method="inclusive")
                if len(latencies) > 1
                else [float("nan")] * 99
            )
            results.append(
                ProxyResult(
                    config=name,
                    flags=flags,
                    keys=len(keys),
                    rps=rps,
                    requests=done,
                    errors=errors,
                    revalidated=len(latencies),
                    p50_ms=qs[49] * 1e3,
                    p99_ms=qs[98] * 1e3,
                    modes=modes,
                    tier_gets=gets_by_tier,
                )
            )
    return results


# ---------------------------------------------------------------------------------------------------- report


def markdown(levels: list[Level], proxied: list[ProxyResult], info: dict[str, str], wall_s: float) -> str:
    lines = [
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), Python {info['python']}; "
        f"one run of {wall_s / 60:.1f} min. Store level: this process drives the store (and redis-server runs "
        "beside it); through the proxy: load generator, ghsim, ghproxy (and redis-server) share the machine.",
        "",
        f"Store level, hit path: `get()` of random stored keys, one coroutine and {CONCURRENCY} concurrent; "
        f"`set()` rate while filling ({CONCURRENCY} concurrent, over the first {SET_TIMED:,} `set()` calls of each "
        "level; the rest of a larger disk or Redis level is written in bulk).",
        "",
        f"| tier | entries | get/s (1) | p50 / p99 (1) | get/s ({CONCURRENCY}) | p50 / p99 ({CONCURRENCY}) | misses "
        "| set/s while filling |",
        "|---|---:|---:|---|---:|---|---:|---:|",
    ]
    for lv in levels:
        s, c = lv.sequential, lv.concurrent
        lines.append(
            f"| {lv.tier} | {lv.n:,} | {s.ops_per_s:,.0f} | {s.p50_us:,.1f} / {s.p99_us:,.1f} µs | {c.ops_per_s:,.0f} | "
            f"{c.p50_us:,.1f} / {c.p99_us:,.1f} µs | {s.misses + c.misses} | {lv.set_per_s:,.0f} |"
        )
    lines += [
        "",
        "Bytes per stored entry, next to the mean body and the mean serialised entry (`entry.dumps`: what disk and "
        "Redis store as the value).",
        "",
        "| tier | entries | body | serialised | tier's own accounting | measured | measured as |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    what = {
        "RSS": "process RSS growth / N",
        "used_memory": "Redis used_memory growth / N",
        "directory": "directory bytes / N",
    }
    for lv in levels:
        accounted = f"{lv.accounted_bytes:,.0f} B" if lv.accounted_bytes is not None else "-"
        lines.append(
            f"| {lv.tier} | {lv.n:,} | {lv.body_bytes:,.0f} B | {lv.serialised_bytes:,.0f} B | {accounted} | "
            f"{lv.measured_bytes:,.0f} B | {what[lv.measured_by]} |"
        )
    lines += [
        "",
        f"Through the proxy, hit path: {proxied[0].keys if proxied else 0} distinct keys warmed, then {CONCURRENCY} "
        "clients in a closed loop; latency of REVALIDATED answers (cache hit plus a 304 from ghsim); tier lookups "
        "from ghproxy's `ghproxy_cache_tier_operations_total`.",
        "",
        "| configuration | req/s | REVALIDATED p50 / p99 | answers by X-Cache-Mode | errors | tier lookups during the loop |",
        "|---|---:|---|---:|---:|---|",
    ]
    for r in proxied:
        share = ", ".join(f"{mode} {count:,}" for mode, count in sorted(r.modes.items(), key=lambda kv: -kv[1]))
        tiers = ", ".join(f"{k}: {v:,}" for k, v in sorted(r.tier_gets.items())) or "-"
        lines.append(
            f"| {r.config} | {r.rps:,.0f} | {r.p50_ms:.2f} / {r.p99_ms:.2f} ms | {share} | {r.errors} | {tiers} |"
        )
    return "\n".join(lines) + "\n"


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so child processes and temporary directories are cleaned up either way."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tiers", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="up to 10k entries, 1 s get phases, 3 s proxy phases")
    p.add_argument("--get-seconds", type=float, default=None, help="length of each store-level get() phase")
    p.add_argument("--seconds", type=float, default=None, help="length of each proxy closed-loop phase")
    p.add_argument("--skip-store", action="store_true", help="only the through-the-proxy part")
    p.add_argument("--skip-proxy", action="store_true", help="only the store-level part")
    p.add_argument("--out", type=Path, default=None, help="directory for tiers.json and tiers.md")
    args = p.parse_args(argv)
    args.get_seconds = args.get_seconds or (1.0 if args.quick else 3.0)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    info = machine()
    started = time.monotonic()
    levels: list[Level] = []
    proxied: list[ProxyResult] = []
    with terminate_as_interrupt(), ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="ghp-bench-tiers-"))
        stack.callback(shutil.rmtree, root, True)
        redis_url, redis_client = stack.enter_context(redis_server())
        if not args.skip_store:
            levels = store_level(Entries(), root, redis_url, redis_client, args)
        if not args.skip_proxy:
            proxied = proxy_level(root, redis_url, redis_client, seconds)
    wall = time.monotonic() - started
    table = markdown(levels, proxied, info, wall)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "tiers.md").write_text(table)
        doc = {
            "machine": info,
            "wall_seconds": wall,
            "store": [asdict(lv) for lv in levels],
            "proxy": [asdict(r) for r in proxied],
        }
        (args.out / "tiers.json").write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
