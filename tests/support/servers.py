"""Run real aiohttp servers on 127.0.0.1 for tests.

Synchronous GitHub clients (PyGithub, ghapi) block the calling thread, so the servers they talk to run on an event
loop of their own in a background thread. Each server binds port 0 and reports the port it got.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

AppFactory = Callable[[], web.Application | Awaitable[web.Application]]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ThreadedServer:
    """An aiohttp application served from its own thread and event loop."""

    factory: AppFactory
    port: int = 0
    shutdown_timeout: float = 5.0
    loop: asyncio.AbstractEventLoop = field(init=False)
    app: web.Application = field(init=False)
    _runner: web.AppRunner = field(init=False)
    _thread: threading.Thread = field(init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadedServer:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        errors: list[BaseException] = []

        async def boot() -> None:
            made = self.factory()
            self.app = await made if isinstance(made, Awaitable) else made
            self._runner = web.AppRunner(
                self.app, shutdown_timeout=self.shutdown_timeout, access_log=None, handler_cancellation=True
            )
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            await site.start()
            sockets = self._runner.addresses
            self.port = sockets[0][1]

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(boot())
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"server-{id(self)}", daemon=True)
        self._thread.start()
        ready.wait(30)
        if errors:
            raise errors[0]
        return self

    def call(self, coro: Awaitable[object], timeout: float = 30) -> object:
        """Run a coroutine on the server's loop (to read or change its state) and return its result."""

        async def wrap() -> object:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result(timeout)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(self.shutdown_timeout + 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextmanager
def serve(factory: AppFactory, port: int = 0) -> Iterator[ThreadedServer]:
    server = ThreadedServer(factory, port=port).start()
    try:
        yield server
    finally:
        server.stop()
