"""`GitHubClient`: the one way prow_lite components talk to GitHub, through ghproxy.

It owns the HTTP: one aiohttp session, the headers every call carries, retries (decided by `protocol`), errors,
and `Link` pagination that never leaves the endpoint. The endpoint methods plugins call are in `rest.RestMethods`.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import hdrs
from multidict import CIMultiDictProxy
from yarl import URL

from prow_lite.github import protocol
from prow_lite.github.auth import Auth
from prow_lite.github.errors import (
    GitHubClientError,
    GitHubError,
    NotFound,
    RateLimited,
    SecondaryRateLimited,
    TransportError,
)
from prow_lite.github.protocol import RetryPolicy, Verdict
from prow_lite.github.rest import RestMethods

log = logging.getLogger("prow_lite.github")

try:
    VERSION = metadata.version("ghproxy")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    VERSION = "0"

MAX_PAGES = 1000  # a listing longer than 100 000 items is a bug somewhere, not a listing
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


@dataclass(frozen=True, slots=True)
class Response:
    """One answer: status, headers and the raw (decoded) body."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (None for an empty body)."""
        return jsonlib.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def cache_mode(self) -> str | None:
        """ghproxy's `X-Cache-Mode` (MISS, REVALIDATED, ...), None when the answer did not come through it."""
        return self.headers.get(protocol.CACHE_MODE)


