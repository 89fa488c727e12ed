"""JSON shaping for issues, pull requests, comments, reviews and a pull request's files."""

from __future__ import annotations

from collections.abc import Mapping

from ghsim.data import file_patch
from ghsim.models import Comment, Issue, Review
from ghsim.render import HTML, Json, Urls, iso, label, node_id, user
from ghsim.store import Dataset, RepoStore


def _user(u: Urls, data: Dataset, login: str | None) -> Json | None:
    if login is None:
        return None
    found = data.users.get(login)
    return user(u, found) if found else None


def _association(data: Dataset, repo: RepoStore, login: str) -> str:
    org = data.orgs.get(repo.info.owner)
    if org is not None and login in org.members:
        return "MEMBER"
    if login in repo.info.collaborators:
        return "COLLABORATOR"
    return "CONTRIBUTOR"


def _reactions(url: str) -> Json:
    counts = dict.fromkeys(("total_count", "+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"), 0)
    return {"url": url, **counts}


def _labels(u: Urls, repo: RepoStore, names: tuple[str, ...]) -> list[Json]:
    return [label(u, repo.info.full_name, repo.labels[n]) for n in names if n in repo.labels]


def issue(u: Urls, data: Dataset, repo: RepoStore, i: Issue) -> Json:
    api = f"{u.api}/repos/{repo.info.full_name}"
    own = f"{api}/issues/{i.number}"
    kind = "pull" if i.pull else "issues"
    assignees = [a for a in (_user(u, data, login) for login in i.assignees) if a]
    body: Json = {
        "url": own,
        "repository_url": api,
        "labels_url": f"{own}/labels{{/name}}",
        "comments_url": f"{own}/comments",
        "events_url": f"{own}/events",
        "html_url": f"{HTML}/{repo.info.full_name}/{kind}/{i.number}",
        "id": i.id,
        "node_id": node_id("Issue", i.id),
        "number": i.number,
        "title": i.title,
        "user": _user(u, data, i.user),
        "labels": _labels(u, repo, i.labels),
        "state": i.state,
        "locked": False,
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "milestone": None,
        "comments": len(repo.comments_on(i.number)),
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "closed_at": iso(i.closed_at),
        "author_association": _association(data, repo, i.user),
        "active_lock_reason": None,
        "body": i.body,
        "closed_by": None,
        "reactions": _reactions(f"{own}/reactions"),
        "timeline_url": f"{own}/timeline",
        "performed_via_github_app": None,
        "state_reason": ("completed" if i.state == "closed" else None) if not i.pull else None,
    }
    if i.pull is not None:
        pr = f"{api}/pulls/{i.number}"
        body["draft"] = i.pull.draft
        body["pull_request"] = {
            "url": pr,
            "html_url": f"{HTML}/{repo.info.full_name}/pull/{i.number}",
            "diff_url": f"{HTML}/{repo.info.full_name}/pull/{i.number}.diff",
            "patch_url": f"{HTML}/{repo.info.full_name}/pull/{i.number}.patch",
            "merged_at": iso(i.pull.merged_at),
        }
    return body


def _side(u: Urls, data: Dataset, repo: RepoStore, ref: str, sha: str, repo_json: Json) -> Json:
    return {
        "label": f"{repo.info.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": repo_json["owner"],
        "repo": repo_json,
    }


