"""Credentials: a personal or bot token (`TokenAuth`) or a GitHub App (`AppAuth`).

An `Auth` gives the `Authorization` value for each call. `AppAuth` signs RS256 JWTs for the app's own endpoints and
mints installation tokens through the client it serves (so through ghproxy, like every other call), one mint at a
time, reusing a token until two minutes before it expires (`renew_at`). Secrets never appear in a repr or a log line.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from prow_lite.github.errors import GitHubClientError

JWT_BACKDATE_S = 60  # GitHub's advice: iat 60 s in the past, against clock drift
JWT_LIFETIME_S = 9 * 60  # GitHub refuses exp more than 10 minutes ahead; Prow uses 9
JWT_RENEW_S = 60  # sign a new JWT when the cached one has less than this left
TOKEN_RENEW_S = 120  # mint a new installation token when the cached one has less than this left


class Answer(Protocol):
    def json(self) -> Any: ...


class Requester(Protocol):
    """What an `Auth` needs from the client it serves: a call through the same endpoint."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        accept: str | None = None,
        expect: Sequence[int] | None = None,
    ) -> Answer: ...


class Auth(abc.ABC):
    """A credential for GitHub's REST API."""

    @abc.abstractmethod
    async def authorization(self, client: Requester) -> str:
        """The `Authorization` header value for an ordinary API call."""

    def app_authorization(self) -> str | None:
        """The `Authorization` value for an app endpoint (`/app...`, `.../installation`); None: the usual one."""
        return None

    def forget_token(self) -> bool:
        """Drop a cached token GitHub refused (401); True when there was one to renew."""
        return False

    @abc.abstractmethod
    async def bot_login(self, client: Requester) -> str:
        """The login the credential acts as (an app acts as `<slug>[bot]`)."""


def _read_secret(path: str | Path, what: str) -> str:
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise GitHubClientError(f"cannot read the {what} file {str(path)!r}: {exc.strerror or exc}") from exc
    if not text:
        raise GitHubClientError(f"the {what} file {str(path)!r} is empty; put the {what} in it")
    return text


class TokenAuth(Auth):
    """A personal access token or a bot account's token, sent as `Authorization: token <t>`."""

    def __init__(self, token: str) -> None:
        token = token.strip()
        if not token or any(c.isspace() for c in token):
            raise GitHubClientError("a GitHub token must be one non-empty word")
        self._token = token

    @classmethod
    def from_file(cls, path: str | Path) -> TokenAuth:
        """The token in a file (Prow's `--github-token-path`), surrounding white space stripped."""
        return cls(_read_secret(path, "GitHub token"))

    async def authorization(self, client: Requester) -> str:
        return f"token {self._token}"

    async def bot_login(self, client: Requester) -> str:
        user = (await client.request("GET", "/user")).json()
        return str(user["login"])

    def __repr__(self) -> str:
        return "TokenAuth(<redacted>)"


def _parse_expiry(value: object) -> float:
    if not isinstance(value, str):
        raise GitHubClientError("GitHub answered an installation token without expires_at")
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError as exc:
        raise GitHubClientError(f"GitHub answered an installation token with a bad expires_at {value!r}") from exc


def renew_at(now: float, expires_at: float) -> float:
    """When to mint again: two minutes before expiry, or half-way there for a token handed out with less left.

    ghproxy hands every caller the token it already minted while that has more than a minute left; renewing such
    a token on every call would only ask the proxy again and again for the same one.
    """
    if expires_at - TOKEN_RENEW_S > now:
        return expires_at - TOKEN_RENEW_S
    return now + max(0.0, expires_at - now) / 2


class AppAuth(Auth):
    """A GitHub App acting in one installation (given, or found from `org` or `org` + `repo`)."""

    def __init__(
        self,
        app_id: str | int,
        private_key_pem: str | bytes,
        installation_id: int | None = None,
        org: str | None = None,
        repo: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if installation_id is None and not org:
            raise GitHubClientError("AppAuth needs installation_id, or org (and optionally repo) to look it up")
        pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        try:
            key = load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise GitHubClientError("the GitHub App private key is not an unencrypted PEM RSA key") from exc
        if not isinstance(key, RSAPrivateKey):
            raise GitHubClientError("the GitHub App private key must be an RSA key (GitHub signs app JWTs with RS256)")
        self.app_id = str(app_id)
        self.org = org
        self.repo = repo
        self._key = key
        self._clock = clock
        self._installation_id = installation_id
        self._jwt: tuple[str, float] | None = None  # (jwt, exp)
        self._token: tuple[str, float] | None = None  # (installation token, when to mint the next one)
        self._slug: str | None = None
        self._lock = asyncio.Lock()
        self.mints = 0  # installation tokens minted so far

    @classmethod
    def from_files(
        cls,
        app_id: str | int,
        private_key_path: str | Path,
        installation_id: int | None = None,
        org: str | None = None,
        repo: str | None = None,
    ) -> AppAuth:
        """Prow's `--app-id` and `--app-private-key-path`."""
        return cls(app_id, _read_secret(private_key_path, "GitHub App private key"), installation_id, org, repo)

    @property
    def installation_id(self) -> int | None:
        return self._installation_id

    def app_jwt(self) -> str:
        """A JWT for the app itself: RS256, iss = app id, iat a minute back, exp nine minutes ahead; reused."""
        now = self._clock()
        if self._jwt is not None and now < self._jwt[1] - JWT_RENEW_S:
            return self._jwt[0]
        iat, exp = int(now) - JWT_BACKDATE_S, int(now) + JWT_LIFETIME_S
        token = jwt.encode({"iat": iat, "exp": exp, "iss": self.app_id}, self._key, algorithm="RS256")
        self._jwt = (token, exp)
        return token

    def app_authorization(self) -> str:
        return f"Bearer {self.app_jwt()}"

    async def authorization(self, client: Requester) -> str:
        return f"token {await self.installation_token(client)}"

    async def installation_token(self, client: Requester) -> str:
        """The cached installation token, or a new one (only one mint runs at a time)."""
        cached = self._usable_token()
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._usable_token()
            if cached is not None:
                return cached
            installation = await self._find_installation(client)
            answer = await client.request("POST", f"/app/installations/{installation}/access_tokens", expect=(201,))
            body = answer.json()
            token = body.get("token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise GitHubClientError(f"GitHub answered installation {installation}'s token request without a token")
            self._token = (token, renew_at(self._clock(), _parse_expiry(body.get("expires_at"))))
            self.mints += 1
            return token

    def forget_token(self) -> bool:
        """Drop the cached installation token (GitHub refused it); the next call mints a new one."""
        had, self._token = self._token is not None, None
        return had

    def _usable_token(self) -> str | None:
        if self._token is not None and self._clock() < self._token[1]:
            return self._token[0]
        return None

    async def _find_installation(self, client: Requester) -> int:
        if self._installation_id is None:
            path = f"/repos/{self.org}/{self.repo}/installation" if self.repo else f"/orgs/{self.org}/installation"
            found = (await client.request("GET", path)).json()
            self._installation_id = int(found["id"])
        return self._installation_id

    async def bot_login(self, client: Requester) -> str:
        if self._slug is None:
            self._slug = str((await client.request("GET", "/app")).json()["slug"])
        return f"{self._slug}[bot]"

    def __repr__(self) -> str:
        return f"AppAuth(app_id={self.app_id!r}, installation_id={self._installation_id!r}, org={self.org!r})"
