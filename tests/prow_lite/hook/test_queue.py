"""The durable queue on real SQLite files, the per-key schedule, the retry policy and the workers driving them."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from prow_lite.db import StoreError
from prow_lite.hook.queue import Delivery, DeliveryQueue, Schedule, State, Ticket
from prow_lite.hook.workers import Outcome, RetryPolicy, Workers


def delivery(guid: str, key: str = "org0/repo0#1", received_at: float = 1.0) -> Delivery:
    return Delivery(guid, "issue_comment", key, b'{"x": 1}', {"X-GitHub-Delivery": guid}, received_at)


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[DeliveryQueue]:
    q = DeliveryQueue(tmp_path / "queue.db")
    yield q
    q.close()


def test_put_refuses_a_guid_seen_before_in_any_state(queue: DeliveryQueue) -> None:
    first = queue.put(delivery("a"))
    assert first is not None and first.guid == "a"
    assert queue.put(delivery("a", key="other")) is None
    queue.finish("a", attempts=1, now=5)
    assert queue.put(delivery("a")) is None
    assert queue.counts() == {"queued": 0, "done": 1, "failed": 0}


def test_rows_survive_reopening_with_their_state(tmp_path: Path) -> None:
    q = DeliveryQueue(tmp_path / "queue.db")
    for guid in "abcd":
        q.put(delivery(guid, key=f"k{guid in 'ab'}"))
    q.finish("a", attempts=1, now=2)
    q.retry("c", attempts=1, not_before=50, error="boom", done_steps=frozenset({"0:x"}))
    q.fail("d", attempts=5, error="gave up", done_steps=frozenset(), now=3)
    q.close()  # what a kill -9 leaves is the same file: every commit above was durable when it returned
    q = DeliveryQueue(tmp_path / "queue.db")
    assert [(t.guid, t.key, t.not_before) for t in q.queued()] == [("b", "kTrue", 0.0), ("c", "kFalse", 50.0)]
    loaded = q.load("c")
    assert loaded is not None
    assert (loaded.attempts, loaded.done_steps, loaded.payload, dict(loaded.headers)) == (
        1, frozenset({"0:x"}), b'{"x": 1}', {"X-GitHub-Delivery": "c"},
    )  # fmt: skip
    assert q.state_of("d") is State.FAILED
    [failed] = q.failed()
    assert (failed.guid, failed.attempts, failed.error) == ("d", 5, "gave up")
    q.close()


def test_prune_removes_only_finished_rows_older_than_the_cutoff(queue: DeliveryQueue) -> None:
    for guid in "abc":
        queue.put(delivery(guid))
    queue.finish("a", attempts=1, now=10)
    queue.fail("b", attempts=3, error="x", done_steps=frozenset(), now=30)
    assert queue.prune(before=20) == 1
    assert queue.load("a") is None and queue.load("b") is not None and queue.load("c") is not None
    assert queue.put(delivery("a")) is not None  # forgotten after the retention period


def test_a_queue_from_another_version_is_refused(tmp_path: Path) -> None:
    DeliveryQueue(tmp_path / "q.db").close()
    conn = sqlite3.connect(tmp_path / "q.db")
    conn.execute("PRAGMA user_version=7")
    conn.close()
    with pytest.raises(StoreError, match="event queue schema version 7"):
        DeliveryQueue(tmp_path / "q.db")


def test_schedule_runs_a_key_one_at_a_time_in_order() -> None:
    s = Schedule()
    tickets = [Ticket(i, f"g{i}", key) for i, key in enumerate(["a", "a", "b", "a", "c", "b"])]
    for t in tickets:
        s.add(t)
    first = s.take(now=0, limit=10)
    assert [t.guid for t in first] == ["g0", "g2", "g4"]  # the head of each key, oldest first
    assert s.take(now=0, limit=10) == []  # every key is busy
    s.release(first[0])
    assert [t.guid for t in s.take(now=0, limit=10)] == ["g1"]
    s.release(first[1], retry_at=5.0)  # b's head waits for its retry; b's later ticket waits behind it
    assert s.take(now=1, limit=10) == []
    assert s.next_due() == 5.0
    assert [t.guid for t in s.take(now=5, limit=10)] == ["g2"]
    assert len(s) == 6 - 1


def test_schedule_respects_the_limit_and_keeps_order_of_late_adds() -> None:
    s = Schedule()
    for i in (3, 1, 2):
        s.add(Ticket(i, f"g{i}", "k"))
    s.add(Ticket(4, "g4", "j"))
    assert [t.guid for t in s.take(now=0, limit=1)] == ["g1"]
    assert [t.guid for t in s.take(now=0, limit=0)] == []
    assert [t.guid for t in s.take(now=0, limit=5)] == ["g4"]


@pytest.mark.parametrize(
    ("attempts", "outcome", "verdict", "at"),
    [
        (1, Outcome(frozenset()), "done", 100.0),
        (1, Outcome(frozenset(), "x"), "retry", 102.0),
        (2, Outcome(frozenset(), "x"), "retry", 104.0),
        (4, Outcome(frozenset(), "x"), "retry", 110.0),  # capped
        (5, Outcome(frozenset(), "x"), "fail", 100.0),
        (1, Outcome(frozenset(), "bad payload", retry=False), "fail", 100.0),
    ],
)
def test_retry_policy(attempts: int, outcome: Outcome, verdict: str, at: float) -> None:
    policy = RetryPolicy(max_attempts=5, backoff_s=2.0, backoff_max_s=10.0)
    assert policy.decide(attempts, outcome, 100.0) == (verdict, at)


async def test_workers_finish_retry_and_fail(queue: DeliveryQueue) -> None:
    seen: list[tuple[str, int, frozenset[str]]] = []

    async def handler(d: Delivery) -> Outcome:
        seen.append((d.guid, d.attempts, d.done_steps))
        if d.guid == "retry" and d.attempts == 0:
            return Outcome(frozenset({"0:a"}), "0:b failed")
        if d.guid == "bad":
            return Outcome(frozenset(), "no", retry=False)
        if d.guid == "raise":
            raise ValueError("surprise")
        return Outcome(d.done_steps | {"0:b"})

    workers = Workers(queue, handler, policy=RetryPolicy(max_attempts=2, backoff_s=0.01))
    await workers.start()
    for guid in ("ok", "retry", "bad", "raise"):
        assert await workers.submit(delivery(guid, key=guid))
    assert not await workers.submit(delivery("ok", key="ok"))
    await workers.wait_idle()
    await workers.stop(1.0)
    assert ("retry", 1, frozenset({"0:a"})) in seen  # the retry knew which step was already done
    assert queue.state_of("ok") is State.DONE and queue.state_of("retry") is State.DONE
    assert queue.state_of("bad") is State.FAILED
    raised = next(f for f in queue.failed() if f.guid == "raise")
    assert (raised.attempts, raised.error) == (2, "ValueError: surprise")


async def test_stop_leaves_what_did_not_run_queued_and_start_replays_it(queue: DeliveryQueue) -> None:
    release = asyncio.Event()
    ran: list[str] = []

    async def slow(d: Delivery) -> Outcome:
        await release.wait()
        ran.append(d.guid)
        return Outcome(frozenset())

    workers = Workers(queue, slow, concurrency=1)
    await workers.start()
    for guid in "abc":
        await workers.submit(delivery(guid, key=guid))
    await asyncio.sleep(0.05)
    release.set()  # "a" is running and may finish within the grace period; b and c never start
    await workers.stop(grace_s=1.0)
    assert ran == ["a"]
    assert [t.guid for t in queue.queued()] == ["b", "c"]

    again = Workers(queue, slow)
    assert await again.start() == 2
    await again.wait_idle()
    await again.stop(1.0)
    assert sorted(ran) == ["a", "b", "c"]
