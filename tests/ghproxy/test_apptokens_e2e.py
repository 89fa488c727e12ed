"""The app token equalizer against ghsim's GitHub Apps: one mint per installation for many callers and replicas."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Sim, StartProxy, StartSim
from tests.support.processes import StartProxyProcess
from tests.support.redis import RedisServer


def app_of(sim: Sim) -> dict[str, Any]:
    app: dict[str, Any] = sim._get("/_sim/apps")["apps"][0]
    return app


def signed_jwt(app: dict[str, Any], *, key: str | None = None, offset: int = 0) -> str:
    now = int(time.time()) + offset
    claims = {"iss": str(app["id"]), "iat": now - 60, "exp": now + 540}
    return jwt.encode(claims, key or app["private_key_pem"], algorithm="RS256")


def mint(
    base: str, installation: int, token: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any], Any]:
    request = urllib.request.Request(
        f"{base}/app/installations/{installation}/access_tokens",
        data=json.dumps(body).encode() if body is not None else b"",
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:
            return resp.status, dict(resp.headers), json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.load(err)


def mints(sim: Sim) -> dict[str, int]:
    result: dict[str, int] = sim.ledger().get("mints", {})
    return result


def read_private_repo(base: str, token: str) -> int:
    request = urllib.request.Request(f"{base}/repos/org0/repo2", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_three_concurrent_callers_share_one_mint(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url)
    app = app_of(sim)
    installation = app["installations"][0]["id"]
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: mint(proxy.url, installation, signed_jwt(app)), range(3)))
    assert [status for status, _, _ in answers] == [201, 201, 201]
    tokens = {body["token"] for _, _, body in answers}
    assert len(tokens) == 1
    assert mints(sim) == {str(installation): 1}
    modes = sorted(headers["X-Cache-Mode"] for _, headers, _ in answers)
    assert modes == ["EQUALIZED", "EQUALIZED", "SKIP"]
    assert all(
        headers.get("X-PROW-GHPROXY-REPLACED-TOKEN") == "true"
        for _, headers, _ in answers
        if headers["X-Cache-Mode"] == "EQUALIZED"
    )
    # the shared token is a real one: it reads the installation's private repository
    assert read_private_repo(proxy.url, tokens.pop()) == 200


def test_a_caller_github_does_not_confirm_never_gets_the_token(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url)
    app = app_of(sim)
    installation = app["installations"][0]["id"]
    status, _, good = mint(proxy.url, installation, signed_jwt(app))
    assert status == 201
    stranger = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    status, _, body = mint(proxy.url, installation, signed_jwt(app, key=stranger))
    assert status == 401
    assert "token" not in body and good["token"] not in json.dumps(body)
    status, _, body = mint(proxy.url, installation, signed_jwt(app, offset=-3600))  # expired JWT
    assert status == 401 and "token" not in body
    assert mints(sim) == {str(installation): 1}


def test_each_installation_and_scope_gets_its_own_token(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim(orgs=2)
    proxy = start_proxy(sim.url)
    app = app_of(sim)
    first, second = (i["id"] for i in app["installations"][:2])
    a = mint(proxy.url, first, signed_jwt(app))[2]["token"]
    b = mint(proxy.url, second, signed_jwt(app))[2]["token"]
    narrowed = mint(proxy.url, first, signed_jwt(app), {"repositories": ["repo0"]})[2]["token"]
    assert len({a, b, narrowed}) == 3
    assert mint(proxy.url, first, signed_jwt(app), {"repositories": ["repo0"]})[2]["token"] == narrowed
    assert read_private_repo(proxy.url, narrowed) == 404  # narrowed to repo0: the private repo2 is not its
    assert mints(sim) == {str(first): 2, str(second): 1}


def test_a_token_near_its_expiry_is_minted_again(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim(installation_token_ttl_s=3)
    proxy = start_proxy(sim.url, app_token_min_remaining_s=1.5)
    app = app_of(sim)
    installation = app["installations"][0]["id"]
    first = mint(proxy.url, installation, signed_jwt(app))[2]["token"]
    assert mint(proxy.url, installation, signed_jwt(app))[2]["token"] == first
    time.sleep(1.8)  # 1.2 s left: no longer handed out
    assert mint(proxy.url, installation, signed_jwt(app))[2]["token"] != first
    assert mints(sim) == {str(installation): 2}


def test_go_mode_mints_per_caller_but_hands_out_one_token(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url, app_token_reuse="go")
    app = app_of(sim)
    installation = app["installations"][0]["id"]
    tokens = {mint(proxy.url, installation, signed_jwt(app))[2]["token"] for _ in range(3)}
    assert len(tokens) == 1
    assert mints(sim) == {str(installation): 3}


def test_off_forwards_every_mint(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url, app_token_reuse="off")
    app = app_of(sim)
    installation = app["installations"][0]["id"]
    tokens = {mint(proxy.url, installation, signed_jwt(app))[2]["token"] for _ in range(3)}
    assert len(tokens) == 3
    assert mints(sim) == {str(installation): 3}


def test_two_replicas_sharing_redis_mint_once_for_three_callers(
    start_sim: StartSim, redis_server: RedisServer, start_proxy_process: StartProxyProcess, tmp_path: Path
) -> None:
    """The issue's must-show: one installation token per installation per hour across three callers and two replicas."""
    sim = start_sim()
    key_file = tmp_path / "app-token.key"
    key_file.write_text("replicas' shared secret\n")
    flags = ("--cache-dir", "", "--redis-address", redis_server.url, "--app-token-key-file", str(key_file))
    replicas = [start_proxy_process(sim.url, *flags) for _ in range(2)]
    app = app_of(sim)
    installation = app["installations"][0]["id"]
    callers = [replicas[0].url, replicas[1].url, replicas[1].url]
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda base: mint(base, installation, signed_jwt(app)), callers))
    assert {status for status, _, _ in answers} == {201}
    assert len({body["token"] for _, _, body in answers}) == 1, replicas[0].log()[-3000:] + replicas[1].log()[-3000:]
    assert mints(sim) == {str(installation): 1}
    # the token sits in Redis sealed: neither it nor its JSON is readable there
    token = answers[0][2]["token"]
    client = redis_server.client()
    stored = [client.get(k) for k in client.scan_iter("ghproxy:v1:apptoken:*") if not k.endswith(b":lock")]
    assert stored and all(value is not None and token.encode() not in value for value in stored)
    for replica in replicas:
        assert token not in replica.log()


def test_odd_requests_are_forwarded_or_refused_whole(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url)
    app = app_of(sim)
    installation = app["installations"][0]["id"]
    status, _, body = mint(proxy.url, installation, "not-a-jwt")  # forwarded: GitHub's own 401
    assert status == 401 and "token" not in body
    huge = {"repositories": ["x" * 70_000]}
    status, headers, body = mint(proxy.url, installation, signed_jwt(app), huge)
    assert status == 413 and headers["X-Cache-Mode"] == "SKIP"
    assert mints(sim) == {}


def test_an_unreachable_github_is_a_502_and_nothing_is_remembered(start_proxy: StartProxy) -> None:
    proxy = start_proxy("http://127.0.0.1:1")  # nothing listens there
    token = jwt.encode({"iss": "1001", "exp": int(time.time()) + 300}, "k" * 32, algorithm="HS256")
    for _ in range(2):  # the first failure leaves nothing behind: the second caller tries again
        status, headers, body = mint(proxy.url, 2001, token)
        assert status == 502 and headers["X-Cache-Mode"] == "SKIP" and "token" not in body
