"""Per-token throttling as pure decisions: a token's budget and `now` in, when the request may start out.

The model follows GitHub's documented secondary limits
(docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits):
points per minute (GET/HEAD/OPTIONS 1, other methods 5; 900 a minute for REST, 2000 for GraphQL), at least one
second between mutative requests, 80 content-creating requests a minute and 500 an hour. Go ghproxy's fixed spacing
flags (`--get-throttling-time-ms`, `--throttling-time-ms`, `--throttling-time-v4-ms`) keep their meaning.

Every limit is a GCRA bucket (a "theoretical arrival time", one float): a request is scheduled at the earliest time
every bucket it touches allows, and the buckets advance as if it started then. Scheduling, not rejecting: a request
waits its turn unless that turn is further away than the max delay, and then it is refused at once. One float per
bucket also makes the same computation easy to run atomically in Redis for replicas sharing a token.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field, replace

from aiohttp import hdrs

BURST_SHARE = 0.05
# Requests are scheduled at their start; GitHub counts their arrival, some jitter later. Per-minute budgets are kept
# 2% under the limit for that. Mutations need more: see `mutation_finished`.
BUDGET_MARGIN = 0.98


class Api(enum.StrEnum):
    REST = "v3"
    GRAPHQL = "v4"


@dataclass(frozen=True, slots=True)
class Limits:
    """What the throttle enforces per token; defaults from GitHub's documentation and Go ghproxy's flags."""

    secondary: bool = True  # the model of GitHub's secondary limits
    points_per_minute: int = 900
    points_per_minute_v4: int = 2000
    mutation_interval: float = 1.0
    content_per_minute: int = 80
    content_per_hour: int = 500
    # Go ghproxy's fixed spacing, seconds (0: off). Go applies them only when both REST values are set.
    get_spacing: float = 0.0
    write_spacing: float = 0.0
    v4_spacing: float = 0.0
    max_delay: float = 30.0
    max_delay_v4: float = 30.0
    # How long a mutation counts as in flight if its answer is never recorded (a replica died mid-request).
    mutation_hold: float = 30.0
    # Waiting after a secondary-limit answer without Retry-After: 60 s, then doubling (GitHub's advice).
    first_backoff: float = 60.0
    max_backoff: float = 15 * 60.0


@dataclass(frozen=True, slots=True)
class Request:
    """What the throttle needs to know about one outgoing request."""

    api: Api
    points: int
    mutative: bool
    creates_content: bool
    conditional: bool  # a revalidation: free for the primary limit, but GitHub still counts it in points
    resource: str  # primary-limit resource: core, search, graphql

    @property
    def read(self) -> bool:
        return not self.mutative


_CONTENT = re.compile(r"/(issues|pulls)$|/comments$|/reviews$|/releases$|/discussions$|/forks$|/gists$")


def classify(method: str, path: str, *, conditional: bool = False, graphql_mutation: bool = False) -> Request:
    if path in ("/graphql", "/api/graphql"):
        points = 5 if graphql_mutation else 1
        # a GraphQL mutation may create content (comments, reviews): counted against those limits, conservatively
        return Request(Api.GRAPHQL, points, graphql_mutation, graphql_mutation, False, "graphql")
    mutative = method not in (hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS)
    resource = "code_search" if path == "/search/code" else "search" if path.startswith("/search/") else "core"
    creates = method == hdrs.METH_POST and bool(_CONTENT.search(path))
    return Request(Api.REST, 5 if mutative else 1, mutative, creates, conditional and not mutative, resource)


@dataclass(frozen=True, slots=True)
class Budget:
    """One token's throttle state; every field is a time (unix seconds) or a count, so it serialises trivially."""

    points: float = 0.0  # GCRA arrival time of the REST points bucket
    points_v4: float = 0.0
    mutation: float = 0.0
    content_minute: float = 0.0
    content_hour: float = 0.0
    spacing_get: float = 0.0
    spacing_write: float = 0.0
    spacing_v4: float = 0.0
    mutation_busy: float = 0.0  # a mutation is in flight (possibly on another replica) until its answer, or this
    blocked_until: float = 0.0  # a secondary-limit answer: nothing non-free goes out before this
    backoff: float = 0.0  # the wait the next secondary answer without Retry-After gets (0: first_backoff)
    exhausted: tuple[tuple[str, float], ...] = field(default=())  # (resource, reset) with remaining 0


@dataclass(frozen=True, slots=True)
class Go:
    start_at: float
    budget: Budget


@dataclass(frozen=True, slots=True)
class Refuse:
    """The turn is further away than the max delay: answer at once instead of queueing."""

    retry_after: float


@dataclass(frozen=True, slots=True)
class Wait:
    """Another mutation of this token is in flight (maybe on another replica): decide again at `until`."""

    until: float


@dataclass(frozen=True, slots=True)
class Blocked:
    """GitHub said stop: a secondary-limit answer (`secondary`) or an exhausted primary limit (`primary`)."""

    reason: str
    until: float


Decision = Go | Refuse | Blocked | Wait


def _earliest(tat: float, now: float, cost: float, interval: float, burst: float) -> float:
    """GCRA: the earliest start for `cost` units from a bucket refilling one unit per `interval`, holding `burst`."""
    return max(now, tat + cost * interval - burst * interval)


