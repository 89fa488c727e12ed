"""The token-budget suite end to end at its tiny scale, its plans, and the flags each mode gives ghproxy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.suite import workloads
from benchmarks.suite.scale import QUICK, TINY
from benchmarks.suite.stack import Mode, proxy_flags, sim_flags
from ghproxy.cli import settings_from_args
from ghsim.cli import parser as sim_parser

REPO_ROOT = Path(__file__).resolve().parents[2]


def _suite(out: Path, *args: str) -> dict[str, dict[str, Any]]:
    """Run `python -m benchmarks --tiny` as a user would; results by (workload, mode)."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", "--out", str(out), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((out / "tokens.json").read_text())
    return {f"{r['workload']} {r['mode']}": r for r in doc["results"]}


@pytest.mark.timeout(150)
def test_reads_cost_their_lower_bound_through_ghproxy_and_rotations_cost_go_again(tmp_path: Path) -> None:
    results = _suite(tmp_path, "--workloads", "prow-steady,app-rotation")

    md = (tmp_path / "tokens.md").read_text()
    for key in results:
        workload, mode = key.split()
        assert f"| {workload} | {mode} |" in md
    assert (tmp_path / "tokens.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(results) == 6

    for workload in ("prow-steady", "app-rotation"):
        direct, compat, full = (results[f"{workload} {m}"] for m in ("direct", "compat", "full"))
        for r in (direct, compat, full):
            assert r["failed"] == 0 and r["secondary_limited"] == 0, r
        # the same plan transfers the same representations whatever stands in between
        assert direct["lower_bound"] == compat["lower_bound"] == full["lower_bound"] > 0
        assert direct["charged"] > compat["charged"] >= full["charged"] >= full["lower_bound"]
        assert direct["free_304"] == 0 < full["free_304"]

    steady = results["prow-steady full"]
    assert steady["charged"] <= 1.05 * steady["lower_bound"]
    assert steady["cache_modes"].get("IMMUTABLE", 0) > 0

    plan = workloads.rotation(TINY, 1)
    compat, full = results["app-rotation compat"], results["app-rotation full"]
    assert full["charged"] <= 1.2 * full["lower_bound"]
    # Go's equalizer: a new token each rotation is a cold partition, so every polled resource is paid again
    assert compat["charged"] >= full["charged"] + (plan.rotations - 1) * (len(plan.paths) - 2)
    assert full["mints"] == plan.rotations
    assert compat["mints"] == plan.rotations * plan.components


@pytest.mark.timeout(120)
def test_herd_and_write_burst_through_ghproxy_never_hit_a_secondary_limit(tmp_path: Path) -> None:
    results = _suite(tmp_path, "--workloads", "herd,write-burst", "--modes", "full")

    herd, writes = results["herd full"], results["write-burst full"]
    for r in (herd, writes):
        assert r["secondary_limited"] == 0 and r["failed"] == 0, r
    assert herd["requests"] == TINY.herd_clients * TINY.herd_rounds * len(workloads.HERD_PATHS)
    assert herd["charged"] == herd["lower_bound"]
    # every write is sent once and charged once, after the reads of the pull requests written to
    plan = workloads.write_burst(TINY, 1)
    assert writes["writes"] == plan.writes
    assert writes["charged"] == writes["lower_bound"]


def test_plans_follow_the_seed() -> None:
    for name in workloads.WORKLOADS:
        assert workloads.build(name, QUICK, 3) == workloads.build(name, QUICK, 3)
    assert workloads.steady(QUICK, 1) != workloads.steady(QUICK, 2)
    assert workloads.write_burst(QUICK, 1) != workloads.write_burst(QUICK, 2)
    steady = workloads.steady(QUICK, 1)
    assert not steady.ticks[0].changes  # the cold start
    assert all(len(t.changes) == QUICK.changes_per_tick for t in steady.ticks[1:])
    for tick in steady.ticks:
        assert len({(c.repo, c.number) for c in tick.changes}) == len(tick.changes)
        assert all(c.number % 5 for c in tick.changes)  # ghsim closes every fifth pull request


def test_compat_is_go_ghproxy_and_full_is_the_defaults_with_scaled_limits() -> None:
    base = ["--upstream", "http://127.0.0.1:1"]
    compat = settings_from_args([*base, *proxy_flags(Mode.COMPAT, QUICK)])
    assert (compat.cross_token, compat.immutable, compat.secondary_limits) == (False, False, False)
    assert compat.app_token_reuse == "go"
    # Prow's documented example, 10x faster like everything else at the quick scale
    assert compat.get_throttling_time_ms == 30 and compat.throttling_time_ms == 90
    assert compat.throttling_max_delay_s == 4.5 and compat.concurrency == 1000

    full = settings_from_args([*base, *proxy_flags(Mode.FULL, QUICK)])
    defaults = settings_from_args(base)
    assert (full.cross_token, full.immutable, full.secondary_limits) == (True, True, True)
    assert full.app_token_reuse == defaults.app_token_reuse
    assert full.points_per_minute == 9000 and full.mutation_interval_s == 0.1

    sim = sim_parser().parse_args(sim_flags(QUICK, 4, 1))
    assert sim.points_per_minute == 9000 and sim.min_mutation_interval_s == 0.1
    with pytest.raises(ValueError):
        proxy_flags(Mode.DIRECT, QUICK)
