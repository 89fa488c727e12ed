"""`prow-lite hook` as a real process against ghsim behind ghproxy: kill -9 mid-burst, SIGTERM, startup errors."""

from __future__ import annotations

import asyncio
import collections
import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from prow_lite.hook.queue import DeliveryQueue
from tests.conftest import StartProxy, StartSim
from tests.prow_lite.hook.conftest import BOT_TOKEN, SECRET, comment_payload, signed_headers
from tests.prow_lite.hook.processes import HookProcess

PRS = [(repo, number) for repo in ("repo0", "repo1") for number in range(1, 9)]
EVENTS = 500
KILL_AFTER = 150  # accepted events before the kill -9


def write_files(tmp: Path, plugins_yaml: str) -> list[str]:
    (tmp / "config.yaml").write_text("prowjob_namespace: default\n")
    (tmp / "plugins.yaml").write_text(plugins_yaml)
    (tmp / "hmac").write_bytes(SECRET + b"\n")
    (tmp / "token").write_text(BOT_TOKEN + "\n")
    return [
        "--config-path", str(tmp / "config.yaml"), "--plugin-config", str(tmp / "plugins.yaml"),
        "--hmac-secret-file", str(tmp / "hmac"), "--github-token-path", str(tmp / "token"),
        "--data-dir", str(tmp / "data"),
    ]  # fmt: skip


@pytest.fixture
def hooks(tmp_path: Path) -> Iterator[list[HookProcess]]:
    started: list[HookProcess] = []
    yield started
    for proc in started:
        proc.stop(signal.SIGKILL)


