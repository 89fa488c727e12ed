"""Issues, issue comments, labels, assignees and issue search."""

from __future__ import annotations

import json
import shlex
from typing import Any

from aiohttp import hdrs, web

from ghsim import pagination, render, render_issues
from ghsim.models import Issue, Permission
from ghsim.replies import (
    ApiError,
    api_base,
    int_param,
    json_body,
    no_content,
    not_found,
    paged,
    reply,
    repo_for,
    state,
    urls,
    viewer,
)
from ghsim.store import RepoStore

routes = web.RouteTableDef()
REPO = "/repos/{owner}/{repo}"
ISSUE = REPO + "/issues/{number}"


def issue_json(request: web.Request, repo: RepoStore, issue: Issue) -> dict[str, Any]:
    return render_issues.issue(urls(request), state(request).data, repo, issue)


def _filter(issues: list[Issue], query: dict[str, str] | Any) -> list[Issue]:
    wanted_state = query.get("state", "open")
    out = [i for i in issues if wanted_state == "all" or i.state == wanted_state]
    if "labels" in query:
        need = {n.strip().lower() for n in query["labels"].split(",") if n.strip()}
        out = [i for i in out if need <= {n.lower() for n in i.labels}]
    if "assignee" in query and query["assignee"] not in ("*", "none"):
        out = [i for i in out if query["assignee"] in i.assignees]
    if "creator" in query:
        out = [i for i in out if i.user == query["creator"]]
    reverse = query.get("direction", "desc") == "desc"
    key = (lambda i: i.updated_at) if query.get("sort") == "updated" else (lambda i: i.number)
    return sorted(out, key=key, reverse=reverse)


