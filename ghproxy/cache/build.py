"""Building the tiered store from settings, and keeping the shared tiers pruned."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ghproxy.cache.base import Store
from ghproxy.cache.memory import MemoryStore
from ghproxy.cache.tiered import TieredStore
from ghproxy.metrics import Metrics
from ghproxy.settings import Settings

log = logging.getLogger("ghproxy.cache")
GB = 1024**3


def build_store(settings: Settings, metrics: Metrics) -> TieredStore:
    """memory, then disk when `--cache-dir` is set, then Redis when `--redis-address` is set."""
    memory = MemoryStore(settings.memory_cache_bytes)
    metrics.memory_bytes.set_function(lambda: memory.bytes_used)
    metrics.memory_entries.set_function(lambda: len(memory))
    tiers: list[Store] = [memory]
    if settings.cache_dir:
        from ghproxy.cache.disk import DiskMetrics, DiskStore

        try:
            Path(settings.cache_dir).mkdir(parents=True, exist_ok=True)
            disk = DiskStore(settings.cache_dir, int(settings.cache_size_gb * GB), default_ttl=settings.cache_ttl)
        except Exception as exc:
            # A damaged database or an unwritable directory: serve from the other tiers rather than not at all.
            log.error(
                "disk tier unavailable; serving without it (fix or delete the directory and restart)",
                extra={"cache_dir": settings.cache_dir, "error": f"{type(exc).__name__}: {exc}"},
            )
            metrics.tier_available.labels("disk").set(0)
        else:
            tiers.append(disk)
            metrics.registry.register(DiskMetrics(settings.cache_dir))
    if settings.redis_address:
        from ghproxy.cache.redis import RedisStore

        tiers.append(
            RedisStore(
                settings.redis_address,
                username=settings.redis_username or None,
                password=settings.redis_password or None,
                default_ttl=settings.redis_ttl,
                max_entry_bytes=int(settings.redis_max_entry_mb * 1024 * 1024),
            )
        )
    return TieredStore(tiers, metrics)


async def prune_periodically(store: TieredStore, interval: float) -> None:
    """Drop expired disk entries (Redis expires its own); partitions of rotated tokens age out this way."""
    disk = store.tier("disk")
    prune = getattr(disk, "prune", None)
    if prune is None:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await prune()
            log.info("disk cache pruned", extra={"removed": removed})
        except Exception as exc:
            log.warning("disk cache prune failed", extra={"error": f"{type(exc).__name__}: {exc}"})