def pull(u: Urls, data: Dataset, repo: RepoStore, i: Issue, repo_json: Json, full: bool) -> Json:
    """A pull request; `full` adds the fields only the single-PR endpoint has (mergeable, counts)."""
    p = i.pull
    assert p is not None
    api = f"{u.api}/repos/{repo.info.full_name}"
    own = f"{api}/pulls/{i.number}"
    html = f"{HTML}/{repo.info.full_name}/pull/{i.number}"
    issue_url = f"{api}/issues/{i.number}"
    statuses = f"{api}/statuses/{p.head_sha}"
    assignees = [a for a in (_user(u, data, login) for login in i.assignees) if a]
    body: Json = {
        "url": own,
        "id": i.pull_id,
        "node_id": node_id("PullRequest", i.pull_id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_url,
        "number": i.number,
        "state": i.state,
        "locked": False,
        "title": i.title,
        "user": _user(u, data, i.user),
        "body": i.body,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "closed_at": iso(i.closed_at),
        "merged_at": iso(p.merged_at),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "requested_reviewers": [r for r in (_user(u, data, login) for login in p.requested_reviewers) if r],
        "requested_teams": [],
        "labels": _labels(u, repo, i.labels),
        "milestone": None,
        "draft": p.draft,
        "commits_url": f"{own}/commits",
        "review_comments_url": f"{own}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{issue_url}/comments",
        "statuses_url": statuses,
        "head": _side(u, data, repo, p.head_ref, p.head_sha, repo_json),
        "base": _side(u, data, repo, p.base_ref, p.base_sha, repo_json),
        "_links": {
            "self": {"href": own},
            "html": {"href": html},
            "issue": {"href": issue_url},
            "comments": {"href": f"{issue_url}/comments"},
            "review_comments": {"href": f"{own}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{own}/commits"},
            "statuses": {"href": statuses},
        },
        "author_association": _association(data, repo, i.user),
        "auto_merge": None,
        "active_lock_reason": None,
    }
    if full:
        files = changed_files(u, repo, i)
        open_ = i.state == "open" and not p.merged
        body |= {
            "merged": p.merged,
            "mergeable": p.mergeable if open_ else None,
            "rebaseable": p.mergeable if open_ else None,
            "mergeable_state": ("clean" if p.mergeable else "dirty") if open_ else "unknown",
            "merged_by": _user(u, data, p.merged_by),
            "comments": len(repo.comments_on(i.number)),
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": len(pull_commits(repo, i)),
            "additions": sum(f["additions"] for f in files),
            "deletions": sum(f["deletions"] for f in files),
            "changed_files": len(files),
        }
    return body


def pull_commits(repo: RepoStore, i: Issue) -> list[str]:
    """Commits on the head that are not on the base snapshot the PR was opened against, oldest first."""
    assert i.pull is not None
    stop = i.pull.base_sha
    out: list[str] = []
    sha: str | None = i.pull.head_sha
    while sha and sha != stop and sha in repo.commits and len(out) < 250:
        out.append(sha)
        parents = repo.commits[sha].parents
        sha = parents[0] if parents else None
    return out[::-1]


def changed_files(u: Urls, repo: RepoStore, i: Issue) -> list[Json]:
    """The PR's files: the diff between its base snapshot and its head."""
    assert i.pull is not None
    base = repo.commits[i.pull.base_sha].files
    head = repo.commits[i.pull.head_sha].files
    return diff_files(u, repo, base, head, i.pull.head_sha)


def diff_files(u: Urls, repo: RepoStore, base: Mapping[str, str], head: Mapping[str, str], ref: str) -> list[Json]:
    api = f"{u.api}/repos/{repo.info.full_name}"
    out: list[Json] = []
    for path in sorted(set(base) | set(head)):
        old, new = base.get(path), head.get(path)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "modified"
        patch, additions, deletions = file_patch(repo.blobs[old] if old else None, repo.blobs[new] if new else None)
        sha = new or old
        out.append(
            {
                "sha": sha,
                "filename": path,
                "status": status,
                "additions": additions,
                "deletions": deletions,
                "changes": additions + deletions,
                "blob_url": f"{HTML}/{repo.info.full_name}/blob/{ref}/{path}",
                "raw_url": f"{HTML}/{repo.info.full_name}/raw/{ref}/{path}",
                "contents_url": f"{api}/contents/{path}?ref={ref}",
                "patch": patch,
            }
        )
    return out


def comment(u: Urls, data: Dataset, repo: RepoStore, c: Comment) -> Json:
    api = f"{u.api}/repos/{repo.info.full_name}"
    return {
        "url": f"{api}/issues/comments/{c.id}",
        "html_url": f"{HTML}/{repo.info.full_name}/issues/{c.issue}#issuecomment-{c.id}",
        "issue_url": f"{api}/issues/{c.issue}",
        "id": c.id,
        "node_id": node_id("IssueComment", c.id),
        "user": _user(u, data, c.user),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "author_association": _association(data, repo, c.user),
        "body": c.body,
        "reactions": _reactions(f"{api}/issues/comments/{c.id}/reactions"),
        "performed_via_github_app": None,
    }


def review(u: Urls, data: Dataset, repo: RepoStore, r: Review) -> Json:
    api = f"{u.api}/repos/{repo.info.full_name}"
    html = f"{HTML}/{repo.info.full_name}/pull/{r.pull}#pullrequestreview-{r.id}"
    return {
        "id": r.id,
        "node_id": node_id("PullRequestReview", r.id),
        "user": _user(u, data, r.user),
        "body": r.body,
        "state": r.state,
        "html_url": html,
        "pull_request_url": f"{api}/pulls/{r.pull}",
        "author_association": _association(data, repo, r.user),
        "_links": {"html": {"href": html}, "pull_request": {"href": f"{api}/pulls/{r.pull}"}},
        "submitted_at": iso(r.submitted_at),
        "commit_id": r.commit_id,
    }
