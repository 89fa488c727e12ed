"""`ConfigAgent`: the current config snapshot, swapped whole when the files change and validate (Prow's config.Agent).

A reload that fails logs every problem (file and key) and keeps serving the last good snapshot. The watcher polls
the set of (path, mtime, size) of every config file; loading runs in a worker thread so the event loop never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import NamedTuple

from prow_lite.config.errors import ConfigError
from prow_lite.config.load import job_config_files, load_config
from prow_lite.config.plugins import PluginsConfig
from prow_lite.config.pluginsfile import load_plugins
from prow_lite.config.prow import Config

log = logging.getLogger("prow_lite.config")

Fingerprint = frozenset[tuple[str, int, int]]


class Snapshot(NamedTuple):
    """One consistent view: both files loaded together."""

    config: Config
    plugins: PluginsConfig


class ConfigAgent:
    """Holds the current `Snapshot`; the first load must succeed (raises ConfigError), later ones may fail."""

    def __init__(
        self,
        config_path: str | Path,
        job_config_path: str | Path | None = None,
        plugins_path: str | Path | None = None,
    ) -> None:
        self.config_path = Path(config_path)
        self.job_config_path = Path(job_config_path) if job_config_path is not None else None
        self.plugins_path = Path(plugins_path) if plugins_path is not None else None
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._seen = self._fingerprint()
        self._current = self._load()
        self.last_error: ConfigError | None = None

    @property
    def current(self) -> Snapshot:
        return self._current

    @property
    def config(self) -> Config:
        return self._current.config

    @property
    def plugins(self) -> PluginsConfig:
        return self._current.plugins

    def reload(self) -> bool:
        """Re-read every file; swap in the result if it all validates. False (last good kept) otherwise."""
        with self._lock:
            self._seen = self._fingerprint()
            try:
                snapshot = self._load()
            except ConfigError as err:
                self.last_error = err
                log.error("config reload failed, keeping the last good config:\n%s", err)
                return False
            self._current = snapshot  # one reference assignment: readers see the old or the new snapshot
            self.last_error = None
            log.info("config reloaded")
            return True

    def changed(self) -> bool:
        """Whether any config file was added, removed or rewritten since the last (attempted) load."""
        return self._fingerprint() != self._seen

    def start_watching(self, interval_s: float = 5.0) -> asyncio.Task[None]:
        """Poll the files every `interval_s` in a task of the running loop; reload when they change."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch(interval_s), name="config-watch")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                if await asyncio.to_thread(self.changed):
                    await asyncio.to_thread(self.reload)
            except Exception:  # the watcher must outlive any surprise in one round
                log.exception("config watch round failed")

    def _load(self) -> Snapshot:
        config = load_config(self.config_path, self.job_config_path)
        plugins = load_plugins(self.plugins_path) if self.plugins_path is not None else PluginsConfig()
        return Snapshot(config, plugins)

    def _fingerprint(self) -> Fingerprint:
        paths = [self.config_path]
        if self.plugins_path is not None:
            paths.append(self.plugins_path)
        if self.job_config_path is not None:
            paths.append(self.job_config_path)
            if self.job_config_path.is_dir():
                paths.extend(job_config_files(self.job_config_path))
        out = set()
        for path in paths:
            try:
                stat = os.stat(path)
            except OSError:
                out.add((str(path), -1, -1))
                continue
            out.add((str(path), stat.st_mtime_ns, stat.st_size))
        return frozenset(out)
