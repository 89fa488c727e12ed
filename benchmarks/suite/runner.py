"""One workload in one mode: start the stack, replay the plan, read ghsim's accounting, tear everything down.

The replay is paced by the plan (rounds start at fixed times, or at once when the previous one ran late) and every
change ghsim makes comes from the plan through `/_sim/mutate`, so the tokens a run spends depend on the seed only.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

from benchmarks.latency import percentiles
from benchmarks.suite import apps, prow
from benchmarks.suite.client import Client, bounded, session
from benchmarks.suite.report import RunResult
from benchmarks.suite.scale import Scale
from benchmarks.suite.stack import Mode, Stack, stack
from benchmarks.suite.timeline import Mutator, Progress, pace
from benchmarks.suite.workloads import (
    EVENTS,
    HERD_TOKEN,
    WRITE_TOKEN,
    HerdPlan,
    RotationPlan,
    SteadyPlan,
    Workload,
    WritePlan,
)

APP_TOKEN_MIN_REMAINING_S = 1.0


def steps(workload: Workload) -> int:
    """Progress steps of a workload (rounds, or writes)."""
    plan = workload.plan
    if isinstance(plan, SteadyPlan):
        return len(plan.ticks)
    if isinstance(plan, HerdPlan):
        return len(plan.rounds)
    if isinstance(plan, WritePlan):
        return plan.writes
    return plan.rotations


async def steady(client: Client, mutator: Mutator, plan: SteadyPlan, progress: Progress) -> None:
    """prow-steady: per round, changes land, hook and an external plugin react, tide syncs."""
    start = time.monotonic()
    for tick in plan.ticks:
        await pace(start, tick.index, plan.tick_s)
        for change in tick.changes:
            await mutator.apply(change)
        route = f"tick{tick.index}"
        bursts: dict[tuple[str, int], tuple[str, ...]] = {}
        for change in tick.changes:
            key = (change.repo, change.number)
            bursts[key] = bursts.get(key, ()) + EVENTS[change.kind]
        await bounded(
            (prow.hook(client, repo, n, events, route) for (repo, n), events in sorted(bursts.items())),
            prow.CONCURRENCY,
        )
        pushed = sorted({(c.repo, c.number) for c in tick.changes if c.kind == "push_pr"})
        await bounded((prow.external_plugin(client, repo, n, route) for repo, n in pushed), prow.CONCURRENCY)
        await prow.tide(client, plan.repos, route)
        progress(1)


async def herd(client: Client, mutator: Mutator, plan: HerdPlan, progress: Progress) -> None:
    """herd: every client asks for the same resources at once, each in its own order."""
    start = time.monotonic()
    for index, round_ in enumerate(plan.rounds):
        await pace(start, index, plan.round_s)
        for change in round_.changes:
            await mutator.apply(change)

        async def one(order: tuple[int, ...]) -> None:
            for i in order:
                await client.get(HERD_TOKEN, plan.paths[i])

        await asyncio.gather(*(one(order) for order in round_.orders))
        progress(1)


async def write_burst(client: Client, plan: WritePlan, progress: Progress) -> None:
    """write-burst: every writer reads its pull requests' head SHAs, then all send their writes at once."""
    targets = sorted({(w.repo, w.number) for writes in plan.writers for w in writes})
    read = await bounded((client.get(WRITE_TOKEN, f"/repos/{r}/pulls/{n}") for r, n in targets), prow.CONCURRENCY)
    heads = {t: pr["head"]["sha"] for t, pr in zip(targets, read, strict=True) if pr is not None}

    async def writer(index: int) -> None:
        for k, w in enumerate(plan.writers[index]):
            issue = f"/repos/{w.repo}/issues/{w.number}"
            if w.kind == "label":
                await client.request(WRITE_TOKEN, "POST", f"{issue}/labels", body={"labels": [w.label]})
            elif w.kind == "comment":
                await client.request(WRITE_TOKEN, "POST", f"{issue}/comments", body={"body": f"/retest ({index}.{k})"})
            elif (w.repo, w.number) in heads:
                sha = heads[(w.repo, w.number)]
                status = {"state": "success", "context": f"bench/job-{index}", "description": "Job succeeded."}
                await client.request(WRITE_TOKEN, "POST", f"/repos/{w.repo}/statuses/{sha}", body=status)
            progress(1)

    await asyncio.gather(*(writer(i) for i in range(len(plan.writers))))


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def _app_representations(sim: str) -> int:
    """Representations only the app's JWT was answered (the proxy confirming a caller's JWT): one per path.

    They are not part of what the reading tokens had to transfer, so they come off ghsim's distinct count.
    """
    log = _get_json(sim + "/_sim/requests")["requests"]
    return len(
        {r["path"] for r in log if r["token"].startswith("app:") and r["method"] == "GET" and r["status"] == 200}
    )


