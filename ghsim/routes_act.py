"""The webhook control surface: `/_sim/webhooks`, `/_sim/deliveries` and acting as a user under `/_sim/act/`.

Acts go through the same store operations as REST writes, so they change the same data and emit the same
webhooks. `"as"` names the actor; an unknown login becomes a new user (token `sim_<login>`) with GitHub's
default rights (read on public repositories). Each act checks GitHub's rule for its actor: read to open, comment
and review, triage for labels and assignees, write to push to a branch (a PR's author may push to its head) and
to merge.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import hdrs, web

from ghsim.models import Permission, User
from ghsim.render import HTML
from ghsim.replies import ApiError, api_base, error_body, json_body, reply, state, viewer
from ghsim.routes_pulls import review_state_for
from ghsim.state import STATE
from ghsim.store import ZERO_SHA, Change, Dataset, RepoStore, StoreError
from ghsim.webhooks import API_BASE, TIMEOUT_S, delivery_json

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def install(app: web.Application) -> None:
    """Wire webhooks into a new simulator app: routes, the request-context middleware, the sender's lifetime."""
    sim = app[STATE]
    sim.hooks.url, sim.hooks.secret = sim.config.webhook_url, sim.config.webhook_secret

    def announce(change: Change) -> None:
        owner = change.repo.info.owner.lower()
        installed = (i.id for i in sim.apps.installations.values() if i.account.lower() == owner)
        sim.hooks.emit(sim.data, change, next(installed, None))

    sim.data.listener = announce
    app.router.add_routes(routes)
    app.middlewares.append(context)
    app.cleanup_ctx.append(_sender)


async def _sender(app: web.Application) -> AsyncIterator[None]:
    hooks = app[STATE].hooks
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session:
        task = asyncio.create_task(hooks.run(session), name="ghsim-webhook-sender")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@web.middleware
