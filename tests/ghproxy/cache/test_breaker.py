"""The tier circuit breaker, as a table of events."""

from __future__ import annotations

from ghproxy.cache.breaker import Breaker, Decision, decide, failed, succeeded


def test_closed_calls_and_a_few_failures_stay_closed() -> None:
    b = Breaker(threshold=3, cooldown=5)
    b = failed(failed(b, 0), 0)
    assert decide(b, 0)[0] is Decision.CALL


def test_opens_after_threshold_and_skips_during_cooldown() -> None:
    b = Breaker(threshold=3, cooldown=5)
    for _ in range(3):
        b = failed(b, 10)
    assert b.is_open
    assert decide(b, 12)[0] is Decision.SKIP
    assert decide(b, 14.9)[0] is Decision.SKIP


def test_one_probe_after_cooldown() -> None:
    b = Breaker(threshold=1, cooldown=5)
    b = failed(b, 0)
    decision, b = decide(b, 5)
    assert decision is Decision.PROBE
    assert decide(b, 5.1)[0] is Decision.SKIP  # others do not pile onto a maybe-dead backend


def test_successful_probe_closes() -> None:
    b = Breaker(threshold=1, cooldown=5)
    _, b = decide(failed(b, 0), 6)
    b = succeeded(b)
    assert not b.is_open and decide(b, 6)[0] is Decision.CALL


def test_failed_probe_reopens_for_another_cooldown() -> None:
    b = Breaker(threshold=2, cooldown=5)
    b = failed(failed(b, 0), 0)
    _, b = decide(b, 5)
    b = failed(b, 5)
    assert decide(b, 9)[0] is Decision.SKIP
    assert decide(b, 10)[0] is Decision.PROBE
