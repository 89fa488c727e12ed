"""Memory -> disk -> Redis as one store that never fails a request.

Reads go down the tiers and promote a hit into the tiers above it. Writes go to every tier. A tier that raises is
logged, counted and treated as a miss; after repeated failures its circuit breaker skips it for a while and then
probes it again, so a dead Redis costs one short timeout per cooldown and comes back by itself when it returns.

A 304 changes only an entry's headers (rate-limit numbers, Date). `refresh()` rewrites the memory tier every time
but the shared tiers at most once per `lower_refresh_s` per key (enough to keep their TTL alive), in the background:
the revalidation path does not wait for disk or Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Coroutine, Sequence
from typing import TypeVar

from cachetools import LRUCache

from ghproxy.cache import breaker
from ghproxy.cache.base import Store
from ghproxy.entry import Entry
from ghproxy.metrics import Metrics

log = logging.getLogger("ghproxy.cache")
T = TypeVar("T")


class TieredStore:
    name = "tiered"

    def __init__(
        self,
        tiers: Sequence[Store],
        metrics: Metrics | None = None,
        *,
        lower_refresh_s: float = 300.0,
        failure_threshold: int = 3,
        cooldown_s: float = 5.0,
    ) -> None:
        if not tiers:
            raise ValueError("TieredStore needs at least one tier")
        self.tiers = tuple(tiers)
        self.metrics = metrics
        self.lower_refresh_s = lower_refresh_s
        self._breakers = {t.name: breaker.Breaker(failure_threshold, cooldown_s) for t in self.tiers}
        self._lower_written: LRUCache[str, float] = LRUCache(maxsize=200_000)
        self._background: set[asyncio.Task[None]] = set()
        for tier in self.tiers:
            self._set_available(tier.name, True)

    def tier(self, name: str) -> Store | None:
        return next((t for t in self.tiers if t.name == name), None)

    async def get(self, key: str) -> Entry | None:
        for i, tier in enumerate(self.tiers):
            entry = await self._guarded(tier, "get", tier.get(key), None)
            if entry is not None:
                if i > 0:
                    self._spawn(self._write(self.tiers[:i], key, entry, None))
                return entry
        return None

    async def set(self, key: str, entry: Entry, ttl: float | None = None) -> None:
        await self._write(self.tiers, key, entry, ttl)
        self._lower_written[key] = time.monotonic()

    async def refresh(self, key: str, entry: Entry) -> None:
        """Store an entry whose body is unchanged (after a 304); shared tiers are rewritten only now and then."""
        await self._write(self.tiers[:1], key, entry, None)
        last = self._lower_written.get(key)
        now = time.monotonic()
        if len(self.tiers) > 1 and (last is None or now - last >= self.lower_refresh_s):
            self._lower_written[key] = now
            self._spawn(self._write(self.tiers[1:], key, entry, None))

    async def delete(self, key: str) -> None:
        self._lower_written.pop(key, None)
        await asyncio.gather(*(self._guarded(t, "delete", t.delete(key), None) for t in self.tiers))

    async def drain(self) -> None:
        """Wait for background writes (promotions, refreshes) to finish."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        for tier in self.tiers:
            try:
                await tier.close()
            except Exception:
                log.exception("closing cache tier failed", extra={"tier": tier.name})

    async def _write(self, tiers: Sequence[Store], key: str, entry: Entry, ttl: float | None) -> None:
        await asyncio.gather(*(self._guarded(t, "set", t.set(key, entry, ttl), None) for t in tiers))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _guarded(self, tier: Store, op: str, call: Coroutine[object, object, T], fallback: T) -> T:
        """Await one tier operation under its breaker; a failure is logged, counted and becomes `fallback`."""
        name = tier.name
        decision, self._breakers[name] = breaker.decide(self._breakers[name], time.monotonic())
        if decision is breaker.Decision.SKIP:
            call.close()
            self._count(name, op, "skipped")
            return fallback
        started = time.monotonic()
        try:
            result = await call
        except Exception as exc:
            self._breakers[name] = breaker.failed(self._breakers[name], time.monotonic())
            self._count(name, op, "error")
            opened = self._breakers[name].is_open
            self._set_available(name, not opened)
            log.warning(
                "cache tier failed; serving without it",
                extra={"tier": name, "op": op, "error": f"{type(exc).__name__}: {exc}"[:300], "breaker_open": opened},
            )
            return fallback
        if decision is breaker.Decision.PROBE or self._breakers[name].failures:
            if self._breakers[name].is_open:
                log.info("cache tier is back", extra={"tier": name})
            self._breakers[name] = breaker.succeeded(self._breakers[name])
            self._set_available(name, True)
        if self.metrics is not None:
            self.metrics.tier_seconds.labels(name, op).observe(time.monotonic() - started)
        self._count(name, op, ("hit" if result is not None else "miss") if op == "get" else "ok")
        return result

    def _count(self, tier: str, op: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.tier_operations.labels(tier, op, result).inc()

    def _set_available(self, tier: str, up: bool) -> None:
        if self.metrics is not None:
            self.metrics.tier_available.labels(tier).set(1 if up else 0)
