"""The app token equalizer: one installation token per installation and scope, minted once, handed to every caller.

Go ghproxy forwards every `POST /app/installations/{id}/access_tokens` and answers each caller with the token it
saw first while that has more than a minute left, so callers share a cache partition; GitHub still mints a token
per call. Here the mint itself is shared (`--app-token-reuse=mint-once`, the default): while a token has more than
`--app-token-min-remaining-seconds` left, a caller gets it without a new mint, once GitHub has confirmed that the
caller's JWT belongs to the installation's app (`GET /app/installations/{id}` with that JWT; a confirmed JWT is
remembered until it expires). Concurrent callers wait for one mint; replicas sharing Redis share the token and take
a short lock so that one of them mints. `--app-token-reuse=go` is Go's behaviour, `off` forwards untouched.

Tokens are never logged and never written to disk; in Redis they live only until they stop being handed out,
encrypted (AES-GCM) when the replicas are given `--app-token-key-file`.
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from aiohttp import hdrs, web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ghproxy import headers as h
from ghproxy import responses
from ghproxy.errors import UpstreamError
from ghproxy.metrics import Metrics
from ghproxy.rewrite import Rewriter
from ghproxy.upstream import Upstream

log = logging.getLogger("ghproxy.apptokens")

MINT_PATH = re.compile(r"^/app/installations/(\d{1,20})/access_tokens$")
MODES = ("mint-once", "go", "off")
EQUALIZED = "EQUALIZED"  # X-Cache-Mode: the installation token already minted, handed out without a new mint
REPLACED_HEADER = "X-PROW-GHPROXY-REPLACED-TOKEN"  # Go ghproxy's header on an answer carrying a shared token
REDIS_PREFIX = "ghproxy:v1:apptoken:"
LOCK_MS = 10_000  # a replica holds the mint lock at most this long
WAIT_POLL_S = 0.05
MAX_BODY = 64 * 1024
_CLEAR, _SEALED = b"p1:", b"e1:"


# --- pure parts ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Minted:
    """One installation token as GitHub answered it: the body is handed out as it came."""

    body: bytes
    content_type: str
    expires_at: float  # epoch seconds

    def fresh(self, now: float, min_remaining: float) -> bool:
        return self.expires_at - now > min_remaining

    def dumps(self) -> bytes:
        data = {"b": base64.b64encode(self.body).decode(), "t": self.content_type, "e": self.expires_at}
        return json.dumps(data).encode()

    @classmethod
    def loads(cls, raw: bytes) -> Minted | None:
        try:
            data = json.loads(raw)
            return cls(base64.b64decode(data["b"]), str(data["t"]), float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None


def parse_minted(body: bytes, content_type: str) -> Minted | None:
    """A 201 body with `token` and `expires_at` (ISO 8601, UTC); None when it does not look like one."""
    try:
        data = json.loads(body)
        token, expires = data["token"], data["expires_at"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(token, str) or not token or not isinstance(expires, str):
        return None
    try:
        expires_at = calendar.timegm(time.strptime(expires.replace("+00:00", "Z"), "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None
    return Minted(body, content_type, float(expires_at))


def jwt_claims(authorization: str | None) -> dict[str, Any] | None:
    """The claims of a `Bearer <jwt>` credential, unverified (GitHub verifies it); None when it is not a JWT."""
    if not authorization:
        return None
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or credential.count(".") != 2:
        return None
    try:
        claims = jwt.decode(credential.strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def scope_key(app_id: str, installation: str, request_body: bytes) -> str | None:
    """Which callers may share a token: one app's installation and the same requested scope (repos, permissions).

    None when the body is not JSON: such a request is forwarded untouched.
    """
    try:
        scope = json.loads(request_body) if request_body.strip() else {}
    except ValueError:
        return None
    canonical = json.dumps(scope, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{app_id}\0{installation}\0{canonical}".encode()).hexdigest()


def sealing_key(secret: bytes) -> bytes:
    """The AES-256 key derived from `--app-token-key-file`'s contents."""
    return hashlib.sha256(b"ghproxy app token key\0" + secret.strip()).digest()


def seal(minted: Minted, key: bytes | None) -> bytes:
    if key is None:
        return _CLEAR + minted.dumps()
    nonce = os.urandom(12)
    return _SEALED + nonce + AESGCM(key).encrypt(nonce, minted.dumps(), None)


def unseal(raw: bytes, key: bytes | None) -> Minted | None:
    """A stored token, or None if it is corrupt or sealed with another key (then it is minted again)."""
    if raw.startswith(_CLEAR):
        return Minted.loads(raw[len(_CLEAR) :]) if key is None else None
    if raw.startswith(_SEALED) and key is not None:
        nonce, sealed = raw[3:15], raw[15:]
        try:
            return Minted.loads(AESGCM(key).decrypt(nonce, sealed, None))
        except InvalidTag:
            return None
    return None


# --- the shell -------------------------------------------------------------------------------------------------


