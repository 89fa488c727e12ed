"""Webhook deliveries from a real ghsim to a real aiohttp receiver on 127.0.0.1: signatures, shapes, order, failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ghsim.cli import config_from, parser
from ghsim.config import SimConfig
from tests.conftest import Sim, StartServer, StartSim
from tests.support.servers import ThreadedServer, free_port

SECRET = "It's a Secret to Everybody"
REPO = "/repos/org0/repo0"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> str:
        return self.headers["X-GitHub-Event"]

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded

    @property
    def kind(self) -> tuple[str, str | None]:
        return self.event, self.payload.get("action")


@dataclass
class Receiver:
    """A webhook receiver that records every POST and answers `status` after `delay` seconds."""

    server: ThreadedServer | None = None
    got: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"{self.server.url}/hook"

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.got)

    def kinds(self) -> list[tuple[str, str | None]]:
        return [r.kind for r in self.received()]


def start_receiver(start_server: StartServer, status: int = 200, delay: float = 0.0) -> Receiver:
    import asyncio

    receiver = Receiver(status=status, delay=delay)

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        if receiver.delay:
            await asyncio.sleep(receiver.delay)
        with receiver.lock:
            receiver.got.append(Received(dict(request.headers), body))
        return web.Response(status=receiver.status, text="Event received. Have a nice day.")

    def factory() -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", hook)
        return app

    receiver.server = start_server(factory)
    return receiver


def call(sim: Sim, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """One request to the simulator: (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(sim.url + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    return status, json.loads(raw) if raw else None


def act(sim: Sim, what: str, **body: Any) -> Any:
    status, answer = call(sim, "POST", f"/_sim/act/{what}", body)
    assert status in (200, 201), (what, status, answer)
    return answer


def wait(sim: Sim) -> None:
    status, answer = call(sim, "POST", "/_sim/deliveries/wait", {"timeout": 10})
    assert (status, answer) == (200, {"idle": True, "pending": 0})


def deliveries(sim: Sim) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = call(sim, "GET", "/_sim/deliveries")[1]["deliveries"]
    return found


def hooked(start_sim: StartSim, start_server: StartServer, **receiver: Any) -> tuple[Sim, Receiver]:
    """A simulator that posts signed webhooks to a fresh receiver (configured at runtime, as tests do)."""
    rec = start_receiver(start_server, **receiver)
    sim = start_sim(secondary_limits=False)
    assert call(sim, "POST", "/_sim/webhooks", {"url": rec.url, "secret": SECRET}) == (
        200,
        {"url": rec.url, "secret_set": True},
    )
    return sim, rec


def assert_signed(r: Received, secret: str = SECRET) -> None:
    """What a receiver checks (Prow's hook: constant-time HMAC-SHA256 of the raw body)."""
    want256 = "sha256=" + hmac.new(secret.encode(), r.body, hashlib.sha256).hexdigest()
    want1 = "sha1=" + hmac.new(secret.encode(), r.body, hashlib.sha1).hexdigest()
    assert hmac.compare_digest(r.headers["X-Hub-Signature-256"], want256)
    assert hmac.compare_digest(r.headers["X-Hub-Signature"], want1)
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["User-Agent"].startswith("GitHub-Hookshot/")
    assert len(r.headers["X-GitHub-Delivery"]) == 36  # a uuid4


def test_rest_writes_emit_signed_github_shaped_events(start_sim: StartSim, start_server: StartServer) -> None:
    sim, rec = hooked(start_sim, start_server)
    opened = act(sim, "pull", **{"as": "erin", "repo": "org0/repo0", "title": "Add a", "files": {"a.py": "a\n"}})
    n, head = opened["number"], opened["head_sha"]
    steps: list[tuple[str, str, Any, str]] = [
        ("POST", f"{REPO}/issues", {"title": "Bug", "body": "it breaks", "labels": ["kind/bug"]}, "sim_bob"),
        ("POST", f"{REPO}/issues/{n}/labels", {"labels": ["lgtm"]}, "sim_dave"),
        ("DELETE", f"{REPO}/issues/{n}/labels/lgtm", None, "sim_dave"),
        ("POST", f"{REPO}/issues/{n}/assignees", {"assignees": ["carol"]}, "sim_bob"),
        ("DELETE", f"{REPO}/issues/{n}/assignees", {"assignees": ["carol"]}, "sim_bob"),
        ("POST", f"{REPO}/pulls/{n}/requested_reviewers", {"reviewers": ["carol", "dave"]}, "sim_bob"),
        ("DELETE", f"{REPO}/pulls/{n}/requested_reviewers", {"reviewers": ["dave"]}, "sim_bob"),
        ("POST", f"{REPO}/issues/{n}/comments", {"body": "/lgtm"}, "sim_carol"),
        ("POST", f"{REPO}/pulls/{n}/reviews", {"event": "REQUEST_CHANGES", "body": "no"}, "sim_carol"),
        ("POST", f"{REPO}/statuses/{head}", {"state": "success", "context": "ci/unit", "target_url": "http://x/1"}, "sim_bob"),
        ("PATCH", f"{REPO}/pulls/{n}", {"title": "Add a.py", "state": "closed"}, "sim_erin"),
        ("PATCH", f"{REPO}/pulls/{n}", {"state": "open"}, "sim_erin"),
    ]  # fmt: skip
    for method, path, body, token in steps:
        status, answer = call(sim, method, path, body, token)
        assert status in (200, 201), (method, path, answer)
    comment_id = call(sim, "GET", f"{REPO}/issues/{n}/comments")[1][-1]["id"]
    assert call(sim, "PATCH", f"{REPO}/issues/comments/{comment_id}", {"body": "/hold"}, "sim_carol")[0] == 200
    assert call(sim, "DELETE", f"{REPO}/issues/comments/{comment_id}", None, "sim_carol")[0] == 204
    wait(sim)
    got = rec.received()
    assert [r.kind for r in got] == [
        ("push", None),
        ("pull_request", "opened"),
        ("issues", "opened"),
        ("issues", "labeled"),
        ("pull_request", "labeled"),
        ("pull_request", "unlabeled"),
        ("pull_request", "assigned"),
        ("pull_request", "unassigned"),
        ("pull_request", "review_requested"),
        ("pull_request", "review_requested"),
        ("pull_request", "review_request_removed"),
        ("issue_comment", "created"),
        ("pull_request_review", "submitted"),
        ("status", None),
        ("pull_request", "edited"),
        ("pull_request", "closed"),
        ("pull_request", "reopened"),
        ("issue_comment", "edited"),
        ("issue_comment", "deleted"),
    ]
    for r in got:
        assert_signed(r)
        p = r.payload
        assert p["repository"]["full_name"] == "org0/repo0" and "permissions" not in p["repository"]
        assert p["organization"]["login"] == "org0"
        assert p["installation"]["id"] == 2001  # sim-app's installation on org0, as an app's webhooks carry
        assert r.headers["X-GitHub-Hook-Installation-Target-ID"] == str(p["repository"]["id"])
    assert len({r.headers["X-GitHub-Delivery"] for r in got}) == len(got)
    payloads = [r.payload for r in got]
    senders = [p["sender"]["login"] for p in payloads]
    assert senders[:3] == ["erin", "erin", "bob"] and senders[-2:] == ["carol", "carol"]
    opened_pr = payloads[1]
    assert (opened_pr["number"], opened_pr["pull_request"]["head"]["sha"]) == (n, head)
    assert opened_pr["pull_request"]["user"]["login"] == "erin" and opened_pr["pull_request"]["merged"] is False
    issue = payloads[2]["issue"]
    assert (issue["title"], issue["user"]["login"], "pull_request" in issue) == ("Bug", "bob", False)
    assert payloads[3]["label"]["name"] == "kind/bug"
    assert payloads[4]["label"]["name"] == "lgtm" and payloads[4]["sender"]["login"] == "dave"
    assert [lab["name"] for lab in payloads[4]["pull_request"]["labels"]] == ["lgtm"]
    assert payloads[5]["label"]["name"] == "lgtm" and payloads[5]["pull_request"]["labels"] == []
    assert payloads[6]["assignee"]["login"] == "carol" and payloads[7]["assignee"]["login"] == "carol"
    assert [payloads[i]["requested_reviewer"]["login"] for i in (8, 9, 10)] == ["carol", "dave", "dave"]
    comment = payloads[11]
    assert comment["comment"]["body"] == "/lgtm" and comment["comment"]["user"]["login"] == "carol"
    assert comment["issue"]["number"] == n and comment["issue"]["pull_request"]["url"].endswith(f"/pulls/{n}")
    review = payloads[12]
    assert (review["review"]["state"], review["review"]["user"]["login"]) == ("changes_requested", "carol")
    assert (review["review"]["commit_id"], review["pull_request"]["number"]) == (head, n)
    delivered = payloads[13]
    assert (delivered["sha"], delivered["state"], delivered["context"]) == (head, "success", "ci/unit")
    assert (delivered["target_url"], delivered["description"], delivered["name"]) == ("http://x/1", None, "org0/repo0")
    assert [b["name"] for b in delivered["branches"]] == ["erin-patch-1"]
    assert delivered["commit"]["sha"] == head
    edited = payloads[14]
    assert edited["changes"] == {"title": {"from": "Add a"}} and edited["pull_request"]["title"] == "Add a.py"
    closed = payloads[15]["pull_request"]
    assert (closed["state"], closed["merged"]) == ("closed", False)
    assert payloads[16]["pull_request"]["state"] == "open"
    assert payloads[17]["changes"] == {"body": {"from": "/lgtm"}} and payloads[17]["comment"]["body"] == "/hold"
    assert payloads[18]["comment"]["id"] == comment_id


def test_push_and_merge_events(start_sim: StartSim, start_server: StartServer) -> None:
    sim, rec = hooked(start_sim, start_server)
    main = call(sim, "GET", f"{REPO}/git/refs/heads/main")[1]["object"]["sha"]
    opened = act(sim, "pull", **{"as": "carol", "repo": "org0/repo0", "title": "T", "files": {"x.txt": "x\n"}})
    n = opened["number"]
    merged = call(sim, "PUT", f"{REPO}/pulls/{n}/merge", {"sha": opened["head_sha"]}, "sim_bob")
    assert merged[0] == 200
    # A force-push of main back to where it was.
    assert call(sim, "PATCH", f"{REPO}/git/refs/heads/main", {"sha": main, "force": True}, "sim_alice")[0] == 200
    wait(sim)
    got = rec.received()
    assert [r.kind for r in got] == [
        ("push", None),
        ("pull_request", "opened"),
        ("pull_request", "closed"),
        ("push", None),
        ("push", None),
    ]
    closed = got[2].payload
    assert closed["pull_request"]["merged"] is True and closed["pull_request"]["merged_by"]["login"] == "bob"
    assert closed["pull_request"]["merge_commit_sha"] == merged[1]["sha"]
    push = got[3].payload
    assert (push["ref"], push["before"], push["after"]) == ("refs/heads/main", main, merged[1]["sha"])
    assert (push["created"], push["deleted"], push["forced"]) == (False, False, False)
    assert [c["id"] for c in push["commits"]] == [opened["head_sha"], merged[1]["sha"]]
    assert push["commits"][0]["added"] == ["x.txt"] and push["head_commit"]["id"] == merged[1]["sha"]
    assert push["pusher"] == {"name": "bob", "email": "bob@users.noreply.github.com"}
    assert push["sender"]["login"] == "bob" and isinstance(push["repository"]["pushed_at"], int)
    forced = got[4].payload
    assert (forced["before"], forced["after"], forced["forced"], forced["commits"]) == (
        merged[1]["sha"],
        main,
        True,
        [],
    )


def test_order_is_kept_and_api_does_not_wait_for_a_slow_receiver(
    start_sim: StartSim, start_server: StartServer
) -> None:
    sim, rec = hooked(start_sim, start_server, delay=0.05)
    started = time.monotonic()
    for i in range(12):
        act(sim, "comment", **{"as": "bob", "repo": "org0/repo0", "number": 2, "body": f"comment {i}"})
    assert time.monotonic() - started < 0.5  # 12 deliveries take at least 0.6 s
    assert call(sim, "POST", "/_sim/deliveries/wait", {"timeout": 0.01}) == (504, {"idle": False, "pending": 12})
    wait(sim)
    assert [r.payload["comment"]["body"] for r in rec.received()] == [f"comment {i}" for i in range(12)]
    assert [d["status"] for d in deliveries(sim)] == ["OK"] * 12


def test_receiver_down_is_recorded_and_redeliver_resends_the_same_guid(
    start_sim: StartSim, start_server: StartServer
) -> None:
    sim = start_sim()
    down = f"http://127.0.0.1:{free_port()}/hook"
    assert call(sim, "POST", "/_sim/webhooks", {"url": down, "secret": SECRET})[0] == 200
    status, made = call(sim, "POST", f"{REPO}/issues/2/comments", {"body": "hello"}, "sim_bob")
    assert status == 201 and made["body"] == "hello"
    wait(sim)
    [failed] = deliveries(sim)
    assert (failed["event"], failed["action"], failed["status_code"]) == ("issue_comment", "created", None)
    assert failed["error"].startswith("ClientConnectorError") and failed["status"] == failed["error"]
    rec = start_receiver(start_server, status=500)
    assert call(sim, "POST", "/_sim/webhooks", {"url": rec.url})[1] == {"url": rec.url, "secret_set": True}
    status, again = call(sim, "POST", f"/_sim/deliveries/{failed['id']}/redeliver")
    assert status == 202 and (again["guid"], again["redelivery"]) == (failed["guid"], True)
    wait(sim)
    [received] = rec.received()
    assert received.headers["X-GitHub-Delivery"] == failed["guid"]
    assert_signed(received)
    assert received.payload["comment"]["id"] == made["id"]
    logged = deliveries(sim)
    assert [(d["id"], d["status"], d["status_code"]) for d in logged] == [
        (failed["id"], failed["error"], None),
        (again["id"], "Invalid HTTP Response: 500", 500),
    ]
    detail = call(sim, "GET", f"/_sim/deliveries/{failed['guid']}")[1]  # by guid: the latest
    assert detail["id"] == again["id"] and detail["request"]["payload"] == received.payload
    assert detail["request"]["headers"]["X-Hub-Signature-256"] == received.headers["X-Hub-Signature-256"]
    assert call(sim, "POST", "/_sim/deliveries/999/redeliver")[0] == 404
    assert call(sim, "DELETE", "/_sim/deliveries")[0] == 200 and deliveries(sim) == []


def test_configured_by_flags_unsigned_without_a_secret_and_silent_without_a_url(
    start_sim: StartSim, start_server: StartServer
) -> None:
    args = parser().parse_args(["--webhook-url", "http://127.0.0.1:1/hook", "--webhook-secret", "s"])
    assert config_from(args) == SimConfig(webhook_url="http://127.0.0.1:1/hook", webhook_secret="s")
    rec = start_receiver(start_server)
    sim = start_sim(webhook_url=rec.url)
    assert call(sim, "GET", "/_sim/webhooks")[1] == {"url": rec.url, "secret_set": False}
    act(sim, "comment", **{"as": "bob", "repo": "org0/repo0", "number": 9, "body": "on an issue"})
    wait(sim)
    [r] = rec.received()
    assert "X-Hub-Signature-256" not in r.headers and "X-Hub-Signature" not in r.headers
    assert r.kind == ("issue_comment", "created") and "pull_request" not in r.payload["issue"]
    assert call(sim, "POST", "/_sim/webhooks", {"url": None})[1] == {"url": None, "secret_set": False}
    act(sim, "comment", **{"as": "bob", "repo": "org0/repo0", "number": 9, "body": "unheard"})
    wait(sim)
    assert len(rec.received()) == 1 and len(deliveries(sim)) == 1
    assert call(sim, "POST", "/_sim/webhooks", {"url": "ftp://x"})[0] == 422


def test_a_bot_token_that_writes_is_the_sender(start_sim: StartSim, start_server: StartServer) -> None:
    sim, rec = hooked(start_sim, start_server)
    status, made = call(sim, "POST", f"{REPO}/issues/2/comments", {"body": "beep"}, "some-random-token")
    assert status == 201 and made["user"]["login"].startswith("bot-")
    wait(sim)
    [r] = rec.received()
    assert r.payload["sender"]["login"] == made["user"]["login"] == r.payload["comment"]["user"]["login"]
