"""The tiered store: promotion, writes everywhere, and never failing a caller when a tier fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ghproxy.cache.base import Store
from ghproxy.cache.disk import DiskStore
from ghproxy.cache.memory import MemoryStore
from ghproxy.cache.redis import RedisStore
from ghproxy.cache.tiered import TieredStore
from ghproxy.entry import Entry
from ghproxy.metrics import Metrics
from tests.ghproxy.cache.contract import StoreContract, entry, key
from tests.support.redis import RedisServer


class Switchable(MemoryStore):
    """A real in-memory tier whose backend can be switched off, as a dead Redis is."""

    def __init__(self, name: str) -> None:
        super().__init__(64 * 1024 * 1024)
        self.name = name
        self.down = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError(f"{self.name} is down")

    async def get(self, key: str) -> Entry | None:
        self._check()
        return await super().get(key)

    async def set(self, key: str, entry: Entry, ttl: float | None = None) -> None:
        self._check()
        await super().set(key, entry, ttl)

    async def delete(self, key: str) -> None:
        self._check()
        await super().delete(key)


class TestTieredContract(StoreContract):
    supports_corruption = False  # covered where a byte-holding tier is below (disk, redis)

    @pytest.fixture
    def store(self) -> TieredStore:
        return TieredStore([MemoryStore(64 << 20), Switchable("lower")])


def sample(metrics: Metrics, tier: str, op: str, result: str) -> float:
    value = metrics.registry.get_sample_value(
        "ghproxy_cache_tier_operations_total", {"tier": tier, "op": op, "result": result}
    )
    return value or 0.0


async def test_hit_in_a_lower_tier_is_promoted() -> None:
    top, lower = MemoryStore(64 << 20), Switchable("lower")
    store = TieredStore([top, lower])
    await lower.set(key(), entry())
    assert await store.get(key()) == entry()
    await store.drain()
    assert await top.get(key()) == entry()


async def test_writes_reach_every_tier() -> None:
    top, lower = MemoryStore(64 << 20), Switchable("lower")
    store = TieredStore([top, lower])
    await store.set(key(), entry())
    assert await top.get(key()) == entry() and await lower.get(key()) == entry()
    await store.delete(key())
    assert await top.get(key()) is None and await lower.get(key()) is None


async def test_a_dead_tier_is_a_miss_never_an_error_and_is_skipped_then_probed() -> None:
    metrics = Metrics()
    top, lower = MemoryStore(64 << 20), Switchable("lower")
    store = TieredStore([top, lower], metrics, failure_threshold=3, cooldown_s=0.2)
    lower.down = True
    for i in range(10):
        assert await store.get(key(digest=f"{i:064d}")) is None
        await store.set(key(digest=f"{i:064d}"), entry())
    assert await store.get(key(digest=f"{0:064d}")) == entry()  # the memory tier still serves
    assert lower.calls == 3  # the breaker opened after three failures; the rest were skipped
    assert sample(metrics, "lower", "get", "skipped") > 0
    assert metrics.registry.get_sample_value("ghproxy_cache_tier_available", {"tier": "lower"}) == 0
    lower.down = False
    await asyncio.sleep(0.25)
    assert await store.get(key(digest="f" * 64)) is None  # the probe succeeds: the tier is back
    assert metrics.registry.get_sample_value("ghproxy_cache_tier_available", {"tier": "lower"}) == 1
    await store.set(key(digest="e" * 64), entry())
    assert await lower.get(key(digest="e" * 64)) == entry()


async def test_refresh_rewrites_shared_tiers_only_now_and_then() -> None:
    top, lower = MemoryStore(64 << 20), Switchable("lower")
    store = TieredStore([top, lower], lower_refresh_s=3600)
    await store.set(key(), entry(stored_at=1))
    await store.refresh(key(), entry(stored_at=2))
    await store.drain()
    assert (await top.get(key())) == entry(stored_at=2)
    assert (await lower.get(key())) == entry(stored_at=1)  # written less often: its TTL is hours, not seconds
    store.lower_refresh_s = 0
    await store.refresh(key(), entry(stored_at=3))
    await store.drain()
    assert (await lower.get(key())) == entry(stored_at=3)


class TestTieredOverRealTiersContract(StoreContract):
    """memory -> disk -> Redis, each on its real backend; corruption is planted in the lowest tier."""

    @pytest.fixture
    async def store(self, tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[TieredStore]:
        self.server = redis_server
        tiered = TieredStore(
            [MemoryStore(64 << 20), DiskStore(tmp_path / "disk", 64 << 20), RedisStore(redis_server.url)]
        )
        yield tiered
        await tiered.close()

    async def corrupt(self, store: Store, key: str, data: bytes) -> None:
        assert isinstance(store, TieredStore)
        redis = store.tier("redis")
        assert isinstance(redis, RedisStore)
        with self.server.client() as raw:
            raw.set(redis.redis_key(key), data)
