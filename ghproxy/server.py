"""The aiohttp applications: the proxy itself, and the metrics and health endpoints on their own ports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from ghproxy import guard, responses
from ghproxy.apptokens import Equalizer, SharedTokens
from ghproxy.cache.build import build_store, prune_periodically
from ghproxy.cache.redis import connect, parse_address
from ghproxy.cache.tiered import TieredStore
from ghproxy.engine import Engine
from ghproxy.metrics import CONTENT_TYPE, Metrics
from ghproxy.settings import Settings
from ghproxy.throttle.driver import Budgets, LocalBudgets, Throttle
from ghproxy.throttle.shared import RedisBudgets
from ghproxy.upstream import Upstream, parse_upstream

log = logging.getLogger("ghproxy")


@dataclass
class Readiness:
    """Ready once the proxy serves, not ready again once shutdown starts (so load balancers drain it)."""

    ready: bool = False


SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
READINESS = web.AppKey("readiness", Readiness)
ENGINE = web.AppKey("engine", Engine)
STORE = web.AppKey("store", TieredStore)


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[METRICS].render(), headers={"Content-Type": CONTENT_TYPE})


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="OK")


async def _ready(request: web.Request) -> web.Response:
    if request.app[READINESS].ready:
        return web.Response(text="OK")
    return web.Response(status=503, text="not ready")


@web.middleware
async def refuse_bad_targets(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse CONNECT, absolute-form and host-naming targets before routing: nothing reaches another host."""
    refusal = guard.check(request.method, request.raw_path)
    if refusal is None:
        return await handler(request)
    request.app[METRICS].refusals.inc(str(refusal.status))
    log.info("refused", extra={"method": request.method, "status": refusal.status, "reason": refusal.message})
    return responses.error(refusal.status, refusal.message)


def make_app(settings: Settings, metrics: Metrics | None = None, readiness: Readiness | None = None) -> web.Application:
    """The proxy application. Resources (the upstream session, the store) live in its cleanup context."""
    parse_upstream(settings.upstream)  # fail before binding a port
    app = web.Application(
        middlewares=[refuse_bad_targets],
        client_max_size=0,
        handler_args={"max_field_size": 16 * 1024, "max_line_size": 16 * 1024},
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics or Metrics()
    app[READINESS] = readiness or Readiness()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:  # whatever was opened is closed, also if setup fails
            store = build_store(settings, app[METRICS])
            stack.push_async_callback(store.close)
            app[STORE] = store
            pruner = asyncio.create_task(prune_periodically(store, settings.prune_interval))
            stack.callback(pruner.cancel)
            upstream = Upstream(
                settings.upstream, timeout=settings.request_timeout, connections=settings.upstream_connections
            )
            stack.push_async_callback(upstream.close)
            await upstream.start()
            limits = settings.limits()
            budgets: Budgets = LocalBudgets(limits)
            if settings.redis_address:
                # replicas sharing Redis share each token's budget; a dead Redis means local decisions (1/N share)
                shared = RedisBudgets(
                    settings.redis_address,
                    limits,
                    username=settings.redis_username or None,
                    password=settings.redis_password or None,
                )
                stack.push_async_callback(shared.close)
                await shared.start()
                budgets = shared
            throttle = Throttle(budgets, limits, settings.concurrency, app[METRICS])
            equalizer = None
            if settings.app_token_reuse != "off":
                redis = None
                if settings.redis_address:
                    redis = connect(
                        parse_address(settings.redis_address),
                        username=settings.redis_username or None,
                        password=settings.redis_password or None,
                        socket_timeout=0.25,
                        socket_connect_timeout=0.25,
                        max_connections=8,
                        pool_timeout=0.25,
                    )
                    stack.push_async_callback(redis.aclose)
                    if settings.app_token_key is None:
                        log.info(
                            "app installation tokens are shared through Redis unsealed: give every replica "
                            "the same --app-token-key-file to seal them"
                        )
                shared_tokens = SharedTokens(redis, settings.app_token_key, time.time)
                equalizer = Equalizer(
                    settings.app_token_reuse, settings.app_token_min_remaining_s, upstream, app[METRICS], shared_tokens
                )
            app[ENGINE] = Engine(settings, store, upstream, app[METRICS], throttle, equalizer)
            app[READINESS].ready = True
            stack.callback(setattr, app[READINESS], "ready", False)
            yield

    app.cleanup_ctx.append(resources)

    async def proxy(request: web.Request) -> web.StreamResponse:
        return await request.app[ENGINE].handle(request)

    if settings.metrics_on_main_port:
        app.router.add_get("/metrics", _metrics)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app


def make_metrics_app(metrics: Metrics) -> web.Application:
    app = web.Application()
    app[METRICS] = metrics
    app.router.add_get("/metrics", _metrics)
    return app


def make_health_app(readiness: Readiness) -> web.Application:
    app = web.Application()
    app[READINESS] = readiness
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/healthz/ready", _ready)
    return app


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the proxy, metrics and health servers until SIGTERM/SIGINT (or `stop`), then drain in-flight requests."""
    metrics = Metrics()
    readiness = Readiness()
    app = make_app(settings, metrics, readiness)
    runners: list[web.AppRunner] = []

    async def start(application: web.Application, port: int, shutdown_timeout: float = 1.0) -> None:
        # handler_cancellation: a client that goes away cancels its handler, so it leaves the throttle's queue
        runner = web.AppRunner(
            application, shutdown_timeout=shutdown_timeout, access_log=None, handler_cancellation=True
        )
        await runner.setup()
        await web.TCPSite(runner, settings.host, port, reuse_address=True, reuse_port=settings.reuse_port).start()
        runners.append(runner)

    # The main runner drains for up to --request-timeout, as Go ghproxy does on shutdown.
    await start(app, settings.port, shutdown_timeout=settings.request_timeout)
    if settings.metrics_port:
        await start(make_metrics_app(metrics), settings.metrics_port)
    if settings.health_port:
        await start(make_health_app(readiness), settings.health_port)
    log.info(
        "ghproxy serving",
        extra={
            "port": settings.port,
            "upstream": settings.upstream,
            "metrics_port": settings.metrics_port,
            "health_port": settings.health_port,
        },
    )

    if stop is None:  # run as a program: SIGTERM (Kubernetes) and SIGINT (a terminal) start the drain
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down: draining in-flight requests", extra={"timeout_s": settings.request_timeout})
        readiness.ready = False
        for runner in runners:
            await runner.cleanup()
        log.info("ghproxy stopped")
