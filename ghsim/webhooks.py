"""Webhooks: GitHub's payload for each store `Change`, the signature headers, and the one sender that delivers them.

Payload shapes follow https://docs.github.com/webhooks/webhook-events-and-payloads and @octokit/webhooks'
payload examples; embedded objects come from the renderers the REST answers use (repositories without the
viewer's `permissions`, as in deliveries). The sender posts deliveries one at a time in the order the changes
happened, never retries (as GitHub), and keeps the last `LOG_SIZE` of them for `/_sim/deliveries`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import hdrs

from ghsim import render, render_git, render_issues
from ghsim.models import Commit, User
from ghsim.render import HTML, Json, Urls, iso
from ghsim.store import Change, Dataset, RepoStore, reachable

log = logging.getLogger(__name__)

# The API base of the request whose write is being announced (set per request by routes_act.context).
API_BASE: ContextVar[str | None] = ContextVar("ghsim_webhook_api_base", default=None)
TIMEOUT_S = 10.0  # GitHub gives a receiver 10 seconds to answer
LOG_SIZE = 2000
HOOK_ID = 1
USER_AGENT = "GitHub-Hookshot/6a2f0b1"
MAX_BRANCHES = 10  # the status event lists at most 10 branches containing the sha


# --- payloads ---------------------------------------------------------------------------------------------------


def repository(u: Urls, data: Dataset, repo: RepoStore) -> Json:
    """The repository as deliveries show it (no viewer, so no `permissions`)."""
    org = data.orgs.get(repo.info.owner)
    owner = render.org_user(org) if org else _user(data, repo.info.owner)
    open_issues = sum(1 for i in repo.issues.values() if i.state == "open")
    stats = (max(repo.updated_at, repo.pushed_at), repo.pushed_at, open_issues)
    return render.repo(u, repo.info, owner, None, stats)


def _user(data: Dataset, login: str) -> User:
    return data.users.get(login) or User(login, 0)


def _user_json(u: Urls, data: Dataset, login: str | None) -> Json | None:
    return None if login is None else render.user(u, _user(data, login))


def _changes(change: Change) -> Json:
    return {"changes": {name: {"from": old} for name, old in change.changes.items()}} if change.changes else {}


def _label(u: Urls, change: Change) -> Json:
    if change.label is None:
        return {}
    found = change.repo.labels.get(change.label)
    return {"label": render.label(u, change.repo.info.full_name, found)} if found else {}


def _pull_request(u: Urls, data: Dataset, change: Change, repo_json: Json) -> Json:
    issue = change.issue
    assert issue is not None
    body: Json = {"number": issue.number}
    if change.action == "synchronize":
        body |= {"before": change.before, "after": change.after}
    body["pull_request"] = render_issues.pull(u, data, change.repo, issue, repo_json, full=True)
    if change.action in ("assigned", "unassigned"):
        body["assignee"] = _user_json(u, data, change.user)
    if change.action in ("review_requested", "review_request_removed"):
        body["requested_reviewer"] = _user_json(u, data, change.user)
    return body | _label(u, change) | _changes(change)


def _issues(u: Urls, data: Dataset, change: Change, repo_json: Json) -> Json:
    assert change.issue is not None
    body: Json = {"issue": render_issues.issue(u, data, change.repo, change.issue)}
    if change.action in ("assigned", "unassigned"):
        body["assignee"] = _user_json(u, data, change.user)
    return body | _label(u, change) | _changes(change)


def _issue_comment(u: Urls, data: Dataset, change: Change, repo_json: Json) -> Json:
    assert change.issue is not None and change.comment is not None
    return {
        "issue": render_issues.issue(u, data, change.repo, change.issue),
        "comment": render_issues.comment(u, data, change.repo, change.comment),
    } | _changes(change)


def _pull_request_review(u: Urls, data: Dataset, change: Change, repo_json: Json) -> Json:
    assert change.issue is not None and change.review is not None
    review = render_issues.review(u, data, change.repo, change.review)
    # Deliveries carry the state in lower case ("approved"), the REST API in upper case.
    review["state"] = change.review.state.lower()
    return {"review": review, "pull_request": render_issues.pull(u, data, change.repo, change.issue, repo_json, False)}


def _status(u: Urls, data: Dataset, change: Change, repo_json: Json) -> Json:
    s = change.status
    assert s is not None
    repo = change.repo
    commit = repo.commits[s.sha]
    containing = [(n, tip) for n, tip in sorted(repo.branches.items()) if s.sha in reachable(repo, tip)]
    return {
        "id": s.id,
        "sha": s.sha,
        "name": repo.info.full_name,
        "target_url": s.target_url,
        "context": s.context,
        "description": s.description,
        "state": s.state,
        "commit": render_git.commit(u, repo, commit, data.users.get(commit.author)),
        "branches": [render_git.branch_summary(u, repo, n, tip) for n, tip in containing[:MAX_BRANCHES]],
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
    }


def _push_commit(repo: RepoStore, c: Commit) -> Json:
    parent = repo.commits[c.parents[0]].files if c.parents else {}
    ident = {"name": c.author, "email": f"{c.author}@users.noreply.github.com", "username": c.author}
    return {
        "id": c.sha,
        "tree_id": c.tree,
        "distinct": True,
        "message": c.message,
        "timestamp": iso(c.date),
        "url": f"{HTML}/{repo.info.full_name}/commit/{c.sha}",
        "author": ident,
        "committer": ident,
        "added": sorted(p for p in c.files if p not in parent),
        "removed": sorted(p for p in parent if p not in c.files),
        "modified": sorted(p for p in c.files if p in parent and parent[p] != c.files[p]),
    }


def _push(u: Urls, data: Dataset, change: Change, repo_json: Json) -> Json:
    p = change.push
    assert p is not None
    repo = change.repo
    full = repo.info.full_name
    branch = p.ref.removeprefix("refs/heads/")
    compare = (
        f"{HTML}/{full}/compare/{branch}" if p.created else f"{HTML}/{full}/compare/{p.before[:12]}...{p.after[:12]}"
    )
    head = repo.commits.get(p.after)
    return {
        "ref": p.ref,
        "before": p.before,
        "after": p.after,
        "pusher": {"name": change.sender, "email": f"{change.sender}@users.noreply.github.com"},
        "created": p.created,
        "deleted": False,
        "forced": p.forced,
        "base_ref": None,
        "compare": compare,
        "commits": [_push_commit(repo, repo.commits[sha]) for sha in p.commits],
        "head_commit": _push_commit(repo, head) if head else None,
    }


def _push_repository(repo_json: Json, repo: RepoStore) -> Json:
    """The push event's repository: unix times for created_at/pushed_at and an owner with name and email."""
    owner = repo_json["owner"] | {"name": repo_json["owner"]["login"], "email": None}
    return repo_json | {
        "owner": owner,
        "created_at": repo.info.created_at,
        "pushed_at": repo.pushed_at,
        "stargazers": 0,
        "master_branch": repo.info.default_branch,
    }


