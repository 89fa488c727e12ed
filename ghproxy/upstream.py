"""The only module that makes outbound HTTP: one ClientSession, always to `--upstream`, never elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
from aiohttp import hdrs
from yarl import URL

from ghproxy.errors import ConfigError, UpstreamError

BodyArg = aiohttp.StreamReader | bytes | None


def parse_upstream(raw: str) -> URL:
    """Validate `--upstream`: an absolute http(s) URL with a host, no query, no fragment."""
    url = URL(raw.rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"--upstream must be an http:// or https:// URL with a host, got {raw!r}")
    if url.query_string or url.fragment:
        raise ConfigError(f"--upstream must not have a query or fragment, got {raw!r}")
    return url


class Upstream:
    """Forwards requests to the configured upstream. Redirects are not followed: clients get them (rewritten)."""

    def __init__(self, base: str, *, timeout: float, connections: int) -> None:
        self.base = parse_upstream(base)
        self._prefix = str(self.base)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=300, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,  # bodies are relayed or stored as upstream encoded them; see engine
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=(hdrs.USER_AGENT, hdrs.ACCEPT, hdrs.ACCEPT_ENCODING, hdrs.CONTENT_TYPE),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def url_for(self, target: str) -> URL:
        """The upstream URL of a request target already checked by `guard.check` (a single leading `/`)."""
        url = URL(self._prefix + target, encoded=True)
        if (url.scheme, url.host, url.port) != (self.base.scheme, self.base.host, self.base.port):
            raise UpstreamError(f"refusing to forward {target!r}: it does not resolve to the upstream host")
        return url

    async def send(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: BodyArg
    ) -> aiohttp.ClientResponse:
        """Send a request; the caller must release the response. Raises UpstreamError on no HTTP answer."""
        assert self._session is not None, "Upstream.start() was not called"
        try:
            return await self._session.request(
                method,
                self.url_for(target),
                headers=list(headers),
                data=body,
                allow_redirects=False,
                compress=None,
            )
        except TimeoutError as exc:
            raise UpstreamError(f"upstream did not answer within {self._timeout.total:g}s", timeout=True) from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError(f"upstream refused or unreachable: {exc.os_error}") from exc
        except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as exc:
            raise UpstreamError(f"upstream connection failed: {exc.__class__.__name__}") from exc
