"""Pull requests: list, get, create, update, files, commits, reviews, reviewers and merge."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ghsim import render_git, render_issues
from ghsim.models import Issue, Permission
from ghsim.replies import ApiError, int_param, json_body, paged, reply, repo_for, state, urls, viewer
from ghsim.routes_issues import apply_issue_update
from ghsim.routes_repos import repo_json
from ghsim.store import RepoStore

routes = web.RouteTableDef()
PULL = "/repos/{owner}/{repo}/pulls/{number}"


def pull_json(request: web.Request, repo: RepoStore, issue: Issue, full: bool) -> dict[str, Any]:
    sim, who = state(request), viewer(request)
    role = sim.data.permission(repo, who.login, who.seeded)
    return render_issues.pull(urls(request), sim.data, repo, issue, repo_json(request, repo, role), full)


@routes.get("/repos/{owner}/{repo}/pulls")
async def list_pulls(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    wanted = request.query.get("state", "open")
    pulls = [p for p in repo.pulls() if wanted == "all" or p.state == wanted]
    if "base" in request.query:
        pulls = [p for p in pulls if p.pull is not None and p.pull.base_ref == request.query["base"]]
    if "head" in request.query:
        head = request.query["head"].partition(":")[2] or request.query["head"]
        pulls = [p for p in pulls if p.pull is not None and p.pull.head_ref == head]
    pulls.sort(key=lambda p: p.number, reverse=request.query.get("direction", "desc") == "desc")
    return paged(request, [pull_json(request, repo, p, full=False) for p in pulls])


@routes.get(PULL)
async def get_pull(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    issue = state(request).data.pull(repo, int_param(request, "number"))
    return reply(pull_json(request, repo, issue, full=True), last_modified=issue.updated_at)


@routes.patch(PULL)
async def update_pull(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    state(request).data.pull(repo, int_param(request, "number"))
    return await apply_issue_update(request)


@routes.post("/repos/{owner}/{repo}/pulls")
async def create_pull(request: web.Request) -> web.Response:
    repo, _ = repo_for(request, Permission.WRITE)
    data, who = state(request).data, viewer(request)
    body = await json_body(request)
    head = str(body.get("head", "")).rpartition(":")[2]
    base = str(body.get("base", repo.info.default_branch))
    if head not in repo.branches or base not in repo.branches or not body.get("title"):
        raise ApiError(422, "Validation Failed", {"errors": [{"resource": "PullRequest", "code": "invalid"}]})
    title, text, draft = str(body["title"]), str(body.get("body") or ""), bool(body.get("draft", False))
    made = data.open_pull(repo, who.login or "", title, text, head, base, draft)
    return reply(pull_json(request, repo, made, full=True), status=201)


@routes.get(PULL + "/files")
async def pull_files(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    issue = state(request).data.pull(repo, int_param(request, "number"))
    return paged(request, render_issues.changed_files(urls(request), repo, issue))


@routes.get(PULL + "/commits")
async def pull_commits(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    data = state(request).data
    issue = data.pull(repo, int_param(request, "number"))
    u = urls(request)
    commits = [repo.commits[sha] for sha in render_issues.pull_commits(repo, issue)]
    return paged(request, [render_git.commit(u, repo, c, data.users.get(c.author)) for c in commits])


@routes.get(PULL + "/reviews")
async def list_reviews(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    data = state(request).data
    number = int_param(request, "number")
    data.pull(repo, number)
    u = urls(request)
    return paged(request, [render_issues.review(u, data, repo, r) for r in repo.reviews.get(number, [])])


@routes.post(PULL + "/reviews")
async def create_review(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    data, who = state(request).data, viewer(request)
    if who.login is None:
        raise ApiError(401, "Requires authentication")
    body = await json_body(request)
    event = str(body.get("event", "COMMENT")).upper()
    number = int_param(request, "number")
    review_state = review_state_for(event, who.login, data.pull(repo, number))
    made = data.add_review(repo, number, who.login, review_state, str(body.get("body") or ""))
    return reply(render_issues.review(urls(request), data, repo, made))


def review_state_for(event: str, reviewer: str, pull: Issue) -> str:
    """The stored state of a review `event`; GitHub refuses approving or requesting changes on your own PR."""
    review_state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(event)
    if review_state is None:
        raise ApiError(422, "Unprocessable Entity")
    if review_state != "COMMENTED" and reviewer == pull.user:
        verb = "approve" if review_state == "APPROVED" else "request changes on"
        raise ApiError(422, "Unprocessable Entity", {"errors": [f"Can not {verb} your own pull request"]})
    return review_state


@routes.post(PULL + "/requested_reviewers")
@routes.delete(PULL + "/requested_reviewers")
async def request_reviewers(request: web.Request) -> web.Response:
    repo, _ = repo_for(request, Permission.TRIAGE)
    data = state(request).data
    number = int_param(request, "number")
    issue = data.pull(repo, number)
    assert issue.pull is not None
    body = await json_body(request)
    named = [str(r) for r in body.get("reviewers", [])]
    current = list(issue.pull.requested_reviewers)
    wanted = current + named if request.method == "POST" else [r for r in current if r not in named]
    updated = data.set_requested_reviewers(repo, number, wanted, viewer(request).login or "")
    return reply(pull_json(request, repo, updated, full=False), status=201 if request.method == "POST" else 200)


@routes.put(PULL + "/merge")
async def merge(request: web.Request) -> web.Response:
    repo, _ = repo_for(request, Permission.WRITE)
    data, who = state(request).data, viewer(request)
    body = await json_body(request)
    sha = body.get("sha")
    title = body.get("commit_title")
    made = data.merge(
        repo,
        int_param(request, "number"),
        who.login or "",
        None if sha is None else str(sha),
        None if title is None else str(title),
    )
    return reply({"sha": made.sha, "merged": True, "message": "Pull Request successfully merged"})
