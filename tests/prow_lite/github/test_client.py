"""The transport against scripted loopback servers: headers, retries, limits, redirects, pagination, endpoints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from prow_lite.github import (
    ExtraUsers,
    GitHubClient,
    GitHubClientError,
    GitHubError,
    MissingUsers,
    NotFound,
    RateLimited,
    SecondaryRateLimited,
    TokenAuth,
    TransportError,
    resolve_endpoint,
)
from prow_lite.github.client import VERSION
from tests.conftest import StartProxy
from tests.prow_lite.github.conftest import MakeUpstream, github_json
from tests.support.servers import free_port

TOKEN = "ghp_" + "T0ken" * 8
SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


def client(url: str, **kwargs: Any) -> GitHubClient:
    kwargs.setdefault("backoff_s", 0.01)
    return GitHubClient(url, TokenAuth(TOKEN), kwargs.pop("component", "hook"), **kwargs)


def sequence(*answers: Callable[[], web.StreamResponse]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler giving the answers in order, then the last one for ever."""
    left = list(answers)

    async def handler(request: web.Request) -> web.StreamResponse:
        return (left.pop(0) if len(left) > 1 else left[0])()

    return handler


def ok() -> web.Response:
    return github_json({"ok": True})


def status(code: int, **headers: str) -> Callable[[], web.Response]:
    return lambda: github_json({"message": f"status {code}"}, status=code, **headers)


# --- what every call carries -------------------------------------------------------------------------------------


async def test_every_call_carries_the_headers(upstream: MakeUpstream) -> None:
    up = upstream(sequence(ok))
    async with client(up.url) as gh:
        await gh.request("GET", "/repos/o/r")
        await gh.request("POST", "/repos/o/r/issues/1/comments", json={"body": "hi"}, accept="application/vnd.x+json")
    get, post = up.seen
    assert get.headers["Authorization"] == f"token {TOKEN}"
    assert get.headers["Accept"] == "application/vnd.github+json"
    assert get.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert get.headers["User-Agent"] == f"prow-lite-hook/{VERSION}"
    assert get.headers["X-PROW-GHCACHE-TOKEN-BUDGET-IDENTIFIER"] == "hook"
    assert post.headers["Accept"] == "application/vnd.x+json"
    assert post.headers["Content-Type"] == "application/json" and post.json() == {"body": "hi"}


async def test_user_agent_and_budget_identifier_overrides(upstream: MakeUpstream) -> None:
    up = upstream(sequence(ok))
    async with client(up.url, component="tide", user_agent="my-bot/2", budget_identifier="shared-bot") as gh:
        await gh.request("GET", "/rate_limit")
    async with client(up.url, component="tide", budget_identifier="") as gh:
        await gh.request("GET", "/rate_limit")
    assert up.seen[0].headers["User-Agent"] == "my-bot/2"
    assert up.seen[0].headers["X-PROW-GHCACHE-TOKEN-BUDGET-IDENTIFIER"] == "shared-bot"
    assert up.seen[1].headers["User-Agent"].startswith("prow-lite-tide/")
    assert "X-PROW-GHCACHE-TOKEN-BUDGET-IDENTIFIER" not in up.seen[1].headers


async def test_user_agent_reaches_github_through_the_proxy(upstream: MakeUpstream, start_proxy: StartProxy) -> None:
    up = upstream(sequence(ok))
    proxy = start_proxy(up.url)
    async with client(proxy.url, component="approve") as gh:
        answer = await gh.request("GET", "/repos/o/r/pulls/1")
    assert answer.cache_mode is not None  # ghproxy answered
    (seen,) = up.seen
    assert seen.headers["User-Agent"] == f"prow-lite-approve/{VERSION}"
    assert seen.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert seen.headers["Authorization"] == f"token {TOKEN}"


async def test_path_parts_are_encoded_once(upstream: MakeUpstream) -> None:
    up = upstream(sequence(lambda: web.Response(status=204)))
    async with client(up.url) as gh:
        await gh.remove_label("o", "r", 3, "do-not-merge/hold")
        await gh.request("GET", "/search/issues", params={"q": "repo:o/r label:a b", "draft": False, "skip": None})
    assert up.seen[0].path_qs == "/repos/o/r/issues/3/labels/do-not-merge%2Fhold"
    assert up.seen[1].path_qs == "/search/issues?q=repo:o/r+label:a+b&draft=false"


