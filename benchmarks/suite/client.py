"""The load generator's HTTP client: every request timed and counted from the client's side.

One `Client` per run. It sends to ghsim directly or to the proxies (`bases`; with several, each request goes to
the replica a stable hash of its route picks, as a load balancer with sticky connections would), and records each
answer's status, `X-Cache-Mode` and latency. With `serialize_identical`, an identical request (same token, method
and target) waits for one already in flight from this client: the plan stays deterministic when two parts of a
workload happen to ask for the same thing at the same moment.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import hdrs

TIMEOUT_S = 300.0
# Commit SHAs depend on when ghsim made the commit; the replica a request goes to must not.
_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(slots=True)
class Recorder:
    """What the clients saw: latencies of answered requests, statuses, cache modes, failures."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    modes: Counter[str] = field(default_factory=Counter)
    failed: int = 0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def add(self, status: int, mode: str, seconds: float) -> None:
        self.statuses[str(status)] += 1
        self.modes[mode] += 1
        self.latencies.append(seconds)
        if status >= 400:
            self.failed += 1


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Client:
    def __init__(
        self, session: aiohttp.ClientSession, bases: tuple[str, ...], *, serialize_identical: bool = True
    ) -> None:
        self.session = session
        self.bases = bases
        self.recorder = Recorder()
        self._serialize = serialize_identical
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    def base_for(self, route: str) -> str:
        """The replica for a request: a stable hash of its route (SHAs left out), as a balancer would spread them."""
        if len(self.bases) == 1:
            return self.bases[0]
        return self.bases[zlib.crc32(_SHA.sub("", route).encode()) % len(self.bases)]

    async def request(
        self,
        token: str,
        method: str,
        target: str,
        *,
        body: object = None,
        route: str = "",
        scheme: str = "token",
    ) -> Answer:
        """Send one request; a connection failure is recorded as status 599 and answered as such."""
        key = (token, method, target)
        if not self._serialize:
            return await self._send(token, method, target, body, route, scheme)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            return await self._send(token, method, target, body, route, scheme)

    async def get(self, token: str, target: str, *, route: str = "") -> Any:
        """GET and decode JSON; None when the answer was not a success."""
        answer = await self.request(token, hdrs.METH_GET, target, route=route)
        return answer.json() if answer.status == 200 else None

    async def _send(self, token: str, method: str, target: str, body: object, route: str, scheme: str) -> Answer:
        url = self.base_for(f"{route}|{target}") + target
        headers = {hdrs.AUTHORIZATION: f"{scheme} {token}", hdrs.ACCEPT: "application/vnd.github+json"}
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers[hdrs.CONTENT_TYPE] = "application/json"
        started = time.monotonic()
        try:
            async with self.session.request(method, url, headers=headers, data=data) as resp:
                payload = await resp.read()
                status, mode = resp.status, resp.headers.get("X-Cache-Mode", "-")
        except (TimeoutError, aiohttp.ClientError):
            self.recorder.add(599, "ERROR", time.monotonic() - started)
            return Answer(599, b"")
        self.recorder.add(status, mode, time.monotonic() - started)
        return Answer(status, payload)


def session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))


async def bounded(jobs: Iterable[Awaitable[Any]], limit: int) -> list[Any]:
    """Await `jobs` with at most `limit` running at once; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[Any]) -> Any:
        async with gate:
            return await job

    return list(await asyncio.gather(*(one(j) for j in jobs)))
