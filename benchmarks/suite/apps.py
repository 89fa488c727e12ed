"""app-rotation: components authenticating as a GitHub App whose installation tokens rotate every (simulated) hour.

Every rotation, each component signs a JWT for the app (RS256 with the key `GET /_sim/apps` hands out), asks for
an installation token (`POST /app/installations/{id}/access_tokens`, through the proxy unless direct) and polls the
plan's resources with it until the next rotation. ghsim's tokens live `ttl_s` seconds and the proxy hands a minted
token out only while it has more than a second left, so every rotation starts with a new token.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

from benchmarks.suite.client import Client
from benchmarks.suite.timeline import Mutator, Progress, pace
from benchmarks.suite.workloads import ORG, RotationPlan

POLL_SHARE = 0.7  # polls are spread over this share of a token's life, so the last one ends well before it expires


@dataclass(frozen=True, slots=True)
class AppKey:
    app_id: int
    installation_id: int
    private_key_pem: str


def app_key(sim: str) -> AppKey:
    """The seeded app and its installation on the org the workload reads, from ghsim's control surface."""
    with urllib.request.urlopen(sim + "/_sim/apps", timeout=30) as resp:
        doc: dict[str, Any] = json.load(resp)
    if not doc.get("apps"):
        raise RuntimeError("ghsim has no GitHub App (GET /_sim/apps listed none)")
    app = doc["apps"][0]
    installation = next((i for i in app["installations"] if i["account"] == ORG), None)
    if installation is None:
        raise RuntimeError(f"ghsim's app {app['slug']} is not installed on {ORG}")
    return AppKey(int(app["id"]), int(installation["id"]), app["private_key_pem"])


def app_jwt(key: AppKey, now: float, component: int) -> str:
    """GitHub's app JWT: issued a minute ago (clock drift), expiring within ten minutes.

    Components are separate processes signing at slightly different moments; `component` shifts `iat` so their
    JWTs differ as they would.
    """
    issued = int(now) - 60 - component
    claims = {"iat": issued, "exp": int(now) + 540, "iss": str(key.app_id)}
    return jwt.encode(claims, key.private_key_pem, algorithm="RS256")


async def mint(client: Client, key: AppKey, component: int) -> str | None:
    token = app_jwt(key, time.time(), component)
    answer = await client.request(
        token,
        "POST",
        f"/app/installations/{key.installation_id}/access_tokens",
        body={},
        scheme="Bearer",
        route=f"component{component}",
    )
    if answer.status != 201:
        return None
    minted: str = answer.json()["token"]
    return minted


async def rotation(client: Client, mutator: Mutator, sim: str, plan: RotationPlan, progress: Progress) -> None:
    """Mint at every rotation, then poll the plan's resources with the new token; components side by side."""
    key = app_key(sim)
    start = time.monotonic()

    async def component(c: int, token: str | None) -> None:
        for path in plan.paths if token is not None else ():
            await client.get(token or "", path, route=f"component{c}")

    for index, changes in enumerate(plan.changes):
        await pace(start, index, plan.ttl_s)
        for change in changes:
            await mutator.apply(change)
        tokens = await asyncio.gather(*(mint(client, key, c) for c in range(plan.components)))
        for poll in range(plan.polls):
            await pace(start + index * plan.ttl_s, poll, plan.ttl_s * POLL_SHARE / plan.polls)
            await asyncio.gather(*(component(c, token) for c, token in enumerate(tokens)))
        progress(1)
