"""The GitHub clients hook hands to plugins: one per token, or one per org for a GitHub App; dry-run wrapping.

Every client shares the hook's one aiohttp session and talks to the configured endpoint (ghproxy).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from prow_lite.github import AppAuth, Auth, GitHubClient, Response

log = logging.getLogger("prow_lite.hook")

COMPONENT = "hook"
_READS = frozenset({"GET", "HEAD"})


class DryRunClient(GitHubClient):
    """A client that reads but does not write: each mutation is logged and answered `{}` without being sent.

    Prow's `--dry-run`: plugins run against real data and their writes show up in the log only.
    """

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
        if method.upper() in _READS:
            return await super().request(method, path, json=json, params=params, accept=accept, expect=expect)
        log.info("dry-run: not sending %s %s %s", method.upper(), path, _short(json))
        return Response(200, CIMultiDictProxy(CIMultiDict()), b"{}")


def _short(body: Any) -> str:
    text = json.dumps(body) if body is not None else ""
    return text if len(text) <= 200 else text[:200] + "..."


class GitHubClients:
    """`for_org(org)`: the client acting in an org. A token acts everywhere; an app acts in each org's installation."""

    def __init__(
        self,
        endpoint: str,
        session: aiohttp.ClientSession,
        *,
        auth: Auth | None = None,
        app: Callable[[str], AppAuth] | None = None,
        dry_run: bool = False,
    ) -> None:
        if (auth is None) == (app is None):
            raise ValueError("GitHubClients needs exactly one of a token auth or an app")
        self.endpoint = endpoint
        self._session = session
        self._app = app
        self._kind = DryRunClient if dry_run else GitHubClient
        self._shared = self._client(auth) if auth is not None else None
        self._per_org: dict[str, GitHubClient] = {}

    def _client(self, auth: Auth) -> GitHubClient:
        return self._kind(self.endpoint, auth, COMPONENT, session=self._session)

    def for_org(self, org: str) -> GitHubClient:
        if self._shared is not None:
            return self._shared
        key = org.lower()
        if key not in self._per_org:
            assert self._app is not None
            self._per_org[key] = self._client(self._app(org))
        return self._per_org[key]

    async def close(self) -> None:
        for client in [self._shared, *self._per_org.values()]:
            if client is not None:
                await client.close()
