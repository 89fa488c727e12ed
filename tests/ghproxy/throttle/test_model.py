"""The throttle's decisions, grouped by the GitHub rule each checks (docs: rate limits for the REST API)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from ghproxy.throttle.model import (
    Api,
    Blocked,
    Budget,
    Go,
    Limits,
    Refuse,
    Wait,
    admit,
    after_answer,
    classify,
    mutation_finished,
)

GET = classify("GET", "/repos/o/r/pulls")
REVALIDATE = classify("GET", "/repos/o/r/pulls", conditional=True)
POST = classify("POST", "/repos/o/r/issues/1/labels")
COMMENT = classify("POST", "/repos/o/r/issues/1/comments")
QUERY = classify("POST", "/graphql")
MUTATION = classify("POST", "/graphql", graphql_mutation=True)


def run(requests: list, limits: Limits, now: float = 1000.0, budget: Budget | None = None) -> list[float]:
    """Admit requests in order at time `now`; their start times (the clock does not move: a burst)."""
    b = budget or Budget()
    starts = []
    for r in requests:
        d = admit(b, r, now, limits)
        assert isinstance(d, Go), d
        starts.append(d.start_at - now)
        b = d.budget
        if r.mutative:  # its answer arrives as it starts
            b = mutation_finished(b, d.start_at, limits)
    return starts


class TestClassify:
    @pytest.mark.parametrize(
        ("req", "points", "mutative", "content", "api", "resource"),
        [
            (GET, 1, False, False, Api.REST, "core"),
            (POST, 5, True, False, Api.REST, "core"),
            (COMMENT, 5, True, True, Api.REST, "core"),
            (classify("POST", "/repos/o/r/pulls"), 5, True, True, Api.REST, "core"),
            (classify("PATCH", "/repos/o/r/issues/1"), 5, True, False, Api.REST, "core"),
            (classify("GET", "/search/issues"), 1, False, False, Api.REST, "search"),
            (QUERY, 1, False, False, Api.GRAPHQL, "graphql"),
            (MUTATION, 5, True, True, Api.GRAPHQL, "graphql"),
            (classify("GET", "/search/code"), 1, False, False, Api.REST, "code_search"),
        ],
    )
    def test_table(self, req, points, mutative, content, api, resource) -> None:  # type: ignore[no-untyped-def]
        assert (req.points, req.mutative, req.creates_content, req.api, req.resource) == (
            points, mutative, content, api, resource,
        )  # fmt: skip


class TestPointsPerMinute:
    """900 points a minute for REST, 2000 for GraphQL; GET 1 point, writes 5."""

    @pytest.mark.parametrize(("req", "per_minute"), [(GET, 900), (QUERY, 2000)])
    def test_no_sixty_second_window_exceeds_the_limit(self, req, per_minute: int) -> None:  # type: ignore[no-untyped-def]
        starts = run([req] * (per_minute * 2), Limits(max_delay=1e9, max_delay_v4=1e9))
        for i, t in enumerate(starts):
            in_window = sum(1 for u in starts[: i + 1] if u > t - 60)
            assert in_window <= per_minute
        # and not much slower than allowed: 95% of the limit in a long run
        assert starts[-1] <= (len(starts) - per_minute * 0.05) / (per_minute * 0.93 / 60) + 0.01

    def test_a_small_burst_goes_at_once(self) -> None:
        assert run([GET] * 44, Limits()) == pytest.approx([0.0] * 44, abs=1e-9)  # 5% of the minute goes at once

    def test_writes_cost_five_points(self) -> None:
        limits = Limits(mutation_interval=0.0, max_delay=1e9)
        five = run([POST] * 100, limits)
        one = run([GET] * 500, limits)
        assert five[-1] == pytest.approx(one[-1], rel=0.02)


class TestMutations:
    """At least one second between mutative requests."""

    def test_spaced_by_one_second(self) -> None:
        starts = run([POST] * 10, Limits())
        assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [1.0] * 9

    def test_reads_are_not_held_behind_mutations(self) -> None:
        b = admit(Budget(), POST, 1000, Limits())
        assert isinstance(b, Go)
        read = admit(b.budget, GET, 1000, Limits())
        assert isinstance(read, Go) and read.start_at == 1000

    def test_a_mutation_in_flight_makes_the_next_wait_for_its_answer(self) -> None:
        first = admit(Budget(), POST, 1000, Limits())
        assert isinstance(first, Go)
        assert isinstance(admit(first.budget, POST, 1000.5, Limits()), Wait)
        done = mutation_finished(first.budget, 1000.7, Limits())
        nxt = admit(done, POST, 1000.8, Limits())
        assert isinstance(nxt, Go) and nxt.start_at == pytest.approx(1001.7)

    def test_a_lost_answer_frees_the_token_after_the_hold(self) -> None:
        first = admit(Budget(), POST, 1000, Limits(mutation_hold=30))
        assert isinstance(first, Go)
        assert isinstance(admit(first.budget, POST, 1031, Limits()), Go)

    def test_spacing_counts_from_the_answer(self) -> None:
        d = admit(Budget(), POST, 1000, Limits())
        assert isinstance(d, Go)
        b = mutation_finished(d.budget, 1000.4, Limits())  # the answer took 0.4 s
        nxt = admit(b, POST, 1000.5, Limits())
        assert isinstance(nxt, Go) and nxt.start_at == pytest.approx(1001.4)

    def test_content_creation_eighty_a_minute(self) -> None:
        starts = run([COMMENT] * 160, Limits(mutation_interval=0.0, max_delay=1e9))
        for i, t in enumerate(starts):
            assert sum(1 for u in starts[: i + 1] if u > t - 60) <= 80


class TestMaxDelay:
    def test_refused_when_the_turn_is_too_far(self) -> None:
        d = admit(Budget(mutation=1100.0), POST, 1000, Limits(max_delay=30))
        assert isinstance(d, Refuse) and d.retry_after == pytest.approx(100.0)

    def test_a_refusal_reserves_nothing(self) -> None:
        b = Budget(mutation=1100.0)
        admit(b, POST, 1000, Limits(max_delay=30))
        assert admit(b, GET, 1000, Limits()) == Go(1000.0, admit(b, GET, 1000, Limits()).budget)  # type: ignore[union-attr]


class TestGoGhproxySpacing:
    """--get-throttling-time-ms and --throttling-time-ms, on only when both are set, as in Go ghproxy."""

    def test_gets_and_writes_spaced(self) -> None:
        limits = Limits(secondary=False, get_spacing=0.3, write_spacing=0.9)
        assert run([GET] * 3, limits) == pytest.approx([0, 0.3, 0.6])
        assert run([POST] * 3, limits) == pytest.approx([0, 0.9, 1.8])

    def test_off_unless_both_set(self) -> None:
        assert run([GET] * 3, Limits(secondary=False, get_spacing=0.3)) == [0, 0, 0]

    def test_revalidations_are_not_held_back(self) -> None:
        limits = Limits(secondary=False, get_spacing=0.3, write_spacing=0.9)
        assert run([REVALIDATE] * 3, limits) == [0, 0, 0]

    def test_v4_spacing(self) -> None:
        assert run([QUERY] * 3, Limits(secondary=False, v4_spacing=0.85)) == pytest.approx([0, 0.85, 1.7])


class TestReactingToGitHub:
    """Secondary limit: obey Retry-After, else wait 60 s and back off. Primary: nothing until x-ratelimit-reset."""

    def test_retry_after_blocks_the_token(self) -> None:
        b = after_answer(Budget(), GET, 403, {"retry-after": "5"}, b"", 1000, Limits())
        assert admit(b, GET, 1004.9, Limits()) == Blocked("secondary", 1005.0)
        assert isinstance(admit(b, GET, 1005.0, Limits()), Go)

    def test_message_without_retry_after_backs_off_exponentially(self) -> None:
        body = b'{"message": "You have exceeded a secondary rate limit."}'
        b = after_answer(Budget(), GET, 403, {}, body, 1000, Limits())
        assert b.blocked_until == 1060
        b = after_answer(b, GET, 429, {}, body, 1060, Limits())
        assert b.blocked_until == 1060 + 120
        b = after_answer(b, GET, 200, {}, b"{}", 1200, Limits())
        assert b.backoff == 0  # a success resets the backoff

    def test_exhausted_primary_blocks_its_resource_only(self) -> None:
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1500", "x-ratelimit-resource": "core"}
        b = after_answer(Budget(), GET, 200, headers, b"[]", 1000, Limits())
        assert admit(b, GET, 1001, Limits()) == Blocked("primary", 1500.0)
        assert isinstance(admit(b, classify("GET", "/search/issues"), 1001, Limits()), Go)
        assert isinstance(admit(b, GET, 1500, Limits()), Go)

    def test_primary_403_is_not_mistaken_for_secondary(self) -> None:
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1500", "retry-after": "500"}
        body = b'{"message": "API rate limit exceeded for user ID 1."}'
        b = after_answer(Budget(), GET, 403, headers, body, 1000, Limits())
        assert b.blocked_until == 0 and admit(b, GET, 1001, Limits()) == Blocked("primary", 1500.0)

    def test_remaining_again_clears_the_block(self) -> None:
        b = replace(Budget(), exhausted=(("core", 1500.0),))
        b = after_answer(
            b, GET, 200, {"x-ratelimit-remaining": "4999", "x-ratelimit-reset": "5000"}, b"", 1000, Limits()
        )
        assert b.exhausted == ()
