"""GitHub Apps in ghsim: app JWTs, installation tokens and what they reach, against a real simulator."""

from __future__ import annotations

import calendar
import json
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, Github, GithubIntegration

from ghsim import apps
from ghsim.cli import config_from, parser
from ghsim.models import Permission, RepoInfo, User
from tests.conftest import Sim, StartSim

APP_ID = 1001
Answer = tuple[int, Any, dict[str, str]]


def call(sim: Sim, method: str, path: str, token: str | None = None, body: Any = None, **headers: str) -> Answer:
    """One request to the simulator: status, decoded JSON body (None when empty) and headers (lower-cased names)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(sim.url + path, data=data, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            raw, status, got = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, got = exc.read(), exc.code, dict(exc.headers)
    return status, json.loads(raw) if raw else None, {k.lower(): v for k, v in got.items()}


def app_info(sim: Sim) -> dict[str, Any]:
    status, body, _ = call(sim, "GET", "/_sim/apps")
    assert status == 200
    found: dict[str, Any] = body["apps"][0]
    return found


def sign(pem: str | rsa.RSAPrivateKey, **claims: Any) -> str:
    """An app JWT as a client makes one: iat a minute back, exp five minutes ahead, iss the app id."""
    t = int(time.time())
    payload = {"iat": t - 60, "exp": t + 300, "iss": APP_ID} | claims
    body = json.dumps({k: v for k, v in payload.items() if v is not None}).encode()
    # PyJWS, not jwt.encode: PyJWT refuses an integer `iss`, which GitHub (and so ghsim) accepts
    return jwt.PyJWS().encode(body, pem, algorithm="RS256")


def mint(sim: Sim, pem: str, installation: int = 2001, body: Any = None) -> dict[str, Any]:
    status, answer, _ = call(sim, "POST", f"/app/installations/{installation}/access_tokens", sign(pem), body)
    assert status == 201, answer
    minted: dict[str, Any] = answer
    return minted


@pytest.fixture
def sim(start_sim: StartSim) -> Sim:
    """Two orgs (org0/repo2 and org1/repo2 private); mutation spacing off so tests may write back to back."""
    return start_sim(orgs=2, secondary_limits=False)


@pytest.fixture
def pem(sim: Sim) -> str:
    key: str = app_info(sim)["private_key_pem"]
    return key


# --- the seeded app and the control surface ----------------------------------------------------------------------


def test_sim_apps_hands_out_the_app_its_key_and_one_installation_per_org(sim: Sim) -> None:
    info = app_info(sim)
    assert (info["id"], info["slug"]) == (APP_ID, "sim-app")
    assert info["installations"] == [{"id": 2001, "account": "org0"}, {"id": 2002, "account": "org1"}]
    assert info["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    # the key is made once per simulator: asking again gives the same one
    assert app_info(sim)["private_key_pem"] == info["private_key_pem"]


def test_cli_flag_sets_the_installation_token_ttl() -> None:
    assert config_from(parser().parse_args(["--installation-token-ttl-s", "5.5"])).installation_token_ttl_s == 5.5
    assert config_from(parser().parse_args([])).installation_token_ttl_s == 3600


# --- JWTs ---------------------------------------------------------------------------------------------------------


def test_jwt_reads_the_app_endpoints(sim: Sim, pem: str) -> None:
    token = sign(pem)
    status, app, _ = call(sim, "GET", "/app", token)
    assert status == 200
    assert (app["id"], app["slug"], app["owner"]["login"], app["installations_count"]) == (APP_ID, "sim-app", "org0", 2)
    status, listed, _ = call(sim, "GET", "/app/installations", token)
    assert status == 200
    assert [(i["id"], i["account"]["login"], i["app_id"]) for i in listed] == [
        (2001, "org0", APP_ID),
        (2002, "org1", APP_ID),
    ]
    assert listed[0]["access_tokens_url"] == f"{sim.url}/app/installations/2001/access_tokens"
    assert call(sim, "GET", "/app/installations/2002", token)[1]["account"]["login"] == "org1"
    assert call(sim, "GET", "/repos/org0/repo2/installation", token)[1]["id"] == 2001
    assert call(sim, "GET", "/orgs/org1/installation", token)[1]["id"] == 2002
    assert call(sim, "GET", "/app/installations/9999", token)[0] == 404
    assert call(sim, "GET", "/repos/org0/nope/installation", token)[0] == 404
    assert call(sim, "POST", "/app/installations/9999/access_tokens", token)[0] == 404
    # iss may be the id as a string or the client id
    assert call(sim, "GET", "/app", sign(pem, iss=str(APP_ID)))[0] == 200
    assert call(sim, "GET", "/app", sign(pem, iss=app["client_id"]))[0] == 200


def test_jwt_answers_have_etags_and_free_304s(sim: Sim, pem: str) -> None:
    token = sign(pem)
    first = call(sim, "GET", "/app/installations", token)
    again = call(sim, "GET", "/app/installations", token, If_None_Match=first[2]["etag"])
    assert (first[0], again[0]) == (200, 304)
    counts = sim.ledger()["tokens"][f"app:{APP_ID}"]
    assert (counts["requests"], counts["charged"], counts["free_304"]) == (2, 1, 1)
    # each JWT is its own Authorization value, so its own ETag (GitHub's formula)
    assert call(sim, "GET", "/app/installations", sign(pem, iat=int(time.time()) - 30))[2]["etag"] != first[2]["etag"]


def _jwt_cases(pem: str, foreign: rsa.RSAPrivateKey) -> list[tuple[str, str, int, str]]:
    now = int(time.time())
    hs256 = jwt.encode(
        {"iat": now - 60, "exp": now + 300, "iss": str(APP_ID)},
        "a shared secret, as long as HS256 wants",
        algorithm="HS256",
    )
    return [
        ("not a JWT", "a.b.c", 401, apps.NOT_DECODED),
        ("signed by another key", sign(foreign), 401, apps.NOT_DECODED),
        ("HS256", hs256, 401, apps.NOT_DECODED),
        ("no iss", sign(pem, iss=None), 401, apps.NOT_DECODED),
        ("unknown app", sign(pem, iss=4242), 404, "Integration not found"),
        ("expired", sign(pem, iat=now - 700, exp=now - 100), 401, apps.BAD_EXP),
        ("no exp", sign(pem, exp=None), 401, apps.BAD_EXP),
        ("exp too far", sign(pem, iat=now, exp=now + 700), 401, apps.EXP_TOO_FAR),
        ("iat ahead of the drift", sign(pem, iat=now + 120, exp=now + 300), 401, apps.BAD_IAT),
        ("iat not an integer", sign(pem, iat=str(now)), 401, apps.BAD_IAT),
    ]


def test_bad_jwts_get_githubs_answers(sim: Sim, pem: str) -> None:
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for name, token, status, message in _jwt_cases(pem, foreign):
        got, body, _ = call(sim, "GET", "/app", token)
        assert (got, body["message"]) == (status, message), name
    now = int(time.time())
    # GitHub's own example (iat a minute back, exp ten minutes ahead) and a client 30 s fast both pass
    assert call(sim, "GET", "/app", sign(pem, iat=now - 60, exp=now + 600))[0] == 200
    assert call(sim, "GET", "/app", sign(pem, iat=now + 30, exp=now + 600))[0] == 200
    # refused JWTs are never the app (nor the any-token bot): only the two good ones count for it
    assert sim.ledger(f"app:{APP_ID}")["requests"] == 2


def test_a_jwt_is_for_app_endpoints_only_and_app_endpoints_for_jwts_only(sim: Sim, pem: str) -> None:
    token = sign(pem)
    for path in ("/repos/org0/repo0", "/user", "/repos/org0/repo0/pulls", "/rate_limit"):
        status, body, _ = call(sim, "GET", path, token)
        assert (status, body["message"]) == (401, "Bad credentials"), path
    installation_token = mint(sim, pem)["token"]
    for credential in ("sim_alice", installation_token, "anything-else", None):
        status, body, _ = call(sim, "GET", "/app/installations", credential)
        assert (status, body["message"]) == (401, apps.NOT_DECODED), credential


# --- installation tokens ------------------------------------------------------------------------------------------


def test_minted_token_acts_as_the_bot_with_write_on_its_org(sim: Sim, pem: str) -> None:
    before = time.time()
    minted = mint(sim, pem)
    token = minted["token"]
    assert re.fullmatch(r"ghs_[A-Za-z0-9]{36}", token)
    assert minted["repository_selection"] == "all"
    assert minted["permissions"] == dict(apps.PERMISSIONS)
    expires = calendar.timegm(time.strptime(minted["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert before + 3600 - 2 <= expires <= time.time() + 3600
    status, private, _ = call(sim, "GET", "/repos/org0/repo2", token)
    assert status == 200
    assert private["permissions"] | {"pull": True} == {
        "admin": False,
        "maintain": False,
        "push": True,
        "triage": True,
        "pull": True,
    }
    status, comment, _ = call(sim, "POST", "/repos/org0/repo2/issues/9/comments", token, {"body": "from the app"})
    assert status == 201
    assert (comment["user"]["login"], comment["user"]["type"]) == ("sim-app[bot]", "Bot")
    # another org: public repos are readable, not writable; private ones do not exist
    assert call(sim, "GET", "/repos/org1/repo2", token)[0] == 404
    status, public, _ = call(sim, "GET", "/repos/org1/repo0", token)
    assert (status, public["permissions"]["push"]) == (200, False)
    status, body, _ = call(sim, "POST", "/repos/org1/repo0/issues/9/comments", token, {"body": "no"})
    assert (status, body["message"]) == (403, "Resource not accessible by integration")
    assert call(sim, "POST", "/repos/org1/repo2/issues/9/comments", token, {"body": "no"})[0] == 404
    status, body, _ = call(sim, "GET", "/user", token)
    assert (status, body["message"]) == (403, "Resource not accessible by integration")
    status, listed, _ = call(sim, "GET", "/installation/repositories", token)
    assert (status, listed["total_count"]) == (200, 3)
    assert sim.ledger(token)["requests"] == 8


def test_narrowed_token_reaches_only_what_it_asked_for(sim: Sim, pem: str) -> None:
    minted = mint(sim, pem, body={"repositories": ["repo0"]})
    token = minted["token"]
    assert minted["repository_selection"] == "selected"
    assert [r["full_name"] for r in minted["repositories"]] == ["org0/repo0"]
    assert call(sim, "GET", "/repos/org0/repo2", token)[0] == 404
    status, other, _ = call(sim, "GET", "/repos/org0/repo1", token)
    assert (status, other["permissions"]["push"]) == (200, False)
    assert call(sim, "GET", "/repos/org0/repo0", token)[1]["permissions"]["push"] is True
    assert [r["full_name"] for r in call(sim, "GET", "/installation/repositories", token)[1]["repositories"]] == [
        "org0/repo0"
    ]
    private_id = call(sim, "GET", "/repos/org0/repo2", mint(sim, pem)["token"])[1]["id"]
    by_id = mint(sim, pem, body={"repository_ids": [private_id]})["token"]
    assert call(sim, "GET", "/repos/org0/repo2", by_id)[0] == 200
    read_only = mint(sim, pem, body={"permissions": {"contents": "read", "issues": "read"}})
    assert read_only["permissions"] == {"contents": "read", "issues": "read"}
    status, repo, _ = call(sim, "GET", "/repos/org0/repo2", read_only["token"])
    assert (status, repo["permissions"]["push"]) == (200, False)
    assert call(sim, "POST", "/repos/org0/repo2/issues/9/comments", read_only["token"], {"body": "no"})[0] == 403


def test_each_request_sees_its_own_tokens_reach(start_sim: StartSim) -> None:
    """Interleaved requests (50 ms latency) of a narrowed token, a full token and users each get their own answer."""
    sim = start_sim(latency_ms=50, secondary_limits=False)
    pem = app_info(sim)["private_key_pem"]
    narrowed = mint(sim, pem, body={"repositories": ["repo0"]})["token"]
    full = mint(sim, pem)["token"]
    expected = {narrowed: 404, full: 200, "sim_bob": 200, "sim_erin": 404}
    askers = list(expected) * 6
    with ThreadPoolExecutor(len(askers)) as pool:
        got = list(pool.map(lambda t: call(sim, "GET", "/repos/org0/repo2", t)[0], askers))
    assert got == [expected[t] for t in askers]


def test_mint_refuses_what_the_installation_does_not_have(sim: Sim, pem: str) -> None:
    jwt_ = sign(pem)
    path = "/app/installations/2001/access_tokens"
    for body in (
        {"repositories": ["nope"]},
        {"repositories": ["repo0"], "repository_ids": [123]},
        {"repository_ids": [{"id": 100_000}]},
        {"repositories": "repo0"},
        {"permissions": {"administration": "write"}},
        {"permissions": {"metadata": "write"}},
        {"permissions": {"contents": "admin"}},
    ):
        assert call(sim, "POST", path, jwt_, body)[0] == 422, body
    # org1's repositories are not org0's installation's
    assert call(sim, "POST", path, jwt_, {"repository_ids": [101_000]})[0] == 422
    assert sim.ledger()["mints"] == {}


def test_expired_and_unknown_installation_tokens_are_bad_credentials(start_sim: StartSim) -> None:
    sim = start_sim(installation_token_ttl_s=0.3)
    token = mint(sim, app_info(sim)["private_key_pem"])["token"]
    assert call(sim, "GET", "/repos/org0/repo2", token)[0] == 200
    time.sleep(0.4)
    for stale in (token, "ghs_" + "x" * 36):
        status, body, _ = call(sim, "GET", "/repos/org0/repo0", stale)
        assert (status, body["message"]) == (401, "Bad credentials")


def test_app_credentials_work_when_other_tokens_are_refused(start_sim: StartSim) -> None:
    sim = start_sim(accept_any_token=False)
    token = mint(sim, app_info(sim)["private_key_pem"])["token"]
    assert call(sim, "GET", "/repos/org0/repo2", token)[0] == 200
    assert call(sim, "GET", "/repos/org0/repo2", "sim_alice")[0] == 200
    assert call(sim, "GET", "/repos/org0/repo0", "sim_sim-app[bot]")[0] == 401


def test_mints_are_counted_per_installation_and_reset(sim: Sim, pem: str) -> None:
    first = mint(sim, pem)["token"]
    mint(sim, pem)
    mint(sim, pem, installation=2002)
    ledger = sim.ledger()
    assert ledger["mints"] == {"2001": 2, "2002": 1}
    assert sim.ledger(f"app:{APP_ID}")["charged"] == 3
    assert call(sim, "POST", "/_sim/reset")[0] == 200
    assert sim.ledger()["mints"] == {}
    # a reset zeroes counters, not credentials
    assert call(sim, "GET", "/repos/org0/repo2", first)[0] == 200


def test_the_app_and_each_installation_token_have_their_own_budget(start_sim: StartSim) -> None:
    sim = start_sim(core_limit=100)  # secondary limits on, as on GitHub
    pem = app_info(sim)["private_key_pem"]
    token = mint(sim, pem)["token"]
    read = call(sim, "GET", "/repos/org0/repo0", token)[2]
    assert (read["x-ratelimit-used"], read["x-ratelimit-remaining"]) == ("1", "99")
    app = call(sim, "GET", "/app", sign(pem))[2]
    assert (app["x-ratelimit-used"], app["x-ratelimit-remaining"]) == ("2", "98")
    assert sim.ledger()["mints"] == {"2001": 1}


# --- a real client ------------------------------------------------------------------------------------------------


def test_pygithub_app_auth_mints_and_reads(sim: Sim, pem: str) -> None:
    with GithubIntegration(auth=Auth.AppAuth(APP_ID, pem), base_url=sim.url) as integration:
        assert integration.get_app().slug == "sim-app"
        installation = integration.get_repo_installation("org0", "repo2")
        assert installation.id == 2001
        assert [i.id for i in integration.get_installations()] == [2001, 2002]
        access = integration.get_access_token(installation.id)
        assert access.token.startswith("ghs_")
        assert access.expires_at.timestamp() > time.time() + 3000
        with Github(auth=Auth.Token(access.token), base_url=sim.url) as gh:
            assert gh.get_repo("org0/repo2").private is True
        with integration.get_github_for_installation(installation.id) as gh:
            assert gh.get_repo("org0/repo2").get_pull(1).number == 1
    assert sim.ledger()["mints"] == {"2001": 2}


# --- the pure rules -----------------------------------------------------------------------------------------------

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"iat": int(NOW) - 60, "exp": int(NOW) + 540}, None),
        ({"iat": int(NOW) - 60, "exp": int(NOW) + 600}, None),
        ({"iat": int(NOW) + 60, "exp": int(NOW) + 660}, None),
        ({"iat": int(NOW) + 61, "exp": int(NOW) + 300}, apps.BAD_IAT),
        ({"iat": NOW, "exp": int(NOW) + 300}, apps.BAD_IAT),
        ({"iat": True, "exp": int(NOW) + 300}, apps.BAD_IAT),
        ({"exp": int(NOW) + 300}, apps.BAD_IAT),
        ({"iat": int(NOW) - 60, "exp": int(NOW)}, apps.BAD_EXP),
        ({"iat": int(NOW) - 60, "exp": "soon"}, apps.BAD_EXP),
        ({"iat": int(NOW) - 60, "exp": int(NOW) + 601}, apps.EXP_TOO_FAR),
    ],
)
def test_check_claims(claims: dict[str, Any], expected: str | None) -> None:
    assert apps.check_claims(claims, NOW) == expected


def _repo(owner: str, name: str, private: bool) -> RepoInfo:
    return RepoInfo(owner, name, 1, private, "", "main", 0, {})


@pytest.mark.parametrize(
    ("repos", "permissions", "repo", "role"),
    [
        (None, apps.PERMISSIONS, _repo("org0", "a", True), Permission.WRITE),
        (None, apps.PERMISSIONS, _repo("ORG0", "b", False), Permission.WRITE),
        (None, apps.PERMISSIONS, _repo("org1", "a", False), Permission.READ),
        (None, apps.PERMISSIONS, _repo("org1", "a", True), Permission.NONE),
        (frozenset({"org0/a"}), apps.PERMISSIONS, _repo("org0", "b", True), Permission.NONE),
        (frozenset({"org0/a"}), apps.PERMISSIONS, _repo("org0", "b", False), Permission.READ),
        (frozenset({"org0/a"}), {"contents": "read"}, _repo("org0", "A", True), Permission.READ),
    ],
)
def test_grant_role(
    repos: frozenset[str] | None, permissions: dict[str, str], repo: RepoInfo, role: Permission
) -> None:
    installation = apps.Installation(2001, APP_ID, "org0", 0)
    grant = apps.Grant(installation, User("sim-app[bot]", 1, type="Bot"), NOW, permissions, repos)
    assert grant.role(repo) is role
