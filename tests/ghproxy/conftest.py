"""A scripted upstream: a real aiohttp server on 127.0.0.1 whose answers each test chooses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from multidict import CIMultiDict

from tests.conftest import StartServer
from tests.support.servers import ThreadedServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path_qs: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class Scripted:
    server: ThreadedServer
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def scripted(start_server: StartServer) -> Callable[[Handler], Scripted]:
    """`scripted(handler)` starts an upstream that records every request and answers with `handler`."""

    def start(handler: Handler) -> Scripted:
        holder: list[Scripted] = []

        async def record(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            holder[0].seen.append(Seen(request.method, request.path_qs, CIMultiDict(request.headers), body))
            return await handler(request)

        def factory() -> web.Application:
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", record)
            return app

        scripted = Scripted(start_server(factory))
        holder.append(scripted)
        return scripted

    return start
