"""HTTP behaviour of the simulator, in process through aiohttp's test client."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ghsim.app import STATE, make_app
from ghsim.config import SimConfig

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]
ALICE = {"Authorization": "token sim_alice"}
BOB = {"Authorization": "token sim_bob"}
CAROL = {"Authorization": "Bearer sim_carol"}


@pytest.fixture
def make(aiohttp_client: Any) -> MakeClient:
    async def build(**settings: Any) -> Client:
        client: Client = await aiohttp_client(make_app(SimConfig(**settings)))
        return client

    return build


async def ledger(client: Client) -> dict[str, Any]:
    resp = await client.get("/_sim/ledger")
    body: dict[str, Any] = await resp.json()
    return body


async def test_etag_differs_per_token_and_304_is_free(make: MakeClient) -> None:
    client = await make()
    a = await client.get("/repos/org0/repo0/issues/9", headers=ALICE)
    b = await client.get("/repos/org0/repo0/issues/9", headers=BOB)
    assert a.status == b.status == 200
    assert await a.read() == await b.read()
    assert a.headers["ETag"] != b.headers["ETag"]
    assert a.headers["x-ratelimit-used"] == "1"
    again = await client.get("/repos/org0/repo0/issues/9", headers=ALICE | {"If-None-Match": a.headers["ETag"]})
    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == a.headers["ETag"]
    assert again.headers["x-ratelimit-used"] == "1"
    assert again.headers["x-ratelimit-remaining"] == "4999"
    assert again.headers["Cache-Control"] == "private, max-age=60, s-maxage=60"
    assert again.headers.getall("Vary") == [
        "Accept, Authorization, Cookie, X-GitHub-OTP",
        "Accept-Encoding, Accept, X-Requested-With",
    ]
    weak = await client.get(
        "/repos/org0/repo0/issues/9", headers=ALICE | {"If-None-Match": f'"x", W/{a.headers["ETag"]}'}
    )
    assert weak.status == 304
    stale = await client.get("/repos/org0/repo0/issues/9", headers=BOB | {"If-None-Match": a.headers["ETag"]})
    assert stale.status == 200
    counts = (await ledger(client))["tokens"]
    assert counts["sim_alice"] | {"max_inflight": 0} == {
        "requests": 3,
        "charged": 1,
        "free_304": 2,
        "secondary_limited": 0,
        "primary_limited": 0,
        "max_inflight": 0,
    }
    assert counts["sim_bob"]["charged"] == 2


async def test_if_modified_since(make: MakeClient) -> None:
    client = await make()
    first = await client.get("/repos/org0/repo0/pulls/1", headers=ALICE)
    lm = first.headers["Last-Modified"]
    again = await client.get("/repos/org0/repo0/pulls/1", headers=ALICE | {"If-Modified-Since": lm})
    assert again.status == 304


async def test_anonymous_is_public_and_charged_even_for_304(make: MakeClient) -> None:
    client = await make()
    first = await client.get("/repos/org0/repo0")
    assert first.headers["Cache-Control"] == "public, max-age=60, s-maxage=60"
    assert first.headers["x-ratelimit-limit"] == "60"
    assert "permissions" not in await first.json()
    again = await client.get("/repos/org0/repo0", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    assert again.headers["x-ratelimit-used"] == "2"
    assert (await ledger(client))["tokens"][""]["charged"] == 2


async def test_gzip_when_asked_and_etag_over_uncompressed_body(make: MakeClient) -> None:
    client = await make()
    resp = await client.get("/repos/org0/repo0", headers=ALICE | {"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert resp.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(await resp.read())
    plain = await client.get("/repos/org0/repo0", headers=ALICE | {"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert await plain.read() == body
    assert plain.headers["ETag"] == resp.headers["ETag"]


async def test_link_pagination_walks_all_pages(make: MakeClient) -> None:
    client = await make(prs_per_repo=10, issues_per_repo=15)
    url: str | None = f"{client.make_url('/repos/org0/repo0/issues')}?state=all&per_page=4&sort=created"
    numbers: list[int] = []
    pages = 0
    while url:
        resp = await client.session.get(url, headers=ALICE)
        numbers += [i["number"] for i in await resp.json()]
        pages += 1
        links = resp.links
        if pages == 1:
            assert set(links) == {"next", "last"}
        url = str(links["next"]["url"]) if "next" in links else None
        if url:
            assert "state=all" in url and "per_page=4" in url and "sort=created" in url
    assert pages == 7
    assert sorted(numbers) == list(range(1, 26))
    assert set(resp.links) == {"prev", "first"}


async def test_api_url_is_used_for_urls_and_links(make: MakeClient) -> None:
    client = await make(api_url="http://proxy.example:8888/")
    resp = await client.get("/repos/org0/repo0/pulls?per_page=2", headers=ALICE)
    body = await resp.json()
    assert body[0]["url"].startswith("http://proxy.example:8888/repos/org0/repo0/pulls/")
    assert body[0]["html_url"].startswith("https://github.com/org0/repo0/pull/")
    assert resp.headers["Link"].startswith("<http://proxy.example:8888/repos/org0/repo0/pulls?per_page=2&page=2>")


async def test_mutation_spacing_is_a_secondary_limit_with_retry_after(make: MakeClient) -> None:
    client = await make(secondary_retry_after_s=7)
    url = "/repos/org0/repo0/issues/1/comments"
    first = await client.post(url, json={"body": "one"}, headers=BOB)
    assert first.status == 201
    second = await client.post(url, json={"body": "two"}, headers=BOB)
    assert second.status == 403
    assert second.headers["Retry-After"] == "7"
    body = await second.json()
    assert "secondary rate limit" in body["message"]
    assert body["documentation_url"].endswith("#about-secondary-rate-limits")
    # Further requests within retry-after are refused too, but not charged.
    read = await client.get("/repos/org0/repo0", headers=BOB)
    assert read.status == 403
    counts = (await ledger(client))["tokens"]["sim_bob"]
    assert (counts["charged"], counts["secondary_limited"]) == (1, 2)
    other = await client.post(url, json={"body": "three"}, headers=ALICE)
    assert other.status == 201


async def test_points_per_minute(make: MakeClient) -> None:
    client = await make(points_per_minute=5)
    statuses = [(await client.get("/repos/org0/repo0", headers=ALICE)).status for _ in range(6)]
    assert statuses == [200] * 5 + [403]


async def test_concurrency_limit(make: MakeClient) -> None:
    client = await make(max_concurrent=2, latency_ms=150)
    resps = await asyncio.gather(*(client.get("/repos/org0/repo0", headers=ALICE) for _ in range(3)))
    assert sorted(r.status for r in resps) == [200, 200, 403]
    counts = (await ledger(client))["tokens"]["sim_alice"]
    assert counts["max_inflight"] == 2
    assert counts["secondary_limited"] == 1


async def test_no_secondary_limits(make: MakeClient) -> None:
    client = await make(secondary_limits=False)
    for n in range(3):
        resp = await client.post("/repos/org0/repo0/issues/1/comments", json={"body": str(n)}, headers=BOB)
        assert resp.status == 201


async def test_primary_exhaustion(make: MakeClient) -> None:
    client = await make(core_limit=3)
    statuses = [(await client.get("/repos/org0/repo0", headers=ALICE)).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    over = await client.get("/repos/org0/repo0", headers=ALICE)
    assert over.status == 403
    assert over.headers["x-ratelimit-remaining"] == "0"
    assert (await over.json())["message"] == "API rate limit exceeded for user ID 1001."
    rate = await client.get("/rate_limit", headers=ALICE)
    assert rate.status == 200
    assert (await rate.json())["resources"]["core"]["remaining"] == 0
    assert rate.headers["Cache-Control"] == "no-cache"
    assert (await ledger(client))["tokens"]["sim_alice"]["primary_limited"] == 1


async def test_writes_change_representations_and_etags(make: MakeClient) -> None:
    client = await make()
    before = await client.get("/repos/org0/repo0/issues/2", headers=ALICE)
    tag = before.headers["ETag"]
    added = await client.post("/repos/org0/repo0/issues/2/labels", json={"labels": ["lgtm"]}, headers=BOB)
    assert added.status == 200
    assert "lgtm" in {lab["name"] for lab in await added.json()}
    after = await client.get("/repos/org0/repo0/issues/2", headers=ALICE | {"If-None-Match": tag})
    assert after.status == 200
    assert "lgtm" in {lab["name"] for lab in (await after.json())["labels"]}


async def test_merge_updates_base_branch(make: MakeClient) -> None:
    client = await make()
    pull = await (await client.get("/repos/org0/repo0/pulls/1", headers=BOB)).json()
    assert pull["mergeable"] is True
    merged = await client.put("/repos/org0/repo0/pulls/1/merge", json={"sha": pull["head"]["sha"]}, headers=BOB)
    assert merged.status == 200
    sha = (await merged.json())["sha"]
    branch = await (await client.get("/repos/org0/repo0/branches/main", headers=BOB)).json()
    assert branch["commit"]["sha"] == sha
    assert len(branch["commit"]["parents"]) == 2
    after = await (await client.get("/repos/org0/repo0/pulls/1", headers=BOB)).json()
    assert (after["merged"], after["state"], after["merge_commit_sha"]) == (True, "closed", sha)


async def test_write_endpoints(make: MakeClient) -> None:
    client = await make(secondary_limits=False)
    r = "/repos/org0/repo0"
    sha = (await (await client.get(f"{r}/git/refs/heads/main", headers=BOB)).json())["object"]["sha"]
    steps = [
        ("POST", f"{r}/statuses/{sha}", {"state": "failure", "context": "ci/unit"}, 201),
        ("PATCH", f"{r}/issues/3", {"title": "New title", "state": "closed", "assignees": ["bob"]}, 200),
        ("PUT", f"{r}/issues/3/labels", {"labels": ["kind/bug"]}, 200),
        ("DELETE", f"{r}/issues/3/labels/kind%2Fbug", None, 200),
        ("POST", f"{r}/labels", {"name": "triage/accepted", "color": "00ff00"}, 201),
        ("POST", f"{r}/issues/3/assignees", {"assignees": ["carol"]}, 201),
        ("POST", f"{r}/pulls/2/reviews", {"event": "APPROVE", "body": "ok"}, 200),
        ("POST", f"{r}/pulls/2/requested_reviewers", {"reviewers": ["dave"]}, 201),
        ("POST", f"{r}/git/refs", {"ref": "refs/heads/new", "sha": sha}, 201),
        ("PATCH", f"{r}/git/refs/heads/new", {"sha": sha, "force": True}, 200),
        ("POST", f"{r}/pulls", {"title": "T", "head": "feature-2", "base": "new"}, 201),
        ("PATCH", f"{r}/pulls/2", {"body": "edited"}, 200),
    ]
    for method, url, payload, status in steps:
        resp = await client.request(method, url, json=payload, headers=BOB)
        assert resp.status == status, (method, url, await resp.text())
    combined = await (await client.get(f"{r}/commits/main/status", headers=BOB)).json()
    assert combined["state"] == "failure"
    issue = await (await client.get(f"{r}/issues/3", headers=BOB)).json()
    assert (issue["title"], issue["state"], issue["labels"]) == ("New title", "closed", [])
    assert [a["login"] for a in issue["assignees"]] == ["bob", "carol"]
    comment = await (await client.post(f"{r}/issues/3/comments", json={"body": "x"}, headers=BOB)).json()
    edited = await client.patch(f"{r}/issues/comments/{comment['id']}", json={"body": "y"}, headers=BOB)
    assert (await edited.json())["body"] == "y"
    assert (await client.delete(f"{r}/issues/comments/{comment['id']}", headers=BOB)).status == 204
    pr = await (await client.get(f"{r}/pulls/2", headers=BOB)).json()
    assert [u["login"] for u in pr["requested_reviewers"]] == ["dave"]
    assert pr["body"] == "edited"


async def test_private_repo_and_permissions_by_viewer(make: MakeClient) -> None:
    client = await make()
    assert (await client.get("/repos/org0/repo2", headers=CAROL)).status == 404
    assert (await client.get("/repos/org0/repo2")).status == 404
    assert (await client.get("/repos/org0/repo2", headers={"Authorization": "token whatever"})).status == 404
    private = await (await client.get("/repos/org0/repo2", headers=BOB)).json()
    assert private["private"] is True
    assert private["permissions"]["push"] is True and private["permissions"]["admin"] is False
    perms = {}
    for who, headers in {"alice": ALICE, "bob": BOB, "carol": CAROL}.items():
        perms[who] = (await (await client.get("/repos/org0/repo0", headers=headers)).json())["permissions"]
    assert perms["alice"]["admin"] and not perms["bob"]["admin"] and perms["bob"]["maintain"]
    assert perms["carol"] == {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True}
    listed = await (await client.get("/orgs/org0/repos", headers=CAROL)).json()
    assert [r["name"] for r in listed] == ["repo0", "repo1"]


async def test_tokens(make: MakeClient) -> None:
    client = await make()
    me = await (await client.get("/user", headers=CAROL)).json()
    assert me["login"] == "carol"
    bot = await (await client.get("/user", headers={"Authorization": "token s3cret"})).json()
    assert bot["login"].startswith("bot-") and "s3cret" not in str(bot)
    strict = await make(accept_any_token=False)
    bad = await strict.get("/user", headers={"Authorization": "token nope"})
    assert bad.status == 401
    assert (await bad.json())["message"] == "Bad credentials"


async def test_unknown_path_is_github_404(make: MakeClient) -> None:
    client = await make()
    resp = await client.get("/nothing/here", headers=ALICE)
    assert resp.status == 404
    assert await resp.json() == {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


async def test_ledger_reset_requests_and_representations(make: MakeClient) -> None:
    client = await make()
    await client.get("/repos/org0/repo0", headers=ALICE)
    await client.get("/repos/org0/repo0", headers=BOB)
    await client.get("/repos/org0/repo0?x=1", headers=ALICE)
    reps = await (await client.get("/_sim/representations")).json()
    assert reps == {"distinct": 3}  # bob's body differs (permissions); ?x=1 is another path
    log = (await (await client.get("/_sim/requests")).json())["requests"]
    assert [(r["path"], r["token"], r["status"], r["charged"]) for r in log] == [
        ("/repos/org0/repo0", "sim_alice", 200, True),
        ("/repos/org0/repo0", "sim_bob", 200, True),
        ("/repos/org0/repo0?x=1", "sim_alice", 200, True),
    ]
    totals = (await ledger(client))["totals"]
    assert totals["requests"] == 3 and totals["charged"] == 3
    await client.post("/_sim/reset")
    assert (await ledger(client))["totals"]["requests"] == 0
    assert (await (await client.get("/_sim/requests")).json()) == {"requests": []}
    resp = await client.get("/repos/org0/repo0", headers=ALICE)
    assert resp.headers["x-ratelimit-used"] == "1"


async def test_sim_mutate_changes_data_without_accounting(make: MakeClient) -> None:
    client = await make()
    before = await client.get("/repos/org0/repo0/pulls/1", headers=ALICE)
    head = (await before.json())["head"]["sha"]
    for kind in ("touch_pr", "push_pr", "comment"):
        resp = await client.post("/_sim/mutate", json={"repo": "org0/repo0", "kind": kind, "number": 1})
        assert resp.status == 200, await resp.text()
    after = await client.get("/repos/org0/repo0/pulls/1", headers=ALICE | {"If-None-Match": before.headers["ETag"]})
    assert after.status == 200
    assert (await after.json())["head"]["sha"] != head
    assert (await ledger(client))["totals"]["requests"] == 2
    state = client.app[STATE] if client.app else None
    assert state is not None and state.data.repo("org0", "repo0") is not None


async def test_graphql(make: MakeClient) -> None:
    client = await make(secondary_limits=False, graphql_limit=7)
    headers = ALICE
    viewer = await client.post("/graphql", json={"query": "query { viewer { login } }"}, headers=headers)
    assert (await viewer.json()) == {"data": {"viewer": {"login": "alice"}}}
    assert viewer.headers["x-ratelimit-resource"] == "graphql"
    other = await (await client.post("/graphql", json={"query": "{ repository { id } }"}, headers=headers)).json()
    assert "errors" in other
    mutation = await client.post("/graphql", json={"query": "mutation { x }"}, headers=headers)
    assert mutation.headers["x-ratelimit-used"] == "7"  # a mutation costs 5 points
    limited = await (await client.post("/graphql", json={"query": "{ viewer { login } }"}, headers=headers)).json()
    assert limited["errors"][0]["type"] == "RATE_LIMITED"
    assert (await client.post("/graphql", json={"query": "{ viewer { login } }"})).status == 401


async def test_content_endpoints(make: MakeClient) -> None:
    import base64

    client = await make()
    r = "/repos/org0/repo0"
    readme = await (await client.get(f"{r}/contents/README.md?ref=main", headers=ALICE)).json()
    blob = await (await client.get(f"{r}/git/blobs/{readme['sha']}", headers=ALICE)).json()
    assert base64.b64decode(blob["content"]) == base64.b64decode(readme["content"])
    tree = await (await client.get(f"{r}/git/trees/main?recursive=1", headers=ALICE)).json()
    paths = {e["path"] for e in tree["tree"]}
    assert {"README.md", "src", "src/mod0.py"} <= paths
    flat = await (await client.get(f"{r}/git/trees/main", headers=ALICE)).json()
    assert "src/mod0.py" not in {e["path"] for e in flat["tree"]}
    files = await (await client.get(f"{r}/pulls/4/files", headers=ALICE)).json()
    assert {f["status"] for f in files} >= {"added", "modified"}
    assert all(f["changes"] == f["additions"] + f["deletions"] for f in files)
    member = await client.get("/orgs/org0/members/alice", headers=ALICE)
    assert member.status == 204
    assert (await client.get("/orgs/org0/members/erin", headers=ALICE)).status == 404
    assert (await client.get(f"{r}/collaborators/carol", headers=ALICE)).status == 204
    assert (await client.get(f"{r}/collaborators/erin", headers=ALICE)).status == 404
    search = await client.get("/search/issues?q=repo:org0/repo0 is:pr is:open", headers=ALICE)
    assert search.headers["x-ratelimit-resource"] == "search"
    found = await search.json()
    assert found["total_count"] == len(found["items"]) > 0
    assert all("pull_request" in i and i["state"] == "open" for i in found["items"])
