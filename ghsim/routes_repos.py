"""Repositories and their git data: branches, refs, trees, blobs, commits, statuses, contents, collaborators."""

from __future__ import annotations

from aiohttp import web

from ghsim import render, render_git
from ghsim.models import Commit, Permission, Status
from ghsim.render import Json
from ghsim.render_issues import diff_files
from ghsim.replies import (
    ApiError,
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
STATES = ("error", "failure", "pending", "success")


def repo_json(request: web.Request, repo: RepoStore, role: Permission) -> Json:
    data = state(request).data
    org = data.orgs.get(repo.info.owner)
    owner = render.org_user(org) if org else data.users[repo.info.owner]
    open_issues = sum(1 for i in repo.issues.values() if i.state == "open")
    shown_role = None if viewer(request).anonymous else role
    stats = (max(repo.updated_at, repo.pushed_at), repo.pushed_at, open_issues)
    return render.repo(urls(request), repo.info, owner, shown_role, stats)


def _commit(repo: RepoStore, ref: str) -> Commit:
    found = repo.resolve(ref)
    if found is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    return found


@routes.get(REPO)
async def get_repo(request: web.Request) -> web.Response:
    repo, role = repo_for(request)
    return reply(repo_json(request, repo, role), last_modified=max(repo.updated_at, repo.pushed_at))


@routes.get(REPO + "/branches")
async def branches(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    u = urls(request)
    return paged(request, [render_git.branch_summary(u, repo, n, s) for n, s in sorted(repo.branches.items())])


@routes.get(REPO + "/branches/{branch:.+}")
async def get_branch(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    name = request.match_info["branch"]
    if name not in repo.branches:
        raise ApiError(404, "Branch not found")
    c = repo.commits[repo.branches[name]]
    body = render_git.branch(urls(request), repo, name, c, state(request).data.users.get(c.author))
    return reply(body, last_modified=c.date)


@routes.get(REPO + "/git/refs/heads/{branch:.+}")
@routes.get(REPO + "/git/ref/heads/{branch:.+}")
async def get_ref(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    name = request.match_info["branch"]
    if name not in repo.branches:
        raise not_found()
    return reply(render_git.ref(urls(request), repo, name, repo.branches[name]))


@routes.get(REPO + "/git/refs/heads")
@routes.get(REPO + "/git/refs")
async def list_refs(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    u = urls(request)
    return paged(request, [render_git.ref(u, repo, n, s) for n, s in sorted(repo.branches.items())])


@routes.post(REPO + "/git/refs")
async def create_ref(request: web.Request) -> web.Response:
    repo, _ = repo_for(request, Permission.WRITE)
    body = await json_body(request)
    ref, sha = str(body.get("ref", "")), str(body.get("sha", ""))
    if not ref.startswith("refs/heads/") or ref.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/heads/'")
    name = ref.removeprefix("refs/heads/")
    if name in repo.branches:
        raise ApiError(422, "Reference already exists")
    state(request).data.set_ref(repo, name, sha, pusher=viewer(request).login or "")
    return reply(render_git.ref(urls(request), repo, name, sha), status=201)


@routes.patch(REPO + "/git/refs/heads/{branch:.+}")
async def update_ref(request: web.Request) -> web.Response:
    repo, _ = repo_for(request, Permission.WRITE)
    body = await json_body(request)
    name = request.match_info["branch"]
    if name not in repo.branches:
        raise ApiError(422, "Reference does not exist")
    sha = str(body.get("sha", ""))
    force = bool(body.get("force", False))
    state(request).data.set_ref(repo, name, sha, force, pusher=viewer(request).login or "")
    return reply(render_git.ref(urls(request), repo, name, sha))


@routes.get(REPO + "/git/trees/{sha}")
async def get_tree(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    sha = request.match_info["sha"]
    found = repo.resolve(sha)
    tree_sha = found.tree if found else sha
    if tree_sha not in repo.trees:
        raise not_found()
    recursive = request.query.get("recursive", "") not in ("", "0", "false")
    return reply(render_git.tree(urls(request), repo, tree_sha, recursive))


@routes.get(REPO + "/git/blobs/{sha}")
async def get_blob(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    if request.match_info["sha"] not in repo.blobs:
        raise not_found()
    return reply(render_git.blob(urls(request), repo, request.match_info["sha"]))


@routes.get(REPO + "/git/commits/{sha}")
async def get_git_commit(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    c = repo.commits.get(request.match_info["sha"])
    if c is None:
        raise not_found()
    return reply(render_git.git_commit(urls(request), repo, c), last_modified=c.date)


@routes.get(REPO + "/commits")
async def list_commits(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    c: Commit | None = _commit(repo, request.query.get("sha", repo.info.default_branch))
    users = state(request).data.users
    history: list[Json] = []
    while c is not None and len(history) < 500:
        history.append(render_git.commit(urls(request), repo, c, users.get(c.author)))
        c = repo.commits.get(c.parents[0]) if c.parents else None
    return paged(request, history)


@routes.get(REPO + "/commits/{ref}")
async def get_commit(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    c = _commit(repo, request.match_info["ref"])
    parent = repo.commits[c.parents[0]].files if c.parents else {}
    u = urls(request)
    files = diff_files(u, repo, parent, c.files, c.sha)
    body = render_git.commit(u, repo, c, state(request).data.users.get(c.author), files)
    return reply(body, last_modified=c.date)


def _statuses(repo: RepoStore, ref: str) -> tuple[str, list[Status]]:
    c = _commit(repo, ref)
    return c.sha, repo.statuses.get(c.sha, [])


@routes.get(REPO + "/commits/{ref}/status")
async def combined_status(request: web.Request) -> web.Response:
    repo, role = repo_for(request)
    sha, all_statuses = _statuses(repo, request.match_info["ref"])
    latest = render_git.latest_per_context(all_statuses)
    users = state(request).data.users
    u = urls(request)
    shown = [render_git.status(u, repo, s, users.get(s.creator)) for s in latest]
    for item in shown:
        item.pop("creator")
    body = render_git.combined_status(
        u, repo, sha, shown, render_git.combined_state(latest), repo_json(request, repo, role)
    )
    return reply(body)


@routes.get(REPO + "/commits/{ref}/statuses")
@routes.get(REPO + "/statuses/{ref}")
async def list_statuses(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    _, all_statuses = _statuses(repo, request.match_info["ref"])
    users = state(request).data.users
    u = urls(request)
    return paged(request, [render_git.status(u, repo, s, users.get(s.creator)) for s in reversed(all_statuses)])


@routes.post(REPO + "/statuses/{sha}")
async def create_status(request: web.Request) -> web.Response:
    repo, _ = repo_for(request, Permission.WRITE)
    body = await json_body(request)
    sha = request.match_info["sha"]
    if sha not in repo.commits:
        raise ApiError(422, f"No commit found for SHA: {sha}")
    status_state = body.get("state")
    if status_state not in STATES:
        raise ApiError(422, "Validation Failed", {"errors": [{"resource": "Status", "field": "state"}]})
    desc, target = body.get("description"), body.get("target_url")
    made = state(request).data.add_status(
        repo,
        sha,
        str(status_state),
        str(body.get("context") or "default"),
        None if desc is None else str(desc),
        None if target is None else str(target),
        viewer(request).login or "",
    )
    creator = viewer(request).user
    return reply(render_git.status(urls(request), repo, made, creator), status=201)


@routes.get(REPO + "/contents/{path:.*}")
@routes.get(REPO + "/contents")
async def get_contents(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    ref = request.query.get("ref", repo.info.default_branch)
    c = repo.resolve(ref)
    if c is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    path = request.match_info.get("path", "").strip("/")
    u = urls(request)
    if path in c.files:
        return reply(render_git.content_file(u, repo, path, c.files[path], ref))
    prefix = f"{path}/" if path else ""
    entries: dict[str, Json] = {}
    for file_path, sha in sorted(c.files.items()):
        if not file_path.startswith(prefix):
            continue
        head, sep, _ = file_path[len(prefix) :].partition("/")
        if sep:
            entries.setdefault(head, render_git.content_dir_entry(u, repo, prefix + head, c.tree, "dir", ref))
        else:
            entries[head] = render_git.content_dir_entry(u, repo, file_path, sha, "file", ref)
    if not entries:
        raise not_found()
    return reply(sorted(entries.values(), key=lambda e: e["name"]))


@routes.get(REPO + "/collaborators")
async def collaborators(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    data, u = state(request).data, urls(request)
    out = []
    for login in sorted(_collaborator_roles(request, repo)):
        role = _collaborator_roles(request, repo)[login]
        out.append(render.user(u, data.users[login]) | {"permissions": render.permissions(role), "role_name": role})
    return paged(request, out)


def _collaborator_roles(request: web.Request, repo: RepoStore) -> dict[str, Permission]:
    data = state(request).data
    roles = dict(repo.info.collaborators)
    org = data.orgs.get(repo.info.owner)
    for admin in org.admins if org else ():
        roles[admin] = Permission.ADMIN
    return roles


@routes.get(REPO + "/collaborators/{login}")
async def is_collaborator(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    if request.match_info["login"] in _collaborator_roles(request, repo):
        return no_content()
    raise not_found()


@routes.get(REPO + "/collaborators/{login}/permission")
async def collaborator_permission(request: web.Request) -> web.Response:
    repo, _ = repo_for(request)
    data = state(request).data
    login = request.match_info["login"]
    found = data.users.get(login)
    if found is None:
        raise not_found()
    role = data.permission(repo, login, seeded=True)
    # The legacy `permission` field folds maintain into write and triage into read.
    legacy = {"maintain": "write", "triage": "read"}.get(role.value, role.value)
    u = urls(request)
    body = {
        "permission": legacy,
        "role_name": role.value,
        "user": render.user(u, found) | {"permissions": render.permissions(role), "role_name": role.value},
    }
    return reply(body)
