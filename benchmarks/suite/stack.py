"""The processes of one run: a fresh ghsim, none or several ghproxy processes (with a private Redis), torn down after.

Each run of a workload in a mode gets its own ghsim and its own proxies with empty temporary caches, so runs are
independent. The flags each mode gives ghproxy are computed by `proxy_flags` (pure).
"""

from __future__ import annotations

import enum
import os
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks._redis import redis_server
from benchmarks.latency import console, free_port
from benchmarks.suite.scale import Scale

# ghsim's primary limit is raised out of the way: runs compress hours of traffic, and the suite counts the tokens
# spent rather than waiting for an hourly window.
CORE_LIMIT = 100_000_000
# Prow's documented at-scale throttling example (docs.prow.k8s.io, ghproxy's "additional throttling algorithm"):
# --get-throttling-time-ms=300 --throttling-time-ms=900 --throttling-time-v4-ms=850
# --throttling-max-delay-duration-seconds=45 --throttling-max-delay-duration-v4-seconds=110 --concurrency=1000
GO_GET_SPACING_MS = 300.0
GO_WRITE_SPACING_MS = 900.0
GO_V4_SPACING_MS = 850.0
GO_MAX_DELAY_S = 45.0
GO_MAX_DELAY_V4_S = 110.0
GO_CONCURRENCY = 1000
DEFAULT_MAX_DELAY_S = 30.0
# GitHub's answers take tens of milliseconds; scaled with everything else, so the number of requests in flight (what
# GitHub's 100-concurrent limit counts) is the same at every scale.
UPSTREAM_LATENCY_MS = 50.0
UPSTREAM_JITTER_MS = 10.0
START_TIMEOUT_S = 20.0


class Mode(enum.StrEnum):
    DIRECT = "direct"  # no proxy
    COMPAT = "compat"  # ghproxy configured as Go ghproxy behaves
    FULL = "full"  # ghproxy's defaults


MODES = tuple(Mode)


def _num(value: float) -> str:
    return f"{value:.6g}"


def sim_flags(scale: Scale, repos: int, seed: int, token_ttl_s: int | None = None) -> list[str]:
    """ghsim's flags: GitHub's secondary limits, scaled by `speed`; the primary limit out of the way."""
    flags = ["--seed", str(seed), "--repos", str(repos), "--core-limit", str(CORE_LIMIT)]
    flags += ["--points-per-minute", str(round(900 * scale.speed))]
    flags += ["--min-mutation-interval-s", _num(1.0 / scale.speed)]
    flags += ["--secondary-retry-after-s", str(max(1, round(60 / scale.speed)))]
    flags += ["--latency-ms", _num(UPSTREAM_LATENCY_MS / scale.speed)]
    flags += ["--jitter-ms", _num(UPSTREAM_JITTER_MS / scale.speed)]
    if token_ttl_s is not None:
        flags += ["--installation-token-ttl-s", str(token_ttl_s)]
    return flags


def proxy_flags(mode: Mode, scale: Scale, app_token_min_remaining_s: float | None = None) -> list[str]:
    """What ghproxy is told in each mode, on top of where to listen and what to cache in.

    compat: partitioned, every reuse revalidated, no cross-token reuse, nothing served without asking, no model of
    GitHub's secondary limits but Go's fixed spacing (Prow's documented example), Go's app token behaviour.
    full: the defaults; the limits it models are scaled like ghsim's.
    """
    if mode is Mode.DIRECT:
        raise ValueError("direct runs have no proxy")
    s = scale.speed
    flags = ["--points-per-minute", str(round(900 * s)), "--mutation-interval-seconds", _num(1.0 / s)]
    if app_token_min_remaining_s is not None:
        flags += ["--app-token-min-remaining-seconds", _num(app_token_min_remaining_s)]
    if mode is Mode.FULL:
        return [*flags, "--throttling-max-delay-duration-seconds", _num(DEFAULT_MAX_DELAY_S / s)]
    return [
        *flags,
        "--cross-token=false",
        "--immutable=false",
        "--secondary-limits=false",
        "--app-token-reuse=go",
        "--get-throttling-time-ms",
        _num(GO_GET_SPACING_MS / s),
        "--throttling-time-ms",
        _num(GO_WRITE_SPACING_MS / s),
        "--throttling-time-v4-ms",
        _num(GO_V4_SPACING_MS / s),
        "--throttling-max-delay-duration-seconds",
        _num(GO_MAX_DELAY_S / s),
        "--throttling-max-delay-duration-v4-seconds",
        _num(GO_MAX_DELAY_V4_S / s),
        "--concurrency",
        str(GO_CONCURRENCY),
    ]


@dataclass(frozen=True, slots=True)
class Stack:
    """Where the load generator sends requests (`bases`), and ghsim's own address for accounting and changes."""

    sim: str
    bases: tuple[str, ...]


class StartError(RuntimeError):
    """A process of the stack did not come up; the message holds the end of its log."""


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def _process(args: list[str], ready_url: str, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ready(ready_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise StartError(f"{' '.join(args[:3])} did not start ({ready_url}):\n{tail}")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def stack(
    mode: Mode,
    scale: Scale,
    *,
    repos: int,
    seed: int,
    replicas: int = 1,
    token_ttl_s: int | None = None,
    app_token_min_remaining_s: float | None = None,
) -> Iterator[Stack]:
    """Start ghsim and, unless direct, `replicas` ghproxy processes (sharing a private Redis when more than one)."""
    with ExitStack() as stack_, tempfile.TemporaryDirectory(prefix="ghp-suite-") as tmp:
        work = Path(tmp)
        sim_port = free_port()
        sim = f"http://127.0.0.1:{sim_port}"
        sim_args = [*console("ghsim"), "--port", str(sim_port), *sim_flags(scale, repos, seed, token_ttl_s)]
        stack_.enter_context(_process(sim_args, sim + "/_sim/ledger", work / "ghsim.log"))
        if mode is Mode.DIRECT:
            yield Stack(sim, (sim,))
            return
        shared: list[str] = []
        if replicas > 1:
            address, _ = stack_.enter_context(redis_server())
            shared = ["--redis-address", address]
            key = work / "app-token.key"
            key.write_bytes(os.urandom(32))
            shared += ["--app-token-key-file", str(key)]
        bases = []
        for i in range(replicas):
            port = free_port()
            cache = work / f"cache-{i}"
            args = [*console("ghproxy"), "--host", "127.0.0.1", "--port", str(port), "--upstream", sim]
            args += ["--metrics-port", "0", "--health-port", "0", "--log-level", "error", "--cache-dir", str(cache)]
            args += [*shared, *proxy_flags(mode, scale, app_token_min_remaining_s)]
            stack_.enter_context(_process(args, f"http://127.0.0.1:{port}/metrics", work / f"ghproxy-{i}.log"))
            bases.append(f"http://127.0.0.1:{port}")
        yield Stack(sim, tuple(bases))
