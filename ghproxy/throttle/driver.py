"""The throttle's driver: asks the model (locally or in Redis) when a request may go, and does the waiting.

Waiting is a plain cancellable sleep, so a client that goes away leaves the queue at once. Concurrency per token is
bounded by a semaphore (`--concurrency`, as in Go ghproxy); time spent waiting for it counts against the max delay.
Mutations of one token go out one at a time, each spaced from the previous one's answer (`model.mutation_finished`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from cachetools import LRUCache

from ghproxy.metrics import Metrics
from ghproxy.throttle import model
from ghproxy.throttle.model import Blocked, Budget, Decision, Go, Limits, Refuse, Request, Wait

log = logging.getLogger("ghproxy.throttle")


class Budgets(Protocol):
    """Where token budgets live: this process (`LocalBudgets`) or Redis, shared by replicas."""

    async def decide(self, token: str, r: Request, now: float) -> Decision: ...

    async def finished(self, token: str, r: Request, now: float) -> None:
        """The request's answer arrived (mutations are spaced from their answers)."""

    async def learn(
        self, token: str, r: Request, status: int, headers: dict[str, str], body: bytes, now: float
    ) -> None:
        """Record GitHub's answer (blocks after secondary limits, exhausted primary limits)."""


class LocalBudgets:
    """Budgets in this process: exact for one replica; Redis-shared budgets fall back to these when Redis fails."""

    def __init__(self, limits: Limits, max_tokens: int = 100_000) -> None:
        self.limits = limits
        self._budgets: LRUCache[str, Budget] = LRUCache(maxsize=max_tokens)

    def budget(self, token: str) -> Budget:
        return self._budgets.get(token) or Budget()

    async def decide(self, token: str, r: Request, now: float) -> Decision:
        decision = model.admit(self.budget(token), r, now, self.limits)
        if isinstance(decision, Go):
            self._budgets[token] = decision.budget
        return decision

    async def finished(self, token: str, r: Request, now: float) -> None:
        if r.mutative:
            self._budgets[token] = model.mutation_finished(self.budget(token), now, self.limits)

    async def learn(
        self, token: str, r: Request, status: int, headers: dict[str, str], body: bytes, now: float
    ) -> None:
        before = self.budget(token)
        after = model.after_answer(before, r, status, headers, body, now, self.limits)
        if after != before:
            self._budgets[token] = after


@dataclass(slots=True)
class Admitted:
    """A request may go now; `done()` when its answer arrived (or it failed)."""

    throttle: Throttle
    token: str
    request: Request
    semaphore: asyncio.Semaphore
    mutation_lock: asyncio.Lock | None
    waited: float
    finished: bool = False

    async def done(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.semaphore.release()
        try:
            await self.throttle.budgets.finished(self.token, self.request, time.time())
        except Exception as exc:  # a shared store that failed must not fail the answer
            log.warning("recording a finished request failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        finally:
            if self.mutation_lock is not None:
                self.mutation_lock.release()


class Throttle:
    def __init__(self, budgets: Budgets, limits: Limits, concurrency: int, metrics: Metrics) -> None:
        self.budgets = budgets
        self.limits = limits
        self.concurrency = concurrency
        self.metrics = metrics
        self._slots: LRUCache[str, asyncio.Semaphore] = LRUCache(maxsize=100_000)
        self._mutation_locks: LRUCache[str, asyncio.Lock] = LRUCache(maxsize=100_000)

    async def admit(self, token: str, token_label: str, r: Request) -> Admitted | Refuse | Blocked:
        """Wait for this request's turn; a refusal or block comes back at once instead."""
        started = time.time()
        max_delay = self.limits.max_delay_v4 if r.api is model.Api.GRAPHQL else self.limits.max_delay
        lock: asyncio.Lock | None = None
        if r.mutative and self.limits.secondary:
            lock = self._mutation_locks.get(token)
            if lock is None:
                lock = self._mutation_locks[token] = asyncio.Lock()
            if not await self._acquire(lock, max_delay):
                self.metrics.throttle_refusals.labels(token_label, "max-delay").inc()
                return Refuse(retry_after=max(1.0, self.limits.mutation_interval))
        try:
            admitted = await self._admit(token, token_label, r, started, max_delay, lock)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        if lock is not None and not isinstance(admitted, Admitted):
            lock.release()
        return admitted

    async def _admit(
        self, token: str, token_label: str, r: Request, started: float, max_delay: float, lock: asyncio.Lock | None
    ) -> Admitted | Refuse | Blocked:
        decision = await self.budgets.decide(token, r, time.time())
        while isinstance(decision, Wait):  # another replica's mutation of this token is in flight
            if decision.until - started > max_delay:
                decision = Refuse(retry_after=max(1.0, decision.until - started))
                break
            self.metrics.pending_outbound.inc()
            try:
                await asyncio.sleep(max(0.0, decision.until - time.time()))
            finally:
                self.metrics.pending_outbound.dec()
            decision = await self.budgets.decide(token, r, time.time())
        if isinstance(decision, Refuse | Blocked):
            reason = decision.reason if isinstance(decision, Blocked) else "max-delay"
            self.metrics.throttle_refusals.labels(token_label, reason).inc()
            return decision
        if decision.start_at - started > max_delay:
            self.metrics.throttle_refusals.labels(token_label, "max-delay").inc()
            return Refuse(retry_after=decision.start_at - started)
        self.metrics.pending_outbound.inc()
        try:
            delay = decision.start_at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            slots = self._slots.get(token)
            if slots is None:
                slots = self._slots[token] = asyncio.Semaphore(self.concurrency)
        finally:
            self.metrics.pending_outbound.dec()
        if not await self._acquire(slots, max_delay - (time.time() - started)):
            self.metrics.throttle_refusals.labels(token_label, "concurrency").inc()
            return Refuse(retry_after=1.0)
        waited = time.time() - started
        self.metrics.wait_duration.labels(token_label, "mutation" if r.mutative else "read", r.api.value).observe(
            waited
        )
        return Admitted(self, token, r, slots, lock, waited)

    async def _acquire(self, primitive: asyncio.Lock | asyncio.Semaphore, within: float) -> bool:
        """Acquire `within` seconds; the uncontended case costs no task and no timer (the hot path)."""
        # Semaphore.locked() also counts queued waiters; Lock.locked() does not, so a Lock always takes the timed path.
        if isinstance(primitive, asyncio.Semaphore) and not primitive.locked():
            await primitive.acquire()
            return True
        self.metrics.pending_outbound.inc()
        try:
            async with asyncio.timeout(max(0.0, within)):  # unlike wait_for, never drops a cancellation
                await primitive.acquire()
            return True
        except TimeoutError:
            return False
        finally:
            self.metrics.pending_outbound.dec()

    async def learn(self, token: str, r: Request, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            await self.budgets.learn(token, r, status, headers, body, time.time())
        except Exception as exc:  # a shared store that failed must not fail the answer the client is waiting for
            log.warning("recording the answer in the throttle failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        if model.secondary_limited(status, headers, body):
            log.warning("GitHub answered with a secondary rate limit", extra={"status": status})
