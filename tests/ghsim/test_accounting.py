"""Pure accounting rules, table-driven; each group names the GitHub rule it checks."""

from __future__ import annotations

import pytest

from ghsim.accounting import (
    Outcome,
    RequestKind,
    Resource,
    TokenState,
    Window,
    admit,
    classify,
    quota,
    settle,
)
from ghsim.config import SimConfig

GET = classify("GET", "/repos/o/r")
RATE = classify("GET", "/rate_limit")
POST = classify("POST", "/repos/o/r/issues/1/comments")
CFG = SimConfig(core_limit=3, points_per_minute=10, max_concurrent=2, min_mutation_interval_s=1.0)


@pytest.mark.parametrize(
    ("method", "path", "mutation", "expected"),
    [
        ("GET", "/repos/o/r", False, RequestKind(Resource.CORE, False, 1, 1)),
        ("HEAD", "/repos/o/r", False, RequestKind(Resource.CORE, False, 1, 1)),
        ("POST", "/repos/o/r/issues", False, RequestKind(Resource.CORE, True, 5, 1)),
        ("DELETE", "/repos/o/r/labels/x", False, RequestKind(Resource.CORE, True, 5, 1)),
        ("GET", "/search/issues", False, RequestKind(Resource.SEARCH, False, 1, 1)),
        ("GET", "/rate_limit", False, RequestKind(Resource.CORE, False, 1, 1, free=True)),
        ("POST", "/graphql", False, RequestKind(Resource.GRAPHQL, False, 1, 1)),
        ("POST", "/graphql", True, RequestKind(Resource.GRAPHQL, True, 5, 5)),
    ],
)
def test_classify(method: str, path: str, mutation: bool, expected: RequestKind) -> None:
    assert classify(method, path, mutation) == expected


def run(kinds: list[tuple[float, RequestKind]], config: SimConfig = CFG) -> list[Outcome]:
    """Admit and immediately settle (charged) each request in turn."""
    state = TokenState()
    outcomes = []
    for now, kind in kinds:
        d = admit(state, kind, now, config, anonymous=False)
        outcomes.append(d.outcome)
        state = d.state
        if d.outcome is Outcome.ADMIT:
            state, _ = settle(state, kind, now, config, anonymous=False, charged=True)
    return outcomes


A, S, P = Outcome.ADMIT, Outcome.SECONDARY, Outcome.PRIMARY


@pytest.mark.parametrize(
    ("name", "requests", "expected"),
    [
        ("primary: limit then refuse", [(0, GET), (1, GET), (2, GET), (3, GET)], [A, A, A, P]),
        ("primary: window resets after an hour", [(0, GET), (1, GET), (2, GET), (3601, GET)], [A, A, A, A]),
        ("rate_limit is free", [(0, GET), (1, GET), (2, GET), (3, RATE)], [A, A, A, A]),
        ("mutations 1 s apart pass", [(0, POST), (1.0, POST)], [A, A]),
        ("mutation too soon is secondary", [(0, POST), (0.5, POST)], [A, S]),
        ("blocked within retry-after", [(0, POST), (0.5, POST), (30, GET), (61, GET)], [A, S, S, A]),
        ("points per minute: 2 POSTs = 10 points", [(0, POST), (2, POST), (4, GET)], [A, A, S]),
        ("points slide out after 60 s", [(0, POST), (2, POST), (61, GET)], [A, A, A]),
    ],
)
def test_sequences(name: str, requests: list[tuple[float, RequestKind]], expected: list[Outcome]) -> None:
    assert run(requests) == expected, name


def test_search_has_its_own_minute_window() -> None:
    cfg = SimConfig(search_limit=2, secondary_limits=False)
    search = classify("GET", "/search/issues")
    assert run([(0, search), (1, search), (2, search), (2, GET), (61, search)], cfg) == [A, A, P, A, A]


def test_secondary_off_ignores_spacing_and_points() -> None:
    cfg = SimConfig(secondary_limits=False)
    assert run([(0, POST)] * 50, cfg) == [A] * 50


def test_concurrency_counts_in_flight_requests() -> None:
    state = TokenState()
    outcomes = []
    for _ in range(3):
        d = admit(state, GET, 0, CFG, anonymous=False)
        outcomes.append(d.outcome)
        state = d.state
    assert outcomes == [A, A, S]
    assert state.inflight == 2
    assert state.blocked_until == 60


def test_free_304_refunds_and_window_starts_at_first_charged_request() -> None:
    d = admit(TokenState(), GET, 100, CFG, anonymous=False)
    assert d.quota.used == 1
    state, q = settle(d.state, GET, 100, CFG, anonymous=False, charged=False)
    assert (q.used, q.remaining, state.inflight) == (0, 3, 0)
    assert Resource.CORE not in state.windows
    d = admit(state, GET, 500, CFG, anonymous=False)
    state, q = settle(d.state, GET, 500, CFG, anonymous=False, charged=True)
    assert state.windows[Resource.CORE] == Window(500, 1)
    assert q.reset == 500 + 3600


@pytest.mark.parametrize(
    ("resource", "anonymous", "limit"),
    [
        (Resource.CORE, True, 60),
        (Resource.CORE, False, 3),
        (Resource.SEARCH, True, 10),
        (Resource.SEARCH, False, 30),
        (Resource.GRAPHQL, False, 5000),
    ],
)
def test_limits(resource: Resource, anonymous: bool, limit: int) -> None:
    assert quota(TokenState(), resource, 0, CFG, anonymous).limit == limit


def test_graphql_mutation_costs_five_points() -> None:
    cfg = SimConfig(graphql_limit=7, secondary_limits=False)
    q, m = classify("POST", "/graphql"), classify("POST", "/graphql", True)
    assert run([(0, m), (1, q), (2, q), (3, q)], cfg) == [A, A, A, P]
