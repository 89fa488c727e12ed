"""A minimal GraphQL endpoint: `viewer { login }` and `rateLimit`; anything else gets GitHub-shaped errors."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from ghsim.accounting import Resource, TokenState, quota
from ghsim.render import iso
from ghsim.replies import reply, state, viewer

routes = web.RouteTableDef()


@routes.post("/graphql")
async def graphql(request: web.Request) -> web.Response:
    try:
        query = json.loads(await request.read() or b"{}").get("query", "")
    except (ValueError, AttributeError):
        return reply({"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql"}, 400)
    if not isinstance(query, str) or not query.strip():
        return reply({"errors": [{"message": "A query attribute must be specified and must be a string."}]})
    is_mutation = query.lstrip().startswith("mutation")
    sim, who = state(request), viewer(request)
    data: dict[str, Any] = {}
    if not is_mutation and "viewer" in query and who.user is not None:
        data["viewer"] = {"login": who.user.login}
    if not is_mutation and "rateLimit" in query:
        q = quota(sim.limits.get(who.token, TokenState()), Resource.GRAPHQL, time.time(), sim.config, False)
        data["rateLimit"] = {
            "limit": q.limit,
            "cost": 1,
            "remaining": q.remaining,
            "used": q.used,
            "resetAt": iso(q.reset),
            "nodeCount": 0,
        }
    if not data:
        error = {
            "type": "NOT_SUPPORTED",
            "message": "ghsim answers only `viewer { login }` and `rateLimit` queries",
            "locations": [{"line": 1, "column": 1}],
        }
        return reply({"errors": [error]})
    return reply({"data": data})
