"""The driver: from a client request to its response, through the store, the policy, coalescing and one exchange.

Storage never decides freshness and the policy never touches a backend; this module is where the two meet. The
upstream exchange itself (throttle, send, settle, store) is `exchange.Exchanger`; this module decides whether a
request starts one, joins one in flight, and how the result is served to this particular client.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from aiohttp import hdrs, web

from ghproxy import coalesce, crosstoken, keys, paths, policy, responses
from ghproxy import headers as h
from ghproxy.apptokens import MINT_PATH, Equalizer
from ghproxy.cache.tiered import TieredStore
from ghproxy.entry import Entry
from ghproxy.exchange import Call, Exchanger, Failed, Result, Served, Streaming
from ghproxy.immutable import is_immutable
from ghproxy.metrics import Metrics, user_agent_label
from ghproxy.policy import Kind, Mode
from ghproxy.renditions import Renditions, render
from ghproxy.rewrite import Rewriter, is_json
from ghproxy.settings import Settings
from ghproxy.throttle.driver import Throttle
from ghproxy.upstream import Upstream

log = logging.getLogger("ghproxy.access")
GRAPHQL_PEEK_BYTES = 256 * 1024
IMMUTABLE = "IMMUTABLE"  # X-Cache-Mode: content addressed by a full SHA, served from the cache without asking


@dataclass(slots=True)
class Outcome:
    """What the access log and metrics need to know about one proxied request."""

    mode: str
    status: int
    upstream_status: int | None = None
    upstream_wait: float = 0.0  # seconds from sending upstream to its answer's headers


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: TieredStore,
        upstream: Upstream,
        metrics: Metrics,
        throttle: Throttle,
        equalizer: Equalizer | None = None,
    ) -> None:
        self.settings = settings
        self.equalizer = equalizer
        self.store = store
        self.metrics = metrics
        self.exchanger = Exchanger(settings, store, upstream, metrics, throttle)
        self.flights = coalesce.Flights(settings.coalesce_window_ms / 1000)
        self.renditions = Renditions(settings.memory_cache_bytes // 8)
        self._upstream_base = str(upstream.base)

    @lru_cache(maxsize=64)  # noqa: B019 - one engine per process; a handful of public bases
    def rewriter(self, public: str) -> Rewriter:
        return Rewriter(self._upstream_base, public)

    def public_base(self, request: web.Request) -> str:
        if self.settings.public_url:
            return self.settings.public_url
        return f"{request.scheme}://{request.host}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        path = request.rel_url.raw_path
        template = paths.simplify(path)
        token_hash = keys.token_hash(request.headers)
        ua = user_agent_label(request.headers.get(hdrs.USER_AGENT))
        self.metrics.saw_partition(token_hash)
        outcome = Outcome(mode=Mode.SKIP, status=0)
        try:
            response = await self._proxy(request, path, template, token_hash, ua, outcome)
            outcome.status = response.status
        finally:
            elapsed = time.monotonic() - started
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": template if template != paths.UNMATCHED else path[:200],
                    "status": outcome.status,
                    "mode": outcome.mode,
                    "upstream_status": outcome.upstream_status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "token_hash": token_hash[:12],
                    "user_agent": ua,
                },
            )
            self.metrics.responses.inc(outcome.mode, template, ua, token_hash)
            self.metrics.overhead.observe(max(0.0, elapsed - outcome.upstream_wait))
        return response

    async def _proxy(
        self, request: web.Request, path: str, template: str, token_hash: str, ua: str, outcome: Outcome
    ) -> web.StreamResponse:
        method = request.method
        if method == hdrs.METH_POST and self.equalizer is not None and (mint := MINT_PATH.match(path)):
            response, outcome.mode = await self.equalizer.handle(
                request, mint.group(1), self.rewriter(self.public_base(request))
            )
            response.headers[h.CACHE_MODE] = outcome.mode
            outcome.upstream_status = response.status
            return response
        key = index_key = ""
        entry: Entry | None = None
        if method in policy.CACHEABLE_METHODS:
            representation = (
                hdrs.METH_GET,  # HEAD is answered from (and revalidates) GET's entry
                keys.normalise_target(path, request.rel_url.raw_query_string),
                keys.normalise_accept(request.headers.get(hdrs.ACCEPT)),
                request.headers.get(h.API_VERSION, ""),
            )
            key = keys.cache_key(keys.partition(request.headers), *representation)
            if self.settings.cross_token and method == hdrs.METH_GET:
                index_key = keys.cache_key(crosstoken.SHARED_PARTITION, *representation)
            fk = _flight(key, request)
            joinable = self._joinable(request, path, fk)
            if joinable is not None:
                # an identical request is in flight: wait for it before touching the store (bursts stay cheap)
                result = await self.flights.wait(fk, joinable)
                if not isinstance(result, Streaming):
                    return await self._respond(request, key, result, True, outcome)
            entry = await self.store.get(key)
            if entry is not None and self._immutable(request, path, entry):
                self.metrics.immutable_served.labels(token_hash).inc()
                return await self._respond(request, key, Served(entry, IMMUTABLE, True, None), False, outcome)
        plan = policy.plan(method, path, request.headers, entry)
        reused = False
        if self._may_reuse(request, plan):
            indexed = await self.store.get(index_key)
            found = crosstoken.candidate(indexed, request.headers) if indexed is not None else None
            if found is not None:
                entry, reused = found, True
                plan = policy.plan(method, path, request.headers, entry)
        call = await self._call(request, path, template, token_hash, ua, key, plan, entry)
        call.reused = reused
        call.index_key = index_key

        flight_key = self._flight_key(request, key, plan)
        if flight_key is None:
            result = await self.exchanger.run(call)
            coalesced = False
        else:
            task = self.flights.joinable(flight_key)
            coalesced = task is not None
            if task is None:
                task = self.flights.start(flight_key, lambda: self.exchanger.run(call))
            result = await self.flights.wait(flight_key, task)
            if coalesced and isinstance(result, Streaming):
                # too big to share: this client fetches its own copy
                result, coalesced = await self.exchanger.run(call), False
        outcome.upstream_wait = 0.0 if coalesced else call.timings.get("upstream_wait", 0.0)
        return await self._respond(request, key, result, coalesced, outcome)

    async def _call(
        self,
        request: web.Request,
        path: str,
        template: str,
        token_hash: str,
        ua: str,
        key: str,
        plan: policy.Plan,
        entry: Entry | None,
    ) -> Call:
        out_headers = h.upstream_request_headers(
            request.headers.items(), keep_conditionals=plan.keeps_client_conditionals
        )
        out_headers.extend(plan.validators)
        if plan.kind is Kind.PASS:
            client_ae = request.headers.get(hdrs.ACCEPT_ENCODING)
            if client_ae:
                out_headers.append((hdrs.ACCEPT_ENCODING, client_ae))
        else:
            # One stored representation serves every client: ask for gzip, store it decoded, encode per client.
            out_headers.append((hdrs.ACCEPT_ENCODING, "gzip"))
        body: bytes | object | None = request.content if request.body_exists else None
        mutation = False
        if path in policy.GRAPHQL_PATHS and request.body_exists:
            length = request.content_length
            if length is not None and length <= GRAPHQL_PEEK_BYTES:
                # GraphQL mutations cost 5 secondary-limit points, queries 1: look, then send the bytes read
                body = await request.read()
                mutation = _is_graphql_mutation(body)
            else:
                mutation = True  # cannot look without buffering a large body: count it as the costlier kind
        return Call(
            method=request.method,
            target=request.raw_path,  # already checked by server.refuse_bad_targets
            path=path,
            key=key,
            plan=plan,
            entry=entry,
            headers=out_headers,
            body=body,  # type: ignore[arg-type]
            throttle_key=hashlib.sha256(token_hash.encode()).hexdigest()[:32],
            token_hash=token_hash,
            template=template,
            user_agent=ua,
            graphql_mutation=mutation,
            shared=h.BUDGET_ID in request.headers,
        )

    def _may_reuse(self, request: web.Request, plan: policy.Plan) -> bool:
        """Whether to try another token's stored body for this GET (nothing of its own stored, no own validators)."""
        return (
            self.settings.cross_token
            and request.method == hdrs.METH_GET
            and plan.kind is Kind.FETCH
            and hdrs.AUTHORIZATION in request.headers
            and not any(c in request.headers for c in h.CONDITIONAL)
        )

    def _immutable(self, request: web.Request, path: str, entry: Entry) -> bool:
        """Whether a stored answer may be served without asking GitHub: content addressed by a full SHA.

        With a budget identifier several tokens share the partition, and only GitHub can say whether this requester
        may read an answer another token fetched: then only an entry GitHub last sent or confirmed to this very
        credential is served (its ETag is the one GitHub's formula gives this requester; if the formula changed,
        it never matches and the request is revalidated). Not when the client asks for a fresh copy.
        """
        if not self.settings.immutable or entry.status != 200:
            return False
        if "no-cache" in h.cache_directives(request.headers.get(hdrs.CACHE_CONTROL)):
            return False
        if not is_immutable(request.method, path, request.rel_url.raw_query_string):
            return False
        if h.BUDGET_ID in request.headers:
            etag = entry.etag
            return etag is not None and h.etag_matches(crosstoken.etag_for(request.headers, entry.body), etag)
        return True

    def _joinable(self, request: web.Request, path: str, flight_key: str) -> asyncio.Task[Result] | None:
        """An exchange in flight that this GET may share, known before the store is read.

        Only a request whose plan could never be PASS or REFETCH may join; its own validators do not matter, since
        flights are only started by requests that do not send theirs upstream (see `_flight_key`).
        """
        if request.method != hdrs.METH_GET or not len(self.flights):
            return None
        if policy.plan(request.method, path, request.headers, None).kind is not Kind.FETCH:
            return None
        if "no-cache" in h.cache_directives(request.headers.get(hdrs.CACHE_CONTROL)):
            return None
        return self.flights.joinable(flight_key)

    @staticmethod
    def _flight_key(request: web.Request, key: str, plan: policy.Plan) -> str | None:
        """Which in-flight exchange this request may start or share, if any."""
        if request.method != hdrs.METH_GET or plan.kind not in (Kind.FETCH, Kind.REVALIDATE):
            return None
        if plan.kind is Kind.FETCH and any(c in request.headers for c in h.CONDITIONAL):
            return None  # its own validators go upstream: the answer may be a bodyless 304 only it can use
        return _flight(key, request)

    async def _respond(
        self, request: web.Request, key: str, result: Result, coalesced: bool, outcome: Outcome
    ) -> web.StreamResponse:
        rewriter = self.rewriter(self.public_base(request))
        if isinstance(result, Failed):
            outcome.mode, outcome.upstream_status = result.mode, result.upstream_status
            log_level = logging.WARNING if result.status >= 500 else logging.INFO
            log.log(log_level, "answered without upstream", extra={"status": result.status, "reason": result.message})
            return responses.error(result.status, result.message, mode=result.mode, extra=result.headers)
        if isinstance(result, Streaming):
            outcome.mode = result.mode
            outcome.upstream_status = result.upstream.status
            try:
                return await responses.stream(request, result.upstream, result.mode, rewriter, prefix=result.prefix)
            finally:
                result.upstream.release()
        mode = Mode.COALESCED if coalesced else result.mode
        outcome.mode, outcome.upstream_status = mode, result.upstream_status
        entry = result.entry
        compress = h.accepts_gzip(request.headers.get(hdrs.ACCEPT_ENCODING))
        if result.stored:
            if policy.client_not_modified(request.headers, entry):
                return responses.from_entry(request, entry, mode, rewriter, (b"", False), not_modified=True)
            rendered = self.renditions.body(key, entry, rewriter, compress)
        else:
            rendered = render(entry.body, rewriter, compress, is_json(h.get(entry.headers, hdrs.CONTENT_TYPE)))
        return responses.from_entry(request, entry, mode, rewriter, rendered, not_modified=False)


def _flight(key: str, request: web.Request) -> str:
    """Flights are per token, not per partition: tokens sharing a budget identifier never share an answer."""
    auth = hashlib.sha256((request.headers.get(hdrs.AUTHORIZATION) or "").encode()).hexdigest()
    return f"{key}/{auth}"


_MUTATION = re.compile(r"(?m)^[\s,]*mutation\b")
_COMMENT = re.compile(r"#[^\n]*")


def _is_graphql_mutation(body: bytes) -> bool:
    """Whether a GraphQL document holds a mutation operation (comments ignored, fragments allowed before it)."""
    try:
        doc = json.loads(body)
        query = doc.get("query", "")
    except (ValueError, AttributeError):
        return True  # unreadable: count it as the costlier kind
    if not isinstance(query, str):
        return True
    return bool(_MUTATION.search(_COMMENT.sub("", query))) or query.lstrip().startswith("mutation")