class SharedTokens:
    """Minted tokens by scope key: in this process, and in Redis when replicas share one. Redis failures are logged
    and leave this replica on its own tokens; they never fail a request."""

    def __init__(self, redis: Redis | None, key: bytes | None, clock: Callable[[], float]) -> None:
        self.redis = redis
        self.key = key
        self.clock = clock
        self.local: dict[str, Minted] = {}

    async def get(self, scope: str, min_remaining: float) -> Minted | None:
        now = self.clock()
        found = self.local.get(scope)
        if found is not None and found.fresh(now, min_remaining):
            return found
        if self.redis is not None:
            try:
                raw = await self.redis.get(REDIS_PREFIX + scope)
            except (RedisError, OSError) as exc:
                log.warning("app token lookup in Redis failed", extra={"error": exc.__class__.__name__})
                raw = None
            shared = unseal(raw, self.key) if isinstance(raw, bytes) else None
            if shared is not None and shared.fresh(now, min_remaining):
                self.local[scope] = shared
                return shared
        return None

    async def put(self, scope: str, minted: Minted, min_remaining: float) -> None:
        now = self.clock()
        for stale in [k for k, v in self.local.items() if not v.fresh(now, min_remaining)]:
            del self.local[stale]
        self.local[scope] = minted
        ttl_ms = int((minted.expires_at - now - min_remaining) * 1000)
        if self.redis is None or ttl_ms <= 0:
            return
        try:
            await self.redis.set(REDIS_PREFIX + scope, seal(minted, self.key), px=ttl_ms)
        except (RedisError, OSError) as exc:
            log.warning("app token store in Redis failed", extra={"error": exc.__class__.__name__})

    async def lock(self, scope: str, owner: str) -> bool:
        """Whether this replica may mint now (always, without Redis or when Redis fails)."""
        if self.redis is None:
            return True
        try:
            return bool(await self.redis.set(REDIS_PREFIX + scope + ":lock", owner, nx=True, px=LOCK_MS))
        except (RedisError, OSError):
            return True

    async def unlock(self, scope: str, owner: str) -> None:
        if self.redis is None:
            return
        with contextlib.suppress(RedisError, OSError):  # else it expires by itself
            await self.redis.eval(_UNLOCK, 1, REDIS_PREFIX + scope + ":lock", owner)


_UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class Equalizer:
    """Answers `POST /app/installations/{id}/access_tokens` per `--app-token-reuse`."""

    def __init__(
        self,
        mode: str,
        min_remaining: float,
        upstream: Upstream,
        metrics: Metrics,
        tokens: SharedTokens,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"app token reuse mode {mode!r}")
        self.mode = mode
        self.min_remaining = min_remaining
        self.upstream = upstream
        self.metrics = metrics
        self.tokens = tokens
        self.clock = clock
        self.confirmed: dict[str, float] = {}  # sha256(installation, JWT) -> the JWT's expiry
        self._locks: dict[str, asyncio.Lock] = {}
        self._owner = os.urandom(8).hex()

    async def handle(self, request: web.Request, installation: str, rewriter: Rewriter) -> tuple[web.Response, str]:
        """The answer and its X-Cache-Mode."""
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return responses.error(413, f"a token request body is at most {MAX_BODY} bytes", mode="SKIP"), "SKIP"
        claims = jwt_claims(request.headers.get(hdrs.AUTHORIZATION))
        scope = scope_key(str(claims.get("iss", "")), installation, body) if claims else None
        if scope is None:
            return await self._forward(request, body, rewriter), "SKIP"
        if self.mode == "go":
            return await self._go(request, body, scope, rewriter)
        shared = await self.tokens.get(scope, self.min_remaining)
        if shared is None:
            lock = self._locks.setdefault(scope, asyncio.Lock())
            async with lock:  # callers of this replica wait for one mint
                shared = await self.tokens.get(scope, self.min_remaining)
                if shared is None:
                    shared = await self._wait_for_other_replica(scope)
                if shared is None:
                    return await self._mint(request, body, scope, rewriter)
        refusal = await self._confirm(request, installation, claims or {}, rewriter)
        if refusal is not None:
            return refusal, "SKIP"
        self.metrics.app_tokens.labels("shared").inc()
        return _shared(shared, rewriter), EQUALIZED

    async def _wait_for_other_replica(self, scope: str) -> Minted | None:
        """None once this replica holds the mint lock; the other replica's token if it mints meanwhile."""
        deadline = self.clock() + LOCK_MS / 1000
        while not await self.tokens.lock(scope, self._owner):
            found = await self.tokens.get(scope, self.min_remaining)
            if found is not None:
                return found
            if self.clock() > deadline:
                return None  # the other replica died holding the lock: mint here
            await asyncio.sleep(WAIT_POLL_S)
        # the lock is ours; another replica may have minted and let go of it just before
        found = await self.tokens.get(scope, self.min_remaining)
        if found is not None:
            await self.tokens.unlock(scope, self._owner)
        return found

    async def _mint(
        self, request: web.Request, body: bytes, scope: str, rewriter: Rewriter
    ) -> tuple[web.Response, str]:
        try:
            status, headers, answer = await self._send(request, body)
            if status == 201 and (minted := parse_minted(answer, _content_type(headers))) is not None:
                await self.tokens.put(scope, minted, self.min_remaining)
                self.metrics.app_tokens.labels("minted").inc()
            return _relay(status, headers, answer, rewriter), "SKIP"
        except UpstreamError as exc:
            return _upstream_failed(exc), "SKIP"
        finally:
            await self.tokens.unlock(scope, self._owner)

    async def _go(self, request: web.Request, body: bytes, scope: str, rewriter: Rewriter) -> tuple[web.Response, str]:
        """Go ghproxy: every mint goes upstream; the answer carries the token handed out first while it lasts."""
        try:
            status, headers, answer = await self._send(request, body)
        except UpstreamError as exc:
            return _upstream_failed(exc), "SKIP"
        minted = parse_minted(answer, _content_type(headers)) if status == 201 else None
        if minted is None:
            return _relay(status, headers, answer, rewriter), "SKIP"
        self.metrics.app_tokens.labels("minted").inc()
        shared = await self.tokens.get(scope, self.min_remaining)
        if shared is None:
            await self.tokens.put(scope, minted, self.min_remaining)
            return _relay(status, headers, answer, rewriter), "SKIP"
        self.metrics.app_tokens.labels("shared").inc()
        return _shared(shared, rewriter), EQUALIZED

    async def _confirm(
        self, request: web.Request, installation: str, claims: dict[str, Any], rewriter: Rewriter
    ) -> web.Response | None:
        """None when GitHub says this JWT's app owns the installation; otherwise GitHub's refusal, relayed."""
        auth = request.headers.get(hdrs.AUTHORIZATION, "")
        seen = hashlib.sha256(f"{installation}\0{auth}".encode()).hexdigest()
        now = self.clock()
        if self.confirmed.get(seen, 0.0) > now:
            return None
        headers: list[tuple[str, str]] = [(hdrs.AUTHORIZATION, auth), (hdrs.ACCEPT, "application/vnd.github+json")]
        for name in (str(hdrs.USER_AGENT), h.API_VERSION):
            if name in request.headers:
                headers.append((name, request.headers[name]))
        try:
            status, answer_headers, answer = await self._exchange(
                hdrs.METH_GET, f"/app/installations/{installation}", headers, None
            )
        except UpstreamError as exc:
            return _upstream_failed(exc)
        if status == 200:
            if len(self.confirmed) > 10_000:
                self.confirmed = {k: v for k, v in self.confirmed.items() if v > now}
            exp = claims.get("exp")
            self.confirmed[seen] = float(exp) if isinstance(exp, int | float) else now + 60
            return None
        self.metrics.app_tokens.labels("refused").inc()
        return _relay(status, answer_headers, answer, rewriter)

    async def _send(self, request: web.Request, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """POST the mint upstream with the caller's own headers."""
        out = h.upstream_request_headers(request.headers.items(), keep_conditionals=False)
        return await self._exchange(hdrs.METH_POST, request.raw_path, out, body)

    async def _exchange(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One small upstream exchange, read whole and decoded; UpstreamError when there is no usable answer."""
        upstream = await self.upstream.send(method, target, headers, body)
        try:
            data = await upstream.read()
            answer_headers = h.passthrough_response_headers(upstream.headers.items())
            encoding = upstream.headers.get(hdrs.CONTENT_ENCODING)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise UpstreamError(f"upstream connection failed: {exc.__class__.__name__}") from exc
        finally:
            upstream.release()
        try:
            data = responses.decode_body(data, encoding, MAX_BODY * 16)
        except (responses.BadEncoding, responses.TooLarge) as exc:
            raise UpstreamError(f"unreadable answer from upstream: {exc.__class__.__name__}") from exc
        return upstream.status, _identity(answer_headers), data

    async def _forward(self, request: web.Request, body: bytes, rewriter: Rewriter) -> web.Response:
        try:
            status, headers, answer = await self._send(request, body)
        except UpstreamError as exc:
            return _upstream_failed(exc)
        return _relay(status, headers, answer, rewriter)


def _upstream_failed(exc: UpstreamError) -> web.Response:
    return responses.error(504 if exc.timeout else 502, str(exc), mode="SKIP")


def _identity(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers of a decoded body: its encoding and length are the server's to set again."""
    return [(k, v) for k, v in headers if k.lower() not in ("content-encoding", "content-length")]


def _content_type(headers: list[tuple[str, str]]) -> str:
    return next((v for k, v in headers if k.lower() == "content-type"), "application/json; charset=utf-8")


def _relay(status: int, headers: list[tuple[str, str]], body: bytes, rewriter: Rewriter) -> web.Response:
    return web.Response(status=status, body=rewriter.body(body), headers=responses.rewritten_headers(headers, rewriter))


def _shared(minted: Minted, rewriter: Rewriter) -> web.Response:
    """The token already minted, as GitHub answered it, marked as Go ghproxy marks a replaced token."""
    headers = {hdrs.CONTENT_TYPE: minted.content_type, h.CACHE_MODE: EQUALIZED, REPLACED_HEADER: "true"}
    return web.Response(status=201, body=rewriter.body(minted.body), headers=headers)
