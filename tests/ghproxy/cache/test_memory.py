from __future__ import annotations

from ghproxy.cache.memory import MemoryStore
from ghproxy.entry import Entry


def entry(size: int) -> Entry:
    return Entry(status=200, headers=(), body=b"x" * size, stored_at=0.0)


async def test_get_set_delete() -> None:
    store = MemoryStore(1 << 20)
    assert await store.get("k") is None
    await store.set("k", entry(10))
    assert (await store.get("k")) == entry(10)
    await store.delete("k")
    assert await store.get("k") is None


async def test_bounded_by_bytes_evicting_least_recently_used() -> None:
    store = MemoryStore(10_000)
    for i in range(50):
        await store.set(f"k{i}", entry(1000))
        await store.get("k0")  # keep k0 hot
    assert store.bytes_used <= 10_000
    assert await store.get("k0") is not None
    assert await store.get("k1") is None
    assert await store.get("k49") is not None


async def test_oversized_entry_is_not_kept() -> None:
    store = MemoryStore(10_000)
    await store.set("small", entry(100))
    await store.set("huge", entry(9_000))
    assert await store.get("huge") is None
    assert await store.get("small") is not None


async def test_an_expired_ttl_is_a_miss() -> None:
    store = MemoryStore(1 << 20)
    await store.set("k", entry(1), ttl=-1)
    assert await store.get("k") is None
