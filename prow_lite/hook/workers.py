"""`Workers`: runs queued deliveries through a handler, at most `concurrency` at once, retrying failures.

A delivery's handler reports which steps (plugin calls, external forwards) succeeded; a failed delivery is retried
after an exponential backoff running only the steps that failed, and after `max_attempts` it is marked failed with
its error. Deliveries of one key wait while an earlier one of that key is retried: their order is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Literal, ParamSpec, TypeVar

from prow_lite.hook.queue import RETENTION_S, Delivery, DeliveryQueue, Schedule, Ticket

log = logging.getLogger("prow_lite.hook.workers")

P = ParamSpec("P")
T = TypeVar("T")
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What running a delivery did: the steps done so far and, if some failed, why."""

    done_steps: frozenset[str]
    error: str = ""
    retry: bool = True  # False when another attempt cannot help (a malformed payload)


Handler = Callable[[Delivery], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_s: float = 2.0
    backoff_max_s: float = 300.0

    def decide(self, attempts: int, outcome: Outcome, now: float) -> tuple[Literal["done", "retry", "fail"], float]:
        """After attempt number `attempts`: finish, retry at the returned time, or give up."""
        if not outcome.error:
            return "done", now
        if not outcome.retry or attempts >= self.max_attempts:
            return "fail", now
        return "retry", now + min(self.backoff_max_s, self.backoff_s * 2 ** (attempts - 1))


class Workers:
    """The queue's runner: owns the schedule, the worker tasks and the thread the database calls run in."""

    def __init__(
        self,
        queue: DeliveryQueue,
        handler: Handler,
        *,
        concurrency: int = 8,
        policy: RetryPolicy = RetryPolicy(),
        retention_s: float = RETENTION_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.concurrency = concurrency
        self.policy = policy
        self.retention_s = retention_s
        self.clock = clock
        self._schedule = Schedule()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._finished = asyncio.Event()  # set whenever a delivery task ends
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prow-lite-queue")

    async def _db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, partial(fn, *args, **kwargs))

    async def start(self) -> int:
        """Load what a previous run left queued and start running; returns how many deliveries that was."""
        pending = await self._db(self.queue.queued)
        for ticket in pending:
            self._schedule.add(ticket)
        if pending:
            log.info("replaying %d queued deliveries left by a previous run", len(pending))
        self._loop_task = asyncio.create_task(self._run(), name="prow-lite-workers")
        return len(pending)

    async def submit(self, delivery: Delivery) -> bool:
        """Queue a delivery durably; False when its delivery id was queued before (nothing changes)."""
        ticket = await self._db(self.queue.put, delivery)
        if ticket is None:
            return False
        self._schedule.add(ticket)
        self._wake.set()
        return True

    async def wait_idle(self) -> None:
        """Until nothing is queued or running (deliveries held back by a retry delay count as queued)."""
        while len(self._schedule) or self._tasks:
            self._finished.clear()
            await self._finished.wait()

    async def stop(self, grace_s: float) -> None:
        """Start nothing new; give running deliveries `grace_s` to finish, then cancel them (they stay queued)."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace_s)
            for task in late:
                task.cancel()
            if late:
                log.warning("%d deliveries still running after %.0fs; they stay queued", len(late), grace_s)
                await asyncio.wait(late)
        self._db_thread.shutdown(wait=True)

    async def _run(self) -> None:
        next_prune = 0.0
        while True:
            self._wake.clear()
            if self._stopping:
                return
            now = self.clock()
            if now >= next_prune:
                next_prune = now + PRUNE_EVERY_S
                pruned = await self._db(self.queue.prune, before=now - self.retention_s)
                if pruned:
                    log.info("pruned %d finished deliveries older than %.0fs", pruned, self.retention_s)
            for ticket in self._schedule.take(now, self.concurrency - len(self._tasks)):
                task = asyncio.create_task(self._work(ticket), name=f"delivery-{ticket.guid}")
                self._tasks.add(task)
                task.add_done_callback(self._ended)
            due = self._schedule.next_due()
            timeout = min(next_prune, due if due is not None else next_prune) - self.clock()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, timeout))

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._finished.set()

    async def _work(self, ticket: Ticket) -> None:
        retry_at: float | None = None
        try:
            delivery = await self._db(self.queue.load, ticket.guid)
            if delivery is None:
                return
            try:
                outcome = await self.handler(delivery)
            except Exception as exc:
                log.exception("delivery %s: handler raised", delivery.guid)
                outcome = Outcome(delivery.done_steps, f"{type(exc).__name__}: {exc}")
            attempts = delivery.attempts + 1
            verdict, when = self.policy.decide(attempts, outcome, self.clock())
            if verdict == "done":
                await self._db(self.queue.finish, delivery.guid, attempts=attempts, now=when)
            elif verdict == "retry":
                log.warning(
                    "delivery %s (%s, %s) attempt %d failed, retrying in %.2fs: %s",
                    delivery.guid, delivery.event_type, delivery.key, attempts, when - self.clock(), outcome.error,
                )  # fmt: skip
                await self._db(
                    self.queue.retry, delivery.guid, attempts=attempts, not_before=when, error=outcome.error,
                    done_steps=outcome.done_steps,
                )  # fmt: skip
                retry_at = when
            else:
                log.error(
                    "delivery %s (%s, %s) failed after %d attempts: %s",
                    delivery.guid, delivery.event_type, delivery.key, attempts, outcome.error,
                )  # fmt: skip
                await self._db(
                    self.queue.fail, delivery.guid, attempts=attempts, error=outcome.error,
                    done_steps=outcome.done_steps, now=when,
                )  # fmt: skip
        finally:
            if not self._stopping:
                self._schedule.release(ticket, retry_at=retry_at)
            self._wake.set()
