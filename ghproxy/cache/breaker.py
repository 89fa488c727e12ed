"""Circuit breaker for a cache tier: pure decisions (state and `now` in, decision and new state out).

After `threshold` consecutive failures the tier is skipped for `cooldown` seconds; then one request probes it. A
successful probe closes the breaker, a failed one opens it for another cooldown. A dead Redis therefore costs one
short timeout per cooldown, not one per request.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Decision(enum.Enum):
    CALL = "call"  # closed: use the tier
    PROBE = "probe"  # cooldown over: this one request tries the tier
    SKIP = "skip"  # open (or another request is probing): treat as a miss


@dataclass(frozen=True, slots=True)
class Breaker:
    threshold: int = 3
    cooldown: float = 5.0
    failures: int = 0
    open_until: float = 0.0
    probing: bool = False

    @property
    def is_open(self) -> bool:
        return self.failures >= self.threshold


def decide(b: Breaker, now: float) -> tuple[Decision, Breaker]:
    if not b.is_open:
        return Decision.CALL, b
    if now < b.open_until or b.probing:
        return Decision.SKIP, b
    return Decision.PROBE, replace(b, probing=True)


def succeeded(b: Breaker) -> Breaker:
    return replace(b, failures=0, open_until=0.0, probing=False)


def failed(b: Breaker, now: float) -> Breaker:
    failures = b.failures + 1
    if failures >= b.threshold:
        return replace(b, failures=failures, open_until=now + b.cooldown, probing=False)
    return replace(b, failures=failures, probing=False)
