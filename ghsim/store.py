"""The simulator's mutable world: users, orgs and repositories, and the writes that change them."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from ghsim import gitobj
from ghsim.models import Comment, Commit, Issue, Label, Org, Permission, RepoInfo, Review, Status, TreeEntry, User


class StoreError(Exception):
    """A write the data cannot take; `status` and `message` are what GitHub answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class RepoStore:
    """One repository's git objects, issues and pull requests."""

    info: RepoInfo
    updated_at: int
    pushed_at: int
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit sha
    commits: dict[str, Commit] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, tuple[TreeEntry, ...]] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    statuses: dict[str, list[Status]] = field(default_factory=dict)  # commit sha -> newest last
    reviews: dict[int, list[Review]] = field(default_factory=dict)

    def resolve(self, ref: str) -> Commit | None:
        """A commit by sha, short sha, branch name or `heads/<branch>`."""
        ref = ref.removeprefix("refs/").removeprefix("heads/")
        if ref in self.branches:
            return self.commits[self.branches[ref]]
        if ref in self.commits:
            return self.commits[ref]
        if len(ref) >= 7:
            for sha, commit in self.commits.items():
                if sha.startswith(ref):
                    return commit
        return None

    def pulls(self) -> Iterator[Issue]:
        return (i for i in self.issues.values() if i.pull is not None)

    def comments_on(self, number: int) -> list[Comment]:
        return [c for c in self.comments.values() if c.issue == number]


