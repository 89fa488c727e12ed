"""The simulator app: `make_app(config)` and the middleware that does GitHub's HTTP and accounting.

Control surface (never GitHub's, never accounted, never delayed):

    GET  /_sim/ledger           {"tokens": {TOKEN: {"requests", "charged", "free_304", "secondary_limited",
                                 "primary_limited", "max_inflight"}}, "totals": {same keys summed},
                                 "mints": {INSTALLATION_ID: installation tokens minted}}.
                                 TOKEN is the token exactly as sent; anonymous requests are under "", an app's
                                 JWTs under "app:<app id>".
    GET  /_sim/requests         {"requests": [{"t", "method", "path", "token", "status", "charged", "free_304",
                                 "secondary_limited", "primary_limited"}]}: the last 100 000 requests, oldest
                                 first; "path" includes the query string, "t" is unix time (float).
    GET  /_sim/representations  {"distinct": n}: distinct (path+query, body sha256) pairs answered 200 since
                                 the last reset; a lower bound for what any client must transfer.
    GET  /_sim/apps             {"apps": [{"id", "slug", "name", "client_id", "private_key_pem", "installations":
                                 [{"id", "account"}]}]}: the GitHub Apps and the PEM private key to sign their JWTs.
    POST /_sim/reset            zero the ledger, the request log, the representations and all rate-limit
                                 state (primary windows, secondary points, blocks); the data stays.
    POST /_sim/mutate           change data without accounting: {"repo": "org0/repo0", "kind": K, "number": N}
                                 with K one of "touch_pr" / "touch_issue" (bump updated_at and the title),
                                 "push_pr" (new commit on the PR head), "comment" (add an issue comment,
                                 optional "body"). Answers {"ok": true, ...}.
    GET  /_sim/webhooks         {"url", "secret_set"}; POST {"url", "secret"} sets where webhooks go and their secret.
    GET  /_sim/deliveries       {"deliveries": [...]}, oldest first; GET /{id} (with the request), POST /{id}/redeliver,
                                 POST /wait {"timeout"} (until the queue is empty), DELETE (clear the log).
    POST /_sim/act/<what>       act as the user "as": pull, push, issue, comment, review, labels, assign, close,
                                 reopen, merge; the same writes and webhooks as the REST API.
                                 Webhooks and acts are documented in docs/ghsim.md.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from ghsim import etags
from ghsim.accounting import Outcome, Quota, RequestKind, Resource, TokenState, admit, classify, settle
from ghsim.auth import ANONYMOUS, BadCredentials, Viewer, identify, parse_authorization
from ghsim.config import SimConfig
from ghsim.data import generate
from ghsim.ledger import RequestRecord
from ghsim.replies import VIEWER_KEY, ApiError, error_body, reply
from ghsim.state import STATE, SimState
from ghsim.store import StoreError

__all__ = ["STATE", "make_app"]

RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = f"{RATE_DOCS}#about-secondary-rate-limits"
VARY_LINES = ("Accept, Authorization, Cookie, X-GitHub-OTP", "Accept-Encoding, Accept, X-Requested-With")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_mutation(body: bytes) -> bool:
    try:
        query = json.loads(body or b"{}").get("query", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(query, str) and query.lstrip().startswith("mutation")


def _cache_control(request: web.Request, who: Viewer) -> str:
    if request.path.rstrip("/") == "/rate_limit" or request.path.startswith("/search/"):
        return "no-cache"
    return f"{'public' if who.anonymous else 'private'}, max-age=60, s-maxage=60"


def _decorate(resp: web.Response, request: web.Request, who: Viewer, quota: Quota | None, request_id: str) -> None:
    """The headers GitHub puts on every answer."""
    h = resp.headers
    h[hdrs.CACHE_CONTROL] = _cache_control(request, who)
    for line in VARY_LINES:
        h.add(hdrs.VARY, line)
    h["X-GitHub-Media-Type"] = "github.v3; format=json"
    h["X-GitHub-Request-Id"] = request_id
    if quota is not None:
        h["x-ratelimit-limit"] = str(quota.limit)
        h["x-ratelimit-remaining"] = str(quota.remaining)
        h["x-ratelimit-used"] = str(quota.used)
        h["x-ratelimit-reset"] = str(quota.reset)
        h["x-ratelimit-resource"] = quota.resource.value


def _conditional(request: web.Request, resp: web.Response, sim: SimState) -> web.Response:
    """Add the ETag; answer 304 when the client's validators still match."""
    body = resp.body
    if not isinstance(body, bytes | bytearray) or resp.status == 204:
        return resp
    body = bytes(body)
    tag = etags.etag(request.headers, body)
    resp.headers[hdrs.ETAG] = tag
    if request.method not in (hdrs.METH_GET, hdrs.METH_HEAD) or resp.status != 200:
        return resp
    inm = request.headers.get(hdrs.IF_NONE_MATCH)
    ims = request.headers.get(hdrs.IF_MODIFIED_SINCE)
    last_modified = resp.headers.get(hdrs.LAST_MODIFIED)
    if inm is not None:
        fresh = etags.none_match(inm, tag)
    else:
        fresh = ims is not None and last_modified is not None and etags.not_modified_since(ims, last_modified)
    if fresh:
        not_modified = web.Response(status=304)
        for name in (hdrs.ETAG, hdrs.LAST_MODIFIED):
            if name in resp.headers:
                not_modified.headers[name] = resp.headers[name]
        return not_modified
    sim.ledger.representations.add((request.path_qs, hashlib.sha256(body).hexdigest()))
    return resp


