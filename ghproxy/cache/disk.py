"""Disk tier: entries in a diskcache directory (SQLite index plus value files) that outlives restarts.

Several ghproxy processes on one machine may share the directory: diskcache is thread- and process-safe, so each
sees the others' writes. Values are `ghproxy.entry.dumps` bytes tagged with their partition, so a partition can be
evicted at once.

The cap. `size_limit_bytes` bounds everything under the directory as the filesystem counts it (allocated blocks of
the SQLite database, its WAL and shared-memory files, the value files and their directories), not only the values.
diskcache bounds its own estimate, database pages plus the sizes recorded for value files, and culls lazily, so:

- a value file is recorded at the blocks it occupies, and value files live in at most 256 directories (diskcache's
  default two levels of directories can cost a 4 KiB directory per file);
- the WAL is checkpointed every `WAL_BYTES` and truncated back to that size (`journal_size_limit`);
- diskcache's limit is 90% of the cap less a reserve for the WAL, the shared-memory file and the 256 directories;
  the 10% absorbs directory growth and a value file written before its row culls older ones, also with several
  writing processes;
- every set culls in its own transaction (up to `CULL_LIMIT` expired or least recently stored rows) and, when that
  was not enough, culls again until the cache is under its limit: the cap holds when `set` returns.

An entry bigger than a quarter of diskcache's limit is not stored (one huge body must not flush the cache). Caps
below `MIN_SIZE_LIMIT` are refused. Processes that share a directory should share the cap too: each culls to its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import diskcache
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ghproxy.cache.base import decode
from ghproxy.entry import Entry, dumps
from ghproxy.keys import partition_of

log = logging.getLogger("ghproxy.cache.disk")

KiB = 1024
MiB = 1024 * KiB

WAL_BYTES = 1 * MiB
SUBDIRS = 256
# WAL, shared-memory file (32 KiB for a WAL index of this size, doubled) and one block per value directory.
RESERVE_BYTES = WAL_BYTES + 64 * KiB + SUBDIRS * 4 * KiB
HEADROOM = 0.9
MIN_SIZE_LIMIT = 4 * MiB
# A set adds one row; removing up to this many expired or oldest rows in the same transaction keeps up unless the new
# entry outweighs them, and then `DiskStore.set` culls further.
CULL_LIMIT = 10
BUSY_TIMEOUT = 5.0  # seconds a write waits for another process's transaction before diskcache.Timeout

P = ParamSpec("P")
T = TypeVar("T")


def volume_limit(size_limit_bytes: int) -> int:
    """diskcache's `size_limit` (database pages plus value file blocks) for a cap on the whole directory."""
    return int((size_limit_bytes - RESERVE_BYTES) * HEADROOM)


class _BlockDisk(diskcache.Disk):  # type: ignore[misc]  # diskcache ships no type information
    """diskcache's Disk recording a value file at the blocks it occupies, in one level of 256 directories."""

    def __init__(self, directory: str, **settings: Any) -> None:
        super().__init__(directory, **settings)
        self._root = directory

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> tuple[int, int, str | None, Any]:
        size, mode, filename, db_value = super().store(value, read, key=key)
        if filename is not None:
            size = allocated_bytes(os.stat(os.path.join(self._root, filename)))
        return size, mode, filename, db_value

    def filename(self, key: Any = diskcache.core.UNKNOWN, value: Any = diskcache.core.UNKNOWN) -> tuple[str, str]:
        name = os.urandom(16).hex()
        filename = os.path.join(name[:2], name[2:] + ".val")
        return filename, os.path.join(self._root, filename)