@dataclass(slots=True)
class Dataset:
    """All orgs, users and repositories, plus an id counter and a clock for writes."""

    users: dict[str, User]
    orgs: dict[str, Org]
    repos: dict[str, RepoStore]  # key: "owner/name" lower-cased
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(5_000_000))
    clock: Callable[[], float] = time.time

    def now(self) -> int:
        return int(self.clock())

    def repo(self, owner: str, name: str) -> RepoStore | None:
        return self.repos.get(f"{owner}/{name}".lower())

    def org_repos(self, org: str) -> list[RepoStore]:
        return [r for r in self.repos.values() if r.info.owner.lower() == org.lower()]

    def permission(self, repo: RepoStore, login: str | None, seeded: bool) -> Permission:
        """The viewer's role: explicit collaborators and org admins, else read on public repos.

        Unseeded tokens (accepted as bots) may write to every public repository.
        """
        info = repo.info
        if login is not None and seeded:
            org = self.orgs.get(info.owner)
            if org is not None and login in org.admins:
                return Permission.ADMIN
            if login in info.collaborators:
                return info.collaborators[login]
        if info.private:
            return Permission.NONE
        if login is not None and not seeded:
            return Permission.WRITE
        return Permission.READ

    # --- git writes -------------------------------------------------------------------------------------------

    def commit(
        self,
        repo: RepoStore,
        parents: tuple[str, ...],
        changes: Mapping[str, bytes | None],
        author: str,
        message: str,
    ) -> Commit:
        """Make a commit on the first parent's snapshot that writes (None: deletes) the given paths."""
        files = dict(repo.commits[parents[0]].files) if parents else {}
        for path, content in changes.items():
            if content is None:
                files.pop(path, None)
            else:
                sha = gitobj.blob_sha(content)
                repo.blobs[sha] = content
                files[path] = sha
        sizes = {sha: len(repo.blobs[sha]) for sha in files.values()}
        tree = gitobj.build_tree(files, sizes, repo.trees)
        date = self.now()
        sha = gitobj.commit_sha(tree, parents, author, date, message)
        made = Commit(sha, tree, parents, message, author, date, files)
        repo.commits[sha] = made
        return made

    def set_ref(self, repo: RepoStore, branch: str, sha: str, force: bool = True) -> None:
        if sha not in repo.commits:
            raise StoreError(422, "Object does not exist")
        old = repo.branches.get(branch)
        if old is not None and not force and old not in _ancestors(repo, sha, old):
            raise StoreError(422, "Update is not a fast forward")
        repo.branches[branch] = sha
        repo.pushed_at = self.now()
        for number, issue in repo.issues.items():
            if issue.pull is not None and issue.state == "open":
                if issue.pull.head_ref == branch:
                    repo.issues[number] = replace(issue, pull=replace(issue.pull, head_sha=sha), updated_at=self.now())
                elif issue.pull.base_ref == branch:
                    repo.issues[number] = replace(issue, pull=replace(issue.pull, base_sha=sha))

    def push_to_pull(self, repo: RepoStore, number: int, author: str) -> Commit:
        issue = self.pull(repo, number)
        assert issue.pull is not None
        path = f"src/feature{number}.py"
        old = repo.commits[issue.pull.head_sha].files.get(path)
        body = repo.blobs[old] if old else b""
        made = self.commit(
            repo, (issue.pull.head_sha,), {path: body + f"# push {self.now()}\n".encode()}, author, "Address review"
        )
        self.set_ref(repo, issue.pull.head_ref, made.sha)
        return made

    def merge(self, repo: RepoStore, number: int, merger: str, sha: str | None, title: str | None) -> Commit:
        """Merge a pull request into its base branch (a merge commit with both parents)."""
        issue = self.pull(repo, number)
        pull = issue.pull
        assert pull is not None
        if pull.merged or issue.state != "open" or not pull.mergeable:
            raise StoreError(405, "Pull Request is not mergeable")
        if sha is not None and sha != pull.head_sha:
            raise StoreError(409, "Head branch was modified. Review and try the merge again.")
        base_sha = repo.branches[pull.base_ref]
        head = repo.commits[pull.head_sha]
        base = repo.commits[base_sha]
        changes: dict[str, bytes | None] = {p: repo.blobs[s] for p, s in head.files.items()}
        changes.update({p: None for p in base.files if p not in head.files})
        message = title or f"Merge pull request #{number} from {pull.head_ref}"
        made = self.commit(repo, (base_sha, head.sha), changes, merger, message)
        now = self.now()
        merged = replace(pull, merged=True, merged_at=now, merged_by=merger, merge_commit_sha=made.sha)
        repo.issues[number] = replace(issue, pull=merged, state="closed", closed_at=now, updated_at=now)
        self.set_ref(repo, pull.base_ref, made.sha)
        return made

    # --- issue writes -----------------------------------------------------------------------------------------

    def issue(self, repo: RepoStore, number: int) -> Issue:
        if number not in repo.issues:
            raise StoreError(404, "Not Found")
        return repo.issues[number]

    def pull(self, repo: RepoStore, number: int) -> Issue:
        found = self.issue(repo, number)
        if found.pull is None:
            raise StoreError(404, "Not Found")
        return found

    def touch(self, repo: RepoStore, number: int, **changes: object) -> Issue:
        """Replace fields of an issue and bump its updated_at."""
        updated = replace(self.issue(repo, number), updated_at=self.now(), **changes)  # type: ignore[arg-type]
        repo.issues[number] = updated
        return updated

    def add_comment(self, repo: RepoStore, number: int, user: str, body: str) -> Comment:
        self.issue(repo, number)
        now = self.now()
        comment = Comment(next(self.ids), number, user, body, now, now)
        repo.comments[comment.id] = comment
        self.touch(repo, number)
        return comment

    def ensure_label(self, repo: RepoStore, name: str) -> Label:
        if name.lower() not in {n.lower() for n in repo.labels}:
            repo.labels[name] = Label(name, next(self.ids), "ededed")
        return next(label for n, label in repo.labels.items() if n.lower() == name.lower())

    def set_labels(self, repo: RepoStore, number: int, names: list[str]) -> Issue:
        labels = tuple(dict.fromkeys(self.ensure_label(repo, n).name for n in names))
        return self.touch(repo, number, labels=labels)

    def add_status(
        self,
        repo: RepoStore,
        sha: str,
        state: str,
        context: str,
        description: str | None,
        target_url: str | None,
        creator: str,
    ) -> Status:
        now = self.now()
        status = Status(next(self.ids), sha, state, context, description, target_url, creator, now, now)
        repo.statuses.setdefault(sha, []).append(status)
        return status

    def add_review(self, repo: RepoStore, number: int, user: str, state: str, body: str) -> Review:
        issue = self.pull(repo, number)
        assert issue.pull is not None
        review = Review(next(self.ids), number, user, state, body, issue.pull.head_sha, self.now())
        repo.reviews.setdefault(number, []).append(review)
        self.touch(repo, number)
        return review


def _ancestors(repo: RepoStore, start: str, wanted: str) -> set[str]:
    """Commits reachable from `start`, stopping early once `wanted` is found."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        sha = todo.pop()
        if sha in seen or sha not in repo.commits:
            continue
        seen.add(sha)
        if sha == wanted:
            break
        todo.extend(repo.commits[sha].parents)
    return seen
