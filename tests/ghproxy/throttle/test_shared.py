"""Budgets shared by replicas through a real redis-server: merged, they schedule exactly as one local budget.

Every replica here is a `RedisBudgets` in this process, on its own connection pool, deciding concurrently.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
from collections.abc import AsyncIterator, Callable

import pytest

from ghproxy.cache.breaker import Breaker
from ghproxy.throttle.driver import LocalBudgets
from ghproxy.throttle.model import Blocked, Budget, Decision, Go, Limits, Refuse, Wait, classify
from ghproxy.throttle.shared import RedisBudgets, dumps, loads, merge, share
from tests.support.redis import RedisServer

TOKEN = "0123abcd"
T0 = 1_700_000_000.0
LIMITS = Limits(points_per_minute=120)  # small, so a few hundred requests hit it
GET = classify("GET", "/repos/o/r")
SEARCH = classify("GET", "/search/issues")
PATCH = classify("PATCH", "/repos/o/r/issues/1")
SECONDARY = {"retry-after": "60", "x-ratelimit-remaining": "4000"}

Make = Callable[..., RedisBudgets]


@pytest.fixture
async def make(redis_server: RedisServer) -> AsyncIterator[Make]:
    """Replicas on `redis_server` (or another server), all closed when the test ends."""
    made: list[RedisBudgets] = []

    def build(server: RedisServer = redis_server, **options: object) -> RedisBudgets:
        kwargs: dict[str, object] = {"heartbeat": 0.1, "breaker_state": Breaker(threshold=2, cooldown=0.5)}
        kwargs.update(options)
        budgets = RedisBudgets(server.url, LIMITS, **kwargs)  # type: ignore[arg-type]
        made.append(budgets)
        return budgets

    yield build
    for budgets in made:
        await budgets.close()


def outcome(d: Decision) -> tuple[str, float]:
    if isinstance(d, Go):
        return "go", d.start_at
    if isinstance(d, Refuse):
        return "refuse", d.retry_after
    if isinstance(d, Wait):
        return "wait", d.until
    return d.reason, d.until


def most_in_a_minute(starts: list[float]) -> int:
    starts = sorted(starts)
    return max(bisect.bisect_left(starts, s + 60.0) - i for i, s in enumerate(starts))


# The shared schedule


async def test_replicas_merged_schedule_reads_as_one_local_budget(make: Make, redis_server: RedisServer) -> None:
    replicas = [make() for _ in range(3)]
    local = LocalBudgets(LIMITS)
    merged: list[Decision] = []
    expected: list[Decision] = []
    before = redis_server.client().info("commandstats")
    for batch in range(50):  # 300 GETs, six at a time from three replicas, faster than the budget refills
        now = T0 + batch * 1.2
        merged += await asyncio.gather(*(b.decide(TOKEN, GET, now) for b in replicas for _ in range(2)))
        expected += [await local.decide(TOKEN, GET, now) for _ in range(6)]
    assert sorted(map(outcome, merged)) == sorted(map(outcome, expected))
    starts = [d.start_at for d in merged if isinstance(d, Go)]
    assert 100 < len(starts) < 300  # the budget was hit: some were refused
    assert most_in_a_minute(starts) <= LIMITS.points_per_minute
    after = redis_server.client().info("commandstats")
    commands = sum(
        after[name]["calls"] - before.get(name, {"calls": 0})["calls"] for name in ("cmdstat_get", "cmdstat_evalsha")
    )
    print(f"3 replicas contending: {commands / len(merged):.2f} round trips per decision")


async def test_one_replica_decides_in_one_round_trip(make: Make) -> None:
    budgets = make()
    for i in range(100):
        assert isinstance(await budgets.decide(TOKEN, GET, T0 + i), Go)
    assert budgets.round_trips == 101  # the first reads the budget; the others compare-and-set what they wrote


async def test_merged_mutations_are_spaced(make: Make) -> None:
    """Replicas deciding at once: one mutation goes, the others wait for its answer, then the next is spaced."""
    replicas = [make() for _ in range(3)]
    starts: list[float] = []
    for batch in range(20):
        now = T0 + batch * 2.0
        decisions = await asyncio.gather(*(b.decide(TOKEN, PATCH, now) for b in replicas))
        went = [(b, d) for b, d in zip(replicas, decisions, strict=True) if isinstance(d, Go)]
        assert len(went) == 1 and sum(isinstance(d, Wait) for d in decisions) == 2
        budgets, go = went[0]
        assert isinstance(go, Go)
        starts.append(go.start_at)
        await budgets.finished(TOKEN, PATCH, go.start_at + 0.1)  # its answer, 0.1 s later
    assert min(y - x for x, y in itertools.pairwise(starts)) >= LIMITS.mutation_interval - 1e-9


async def test_a_finished_mutation_spaces_the_next_on_another_replica(make: Make) -> None:
    a, b = make(), make()
    assert isinstance(await a.decide(TOKEN, PATCH, T0), Go)
    await a.finished(TOKEN, PATCH, T0 + 3.0)  # the answer came three seconds later
    decision = await b.decide(TOKEN, PATCH, T0 + 3.0)
    assert isinstance(decision, Go)
    assert decision.start_at == T0 + 3.0 + LIMITS.mutation_interval


# What GitHub said, learnt by one replica


async def test_a_secondary_limit_learnt_by_one_replica_blocks_the_others(make: Make) -> None:
    a, b, c = make(), make(), make()
    await a.learn(TOKEN, GET, 403, SECONDARY, b"", T0)
    assert await b.decide(TOKEN, GET, T0 + 1) == Blocked("secondary", T0 + 60)
    assert await c.decide(TOKEN, PATCH, T0 + 59) == Blocked("secondary", T0 + 60)
    assert isinstance(await c.decide(TOKEN, GET, T0 + 60), Go)


async def test_an_exhausted_primary_limit_blocks_its_resource_on_the_others(make: Make) -> None:
    a, b = make(), make()
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(T0 + 600), "x-ratelimit-resource": "core"}
    await a.learn(TOKEN, GET, 200, headers, b"", T0)
    assert await b.decide(TOKEN, GET, T0 + 1) == Blocked("primary", T0 + 600)
    assert isinstance(await b.decide(TOKEN, SEARCH, T0 + 1), Go)  # another resource


# Storage


async def test_budget_keys_expire(make: Make, redis_server: RedisServer) -> None:
    budgets = make()
    client = redis_server.client()
    now = time.time()
    decision = await budgets.decide(TOKEN, GET, now)
    assert isinstance(decision, Go)
    key = f"ghproxy:v1:throttle:{TOKEN}"
    assert loads(client.get(key)) == decision.budget
    assert 7_000_000 < client.pttl(key) <= 7_200_000
    await budgets.learn(TOKEN, GET, 403, {"retry-after": "10800"}, b"", now)  # blocked longer than the TTL
    assert client.pttl(key) > 10_800_000


async def test_a_damaged_budget_is_replaced(make: Make, redis_server: RedisServer) -> None:
    redis_server.client().set(f"ghproxy:v1:throttle:{TOKEN}", b"\x00not json")
    assert isinstance(await make().decide(TOKEN, GET, T0), Go)
    assert loads(redis_server.client().get(f"ghproxy:v1:throttle:{TOKEN}")) is not None


def test_serialisation_round_trips_exactly() -> None:
    budget = Budget(points=T0 + 0.1234567, blocked_until=T0 + 60, exhausted=(("core", T0 + 1.5),))
    assert loads(dumps(budget)) == budget
    assert dumps(Budget()) == b"{}"
    assert loads(b'{"unknown":1}') is None


def test_merge_keeps_the_stricter_of_each_field() -> None:
    a = Budget(points=T0 + 5, exhausted=(("core", T0 + 10),))
    b = Budget(points=T0 + 1, blocked_until=T0 + 60, exhausted=(("core", T0 + 20), ("search", T0 + 5)))
    assert merge(a, b) == Budget(
        points=T0 + 5, blocked_until=T0 + 60, exhausted=(("core", T0 + 20), ("search", T0 + 5))
    )


# Replicas


async def test_replicas_count_each_other(make: Make, redis_server: RedisServer) -> None:
    a, b, c = make(), make(), make()
    for budgets in (a, b, c):
        await budgets.start()
    assert c.replicas == 3
    redis_server.client().zadd("ghproxy:v1:replicas", {"gone": time.time() - 20})  # silent for 20 s
    await c.close()
    await asyncio.sleep(0.3)
    assert (a.replicas, b.replicas) == (2, 2)
    assert a.fallback_limits == share(LIMITS, 2)
    assert a.fallback_limits.points_per_minute == 60
    assert a.fallback_limits.mutation_interval == 2.0


# Redis failing


async def test_a_dead_redis_leaves_a_conservative_local_share_until_it_is_back(
    make: Make, redis_server: RedisServer
) -> None:
    a, b = make(), make()
    for budgets in (a, b, a):
        await budgets.start()
    assert (a.replicas, b.replicas) == (2, 2)
    redis_server.kill()
    durations = []
    for i in range(40):
        started = time.perf_counter()
        await a.decide("busy", GET, T0 + i)
        durations.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    assert max(durations) < 0.3
    assert sorted(durations)[len(durations) // 2] < 0.005
    assert not a.shared
    # One replica alone schedules as a local budget with half the points and twice the spacing.
    half = LocalBudgets(share(LIMITS, 2))
    alone: list[Decision] = []
    for _ in range(4):  # each mutation's answer arrives as it starts
        alone.append(mine := await a.decide("fresh", PATCH, T0))
        assert mine == await half.decide("fresh", PATCH, T0)
        assert isinstance(mine, Go)
        await a.finished("fresh", PATCH, mine.start_at)
        await half.finished("fresh", PATCH, mine.start_at)
    starts = [d.start_at for d in alone if isinstance(d, Go)]
    assert len(starts) == 4
    assert min(y - x for x, y in itertools.pairwise(starts)) >= 2 * LIMITS.mutation_interval
    # What is learnt alone reaches the others once Redis is back.
    await a.learn(TOKEN, GET, 403, SECONDARY, b"", time.time())
    redis_server.start()
    for _ in range(60):  # the next heartbeats (every 0.1 s) reach Redis and close the breakers
        if a.shared and b.shared:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # a heartbeat after recovery merges the local state
    assert a.shared and b.shared
    assert isinstance(await b.decide(TOKEN, GET, time.time()), Blocked)
    assert isinstance(await b.decide("other", GET, T0), Go)
    assert redis_server.client().exists("ghproxy:v1:throttle:other")


async def test_a_hung_redis_costs_one_timeout_per_cooldown(make: Make, redis_server: RedisServer) -> None:
    budgets = make(breaker_state=Breaker(threshold=2, cooldown=5.0), heartbeat=10.0)
    await budgets.decide(TOKEN, GET, T0)
    redis_server.pause()
    try:
        durations = []
        for i in range(30):
            started = time.perf_counter()
            await budgets.decide(TOKEN, GET, T0 + i)
            durations.append(time.perf_counter() - started)
        assert max(durations) < 0.35
        assert sum(d > 0.1 for d in durations) <= 2  # the breaker opens after two timeouts
    finally:
        redis_server.resume()
    await budgets.start()  # a heartbeat that reaches Redis closes the breaker
    assert budgets.shared
    assert isinstance(await budgets.decide(TOKEN, GET, T0 + 31), Go)
