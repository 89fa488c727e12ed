"""The one narrow interface every cache tier implements."""

from __future__ import annotations

from typing import Protocol

from ghproxy.entry import Entry


class Store(Protocol):
    """Async key -> Entry storage. A tier never decides freshness; a failing tier reports a miss, never raises."""

    async def get(self, key: str) -> Entry | None: ...

    async def set(self, key: str, entry: Entry, ttl: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...