async def context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give payloads the request's API base; make a repository writer a known user; GitHub-shaped /_sim/ errors.

    A token the simulator accepts without a seeded user (a bot) becomes a user when it writes, so the comments
    and events it causes show it as their `user` and `sender`.
    """
    sim = request.app[STATE]
    base = api_base(request)
    sim.hooks.base = base
    reset = API_BASE.set(base)
    try:
        who = viewer(request)
        if request.method not in (hdrs.METH_GET, hdrs.METH_HEAD) and who.user and request.path.startswith("/repos/"):
            sim.data.users.setdefault(who.user.login, who.user)
        return await handler(request)
    except (ApiError, StoreError) as exc:
        if not request.path.startswith("/_sim/"):
            raise
        extra = exc.extra if isinstance(exc, ApiError) else None
        return error_body(exc.status, exc.message, extra)
    finally:
        API_BASE.reset(reset)


# --- webhook configuration and deliveries -----------------------------------------------------------------------


def _hook_json(request: web.Request) -> dict[str, Any]:
    hooks = state(request).hooks
    return {"url": hooks.url, "secret_set": bool(hooks.secret)}


@routes.get("/_sim/webhooks")
async def get_webhooks(request: web.Request) -> web.Response:
    return reply(_hook_json(request))


@routes.post("/_sim/webhooks")
async def set_webhooks(request: web.Request) -> web.Response:
    body = await json_body(request)
    hooks = state(request).hooks
    for key in ("url", "secret"):
        if key in body and body[key] is not None and not isinstance(body[key], str):
            raise ApiError(422, f'"{key}" must be a string or null')
    url = body.get("url", hooks.url)
    if url and not url.startswith(("http://", "https://")):
        raise ApiError(422, '"url" must be an http:// or https:// URL')
    hooks.url = url or None
    hooks.secret = body.get("secret", hooks.secret) or None
    return reply(_hook_json(request))


@routes.get("/_sim/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    q = request.query
    found = [
        d.summary()
        for d in state(request).hooks.log
        if q.get("event", d.event) == d.event and q.get("action", d.action) == d.action
    ]
    return reply({"deliveries": found})


@routes.delete("/_sim/deliveries")
async def clear_deliveries(request: web.Request) -> web.Response:
    state(request).hooks.log.clear()
    return reply({"ok": True})


@routes.post("/_sim/deliveries/wait")
async def wait_for_deliveries(request: web.Request) -> web.Response:
    body = await json_body(request)
    try:
        timeout = float(body.get("timeout", request.query.get("timeout", 10)))
    except (TypeError, ValueError) as exc:
        raise ApiError(422, '"timeout" must be a number of seconds') from exc
    hooks = state(request).hooks
    try:
        async with asyncio.timeout(timeout):
            await hooks.idle()
        idle = True
    except TimeoutError:
        idle = False
    return reply({"idle": idle, "pending": hooks.pending}, status=200 if idle else 504)


@routes.get("/_sim/deliveries/{id}")
async def get_delivery(request: web.Request) -> web.Response:
    found = state(request).hooks.find(request.match_info["id"])
    if found is None:
        raise ApiError(404, "Not Found")
    return reply(delivery_json(found))


@routes.post("/_sim/deliveries/{id}/redeliver")
async def redeliver(request: web.Request) -> web.Response:
    hooks = state(request).hooks
    found = hooks.find(request.match_info["id"])
    if found is None:
        raise ApiError(404, "Not Found")
    return reply(hooks.redeliver(found).summary(), status=202)


# --- acting as a user -------------------------------------------------------------------------------------------


def _known(data: Dataset, login: str) -> User:
    """The user `login`, created on first use with a stable id."""
    if login not in data.users:
        ident = 60_000_000 + int(hashlib.sha256(login.encode()).hexdigest()[:6], 16)
        data.users[login] = User(login, ident, type="Bot" if login.endswith("[bot]") else "User", created_at=data.now())
    return data.users[login]


async def _act(request: web.Request, need: Permission = Permission.READ) -> tuple[dict[str, Any], RepoStore, str]:
    """The request body, the repository and the actor, who must have `need` on it."""
    body = await json_body(request)
    data = state(request).data
    login = body.get("as")
    if not isinstance(login, str) or not login:
        raise ApiError(422, '"as" (the login of the acting user) is required')
    _known(data, login)
    owner, _, name = str(body.get("repo", "")).partition("/")
    repo = data.repo(owner, name)
    role = data.permission(repo, login, seeded=True) if repo else Permission.NONE
    if repo is None or not role.at_least(Permission.READ):
        raise ApiError(404, f"Repository {body.get('repo')!r} not found for {login}")
    if not role.at_least(need):
        raise ApiError(403, f"{login} needs {need.value} access to {repo.info.full_name} (has {role.value})")
    return body, repo, login


def _role(request: web.Request, repo: RepoStore, login: str) -> Permission:
    return state(request).data.permission(repo, login, seeded=True)


def _number(body: dict[str, Any]) -> int:
    try:
        return int(body["number"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ApiError(422, '"number" (the issue or pull request number) is required') from exc


def _text(body: dict[str, Any], key: str, required: bool = False) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ApiError(422, f'"{key}" must be a {"non-empty " if required else ""}string')
    return value


def _names(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(422, f'"{key}" must be a list of strings')
    return value


def _files(body: dict[str, Any]) -> dict[str, bytes | None]:
    raw = body.get("files")
    if not isinstance(raw, dict) or not raw:
        raise ApiError(422, '"files" must be a non-empty object of path -> content (null deletes the file)')
    files: dict[str, bytes | None] = {}
    for path, content in raw.items():
        if not path.strip("/") or (content is not None and not isinstance(content, str)):
            raise ApiError(422, f"bad file {path!r}: contents are strings, null deletes")
        files[path.strip("/")] = None if content is None else content.encode()
    return files


def _may_edit(request: web.Request, repo: RepoStore, login: str, author: str) -> None:
    """Closing and reopening: the author or triage."""
    if login != author and not _role(request, repo, login).at_least(Permission.TRIAGE):
        raise ApiError(403, f"{login} needs triage access to {repo.info.full_name} or to be the author")


def _pull_urls(request: web.Request, repo: RepoStore, number: int) -> dict[str, str]:
    return {
        "url": f"{api_base(request)}/repos/{repo.info.full_name}/pulls/{number}",
        "html_url": f"{HTML}/{repo.info.full_name}/pull/{number}",
    }


@routes.post("/_sim/act/pull")
async def act_open_pull(request: web.Request) -> web.Response:
    """Commit `files` on a new head branch on top of `base` and open a pull request from it."""
    body, repo, login = await _act(request)
    data = state(request).data
    files, title, text = _files(body), _text(body, "title", required=True), _text(body, "body")
    base = _text(body, "base") or repo.info.default_branch
    if base not in repo.branches:
        raise ApiError(422, f"No branch {base!r} in {repo.info.full_name}")
    head = _text(body, "head") or _free_branch(repo, login)
    if head in repo.branches:
        raise ApiError(422, f"Branch {head!r} already exists; push to it with /_sim/act/push")
    made = data.commit(repo, (repo.branches[base],), files, login, _text(body, "message") or title)
    data.set_ref(repo, head, made.sha, pusher=login)
    pull = data.open_pull(repo, login, title, text, head, base, bool(body.get("draft", False)))
    assert pull.pull is not None
    answer = {"number": pull.number, "head": head, "head_sha": made.sha, "base": base, "base_sha": pull.pull.base_sha}
    return reply(answer | _pull_urls(request, repo, pull.number), status=201)


def _free_branch(repo: RepoStore, login: str) -> str:
    """GitHub's web-editor branch name: `<login>-patch-<n>`."""
    return next(b for b in (f"{login}-patch-{k}" for k in itertools.count(1)) if b not in repo.branches)


