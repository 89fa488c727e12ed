"""The throttle's driver: asks the model (locally or in Redis) when a request may go, and does the waiting.

Waiting is a plain cancellable sleep, so a client that goes away leaves the queue at once. Concurrency per token is
bounded by a semaphore (`--concurrency`, as in Go ghproxy); time spent waiting for it counts against the max delay.
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
from ghproxy.throttle.model import Blocked, Budget, Decision, Go, Limits, Refuse, Request

log = logging.getLogger("ghproxy.throttle")


class Budgets(Protocol):
    """Where token budgets live: this process (`LocalBudgets`) or Redis, shared by replicas."""

    async def decide(self, token: str, r: Request, now: float) -> Decision: ...

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

    async def learn(
        self, token: str, r: Request, status: int, headers: dict[str, str], body: bytes, now: float
    ) -> None:
        before = self.budget(token)
        after = model.after_answer(before, r, status, headers, body, now, self.limits)
        if after != before:
            self._budgets[token] = after


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request may go now; `release()` when its upstream exchange is over."""

    semaphore: asyncio.Semaphore
    waited: float

    def release(self) -> None:
        self.semaphore.release()


class Throttle:
    def __init__(self, budgets: Budgets, limits: Limits, concurrency: int, metrics: Metrics) -> None:
        self.budgets = budgets
        self.limits = limits
        self.concurrency = concurrency
        self.metrics = metrics
        self._slots: LRUCache[str, asyncio.Semaphore] = LRUCache(maxsize=100_000)

    async def admit(self, token: str, token_label: str, r: Request) -> Admitted | Refuse | Blocked:
        """Wait for this request's turn; a refusal or block comes back at once instead."""
        started = time.time()
        decision = await self.budgets.decide(token, r, started)
        if isinstance(decision, Refuse | Blocked):
            reason = decision.reason if isinstance(decision, Blocked) else "max-delay"
            self.metrics.throttle_refusals.labels(token_label, reason).inc()
            return decision
        self.metrics.pending_outbound.inc()
        try:
            if decision.start_at > started:
                await asyncio.sleep(decision.start_at - started)
            slots = self._slots.get(token)
            if slots is None:
                slots = self._slots[token] = asyncio.Semaphore(self.concurrency)
            max_delay = self.limits.max_delay_v4 if r.api is model.Api.GRAPHQL else self.limits.max_delay
            remaining = max_delay - (time.time() - started)
            try:
                await asyncio.wait_for(slots.acquire(), timeout=max(0.0, remaining))
            except TimeoutError:
                self.metrics.throttle_refusals.labels(token_label, "concurrency").inc()
                return Refuse(retry_after=1.0)
        finally:
            self.metrics.pending_outbound.dec()
        waited = time.time() - started
        self.metrics.wait_duration.labels(token_label, "mutation" if r.mutative else "read", r.api.value).observe(
            waited
        )
        return Admitted(slots, waited)

    async def learn(self, token: str, r: Request, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            await self.budgets.learn(token, r, status, headers, body, time.time())
        except Exception as exc:  # a shared store that failed must not fail the answer the client is waiting for
            log.warning("recording the answer in the throttle failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        if model.secondary_limited(status, headers, body):
            log.warning("GitHub answered with a secondary rate limit", extra={"status": status})
