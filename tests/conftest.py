"""Fixtures shared by every test package: real servers on 127.0.0.1."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from ghproxy.server import make_app as make_proxy_app
from ghproxy.settings import Settings
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