# --- retries ----------------------------------------------------------------------------------------------------


async def test_get_is_retried_on_5xx_until_it_succeeds(upstream: MakeUpstream) -> None:
    up = upstream(sequence(status(500), status(502), ok))
    async with client(up.url) as gh:
        answer = await gh.request("GET", "/repos/o/r")
    assert answer.status == 200 and len(up.seen) == 3


async def test_retries_are_bounded(upstream: MakeUpstream) -> None:
    up = upstream(sequence(status(500)))
    async with client(up.url, max_retries=2) as gh:
        with pytest.raises(GitHubError) as caught:
            await gh.request("GET", "/repos/o/r")
    assert caught.value.status == 500 and caught.value.message == "status 500"
    assert len(up.seen) == 3


async def test_post_is_retried_only_on_gateway_answers(upstream: MakeUpstream) -> None:
    failing = upstream(sequence(status(500), ok))
    async with client(failing.url) as gh:
        with pytest.raises(GitHubError) as caught:
            await gh.create_comment("o", "r", 1, "once")
    assert caught.value.status == 500 and len(failing.seen) == 1  # the comment may exist: never sent twice
    gateway = upstream(sequence(status(502), status(504), lambda: github_json({"id": 1}, status=201)))
    async with client(gateway.url) as gh:
        assert (await gh.create_comment("o", "r", 1, "twice"))["id"] == 1
    assert len(gateway.seen) == 3


async def test_5xx_retry_after_is_obeyed(upstream: MakeUpstream) -> None:
    up = upstream(sequence(status(503, Retry_After="0.4"), ok))
    async with client(up.url) as gh:
        started = time.monotonic()
        await gh.request("GET", "/repos/o/r")
    assert time.monotonic() - started >= 0.4 and len(up.seen) == 2


async def test_secondary_limit_retry_after_is_slept_then_retried(upstream: MakeUpstream) -> None:
    up = upstream(sequence(lambda: github_json({"message": SECONDARY}, status=403, Retry_After="1"), ok))
    async with client(up.url) as gh:
        started = time.monotonic()
        answer = await gh.request("POST", "/repos/o/r/issues/1/comments", json={"body": "x"})
    assert answer.status == 200 and time.monotonic() - started >= 1.0
    assert len(up.seen) == 2


async def test_proxy_throttle_429_is_waited_out(upstream: MakeUpstream) -> None:
    up = upstream(sequence(status(429, Retry_After="0.3", X_Cache_Mode="THROTTLED"), ok))
    async with client(up.url) as gh:
        assert (await gh.request("GET", "/repos/o/r")).status == 200
    assert len(up.seen) == 2


async def test_a_wait_longer_than_allowed_raises_at_once(upstream: MakeUpstream) -> None:
    up = upstream(sequence(lambda: github_json({"message": SECONDARY}, status=403, Retry_After="120")))
    async with client(up.url, max_wait_s=5) as gh:
        with pytest.raises(SecondaryRateLimited) as caught:
            await gh.request("GET", "/repos/o/r")
    assert caught.value.retry_after == 120 and caught.value.status == 403 and len(up.seen) == 1
    no_header = upstream(sequence(lambda: github_json({"message": SECONDARY}, status=403)))
    async with client(no_header.url, max_wait_s=5) as gh:
        with pytest.raises(SecondaryRateLimited) as caught:
            await gh.request("GET", "/repos/o/r")
    assert caught.value.retry_after == 60  # GitHub's advice without retry-after: at least a minute


async def test_spent_primary_limit_raises_rate_limited(upstream: MakeUpstream) -> None:
    reset = int(time.time()) + 900
    up = upstream(
        sequence(
            lambda: github_json(
                {"message": "API rate limit exceeded"},
                status=403,
                X_RateLimit_Remaining="0",
                X_RateLimit_Reset=str(reset),
            )
        )
    )
    async with client(up.url) as gh:
        with pytest.raises(RateLimited) as caught:
            await gh.get_repo("o", "r")
    assert caught.value.reset_at == reset and len(up.seen) == 1


