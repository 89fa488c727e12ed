from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ghproxy.cache.base import Store
from ghproxy.cache.disk import DiskStore
from tests.ghproxy.cache.contract import StoreContract


class TestDiskContract(StoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[DiskStore]:
        store = DiskStore(tmp_path / "cache", 64 * 1024 * 1024)
        yield store
        await store.close()

    async def corrupt(self, store: Store, key: str, data: bytes) -> None:
        assert isinstance(store, DiskStore)
        await store.put_bytes(key, data)
