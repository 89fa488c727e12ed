"""SHA-addressed content through ghproxy in front of ghsim: after the first fetch, nothing goes upstream."""

from __future__ import annotations

import json

from tests.conftest import StartProxy, StartSim
from tests.ghproxy.test_clients import fetch

TOKEN = "sim_alice"


def test_git_objects_and_contents_at_a_sha_are_fetched_once(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url)
    _, _, body = fetch(proxy.url + "/repos/org0/repo0/branches/main", TOKEN)
    sha = json.loads(body)["commit"]["sha"]
    _, _, body = fetch(proxy.url + f"/repos/org0/repo0/git/commits/{sha}", TOKEN)
    tree = json.loads(body)["tree"]["sha"]
    targets = [
        f"/repos/org0/repo0/git/commits/{sha}",
        f"/repos/org0/repo0/git/trees/{tree}?recursive=1",
        f"/repos/org0/repo0/contents/OWNERS?ref={sha}",
    ]
    for target in targets[1:]:
        status, headers, _ = fetch(proxy.url + target, TOKEN)
        assert (status, headers["x-cache-mode"]) == (200, "MISS"), target
    before = len(sim.requests())
    for _ in range(3):
        for target in targets:
            status, headers, _ = fetch(proxy.url + target, TOKEN)
            assert (status, headers["x-cache-mode"]) == (200, "IMMUTABLE"), target
    assert len(sim.requests()) == before  # ghsim's ledger saw none of the nine repeats


def test_not_for_moving_refs_or_no_cache(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url)
    fetch(proxy.url + "/repos/org0/repo0/contents/OWNERS?ref=main", TOKEN)
    assert fetch(proxy.url + "/repos/org0/repo0/contents/OWNERS?ref=main", TOKEN)[1]["x-cache-mode"] == "REVALIDATED"
    _, _, body = fetch(proxy.url + "/repos/org0/repo0/branches/main", TOKEN)
    blob = f"/repos/org0/repo0/git/commits/{json.loads(body)['commit']['sha']}"
    fetch(proxy.url + blob, TOKEN)
    assert fetch(proxy.url + blob, TOKEN, Cache_Control="no-cache")[1]["x-cache-mode"] == "CHANGED"


def test_can_be_turned_off(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url, immutable=False)
    _, _, body = fetch(proxy.url + "/repos/org0/repo0/branches/main", TOKEN)
    target = f"/repos/org0/repo0/git/commits/{json.loads(body)['commit']['sha']}"
    fetch(proxy.url + target, TOKEN)
    assert fetch(proxy.url + target, TOKEN)[1]["x-cache-mode"] == "REVALIDATED"


def test_in_a_budget_partition_only_for_the_token_github_last_answered(
    start_sim: StartSim, start_proxy: StartProxy
) -> None:
    """Tokens sharing a budget identifier share a partition: a SHA-addressed entry is served without asking only to
    the credential GitHub sent or confirmed it to (its ETag is the one GitHub's formula gives that credential)."""
    sim = start_sim()
    proxy = start_proxy(sim.url)
    budget = {"X_PROW_GHCACHE_TOKEN_BUDGET_IDENTIFIER": "prow"}
    _, _, body = fetch(proxy.url + "/repos/org0/repo2/branches/main", TOKEN)  # org0/repo2 is private
    commit = f"/repos/org0/repo2/git/commits/{json.loads(body)['commit']['sha']}"
    assert fetch(proxy.url + commit, TOKEN, **budget)[1]["x-cache-mode"] == "MISS"
    before = len(sim.requests())
    assert fetch(proxy.url + commit, TOKEN, **budget)[1]["x-cache-mode"] == "IMMUTABLE"
    assert len(sim.requests()) == before
    # another token in the same partition: GitHub decides (an outsider gets its 404, never the stored body)
    status, headers, _ = fetch(proxy.url + commit, "sim_erin", **budget)
    assert status == 404 and headers["x-cache-mode"] != "IMMUTABLE"
    status, headers, _ = fetch(proxy.url + commit, "sim_bob", **budget)  # bob may read: GitHub confirms it
    assert status == 200 and headers["x-cache-mode"] in ("REVALIDATED", "REUSED", "CHANGED")
    assert fetch(proxy.url + commit, "sim_bob", **budget)[1]["x-cache-mode"] == "IMMUTABLE"
    # alice's ETag is no longer the stored one: she is asked about again, once
    assert fetch(proxy.url + commit, TOKEN, **budget)[1]["x-cache-mode"] in ("REVALIDATED", "CHANGED")
