"""The driver: runs the policy's decisions against the store and the upstream, and records what happened.

Storage never decides freshness and the policy never touches a backend; this module is where the two meet.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache

import aiohttp
from aiohttp import hdrs, web

from ghproxy import headers as h
from ghproxy import keys, paths, policy, responses
from ghproxy.cache.tiered import TieredStore
from ghproxy.entry import Entry
from ghproxy.errors import UpstreamError
from ghproxy.metrics import Metrics, user_agent_label
from ghproxy.policy import Action, Kind, Mode
from ghproxy.renditions import Renditions
from ghproxy.rewrite import Rewriter, is_json
from ghproxy.settings import Settings
from ghproxy.upstream import Upstream

log = logging.getLogger("ghproxy.access")


@dataclass(slots=True)
class Outcome:
    """What the access log and metrics need to know about one proxied request."""

    mode: str
    status: int
    upstream_status: int | None = None
    upstream_wait: float = 0.0  # seconds from sending upstream to its answer's headers


class Engine:
    def __init__(self, settings: Settings, store: TieredStore, upstream: Upstream, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.upstream = upstream
        self.metrics = metrics
        self._upstream_base = str(upstream.base)
        self.renditions = Renditions(settings.memory_cache_bytes // 8)

    @lru_cache(maxsize=64)  # noqa: B019 - one engine per process; a handful of public bases
    def rewriter(self, public: str) -> Rewriter:
        return Rewriter(self._upstream_base, public)

    def public_base(self, request: web.Request) -> str:
        if self.settings.public_url:
            return self.settings.public_url
        return f"{request.scheme}://{request.host}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        target = request.raw_path  # already checked by server.refuse_bad_targets
        path = request.rel_url.raw_path
        template = paths.simplify(path)
        token_hash = keys.token_hash(request.headers)
        ua = user_agent_label(request.headers.get(hdrs.USER_AGENT))
        self.metrics.saw_partition(token_hash)
        outcome = Outcome(mode=Mode.SKIP, status=0)
        try:
            response = await self._proxy(request, target, path, template, token_hash, ua, outcome)
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
        self,
        request: web.Request,
        target: str,
        path: str,
        template: str,
        token_hash: str,
        ua: str,
        outcome: Outcome,
    ) -> web.StreamResponse:
        method = request.method
        key = ""
        entry: Entry | None = None
        if method in policy.CACHEABLE_METHODS:
            key = keys.cache_key(
                keys.partition(request.headers),
                hdrs.METH_GET,  # HEAD is answered from (and revalidates) GET's entry
                keys.normalise_target(path, request.rel_url.raw_query_string),
                keys.normalise_accept(request.headers.get(hdrs.ACCEPT)),
                request.headers.get(h.API_VERSION, ""),
            )
            entry = await self.store.get(key)
        plan = policy.plan(method, path, request.headers, entry)

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
        body = request.content if request.body_exists else None

        rewriter = self.rewriter(self.public_base(request))
        sent = time.monotonic()
        self.metrics.concurrent_outbound.inc()
        try:
            upstream = await self.upstream.send(method, target, out_headers, body)
        except UpstreamError as exc:
            self.metrics.concurrent_outbound.dec()
            return self._upstream_failed(exc, outcome, token_hash, template, ua, sent)
        except BaseException:  # cancelled (shutdown drain over, client gone): the gauge must still come down
            self.metrics.concurrent_outbound.dec()
            raise
        try:
            outcome.upstream_wait = time.monotonic() - sent
            self._observe(upstream, token_hash, template, ua, path, sent)
            outcome.upstream_status = upstream.status
            settled = policy.settle(plan, method, upstream.status, upstream.headers.items(), entry is not None)
            outcome.mode = settled.mode
            try:
                response = await self._answer(
                    request, upstream, settled, plan, entry, key, rewriter, token_hash, template, ua
                )
            except UpstreamError as exc:
                return self._upstream_failed(exc, outcome, token_hash, template, ua, sent)
            outcome.status = response.status
            return response
        finally:
            upstream.release()
            self.metrics.concurrent_outbound.dec()

    async def _answer(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        settled: policy.Settlement,
        plan: policy.Plan,
        entry: Entry | None,
        key: str,
        rewriter: Rewriter,
        token_hash: str,
        template: str,
        ua: str,
    ) -> web.StreamResponse:
        now = time.time()
        if settled.action is Action.REFRESH:
            assert entry is not None
            self.metrics.entry_age.labels(token_hash, template, ua).observe(max(0.0, now - entry.stored_at))
            entry = entry.revalidated(h.storable_headers(upstream.headers.items()), now)
            await self.store.refresh(key, entry)
            return self._serve_entry(request, key, entry, settled.mode, rewriter)

        if settled.action is Action.RELAY_AND_FORGET:
            await self.store.delete(key)

        if request.method == hdrs.METH_HEAD or upstream.status in (204, 304):
            return responses.from_buffered(request, upstream, b"", settled.mode, rewriter)  # no body to read

        limit = self.settings.max_entry_bytes
        too_big = upstream.content_length is not None and upstream.content_length > limit
        json = is_json(upstream.headers.get(hdrs.CONTENT_TYPE))
        if too_big or (settled.action is not Action.STORE and not json):
            # archives, raw files, diffs, anything over the limit: relayed as it comes, never rewritten
            return await self._stream(request, upstream, settled, key, rewriter, b"", too_big)

        raw, overflow = await self._read_bounded(upstream, limit)
        if overflow:
            return await self._stream(request, upstream, settled, key, rewriter, raw, True)
        try:
            body = responses.decode_body(raw, upstream.headers.get(hdrs.CONTENT_ENCODING), limit)
        except responses.TooLarge:
            return await self._stream(request, upstream, settled, key, rewriter, raw, True)
        except responses.BadEncoding as exc:
            raise UpstreamError(str(exc)) from exc

        if settled.action is Action.STORE and plan.kind is not Kind.PASS:
            entry = Entry(
                status=upstream.status,
                headers=h.storable_headers(upstream.headers.items()),
                body=body,
                stored_at=now,
            )
            await self.store.set(key, entry)
            return self._serve_entry(request, key, entry, settled.mode, rewriter)
        return responses.from_buffered(request, upstream, body, settled.mode, rewriter)

    async def _stream(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        settled: policy.Settlement,
        key: str,
        rewriter: Rewriter,
        prefix: bytes,
        too_big: bool,
    ) -> web.StreamResponse:
        mode = settled.mode
        if too_big and settled.action is Action.STORE:
            # the new representation cannot be stored, so the old entry is stale for good
            mode = Mode.NO_STORE
            await self.store.delete(key)
        return await responses.stream(request, upstream, mode, rewriter, prefix=prefix)

    def _serve_entry(self, request: web.Request, key: str, entry: Entry, mode: str, rewriter: Rewriter) -> web.Response:
        if policy.client_not_modified(request.headers, entry):
            return responses.from_entry(request, entry, mode, rewriter, (b"", False), not_modified=True)
        compress = h.accepts_gzip(request.headers.get(hdrs.ACCEPT_ENCODING))
        rendered = self.renditions.body(key, entry, rewriter, compress)
        return responses.from_entry(request, entry, mode, rewriter, rendered, not_modified=False)

    @staticmethod
    async def _read_bounded(upstream: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
        """Read at most `limit` bytes; the flag says the body is longer (the rest is still unread)."""
        chunks: list[bytes] = []
        size = 0
        try:
            while size <= limit:
                chunk = await upstream.content.read(responses.CHUNK)
                if not chunk:
                    return b"".join(chunks), False
                chunks.append(chunk)
                size += len(chunk)
        except TimeoutError as exc:
            raise UpstreamError("upstream stopped sending the body", timeout=True) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError(f"upstream body broke off: {exc.__class__.__name__}") from exc
        return b"".join(chunks), True

    def _observe(
        self,
        upstream: aiohttp.ClientResponse,
        token_hash: str,
        template: str,
        ua: str,
        path: str,
        sent: float,
    ) -> None:
        elapsed = time.monotonic() - sent
        self.metrics.request_duration.labels(token_hash, template, str(upstream.status), ua).observe(elapsed)
        rl = h.rate_limit(upstream.headers)
        if rl is not None:
            api = "v4" if path in policy.GRAPHQL_PATHS else "v3"
            self.metrics.rate_limit(token_hash, api, rl, time.time())

    def _upstream_failed(
        self, exc: UpstreamError, outcome: Outcome, token_hash: str, template: str, ua: str, sent: float
    ) -> web.Response:
        status = 504 if exc.timeout else 502
        kind = "timeout" if exc.timeout else "unreachable"
        self.metrics.upstream_errors.inc(kind)
        if exc.timeout:
            self.metrics.request_timeouts.labels(token_hash, template, ua).observe(time.monotonic() - sent)
        outcome.mode = Mode.NO_STORE
        outcome.status = status
        log.warning("upstream failed", extra={"error": str(exc), "path": template, "status": status})
        return responses.error(status, f"ghproxy: {exc}", mode=Mode.NO_STORE)
