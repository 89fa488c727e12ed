"""Path templates for metric labels, as Go ghproxy's ghmetrics simplifier names them.

`/repos/o/r/pulls/7` becomes `/repos/:owner/:repo/pulls/:pullId`; a path outside the tree becomes `unmatched`, which
keeps label cardinality bounded whatever clients send.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    variable: bool = False
    greedy: bool = False
    children: tuple[Node, ...] = ()


def L(name: str, *children: Node) -> Node:
    return Node(name, children=children)


def V(name: str, *children: Node) -> Node:
    return Node(name, variable=True, children=children)


def VG(name: str) -> Node:
    return Node(name, variable=True, greedy=True)


def _repository() -> tuple[Node, ...]:
    leaves = [
        "stars",
        "merges",
        "stargazers",
        "notifications",
        "hooks",
        "deployments",
        "downloads",
        "events",
        "forks",
        "topics",
        "vulnerability-alerts",
        "automated-security-fixes",
        "contributors",
        "languages",
        "teams",
        "tags",
        "transfer",
        "pages",
        "private-vulnerability-reporting",
    ]
    return (
        L(
            "branches",
            V(
                "branch",
                L(
                    "protection",
                    L("restrictions", L("users"), L("teams")),
                    L("required_status_checks", L("contexts")),
                    L("required_pull_request_reviews"),
                    L("required_signatures"),
                    L("enforce_admins"),
                ),
            ),
        ),
        L(
            "issues",
            L("comments", V("commentId")),
            L("events", V("eventId")),
            V(
                "issueId",
                L("lock"),
                L("comments"),
                L("events"),
                L("assignees"),
                L("reactions"),
                L("labels", VG("labelId")),
            ),
        ),
        L("keys", V("keyId")),
        L("labels", V("labelId")),
        L("milestones", V("milestone")),
        L(
            "pulls",
            V(
                "pullId",
                L("commits"),
                L("files"),
                L("comments"),
                L("reviews"),
                L("requested_reviewers"),
                L("merge"),
            ),
        ),
        L("releases", V("releaseId")),
        L("statuses", V("statusId")),
        L("subscribers", V("subscriberId")),
        L("assignees", V("assigneeId")),
        L("archive", V("zip")),
        L("collaborators", V("collaboratorId", L("permission"))),
        L("comments", V("commentId")),
        L("compare", V("sha")),
        L("contents", V("contentId")),
        L("commits", V("sha", L("check-runs"), L("status"))),
        L(
            "git",
            L("commits", V("sha")),
            L("ref", V("refId")),
            L("tags", V("tagId")),
            L("trees", V("sha")),
            L("refs", L("heads", VG("ref"))),
        ),
        L("properties", L("value")),
        L("code-scanning", L("default-setup")),
        *(L(name) for name in leaves),
    )


def _organization() -> tuple[Node, ...]:
    return (
        L("credential-authorizations", V("credentialId")),
        L("repos"),
        L("issues"),
        L("invitations"),
        L("members", V("login")),
        L("memberships", V("login")),
        L("teams"),
        L("team", V("teamId", L("repos"), L("members"))),
    )


ROOT = L(
    "",
    L("app", L("installations", V("id", L("access_tokens")))),
    L("repos", V("owner", V("repo", *_repository()))),
    L("repositories", V("repoId", *_repository())),
    L(
        "user",
        L("following", V("userId")),
        L("keys", V("keyId")),
        L("email", L("visibility")),
        L("emails"),
        L("public_emails"),
        L("followers"),
        L("starred"),
        L("issues"),
        V("id", L("repos")),
    ),
    L("users", V("username", L("followers", V("username")), L("repos"), L("hovercard"), L("following"))),
    L("orgs", V("orgname", *_organization())),
    L("organizations", V("orgId", *_organization())),
    L("issues", V("issueId")),
    L("search", *(L(n) for n in ["repositories", "commits", "code", "issues", "users", "topics", "labels"])),
    L("gists", L("public"), L("starred")),
    L("notifications", L("threads", V("threadId", L("subscription")))),
    L(
        "teams",
        V("id", L("members"), L("memberships", V("user")), L("repos", V("org", V("repo"))), L("invitations")),
    ),
    *(L(n) for n in ["emojis", "events", "feeds", "hub", "rate_limit", "graphql", "licenses"]),
)

UNMATCHED = "unmatched"


@lru_cache(maxsize=4096)
def simplify(path: str) -> str:
    """The metric template of a request path (query excluded)."""
    if path == "/":
        return "/"
    parts = path.split("/")[1:]
    node = ROOT
    out: list[str] = []
    for part in parts:
        child = next((c for c in node.children if not c.variable and c.name == part), None)
        if child is None:
            child = next((c for c in node.children if c.variable), None)
            if child is None or not part:
                return UNMATCHED
            out.append(":" + child.name)
            if child.greedy:  # a branch name may hold slashes: the rest of the path is this variable
                break
        else:
            out.append(part)
        node = child
    return "/" + "/".join(out)
