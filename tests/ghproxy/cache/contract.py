"""The contract every cache tier passes, against its real backend.

A test module subclasses `StoreContract`, provides a `store` fixture (a fresh, empty tier) and, where the backend
can hold bytes that are not an entry, `corrupt(store, key, data)` writing them under `key`.
"""

from __future__ import annotations

import asyncio

import pytest

from ghproxy.cache.base import Store
from ghproxy.entry import FORMAT, Entry, dumps

PART_A = "a" * 32
PART_B = "b" * 32
DIGEST = "d" * 64


def key(part: str = PART_A, digest: str = DIGEST) -> str:
    return f"{part}:{digest}"


def entry(body: bytes = b'{"a": 1}', stored_at: float = 1000.5, etag: str = '"e1"') -> Entry:
    return Entry(
        status=200,
        headers=(("ETag", etag), ("Vary", "Accept"), ("Vary", "Authorization"), ("Content-Type", "application/json")),
        body=body,
        stored_at=stored_at,
    )


class StoreContract:
    """Behaviour every tier shares. Subclasses set `supports_corruption = False` if bytes cannot be injected."""

    supports_corruption = True

    async def corrupt(self, store: Store, key: str, data: bytes) -> None:
        raise NotImplementedError

    async def test_missing_is_none(self, store: Store) -> None:
        assert await store.get(key()) is None

    async def test_round_trip(self, store: Store) -> None:
        await store.set(key(), entry())
        assert await store.get(key()) == entry()

    async def test_binary_empty_and_large_bodies(self, store: Store) -> None:
        for i, body in enumerate((b"", bytes(range(256)) * 4, b"\x00\n" * 200_000)):
            k = key(digest=f"{i:064d}")
            await store.set(k, entry(body=body))
            got = await store.get(k)
            assert got is not None and got.body == body

    async def test_overwrite(self, store: Store) -> None:
        await store.set(key(), entry(body=b"old"))
        await store.set(key(), entry(body=b"new", etag='"e2"'))
        got = await store.get(key())
        assert got is not None and (got.body, got.etag) == (b"new", '"e2"')

    async def test_delete(self, store: Store) -> None:
        await store.set(key(), entry())
        await store.delete(key())
        assert await store.get(key()) is None
        await store.delete(key())  # deleting what is not there is fine

    async def test_partitions_are_apart(self, store: Store) -> None:
        await store.set(key(PART_A), entry(body=b"A"))
        await store.set(key(PART_B), entry(body=b"B"))
        a, b = await store.get(key(PART_A)), await store.get(key(PART_B))
        assert a is not None and b is not None and (a.body, b.body) == (b"A", b"B")

    async def test_ttl_expires(self, store: Store) -> None:
        await store.set(key(), entry(), ttl=0.3)
        assert await store.get(key()) is not None
        await asyncio.sleep(0.7)
        assert await store.get(key()) is None

    async def test_concurrent_use(self, store: Store) -> None:
        async def one(i: int) -> None:
            k = key(digest=f"{i:064d}")
            await store.set(k, entry(body=str(i).encode()))
            got = await store.get(k)
            assert got is not None and got.body == str(i).encode()

        await asyncio.gather(*(one(i) for i in range(50)))

    @pytest.mark.parametrize(
        "data",
        [b"", b"garbage", b"ghp0\n{}\nold format", dumps(entry())[:-3], FORMAT + b"{not json}\n"],
        ids=["empty", "garbage", "old-version", "truncated", "bad-metadata"],
    )
    async def test_corrupt_is_a_miss_and_is_dropped(
        self, store: Store, data: bytes, caplog: pytest.LogCaptureFixture
    ) -> None:
        if not self.supports_corruption:
            pytest.skip("this tier holds objects, not bytes")
        await self.corrupt(store, key(), data)
        assert await store.get(key()) is None
        assert any("corrupt cache entry" in r.getMessage() for r in caplog.records)
        # dropped: a later good write and read work normally
        await store.set(key(), entry())
        assert await store.get(key()) == entry()
