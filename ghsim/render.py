"""JSON shaping for users, orgs, teams, repositories and labels, with GitHub's field names.

Every API link is built from `Urls.api` (the configured or request-derived base), html links from github.com.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from ghsim.models import Label, Org, Permission, RepoInfo, Team, User

Json = dict[str, Any]
HTML = "https://github.com"


@dataclass(frozen=True, slots=True)
class Urls:
    api: str  # no trailing slash


def iso(t: int | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def http_date(t: int) -> str:
    return formatdate(t, usegmt=True)


def node_id(kind: str, ident: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode().rstrip("=")


def user(u: Urls, who: User) -> Json:
    api = f"{u.api}/users/{who.login}"
    return {
        "login": who.login,
        "id": who.id,
        "node_id": node_id("User" if who.type != "Organization" else "Organization", who.id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{who.id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{HTML}/{who.login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": who.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def full_user(u: Urls, who: User, public_repos: int) -> Json:
    created = iso(who.created_at)
    return user(u, who) | {
        "name": who.name,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "public_repos": public_repos,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": created,
        "updated_at": created,
    }


def org_user(org: Org) -> User:
    return User(org.login, org.id, type="Organization", created_at=org.created_at)


def org_summary(u: Urls, org: Org) -> Json:
    api = f"{u.api}/orgs/{org.login}"
    return {
        "login": org.login,
        "id": org.id,
        "node_id": node_id("Organization", org.id),
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{org.id}?v=4",
        "description": f"Simulated organisation {org.login}",
    }


def org_full(u: Urls, org: Org, public_repos: int) -> Json:
    created = iso(org.created_at)
    return org_summary(u, org) | {
        "name": org.login,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "twitter_username": None,
        "is_verified": False,
        "has_organization_projects": True,
        "has_repository_projects": True,
        "public_repos": public_repos,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "html_url": f"{HTML}/{org.login}",
        "created_at": created,
        "updated_at": created,
        "archived_at": None,
        "type": "Organization",
    }


def team(u: Urls, org: Org, t: Team) -> Json:
    api = f"{u.api}/organizations/{org.id}/team/{t.id}"
    return {
        "name": t.name,
        "id": t.id,
        "node_id": node_id("Team", t.id),
        "slug": t.slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "url": api,
        "html_url": f"{HTML}/orgs/{org.login}/teams/{t.slug}",
        "members_url": f"{api}/members{{/member}}",
        "repositories_url": f"{api}/repos",
        "permission": "pull",
        "parent": None,
    }


def permissions(role: Permission) -> dict[str, bool]:
    """The `permissions` object of a repository as GitHub shows it to one viewer."""
    return {
        "admin": role.at_least(Permission.ADMIN),
        "maintain": role.at_least(Permission.MAINTAIN),
        "push": role.at_least(Permission.WRITE),
        "triage": role.at_least(Permission.TRIAGE),
        "pull": role.at_least(Permission.READ),
    }


def repo(u: Urls, info: RepoInfo, owner: User, role: Permission | None, stats: tuple[int, int, int]) -> Json:
    """A full repository; `role` None (anonymous) omits `permissions`; stats = (updated, pushed, open issues)."""
    updated, pushed, open_issues = stats
    api = f"{u.api}/repos/{info.full_name}"
    html = f"{HTML}/{info.full_name}"
    body: Json = {
        "id": info.id,
        "node_id": node_id("Repository", info.id),
        "name": info.name,
        "full_name": info.full_name,
        "private": info.private,
        "owner": user(u, owner),
        "html_url": html,
        "description": info.description,
        "fork": False,
        "url": api,
    }
    for key, suffix in _REPO_LINKS:
        body[key] = f"{api}/{suffix}"
    body |= {
        "created_at": iso(info.created_at),
        "updated_at": iso(updated),
        "pushed_at": iso(pushed),
        "git_url": f"git://github.com/{info.full_name}.git",
        "ssh_url": f"git@github.com:{info.full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "homepage": None,
        "size": 120,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": "Python",
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": open_issues,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private" if info.private else "public",
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": info.default_branch,
    }
    if role is not None:
        body["permissions"] = permissions(role)
    body |= {
        "allow_squash_merge": True,
        "allow_merge_commit": True,
        "allow_rebase_merge": True,
        "allow_auto_merge": False,
        "delete_branch_on_merge": False,
        "network_count": 0,
        "subscribers_count": 1,
    }
    if owner.type == "Organization":
        body["organization"] = user(u, owner)
    return body


_REPO_LINKS = (
    ("forks_url", "forks"),
    ("keys_url", "keys{/key_id}"),
    ("collaborators_url", "collaborators{/collaborator}"),
    ("teams_url", "teams"),
    ("hooks_url", "hooks"),
    ("issue_events_url", "issues/events{/number}"),
    ("events_url", "events"),
    ("assignees_url", "assignees{/user}"),
    ("branches_url", "branches{/branch}"),
    ("tags_url", "tags"),
    ("blobs_url", "git/blobs{/sha}"),
    ("git_tags_url", "git/tags{/sha}"),
    ("git_refs_url", "git/refs{/sha}"),
    ("trees_url", "git/trees{/sha}"),
    ("statuses_url", "statuses/{sha}"),
    ("languages_url", "languages"),
    ("stargazers_url", "stargazers"),
    ("contributors_url", "contributors"),
    ("subscribers_url", "subscribers"),
    ("subscription_url", "subscription"),
    ("commits_url", "commits{/sha}"),
    ("git_commits_url", "git/commits{/sha}"),
    ("comments_url", "comments{/number}"),
    ("issue_comment_url", "issues/comments{/number}"),
    ("contents_url", "contents/{+path}"),
    ("compare_url", "compare/{base}...{head}"),
    ("merges_url", "merges"),
    ("archive_url", "{archive_format}{/ref}"),
    ("downloads_url", "downloads"),
    ("issues_url", "issues{/number}"),
    ("pulls_url", "pulls{/number}"),
    ("milestones_url", "milestones{/number}"),
    ("notifications_url", "notifications{?since,all,participating}"),
    ("labels_url", "labels{/name}"),
    ("releases_url", "releases{/id}"),
    ("deployments_url", "deployments"),
)


def label(u: Urls, full_name: str, lab: Label) -> Json:
    return {
        "id": lab.id,
        "node_id": node_id("Label", lab.id),
        "url": f"{u.api}/repos/{full_name}/labels/{lab.name.replace('/', '%2F')}",
        "name": lab.name,
        "color": lab.color,
        "default": lab.default,
        "description": lab.description,
    }
