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
    """In-flight exchanges by flight key, and the clients waiting for each.

    A served answer stays joinable while clients that waited for it are still being answered: waking a thousand
    waiters takes the event loop a while, and identical requests read from the sockets meanwhile arrived during the
    exchange just as much as the others did. Once the last waiter has its answer the flight is gone, so a client
    that asks again after receiving its answer always revalidates. `window` (`--coalesce-window-ms`, off by default)
    keeps served answers joinable that many seconds longer; GitHub marks them cacheable for 60 s (`max-age=60`).
    """

    def __init__(self, window: float = 0.0) -> None:
        self.window = window
        self._flights: dict[str, asyncio.Task[Result]] = {}
        self._waiters: dict[str, int] = {}
        self._landed_at: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def joinable(self, key: str) -> asyncio.Task[Result] | None:
        task = self._flights.get(key)
        if task is None or not task.done():
            return task
        if _shareable_after_landing(task) and (
            self._waiters.get(key, 0) > 0 or time.monotonic() - self._landed_at.get(key, 0.0) <= self.window
        ):
            return task
        self._forget(key, task)
        return None

    def start(self, key: str, exchange: Callable[[], Awaitable[Result]]) -> asyncio.Task[Result]:
        task: asyncio.Task[Result] = asyncio.ensure_future(exchange())
        self._flights[key] = task
        task.add_done_callback(lambda t: self._landed(key, t))
        return task

    async def wait(self, key: str, task: asyncio.Task[Result]) -> Result:
        """Await a shared exchange without cancelling it for the others if this waiter's client goes away.

        When the last waiter goes before the answer, the exchange is cancelled too (a request nobody waits for
        leaves the throttle's queue). A streaming answer nobody took is released so its connection is not leaked.
        """
        self._waiters[key] = self._waiters.get(key, 0) + 1
        cancelled = False
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            left = self._waiters.get(key, 1) - 1
            if left > 0:
                self._waiters[key] = left
            else:
                self._waiters.pop(key, None)
                if cancelled:
                    # the last waiter left: nobody will stream an answer too big to share, so release it
                    task.add_done_callback(_release_unclaimed)
                if not task.done():
                    task.cancel()
                elif self.window <= 0:
                    self._forget(key, task)

    def _landed(self, key: str, task: asyncio.Task[Result]) -> None:
        if self._flights.get(key) is not task:
            return
        if not _shareable_after_landing(task):
            self._forget(key, task)
        elif self.window > 0:
            self._landed_at[key] = time.monotonic()
            asyncio.get_running_loop().call_later(self.window, self._expire, key, task)
        elif self._waiters.get(key, 0) == 0:
            self._forget(key, task)

    def _expire(self, key: str, task: asyncio.Task[Result]) -> None:
        if self._waiters.get(key, 0) == 0:
            self._forget(key, task)
        else:
            self._landed_at[key] = 0.0  # the last waiter forgets it

    def _forget(self, key: str, task: asyncio.Task[Result]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
            self._landed_at.pop(key, None)


def _shareable_after_landing(task: asyncio.Task[Result]) -> bool:
    """Only a served answer is shared after landing (never an error, never a stream someone is reading)."""
    return not task.cancelled() and task.exception() is None and isinstance(task.result(), Served)


def _release_unclaimed(task: asyncio.Task[Result]) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        result = task.result()
        if isinstance(result, Streaming):
            result.upstream.release()
