"""hook's HTTP side: `POST /hook` (validated in Prow's order, queued durably before the 200), `/plugin-help`,
`/queue`, health; and `Hook`, everything opened before serving so bad flags or files fail before a port is bound.

Unlike Prow's hook, which handles an event in memory after answering, the delivery is committed to the queue before
the answer, so an event GitHub saw accepted is handled even if hook dies the next instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp
from aiohttp import web

from prow_lite.config import ConfigAgent, ConfigError
from prow_lite.db import StoreError
from prow_lite.github import AppAuth, Auth, GitHubClientError, TokenAuth
from prow_lite.github.protocol import check_endpoint
from prow_lite.hook.clients import GitHubClients
from prow_lite.hook.dispatch import Dispatcher, delivery_key
from prow_lite.hook.help import help_json, help_text
from prow_lite.hook.queue import Delivery, DeliveryQueue
from prow_lite.hook.secrets import SecretError, SecretFile
from prow_lite.hook.webhook import ACCEPTED, DELIVERY, EVENT, Accepted, check_body, check_request
from prow_lite.hook.workers import RetryPolicy, Workers
from prow_lite.jobs import JobStore
from prow_lite.plugins.base import REGISTRY, Plugin, load_all

log = logging.getLogger("prow_lite.hook")

MAX_PAYLOAD = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB


class HookError(Exception):
    """hook cannot start: the message names the flag or file to fix."""


@dataclass(frozen=True, slots=True)
class HookSettings:
    config_path: str
    github_endpoint: str
    hmac_secret_file: str = "/etc/webhook/hmac"
    job_config_path: str | None = None
    plugin_config: str | None = None
    github_token_path: str | None = None
    github_app_id: str | None = None
    github_app_private_key_path: str | None = None
    data_dir: str = ""
    host: str = "0.0.0.0"
    port: int = 8787
    webhook_path: str = "/hook"
    dry_run: bool = False
    grace_period_s: float = 180.0
    event_concurrency: int = 8
    event_attempts: int = 5
    event_retry_backoff_s: float = 2.0
    event_retention_s: float = 7 * 24 * 3600.0
    external_timeout_s: float = 10.0
    config_reload_s: float = 5.0
    log_level: str = "info"


class Hook:
    """What hook opens before serving: secrets, config, GitHub credentials, the data directory and its stores.

    `open()` raises HookError with one line naming the flag or file at fault. One hook owns a data directory (a
    lock file keeps a second one out; the kernel drops the lock when the process dies, even by kill -9).
    """

    def __init__(
        self,
        settings: HookSettings,
        secrets: SecretFile,
        configs: ConfigAgent,
        auth: Auth | None,
        app_auth: Callable[[str], AppAuth] | None,
        queue: DeliveryQueue,
        jobs: JobStore,
        lock: IO[bytes],
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.configs = configs
        self.auth = auth
        self.app_auth = app_auth
        self.queue = queue
        self.jobs = jobs
        self._lock = lock

    @classmethod
    def open(cls, settings: HookSettings, registry: Mapping[str, Plugin] | None = None) -> Hook:
        plugins = load_all() if registry is None else registry
        try:
            secrets = SecretFile(settings.hmac_secret_file)
        except SecretError as exc:
            raise HookError(f"--hmac-secret-file: {exc}") from exc
        try:
            configs = ConfigAgent(settings.config_path, settings.job_config_path, settings.plugin_config)
        except ConfigError as exc:
            raise HookError("; ".join(exc.problems)) from exc
        unknown = [
            f"{settings.plugin_config}: plugins.{key}: unknown plugin {name!r}"
            for key, entry in configs.plugins.plugins.items()
            for name in entry.plugins
            if name not in plugins
        ]
        if unknown:
            raise HookError(f"{'; '.join(unknown)} (this prow_lite has: {', '.join(sorted(plugins))})")
        try:
            check_endpoint(settings.github_endpoint)
        except GitHubClientError as exc:
            raise HookError(f"--github-endpoint: {exc}") from exc
        auth, app_auth = _credentials(settings)
        data_dir = Path(settings.data_dir)
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            lock = (data_dir / "hook.lock").open("ab")
        except OSError as exc:
            raise HookError(f"--data-dir: cannot use {data_dir}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            lock.close()
            raise HookError(f"--data-dir: another prow-lite hook is using {data_dir}") from exc
        try:
            queue = DeliveryQueue(data_dir / "queue.db")
        except StoreError as exc:
            lock.close()
            raise HookError(f"--data-dir: {exc}") from exc
        try:
            jobs = JobStore(data_dir / "jobs.db")
        except StoreError as exc:
            queue.close()
            lock.close()
            raise HookError(f"--data-dir: {exc}") from exc
        return cls(settings, secrets, configs, auth, app_auth, queue, jobs, lock)

    def close(self) -> None:
        self.jobs.close()
        self.queue.close()
        self._lock.close()


def _credentials(settings: HookSettings) -> tuple[Auth | None, Callable[[str], AppAuth] | None]:
    if settings.github_app_id:
        if not settings.github_app_private_key_path:
            raise HookError("--github-app-id needs --github-app-private-key-path")
        try:
            pem = Path(settings.github_app_private_key_path).read_bytes()
        except OSError as exc:
            raise HookError(f"--github-app-private-key-path: cannot read {exc.filename}: {exc.strerror}") from exc
        app_id = settings.github_app_id
        try:
            AppAuth(app_id, pem, org="-")  # checks the key now; the real ones are made per org when first needed
        except GitHubClientError as exc:
            raise HookError(f"--github-app-private-key-path: {exc}") from exc
        return None, lambda org: AppAuth(app_id, pem, org=org)
    if not settings.github_token_path:
        raise HookError("give --github-token-path, or --github-app-id and --github-app-private-key-path")
    try:
        return TokenAuth.from_file(settings.github_token_path), None
    except GitHubClientError as exc:
        raise HookError(f"--github-token-path: {exc}") from exc


HOOK = web.AppKey("hook", Hook)
WORKERS = web.AppKey("workers", Workers)
REGISTRY_KEY = web.AppKey("registry", dict[str, Plugin])


def make_app(hook: Hook, registry: Mapping[str, Plugin] | None = None) -> web.Application:
    """The hook application; it owns `hook` from now on and closes it when it is cleaned up."""
    settings = hook.settings
    app = web.Application(client_max_size=MAX_PAYLOAD)
    app[HOOK] = hook
    plugins: dict[str, Plugin] = dict(REGISTRY if registry is None else registry)
    app[REGISTRY_KEY] = plugins

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(hook.close)
            session = aiohttp.ClientSession()
            stack.push_async_callback(session.close)
            clients = GitHubClients(
                settings.github_endpoint, session, auth=hook.auth, app=hook.app_auth, dry_run=settings.dry_run
            )
            stack.push_async_callback(clients.close)
            hook.configs.start_watching(settings.config_reload_s)
            stack.push_async_callback(hook.configs.stop)
            dispatcher = Dispatcher(
                configs=lambda: hook.configs.current,
                clients=clients,
                jobs=hook.jobs,
                secrets=hook.secrets,
                session=session,
                registry=plugins,
                external_timeout_s=settings.external_timeout_s,
            )
            workers = Workers(
                hook.queue,
                dispatcher,
                concurrency=settings.event_concurrency,
                policy=RetryPolicy(settings.event_attempts, settings.event_retry_backoff_s),
                retention_s=settings.event_retention_s,
            )
            app[WORKERS] = workers
            await workers.start()
            stack.push_async_callback(workers.stop, settings.grace_period_s)
            yield

    app.cleanup_ctx.append(resources)
    app.router.add_route("*", settings.webhook_path, _webhook)
    app.router.add_get("/plugin-help", _plugin_help)
    app.router.add_get("/queue", _queue)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/healthz/ready", _healthz)
    return app


async def _webhook(request: web.Request) -> web.Response:
    hook = request.app[HOOK]
    rejected = check_request(request.method, request.headers)
    if rejected is None:
        body = await request.read()
        result = check_body(request.headers, body, hook.secrets.current)
        if isinstance(result, Accepted):
            return await _accept(request, result, body)
        rejected = result
    log.info("webhook refused: %s", rejected.message, extra={"status": rejected.status})
    # Go's http.Error: the message and a newline, as plain text
    return web.Response(
        status=rejected.status, text=rejected.message + "\n", headers={"X-Content-Type-Options": "nosniff"}
    )


async def _accept(request: web.Request, accepted: Accepted, body: bytes) -> web.Response:
    headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-github-")}
    headers.setdefault(EVENT, accepted.event_type)
    headers.setdefault(DELIVERY, accepted.guid)
    delivery = Delivery(
        guid=accepted.guid,
        event_type=accepted.event_type,
        key=delivery_key(accepted.event_type, accepted.guid, accepted.payload),
        payload=body,
        headers=headers,
        received_at=time.time(),
    )
    # the delivery is on disk before GitHub hears it was received
    queued = await request.app[WORKERS].submit(delivery)
    log.info(
        "webhook queued" if queued else "webhook already received, ignored",
        extra={"event_type": delivery.event_type, "guid": delivery.guid, "key": delivery.key},
    )
    return web.Response(text=ACCEPTED)


async def _plugin_help(request: web.Request) -> web.Response:
    plugins = request.app[HOOK].configs.plugins
    registry = request.app[REGISTRY_KEY]
    wants_text = request.query.get("format") == "text" or (
        "text/plain" in request.headers.get("Accept", "")
        and "application/json" not in request.headers.get("Accept", "")
    )
    if wants_text:
        return web.Response(text=help_text(plugins, registry, request.query.get("repo") or None))
    return web.json_response(help_json(plugins, registry))


async def _queue(request: web.Request) -> web.Response:
    """Counts by state and the latest failed deliveries with their errors."""
    workers = request.app[WORKERS]
    loop = asyncio.get_running_loop()
    counts = await loop.run_in_executor(None, workers.queue.counts)
    failed = await loop.run_in_executor(None, workers.queue.failed)
    return web.json_response(
        {
            "counts": counts,
            "failed": [
                {"guid": f.guid, "event_type": f.event_type, "key": f.key, "attempts": f.attempts, "error": f.error}
                for f in failed
            ],
        }
    )


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="OK")


async def serve(hook: Hook, registry: Mapping[str, Plugin] | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or `stop`): then stop listening, answer requests in flight, let running
    deliveries finish (up to the grace period) and leave the rest queued for the next start."""
    settings = hook.settings
    app = make_app(hook, registry)
    runner = web.AppRunner(app, shutdown_timeout=10.0, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port, reuse_address=True).start()
    except OSError as exc:
        await runner.cleanup()
        raise HookError(f"--port: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from exc
    log.info(
        "hook serving",
        extra={
            "port": settings.port,
            "path": settings.webhook_path,
            "github_endpoint": settings.github_endpoint,
            "data_dir": settings.data_dir,
            "dry_run": settings.dry_run,
            "pid": os.getpid(),
        },
    )
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("hook shutting down: finishing running deliveries, the rest stay queued")
        await runner.cleanup()
        log.info("hook stopped")
