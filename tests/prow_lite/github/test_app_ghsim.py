"""GitHub App auth against ghsim's apps through ghproxy: the JWT calls and the token mint go through the proxy too."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prow_lite.github import AppAuth, GitHubClient
from tests.conftest import Sim, StartProxy, StartSim


async def sim_app(sim: Sim) -> dict[str, Any]:
    """ghsim's seeded app (id, slug, private key, installations) from its control surface."""
    apps: list[dict[str, Any]] = (await asyncio.to_thread(sim._get, "/_sim/apps"))["apps"]
    return apps[0]


def installation_of(app: dict[str, Any], org: str) -> int:
    return int(next(i["id"] for i in app["installations"] if i["account"] == org))


async def test_app_acts_as_its_bot_through_the_proxy(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim(min_mutation_interval_s=0)
    proxy = start_proxy(sim.url, mutation_interval_s=0)
    app = await sim_app(sim)
    auth = AppAuth(app["id"], app["private_key_pem"], org="org0")
    async with GitHubClient(proxy.url, auth, "hook", backoff_s=0.01) as gh:
        assert await gh.bot_login() == f"{app['slug']}[bot]"
        assert (await gh.get_repo("org0", "repo2"))["private"] is True  # the installation reaches the private repo
        made = await gh.create_comment("org0", "repo0", 3, "from the app")
        assert made["user"]["login"] == f"{app['slug']}[bot]"
        await gh.add_labels("org0", "repo0", 3, ["lgtm"])
    assert auth.installation_id == installation_of(app, "org0") and auth.mints == 1
    paths = [(r["method"], r["path"]) for r in await asyncio.to_thread(sim.requests)]
    assert ("GET", "/orgs/org0/installation") in paths
    assert ("POST", f"/app/installations/{auth.installation_id}/access_tokens") in paths
    ledger = await asyncio.to_thread(sim.ledger)
    assert ledger["mints"] == {str(auth.installation_id): 1}
    assert ledger["tokens"][f"app:{app['id']}"]["requests"] >= 3  # GET /app, the installation, the mint


async def test_a_second_component_gets_the_token_the_proxy_already_minted(
    start_sim: StartSim, start_proxy: StartProxy
) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url)
    app = await sim_app(sim)
    installation = installation_of(app, "org0")
    tokens = []
    for component in ("hook", "tide"):
        auth = AppAuth(app["id"], app["private_key_pem"], installation_id=installation)
        async with GitHubClient(proxy.url, auth, component) as gh:
            assert (await gh.get_pull("org0", "repo0", 1))["number"] == 1
            tokens.append(await auth.installation_token(gh))
    assert tokens[0] == tokens[1]
    assert (await asyncio.to_thread(sim.ledger))["mints"] == {str(installation): 1}


async def test_token_renewed_before_ghsims_expiry(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim(installation_token_ttl_s=130, min_mutation_interval_s=0)
    proxy = start_proxy(sim.url, app_token_reuse="off", mutation_interval_s=0)  # every mint reaches ghsim
    app = await sim_app(sim)
    offset = [0.0]
    auth = AppAuth(app["id"], app["private_key_pem"], org="org0", clock=lambda: time.time() + offset[0])
    async with GitHubClient(proxy.url, auth, "hook") as gh:
        await gh.get_issue("org0", "repo0", 9)
        await gh.get_issue("org0", "repo0", 10)  # 130 s left: the same token
        offset[0] = 15.0  # 115 s left by the client's clock: inside the two-minute margin
        await gh.get_issue("org0", "repo0", 11)
    assert auth.mints == 2
    assert (await asyncio.to_thread(sim.ledger))["mints"] == {str(auth.installation_id): 2}
    log = await asyncio.to_thread(sim.requests)
    used = [r["token"] for r in log if r["path"].startswith("/repos/org0/repo0/issues/")]
    assert used[0] == used[1] != used[2]
    assert all(token.startswith("ghs_") for token in used)


async def test_a_token_near_expiry_from_the_proxy_is_not_asked_for_on_every_call(
    start_sim: StartSim, start_proxy: StartProxy
) -> None:
    """ghproxy keeps handing out its token while it has more than a minute left; the client then uses it a while."""
    sim = start_sim(installation_token_ttl_s=100, min_mutation_interval_s=0)
    proxy = start_proxy(sim.url, mutation_interval_s=0)
    app = await sim_app(sim)
    auth = AppAuth(app["id"], app["private_key_pem"], org="org0")
    async with GitHubClient(proxy.url, auth, "hook") as gh:
        for n in range(9, 14):
            await gh.get_issue("org0", "repo0", n)
    assert auth.mints == 1
    assert (await asyncio.to_thread(sim.ledger))["mints"] == {str(auth.installation_id): 1}
