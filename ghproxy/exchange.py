"""One upstream exchange, independent of any client: throttle, send, settle, store; a `Result` comes out.

Keeping the exchange apart from the client lets coalesced requests share one: every waiting client builds its own
response from the same `Result` (its own URLs, its own encoding, its own conditional headers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import hdrs

from ghproxy import headers as h
from ghproxy import policy, responses
from ghproxy.cache.tiered import TieredStore
from ghproxy.entry import Entry
from ghproxy.errors import UpstreamError
from ghproxy.metrics import Metrics
from ghproxy.policy import Action, Kind, Mode
from ghproxy.rewrite import is_json
from ghproxy.settings import Settings
from ghproxy.throttle import model
from ghproxy.throttle.driver import Admitted, Throttle
from ghproxy.upstream import BodyArg, Upstream

STALE = "STALE"  # X-Cache-Mode: stored, served without revalidation because GitHub blocks the token for now
REUSED = "REUSED"  # X-Cache-Mode: another token's stored body, proven this token's too by a free 304
THROTTLED = "THROTTLED"  # X-Cache-Mode: answered by the throttle, nothing went upstream


@dataclass(frozen=True, slots=True)
class Served:
    """An answer every waiting client can be served from. `stored`: it is the cache entry for the key."""

    entry: Entry
    mode: str
    stored: bool
    upstream_status: int | None


@dataclass(frozen=True, slots=True)
class Streaming:
    """An answer too big or too raw to buffer: exactly one client streams it, then releases it."""

    upstream: aiohttp.ClientResponse
    mode: str
    prefix: bytes


@dataclass(frozen=True, slots=True)
class Failed:
    status: int
    message: str
    mode: str
    headers: tuple[tuple[str, str], ...] = ()
    upstream_status: int | None = None


Result = Served | Streaming | Failed


@dataclass(slots=True)
class Call:
    """Everything an exchange needs, none of it tied to the client connection."""

    method: str
    target: str
    path: str
    key: str
    plan: policy.Plan
    entry: Entry | None
    headers: list[tuple[str, str]]
    body: BodyArg
    throttle_key: str
    token_hash: str
    template: str
    user_agent: str
    graphql_mutation: bool = False
    shared: bool = False  # the cache partition is a budget identifier's (several tokens)
    index_key: str = ""  # where stored answers are indexed for cross-token reuse ("" when off)
    reused: bool = False  # `entry` is another token's, to be proven identical by a 304 (crosstoken.py)
    timings: dict[str, float] = field(default_factory=dict)


class Exchanger:
    def __init__(
        self, settings: Settings, store: TieredStore, upstream: Upstream, metrics: Metrics, throttle: Throttle
    ) -> None:
        self.settings = settings
        self.store = store
        self.upstream = upstream
        self.metrics = metrics
        self.throttle = throttle

    async def run(self, call: Call) -> Result:
        request = model.classify(
            call.method,
            call.path,
            conditional=call.plan.kind is Kind.REVALIDATE,
            graphql_mutation=call.graphql_mutation,
        )
        admitted = await self.throttle.admit(call.throttle_key, call.token_hash, request)
        if isinstance(admitted, model.Blocked | model.Refuse):
            return self._held(call, admitted)
        try:
            return await self._exchange(call, request, admitted)
        finally:
            await admitted.done()  # idempotent: normally done as soon as the answer's headers are in

    async def _exchange(self, call: Call, request: model.Request, admitted: Admitted) -> Result:
        sent = time.monotonic()
        self.metrics.concurrent_outbound.inc()
        try:
            upstream = await self.upstream.send(call.method, call.target, call.headers, call.body)
        except UpstreamError as exc:
            return self._failed(call, exc, sent)
        finally:
            self.metrics.concurrent_outbound.dec()
        keep_open = False
        try:
            call.timings["upstream_wait"] = time.monotonic() - sent
            self._observe(call, upstream, sent)
            prefetched: bytes | None = None
            if upstream.status in (403, 429):
                prefetched, _ = await _read_bounded(upstream, 1 << 20)
                text = _decoded_for_inspection(prefetched, upstream.headers.get(hdrs.CONTENT_ENCODING))
                lower = {k.lower(): v for k, v in upstream.headers.items()}
                await self.throttle.learn(call.throttle_key, request, upstream.status, lower, text)
            elif h.rate_limit(upstream.headers) is not None:
                lower = {k.lower(): v for k, v in upstream.headers.items()}
                await self.throttle.learn(call.throttle_key, request, upstream.status, lower, b"")
            await admitted.done()  # learnt first, so the next mutation sees a block GitHub just announced
            had_entry = call.entry is not None and not call.reused
            settled = policy.settle(call.plan, call.method, upstream.status, upstream.headers.items(), had_entry)
            result = await self._settle(call, upstream, settled, prefetched)
            keep_open = isinstance(result, Streaming)
            return result
        except UpstreamError as exc:
            return self._failed(call, exc, sent)
        finally:
            if not keep_open:
                upstream.release()

    async def _settle(
        self,
        call: Call,
        upstream: aiohttp.ClientResponse,
        settled: policy.Settlement,
        prefetched: bytes | None,
    ) -> Result:
        now = time.time()
        status = upstream.status
        if settled.action is Action.REFRESH:
            assert call.entry is not None
            entry = call.entry.revalidated(h.storable_headers(upstream.headers.items()), now)
            if call.reused:
                # another token's body, proven to be this token's too: now this token's own entry
                await self.store.set(call.key, entry)
                return Served(entry, REUSED, True, status)
            age = max(0.0, now - call.entry.stored_at)
            self.metrics.entry_age.labels(call.token_hash, call.template, call.user_agent).observe(age)
            await self.store.refresh(call.key, entry)
            return Served(entry, settled.mode, True, status)
        if settled.action is Action.RELAY_AND_FORGET:
            await self.store.delete(call.key)
        if call.method == hdrs.METH_HEAD or status in (204, 304):
            return Served(_relayed(upstream, b""), settled.mode, False, status)

        limit = self.settings.max_entry_bytes
        too_big = upstream.content_length is not None and upstream.content_length > limit
        json = is_json(upstream.headers.get(hdrs.CONTENT_TYPE))
        if prefetched is None and (too_big or (settled.action is not Action.STORE and not json)):
            # archives, raw files, diffs, anything over the limit: relayed as it comes, never rewritten
            return await self._streaming(call, upstream, settled, b"", too_big)
        if prefetched is not None:
            raw, overflow = prefetched, False
        else:
            raw, overflow = await _read_bounded(upstream, limit)
        if overflow:
            return await self._streaming(call, upstream, settled, raw, True)
        try:
            body = responses.decode_body(raw, upstream.headers.get(hdrs.CONTENT_ENCODING), limit)
        except responses.TooLarge:
            return await self._streaming(call, upstream, settled, raw, True)
        except responses.BadEncoding as exc:
            raise UpstreamError(str(exc)) from exc
        if settled.action is Action.STORE and call.plan.kind is not Kind.PASS:
            entry = Entry(status=status, headers=h.storable_headers(upstream.headers.items()), body=body, stored_at=now)
            await self.store.set(call.key, entry)
            if call.index_key and status == 200:
                await self.store.set(call.index_key, entry)
            return Served(entry, settled.mode, True, status)
        return Served(_relayed(upstream, body), settled.mode, False, status)

    async def _streaming(
        self, call: Call, upstream: aiohttp.ClientResponse, settled: policy.Settlement, prefix: bytes, too_big: bool
    ) -> Streaming:
        mode = settled.mode
        if too_big and settled.action is Action.STORE:
            # the new representation cannot be stored, so the old entry is stale for good
            mode = Mode.NO_STORE
            await self.store.delete(call.key)
            if call.index_key:
                await self.store.delete(call.index_key)
        return Streaming(upstream, mode, prefix)

    def _held(self, call: Call, held: model.Blocked | model.Refuse) -> Result:
        """GitHub blocks this token, or its queue is too long: serve what is stored, or say so at once."""
        if isinstance(held, model.Blocked):
            # Not with a budget identifier: the entry may be another token's, and only GitHub could vouch for this one
            shared_partition = any(name.lower() == h.BUDGET_ID.lower() for name, _ in call.headers) or call.shared
            if (
                not shared_partition
                and call.entry is not None
                and call.method == hdrs.METH_GET
                and call.entry.status == 200
            ):
                self.metrics.stale_served.labels(call.token_hash, held.reason).inc()
                warning = (("Warning", '110 - "Response is Stale"'),)
                stale = Entry(call.entry.status, call.entry.headers + warning, call.entry.body, call.entry.stored_at)
                return Served(stale, STALE, True, None)
            retry = max(1, round(held.until - time.time()))
            if held.reason == "primary":
                headers = (
                    ("X-RateLimit-Remaining", "0"),
                    ("X-RateLimit-Reset", str(int(held.until))),
                    ("Retry-After", str(retry)),
                )
                message = "API rate limit exceeded for this token (ghproxy holds requests until x-ratelimit-reset)."
                return Failed(403, message, THROTTLED, headers)
            message = (
                "You have exceeded a secondary rate limit; ghproxy holds this token's requests until GitHub's "
                f"Retry-After has passed ({retry} s)."
            )
            return Failed(429, message, THROTTLED, (("Retry-After", str(retry)),))
        retry = max(1, round(held.retry_after))
        message = (
            f"ghproxy: this token's request would wait {held.retry_after:.0f} s for its turn, longer than "
            "--throttling-max-delay-duration-seconds; retry later."
        )
        return Failed(429, message, THROTTLED, (("Retry-After", str(retry)),))

    def _observe(self, call: Call, upstream: aiohttp.ClientResponse, sent: float) -> None:
        elapsed = time.monotonic() - sent
        self.metrics.request_duration.labels(
            call.token_hash, call.template, str(upstream.status), call.user_agent
        ).observe(elapsed)
        rl = h.rate_limit(upstream.headers)
        if rl is not None:
            api = "v4" if call.path in policy.GRAPHQL_PATHS else "v3"
            self.metrics.rate_limit(call.token_hash, api, rl, time.time())

    def _failed(self, call: Call, exc: UpstreamError, sent: float) -> Failed:
        status = 504 if exc.timeout else 502
        self.metrics.upstream_errors.inc("timeout" if exc.timeout else "unreachable")
        if exc.timeout:
            self.metrics.request_timeouts.labels(call.token_hash, call.template, call.user_agent).observe(
                time.monotonic() - sent
            )
        return Failed(status, f"ghproxy: {exc}", Mode.NO_STORE)


def _relayed(upstream: aiohttp.ClientResponse, body: bytes) -> Entry:
    """An upstream answer held in memory to be relayed, not stored."""
    return Entry(upstream.status, tuple(h.passthrough_response_headers(upstream.headers.items())), body, time.time())


def _decoded_for_inspection(raw: bytes, encoding: str | None) -> bytes:
    try:
        return responses.decode_body(raw, encoding, 1 << 20)
    except (responses.TooLarge, responses.BadEncoding):
        return raw


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