class GitHubClient(RestMethods):
    """An async GitHub REST client for one component; use `async with` or call `close()`.

    `budget_identifier` (default: the component) is sent as ghproxy's token budget identifier; "" sends none.
    `session`, if given, is shared and not closed by this client.
    """

    def __init__(
        self,
        endpoint: str,
        auth: Auth,
        component: str,
        *,
        user_agent: str | None = None,
        budget_identifier: str | None = None,
        max_retries: int = 3,
        timeout_s: float = 30.0,
        backoff_s: float = 0.5,
        max_wait_s: float = 60.0,
        allow_direct_github: bool = False,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not component:
            raise GitHubClientError("GitHubClient needs the component name (hook, trigger, ...)")
        self.base = protocol.check_endpoint(endpoint, allow_direct_github)
        self.auth = auth
        self.component = component
        self.user_agent = user_agent or f"prow-lite-{component}/{VERSION}"
        self.budget_identifier = component if budget_identifier is None else budget_identifier
        self.policy = RetryPolicy(max_retries=max_retries, backoff_s=backoff_s, max_wait_s=max_wait_s)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._owns_session = session is None
        self._bot: str | None = None

    @property
    def endpoint(self) -> str:
        return str(self.base)

    async def __aenter__(self) -> GitHubClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def __repr__(self) -> str:
        return f"GitHubClient({self.endpoint!r}, component={self.component!r}, auth={self.auth!r})"

    # --- requests ---------------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        accept: str | None = None,
        expect: Sequence[int] | None = None,
    ) -> Response:
        """One call to `path` (under the endpoint), retried as `protocol` decides.

        Answers outside `expect` (default: any 2xx) raise `GitHubError` (`NotFound` for 404); a spent token raises
        `RateLimited`, a secondary-limit wait longer than `max_wait_s` raises `SecondaryRateLimited`.
        """
        return await self._send(method.upper(), self._url(path, params), json, accept, expect)

    async def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        accept: str | None = None,
        key: str | None = None,
    ) -> list[Any]:
        """Every item of a listing, following `Link: rel="next"` (100 per page unless `params` says otherwise).

        `key` names the list inside an object page (`items` for search). A next page outside the endpoint is
        refused: ghproxy rewrites GitHub's links to itself, so one elsewhere would bypass it.
        """
        url = self._url(path, {"per_page": 100, **(params or {})})
        items: list[Any] = []
        seen: set[str] = set()
        while True:
            seen.add(str(url))
            answer = await self._send("GET", url, None, accept, (200,))
            page = answer.json()
            if key is not None and isinstance(page, dict):
                page = page.get(key)
            if not isinstance(page, list):
                raise GitHubClientError(f"{self._rel(url)} did not answer a list{f' under {key!r}' if key else ''}")
            items.extend(page)
            target = protocol.next_link(answer.headers.getall(hdrs.LINK, []))
            if target is None:
                return items
            if not protocol.on_base(target, self.base):
                raise GitHubClientError(
                    f"refusing to follow the next page of {self._rel(url)} to {target}: it is not under {self.endpoint}"
                )
            url = URL(target, encoded=True)
            if str(url) in seen or len(seen) >= MAX_PAGES:
                raise GitHubClientError(f"pagination of {path} does not end (next page {target})")

    async def bot_login(self) -> str:
        """The login this client acts as (GET /user, or `<slug>[bot]` from GET /app for an app); cached."""
        if self._bot is None:
            self._bot = await self.auth.bot_login(self)
        return self._bot

    # --- transport --------------------------------------------------------------------------------------------

    def _url(self, path: str, params: Mapping[str, Any] | None) -> URL:
        if not path.startswith("/") or path.startswith("//"):
            raise GitHubClientError(f"API paths start with a single '/', not {path!r}")
        url = URL(str(self.base) + path)
        if params:
            url = url.extend_query({k: _param(v) for k, v in params.items() if v is not None})
        return url

    def _rel(self, url: URL) -> str:
        """The path and query of `url` under the endpoint, as errors and logs show it."""
        raw = url.raw_path_qs
        prefix = self.base.raw_path.rstrip("/")
        return raw[len(prefix) :] if prefix and raw.startswith(prefix) else raw

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self._session

    async def _headers(self, rel: str, accept: str | None, has_body: bool) -> dict[str, str]:
        authorization = self.auth.app_authorization() if protocol.uses_app_jwt(rel) else None
        if authorization is None:
            authorization = await self.auth.authorization(self)
        headers = {
            hdrs.AUTHORIZATION: authorization,
            hdrs.ACCEPT: accept or protocol.ACCEPT,
            protocol.API_VERSION_HEADER: protocol.API_VERSION,
            hdrs.USER_AGENT: self.user_agent,
        }
        if self.budget_identifier:
            headers[protocol.BUDGET_ID] = self.budget_identifier
        if has_body:
            headers[hdrs.CONTENT_TYPE] = "application/json"
        return headers

    async def _exchange(self, method: str, url: URL, headers: dict[str, str], data: bytes | None) -> Response:
        async with self._http().request(method, url, headers=headers, data=data, allow_redirects=False) as resp:
            body = await resp.read()
            return Response(resp.status, resp.headers, body)

    async def _send(
        self, method: str, url: URL, payload: Any, accept: str | None, expect: Sequence[int] | None
    ) -> Response:
        rel = self._rel(url)
        data = None if payload is None else jsonlib.dumps(payload).encode()
        attempt = 0
        renewed = False
        while True:
            headers = await self._headers(rel, accept, data is not None)
            started = time.monotonic()
            try:
                answer = await self._exchange(method, url, headers, data)
            except (aiohttp.ClientError, TimeoutError) as exc:
                sent = not isinstance(exc, _NOT_SENT)
                decision = protocol.after_failure(method, sent, attempt, self.policy, random.random())
                if decision.verdict is Verdict.RETRY:
                    await self._pause(method, rel, attempt, decision.delay, f"{decision.reason}: {type(exc).__name__}")
                    attempt += 1
                    continue
                raise TransportError(f"{method} {rel} via {self.endpoint} failed: {type(exc).__name__}: {exc}") from exc
            log.debug(
                "github call",
                extra={
                    "component": self.component,
                    "method": method,
                    "path": rel,
                    "status": answer.status,
                    "cache_mode": answer.cache_mode,
                    "attempt": attempt,
                    "ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            message = protocol.error_message(answer.body) if answer.status >= 400 else ""
            if answer.status == 401 and not renewed and not protocol.uses_app_jwt(rel) and self.auth.forget_token():
                renewed = True  # an installation token revoked or expired early: mint another, once
                continue
            decision = protocol.after_answer(
                method, answer.status, answer.headers, message, attempt, self.policy, random.random()
            )
            if decision.verdict is Verdict.RETRY:
                await self._pause(method, rel, attempt, decision.delay, decision.reason)
                attempt += 1
                continue
            if decision.verdict is Verdict.PRIMARY_LIMIT:
                raise RateLimited(answer.status, message, rel, decision.reset_at)
            if decision.verdict is Verdict.SECONDARY_LIMIT:
                raise SecondaryRateLimited(answer.status, message, rel, decision.delay)
            if (200 <= answer.status < 300) if expect is None else answer.status in expect:
                return answer
            raise (NotFound if answer.status == 404 else GitHubError)(answer.status, message, rel)

    async def _pause(self, method: str, rel: str, attempt: int, delay: float, reason: str) -> None:
        log.warning(
            "github call retried",
            extra={
                "component": self.component,
                "method": method,
                "path": rel,
                "attempt": attempt + 1,
                "delay_s": round(delay, 3),
                "reason": reason,
            },
        )
        await asyncio.sleep(delay)


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
