"""Token budgets shared by every replica through Redis, so replicas together respect one token's limits.

Each budget is stored as JSON under `ghproxy:v1:throttle:<token>` with a TTL. Updates are atomic without a second
implementation of the rules: the pure model computes the new budget in Python and a Lua compare-and-set writes it only
if the key still holds the bytes it was computed from (else it returns what the key holds now, and we compute again).
The first attempt uses the bytes this replica last saw, so a token used by one replica costs one round trip per
decision; a token shared with other replicas costs two (the guess is stale, the script returns the current value).

When Redis fails or is slow the replica decides with a `LocalBudgets` holding a conservative share of the limits:
points and content limits divided by the number of live replicas, spacings multiplied by it. Replicas register in a
sorted set (score: last heartbeat), which gives that number while Redis works. A circuit breaker keeps a dead Redis
from costing each request a timeout; a heartbeat that reaches Redis again closes it. What a replica decided and learnt
alone is merged into the shared budget when Redis is back, so a block learnt during an outage reaches the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import fields, replace
from typing import Any, TypeVar

from cachetools import LRUCache
from redis.exceptions import RedisError

from ghproxy.cache import breaker
from ghproxy.cache.breaker import Breaker
from ghproxy.cache.redis import DEFAULT_PREFIX, DEFAULT_TIMEOUT, RedisAddress, connect, parse_address
from ghproxy.errors import ConfigError
from ghproxy.throttle import model
from ghproxy.throttle.driver import LocalBudgets
from ghproxy.throttle.model import Budget, Decision, Go, Limits, Request

log = logging.getLogger("ghproxy.throttle")

T = TypeVar("T")

DEFAULT_TTL = 2 * 3600.0  # an idle token's budget is back to full long before this
DEFAULT_ATTEMPTS = 20
DEFAULT_HEARTBEAT = 5.0
DEFAULT_REPLICA_TTL = 15.0  # a replica silent for three heartbeats is gone
_TTL_MARGIN = 60.0  # a budget blocked past the TTL keeps its key until the block is over, and this much longer
# The model needs a positive refill after its burst: per-minute points above 5 / 0.98, content counts above 1 / 0.98.
_MIN_POINTS = 10
_MIN_CONTENT = 2

_FLOATS = tuple(f.name for f in fields(Budget) if f.name != "exhausted")

# KEYS[1]: budget key. ARGV: the value the new one was computed from ('' for none), the new value, TTL milliseconds.
# Returns {1, ''} when written, else {0, <what the key holds now>}.
_COMPARE_AND_SET = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then
    return {0, current}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return {1, ''}
"""

_REDIS_FAILURES = (RedisError, OSError, TimeoutError)


class _Contended(Exception):
    """Other replicas kept changing the budget for every attempt: decide locally this once (Redis itself works)."""


def dumps(b: Budget) -> bytes:
    """Compact JSON: only the fields that differ from an empty budget."""
    data: dict[str, Any] = {name: getattr(b, name) for name in _FLOATS if getattr(b, name)}
    if b.exhausted:
        data["exhausted"] = [[resource, reset] for resource, reset in b.exhausted]
    return json.dumps(data, separators=(",", ":")).encode()


def loads(data: bytes) -> Budget | None:
    """The budget in `data` (b'' is an empty one); None when it is not a budget this version wrote."""
    if not data:
        return Budget()
    try:
        raw = json.loads(data)
        values = {name: float(raw.pop(name, 0.0)) for name in _FLOATS}
        exhausted = tuple((str(resource), float(reset)) for resource, reset in raw.pop("exhausted", ()))
    except (ValueError, TypeError, AttributeError):
        return None
    if raw:
        return None
    return Budget(**values, exhausted=exhausted)


def merge(a: Budget, b: Budget) -> Budget:
    """The stricter of two budgets: every time field the later, every exhausted resource blocked the longer."""
    resets = dict(a.exhausted)
    for resource, reset in b.exhausted:
        resets[resource] = max(reset, resets.get(resource, reset))
    values = {name: max(getattr(a, name), getattr(b, name)) for name in _FLOATS}
    return Budget(**values, exhausted=tuple(resets.items()))


