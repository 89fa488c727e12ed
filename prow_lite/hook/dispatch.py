"""Running one delivery: its events through the plugins enabled for the repository, then the external plugins.

Plugins run one after another in plugins.yaml order (Prow runs them concurrently; here no two plugins race on one
pull request). Each plugin call and each external forward is a step named `<event index>:<plugin>` or
`external:<name>`; one step failing does not stop the others, and a retry runs only the steps not yet done.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import hdrs

from prow_lite.events import BadPayload, Event, parse, pr_key
from prow_lite.hook.queue import Delivery
from prow_lite.hook.secrets import SecretFile, org_repo_of, sign
from prow_lite.hook.webhook import SIGNATURE
from prow_lite.hook.workers import Outcome
from prow_lite.plugins.base import REGISTRY, Agent, Plugin

if TYPE_CHECKING:
    from prow_lite.config import Config, ExternalPlugin, PluginsConfig
    from prow_lite.hook.clients import GitHubClients
    from prow_lite.jobs import JobStore

log = logging.getLogger("prow_lite.hook")

USER_AGENT = "ProwHook"  # what Prow's hook sends to external plugins


def delivery_key(event_type: str, guid: str, payload: Mapping[str, Any]) -> str:
    """What a delivery is serialised on: its pull request or issue (`org/repo#n`), else its repository or org.

    A payload that does not parse, and one with neither repository nor org, is keyed by itself.
    """
    try:
        events = parse(event_type, guid, payload)
    except BadPayload:
        events = []
    if events:
        return pr_key(events[0])
    return org_repo_of(payload) or f"delivery:{guid}"


class Dispatcher:
    """The queue's handler: a `Delivery` in, an `Outcome` (steps done, errors) out."""

    def __init__(
        self,
        *,
        configs: Callable[[], tuple[Config, PluginsConfig]],
        clients: GitHubClients,
        jobs: JobStore,
        secrets: SecretFile,
        session: aiohttp.ClientSession,
        registry: Mapping[str, Plugin] = REGISTRY,
        handler_timeout_s: float = 300.0,
        external_timeout_s: float = 10.0,
        external_tries: int = 3,
    ) -> None:
        self.configs = configs
        self.clients = clients
        self.jobs = jobs
        self.secrets = secrets
        self.session = session
        self.registry = registry
        self.handler_timeout_s = handler_timeout_s
        self.external_timeout_s = external_timeout_s
        self.external_tries = external_tries
        self._unknown: set[str] = set()

    async def __call__(self, delivery: Delivery) -> Outcome:
        config, plugins = self.configs()
        payload = json.loads(delivery.payload)
        done = set(delivery.done_steps)
        errors: list[str] = []
        retry = True
        try:
            events = parse(delivery.event_type, delivery.guid, payload)
        except BadPayload as exc:
            log.error("delivery %s: %s", delivery.guid, exc)
            errors.append(str(exc))
            retry = False  # the same bytes will not parse next time
            events = []
        for index, event in enumerate(events):
            for name in plugins.enabled_plugins(event.repo.org, event.repo.name):
                step = f"{index}:{name}"
                if step in done:
                    continue
                error = await self._run_plugin(name, event, delivery.guid, config, plugins)
                if error is None:
                    done.add(step)
                else:
                    errors.append(error)
        org_repo = org_repo_of(payload)
        org, _, repo = org_repo.partition("/")
        externals = [
            p
            for p in (plugins.external_plugins_for(org, repo) if org else [])
            if p.wants(delivery.event_type) and f"external:{p.name}" not in done
        ]
        results = await asyncio.gather(*(self._forward(p, delivery, org_repo) for p in externals))
        for external, error in zip(externals, results, strict=True):
            if error is None:
                done.add(f"external:{external.name}")
            else:
                errors.append(error)
                retry = True
        return Outcome(frozenset(done), "; ".join(errors), retry)

    async def _run_plugin(
        self, name: str, event: Event, guid: str, config: Config, plugins: PluginsConfig
    ) -> str | None:
        """Run one plugin's handler for `event`; the error text when it failed."""
        plugin = self.registry.get(name)
        if plugin is None:
            if name not in self._unknown:
                self._unknown.add(name)
                log.warning("plugins.yaml enables %r, which is not a plugin of this prow_lite", name)
            return None
        handler = plugin.handler_for(event)
        if handler is None:
            return None
        adapter = logging.LoggerAdapter(
            logging.getLogger(f"prow_lite.plugins.{name}"), {"plugin": name, "guid": guid, "key": pr_key(event)}
        )
        try:
            async with asyncio.timeout(self.handler_timeout_s):
                gh = self.clients.for_org(event.repo.org)
                agent = Agent(name, gh, config, plugins, self.jobs, await gh.bot_login(), guid, adapter)
                await handler(agent, event)
        except Exception as exc:
            log.exception("delivery %s: plugin %s failed on %s", guid, name, pr_key(event))
            return f"{name}: {type(exc).__name__}: {exc}"
        return None

    async def _forward(self, plugin: ExternalPlugin, delivery: Delivery, org_repo: str) -> str | None:
        """POST the delivery to an external plugin as GitHub sent it, signed again with this repository's secret."""
        tokens = self.secrets.current.tokens_for(org_repo)
        if not tokens:
            return f"external {plugin.name}: no HMAC secret for {org_repo or 'this event'} to sign with"
        headers = {k: v for k, v in delivery.headers.items() if not k.lower().startswith("x-hub-signature")}
        headers[SIGNATURE] = sign(delivery.payload, tokens[-1])  # the last listed: the newest in a rotation
        headers[hdrs.CONTENT_TYPE] = "application/json"
        headers[hdrs.USER_AGENT] = USER_AGENT
        timeout = aiohttp.ClientTimeout(total=self.external_timeout_s)
        problem = ""
        for attempt in range(self.external_tries):
            if attempt:
                await asyncio.sleep(0.1 * 2 ** (attempt - 1))
            try:
                async with self.session.post(
                    plugin.endpoint, data=delivery.payload, headers=headers, timeout=timeout, allow_redirects=False
                ) as resp:
                    body = await resp.read()
                    if 200 <= resp.status < 300:
                        log.info("delivery %s: dispatched to external plugin %s", delivery.guid, plugin.name)
                        return None
                    problem = f"answered {resp.status}: {body[:200].decode('utf-8', 'replace')}"
                    if resp.status < 500:
                        break  # the plugin refused this event; sending it again now will not change that
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
        log.error("delivery %s: external plugin %s at %s %s", delivery.guid, plugin.name, plugin.endpoint, problem)
        return f"external {plugin.name}: {problem}"