async def test_plain_403_and_404_are_errors_with_githubs_message(upstream: MakeUpstream) -> None:
    up = upstream(
        sequence(
            lambda: github_json({"message": "Resource not accessible by integration"}, status=403),
            lambda: github_json({"message": "Not Found"}, status=404),
        )
    )
    async with client(up.url) as gh:
        with pytest.raises(GitHubError) as forbidden:
            await gh.get_repo("o", "r")
        with pytest.raises(NotFound) as missing:
            await gh.get_pull("o", "r", 7)
    assert (forbidden.value.status, forbidden.value.message) == (403, "Resource not accessible by integration")
    assert (missing.value.status, missing.value.path) == (404, "/repos/o/r/pulls/7")
    assert len(up.seen) == 2


async def test_connection_refused_is_retried_then_raises() -> None:
    port = free_port()
    async with client(f"http://127.0.0.1:{port}", max_retries=2) as gh:
        with pytest.raises(TransportError) as caught:
            await gh.create_comment("o", "r", 1, "never sent")
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_a_dropped_post_is_not_sent_again_but_a_dropped_get_is(upstream: MakeUpstream) -> None:
    async def drop(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(1)
        return web.Response()

    up = upstream(drop)
    async with client(up.url, max_retries=2) as gh:
        with pytest.raises(TransportError):
            await gh.request("POST", "/repos/o/r/issues/1/comments", json={"body": "x"})
        assert len(up.seen) == 1
        with pytest.raises(TransportError):
            await gh.request("GET", "/repos/o/r")
    methods = [s.method for s in up.seen]
    assert methods.count("POST") == 1
    assert methods.count("GET") >= 1 + 2  # aiohttp itself may resend a GET once on a reused connection


async def test_redirects_are_answers_not_followed(upstream: MakeUpstream) -> None:
    elsewhere = upstream(sequence(ok))
    up = upstream(sequence(lambda: web.Response(status=302, headers={"Location": elsewhere.url + "/orgs/o/members"})))
    async with client(up.url) as gh:
        assert await gh.is_member("o", "someone") is False
    assert elsewhere.seen == []


# --- Prow's user checks (answers ghsim does not give) ----------------------------------------------------------


async def test_review_request_refused_as_a_whole_is_retried_per_login(upstream: MakeUpstream) -> None:
    async def github(request: web.Request) -> web.StreamResponse:
        wanted = (await request.json())["reviewers"]
        if "outsider" in wanted:  # GitHub refuses the whole request for one login that may not review
            return github_json({"message": "Reviews may only be requested from collaborators."}, status=422)
        return github_json({"requested_reviewers": [{"login": login} for login in wanted]}, status=201)

    up = upstream(github)
    async with client(up.url) as gh:
        with pytest.raises(MissingUsers) as caught:
            await gh.request_reviewers("o", "r", 1, ["carol", "outsider", "other-org/team"])
        assert caught.value.users == ("other-org/team", "outsider")
        assert await gh.request_reviewers("o", "r", 1, ["carol", "o/reviewers"]) is not None
        with pytest.raises(MissingUsers):
            await gh.request_reviewers("o", "r", 1, ["elsewhere/team"])  # nothing GitHub could take: not sent
        assert await gh.request_reviewers("o", "r", 1, []) is None
    bodies = [s.json() for s in up.seen]
    assert bodies == [
        {"reviewers": ["carol", "outsider"]},
        {"reviewers": ["carol"]},
        {"reviewers": ["outsider"]},
        {"reviewers": ["carol"], "team_reviewers": ["reviewers"]},
    ]


async def test_users_still_there_after_removal_are_named(upstream: MakeUpstream) -> None:
    still = {"assignees": [{"login": "Bob"}], "requested_reviewers": [{"login": "carol"}]}
    up = upstream(sequence(lambda: github_json(still)))
    async with client(up.url) as gh:
        with pytest.raises(ExtraUsers) as unassign:
            await gh.remove_assignees("o", "r", 1, ["bob", "dave"])
        with pytest.raises(ExtraUsers) as unrequest:
            await gh.remove_review_requests("o", "r", 1, ["carol"])
    assert unassign.value.users == ("bob",) and unrequest.value.users == ("carol",)
    assert [(s.method, s.path_qs) for s in up.seen] == [
        ("DELETE", "/repos/o/r/issues/1/assignees"),
        ("DELETE", "/repos/o/r/pulls/1/requested_reviewers"),
    ]


# --- pagination -------------------------------------------------------------------------------------------------


async def test_pagination_follows_next_links_under_the_endpoint_only(upstream: MakeUpstream) -> None:
    holder: list[str] = []

    async def pages(request: web.Request) -> web.StreamResponse:
        page = int(request.query.get("page", "1"))
        if page == 3:
            return github_json([{"n": page}])
        link = f'<{holder[0]}/api/v3/items?per_page=100&page={page + 1}>; rel="next", <x>; rel="last"'
        return github_json([{"n": page}], Link=link)

    up = upstream(pages)
    holder.append(up.url)
    async with client(up.url + "/api/v3/") as gh:
        assert [i["n"] for i in await gh.paginate("/items")] == [1, 2, 3]
    assert [s.path_qs for s in up.seen] == [
        "/api/v3/items?per_page=100",
        "/api/v3/items?per_page=100&page=2",
        "/api/v3/items?per_page=100&page=3",
    ]


@pytest.mark.parametrize(
    "target",
    [
        "https://api.github.com/items?page=2",
        "http://127.0.0.1:1/items?page=2",
        "{base}/other/items?page=2",  # same host, outside the endpoint's path
        "/items?page=2",  # relative: GitHub never sends one, and it names no host
    ],
)
async def test_pagination_refuses_next_links_off_the_endpoint(upstream: MakeUpstream, target: str) -> None:
    holder: list[str] = []

    async def first(request: web.Request) -> web.StreamResponse:
        return github_json([1], Link=f'<{target.format(base=holder[0])}>; rel="next"')

    up = upstream(first)
    holder.append(up.url)
    async with client(up.url + "/api") as gh:
        with pytest.raises(GitHubClientError, match="refusing to follow"):
            await gh.paginate("/items")
    assert len(up.seen) == 1


# --- endpoints --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    ["https://api.github.com", "https://API.GitHub.com/", "https://github.com/api/v3", "http://uploads.github.com"],
)
def test_github_itself_is_refused_unless_allowed(endpoint: str) -> None:
    with pytest.raises(GitHubClientError, match="ghproxy"):
        GitHubClient(endpoint, TokenAuth(TOKEN), "hook")
    direct = GitHubClient(endpoint, TokenAuth(TOKEN), "hook", allow_direct_github=True)
    assert direct.base.host is not None and direct.base.host.lower().endswith("github.com")


