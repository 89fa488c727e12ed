"""Identical concurrent GETs share one upstream exchange.

Requests that arrive while an identical one is in flight (or within a short window after its answer landed) wait
for it instead of going upstream themselves. The exchange runs as a task of its own, so the client that started it can go away without cancelling it for the
others. Flights are keyed by the cache key plus a hash of the requester's own `Authorization`: callers that share a
budget identifier (and so a cache partition) but hold different tokens never share an answer GitHub gave another token.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from ghproxy.exchange import Result, Served, Streaming


class Flights:
    """In-flight exchanges by flight key; optionally a served answer stays joinable `window` seconds after it lands.

    The window (`--coalesce-window-ms`, off by default, so every reuse is revalidated) is for bursts longer than
    GitHub's answer time: without it, the tail of a burst revalidates again (free, but one request each). GitHub
    marks these answers cacheable for 60 s (`max-age=60`).
    """

    def __init__(self, window: float = 0.0) -> None:
        self.window = window
        self._flights: dict[str, asyncio.Task[Result]] = {}
        self._landed_at: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def joinable(self, key: str) -> asyncio.Task[Result] | None:
        task = self._flights.get(key)
        if task is None or not task.done():
            return task
        if time.monotonic() - self._landed_at.get(key, 0.0) <= self.window and _shareable_after_landing(task):
            return task
        self._forget(key, task)
        return None

    def start(self, key: str, exchange: Callable[[], Awaitable[Result]]) -> asyncio.Task[Result]:
        task: asyncio.Task[Result] = asyncio.ensure_future(exchange())
        self._flights[key] = task
        task.add_done_callback(lambda t: self._landed(key, t))
        return task

    def _landed(self, key: str, task: asyncio.Task[Result]) -> None:
        if self._flights.get(key) is not task:
            return
        if self.window > 0 and _shareable_after_landing(task):
            self._landed_at[key] = time.monotonic()
            asyncio.get_running_loop().call_later(self.window, self._forget, key, task)
        else:
            self._forget(key, task)

    def _forget(self, key: str, task: asyncio.Task[Result]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
            self._landed_at.pop(key, None)


def _shareable_after_landing(task: asyncio.Task[Result]) -> bool:
    """Only a served answer is shared after landing (never an error, never a stream someone is reading)."""
    return not task.cancelled() and task.exception() is None and isinstance(task.result(), Served)


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