Builder = Callable[[Urls, Dataset, Change, Json], Json]
BUILDERS: dict[str, Builder] = {
    "pull_request": _pull_request,
    "issues": _issues,
    "issue_comment": _issue_comment,
    "pull_request_review": _pull_request_review,
    "status": _status,
    "push": _push,
}


def payload(u: Urls, data: Dataset, change: Change, installation: int | None = None) -> Json:
    """The body GitHub delivers for `change`: action, the event's objects, repository, organization, sender.

    `installation` (the id of the GitHub App installation covering the repository) adds the `installation`
    object an app's webhooks carry.
    """
    repo_json = repository(u, data, change.repo)
    body: Json = {} if change.action is None else {"action": change.action}
    body |= BUILDERS[change.event](u, data, change, repo_json)
    body["repository"] = _push_repository(repo_json, change.repo) if change.event == "push" else repo_json
    org = data.orgs.get(change.repo.info.owner)
    if org is not None:
        body["organization"] = render.org_summary(u, org)
    body["sender"] = render.user(u, _user(data, change.sender))
    if installation is not None:
        body["installation"] = {"id": installation, "node_id": render.node_id("Installation", installation)}
    return body


# --- signing ----------------------------------------------------------------------------------------------------


def signature_headers(secret: str | None, body: bytes) -> dict[str, str]:
    """`X-Hub-Signature-256` (HMAC-SHA256) and the legacy `X-Hub-Signature` (SHA1); none without a secret."""
    if not secret:
        return {}
    key = secret.encode()
    return {
        "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


def delivery_headers(event: str, guid: str, repository_id: int, body: bytes, secret: str | None) -> dict[str, str]:
    return {
        hdrs.CONTENT_TYPE: "application/json",
        hdrs.USER_AGENT: USER_AGENT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid,
        "X-GitHub-Hook-ID": str(HOOK_ID),
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-GitHub-Hook-Installation-Target-ID": str(repository_id),
    } | signature_headers(secret, body)


# --- deliveries -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Delivery:
    """One POST to the receiver (a redelivery is a new one with the same guid)."""

    id: int
    guid: str
    event: str
    action: str | None
    repository_id: int
    body: bytes
    created_at: float
    redelivery: bool = False
    headers: dict[str, str] = field(default_factory=dict)  # as last sent
    status_code: int | None = None
    error: str | None = None
    delivered_at: float | None = None
    duration: float | None = None

    @property
    def status(self) -> str:
        """GitHub's delivery status text ("OK", "Invalid HTTP Response: 500"), the error, or "pending"."""
        if self.error is not None:
            return self.error
        if self.status_code is None:
            return "pending"
        return "OK" if 200 <= self.status_code < 300 else f"Invalid HTTP Response: {self.status_code}"

    def summary(self) -> Json:
        return {
            "id": self.id,
            "guid": self.guid,
            "event": self.event,
            "action": self.action,
            "repository_id": self.repository_id,
            "redelivery": self.redelivery,
            "created_at": self.created_at,
            "delivered_at": self.delivered_at,
            "duration": self.duration,
            "status": self.status,
            "status_code": self.status_code,
            "error": self.error,
        }


def dumps(body: Json) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class Hooks:
    """The receiver's URL and secret, the delivery log, and the queue one sender task drains in order."""

    def __init__(self, url: str | None = None, secret: str | None = None) -> None:
        self.url = url
        self.secret = secret
        self.base = "http://127.0.0.1"  # API base for payload links outside a request; updated by each request
        self.log: deque[Delivery] = deque(maxlen=LOG_SIZE)
        self.pending = 0
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._ids = itertools.count(1)

    def emit(self, data: Dataset, change: Change, installation: int | None = None) -> None:
        """Render `change` now (the data may change again before it is sent) and queue its delivery."""
        if not self.url:
            return
        try:
            body = dumps(payload(Urls(API_BASE.get() or self.base), data, change, installation))
        except Exception:
            log.exception("webhook payload for %s.%s failed", change.event, change.action)
            return
        guid = str(uuid.uuid4())
        self._enqueue(
            Delivery(next(self._ids), guid, change.event, change.action, change.repo.info.id, body, time.time())
        )

    def find(self, key: str) -> Delivery | None:
        """A logged delivery by id, or the latest with that guid."""
        for d in reversed(self.log):
            if str(d.id) == key or d.guid == key:
                return d
        return None

    def redeliver(self, original: Delivery) -> Delivery:
        again = Delivery(
            next(self._ids),
            original.guid,
            original.event,
            original.action,
            original.repository_id,
            original.body,
            time.time(),
            redelivery=True,
        )
        self._enqueue(again)
        return again

    def _enqueue(self, delivery: Delivery) -> None:
        self.log.append(delivery)
        self.pending += 1
        self._queue.put_nowait(delivery)

    async def run(self, session: aiohttp.ClientSession) -> None:
        """The sender: deliver queued deliveries one at a time, forever."""
        while True:
            delivery = await self._queue.get()
            try:
                await self._send(session, delivery)
            finally:
                self.pending -= 1
                self._queue.task_done()

    async def _send(self, session: aiohttp.ClientSession, d: Delivery) -> None:
        started = time.monotonic()
        url = self.url
        d.headers = delivery_headers(d.event, d.guid, d.repository_id, d.body, self.secret)
        try:
            if not url:
                raise ValueError("no webhook URL is set")
            async with session.post(url, data=d.body, headers=d.headers, allow_redirects=False) as resp:
                await resp.read()
                d.status_code = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            d.error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            log.warning("webhook delivery %s (%s) to %s failed: %s", d.guid, d.event, url, d.error)
        finally:
            d.delivered_at = time.time()
            d.duration = time.monotonic() - started
        if d.status_code is not None and not 200 <= d.status_code < 300:
            log.warning("webhook delivery %s (%s) to %s answered %s", d.guid, d.event, url, d.status_code)

    async def idle(self) -> None:
        """Return once every queued delivery has been sent."""
        await self._queue.join()


def delivery_json(d: Delivery) -> dict[str, Any]:
    """A delivery with its request: the headers as last sent and the payload."""
    return d.summary() | {"request": {"headers": d.headers, "payload": json.loads(d.body)}}