@pytest.mark.parametrize("endpoint", ["api.github.com", "ftp://ghproxy:8888", "http://ghproxy:8888/?x=1", ""])
def test_malformed_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(GitHubClientError):
        GitHubClient(endpoint, TokenAuth(TOKEN), "hook")


def test_endpoint_from_flag_or_environment() -> None:
    env = {"GITHUB_API_URL": "http://ghproxy:8888"}
    assert resolve_endpoint("http://flag:1", env) == "http://flag:1"
    assert resolve_endpoint(None, env) == "http://ghproxy:8888"
    with pytest.raises(GitHubClientError, match="--github-endpoint"):
        resolve_endpoint(None, {})


async def test_token_never_in_repr_or_logs(upstream: MakeUpstream, caplog: pytest.LogCaptureFixture) -> None:
    up = upstream(sequence(status(502), ok))
    caplog.set_level("DEBUG", logger="prow_lite.github")
    async with client(up.url) as gh:
        await gh.request("GET", "/repos/o/r")
        assert TOKEN not in repr(gh)
    assert [r.msg for r in caplog.records] == ["github call", "github call retried", "github call"]
    assert caplog.records[1].__dict__["reason"] == "502" and caplog.records[2].__dict__["status"] == 200
    for record in caplog.records:
        assert TOKEN not in str(record.__dict__)
