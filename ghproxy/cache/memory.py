"""Memory tier: an LRU bounded by the bytes its entries hold."""

from __future__ import annotations

import time

from cachetools import LRUCache

from ghproxy.entry import Entry


class MemoryStore:
    """Holds entries as objects (no serialisation on the hot path); evicts least recently used past `max_bytes`.

    An entry larger than a quarter of the budget is not kept: one huge body must not flush everything else.
    """

    name = "memory"

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lru: LRUCache[str, tuple[Entry, float | None]] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda item: item[0].size
        )

    @property
    def bytes_used(self) -> int:
        return int(self._lru.currsize)

    def __len__(self) -> int:
        return len(self._lru)

    async def get(self, key: str) -> Entry | None:
        item = self._lru.get(key)
        if item is None:
            return None
        entry, expires = item
        if expires is not None and expires <= time.monotonic():
            self._lru.pop(key, None)
            return None
        return entry

    async def set(self, key: str, entry: Entry, ttl: float | None = None) -> None:
        if entry.size > self.max_bytes // 4:
            self._lru.pop(key, None)
            return
        self._lru[key] = (entry, None if ttl is None else time.monotonic() + ttl)

    async def delete(self, key: str) -> None:
        self._lru.pop(key, None)

    async def close(self) -> None:
        self._lru.clear()
