"""The simulator's mutable world: users, orgs and repositories, and the writes that change them."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from ghsim import gitobj
from ghsim.models import (
    Comment,
    Commit,
    Issue,
    Label,
    Org,
    Permission,
    PullInfo,
    RepoInfo,
    Review,
    Status,
    TreeEntry,
    User,
)

ZERO_SHA = "0" * 40


class StoreError(Exception):
    """A write the data cannot take; `status` and `message` are what GitHub answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Push:
    """A branch update as the push webhook describes it."""

    ref: str  # refs/heads/<branch>
    before: str  # ZERO_SHA when the push created the branch
    after: str
    created: bool
    forced: bool
    commits: tuple[str, ...]  # the new commits, oldest first


@dataclass(frozen=True, slots=True)
class Change:
    """One write as a webhook announces it: GitHub's event name and action, who acted, and the records involved.

    Records are the frozen values right after the write; listeners render them before the next write.
    """

    event: str  # pull_request, issues, issue_comment, pull_request_review, push, status
    action: str | None
    repo: RepoStore
    sender: str
    issue: Issue | None = None
    comment: Comment | None = None
    review: Review | None = None
    status: Status | None = None
    push: Push | None = None
    label: str | None = None
    user: str | None = None  # the assignee or requested reviewer
    before: str | None = None  # head shas of a synchronize
    after: str | None = None
    changes: Mapping[str, str] = field(default_factory=dict)  # edited field -> its old value


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
    conflicted: set[int] = field(default_factory=set)  # open PRs marked unmergeable by a file-level conflict

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
    """All orgs, users and repositories, plus an id counter and a clock for writes.

    Every write operation announces itself to `listener` (the webhook sender) as a `Change`.
    """

    users: dict[str, User]
    orgs: dict[str, Org]
    repos: dict[str, RepoStore]  # key: "owner/name" lower-cased
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(5_000_000))
    clock: Callable[[], float] = time.time
    listener: Callable[[Change], None] | None = None
    # A role decided by the credential rather than the login (an installation token's grant); None: not decided.
    role_of_credential: Callable[[RepoStore, str | None], Permission | None] | None = None

    def now(self) -> int:
        return int(self.clock())

    def emit(self, change: Change) -> None:
        if self.listener is not None:
            self.listener(change)

    def repo(self, owner: str, name: str) -> RepoStore | None:
        return self.repos.get(f"{owner}/{name}".lower())

    def org_repos(self, org: str) -> list[RepoStore]:
        return [r for r in self.repos.values() if r.info.owner.lower() == org.lower()]

    def permission(self, repo: RepoStore, login: str | None, seeded: bool) -> Permission:
        """The viewer's role: explicit collaborators and org admins, else read on public repos.

        Unseeded tokens (accepted as bots) may write to every public repository.
        """
        if self.role_of_credential is not None and (role := self.role_of_credential(repo, login)) is not None:
            return role
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
        return self._commit_snapshot(repo, parents, files, author, message)

    def _commit_snapshot(
        self, repo: RepoStore, parents: tuple[str, ...], files: dict[str, str], author: str, message: str
    ) -> Commit:
        sizes = {sha: len(repo.blobs[sha]) for sha in files.values()}
        tree = gitobj.build_tree(files, sizes, repo.trees)
        date = self.now()
        sha = gitobj.commit_sha(tree, parents, author, date, message)
        made = Commit(sha, tree, parents, message, author, date, files)
        repo.commits[sha] = made
        return made

    def set_ref(self, repo: RepoStore, branch: str, sha: str, force: bool = True, *, pusher: str) -> None:
        """Point a branch at a commit: a push, then a synchronize for each open PR whose head it is."""
        if sha not in repo.commits:
            raise StoreError(422, "Object does not exist")
        old = repo.branches.get(branch)
        if old is not None and not force and old not in _ancestors(repo, sha, old):
            raise StoreError(422, "Update is not a fast forward")
        if old == sha:
            return
        repo.branches[branch] = sha
        repo.pushed_at = self.now()
        self.emit(Change("push", None, repo, pusher, push=_push(repo, branch, old, sha)))
        for number, issue in list(repo.issues.items()):
            pull = issue.pull
            if pull is None or issue.state != "open" or branch not in (pull.head_ref, pull.base_ref):
                continue
            updated = replace(issue, pull=self._rebased(repo, number, pull))
            if pull.head_ref == branch:
                updated = replace(updated, updated_at=self.now())
            repo.issues[number] = updated
            if pull.head_ref == branch:
                sync = Change("pull_request", "synchronize", repo, pusher, updated, before=pull.head_sha, after=sha)
                self.emit(sync)

    def _rebased(self, repo: RepoStore, number: int, pull: PullInfo) -> PullInfo:
        """The PR after its head or base branch moved: new head, merge base, and whether the files conflict.

        `base_sha` is the merge base, so the PR's files and commits stay those of GitHub's three-dot diff.
        """
        head = repo.branches.get(pull.head_ref, pull.head_sha)
        tip = repo.branches.get(pull.base_ref, pull.base_sha)
        base = merge_base(repo, head, tip) or pull.base_sha
        _, conflicts = three_way(repo.commits[base].files, repo.commits[tip].files, repo.commits[head].files)
        mergeable = pull.mergeable
        if conflicts:
            repo.conflicted.add(number)
            mergeable = False
        elif number in repo.conflicted:
            repo.conflicted.discard(number)
            mergeable = True
        return replace(pull, head_sha=head, base_sha=base, mergeable=mergeable)

    def push_to_pull(self, repo: RepoStore, number: int, author: str) -> Commit:
        issue = self.pull(repo, number)
        assert issue.pull is not None
        path = f"src/feature{number}.py"
        old = repo.commits[issue.pull.head_sha].files.get(path)
        body = repo.blobs[old] if old else b""
        made = self.commit(
            repo, (issue.pull.head_sha,), {path: body + f"# push {self.now()}\n".encode()}, author, "Address review"
        )
        self.set_ref(repo, issue.pull.head_ref, made.sha, pusher=author)
        return made

    def merge(self, repo: RepoStore, number: int, merger: str, sha: str | None, title: str | None) -> Commit:
        """Merge a pull request into its base branch: a merge commit with both parents and a file-level merge."""
        issue = self.pull(repo, number)
        pull = issue.pull
        assert pull is not None
        if pull.merged or issue.state != "open" or not pull.mergeable:
            raise StoreError(405, "Pull Request is not mergeable")
        if sha is not None and sha != pull.head_sha:
            raise StoreError(409, "Head branch was modified. Review and try the merge again.")
        tip = repo.branches[pull.base_ref]
        base = merge_base(repo, pull.head_sha, tip)
        base_files = repo.commits[base].files if base else {}
        files, conflicts = three_way(base_files, repo.commits[tip].files, repo.commits[pull.head_sha].files)
        if conflicts:
            raise StoreError(405, "Pull Request is not mergeable")
        message = title or f"Merge pull request #{number} from {pull.head_ref}"
        made = self._commit_snapshot(repo, (tip, pull.head_sha), files, merger, message)
        now = self.now()
        merged = replace(pull, merged=True, merged_at=now, merged_by=merger, merge_commit_sha=made.sha)
        closed = replace(issue, pull=merged, state="closed", closed_at=now, updated_at=now)
        repo.issues[number] = closed
        self.emit(Change("pull_request", "closed", repo, merger, closed))
        self.set_ref(repo, pull.base_ref, made.sha, pusher=merger)
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

    def open_issue(self, repo: RepoStore, user: str, title: str, body: str, labels: list[str]) -> Issue:
        """A new issue (opened, then labeled once per label, as GitHub announces it)."""
        names = tuple(dict.fromkeys(self.ensure_label(repo, n).name for n in labels))
        number = max(repo.issues, default=0) + 1
        now = self.now()
        made = Issue(number, next(self.ids), title, body, user, "open", names, (), now, now)
        repo.issues[number] = made
        self.emit(Change("issues", "opened", repo, user, made))
        for name in names:
            self.emit(Change("issues", "labeled", repo, user, made, label=name))
        return made

    def open_pull(self, repo: RepoStore, user: str, title: str, body: str, head: str, base: str, draft: bool) -> Issue:
        if head not in repo.branches or base not in repo.branches:
            raise StoreError(422, "Validation Failed")
        head_sha, tip = repo.branches[head], repo.branches[base]
        if head_sha == tip or merge_base(repo, head_sha, tip) == head_sha:
            raise StoreError(422, f"No commits between {base} and {head}")
        number = max(repo.issues, default=0) + 1
        now = self.now()
        info = self._rebased(repo, number, PullInfo(head, head_sha, base, tip, draft=draft))
        made = Issue(number, next(self.ids), title, body, user, "open", (), (), now, now, pull=info)
        made = replace(made, pull_id=next(self.ids))
        repo.issues[number] = made
        self.emit(Change("pull_request", "opened", repo, user, made))
        return made

    def update_issue(
        self,
        repo: RepoStore,
        number: int,
        actor: str,
        fields: Mapping[str, str],
        assignees: list[str] | None = None,
        labels: list[str] | None = None,
    ) -> Issue:
        """Edit title/body/state, assignees and labels: edited, (un)assigned, (un)labeled, closed/reopened."""
        old = self.issue(repo, number)
        event = _event(old)
        edited = {f: getattr(old, f) for f in ("title", "body") if f in fields and fields[f] != getattr(old, f)}
        values: dict[str, object] = {f: fields[f] for f in edited}
        new_state = fields.get("state")
        if new_state in ("open", "closed") and new_state != old.state:
            if old.pull is not None and old.pull.merged:
                raise StoreError(422, "Validation Failed")
            values |= {"state": new_state, "closed_at": self.now() if new_state == "closed" else None}
        updated = self.touch(repo, number, **values)
        if edited:
            self.emit(Change(event, "edited", repo, actor, updated, changes=edited))
        if assignees is not None:
            updated = self.set_assignees(repo, number, assignees, actor)
        if labels is not None:
            updated = self.set_labels(repo, number, labels, actor)
        if "state" in values:
            self.emit(Change(event, "closed" if new_state == "closed" else "reopened", repo, actor, updated))
        return updated

    def add_comment(self, repo: RepoStore, number: int, user: str, body: str) -> Comment:
        self.issue(repo, number)
        now = self.now()
        comment = Comment(next(self.ids), number, user, body, now, now)
        repo.comments[comment.id] = comment
        issue = self.touch(repo, number)
        self.emit(Change("issue_comment", "created", repo, user, issue, comment))
        return comment

    def edit_comment(self, repo: RepoStore, comment_id: int, actor: str, body: str) -> Comment:
        old = repo.comments[comment_id]
        edited = replace(old, body=body, updated_at=self.now())
        repo.comments[comment_id] = edited
        issue = self.touch(repo, old.issue)
        self.emit(Change("issue_comment", "edited", repo, actor, issue, edited, changes={"body": old.body}))
        return edited

    def delete_comment(self, repo: RepoStore, comment_id: int, actor: str) -> None:
        gone = repo.comments.pop(comment_id)
        issue = self.touch(repo, gone.issue)
        self.emit(Change("issue_comment", "deleted", repo, actor, issue, gone))

    def ensure_label(self, repo: RepoStore, name: str) -> Label:
        if name.lower() not in {n.lower() for n in repo.labels}:
            repo.labels[name] = Label(name, next(self.ids), "ededed")
        return next(label for n, label in repo.labels.items() if n.lower() == name.lower())

    def set_labels(self, repo: RepoStore, number: int, names: list[str], actor: str) -> Issue:
        """Replace an issue's labels: one labeled or unlabeled event per label added or removed."""
        old = self.issue(repo, number).labels
        labels = tuple(dict.fromkeys(self.ensure_label(repo, n).name for n in names))
        updated = self.touch(repo, number, labels=labels)
        for name in labels:
            if name not in old:
                self.emit(Change(_event(updated), "labeled", repo, actor, updated, label=name))
        for name in old:
            if name not in labels:
                self.emit(Change(_event(updated), "unlabeled", repo, actor, updated, label=name))
        return updated

    def set_assignees(self, repo: RepoStore, number: int, logins: list[str], actor: str) -> Issue:
        """Replace an issue's assignees (known users only): one assigned or unassigned event per change."""
        old = self.issue(repo, number).assignees
        assignees = tuple(dict.fromkeys(a for a in logins if a in self.users))
        updated = self.touch(repo, number, assignees=assignees)
        for login in assignees:
            if login not in old:
                self.emit(Change(_event(updated), "assigned", repo, actor, updated, user=login))
        for login in old:
            if login not in assignees:
                self.emit(Change(_event(updated), "unassigned", repo, actor, updated, user=login))
        return updated

    def set_requested_reviewers(self, repo: RepoStore, number: int, logins: list[str], actor: str) -> Issue:
        """Replace a PR's requested reviewers: review_requested or review_request_removed per change."""
        issue = self.pull(repo, number)
        assert issue.pull is not None
        old = issue.pull.requested_reviewers
        wanted = tuple(dict.fromkeys(r for r in logins if r in self.users))
        updated = self.touch(repo, number, pull=replace(issue.pull, requested_reviewers=wanted))
        for login in wanted:
            if login not in old:
                self.emit(Change("pull_request", "review_requested", repo, actor, updated, user=login))
        for login in old:
            if login not in wanted:
                self.emit(Change("pull_request", "review_request_removed", repo, actor, updated, user=login))
        return updated

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
        self.emit(Change("status", None, repo, creator, status=status))
        return status

    def add_review(self, repo: RepoStore, number: int, user: str, state: str, body: str) -> Review:
        """Submit a review on the PR's head; the reviewer's pending review request is fulfilled."""
        issue = self.pull(repo, number)
        assert issue.pull is not None
        review = Review(next(self.ids), number, user, state, body, issue.pull.head_sha, self.now())
        repo.reviews.setdefault(number, []).append(review)
        requested = tuple(r for r in issue.pull.requested_reviewers if r != user)
        updated = self.touch(repo, number, pull=replace(issue.pull, requested_reviewers=requested))
        self.emit(Change("pull_request_review", "submitted", repo, user, updated, review=review))
        return review


