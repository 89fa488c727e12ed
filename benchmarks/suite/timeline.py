"""When things happen in a replay: rounds start at fixed times, and ghsim's data changes between them.

Changes go through ghsim's control surface (`POST /_sim/mutate`), never through the proxy, and are never charged.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from benchmarks.suite.workloads import Mutation

Progress = Callable[[int], object]
# ghsim's data carries times in whole seconds: the same thing changed twice within one second would not change
# (and whether it does would depend on timing), so changes to one thing are kept this far apart.
SAME_THING_GAP_S = 1.02


async def pace(start: float, index: int, period: float) -> None:
    """Wait for round `index` of a schedule that starts at `start` (monotonic) with `period` between rounds."""
    delay = start + index * period - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


class Mutator:
    """Makes a plan's changes, keeping changes to one issue (or one repository's pushes) a second apart."""

    def __init__(self, http: aiohttp.ClientSession, sim: str) -> None:
        self.http = http
        self.sim = sim
        self.last: dict[tuple[str, ...], float] = {}

    async def apply(self, m: Mutation) -> dict[str, Any]:
        things: list[tuple[str, ...]] = [("issue", m.repo, str(m.number))]
        if m.kind == "push_pr":
            things.append(("repo", m.repo))  # a push moves the repository's pushed_at
        wait = max(self.last.get(t, -math.inf) + SAME_THING_GAP_S for t in things) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        body = {"repo": m.repo, "kind": m.kind, "number": m.number}
        async with self.http.post(self.sim + "/_sim/mutate", json=body) as resp:
            answer: dict[str, Any] = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"/_sim/mutate {body} answered {resp.status}: {answer}")
        now = time.monotonic()
        for t in things:
            self.last[t] = now
        return answer
