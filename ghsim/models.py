"""The simulated GitHub's records. Frozen: a write replaces a record with `dataclasses.replace`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Permission(StrEnum):
    """Repository roles, weakest first (GitHub's `role_name`)."""

    NONE = "none"
    READ = "read"
    TRIAGE = "triage"
    WRITE = "write"
    MAINTAIN = "maintain"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Permission).index(self)

    def at_least(self, other: Permission) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True, slots=True)
class User:
    login: str
    id: int
    type: str = "User"  # "User", "Bot" or "Organization"
    name: str | None = None
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class Team:
    slug: str
    name: str
    id: int
    members: tuple[str, ...]
    permission: Permission


@dataclass(frozen=True, slots=True)
class Org:
    login: str
    id: int
    members: tuple[str, ...]
    admins: tuple[str, ...]
    teams: tuple[Team, ...]
    created_at: int


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    id: int
    color: str
    description: str | None = None
    default: bool = False


@dataclass(frozen=True, slots=True)
class TreeEntry:
    name: str
    mode: str  # "100644" for files, "040000" for trees
    type: str  # "blob" or "tree"
    sha: str
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author: str  # login
    date: int
    files: Mapping[str, str] = field(default_factory=dict)  # path -> blob sha, the whole snapshot


@dataclass(frozen=True, slots=True)
class Status:
    id: int
    sha: str
    state: str  # error, failure, pending, success
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    issue: int
    user: str
    body: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class Review:
    id: int
    pull: int
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED
    body: str
    commit_id: str
    submitted_at: int


@dataclass(frozen=True, slots=True)
class PullInfo:
    """The pull-request half of an issue that is a PR."""

    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    mergeable: bool = True
    merged: bool = False
    merged_at: int | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    draft: bool = False
    requested_reviewers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Issue:
    """An issue or, when `pull` is set, a pull request (they share numbers, as on GitHub)."""

    number: int
    id: int
    title: str
    body: str
    user: str
    state: str  # open, closed
    labels: tuple[str, ...]
    assignees: tuple[str, ...]
    created_at: int
    updated_at: int
    closed_at: int | None = None
    pull: PullInfo | None = None
    pull_id: int = 0


@dataclass(frozen=True, slots=True)
class RepoInfo:
    owner: str
    name: str
    id: int
    private: bool
    description: str
    default_branch: str
    created_at: int
    collaborators: Mapping[str, Permission]  # explicit roles; everyone else gets READ on public repos

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"