def _event(issue: Issue) -> str:
    return "issues" if issue.pull is None else "pull_request"


def merge_base(repo: RepoStore, a: str, b: str) -> str | None:
    """The nearest commit reachable from both `a` and `b` (first found walking back from `a`)."""
    theirs = reachable(repo, b)
    for sha in _walk(repo, a):
        if sha in theirs:
            return sha
    return None


def three_way(
    base: Mapping[str, str], ours: Mapping[str, str], theirs: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """A file-level merge of `theirs` into `ours` since `base`: the merged snapshot and the conflicting paths."""
    merged = dict(ours)
    conflicts: list[str] = []
    for path in sorted(set(base) | set(theirs)):
        was, now = base.get(path), theirs.get(path)
        if now == was:
            continue
        if ours.get(path) not in (was, now):
            conflicts.append(path)
        elif now is None:
            merged.pop(path, None)
        else:
            merged[path] = now
    return merged, conflicts


def reachable(repo: RepoStore, start: str | None) -> set[str]:
    return set(_walk(repo, start)) if start else set()


def _walk(repo: RepoStore, start: str | None) -> Iterator[str]:
    """Commits reachable from `start`, nearest first (breadth first over all parents)."""
    seen: set[str] = set()
    todo = [start] if start else []
    while todo:
        nxt: list[str] = []
        for sha in todo:
            if sha in seen or sha not in repo.commits:
                continue
            seen.add(sha)
            yield sha
            nxt.extend(repo.commits[sha].parents)
        todo = nxt


def _push(repo: RepoStore, branch: str, old: str | None, new: str) -> Push:
    """The push that moved `branch` from `old` (None: created) to `new`.

    The commits are those `new` brings that `old` (or, for a new branch, the default branch) did not have.
    """
    known = reachable(repo, old if old is not None else repo.branches.get(repo.info.default_branch))
    fresh = _oldest_first(repo, new, known)
    forced = old is not None and old not in reachable(repo, new)
    return Push(f"refs/heads/{branch}", old or ZERO_SHA, new, old is None, forced, tuple(fresh[-2048:]))


def _oldest_first(repo: RepoStore, start: str, known: set[str]) -> list[str]:
    """Commits reachable from `start` but not in `known`, parents before children."""
    order: list[str] = []
    seen: set[str] = set()
    stack: list[tuple[str, bool]] = [(start, False)]
    while stack:
        sha, children_done = stack.pop()
        if children_done:
            order.append(sha)
            continue
        if sha in seen or sha in known or sha not in repo.commits:
            continue
        seen.add(sha)
        stack.append((sha, True))
        stack.extend((parent, False) for parent in reversed(repo.commits[sha].parents))
    return order


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
