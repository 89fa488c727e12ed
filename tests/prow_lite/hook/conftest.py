"""hook under test: config files in tmp_path, ghsim behind ghproxy, and hook served on 127.0.0.1 in the test's loop."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from prow_lite.hook.queue import DeliveryQueue
from prow_lite.hook.secrets import sign
from prow_lite.hook.server import WORKERS, Hook, HookSettings, make_app
from prow_lite.hook.workers import Workers
from prow_lite.plugins.base import Plugin
from tests.conftest import Sim, StartProxy, StartSim

SECRET = b"hook-test-secret"
BOT_TOKEN = "sim_ci-robot"


def comment_payload(
    number: int, body: str, *, repo: str = "repo0", org: str = "org0", user: str = "bob", comment_id: int = 1
) -> dict[str, Any]:
    """An `issue_comment` payload as GitHub sends it for a comment on pull request `number`."""
    base = f"https://github.com/{org}/{repo}"
    return {
        "action": "created",
        "issue": {
            "number": number,
            "title": f"PR {number}",
            "state": "open",
            "user": {"login": "alice"},
            "assignees": [],
            "html_url": f"{base}/pull/{number}",
            "pull_request": {"url": f"https://api.github.com/repos/{org}/{repo}/pulls/{number}"},
        },
        "comment": {
            "id": comment_id,
            "body": body,
            "user": {"login": user},
            "html_url": f"{base}/pull/{number}#issuecomment-{comment_id}",
        },
        "repository": {"full_name": f"{org}/{repo}", "name": repo, "owner": {"login": org}},
        "sender": {"login": user},
    }


def signed_headers(event_type: str, guid: str, body: bytes, secret: bytes = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event_type,
        "X-GitHub-Delivery": guid,
        "X-Hub-Signature-256": sign(body, secret),
        "content-type": "application/json",
        "X-GitHub-Hook-ID": "42",
    }


@dataclass
class RunningHook:
    server: TestServer
    settings: HookSettings
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return str(self.server.make_url(""))

    @property
    def workers(self) -> Workers:
        return self.server.app[WORKERS]

    async def send(self, event_type: str, guid: str, payload: Mapping[str, Any], **kw: Any) -> tuple[int, str]:
        body = json.dumps(payload).encode()
        async with self.session.post(
            self.url + "/hook", data=body, headers=signed_headers(event_type, guid, body, **kw)
        ) as resp:
            return resp.status, await resp.text()

    async def get_json(self, path: str) -> Any:
        async with self.session.get(self.url + path) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def stop(self) -> None:
        await self.server.close()


@dataclass
class HookEnv:
    """Files and upstream for hook; `start()` serves a hook with test plugins enabled by `plugins_yaml`."""

    tmp: Path
    sim: Sim
    proxy_url: str
    running: list[RunningHook] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.tmp / "data"

    def queue_rows(self) -> list[tuple[str, str, int, str]]:
        """(guid, state, attempts, error) of every stored delivery, read with a connection of our own."""
        queue = DeliveryQueue(self.data_dir / "queue.db")
        try:
            rows: list[tuple[str, str, int, str]] = queue._conn.execute(
                "SELECT guid, state, attempts, error FROM deliveries ORDER BY seq"
            ).fetchall()
        finally:
            queue.close()
        return rows

    def settings(self, plugins_yaml: str, **overrides: Any) -> HookSettings:
        (self.tmp / "config.yaml").write_text("prowjob_namespace: default\n")
        (self.tmp / "plugins.yaml").write_text(plugins_yaml)
        (self.tmp / "hmac").write_bytes(SECRET + b"\n")
        (self.tmp / "token").write_text(BOT_TOKEN + "\n")
        base = HookSettings(
            config_path=str(self.tmp / "config.yaml"),
            plugin_config=str(self.tmp / "plugins.yaml"),
            hmac_secret_file=str(self.tmp / "hmac"),
            github_token_path=str(self.tmp / "token"),
            github_endpoint=self.proxy_url,
            data_dir=str(self.data_dir),
            host="127.0.0.1",
            port=0,
            grace_period_s=5.0,
            event_retry_backoff_s=0.05,
            event_attempts=3,
            external_timeout_s=2.0,
        )
        return replace(base, **overrides)

    async def start(self, plugins_yaml: str, registry: Mapping[str, Plugin], **overrides: Any) -> RunningHook:
        settings = self.settings(plugins_yaml, **overrides)
        hook = Hook.open(settings, registry)
        server = TestServer(make_app(hook, registry), host="127.0.0.1", port=0)
        await server.start_server()
        running = RunningHook(server, settings, aiohttp.ClientSession())
        self.running.append(running)
        return running

    def github(self, path: str) -> Any:
        """GET from ghsim directly (what GitHub holds), as alice."""
        request = urllib.request.Request(self.sim.url + path, headers={"Authorization": "token sim_alice"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.load(resp)


@pytest.fixture
async def hook_env(tmp_path: Path, start_sim: StartSim, start_proxy: StartProxy) -> AsyncIterator[HookEnv]:
    sim = start_sim(secondary_limits=False)
    proxy = start_proxy(sim.url, secondary_limits=False, mutation_interval_s=0.0)
    env = HookEnv(tmp_path, sim, proxy.url)
    yield env
    for running in env.running:
        await running.session.close()
        await running.stop()