@routes.get(REPO + "/issues")
async def list_issues(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    found = _filter(list(repo.issues.values()), request.query)
    return paged(request, [issue_json(request, repo, i) for i in found])


@routes.get(ISSUE)
async def get_issue(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    issue = state(request).data.issue(repo, int_param(request, "number"))
    return reply(issue_json(request, repo, issue), last_modified=issue.updated_at)


@routes.patch(ISSUE)
async def update_issue(request: web.Request) -> web.Response:
    return await apply_issue_update(request)


async def apply_issue_update(request: web.Request) -> web.Response:
    """PATCH an issue or pull request: title, body, state, assignees, labels."""
    repo, role = repo_for(request)
    data, who = state(request).data, viewer(request)
    number = int_param(request, "number")
    issue = data.issue(repo, number)
    if who.anonymous:
        raise ApiError(401, "Requires authentication")
    if who.login != issue.user and not role.at_least(Permission.TRIAGE):
        raise ApiError(403, "Must have triage access to repository.")
    body = await json_body(request)
    fields: dict[str, str] = {f: str(body[f] or "") for f in ("title", "body", "state") if f in body}
    assignees = [str(a) for a in body["assignees"]] if "assignees" in body else None
    labels = [str(n) for n in body["labels"]] if "labels" in body else None
    updated = data.update_issue(repo, number, who.login or "", fields, assignees, labels)
    if issue.pull is not None and request.path.split("/")[4] == "pulls":
        from ghsim.routes_pulls import pull_json

        return reply(pull_json(request, repo, updated, full=True))
    return reply(issue_json(request, repo, updated))


@routes.post(REPO + "/issues")
async def create_issue(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    data, who = state(request).data, viewer(request)
    if who.login is None:
        raise ApiError(401, "Requires authentication")
    body = await json_body(request)
    if not body.get("title"):
        raise ApiError(422, "Validation Failed", {"errors": [{"resource": "Issue", "code": "missing_field"}]})
    labels = [str(n) for n in body.get("labels") or []]
    made = data.open_issue(repo, who.login, str(body["title"]), str(body.get("body") or ""), labels)
    return reply(issue_json(request, repo, made), status=201)


# --- comments ---------------------------------------------------------------------------------------------------


@routes.get(ISSUE + "/comments")
async def list_comments(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    data = state(request).data
    number = int_param(request, "number")
    data.issue(repo, number)
    u = urls(request)
    return paged(request, [render_issues.comment(u, data, repo, c) for c in repo.comments_on(number)])


@routes.post(ISSUE + "/comments")
async def create_comment(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    who = viewer(request)
    if who.login is None:
        raise ApiError(401, "Requires authentication")
    body = await json_body(request)
    if not isinstance(body.get("body"), str):
        raise ApiError(422, 'Invalid request.\n\n"body" wasn\'t supplied.')
    data = state(request).data
    made = data.add_comment(repo, int_param(request, "number"), who.login, body["body"])
    return reply(render_issues.comment(urls(request), data, repo, made), status=201)


def _comment(request: web.Request, repo: RepoStore, need_owner: bool) -> int:
    data, who = state(request).data, viewer(request)
    cid = int_param(request, "comment_id")
    found = repo.comments.get(cid)
    if found is None:
        raise not_found()
    if (
        need_owner
        and found.user != who.login
        and not data.permission(repo, who.login, who.seeded).at_least(Permission.WRITE)
    ):
        raise ApiError(403, "Must have write access to repository.")
    return cid


@routes.get(REPO + "/issues/comments/{comment_id}")
async def get_comment(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    c = repo.comments[_comment(request, repo, need_owner=False)]
    return reply(render_issues.comment(urls(request), state(request).data, repo, c), last_modified=c.updated_at)


@routes.patch(REPO + "/issues/comments/{comment_id}")
async def edit_comment(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    cid = _comment(request, repo, need_owner=True)
    body = await json_body(request)
    data = state(request).data
    edited = data.edit_comment(repo, cid, viewer(request).login or "", str(body.get("body", "")))
    return reply(render_issues.comment(urls(request), data, repo, edited))


@routes.delete(REPO + "/issues/comments/{comment_id}")
async def delete_comment(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    cid = _comment(request, repo, need_owner=True)
    state(request).data.delete_comment(repo, cid, viewer(request).login or "")
    return no_content()


# --- labels and assignees ---------------------------------------------------------------------------------------


def _label_names(body: dict[str, Any] | list[Any]) -> list[str]:
    raw = body.get("labels", []) if isinstance(body, dict) else body
    return [str(n["name"] if isinstance(n, dict) else n) for n in raw]


@routes.get(REPO + "/labels")
async def repo_labels(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    u = urls(request)
    return paged(request, [render.label(u, repo.info.full_name, lab) for lab in repo.labels.values()])


@routes.post(REPO + "/labels")
async def create_label(request: web.Request) -> web.Response:
    repo, _ = repo_for(request, Permission.WRITE)
    body = await json_body(request)
    name = str(body.get("name", ""))
    if not name or name.lower() in {n.lower() for n in repo.labels}:
        raise ApiError(422, "Validation Failed", {"errors": [{"resource": "Label", "code": "already_exists"}]})
    made = state(request).data.ensure_label(repo, name)
    made = type(made)(made.name, made.id, str(body.get("color", "ededed")).lstrip("#"), body.get("description"))
    repo.labels[name] = made
    return reply(render.label(urls(request), repo.info.full_name, made), status=201)


def _issue_labels(request: web.Request, repo: RepoStore, issue: Issue) -> web.Response:
    u = urls(request)
    return reply([render.label(u, repo.info.full_name, repo.labels[n]) for n in issue.labels if n in repo.labels])


@routes.get(ISSUE + "/labels")
async def issue_labels(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    return _issue_labels(request, repo, state(request).data.issue(repo, int_param(request, "number")))


@routes.post(ISSUE + "/labels")
@routes.put(ISSUE + "/labels")
async def add_or_set_labels(request: web.Request) -> web.Response:
    repo, _ = repo_for(request, Permission.TRIAGE)
    data = state(request).data
    number = int_param(request, "number")
    issue = data.issue(repo, number)
    raw = json.loads(await request.read() or b"[]")
    names = _label_names(raw)
    if request.method == "POST":
        names = list(issue.labels) + names
    return _issue_labels(request, repo, data.set_labels(repo, number, names, viewer(request).login or ""))


@routes.delete(ISSUE + "/labels/{name}")
async def remove_label(request: web.Request) -> web.Response:
    repo, _ = repo_for(request, Permission.TRIAGE)
    data = state(request).data
    number = int_param(request, "number")
    issue = data.issue(repo, number)
    name = request.match_info["name"]
    if name.lower() not in {n.lower() for n in issue.labels}:
        raise ApiError(404, "Label does not exist")
    kept = [n for n in issue.labels if n.lower() != name.lower()]
    updated = data.set_labels(repo, number, kept, viewer(request).login or "")
    return _issue_labels(request, repo, updated)


@routes.post(ISSUE + "/assignees")
@routes.delete(ISSUE + "/assignees")
async def add_or_remove_assignees(request: web.Request) -> web.Response:
    repo, _ = repo_for(request, Permission.TRIAGE)
    data = state(request).data
    number = int_param(request, "number")
    issue = data.issue(repo, number)
    body = await json_body(request)
    named = [str(a) for a in body.get("assignees", [])]
    if request.method == "POST":
        wanted = list(issue.assignees) + named
    else:
        wanted = [a for a in issue.assignees if a not in named]
    updated = data.set_assignees(repo, number, wanted, viewer(request).login or "")
    return reply(issue_json(request, repo, updated), status=201 if request.method == "POST" else 200)


# --- search -----------------------------------------------------------------------------------------------------


@routes.get("/search/issues")
async def search_issues(request: web.Request) -> web.Response:
    """Supports `repo:`, `org:`, `is:pr|issue|open|closed|merged`, `label:`, `author:` qualifiers."""
    sim, who = state(request), viewer(request)
    try:
        terms = shlex.split(request.query.get("q", ""))
    except ValueError as exc:
        raise ApiError(422, "Validation Failed") from exc
    if not terms:
        raise ApiError(422, "Validation Failed", {"errors": [{"resource": "Search", "field": "q"}]})
    repos = list(sim.data.repos.values())
    found: list[tuple[RepoStore, Issue]] = []
    for repo in repos:
        if not sim.data.permission(repo, who.login, who.seeded).at_least(Permission.READ):
            continue
        for issue in repo.issues.values():
            if all(_matches(term, repo, issue) for term in terms):
                found.append((repo, issue))
    found.sort(key=lambda pair: pair[1].updated_at, reverse=True)
    page = pagination.parse(request.query)
    items = [issue_json(request, repo, i) | {"score": 1.0} for repo, i in pagination.slice_page(found, page)]
    resp = reply({"total_count": len(found), "incomplete_results": False, "items": items})
    link = pagination.link_header(api_base(request), request.path, list(request.query.items()), page, len(found))
    if link:
        resp.headers[hdrs.LINK] = link
    return resp


def _matches(term: str, repo: RepoStore, issue: Issue) -> bool:
    key, sep, value = term.partition(":")
    if not sep:
        return term.lower() in f"{issue.title} {issue.body}".lower()
    key = key.lower()
    if key == "repo":
        return repo.info.full_name.lower() == value.lower()
    if key in ("org", "user"):
        return repo.info.owner.lower() == value.lower()
    if key == "label":
        return value.lower() in {n.lower() for n in issue.labels}
    if key == "-label":
        return value.lower() not in {n.lower() for n in issue.labels}
    if key == "author":
        return issue.user == value
    if key in ("is", "type", "state"):
        checks = {
            "pr": issue.pull is not None,
            "issue": issue.pull is None,
            "open": issue.state == "open",
            "closed": issue.state == "closed",
            "merged": issue.pull is not None and issue.pull.merged,
            "unmerged": issue.pull is not None and not issue.pull.merged,
        }
        return checks.get(value.lower(), True)
    return True
