"""The one narrow interface every cache tier implements, and what tiers share.

Keys are `<partition>:<digest>` (see `ghproxy.keys.cache_key`); tiers that keep partitions apart split on the colon.
A tier never decides freshness. `get` returns None for a missing, expired, corrupt or unknown-version entry (and
drops the bad one); backend failures (Redis down, disk full) raise, and `TieredStore` turns them into misses.
"""

from __future__ import annotations

import logging
from typing import Protocol

from ghproxy.entry import CorruptEntry, Entry, loads

log = logging.getLogger("ghproxy.cache")


class Store(Protocol):
    """Async key -> Entry storage."""

    name: str

    async def get(self, key: str) -> Entry | None: ...

    async def set(self, key: str, entry: Entry, ttl: float | None = None) -> None:
        """Store `entry`; `ttl` seconds after which it may be dropped (None: the tier's default)."""

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


def decode(tier: str, key: str, data: bytes) -> Entry | None:
    """Bytes from a backend as an Entry, or None (with a log line) when they are not a whole entry of this version."""
    try:
        return loads(data)
    except CorruptEntry as exc:
        log.warning("corrupt cache entry dropped", extra={"tier": tier, "key": key[:40], "error": str(exc)})
        return None
