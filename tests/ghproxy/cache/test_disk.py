"""Disk tier behaviour beyond the store contract, against real directories."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from ghproxy.cache.disk import DiskMetrics, DiskStore, directory_bytes
from ghproxy.entry import Entry

MiB = 1024 * 1024
REPO = Path(__file__).resolve().parents[3]


def key(part: str, i: int) -> str:
    return f"{part * 32}:{i:064x}"


def entry(body: bytes, stored_at: float = 1.0) -> Entry:
    return Entry(
        status=200, headers=(("ETag", '"x"'), ("Content-Type", "application/json")), body=body, stored_at=stored_at
    )


def used_bytes(directory: Path) -> int:
    """What the filesystem has allocated under `directory`, counted independently of the module under test."""
    total = os.lstat(directory).st_blocks * 512
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):  # culled by another process while we walked
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[DiskStore]:
    store = DiskStore(tmp_path / "cache", 16 * MiB)
    yield store
    await store.close()


class TestSizeCap:
    CAP = 8 * MiB

    async def test_directory_stays_under_the_cap(self, tmp_path: Path) -> None:
        directory = tmp_path / "cache"
        store = DiskStore(directory, self.CAP)
        rng = random.Random(7)
        written: list[tuple[str, bytes]] = []
        peak = 0
        total = 0
        i = 0
        while total < 2 * self.CAP:
            body = rng.randbytes(rng.randint(20_000, 200_000))
            await store.set(key("a", i), entry(body))
            written.append((key("a", i), body))
            total += len(body)
            i += 1
            peak = max(peak, used_bytes(directory))
        await store.close()
        print(f"\n{i} entries, {total} bytes written; peak directory usage {peak} of a {self.CAP} cap")
        assert peak <= self.CAP
        store = DiskStore(directory, self.CAP)
        try:
            for k, body in written[-5:]:
                got = await store.get(k)
                assert got is not None and got.body == body
            assert await store.get(written[0][0]) is None  # the oldest made room
        finally:
            await store.close()

    async def test_two_processes_writing_stay_under_the_cap(self, tmp_path: Path) -> None:
        directory = tmp_path / "cache"
        store = DiskStore(directory, self.CAP)
        writer = start_writer(directory, self.CAP, part="b", count=60, size=150_000)
        peak = 0
        try:
            rng = random.Random(3)
            for i in range(60):
                await store.set(key("a", i), entry(rng.randbytes(rng.randint(20_000, 200_000))))
                peak = max(peak, used_bytes(directory))
            while writer.poll() is None:
                peak = max(peak, used_bytes(directory))
                await asyncio.sleep(0.01)
            _, err = writer.communicate()
            assert writer.returncode == 0, err.decode()
            peak = max(peak, used_bytes(directory))
            print(f"\npeak directory usage with two writers {peak} of a {self.CAP} cap")
            assert peak <= self.CAP
            # Which writer finished last depends on scheduling; whatever survived is whole.
            survivors = [(i, await store.get(key("b", i))) for i in range(60)]
            kept = [(i, got) for i, got in survivors if got is not None]
            assert kept and all(got.body == bytes([i]) * 150_000 for i, got in kept)
        finally:
            if writer.returncode is None:
                writer.kill()
                writer.communicate()
            await store.close()

    async def test_an_entry_over_a_quarter_of_the_limit_is_not_stored(self, store: DiskStore) -> None:
        await store.set(key("a", 1), entry(b"small"))
        await store.set(key("a", 2), entry(b"old"))
        await store.set(key("a", 2), entry(b"x" * (store.max_entry_bytes + 1)))
        assert await store.get(key("a", 2)) is None  # the older representation went too
        assert await store.get(key("a", 1)) is not None

    def test_a_cap_too_small_to_hold_the_database_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="at least 4 MiB"):
            DiskStore(tmp_path, 1 * MiB)


def start_writer(directory: Path, cap: int, part: str, count: int, size: int) -> subprocess.Popen[bytes]:
    """Another ghproxy process: writes `count` entries of `size` bytes under partition `part * 32`."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from ghproxy.cache.disk import DiskStore
        from ghproxy.entry import Entry

        async def main():
            store = DiskStore({str(directory)!r}, {cap})
            for i in range({count}):
                body = bytes([i % 256]) * {size}
                await store.set(f"{{{part!r} * 32}}:{{i:064x}}", Entry(200, (), body, 1.0))
            await store.close()

        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stderr=subprocess.PIPE)


