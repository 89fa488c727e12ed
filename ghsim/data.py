"""The seeded dataset: the same seed and sizes always give the same orgs, users, repos, issues and PRs.

Names (documented in docs/ghsim.md):
- users `alice`, `bob`, `carol`, `dave` (org members), `erin`, `frank` (outsiders), and the machine users
  `ci-robot` and `merge-robot` (members); each has the token `sim_<login>`.
- orgs `org0`..`org{orgs-1}`; alice and ci-robot are org admins; teams `maintainers`, `reviewers`, `bots`.
- repos `orgK/repo0`..`orgK/repo{repos-1}`; when an org has two or more repos its last one is private and only
  alice, bob, ci-robot and merge-robot can read it.
- in each repo, pull requests are numbers 1..prs_per_repo, issues follow them.
"""

from __future__ import annotations

import difflib
import random
import time
from collections.abc import Callable

from ghsim.config import SimConfig
from ghsim.models import Issue, Label, Org, Permission, PullInfo, RepoInfo, Team, User
from ghsim.store import Dataset, RepoStore

EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z: seeded records are dated after it
MEMBERS = ("alice", "bob", "carol", "dave")
OUTSIDERS = ("erin", "frank")
ROBOTS = ("ci-robot", "merge-robot")
LOGINS = MEMBERS + OUTSIDERS + ROBOTS
# Explicit repository roles; everyone else reads public repositories.
PUBLIC_ROLES = {
    "bob": Permission.MAINTAIN,
    "carol": Permission.WRITE,
    "dave": Permission.TRIAGE,
    "merge-robot": Permission.WRITE,
}
PRIVATE_ROLES = {"bob": Permission.WRITE, "merge-robot": Permission.WRITE}
LABELS = (
    ("lgtm", "15dd18", "Indicates that a PR is ready to be merged."),
    ("approved", "0ffa16", "Indicates a PR has been approved by an approver from all required OWNERS files."),
    ("do-not-merge/hold", "e11d21", "Indicates that a PR should not merge because someone has issued a /hold."),
    ("needs-ok-to-test", "e2e2e2", "Indicates a PR that requires an org member to verify it is safe to test."),
    ("kind/bug", "e11d21", "Categorizes issue or PR as related to a bug."),
    ("kind/feature", "c7def8", "Categorizes issue or PR as related to a new feature."),
    ("size/S", "77bb00", "Denotes a PR that changes 10-29 lines, ignoring generated files."),
    ("size/M", "eebb00", "Denotes a PR that changes 30-99 lines, ignoring generated files."),
)
WORDS = [
    "fix",
    "add",
    "remove",
    "refactor",
    "update",
    "flaky",
    "test",
    "docs",
    "cache",
    "proxy",
    "retry",
    "token",
    "label",
    "merge",
    "pool",
]


def file_paths(count: int) -> list[str]:
    """README.md, OWNERS, then alternating `src/modN.py` and `docs/guideN.md`."""
    paths = ["README.md", "OWNERS"]
    i = 0
    while len(paths) < count:
        paths.append(f"src/mod{i}.py" if i % 2 == 0 else f"docs/guide{i}.md")
        i += 1
    return paths[: max(count, 1)]


def _content(rng: random.Random, path: str, lines: int) -> bytes:
    if path == "OWNERS":
        return b"approvers:\n- alice\n- bob\nreviewers:\n- carol\n- dave\n"
    text = [f"{path} line {n}: {' '.join(rng.choices(WORDS, k=4))}" for n in range(lines)]
    return ("\n".join(text) + "\n").encode()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(3, 6))).capitalize()


def generate(config: SimConfig, clock: Callable[[], float] | None = None) -> Dataset:
    """Build the whole dataset from `config.seed`; `clock` (for later writes) defaults to time.time."""
    rng = random.Random(config.seed)
    users = {login: User(login, 1001 + i, name=login.title(), created_at=EPOCH) for i, login in enumerate(LOGINS)}
    orgs: dict[str, Org] = {}
    data = Dataset(users=users, orgs=orgs, repos={})
    for k in range(config.orgs):
        login = f"org{k}"
        teams = (
            Team("maintainers", "maintainers", 3001 + 10 * k, ("alice", "bob"), Permission.MAINTAIN),
            Team("reviewers", "reviewers", 3002 + 10 * k, ("carol", "dave"), Permission.WRITE),
            Team("bots", "bots", 3003 + 10 * k, ROBOTS, Permission.ADMIN),
        )
        orgs[login] = Org(login, 2001 + k, MEMBERS + ROBOTS, ("alice", "ci-robot"), teams, EPOCH)
        for r in range(config.repos):
            private = config.repos >= 2 and r == config.repos - 1
            info = RepoInfo(
                owner=login,
                name=f"repo{r}",
                id=100_000 + 1000 * k + r,
                private=private,
                description=f"Simulated repository {login}/repo{r}",
                default_branch="main",
                created_at=EPOCH + 3600 * r,
                collaborators=dict(PRIVATE_ROLES if private else PUBLIC_ROLES),
            )
            data.repos[info.full_name.lower()] = _repo(data, rng, config, info)
    data.clock = clock or time.time
    return data


