"""A scripted loopback upstream that records what the client sent, for behaviour ghsim cannot be made to show."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import StartServer
from tests.support.servers import ThreadedServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Seen:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Upstream:
    server: ThreadedServer
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url


MakeUpstream = Callable[[Handler], Upstream]


def github_json(body: Any, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(body, status=status, headers={k.replace("_", "-"): v for k, v in headers.items()})


@pytest.fixture
def upstream(start_server: StartServer) -> MakeUpstream:
    """Start a loopback server answering every request with `handler`, recording each request first."""

    def make(handler: Handler) -> Upstream:
        holder: list[Upstream] = []

        async def record(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            holder[0].seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
            return await handler(request)

        def factory() -> web.Application:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", record)
            return app

        made = Upstream(start_server(factory))
        holder.append(made)
        return made

    return make