def share(limits: Limits, replicas: int) -> Limits:
    """One replica's conservative share of `limits` when `replicas` decide without each other."""
    n = max(1, replicas)
    if n == 1:
        return limits
    return replace(
        limits,
        points_per_minute=max(_MIN_POINTS, limits.points_per_minute // n),
        points_per_minute_v4=max(_MIN_POINTS, limits.points_per_minute_v4 // n),
        content_per_minute=max(_MIN_CONTENT, limits.content_per_minute // n),
        content_per_hour=max(_MIN_CONTENT, limits.content_per_hour // n),
        mutation_interval=limits.mutation_interval * n,
        get_spacing=limits.get_spacing * n,
        write_spacing=limits.write_spacing * n,
        v4_spacing=limits.v4_spacing * n,
    )


def _ttl_ms(b: Budget, now: float, ttl: float) -> int:
    horizon: float = max([getattr(b, name) for name in _FLOATS if name != "backoff"] + [r for _, r in b.exhausted])
    return max(1, math.ceil(max(ttl, horizon - now + _TTL_MARGIN) * 1000))


class _Fallback(LocalBudgets):
    """`LocalBudgets` that can be told the last shared state of a token, so an outage starts from it."""

    def remember(self, token: str, b: Budget) -> None:
        self._budgets[token] = b


class RedisBudgets:
    """The `Budgets` protocol over Redis, shared by every replica using the same Redis and prefix.

    `timeout` bounds each whole shared operation (all its round trips); past it, or on any Redis failure, the
    operation is decided locally. `breaker` is the circuit breaker's initial state (threshold and cooldown).
    `heartbeat` is how often the replica registers itself and counts the others; `replica_ttl` how long a silent
    replica is still counted. Call `close()` at shutdown (it also deregisters the replica).
    """

    def __init__(
        self,
        address: str | RedisAddress,
        limits: Limits,
        *,
        username: str | None = None,
        password: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        ttl: float = DEFAULT_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = 50,
        attempts: int = DEFAULT_ATTEMPTS,
        heartbeat: float = DEFAULT_HEARTBEAT,
        replica_ttl: float = DEFAULT_REPLICA_TTL,
        breaker_state: Breaker | None = None,
        replica_id: str | None = None,
        max_tokens: int = 100_000,
    ) -> None:
        if not (ttl > 0 and timeout > 0 and heartbeat > 0 and replica_ttl > 0):
            raise ConfigError("the shared throttle's TTL, timeout, heartbeat and replica TTL must be positive seconds")
        if attempts < 1:
            raise ConfigError(f"the shared throttle needs at least one attempt per update, got {attempts}")
        self.address = parse_address(address) if isinstance(address, str) else address
        self.limits = limits
        self.prefix = prefix
        self.ttl = ttl
        self.timeout = timeout
        self.attempts = attempts
        self.heartbeat = heartbeat
        self.replica_ttl = replica_ttl
        self.replica_id = replica_id or secrets.token_hex(8)
        self.replicas = 1  # live replicas (this one included) when Redis last answered
        self.replicas_key = prefix + "replicas"
        self._breaker = breaker_state or Breaker(threshold=2, cooldown=5.0)
        self._redis = connect(
            self.address,
            username=username,
            password=password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            max_connections=max_connections,
            pool_timeout=timeout,
        )
        self._cas = self._redis.register_script(_COMPARE_AND_SET)
        self._fallback = _Fallback(limits, max_tokens)
        self._seen: LRUCache[str, bytes] = LRUCache(maxsize=max_tokens)  # the value last read or written per token
        self._dirty: LRUCache[str, bool] = LRUCache(maxsize=max_tokens)  # changed locally during an outage
        # One update per token at a time in this replica: concurrent ones would only make each other retry.
        self._locks: LRUCache[str, asyncio.Lock] = LRUCache(maxsize=max_tokens)
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._closed = False
        self.round_trips = 0  # Redis commands sent for budgets (not heartbeats): for benchmarks and tests

    def key(self, token: str) -> str:
        return f"{self.prefix}throttle:{token}"

    @property
    def shared(self) -> bool:
        """Whether decisions currently go to Redis (the breaker is closed)."""
        return not self._breaker.is_open

    @property
    def fallback_limits(self) -> Limits:
        return share(self.limits, self.replicas)

    async def start(self) -> None:
        """Register this replica now (not only at the first heartbeat) and start the heartbeat."""
        await self._beat()
        self._start_heartbeat()

    async def decide(self, token: str, r: Request, now: float) -> Decision:
        def step(b: Budget) -> tuple[Budget, Decision]:
            decision = model.admit(b, r, now, self.limits)
            return (decision.budget if isinstance(decision, Go) else b), decision

        return await self._run(token, now, step, lambda: self._fallback.decide(token, r, now))

    async def finished(self, token: str, r: Request, now: float) -> None:
        if not r.mutative:
            return

        def step(b: Budget) -> tuple[Budget, None]:
            return model.mutation_finished(b, now, self.limits), None

        await self._run(token, now, step, lambda: self._fallback.finished(token, r, now))

    async def learn(
        self, token: str, r: Request, status: int, headers: dict[str, str], body: bytes, now: float
    ) -> None:
        def step(b: Budget) -> tuple[Budget, None]:
            return model.after_answer(b, r, status, headers, body, now, self.limits), None

        await self._run(token, now, step, lambda: self._fallback.learn(token, r, status, headers, body, now))

    async def close(self) -> None:
        """Stop the heartbeat, deregister this replica (best effort) and disconnect."""
        if self._closed:
            return
        self._closed = True
        if self._heartbeat_task is not None:
            # The loop also stops on `_closed`: redis-py can swallow a cancellation that lands mid-command.
            self._heartbeat_task.cancel()
            await asyncio.wait([self._heartbeat_task], timeout=self.timeout * 2)
        with contextlib.suppress(*_REDIS_FAILURES):
            async with asyncio.timeout(self.timeout):
                await self._redis.zrem(self.replicas_key, self.replica_id)
        await self._redis.aclose()

    async def _run(
        self,
        token: str,
        now: float,
        step: Callable[[Budget], tuple[Budget, T]],
        local: Callable[[], Awaitable[T]],
    ) -> T:
        """`step` applied atomically to the shared budget, or `local()` when Redis cannot be used."""
        self._start_heartbeat()
        call, self._breaker = breaker.decide(self._breaker, time.monotonic())
        if call is not breaker.Decision.SKIP:
            done = False
            held = asyncio.Event()  # set once this update holds the token's lock
            try:
                async with asyncio.timeout(self.timeout):
                    result = await self._update(token, now, step, held)
                done = True
                self._succeeded()
                return result
            except _Contended:
                done = True
                self._succeeded()
                log.warning("throttle budget contended in Redis; deciding locally once", extra={"token": token})
            except _REDIS_FAILURES as exc:
                done = True
                if held.is_set():
                    self._failed(exc)
                # else: timed out queueing behind this replica's other updates of the token; theirs count
            finally:
                if not done and call is breaker.Decision.PROBE:  # cancelled: let another request probe
                    self._breaker = replace(self._breaker, probing=False)
        self._fallback.limits = self.fallback_limits
        self._dirty[token] = True
        return await local()

    async def _update(
        self, token: str, now: float, step: Callable[[Budget], tuple[Budget, T]], held: asyncio.Event | None = None
    ) -> T:
        lock = self._locks.get(token)
        if lock is None:
            lock = self._locks[token] = asyncio.Lock()
        async with lock:
            if held is not None:
                held.set()
            return await self._compare_and_set(token, now, step)

    async def _compare_and_set(self, token: str, now: float, step: Callable[[Budget], tuple[Budget, T]]) -> T:
        key = self.key(token)
        data = self._seen.get(token)  # a guess until Redis confirms it
        confirmed = False
        dirty = token in self._dirty
        for attempt in range(self.attempts):
            if data is None:
                self.round_trips += 1
                value = await self._redis.get(key)
                data = value if isinstance(value, bytes) else b""  # None: no budget yet
                confirmed = True
            stored = loads(data)
            base = Budget() if stored is None else stored
            start = merge(base, self._fallback.budget(token)) if dirty else base
            after, result = step(start)
            if after == base and stored is not None:
                if confirmed:
                    self._fallback.remember(token, base)
                    self._dirty.pop(token, None)
                    return result
                data = None  # nothing to write, but the guess is unconfirmed: read what Redis holds
                continue
            written = dumps(after)
            self.round_trips += 1
            ok, current = await self._cas(keys=[key], args=[data, written, _ttl_ms(after, now, self.ttl)])
            if ok:
                self._seen[token] = written
                self._fallback.remember(token, after)
                self._dirty.pop(token, None)
                return result
            data, confirmed = bytes(current), True
            if attempt:
                await asyncio.sleep(random.random() * 0.002)
        raise _Contended(token)

    def _succeeded(self) -> None:
        if self._breaker.is_open:
            log.info("Redis is back: throttle budgets are shared again", extra={"redis": str(self.address)})
        self._breaker = breaker.succeeded(self._breaker)

    def _failed(self, exc: BaseException) -> None:
        was_open = self._breaker.is_open
        self._breaker = breaker.failed(self._breaker, time.monotonic())
        if self._breaker.is_open and not was_open:
            log.warning(
                "Redis failed: throttling locally with a conservative share of each token's limits",
                extra={
                    "redis": str(self.address),
                    "replicas": self.replicas,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )

    def _start_heartbeat(self) -> None:
        if self._heartbeat_task is None and not self._closed:
            self._heartbeat_task = asyncio.create_task(self._heartbeats(), name=f"throttle heartbeat {self.replica_id}")

    async def _heartbeats(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.heartbeat)
            if not self._closed:
                await self._beat()

    async def _beat(self) -> None:
        """Register this replica, drop silent ones and count the live ones: one round trip (MULTI/EXEC)."""
        now = time.time()
        try:
            async with asyncio.timeout(self.timeout):
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.zadd(self.replicas_key, {self.replica_id: now})
                    pipe.zremrangebyscore(self.replicas_key, "-inf", now - self.replica_ttl)
                    pipe.zcard(self.replicas_key)
                    pipe.expire(self.replicas_key, math.ceil(self.replica_ttl * 4))
                    replies = await pipe.execute()
        except _REDIS_FAILURES as exc:
            self._failed(exc)
            return
        self.replicas = max(1, int(replies[2]))
        self._succeeded()
        if self._dirty:
            await self._flush(now)

    async def _flush(self, now: float) -> None:
        """Merge what was decided and learnt locally during an outage into the shared budgets (a block, above all)."""

        def keep(b: Budget) -> tuple[Budget, None]:
            return b, None

        for token in list(self._dirty):
            try:
                async with asyncio.timeout(self.timeout):
                    await self._update(token, now, keep)
            except _Contended:
                continue  # its next decision merges it
            except _REDIS_FAILURES as exc:
                self._failed(exc)
                return
