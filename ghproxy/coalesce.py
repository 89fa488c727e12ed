"""Identical concurrent GETs share one upstream exchange.

The exchange runs as a task of its own, so the client that started it can go away without cancelling it for the
others. Flights are keyed by the cache key plus a hash of the requester's own `Authorization`: callers that share a
budget identifier (and so a cache partition) but hold different tokens never share an answer GitHub gave another token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from ghproxy.exchange import Result, Streaming


class Flights:
    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Task[Result]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def joinable(self, key: str) -> asyncio.Task[Result] | None:
        return self._flights.get(key)

    def start(self, key: str, exchange: Callable[[], Awaitable[Result]]) -> asyncio.Task[Result]:
        task: asyncio.Task[Result] = asyncio.ensure_future(exchange())
        self._flights[key] = task
        task.add_done_callback(lambda t: self._landed(key, t))
        return task

    def _landed(self, key: str, task: asyncio.Task[Result]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]


async def wait(task: asyncio.Task[Result]) -> Result:
    """Await a shared exchange without cancelling it if this waiter is cancelled.

    A streaming answer nobody took (its starter went away) is released so its connection is not leaked.
    """
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_release_unclaimed)
        raise


def _release_unclaimed(task: asyncio.Task[Result]) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        result = task.result()
        if isinstance(result, Streaming):
            result.upstream.release()
