"""ConfigAgent on real files: atomic swaps, the last good config kept on a bad reload, and the file watcher."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from prow_lite.config import ConfigAgent, ConfigError


def job(name: str) -> str:
    return f"presubmits:\n  org/repo:\n  - name: {name}\n    command: [make, {name}]\n"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    config = tmp_path / "config.yaml"
    config.write_text("prowjob_namespace: default\n")
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "unit.yaml").write_text(job("unit"))
    plugins = tmp_path / "plugins.yaml"
    plugins.write_text("plugins:\n  org: [trigger]\n")
    return config, tmp_path / "jobs", plugins


def names(agent: ConfigAgent) -> list[str]:
    return [p.name for p in agent.current.config.presubmits_for("org", "repo")]


def test_the_first_load_must_succeed(files: tuple[Path, Path, Path]) -> None:
    config, jobs, plugins = files
    plugins.write_text("plugins: {org: {nope: 1}}\n")
    with pytest.raises(ConfigError, match=r'plugins\["org"\].nope: unknown field'):
        ConfigAgent(config, jobs, plugins)


def test_bad_reload_keeps_the_last_good_config(
    files: tuple[Path, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    config, jobs, plugins = files
    agent = ConfigAgent(config, jobs, plugins)
    before = agent.current
    (jobs / "bad.yaml").write_text("presubmits: {org/repo: [{name: lint, command: [x], run_if_changed: '(['}]}\n")
    plugins.write_text("plugins:\n  org: [trigger, lgtm]\n")
    with caplog.at_level(logging.ERROR, logger="prow_lite.config"):
        assert agent.reload() is False
    assert agent.current is before  # neither file's change is taken: the snapshot is swapped whole or not at all
    assert agent.plugins.enabled_plugins("org", "repo") == ["trigger"]
    assert f'{jobs}/bad.yaml: presubmits["org/repo"][0].run_if_changed: not a valid regex' in caplog.text
    assert agent.last_error is not None

    (jobs / "bad.yaml").write_text(job("lint"))
    assert agent.reload() is True
    assert names(agent) == ["lint", "unit"]
    assert agent.plugins.enabled_plugins("org", "repo") == ["trigger", "lgtm"]
    assert agent.last_error is None


def test_changed_tracks_added_rewritten_and_removed_files(files: tuple[Path, Path, Path]) -> None:
    config, jobs, plugins = files
    agent = ConfigAgent(config, jobs, plugins)
    assert not agent.changed()
    (jobs / "sub").mkdir()
    (jobs / "sub" / "e2e.yaml").write_text(job("e2e"))
    assert agent.changed()
    agent.reload()
    assert not agent.changed()
    (jobs / "sub" / "e2e.yaml").unlink()
    assert agent.changed()
    agent.reload()
    stat = plugins.stat()
    os.utime(plugins, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert agent.changed()


async def test_watcher_picks_up_a_good_change_and_survives_a_bad_one(files: tuple[Path, Path, Path]) -> None:
    config, jobs, plugins = files
    agent = ConfigAgent(config, jobs, plugins)
    task = agent.start_watching(0.02)
    assert agent.start_watching(0.02) is task
    try:
        (jobs / "e2e.yaml").write_text(job("e2e"))
        await wait_for(lambda: names(agent) == ["e2e", "unit"])

        good = agent.current
        (jobs / "e2e.yaml").write_text("presubmits: [")
        await wait_for(lambda: agent.last_error is not None)
        assert agent.current is good and not task.done()

        (jobs / "e2e.yaml").write_text(job("e2e-fixed"))
        await wait_for(lambda: names(agent) == ["e2e-fixed", "unit"])
    finally:
        await agent.stop()
    assert task.cancelled()


async def wait_for(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - the watcher swaps snapshots from a worker thread; poll for it
            await asyncio.sleep(0.01)


def test_plugins_file_is_optional(files: tuple[Path, Path, Path]) -> None:
    config, jobs, _ = files
    agent = ConfigAgent(config, jobs)
    assert names(agent) == ["unit"] and agent.plugins.enabled_plugins("org", "repo") == []
    config_only = ConfigAgent(config)
    assert config_only.config.presubmits == {}