def github(sim_url: str, path: str) -> Any:
    request = urllib.request.Request(sim_url + path, headers={"Authorization": "token sim_alice"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


def event(i: int) -> tuple[str, int, str, str]:
    """Event i: a comment on one of 16 PRs; `/area c<j>` adds an existing label, `/area m<i>` earns the label
    plugin's "cannot be applied" reply (a bot comment)."""
    repo, number = PRS[i % len(PRS)]
    j = i // len(PRS)
    return (repo, number, f"/area c{j}", f"area/c{j}") if j % 2 == 0 else (repo, number, f"/area m{i}", f"area/m{i}")


def create_labels(sim_url: str) -> None:
    """The `area/c<j>` labels the even rounds of the burst add."""
    for repo in ("repo0", "repo1"):
        for j in range(0, EVENTS // len(PRS) + 1, 2):
            request = urllib.request.Request(
                f"{sim_url}/repos/org0/{repo}/labels",
                data=json.dumps({"name": f"area/c{j}", "color": "ededed"}).encode(),
                headers={"Authorization": "token sim_alice", "Content-Type": "application/json"},
            )
            urllib.request.urlopen(request, timeout=10).close()


async def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_kill_9_mid_burst_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, start_sim: StartSim, start_proxy: StartProxy, hooks: list[HookProcess]
) -> None:
    sim = start_sim(secondary_limits=False)
    proxy = start_proxy(sim.url, secondary_limits=False, mutation_interval_s=0.0)
    await asyncio.to_thread(create_labels, sim.url)
    flags = write_files(tmp_path, "plugins:\n  org0:\n    plugins: [label]\n")
    hook = HookProcess(*flags, "--github-endpoint", proxy.url, log_dir=tmp_path)
    hooks.append(hook)
    await asyncio.to_thread(hook.start)

    accepted: set[int] = set()
    enough = asyncio.Event()
    limit = asyncio.Semaphore(16)

    async def deliver(session: aiohttp.ClientSession, i: int) -> None:
        repo, number, body, _ = event(i)
        raw = json.dumps(comment_payload(number, body, repo=repo, comment_id=100_000 + i)).encode()
        headers = signed_headers("issue_comment", f"burst-{i}", raw)
        async with limit:
            while True:  # as a sender that retries until it gets its 200 (GitHub's "redeliver")
                try:
                    async with session.post(hook.url + "/hook", data=raw, headers=headers) as resp:
                        assert resp.status == 200, await resp.text()
                        accepted.add(i)
                        if len(accepted) >= KILL_AFTER:
                            enough.set()
                        return
                except (aiohttp.ClientError, TimeoutError):
                    await asyncio.sleep(0.05)

    async def crash() -> None:
        await enough.wait()
        hook.kill()
        await asyncio.to_thread(hook.start)

    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(crash(), *(deliver(session, i) for i in range(EVENTS)))
        assert len(accepted) == EVENTS
        log = hook.log()
        replayed = re.search(r"replaying (\d+) queued deliveries", log)
        assert replayed and int(replayed.group(1)) > 0, "the kill came after everything was handled"

        # some deliveries are sent again after they were handled: ignored
        for i in range(10):
            await deliver(session, i)

        async def drained() -> bool:
            async with session.get(hook.url + "/queue") as resp:
                counts = (await resp.json())["counts"]
            assert counts["failed"] == 0, await (await session.get(hook.url + "/queue")).text()
            return bool(counts == {"queued": 0, "done": EVENTS, "failed": 0})

        await wait_for(drained, 60, "every event handled")

    expected_labels: dict[tuple[str, int], set[str]] = collections.defaultdict(set)
    expected_replies: dict[tuple[str, int], list[str]] = collections.defaultdict(list)
    for i in range(EVENTS):
        repo, number, _, label = event(i)
        if label.startswith("area/c"):
            expected_labels[(repo, number)].add(label)
        else:
            expected_replies[(repo, number)].append(label)
    for repo, number in PRS:
        labels = {label["name"] for label in github(sim.url, f"/repos/org0/{repo}/issues/{number}/labels")}
        assert expected_labels[(repo, number)] <= labels, (repo, number)  # no label lost
        comments = github(sim.url, f"/repos/org0/{repo}/issues/{number}/comments?per_page=100")
        ours = [c["body"] for c in comments if c["user"]["login"] == "ci-robot" and "<!-- prow-lite:" in c["body"]]
        replied = sorted(m.group(1) for body in ours if (m := re.search(r"`(area/m\d+)` cannot be applied", body)))
        assert len(replied) == len(ours), ours
        assert replied == sorted(expected_replies[(repo, number)]), (repo, number)  # each reply exactly once
    queue = DeliveryQueue(tmp_path / "data" / "queue.db")  # the hook is still running; WAL lets us read
    assert queue.counts() == {"queued": 0, "done": EVENTS, "failed": 0}
    queue.close()


async def test_sigterm_finishes_the_running_event_and_keeps_the_rest_queued(
    tmp_path: Path, start_sim: StartSim, start_proxy: StartProxy, hooks: list[HookProcess]
) -> None:
    sim = start_sim(secondary_limits=False)
    proxy = start_proxy(sim.url, secondary_limits=False, mutation_interval_s=0.0)
    received: list[str] = []
    arrived = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        received.append(request.headers["X-GitHub-Delivery"])
        arrived.set()
        await asyncio.sleep(1.0)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/ext", slow)
    receiver = TestServer(app, host="127.0.0.1", port=0)
    await receiver.start_server()
    plugins = (
        f"plugins: {{}}\nexternal_plugins:\n  org0:\n  - {{name: slow, endpoint: '{receiver.make_url('/ext')}'}}\n"
    )
    flags = [*write_files(tmp_path, plugins), "--github-endpoint", proxy.url]
    hook = HookProcess(*flags, log_dir=tmp_path)
    hooks.append(hook)
    await asyncio.to_thread(hook.start)
    async with aiohttp.ClientSession() as session:
        for i in range(3):  # one PR: they run one after another
            raw = json.dumps(comment_payload(4, f"hello {i}")).encode()
            async with session.post(
                hook.url + "/hook", data=raw, headers=signed_headers("issue_comment", f"term-{i}", raw)
            ) as resp:
                assert resp.status == 200
    await arrived.wait()
    code = await asyncio.to_thread(hook.stop, signal.SIGTERM)
    assert code == 0, hook.log()
    assert received == ["term-0"]
    queue = DeliveryQueue(tmp_path / "data" / "queue.db")
    assert [(t.guid) for t in queue.queued()] == ["term-1", "term-2"]
    assert queue.state_of("term-0") is not None and queue.state_of("term-0").value == "done"  # type: ignore[union-attr]
    queue.close()

    await asyncio.to_thread(hook.start)  # the rest run after the restart, in order

    async def all_forwarded() -> bool:
        return received == ["term-0", "term-1", "term-2"]

    await wait_for(all_forwarded, 15, "the queued events after the restart")
    await receiver.close()


def run_hook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prow_lite", "hook", "--host", "127.0.0.1", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_startup_errors_exit_2_with_one_line_naming_the_flag_or_file(tmp_path: Path) -> None:
    flags = write_files(tmp_path, "plugins: {}\n")

    def flag(name: str, value: str) -> list[str]:
        out = list(flags)
        out[out.index(name) + 1] = value
        return out

    (tmp_path / "bad.yaml").write_text("prowjob_namespace: [oops\n")
    (tmp_path / "unknown.yaml").write_text("plugins:\n  org0: [no-such-plugin]\n")
    cases = [
        ([], "the following arguments are required: --config-path"),
        ([*flags, "--port", "http"], "argument --port"),
        ([*flags, "--grace-period", "soon"], "argument --grace-period"),
        (flag("--hmac-secret-file", str(tmp_path / "missing")), "--hmac-secret-file: "),
        (flag("--config-path", str(tmp_path / "bad.yaml")), str(tmp_path / "bad.yaml")),
        (flag("--plugin-config", str(tmp_path / "unknown.yaml")), "unknown plugin 'no-such-plugin'"),
        (flag("--github-token-path", str(tmp_path / "missing")), "--github-token-path: "),
        ([*flags, "--github-endpoint", "https://api.github.com"], "--github-endpoint: "),
        ([*flags, "--github-app-id", "7"], "--github-app-id needs --github-app-private-key-path"),
    ]
    for args, expected in cases:
        done = run_hook(*args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, done.stderr)
        assert lines[0].startswith("prow-lite hook: ")


def test_a_near_empty_config_starts_and_serves(tmp_path: Path, hooks: list[HookProcess]) -> None:
    flags = write_files(tmp_path, "plugins: {}\n")
    hook = HookProcess(*flags, "--github-endpoint", "http://127.0.0.1:9", log_dir=tmp_path)
    hooks.append(hook)
    hook.start()
    with urllib.request.urlopen(hook.url + "/plugin-help", timeout=5) as resp:
        assert json.load(resp)["RepoPlugins"] == {}
    assert hook.stop() == 0
    assert "hook stopped" in hook.log()