class TestSharing:
    async def test_a_restarted_store_serves_what_the_last_one_wrote(self, tmp_path: Path) -> None:
        first = DiskStore(tmp_path, 16 * MiB)
        await first.set(key("a", 1), entry(b"small"))
        await first.set(key("a", 2), entry(b"L" * 100_000))
        await first.close()
        second = DiskStore(tmp_path, 16 * MiB)
        try:
            small, large = await second.get(key("a", 1)), await second.get(key("a", 2))
            assert small == entry(b"small") and large == entry(b"L" * 100_000)
        finally:
            await second.close()

    async def test_two_stores_on_one_directory_see_each_others_writes(self, tmp_path: Path) -> None:
        one, two = DiskStore(tmp_path, 16 * MiB), DiskStore(tmp_path, 16 * MiB)
        try:
            await one.set(key("a", 1), entry(b"from one"))
            await two.set(key("a", 2), entry(b"from two" * 10_000))
            assert await two.get(key("a", 1)) == entry(b"from one")
            assert await one.get(key("a", 2)) == entry(b"from two" * 10_000)
            await two.delete(key("a", 1))
            assert await one.get(key("a", 1)) is None
        finally:
            await one.close()
            await two.close()

    async def test_another_process_writes_and_this_one_reads(self, tmp_path: Path) -> None:
        writer = start_writer(tmp_path, 16 * MiB, part="c", count=3, size=50_000)
        _, err = await asyncio.to_thread(writer.communicate, timeout=30)
        assert writer.returncode == 0, err.decode()
        store = DiskStore(tmp_path, 16 * MiB)
        try:
            got = await store.get(key("c", 2))
            assert got is not None and got.body == b"\x02" * 50_000
        finally:
            await store.close()


class TestDamage:
    @pytest.mark.parametrize("damage", ["truncate", "garbage"])
    async def test_a_damaged_value_file_is_a_logged_miss(
        self, store: DiskStore, damage: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        await store.set(key("a", 1), entry(b"v" * 100_000))  # past diskcache's 32 KiB: a file of its own
        (value_file,) = store.directory.rglob("*.val")
        if damage == "truncate":
            os.truncate(value_file, value_file.stat().st_size // 2)
        else:
            value_file.write_bytes(random.Random(1).randbytes(value_file.stat().st_size))
        assert await store.get(key("a", 1)) is None
        assert any("corrupt cache entry" in r.getMessage() for r in caplog.records)
        assert not list(store.directory.rglob("*.val"))  # dropped, file and row

    async def test_a_missing_value_file_is_a_miss(self, store: DiskStore) -> None:
        await store.set(key("a", 1), entry(b"v" * 100_000))
        (value_file,) = store.directory.rglob("*.val")
        value_file.unlink()
        assert await store.get(key("a", 1)) is None

    async def test_a_damaged_database_raises_for_the_tier_above_to_handle(self, tmp_path: Path) -> None:
        store = DiskStore(tmp_path, 16 * MiB)
        await store.set(key("a", 1), entry(b"x"))
        await store.close()
        for name in os.listdir(tmp_path):
            if name.startswith("cache.db"):
                (tmp_path / name).write_bytes(b"not a database" * 1000)
        with pytest.raises(sqlite3.DatabaseError):
            DiskStore(tmp_path, 16 * MiB)

    async def test_a_closed_store_raises(self, tmp_path: Path) -> None:
        store = DiskStore(tmp_path, 16 * MiB)
        await store.close()
        await store.close()  # twice is fine
        with pytest.raises(RuntimeError):
            await store.get(key("a", 1))


class TestMaintenance:
    async def test_evict_partition_removes_only_that_partition(self, store: DiskStore) -> None:
        for i in range(3):
            await store.set(key("a", i), entry(b"a" * (i * 40_000)))
            await store.set(key("b", i), entry(b"b"))
        assert await store.evict_partition("a" * 32) == 3
        assert [await store.get(key("a", i)) for i in range(3)] == [None] * 3
        assert None not in [await store.get(key("b", i)) for i in range(3)]

    async def test_prune_removes_expired_entries(self, store: DiskStore) -> None:
        await store.set(key("a", 1), entry(b"short" * 10_000), ttl=0.05)
        await store.set(key("a", 2), entry(b"short"), ttl=0.05)
        await store.set(key("a", 3), entry(b"kept"))
        await asyncio.sleep(0.1)
        assert await store.prune() == 2
        assert await store.get(key("a", 3)) is not None
        assert not list(store.directory.rglob("*.val"))

    async def test_default_ttl_applies_when_none_is_given(self, tmp_path: Path) -> None:
        store = DiskStore(tmp_path, 16 * MiB, default_ttl=0.05)
        try:
            await store.set(key("a", 1), entry(b"x"))
            await asyncio.sleep(0.1)
            assert await store.get(key("a", 1)) is None
        finally:
            await store.close()


class TestDiskMetrics:
    async def test_go_gauges_and_directory_bytes(self, store: DiskStore) -> None:
        await store.set(key("a", 1), entry(b"m" * 100_000))
        registry = CollectorRegistry()
        registry.register(DiskMetrics(store.directory))
        value = registry.get_sample_value
        free, used, total = value("ghcache_disk_free"), value("ghcache_disk_used"), value("ghcache_disk_total")
        assert free is not None and used is not None and total is not None
        assert free > 0 and total >= used and total == pytest.approx(free + used)
        ifree, iused, itotal = (value(f"ghcache_disk_inode_{k}") for k in ("free", "used", "total"))
        assert ifree is not None and iused is not None and itotal is not None
        assert itotal == ifree + iused and itotal >= 0
        cache_bytes = value("ghproxy_cache_disk_bytes")
        assert cache_bytes is not None and 100_000 < cache_bytes == directory_bytes(store.directory)
        assert cache_bytes <= used * 1e9

    def test_a_missing_directory_yields_nothing_rather_than_failing_the_scrape(self, tmp_path: Path) -> None:
        assert list(DiskMetrics(tmp_path / "absent").collect()) == []