def _account(sim: str) -> dict[str, Any]:
    """ghsim's ledger summed over the reading and writing tokens, the app's JWT side apart."""
    ledger = _get_json(sim + "/_sim/ledger")
    tokens: dict[str, dict[str, int]] = ledger["tokens"]
    readers = [c for t, c in tokens.items() if not t.startswith("app:")]
    app = [c for t, c in tokens.items() if t.startswith("app:")]
    every = list(tokens.values())
    distinct: int = _get_json(sim + "/_sim/representations")["distinct"]
    if app:
        distinct -= _app_representations(sim)
    return {
        "charged": sum(c["charged"] for c in readers),
        "free_304": sum(c["free_304"] for c in every),
        "secondary_limited": sum(c["secondary_limited"] for c in every),
        "primary_limited": sum(c["primary_limited"] for c in every),
        "upstream_requests": sum(c["requests"] for c in every),
        "app_charged": sum(c["charged"] for c in app),
        "mints": sum(ledger.get("mints", {}).values()),
        "distinct": distinct,
    }


async def _replay(workload: Workload, st: Stack, progress: Progress) -> tuple[Client, float]:
    plan = workload.plan
    async with session() as http:
        client = Client(http, st.bases, serialize_identical=not isinstance(plan, HerdPlan))
        mutator = Mutator(http, st.sim)
        started = time.monotonic()
        if isinstance(plan, SteadyPlan):
            await steady(client, mutator, plan, progress)
        elif isinstance(plan, HerdPlan):
            await herd(client, mutator, plan, progress)
        elif isinstance(plan, WritePlan):
            await write_burst(client, plan, progress)
        else:
            await apps.rotation(client, mutator, st.sim, plan, progress)
        return client, time.monotonic() - started


def run(workload: Workload, mode: Mode, scale: Scale, seed: int, progress: Progress = lambda n: None) -> RunResult:
    """Run one workload in one mode on a fresh stack; the result holds ghsim's accounting and the clients' view."""
    rotation = isinstance(workload.plan, RotationPlan)
    ttl = workload.plan.ttl_s if isinstance(workload.plan, RotationPlan) else None
    with stack(
        mode,
        scale,
        repos=workload.repos,
        seed=seed,
        replicas=workload.replicas,
        token_ttl_s=ttl,
        app_token_min_remaining_s=APP_TOKEN_MIN_REMAINING_S if rotation else None,
    ) as st:
        client, seconds = asyncio.run(_replay(workload, st, progress))
        account = _account(st.sim)
    rec = client.recorder
    latency = percentiles(rec.latencies, rec.failed)
    writes = workload.plan.writes if isinstance(workload.plan, WritePlan) else 0
    return RunResult(
        workload=workload.name,
        mode=mode.value,
        summary=workload.summary,
        writes=writes,
        requests=rec.requests,
        failed=rec.failed,
        seconds=seconds,
        p50_ms=latency.p50_ms,
        p99_ms=latency.p99_ms,
        statuses=dict(sorted(rec.statuses.items())),
        cache_modes=dict(sorted(rec.modes.items())),
        **account,
    )