def _gzip(request: web.Request, resp: web.Response) -> None:
    body = resp.body
    if isinstance(body, bytes) and body and "gzip" in request.headers.get(hdrs.ACCEPT_ENCODING, "").lower():
        resp.body = gzip.compress(body, compresslevel=5)
        resp.headers[hdrs.CONTENT_ENCODING] = "gzip"


def _refusal(request: web.Request, who: Viewer, kind: RequestKind, outcome: Outcome, rid: str) -> web.Response:
    if outcome is Outcome.SECONDARY:
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you "
            f"reach out to GitHub Support for help, please include the request ID {rid}."
        )
        return reply({"message": message, "documentation_url": SECONDARY_DOCS}, status=403)
    subject = f"user ID {who.user.id}" if who.user else f"{request.remote}"
    if kind.resource is Resource.GRAPHQL:
        error = {"type": "RATE_LIMITED", "code": "graphql_rate_limit"}
        return reply({"errors": [error | {"message": f"API rate limit already exceeded for {subject}."}]})
    return reply({"message": f"API rate limit exceeded for {subject}.", "documentation_url": RATE_DOCS}, status=403)


async def _run(request: web.Request, handler: Handler) -> web.Response:
    try:
        resp = await handler(request)
    except ApiError as exc:
        return error_body(exc.status, exc.message, exc.extra)
    except StoreError as exc:
        return error_body(exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status in (404, 405):
            return error_body(404, "Not Found")
        return error_body(exc.status, exc.reason)
    if not isinstance(resp, web.Response):
        raise TypeError("ghsim handlers answer with web.Response")
    return resp


@web.middleware
async def github(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate, account, delay, run the handler, then add ETag, 304, headers and gzip."""
    if request.path.startswith("/_sim/"):
        return await handler(request)
    sim = request.app[STATE]
    started = time.time()
    sim.request_counter += 1
    rid = f"{sim.config.seed & 0xFFFF:04X}:{sim.request_counter:08X}"
    raw = request.headers.get(hdrs.AUTHORIZATION)
    try:
        who = identify(parse_authorization(raw), sim.data, sim.config, sim.apps, started)
    except BadCredentials as exc:
        resp = error_body(exc.status, exc.message)
        _decorate(resp, request, ANONYMOUS, None, rid)
        token = (raw or "").partition(" ")[2].strip() or (raw or "")
        sim.ledger.record(RequestRecord(started, request.method, request.path_qs, token, exc.status, *[False] * 4))
        return resp
    if request.path == "/graphql" and who.anonymous:
        resp = error_body(401, "This endpoint requires you to be authenticated.")
        _decorate(resp, request, who, None, rid)
        sim.ledger.record(RequestRecord(started, request.method, request.path_qs, "", 401, *[False] * 4))
        return resp
    mutation = request.path == "/graphql" and _is_mutation(await request.read())
    kind = classify(request.method, request.path, mutation)
    key = who.token
    decision = admit(sim.limits.get(key, TokenState()), kind, started, sim.config, who.anonymous)
    sim.limits[key] = decision.state
    if decision.outcome is not Outcome.ADMIT:
        resp = _refusal(request, who, kind, decision.outcome, rid)
        _decorate(resp, request, who, decision.quota, rid)
        if decision.retry_after is not None:
            resp.headers[hdrs.RETRY_AFTER] = str(decision.retry_after)
        secondary = decision.outcome is Outcome.SECONDARY
        rec = RequestRecord(
            started, request.method, request.path_qs, key, resp.status, False, False, secondary, not secondary
        )
        sim.ledger.record(rec)
        _gzip(request, resp)
        return resp
    sim.ledger.inflight(key, decision.state.inflight)
    charged = not kind.free
    quota = decision.quota
    try:
        delay = sim.config.latency_ms + sim.rng.uniform(-sim.config.jitter_ms, sim.config.jitter_ms)
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        request[VIEWER_KEY] = who
        resp = _conditional(request, await _run(request, handler), sim)
        # A 304 to an authenticated conditional request costs nothing.
        if resp.status == 304 and not who.anonymous:
            charged = False
    finally:
        state, quota = settle(sim.limits.get(key, TokenState()), kind, time.time(), sim.config, who.anonymous, charged)
        sim.limits[key] = state
    _decorate(resp, request, who, quota, rid)
    free_304 = resp.status == 304 and not who.anonymous
    sim.ledger.record(
        RequestRecord(started, request.method, request.path_qs, key, resp.status, charged, free_304, False, False)
    )
    _gzip(request, resp)
    return resp


def make_app(config: SimConfig | None = None) -> web.Application:
    """A fresh simulator with its own seeded data."""
    from ghsim import (
        routes_act,
        routes_apps,
        routes_graphql,
        routes_issues,
        routes_pulls,
        routes_repos,
        routes_sim,
        routes_users,
    )

    config = config or SimConfig()
    app = web.Application(middlewares=[github, routes_apps.scope])
    app[STATE] = SimState(config=config, data=generate(config))
    routes_apps.install(app[STATE])
    app[STATE].rng.seed(config.seed)
    for module in (routes_sim, routes_users, routes_repos, routes_issues, routes_pulls, routes_graphql, routes_apps):
        app.router.add_routes(module.routes)
    routes_act.install(app)
    return app