def _repo(data: Dataset, rng: random.Random, config: SimConfig, info: RepoInfo) -> RepoStore:
    repo = RepoStore(info=info, updated_at=info.created_at, pushed_at=info.created_at)
    for n, (name, color, description) in enumerate(LABELS):
        repo.labels[name] = Label(name, info.id * 100 + n, color, description, default=False)
    t = info.created_at
    data.clock = _fixed(t)
    paths = file_paths(config.files_per_repo)
    root = data.commit(repo, (), {p: _content(rng, p, rng.randint(3, 12)) for p in paths}, "alice", "Initial commit")
    repo.branches["main"] = root.sha
    data.add_status(repo, root.sha, "success", "ci/unit", "Job succeeded.", None, "ci-robot")
    issue_id = info.id * 1000
    for number in range(1, config.prs_per_repo + config.issues_per_repo + 1):
        t += 600
        data.clock = _fixed(t)
        author = rng.choice(MEMBERS + OUTSIDERS)
        labels = tuple(sorted(rng.sample([label[0] for label in LABELS], rng.randint(0, 3))))
        is_pr = number <= config.prs_per_repo
        state = "closed" if number % 5 == 0 else "open"
        pull = None
        if is_pr:
            head = _pr_head(data, rng, repo, root.sha, number, author, paths)
            repo.branches[f"feature-{number}"] = head
            pull = PullInfo(f"feature-{number}", head, "main", root.sha, mergeable=number % 7 != 3)
            if number % 2 == 1:
                data.add_status(repo, head, "pending", "ci/unit", "Job triggered.", None, "ci-robot")
                data.add_status(repo, head, "success", "ci/unit", "Job succeeded.", None, "ci-robot")
            data.add_status(repo, head, "success" if number % 3 else "failure", "ci/lint", None, None, "ci-robot")
        repo.issues[number] = Issue(
            number=number,
            id=issue_id + number,
            title=_sentence(rng),
            body=f"{_sentence(rng)}.\n\n/kind {'bug' if number % 2 else 'feature'}\n",
            user=author,
            state=state,
            labels=labels,
            assignees=tuple(rng.sample(MEMBERS, rng.randint(0, 1))),
            created_at=t,
            updated_at=t,
            closed_at=t + 300 if state == "closed" else None,
            pull=pull,
            pull_id=issue_id + 500 + number if is_pr else 0,
        )
        for _ in range(rng.randint(0, 3)):
            t += 60
            data.clock = _fixed(t)
            data.add_comment(repo, number, rng.choice(MEMBERS + ROBOTS), _sentence(rng))
        if is_pr:
            for _ in range(rng.randint(0, 2)):
                t += 60
                data.clock = _fixed(t)
                state_ = rng.choice(("APPROVED", "COMMENTED", "CHANGES_REQUESTED"))
                data.add_review(repo, number, rng.choice(("carol", "dave", "bob")), state_, _sentence(rng))
    repo.updated_at = t
    repo.pushed_at = t
    return repo


def _pr_head(
    data: Dataset, rng: random.Random, repo: RepoStore, base: str, number: int, author: str, paths: list[str]
) -> str:
    """A head commit that modifies one or two files, adds one and, every fourth PR, removes one."""
    snapshot = repo.commits[base].files
    changes: dict[str, bytes | None] = {}
    for path in rng.sample(paths[2:] or paths, min(2, len(paths[2:] or paths), rng.randint(1, 2))):
        old = repo.blobs[snapshot[path]].decode().splitlines(keepends=True)
        keep = old[: rng.randint(1, len(old))]
        changes[path] = ("".join(keep) + f"changed by #{number}: {_sentence(rng)}\n").encode()
    changes[f"src/feature{number}.py"] = _content(rng, f"src/feature{number}.py", rng.randint(2, 8))
    if number % 4 == 0 and len(paths) > 3:
        changes.setdefault(paths[-1], None)
    return data.commit(repo, (base,), changes, author, f"Change for #{number}").sha


def file_patch(old: bytes | None, new: bytes | None) -> tuple[str, int, int]:
    """A unified-diff hunk list (as GitHub's `patch` field shows it) with its additions and deletions."""
    a = old.decode().splitlines() if old else []
    b = new.decode().splitlines() if new else []
    lines = list(difflib.unified_diff(a, b, lineterm="", n=3))[2:]
    additions = sum(1 for line in lines if line.startswith("+"))
    deletions = sum(1 for line in lines if line.startswith("-"))
    return "\n".join(lines), additions, deletions


def _fixed(t: int) -> Callable[[], float]:
    return lambda: float(t)