def _buckets(b: Budget, r: Request, limits: Limits) -> list[tuple[str, float, float, float]]:
    """(budget field, cost, seconds per unit, burst units) of every bucket this request draws from."""
    out: list[tuple[str, float, float, float]] = []
    if limits.secondary:
        per_minute = BUDGET_MARGIN * (limits.points_per_minute_v4 if r.api is Api.GRAPHQL else limits.points_per_minute)
        # Burst a twentieth of the minute, refill the rest over the minute: no 60 s window sees more than
        # `per_minute` points, whatever the pattern, and a long run gets 95% of the limit.
        burst = max(5.0, math.floor(per_minute * BURST_SHARE))
        rate = (per_minute - burst) / 60.0
        out.append(("points_v4" if r.api is Api.GRAPHQL else "points", r.points, 1.0 / rate, burst))
        if r.mutative:
            out.append(("mutation", 1, limits.mutation_interval, 1))
        if r.creates_content:
            for name, count, period in (
                ("content_minute", limits.content_per_minute, 60.0),
                ("content_hour", limits.content_per_hour, 3600.0),
            ):
                burst = max(1.0, math.floor(count * BURST_SHARE))
                out.append((name, 1, period / (count * BUDGET_MARGIN - burst), burst))
    if r.api is Api.GRAPHQL:
        if limits.v4_spacing > 0:
            out.append(("spacing_v4", 1, limits.v4_spacing, 1))
    elif limits.get_spacing > 0 and limits.write_spacing > 0:
        # Go ghproxy's spacing. A revalidation is free, so it is not held back by it (Go's is).
        if r.read and not r.conditional:
            out.append(("spacing_get", 1, limits.get_spacing, 1))
        elif r.mutative:
            out.append(("spacing_write", 1, limits.write_spacing, 1))
    return out


def admit(b: Budget, r: Request, now: float, limits: Limits) -> Decision:
    """When `r` may go out for a token whose state is `b`."""
    if now < b.blocked_until:
        return Blocked("secondary", b.blocked_until)
    for resource, reset in b.exhausted:
        if resource == r.resource and now < reset:
            return Blocked("primary", reset)
    serial = r.mutative and limits.secondary
    if serial and b.mutation_busy > now:
        return Wait(min(b.mutation_busy, now + max(0.005, limits.mutation_interval / 4)))
    buckets = _buckets(b, r, limits)
    start = now
    for name, cost, interval, burst in buckets:
        start = max(start, _earliest(getattr(b, name), now, cost, interval, burst))
    max_delay = limits.max_delay_v4 if r.api is Api.GRAPHQL else limits.max_delay
    if start - now > max_delay:
        return Refuse(retry_after=start - now)
    changes = {name: max(getattr(b, name), start) + cost * interval for name, cost, interval, _ in buckets}
    exhausted = tuple((res, reset) for res, reset in b.exhausted if reset > now)
    if serial:
        changes["mutation_busy"] = start + limits.mutation_hold
    return Go(start, replace(b, exhausted=exhausted, **changes))


def mutation_finished(b: Budget, now: float, limits: Limits) -> Budget:
    """A mutation's answer arrived: the next may start `mutation_interval` after now, not after this one's start.

    GitHub measures the spacing between arrivals. The answer came after this mutation arrived, so spacing from the
    answer can never be shorter than GitHub's own measure, whatever the network jitter (the driver lets one mutation
    per token out at a time, across replicas too: `mutation_busy` makes the others wait for this answer).
    """
    return replace(b, mutation=max(b.mutation, now + limits.mutation_interval), mutation_busy=0.0)


def secondary_limited(status: int, headers: dict[str, str], body: bytes) -> bool:
    """Whether an answer is GitHub's secondary ("abuse") limit: 403/429 with Retry-After or its message."""
    if status not in (403, 429):
        return False
    text = body[:2000].lower()
    if b"secondary rate limit" in text or b"abuse" in text:
        return True
    # A primary-limit answer says remaining 0 and has no Retry-After; anything else refused with one is secondary.
    return "retry-after" in headers and headers.get("x-ratelimit-remaining") != "0"


def after_answer(
    b: Budget, r: Request, status: int, headers: dict[str, str], body: bytes, now: float, limits: Limits
) -> Budget:
    """Learn from GitHub's answer: a secondary limit blocks the token, an exhausted primary limit blocks its resource.

    `headers` has lower-case names.
    """
    if secondary_limited(status, headers, body):
        retry_after = _seconds(headers.get("retry-after"))
        if retry_after is None:
            # GitHub: without retry-after wait at least a minute, then back off exponentially.
            wait = b.backoff or limits.first_backoff
            return replace(b, blocked_until=max(b.blocked_until, now + wait), backoff=min(wait * 2, limits.max_backoff))
        return replace(b, blocked_until=max(b.blocked_until, now + retry_after))
    changed = b if status >= 400 or b.backoff == 0 else replace(b, backoff=0.0)
    remaining = _seconds(headers.get("x-ratelimit-remaining"))
    reset = _seconds(headers.get("x-ratelimit-reset"))
    if remaining is not None and reset is not None:
        resource = headers.get("x-ratelimit-resource", r.resource)
        others = tuple((res, until) for res, until in changed.exhausted if res != resource and until > now)
        if remaining <= 0 and reset > now:
            return replace(changed, exhausted=(*others, (resource, reset)))
        if others != changed.exhausted:
            return replace(changed, exhausted=others)
    return changed


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
