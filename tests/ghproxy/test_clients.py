"""Real GitHub client libraries pointed at ghproxy in front of ghsim: what a user sees, and what GitHub charges."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import aiohttp
import pytest
from github import Auth, Github

from tests.conftest import StartProxy, StartSim

ALICE = "sim_alice"  # org admin, reads the private repo
ERIN = "sim_erin"  # outsider: no access to the private repo
REPO = "org0/repo0"
PRIVATE = "org0/repo2"


def fetch(url: str, token: str | None = None, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP GET (no client library in the way)."""
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    if token:
        sent["Authorization"] = f"token {token}"
    req = urllib.request.Request(url, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


class TestPyGithub:
    def test_repeated_get_is_revalidated_and_charged_once(self, start_sim: StartSim, start_proxy: StartProxy) -> None:
        sim = start_sim()
        proxy = start_proxy(sim.url)
        gh = Github(auth=Auth.Token(ALICE), base_url=proxy.url)
        modes = []
        for _ in range(2):
            headers, data = gh.requester.requestJsonAndCheck("GET", f"/repos/{REPO}")
            modes.append(headers["x-cache-mode"])
            assert data["full_name"] == REPO
        assert modes == ["MISS", "REVALIDATED"]
        ledger = sim.ledger(ALICE)
        assert (ledger["requests"], ledger["charged"], ledger["free_304"]) == (2, 1, 1)
        # objects built from rewritten URLs keep working (PyGithub refuses other hosts)
        repo = gh.get_repo(REPO)
        assert repo.url.startswith(proxy.url)
        assert repo.owner.login == "org0"

    def test_pagination_over_many_pages_stays_on_the_proxy(self, start_sim: StartSim, start_proxy: StartProxy) -> None:
        sim = start_sim(prs_per_repo=12)
        proxy = start_proxy(sim.url)
        gh = Github(auth=Auth.Token(ALICE), base_url=proxy.url, per_page=2)
        numbers = [pr.number for pr in gh.get_repo(REPO).get_pulls(state="all")]
        assert sorted(numbers) == list(range(1, 13))
        pages = [r for r in sim.requests() if r["path"].startswith(f"/repos/{REPO}/pulls?")]
        assert len(pages) == 6  # every page went through the proxy, none straight to ghsim's own URL
        # a second walk costs nothing: every page is revalidated with a free 304
        before = sim.ledger(ALICE)["charged"]
        assert len(list(gh.get_repo(REPO).get_pulls(state="all"))) == 12
        assert sim.ledger(ALICE)["charged"] == before

    def test_body_is_byte_identical_to_direct_apart_from_urls(
        self, start_sim: StartSim, start_proxy: StartProxy
    ) -> None:
        sim = start_sim()
        proxy = start_proxy(sim.url)
        for path in (
            f"/repos/{REPO}",
            f"/repos/{REPO}/pulls/1",
            f"/repos/{REPO}/pulls/1/files",
            f"/repos/{REPO}/issues?per_page=3",
        ):
            _, _, direct = fetch(sim.url + path, ALICE, Accept_Encoding="identity")
            _, _, first = fetch(proxy.url + path, ALICE, Accept_Encoding="identity")
            _, headers, again = fetch(proxy.url + path, ALICE, Accept_Encoding="identity")
            expected = direct.replace(sim.url.encode(), proxy.url.encode())
            assert first == expected and again == expected, path
            assert headers["x-cache-mode"] == "REVALIDATED"


class TestGhapi:
    async def test_repeated_get_is_revalidated(self, start_sim: StartSim, start_proxy: StartProxy) -> None:
        from ghapi.all import GhApi

        sim = start_sim()
        proxy = start_proxy(sim.url)
        api = GhApi(token=ALICE, gh_host=proxy.url)
        modes = []
        for _ in range(2):
            repo = await api.repos.get("org0", "repo0")
            assert repo.full_name == REPO
            modes.append(api.recv_hdrs["X-Cache-Mode"])
        assert modes == ["MISS", "REVALIDATED"]
        assert await asyncio.to_thread(lambda: sim.ledger(ALICE)["charged"]) == 1


class TestGidgethub:
    async def test_repeated_get_and_pagination(self, start_sim: StartSim, start_proxy: StartProxy) -> None:
        from gidgethub.aiohttp import GitHubAPI

        sim = start_sim(prs_per_repo=10)
        proxy = start_proxy(sim.url)
        async with aiohttp.ClientSession() as session:
            gh = GitHubAPI(session, "ghproxy-tests", oauth_token=ALICE, base_url=proxy.url)
            modes = []
            for _ in range(2):
                status, headers, body = await gh._request(
                    "GET",
                    f"{proxy.url}/repos/{REPO}",
                    {"authorization": f"token {ALICE}", "accept": "application/vnd.github+json"},
                    b"",
                )
                assert status == 200 and json.loads(body)["full_name"] == REPO
                modes.append(headers["x-cache-mode"])
            assert modes == ["MISS", "REVALIDATED"]
            pulls = [pr async for pr in gh.getiter(f"/repos/{REPO}/pulls?state=all&per_page=2")]
            assert len(pulls) == 10
        assert await asyncio.to_thread(lambda: sim.ledger(ALICE)["charged"]) == 1 + 5


class TestTokenIsolation:
    """Token B never receives a body stored for token A unless upstream answered B's own request."""

    BUDGET = {"X-PROW-GHCACHE-TOKEN-BUDGET-IDENTIFIER": "shared-budget"}

    def test_private_body_is_never_served_to_a_token_without_access(
        self, start_sim: StartSim, start_proxy: StartProxy
    ) -> None:
        sim = start_sim()
        proxy = start_proxy(sim.url)
        status, _, body = fetch(
            proxy.url + f"/repos/{PRIVATE}", ALICE, **{"X_PROW_GHCACHE_TOKEN_BUDGET_IDENTIFIER": "shared"}
        )
        assert status == 200 and json.loads(body)["private"] is True
        # same budget identifier: same partition, so the proxy holds alice's entry for this key...
        status, headers, body = fetch(
            proxy.url + f"/repos/{PRIVATE}", ERIN, **{"X_PROW_GHCACHE_TOKEN_BUDGET_IDENTIFIER": "shared"}
        )
        # ...but revalidation uses erin's own credentials, and ghsim's per-token ETag never matches alice's
        assert status == 404
        assert json.loads(body)["message"] == "Not Found"
        assert headers["x-cache-mode"] == "NO-STORE"
        # and alice's entry was dropped, not kept for someone else to be served
        status, headers, _ = fetch(
            proxy.url + f"/repos/{PRIVATE}", ALICE, **{"X_PROW_GHCACHE_TOKEN_BUDGET_IDENTIFIER": "shared"}
        )
        # (alice may get her own body back through cross-token reuse: GitHub confirms it with a free 304)
        assert status == 200 and headers["x-cache-mode"] in ("MISS", "REUSED")

    def test_viewer_dependent_fields_are_each_tokens_own(self, start_sim: StartSim, start_proxy: StartProxy) -> None:
        sim = start_sim()
        proxy = start_proxy(sim.url)
        bodies: dict[str, dict[str, Any]] = {}
        for token in (ALICE, ERIN, ALICE, ERIN):
            status, _, body = fetch(
                proxy.url + f"/repos/{REPO}", token, **{"X_PROW_GHCACHE_TOKEN_BUDGET_IDENTIFIER": "shared"}
            )
            assert status == 200
            data = json.loads(body)
            bodies.setdefault(token, data)
            assert data == bodies[token], "a token received another token's representation"
        assert bodies[ALICE]["permissions"] != bodies[ERIN]["permissions"]

    def test_separate_partitions_without_a_budget_identifier(
        self, start_sim: StartSim, start_proxy: StartProxy
    ) -> None:
        sim = start_sim()
        proxy = start_proxy(sim.url)
        fetch(proxy.url + f"/repos/{REPO}", ALICE)
        _, headers, body = fetch(proxy.url + f"/repos/{REPO}", ERIN)
        assert headers["x-cache-mode"] == "MISS"
        assert json.loads(body)["permissions"]["admin"] is False
        assert sim.ledger(ERIN)["charged"] == 1


@pytest.mark.node
class TestOctokit:
    def test_octokit_rest_through_the_proxy(self, start_sim: StartSim, start_proxy: StartProxy, octokit: Any) -> None:
        sim = start_sim(prs_per_repo=12)
        proxy = start_proxy(sim.url)
        result = octokit(proxy.url, ALICE, "org0", "repo0")
        assert result["modes"] == ["MISS", "REVALIDATED"]
        assert result["full_name"] == REPO
        assert result["pulls"] == 12  # paginate() followed every Link, all of them on the proxy
        assert all(r["path"].startswith("/repos/org0/repo0") for r in sim.requests())
        assert sim.ledger(ALICE)["charged"] == 1 + 1  # repos.get once, then one page of 100 PRs
