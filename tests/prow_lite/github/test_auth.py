"""Token files, and GitHub App auth against a loopback GitHub that verifies the app's JWTs and mints tokens."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from prow_lite.github import AppAuth, GitHubClient, GitHubClientError, GitHubError, NotFound, TokenAuth
from prow_lite.github.auth import renew_at
from tests.prow_lite.github.conftest import MakeUpstream, Upstream, github_json

APP_ID = 4242


@pytest.fixture(scope="module")
def key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def public_key(pem: str) -> rsa.RSAPublicKey:
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return private.public_key()


class FakeGitHub:
    """GitHub's app endpoints: JWTs checked against the app's public key, tokens minted, counted and revocable."""

    def __init__(self, key_pem: str, lifetime_s: float = 3600, mint_delay_s: float = 0.0) -> None:
        self.public = public_key(key_pem)
        self.lifetime_s = lifetime_s
        self.mint_delay_s = mint_delay_s
        self.minted: list[str] = []
        self.revoked: set[str] = set()

    def _check_jwt(self, request: web.Request) -> dict[str, Any] | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer":
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                value, self.public, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}
            )
        except jwt.InvalidTokenError:
            return None
        return claims if claims["iss"] == str(APP_ID) and claims["exp"] - claims["iat"] <= 600 else None

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/app") or path.endswith("/installation"):
            if self._check_jwt(request) is None:
                return github_json({"message": "A JSON web token could not be decoded"}, status=401)
            if path == "/app":
                return github_json({"id": APP_ID, "slug": "prow-lite-test"})
            if path == "/orgs/org0/installation":
                return github_json({"id": 42, "account": {"login": "org0"}})
            if path == "/repos/org1/repo1/installation":
                return github_json({"id": 43, "account": {"login": "org1"}})
            if request.method == "POST" and path in (
                "/app/installations/42/access_tokens",
                "/app/installations/43/access_tokens",
            ):
                await asyncio.sleep(self.mint_delay_s)
                token = f"ghs_{path.split('/')[3]}_{len(self.minted) + 1}"
                self.minted.append(token)
                expires = datetime.fromtimestamp(time.time() + self.lifetime_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                return github_json({"token": token, "expires_at": expires, "permissions": {}}, status=201)
            return github_json({"message": "Not Found"}, status=404)
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme != "token" or value not in self.minted or value in self.revoked:
            return github_json({"message": "Bad credentials"}, status=401)
        return github_json({"path": path, "token": value})


def app_client(up: Upstream, auth: AppAuth) -> GitHubClient:
    return GitHubClient(up.url, auth, "hook", backoff_s=0.01)


def test_app_jwt_is_rs256_with_githubs_claims(key_pem: str) -> None:
    now = 1_700_000_000.0
    auth = AppAuth(APP_ID, key_pem, installation_id=1, clock=lambda: now)
    claims = jwt.decode(
        auth.app_jwt(), public_key(key_pem), algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims == {"iat": int(now) - 60, "exp": int(now) + 9 * 60, "iss": str(APP_ID)}
    assert jwt.get_unverified_header(auth.app_jwt())["alg"] == "RS256"
    assert auth.app_authorization() == f"Bearer {auth.app_jwt()}"


async def test_installation_token_is_minted_through_the_endpoint_and_reused(
    upstream: MakeUpstream, key_pem: str
) -> None:
    github = FakeGitHub(key_pem)
    up = upstream(github)
    async with app_client(up, AppAuth(APP_ID, key_pem, org="org0")) as gh:
        first = (await gh.request("GET", "/repos/org0/repo0")).json()
        second = (await gh.request("GET", "/repos/org0/repo0/pulls")).json()
    assert first["token"] == second["token"] == github.minted[0] == "ghs_42_1"
    assert [(s.method, s.path_qs) for s in up.seen] == [
        ("GET", "/orgs/org0/installation"),
        ("POST", "/app/installations/42/access_tokens"),
        ("GET", "/repos/org0/repo0"),
        ("GET", "/repos/org0/repo0/pulls"),
    ]
    assert up.seen[0].headers["Authorization"].startswith("Bearer ")
    assert up.seen[1].headers["Authorization"].startswith("Bearer ")
    assert up.seen[2].headers["Authorization"] == "token ghs_42_1"
    assert all(s.headers["X-PROW-GHCACHE-TOKEN-BUDGET-IDENTIFIER"] == "hook" for s in up.seen)


async def test_installation_found_from_a_repository_or_given(upstream: MakeUpstream, key_pem: str) -> None:
    up = upstream(FakeGitHub(key_pem))
    async with app_client(up, AppAuth(APP_ID, key_pem, org="org1", repo="repo1")) as gh:
        assert (await gh.request("GET", "/x")).json()["token"] == "ghs_43_1"
    given = AppAuth(APP_ID, key_pem, installation_id=42)
    async with app_client(up, given) as gh:
        assert (await gh.request("GET", "/x")).json()["token"] == "ghs_42_2"
    assert [s.path_qs for s in up.seen] == [
        "/repos/org1/repo1/installation",
        "/app/installations/43/access_tokens",
        "/x",
        "/app/installations/42/access_tokens",
        "/x",
    ]


async def test_concurrent_calls_share_one_mint(upstream: MakeUpstream, key_pem: str) -> None:
    github = FakeGitHub(key_pem, mint_delay_s=0.2)
    up = upstream(github)
    auth = AppAuth(APP_ID, key_pem, installation_id=42)
    async with app_client(up, auth) as gh:
        answers = await asyncio.gather(*(gh.request("GET", f"/repos/org0/repo0/issues/{n}") for n in range(20)))
    assert {a.json()["token"] for a in answers} == {"ghs_42_1"}
    assert github.minted == ["ghs_42_1"] and auth.mints == 1


async def test_token_is_renewed_two_minutes_before_it_expires(upstream: MakeUpstream, key_pem: str) -> None:
    github = FakeGitHub(key_pem, lifetime_s=130)  # GitHub says: expires in 130 s
    up = upstream(github)
    offset = [0.0]
    auth = AppAuth(APP_ID, key_pem, installation_id=42, clock=lambda: time.time() + offset[0])
    async with app_client(up, auth) as gh:
        assert (await gh.request("GET", "/a")).json()["token"] == "ghs_42_1"
        assert (await gh.request("GET", "/b")).json()["token"] == "ghs_42_1"  # 130 s left: still good
        offset[0] = 15.0  # 115 s left: inside the two-minute margin
        assert (await gh.request("GET", "/c")).json()["token"] == "ghs_42_2"
    assert github.minted == ["ghs_42_1", "ghs_42_2"]


async def test_a_token_handed_out_with_less_than_the_margin_is_used_for_half_its_life(
    upstream: MakeUpstream, key_pem: str
) -> None:
    github = FakeGitHub(key_pem, lifetime_s=100)  # as ghproxy hands out a token it minted earlier
    up = upstream(github)
    offset = [0.0]
    auth = AppAuth(APP_ID, key_pem, installation_id=42, clock=lambda: time.time() + offset[0])
    async with app_client(up, auth) as gh:
        for _ in range(5):
            assert (await gh.request("GET", "/a")).json()["token"] == "ghs_42_1"
        offset[0] = 55.0  # past half of its 100 s
        assert (await gh.request("GET", "/b")).json()["token"] == "ghs_42_2"
    assert github.minted == ["ghs_42_1", "ghs_42_2"]


def test_renewal_time() -> None:
    assert renew_at(1000.0, 4600.0) == 4480.0  # an hour-long token: two minutes before it expires
    assert renew_at(1000.0, 1100.0) == 1050.0  # less than two minutes left: half-way
    assert renew_at(1000.0, 990.0) == 1000.0  # already expired: mint on the next call


async def test_a_revoked_token_is_replaced_once(upstream: MakeUpstream, key_pem: str) -> None:
    github = FakeGitHub(key_pem)
    up = upstream(github)
    async with app_client(up, AppAuth(APP_ID, key_pem, installation_id=42)) as gh:
        await gh.request("GET", "/a")
        github.revoked.add("ghs_42_1")
        assert (await gh.request("GET", "/b")).json()["token"] == "ghs_42_2"
        github.revoked.add("ghs_42_2")
        github.revoked.add("ghs_42_3")  # the next one is refused too: no loop, the 401 is the answer
        with pytest.raises(GitHubError) as caught:
            await gh.request("GET", "/c")
    assert (caught.value.status, caught.value.message) == (401, "Bad credentials")
    assert github.minted == ["ghs_42_1", "ghs_42_2", "ghs_42_3"]


async def test_app_bot_login_is_the_slug_bot(upstream: MakeUpstream, key_pem: str) -> None:
    up = upstream(FakeGitHub(key_pem))
    async with app_client(up, AppAuth(APP_ID, key_pem, installation_id=42)) as gh:
        assert await gh.bot_login() == "prow-lite-test[bot]"
        assert await gh.bot_login() == "prow-lite-test[bot]"
    assert [s.path_qs for s in up.seen] == ["/app"]
    assert up.seen[0].headers["Authorization"].startswith("Bearer ")


async def test_a_failed_mint_caches_nothing(upstream: MakeUpstream, key_pem: str) -> None:
    github = FakeGitHub(key_pem)
    up = upstream(github)
    auth = AppAuth(APP_ID, key_pem, installation_id=99)  # not an installation of this app
    async with app_client(up, auth) as gh:
        for _ in range(2):
            with pytest.raises(NotFound):
                await gh.request("GET", "/a")
    assert github.minted == [] and auth.mints == 0
    assert [s.path_qs for s in up.seen] == ["/app/installations/99/access_tokens"] * 2


async def test_tokens_never_reach_logs_or_reprs(
    upstream: MakeUpstream, key_pem: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    up = upstream(FakeGitHub(key_pem))
    auth = AppAuth(APP_ID, key_pem, installation_id=42)
    async with app_client(up, auth) as gh:
        token = (await gh.request("GET", "/a")).json()["token"]
        text = repr(gh) + repr(auth) + caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert token not in text and auth.app_jwt() not in text and "BEGIN RSA" not in text
    assert len(caplog.records) >= 2


def test_app_auth_needs_an_installation_and_an_rsa_key(key_pem: str, tmp_path: Path) -> None:
    with pytest.raises(GitHubClientError, match="installation_id, or org"):
        AppAuth(APP_ID, key_pem)
    with pytest.raises(GitHubClientError, match="PEM"):
        AppAuth(APP_ID, "not a key", installation_id=1)
    key_file = tmp_path / "app.pem"
    key_file.write_text("\n" + key_pem + "\n")
    assert AppAuth.from_files(APP_ID, key_file, org="org0").app_id == str(APP_ID)
    with pytest.raises(GitHubClientError, match=str(tmp_path / "missing.pem")):
        AppAuth.from_files(APP_ID, tmp_path / "missing.pem", org="org0")


async def test_token_file_is_stripped_and_errors_name_the_path(upstream: MakeUpstream, tmp_path: Path) -> None:
    good = tmp_path / "token"
    good.write_text("  ghp_abc123\n\n")
    up = upstream(lambda request: asyncio.sleep(0, github_json({"login": "bot"})))
    async with GitHubClient(up.url, TokenAuth.from_file(good), "hook") as gh:
        assert await gh.bot_login() == "bot"
    assert up.seen[0].headers["Authorization"] == "token ghp_abc123" and up.seen[0].path_qs == "/user"
    assert "ghp_abc123" not in repr(TokenAuth.from_file(good))
    empty = tmp_path / "empty"
    empty.write_text(" \n\t\n")
    with pytest.raises(GitHubClientError, match=f"{empty}.*empty"):
        TokenAuth.from_file(empty)
    missing = tmp_path / "nope"
    with pytest.raises(GitHubClientError, match=f"cannot read.*{missing}"):
        TokenAuth.from_file(missing)
    two_words = tmp_path / "two"
    two_words.write_text("token ghp_abc\n")
    with pytest.raises(GitHubClientError):
        TokenAuth.from_file(two_words)
