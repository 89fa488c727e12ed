"""GitHub's rate-limit rules as pure functions: token state + request + now in, decision out.

Sources: https://docs.github.com/rest/overview/rate-limits-for-the-rest-api (primary and secondary limits) and
https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api (points).

A request is admitted by `admit()`, which reserves its primary cost, and finished by `settle()`, which refunds
the cost when the answer turned out free (a 304 to an authenticated conditional request).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ghsim.config import SimConfig

SECONDARY_WINDOW_S = 60.0
ANONYMOUS_CORE_LIMIT = 60
ANONYMOUS_SEARCH_LIMIT = 10
MUTATIVE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class Resource(StrEnum):
    CORE = "core"
    SEARCH = "search"
    GRAPHQL = "graphql"


# Primary windows: one hour, except search (one minute).
WINDOW_S: Mapping[Resource, float] = {Resource.CORE: 3600.0, Resource.SEARCH: 60.0, Resource.GRAPHQL: 3600.0}


class Outcome(StrEnum):
    ADMIT = "admit"
    SECONDARY = "secondary"
    PRIMARY = "primary"


@dataclass(frozen=True, slots=True)
class RequestKind:
    """What accounting needs to know about one request."""

    resource: Resource
    mutative: bool  # counts for the minimum spacing between mutations
    points: int  # secondary-limit points
    cost: int  # primary-limit cost
    free: bool = False  # GET /rate_limit


@dataclass(frozen=True, slots=True)
class Window:
    """A fixed primary window: starts at the first charged request."""

    start: float
    used: int


@dataclass(frozen=True, slots=True)
class TokenState:
    """Everything the limits remember about one token. Never mutated: functions return new states."""

    windows: Mapping[Resource, Window] = field(default_factory=dict)
    inflight: int = 0
    rest_points: tuple[tuple[float, int], ...] = ()
    graphql_points: tuple[tuple[float, int], ...] = ()
    last_mutation: float | None = None
    blocked_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Quota:
    """The numbers for the x-ratelimit-* headers."""

    resource: Resource
    limit: int
    remaining: int
    used: int
    reset: int


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    state: TokenState
    quota: Quota
    retry_after: int | None = None


_TOKEN_MINT = re.compile(r"^/app/installations/\d+/access_tokens/?$")


def classify(method: str, path: str, graphql_mutation: bool = False) -> RequestKind:
    """The accounting kind of a REST or GraphQL request."""
    if path == "/graphql":
        cost = 5 if graphql_mutation else 1
        return RequestKind(Resource.GRAPHQL, mutative=graphql_mutation, points=cost, cost=cost)
    write = method.upper() in MUTATIVE_METHODS
    resource = Resource.SEARCH if path.startswith("/search/") else Resource.CORE
    free = path.rstrip("/") == "/rate_limit"
    # A POST costs 5 points, but minting an installation token creates no content: no mutation spacing.
    mutative = write and not _TOKEN_MINT.match(path)
    return RequestKind(resource, mutative=mutative, points=5 if write else 1, cost=1, free=free)


def limit_for(resource: Resource, config: SimConfig, anonymous: bool) -> int:
    if resource is Resource.CORE:
        return ANONYMOUS_CORE_LIMIT if anonymous else config.core_limit
    if resource is Resource.SEARCH:
        return ANONYMOUS_SEARCH_LIMIT if anonymous else config.search_limit
    return 0 if anonymous else config.graphql_limit


def current_window(state: TokenState, resource: Resource, now: float) -> Window | None:
    """The token's live window for a resource, or None when none has started or the last one expired."""
    window = state.windows.get(resource)
    if window is None or now >= window.start + WINDOW_S[resource]:
        return None
    return window


def quota(state: TokenState, resource: Resource, now: float, config: SimConfig, anonymous: bool) -> Quota:
    limit = limit_for(resource, config, anonymous)
    window = current_window(state, resource, now)
    used = window.used if window else 0
    start = window.start if window else now
    reset = math.ceil(start + WINDOW_S[resource])
    return Quota(resource, limit, max(0, limit - used), used, reset)


def _recent(events: tuple[tuple[float, int], ...], now: float) -> tuple[tuple[float, int], ...]:
    return tuple(e for e in events if e[0] > now - SECONDARY_WINDOW_S)


def _secondary_reason(state: TokenState, kind: RequestKind, now: float, config: SimConfig) -> bool:
    if state.inflight >= config.max_concurrent:
        return True
    if kind.resource is Resource.GRAPHQL:
        events, budget = state.graphql_points, config.graphql_points_per_minute
    else:
        events, budget = state.rest_points, config.points_per_minute
    spent = sum(p for _, p in _recent(events, now))
    if spent + kind.points > budget:
        return True
    return (
        kind.mutative and state.last_mutation is not None and now - state.last_mutation < config.min_mutation_interval_s
    )


def admit(state: TokenState, kind: RequestKind, now: float, config: SimConfig, anonymous: bool) -> Decision:
    """Decide whether a request may run; an admitted request has its cost reserved and counts as in flight."""
    if config.secondary_limits:
        # After a secondary hit GitHub keeps refusing the token until retry-after has passed.
        if now < state.blocked_until:
            left = math.ceil(state.blocked_until - now)
            q = quota(state, kind.resource, now, config, anonymous)
            return Decision(Outcome.SECONDARY, state, q, left)
        if _secondary_reason(state, kind, now, config):
            blocked = replace(state, blocked_until=now + config.secondary_retry_after_s)
            q = quota(blocked, kind.resource, now, config, anonymous)
            return Decision(Outcome.SECONDARY, blocked, q, config.secondary_retry_after_s)
    limit = limit_for(kind.resource, config, anonymous)
    window = current_window(state, kind.resource, now)
    used = window.used if window else 0
    if not kind.free and used + kind.cost > limit:
        return Decision(Outcome.PRIMARY, state, quota(state, kind.resource, now, config, anonymous))
    windows = dict(state.windows)
    if not kind.free:
        windows[kind.resource] = Window(window.start if window else now, used + kind.cost)
    new = replace(state, windows=windows, inflight=state.inflight + 1)
    if config.secondary_limits:
        event = ((now, kind.points),)
        if kind.resource is Resource.GRAPHQL:
            new = replace(new, graphql_points=_recent(state.graphql_points, now) + event)
        else:
            new = replace(new, rest_points=_recent(state.rest_points, now) + event)
        if kind.mutative:
            new = replace(new, last_mutation=now)
    return Decision(Outcome.ADMIT, new, quota(new, kind.resource, now, config, anonymous))


def settle(
    state: TokenState, kind: RequestKind, now: float, config: SimConfig, anonymous: bool, charged: bool
) -> tuple[TokenState, Quota]:
    """Finish an admitted request; refund its reserved cost when it was free."""
    new = replace(state, inflight=max(0, state.inflight - 1))
    window = current_window(state, kind.resource, now)
    if not charged and not kind.free and window is not None:
        windows = dict(state.windows)
        used = window.used - kind.cost
        if used <= 0:
            # The window starts at the first *charged* request, so a window holding nothing is no window.
            del windows[kind.resource]
        else:
            windows[kind.resource] = Window(window.start, used)
        new = replace(new, windows=windows)
    return new, quota(new, kind.resource, now, config, anonymous)
