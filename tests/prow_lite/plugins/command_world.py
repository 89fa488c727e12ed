"""A real world for the command plugins (lgtm, hold, label, assign, unknown-command).

ghsim acts as users (`/_sim/act/...`) and sends its webhooks to a loopback receiver; the deliveries' payloads are
parsed by `prow_lite.events.parse()` and handed to a plugin's handlers with an `Agent` whose `GitHubClient` talks
to ghsim through a real ghproxy as the bot `ci-robot`. Config comes from YAML files; the job store is SQLite in
tmp_path. Assertions read ghsim's REST API directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from prow_lite.config import load_config, load_plugins
from prow_lite.events import Event, GenericCommentEvent, parse
from prow_lite.github import GitHubClient, TokenAuth
from prow_lite.jobs import JobStore
from prow_lite.plugins.base import REGISTRY, Agent, load_all
from tests.conftest import StartProxy, StartServer, StartSim

ORG, REPO = "org0", "repo0"
BOT = "ci-robot"
CONFIG_YAML = "prowjob_namespace: default\n"
E = TypeVar("E")


def _http(url: str, method: str = "GET", body: Any = None, token: str | None = "sim_alice") -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"token {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {url}: {exc.code} {exc.read()[:300]!r}") from exc
    return json.loads(raw) if raw else None


@dataclass
class World:
    sim_url: str
    proxy_url: str
    tmp: Path
    plugins_yaml: str = ""
    config_yaml: str = CONFIG_YAML
    gh: GitHubClient | None = None
    jobs: JobStore | None = None
    seen: set[int] = field(default_factory=set)

    # --- ghsim -------------------------------------------------------------------------------------------------

    async def get(self, path: str, token: str = "sim_alice") -> Any:
        return await asyncio.to_thread(_http, self.sim_url + path, "GET", None, token)

    async def act(self, what: str, **body: Any) -> Any:
        """Act as a user (`as_` names them): /_sim/act/<what>."""
        body["as"] = body.pop("as_")
        body.setdefault("repo", f"{ORG}/{REPO}")
        return await asyncio.to_thread(_http, f"{self.sim_url}/_sim/act/{what}", "POST", body, None)

    async def rest(self, method: str, path: str, body: Any = None, token: str = "sim_alice") -> Any:
        return await asyncio.to_thread(_http, self.sim_url + path, method, body, token)

    async def labels(self, number: int) -> list[str]:
        return sorted(label["name"] for label in await self.get(f"/repos/{ORG}/{REPO}/issues/{number}/labels"))

    async def comments(self, number: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.get(f"/repos/{ORG}/{REPO}/issues/{number}/comments?per_page=100")
        return found

    async def bot_comments(self, number: int) -> list[str]:
        return [c["body"] for c in await self.comments(number) if c["user"]["login"] == BOT]

    async def issue(self, number: int) -> dict[str, Any]:
        found: dict[str, Any] = await self.get(f"/repos/{ORG}/{REPO}/issues/{number}")
        return found

    async def assignees(self, number: int) -> list[str]:
        return sorted(a["login"] for a in (await self.issue(number))["assignees"])

    async def open_pr(self, author: str, title: str = "A change", **files: str) -> int:
        made = await self.act("pull", as_=author, title=title, files=files or {"src/new.py": "print('hi')\n"})
        number: int = made["number"]
        return number

    # --- deliveries ----------------------------------------------------------------------------------------------

    async def events(self) -> list[Event]:
        """The events of the deliveries not read before, in order, as prow_lite parses them."""
        await asyncio.to_thread(_http, f"{self.sim_url}/_sim/deliveries/wait", "POST", {"timeout": 10}, None)
        listed = (await self.get("/_sim/deliveries"))["deliveries"]
        events: list[Event] = []
        for summary in sorted(listed, key=lambda d: d["id"]):
            if summary["id"] in self.seen:
                continue
            self.seen.add(summary["id"])
            delivery = await self.get(f"/_sim/deliveries/{summary['id']}")
            events += parse(summary["event"], summary["guid"], delivery["request"]["payload"])
        return events

    async def one(self, kind: type[E], action: str | None = None) -> E:
        """The one new event of this type (and action), after reading every new delivery."""
        found = [e for e in await self.events() if isinstance(e, kind) and action in (None, getattr(e, "action", None))]
        assert len(found) == 1, found
        return found[0]

    async def comment(self, number: int, who: str, body: str) -> GenericCommentEvent:
        """`who` comments `body`; the generic comment event prow_lite makes of the delivery."""
        await self.act("comment", as_=who, number=number, body=body)
        found = [e for e in await self.events() if isinstance(e, GenericCommentEvent) and e.user == who]
        assert len(found) == 1, found
        return found[0]

    # --- prow_lite -----------------------------------------------------------------------------------------------

    def agent(self, plugin: str, guid: str) -> Agent:
        assert self.gh is not None and self.jobs is not None
        config_file = self.tmp / "config.yaml"
        config_file.write_text(self.config_yaml)
        plugins_file = self.tmp / "plugins.yaml"
        plugins_file.write_text(self.plugins_yaml)
        log = logging.LoggerAdapter(logging.getLogger(f"test.{plugin}"), {})
        return Agent(plugin, self.gh, load_config(config_file), load_plugins(plugins_file), self.jobs, BOT, guid, log)

    async def handle(self, plugin: str, event: Event) -> None:
        """Run `plugin`'s handler for `event` (nothing if it has none), as the hook would."""
        handler = REGISTRY[plugin].handler_for(event)
        if handler is not None:
            await handler(self.agent(plugin, event.guid), event)


@pytest.fixture
async def world(
    start_sim: StartSim, start_proxy: StartProxy, start_server: StartServer, tmp_path: Path
) -> AsyncIterator[World]:
    """ghsim (webhooks to a receiver that answers 200) behind ghproxy, a bot client, a job store."""
    load_all()

    def receiver() -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", _ok)
        return app

    hooks = start_server(receiver)
    # GitHub's secondary limits are raised: these tests are about plugins, not about pacing (ghproxy's tests are).
    sim = start_sim(
        min_mutation_interval_s=0, points_per_minute=60_000, secondary_retry_after_s=1, webhook_url=f"{hooks.url}/hook"
    )
    proxy = start_proxy(sim.url, mutation_interval_s=0, points_per_minute=60_000)
    made = World(sim.url, proxy.url, tmp_path)
    made.gh = GitHubClient(proxy.url, TokenAuth(f"sim_{BOT}"), "hook", backoff_s=0.01)
    made.jobs = JobStore(tmp_path / "jobs.db")
    try:
        yield made
    finally:
        await made.gh.close()
        made.jobs.close()


async def _ok(_: web.Request) -> web.Response:
    return web.Response(text="ok")
