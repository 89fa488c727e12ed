from __future__ import annotations

import pytest

from ghproxy.cache.memory import MemoryStore
from tests.ghproxy.cache.contract import StoreContract


class TestMemoryContract(StoreContract):
    supports_corruption = False  # holds Entry objects; nothing is ever decoded

    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore(64 * 1024 * 1024)