@routes.post("/_sim/act/push")
async def act_push(request: web.Request) -> web.Response:
    """Commit `files` on a PR's head (`number`) or on a `branch` (created from `from`, default branch, if new)."""
    body, repo, login = await _act(request)
    data = state(request).data
    files = _files(body)
    writer = _role(request, repo, login).at_least(Permission.WRITE)
    if "number" in body:
        pull = data.pull(repo, _number(body))
        assert pull.pull is not None
        branch, allowed = pull.pull.head_ref, writer or pull.user == login
    else:
        branch = _text(body, "branch", required=True)
        own = any(p.user == login and p.pull and p.pull.head_ref == branch for p in repo.pulls() if p.state == "open")
        allowed = writer or own
    if not allowed:
        raise ApiError(403, f"{login} needs write access to {repo.info.full_name} to push to {branch!r}")
    before = repo.branches.get(branch)
    start = before or repo.branches.get(_text(body, "from") or repo.info.default_branch)
    if start is None:
        raise ApiError(422, f"No branch to start {branch!r} from")
    made = data.commit(repo, (start,), files, login, _text(body, "message") or "Update files")
    data.set_ref(repo, branch, made.sha, pusher=login)
    return reply({"sha": made.sha, "before": before or ZERO_SHA, "branch": branch}, status=201)


@routes.post("/_sim/act/issue")
async def act_open_issue(request: web.Request) -> web.Response:
    """Open an issue; `labels` are applied only when the actor has triage, as on GitHub."""
    body, repo, login = await _act(request)
    labels = _names(body, "labels") if _role(request, repo, login).at_least(Permission.TRIAGE) else []
    made = state(request).data.open_issue(repo, login, _text(body, "title", True), _text(body, "body"), labels)
    return reply({"number": made.number}, status=201)


@routes.post("/_sim/act/comment")
async def act_comment(request: web.Request) -> web.Response:
    body, repo, login = await _act(request)
    made = state(request).data.add_comment(repo, _number(body), login, _text(body, "body", required=True))
    url = f"{HTML}/{repo.info.full_name}/issues/{made.issue}#issuecomment-{made.id}"
    return reply({"id": made.id, "html_url": url}, status=201)


@routes.post("/_sim/act/review")
async def act_review(request: web.Request) -> web.Response:
    """Submit a review: `state` APPROVE, REQUEST_CHANGES or COMMENT (the REST API's `event`)."""
    body, repo, login = await _act(request)
    data = state(request).data
    number = _number(body)
    review_state = review_state_for(_text(body, "state", True).upper(), login, data.pull(repo, number))
    made = data.add_review(repo, number, login, review_state, _text(body, "body"))
    return reply({"id": made.id, "state": made.state, "commit_id": made.commit_id})


@routes.post("/_sim/act/labels")
async def act_labels(request: web.Request) -> web.Response:
    body, repo, login = await _act(request, Permission.TRIAGE)
    data = state(request).data
    number = _number(body)
    add, remove = _names(body, "add"), {n.lower() for n in _names(body, "remove")}
    names = [n for n in list(data.issue(repo, number).labels) + add if n.lower() not in remove]
    updated = data.set_labels(repo, number, names, login)
    return reply({"labels": list(updated.labels)})


@routes.post("/_sim/act/assign")
async def act_assign(request: web.Request) -> web.Response:
    body, repo, login = await _act(request, Permission.TRIAGE)
    data = state(request).data
    number = _number(body)
    add, remove = _names(body, "add"), set(_names(body, "remove"))
    for named in add:
        _known(data, named)
    wanted = [a for a in list(data.issue(repo, number).assignees) + add if a not in remove]
    updated = data.set_assignees(repo, number, wanted, login)
    return reply({"assignees": list(updated.assignees)})


@routes.post("/_sim/act/close")
@routes.post("/_sim/act/reopen")
async def act_close_or_reopen(request: web.Request) -> web.Response:
    body, repo, login = await _act(request)
    data = state(request).data
    number = _number(body)
    _may_edit(request, repo, login, data.issue(repo, number).user)
    wanted = "closed" if request.path.endswith("/close") else "open"
    updated = data.update_issue(repo, number, login, {"state": wanted})
    return reply({"number": number, "state": updated.state})


@routes.post("/_sim/act/merge")
async def act_merge(request: web.Request) -> web.Response:
    body, repo, login = await _act(request, Permission.WRITE)
    sha, title = _text(body, "sha"), _text(body, "commit_title")
    made = state(request).data.merge(repo, _number(body), login, sha or None, title or None)
    return reply({"sha": made.sha, "merged": True, "message": "Pull Request successfully merged"})
