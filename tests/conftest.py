"""Fixtures shared by every test package: real servers on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ghproxy.server import make_app as make_proxy_app
from ghproxy.settings import Settings
from ghsim.app import make_app as make_sim_app
from ghsim.config import SimConfig
from tests.support.processes import start_proxy_process  # noqa: F401 - fixtures shared by every test package
from tests.support.redis import redis_server, start_redis  # noqa: F401
from tests.support.servers import AppFactory, ThreadedServer

StartServer = Callable[[AppFactory], ThreadedServer]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start aiohttp apps in background threads; all are stopped when the test ends."""
    started: list[ThreadedServer] = []

    def start(factory: AppFactory) -> ThreadedServer:
        server = ThreadedServer(factory).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


StartProxy = Callable[..., ThreadedServer]


@pytest.fixture
def start_proxy(start_server: StartServer) -> StartProxy:
    """Start ghproxy in front of `upstream` with test-friendly settings (overridable by keyword)."""

    def start(upstream: str, **overrides: Any) -> ThreadedServer:
        base = Settings(upstream=upstream, port=0, metrics_port=0, health_port=0, request_timeout=5.0)
        settings = dataclasses.replace(base, **overrides)

        def factory() -> web.Application:
            return make_proxy_app(settings)

        return start_server(factory)

    return start


class Sim:
    """A running ghsim with helpers to read its accounting."""

    def __init__(self, server: ThreadedServer) -> None:
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.load(resp)

    def ledger(self, token: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = self._get("/_sim/ledger")
        if token is None:
            return data
        empty = {"requests": 0, "charged": 0, "free_304": 0, "secondary_limited": 0, "primary_limited": 0}
        result: dict[str, Any] = data["tokens"].get(token, empty)
        return result

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("/_sim/requests")["requests"]
        return result


StartSim = Callable[..., Sim]


@pytest.fixture
def start_sim(start_server: StartServer) -> StartSim:
    """Start ghsim with a SimConfig built from keywords (secondary limits on, as on GitHub)."""

    def start(**config: Any) -> Sim:
        cfg = SimConfig(**config)
        return Sim(start_server(lambda: make_sim_app(cfg)))

    return start


NODE_DIR = Path(__file__).parent / "support" / "node"
OCTOKIT_VERSION = "21"


@pytest.fixture(scope="session")
def octokit(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, Any]]:
    """Run @octokit/rest through node; installed from the npm registry into a temporary directory.

    Skips (with the reason) where node or npm is missing or the registry cannot be reached.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the octokit tests")
    workdir = tmp_path_factory.mktemp("octokit")
    (workdir / "package.json").write_text('{"name": "octokit-check", "private": true, "type": "module"}')
    proc = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", f"@octokit/rest@{OCTOKIT_VERSION}"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.skip(f"npm install @octokit/rest failed: {proc.stderr.strip()[:300]}")
    script = workdir / "octokit_check.mjs"
    shutil.copy(NODE_DIR / "octokit_check.mjs", script)

    def run(*args: str) -> dict[str, Any]:
        out = subprocess.run([node, str(script), *args], cwd=workdir, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result

    return run