class DiskStore:
    """Entries in a diskcache directory; every backend call runs on the store's own worker threads.

    Backend failures (disk full, permissions, a damaged database) raise; a value that is not a whole entry of this
    format is a miss and is deleted. Construction opens (or creates) the database, synchronously.
    """

    name = "disk"

    def __init__(
        self,
        directory: str | Path,
        size_limit_bytes: int,
        default_ttl: float | None = 86400.0,
        *,
        workers: int = 4,
    ) -> None:
        if size_limit_bytes < MIN_SIZE_LIMIT:
            raise ValueError(
                f"disk cache size {size_limit_bytes} bytes is below the minimum of {MIN_SIZE_LIMIT}: "
                "give the disk tier at least 4 MiB"
            )
        self.directory = Path(directory)
        self.size_limit_bytes = size_limit_bytes
        self.default_ttl = default_ttl
        self.max_entry_bytes = volume_limit(size_limit_bytes) // 4
        self._cache = diskcache.Cache(
            str(self.directory),
            disk=_BlockDisk,
            timeout=BUSY_TIMEOUT,
            size_limit=volume_limit(size_limit_bytes),
            cull_limit=CULL_LIMIT,
            eviction_policy="least-recently-stored",
            tag_index=True,
            sqlite_journal_size_limit=WAL_BYTES,
            sqlite_wal_autocheckpoint=WAL_BYTES // 4096,  # in pages; SQLite's default page size
        )
        # diskcache keeps one SQLite connection per thread, closable only on that thread: close the one opened here
        # now, and give each worker a thread of its own so that `close` can reach every connection.
        self._cache.close()
        self._lanes = [ThreadPoolExecutor(1, thread_name_prefix=f"ghproxy-disk-{i}") for i in range(workers)]
        self._pending = [0] * workers
        self._closed = False

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._closed:
            raise RuntimeError("disk store is closed")
        lane = min(range(len(self._lanes)), key=self._pending.__getitem__)
        self._pending[lane] += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._lanes[lane], functools.partial(fn, *args, **kwargs))
        finally:
            self._pending[lane] -= 1

    async def get(self, key: str) -> Entry | None:
        return await self._run(self._get, key)

    async def set(self, key: str, entry: Entry, ttl: float | None = None) -> None:
        await self._run(self._set, key, entry, self.default_ttl if ttl is None else ttl)

    async def delete(self, key: str) -> None:
        await self._run(self._cache.delete, key)

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store raw bytes under `key` as `set` would store an entry's (for tests and tools that inject values)."""
        await self._run(self._cache.set, key, data, expire=self.default_ttl, tag=partition_of(key))

    async def evict_partition(self, partition: str) -> int:
        """Remove every entry of `partition` (the part of a key before the colon); returns how many."""
        count: int = await self._run(self._cache.evict, partition)
        return count

    async def prune(self) -> int:
        """Remove expired entries, then the least recently stored until under the limit; returns how many."""
        return await self._run(self._prune)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        # Queued after any call still in flight on each lane, so each lane's connection is closed last, on its thread.
        await asyncio.gather(*(loop.run_in_executor(lane, self._cache.close) for lane in self._lanes))
        for lane in self._lanes:
            lane.shutdown(wait=True)

    def _get(self, key: str) -> Entry | None:
        data = self._cache.get(key)
        if data is None:
            return None
        if not isinstance(data, bytes):
            data = b""  # not written by this module: decode logs it as an unknown format
        entry = decode(self.name, key, data)
        if entry is None:
            self._drop_if_unchanged(key, data)
        return entry

    def _drop_if_unchanged(self, key: str, data: bytes) -> None:
        # Another process may have replaced the bad value meanwhile; only the bytes we read are dropped.
        with self._cache.transact():
            current = self._cache.get(key)
            if current == data or not isinstance(current, bytes):
                self._cache.delete(key)

    def _set(self, key: str, entry: Entry, expire: float | None) -> None:
        data = dumps(entry)
        if len(data) > self.max_entry_bytes:
            # The older representation is superseded even though this one is not kept.
            self._cache.delete(key)
            log.debug("entry too large for the disk tier", extra={"key": key[:40], "bytes": len(data)})
            return
        self._cache.set(key, data, expire=expire, tag=partition_of(key))
        if self._cache.volume() > self._cache.size_limit:
            self._cache.cull()

    def _prune(self) -> int:
        expired: int = self._cache.expire()
        culled: int = self._cache.cull()
        return expired + culled


def allocated_bytes(st: os.stat_result) -> int:
    """Bytes a file occupies: its allocated blocks, or its length rounded up to whole blocks if that is more."""
    blocks = -(-st.st_size // st.st_blksize) * st.st_blksize if st.st_blksize else st.st_size
    return max(st.st_blocks * 512, blocks)


def directory_bytes(directory: str | Path) -> int:
    """Bytes allocated to everything under `directory`, the directories themselves included."""
    total = 0
    stack = [os.fspath(directory)]
    while stack:
        path = stack.pop()
        try:
            total += os.lstat(path).st_blocks * 512
            with os.scandir(path) as entries:
                for item in entries:
                    if item.is_dir(follow_symlinks=False):
                        stack.append(item.path)
                    else:
                        with contextlib.suppress(FileNotFoundError):  # culled while we walked
                            total += item.stat(follow_symlinks=False).st_blocks * 512
        except FileNotFoundError:
            continue  # a directory emptied and removed by a cull while we walked
    return total


class DiskMetrics(Collector):
    """Go ghproxy's disk gauges for the cache directory's filesystem, plus the bytes the directory itself uses.

    Sizes are in GB of 10^9 bytes and total is free + used, as Go ghproxy reports them. Walking the directory costs
    a stat per file, so its size is measured at most once per `usage_interval` seconds.
    """

    def __init__(self, directory: str | Path, usage_interval: float = 60.0) -> None:
        self.directory = Path(directory)
        self.usage_interval = usage_interval
        self._usage: tuple[float, int] | None = None  # (monotonic time measured, bytes)

    def collect(self) -> Iterator[Metric]:
        try:
            st = os.statvfs(self.directory)
        except OSError as exc:
            # An exception here would fail the whole scrape; the other metrics still matter.
            log.warning("cannot read cache filesystem usage", extra={"error": str(exc)})
            return
        free = st.f_bfree * st.f_frsize
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        inodes_used = st.f_files - st.f_ffree
        yield GaugeMetricFamily("ghcache_disk_free", "Free gb on github-cache disk.", value=free / 1e9)
        yield GaugeMetricFamily("ghcache_disk_used", "Used gb on github-cache disk.", value=used / 1e9)
        yield GaugeMetricFamily("ghcache_disk_total", "Total gb on github-cache disk.", value=(free + used) / 1e9)
        yield GaugeMetricFamily("ghcache_disk_inode_free", "Free inodes on github-cache disk.", value=st.f_ffree)
        yield GaugeMetricFamily("ghcache_disk_inode_used", "Used inodes on github-cache disk.", value=inodes_used)
        yield GaugeMetricFamily("ghcache_disk_inode_total", "Total inodes on github-cache disk.", value=st.f_files)
        yield GaugeMetricFamily(
            "ghproxy_cache_disk_bytes", "Bytes the disk cache directory occupies.", value=self._directory_bytes()
        )

    def _directory_bytes(self) -> int:
        now = time.monotonic()
        if self._usage is None or now - self._usage[0] >= self.usage_interval:
            self._usage = (now, directory_bytes(self.directory))
        return self._usage[1]
