"""JSON shaping for git data: branches, refs, commits, trees, blobs, contents and commit statuses."""

from __future__ import annotations

import base64
import zlib

from ghsim.models import Commit, Status, User
from ghsim.render import HTML, Json, Urls, iso, node_id, user
from ghsim.store import RepoStore


def _api(u: Urls, repo: RepoStore) -> str:
    return f"{u.api}/repos/{repo.info.full_name}"


def _ident(c: Commit) -> Json:
    return {"name": c.author, "email": f"{c.author}@users.noreply.github.com", "date": iso(c.date)}


def _verification() -> Json:
    return {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None}


def git_commit(u: Urls, repo: RepoStore, c: Commit) -> Json:
    api = _api(u, repo)
    return {
        "sha": c.sha,
        "node_id": node_id("Commit", int(c.sha[:8], 16)),
        "url": f"{api}/git/commits/{c.sha}",
        "html_url": f"{HTML}/{repo.info.full_name}/commit/{c.sha}",
        "author": _ident(c),
        "committer": _ident(c),
        "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
        "message": c.message,
        "parents": [
            {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{HTML}/{repo.info.full_name}/commit/{p}"}
            for p in c.parents
        ],
        "verification": _verification(),
    }


def commit(u: Urls, repo: RepoStore, c: Commit, author: User | None, files: list[Json] | None = None) -> Json:
    """A REST commit (`/commits/{ref}`); `files` is added for single-commit answers."""
    api = _api(u, repo)
    body: Json = {
        "sha": c.sha,
        "node_id": node_id("Commit", int(c.sha[:8], 16)),
        "commit": {
            "author": _ident(c),
            "committer": _ident(c),
            "message": c.message,
            "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
            "url": f"{api}/git/commits/{c.sha}",
            "comment_count": 0,
            "verification": _verification(),
        },
        "url": f"{api}/commits/{c.sha}",
        "html_url": f"{HTML}/{repo.info.full_name}/commit/{c.sha}",
        "comments_url": f"{api}/commits/{c.sha}/comments",
        "author": user(u, author) if author else None,
        "committer": user(u, author) if author else None,
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{HTML}/{repo.info.full_name}/commit/{p}"}
            for p in c.parents
        ],
    }
    if files is not None:
        additions = sum(f["additions"] for f in files)
        deletions = sum(f["deletions"] for f in files)
        body["stats"] = {"total": additions + deletions, "additions": additions, "deletions": deletions}
        body["files"] = files
    return body


def branch(u: Urls, repo: RepoStore, name: str, c: Commit, author: User | None) -> Json:
    api = _api(u, repo)
    return {
        "name": name,
        "commit": commit(u, repo, c, author),
        "_links": {"self": f"{api}/branches/{name}", "html": f"{HTML}/{repo.info.full_name}/tree/{name}"},
        "protected": name == repo.info.default_branch,
        "protection": {"enabled": False, "required_status_checks": {"enforcement_level": "off", "contexts": []}},
        "protection_url": f"{api}/branches/{name}/protection",
    }


def branch_summary(u: Urls, repo: RepoStore, name: str, sha: str) -> Json:
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{_api(u, repo)}/commits/{sha}"},
        "protected": name == repo.info.default_branch,
    }


def ref(u: Urls, repo: RepoStore, name: str, sha: str) -> Json:
    api = _api(u, repo)
    return {
        "ref": f"refs/heads/{name}",
        "node_id": node_id("Ref", zlib.crc32(name.encode())),
        "url": f"{api}/git/refs/heads/{name}",
        "object": {"sha": sha, "type": "commit", "url": f"{api}/git/commits/{sha}"},
    }


def tree(u: Urls, repo: RepoStore, sha: str, recursive: bool) -> Json:
    api = _api(u, repo)
    entries: list[Json] = []

    def walk(tree_sha: str, prefix: str) -> None:
        for e in repo.trees[tree_sha]:
            item: Json = {"path": prefix + e.name, "mode": e.mode, "type": e.type, "sha": e.sha}
            if e.type == "blob":
                item["size"] = e.size
                item["url"] = f"{api}/git/blobs/{e.sha}"
            else:
                item["url"] = f"{api}/git/trees/{e.sha}"
            entries.append(item)
            if recursive and e.type == "tree":
                walk(e.sha, f"{prefix}{e.name}/")

    walk(sha, "")
    return {"sha": sha, "url": f"{api}/git/trees/{sha}", "tree": entries, "truncated": False}


def blob(u: Urls, repo: RepoStore, sha: str) -> Json:
    content = repo.blobs[sha]
    return {
        "sha": sha,
        "node_id": node_id("Blob", int(sha[:8], 16)),
        "size": len(content),
        "url": f"{_api(u, repo)}/git/blobs/{sha}",
        "content": base64.encodebytes(content).decode(),
        "encoding": "base64",
    }


def content_file(u: Urls, repo: RepoStore, path: str, sha: str, ref: str) -> Json:
    api = _api(u, repo)
    self_url = f"{api}/contents/{path}?ref={ref}"
    html = f"{HTML}/{repo.info.full_name}/blob/{ref}/{path}"
    git = f"{api}/git/blobs/{sha}"
    data = repo.blobs[sha]
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "size": len(data),
        "url": self_url,
        "html_url": html,
        "git_url": git,
        "download_url": f"https://raw.githubusercontent.com/{repo.info.full_name}/{ref}/{path}",
        "type": "file",
        "content": base64.encodebytes(data).decode(),
        "encoding": "base64",
        "_links": {"self": self_url, "git": git, "html": html},
    }


def content_dir_entry(u: Urls, repo: RepoStore, path: str, sha: str, kind: str, ref: str) -> Json:
    api = _api(u, repo)
    git = f"{api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
    self_url = f"{api}/contents/{path}?ref={ref}"
    html = f"{HTML}/{repo.info.full_name}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "size": len(repo.blobs[sha]) if kind == "file" else 0,
        "url": self_url,
        "html_url": html,
        "git_url": git,
        "download_url": None
        if kind == "dir"
        else f"https://raw.githubusercontent.com/{repo.info.full_name}/{ref}/{path}",
        "type": kind,
        "_links": {"self": self_url, "git": git, "html": html},
    }


def status(u: Urls, repo: RepoStore, s: Status, creator: User | None) -> Json:
    return {
        "url": f"{_api(u, repo)}/statuses/{s.sha}",
        "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
        "id": s.id,
        "node_id": node_id("StatusContext", s.id),
        "state": s.state,
        "description": s.description,
        "target_url": s.target_url,
        "context": s.context,
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "creator": user(u, creator) if creator else None,
    }


def latest_per_context(statuses: list[Status]) -> list[Status]:
    """The newest status of each context, newest first (what the combined status shows)."""
    latest: dict[str, Status] = {}
    for s in statuses:
        latest[s.context] = s
    return sorted(latest.values(), key=lambda s: s.id, reverse=True)


def combined_state(latest: list[Status]) -> str:
    """GitHub's rule: failure if any error/failure, pending if any pending or none, else success."""
    states = {s.state for s in latest}
    if states & {"error", "failure"}:
        return "failure"
    if not states or "pending" in states:
        return "pending"
    return "success"


def combined_status(u: Urls, repo: RepoStore, sha: str, statuses: list[Json], state: str, repo_json: Json) -> Json:
    api = _api(u, repo)
    return {
        "state": state,
        "statuses": statuses,
        "sha": sha,
        "total_count": len(statuses),
        "repository": repo_json,
        "commit_url": f"{api}/commits/{sha}",
        "url": f"{api}/commits/{sha}/status",
    }
