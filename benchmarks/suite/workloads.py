"""The suite's workloads as data: what each client asks and when, generated from a seed with no I/O.

A plan names repositories, pull requests, tokens and the changes ghsim makes between rounds; the runner turns it
into requests (filling in what only the answers can tell, such as a pull request's head SHA). The same seed and
scale always give the same plan, so the tokens a run spends are the same from run to run.

The numbers of pull requests follow ghsim's seeded dataset: numbers 1..prs_per_repo are pull requests and every
fifth is closed; in an org with two or more repositories the last one is private.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal, TypeVar

from benchmarks.suite.scale import Scale

PRS_PER_REPO = 8  # ghsim's default
ORG = "org0"
MutationKind = Literal["touch_pr", "touch_issue", "push_pr", "comment"]
WriteKind = Literal["label", "comment", "status"]
# Prow's components each with a token of its own, as Prow runs them (or with budget identifiers).
HOOK, TIDE, EXTERNAL = "sim_ci-robot", "sim_merge-robot", "sim_bob"
HERD_TOKEN = WRITE_TOKEN = "sim_ci-robot"
# Webhook events one change sends to hook, as GitHub does: a push brings the synchronize event and CI's statuses.
EVENTS: dict[str, tuple[str, ...]] = {
    "push_pr": ("pull_request.synchronize", "status", "status"),
    "comment": ("issue_comment.created",),
    "touch_pr": ("pull_request.edited",),
}
CHANGE_WEIGHTS: dict[MutationKind, float] = {"comment": 0.4, "touch_pr": 0.3, "push_pr": 0.3}
WRITE_WEIGHTS: dict[WriteKind, float] = {"label": 0.45, "status": 0.4, "comment": 0.15}
WRITE_LABELS = ("lgtm", "approved", "kind/bug", "size/S", "size/M")
K = TypeVar("K", bound=str)


@dataclass(frozen=True, slots=True)
class Mutation:
    """A change ghsim makes to its data through `/_sim/mutate` (never through the proxy, never charged)."""

    repo: str
    kind: MutationKind
    number: int


@dataclass(frozen=True, slots=True)
class Tick:
    """One polling round of prow-steady: changes land, hook and plugins react to their webhooks, tide syncs."""

    index: int
    changes: tuple[Mutation, ...]


@dataclass(frozen=True, slots=True)
class SteadyPlan:
    repos: tuple[str, ...]
    open_prs: tuple[int, ...]
    ticks: tuple[Tick, ...]
    tick_s: float  # real seconds between the starts of two rounds


@dataclass(frozen=True, slots=True)
class HerdRound:
    changes: tuple[Mutation, ...]  # made before the round starts
    orders: tuple[tuple[int, ...], ...]  # per client: indexes into HerdPlan.paths, in the order it asks


@dataclass(frozen=True, slots=True)
class HerdPlan:
    paths: tuple[str, ...]
    rounds: tuple[HerdRound, ...]
    round_s: float


@dataclass(frozen=True, slots=True)
class Write:
    kind: WriteKind
    repo: str
    number: int
    label: str = ""


@dataclass(frozen=True, slots=True)
class WritePlan:
    """Each writer reads the pull requests it writes to (their head SHAs), then sends its writes one after another."""

    writers: tuple[tuple[Write, ...], ...]

    @property
    def writes(self) -> int:
        return sum(len(w) for w in self.writers)


@dataclass(frozen=True, slots=True)
class RotationPlan:
    """GitHub App components: each rotation every component mints a token, then all poll the same resources."""

    components: int
    polls: int  # polling rounds per rotation
    paths: tuple[str, ...]
    changes: tuple[tuple[Mutation, ...], ...]  # per rotation, made before its tokens are minted
    ttl_s: int  # installation token lifetime (one simulated hour)

    @property
    def rotations(self) -> int:
        return len(self.changes)


Plan = SteadyPlan | HerdPlan | WritePlan | RotationPlan


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    summary: str
    plan: Plan
    repos: int  # ghsim --repos
    replicas: int = 1  # ghproxy processes sharing one Redis


def repo_names(count: int) -> tuple[str, ...]:
    return tuple(f"{ORG}/repo{r}" for r in range(count))


def open_prs() -> tuple[int, ...]:
    return tuple(n for n in range(1, PRS_PER_REPO + 1) if n % 5 != 0)


def _pick(rng: random.Random, weights: dict[K, float]) -> K:
    names = sorted(weights)
    return rng.choices(names, [weights[n] for n in names])[0]


def steady(scale: Scale, seed: int) -> SteadyPlan:
    """Tide-like polling of every repository's pull requests, and the changes hook and plugins react to."""
    rng = random.Random(f"prow-steady/{seed}")
    repos, prs = repo_names(scale.repos), open_prs()
    everything = [(r, n) for r in repos for n in prs]
    ticks = []
    for index in range(scale.ticks):
        # the first round is the cold start: nothing changes before it
        chosen = rng.sample(everything, min(len(everything), scale.changes_per_tick)) if index else []
        changes = tuple(Mutation(r, _pick(rng, CHANGE_WEIGHTS), n) for r, n in chosen)
        ticks.append(Tick(index, changes))
    return SteadyPlan(repos, prs, tuple(ticks), scale.tick_s / scale.speed)


HERD_REPO = f"{ORG}/repo0"
HERD_PR = 1
HERD_PATHS = (
    f"/repos/{HERD_REPO}",
    f"/repos/{HERD_REPO}/pulls/{HERD_PR}",
    f"/repos/{HERD_REPO}/pulls/{HERD_PR}/files",
    f"/repos/{HERD_REPO}/pulls/{HERD_PR}/commits",
    f"/repos/{HERD_REPO}/issues/{HERD_PR}/comments",
    f"/repos/{HERD_REPO}/issues/{HERD_PR}/labels",
    f"/repos/{HERD_REPO}/commits/feature-{HERD_PR}/status",
    f"/repos/{HERD_REPO}/branches/main",
    f"/repos/{HERD_REPO}/labels",
    f"/repos/{HERD_REPO}/contents/OWNERS",
)


def herd(scale: Scale, seed: int) -> HerdPlan:
    """Many clients of one token asking for one pull request's resources at once, each in its own order."""
    rng = random.Random(f"herd/{seed}")
    rounds = []
    for index in range(scale.herd_rounds):
        # between rounds the pull request gets a comment, and every third round a push
        changes: tuple[Mutation, ...] = ()
        if index:
            kind: MutationKind = "push_pr" if index % 3 == 2 else "comment"
            changes = (Mutation(HERD_REPO, kind, HERD_PR),)
        orders = tuple(tuple(rng.sample(range(len(HERD_PATHS)), len(HERD_PATHS))) for _ in range(scale.herd_clients))
        rounds.append(HerdRound(changes, orders))
    return HerdPlan(HERD_PATHS, tuple(rounds), scale.herd_round_s / scale.speed)


def write_burst(scale: Scale, seed: int) -> WritePlan:
    """Label, status and comment storms on a few pull requests from many clients sharing one token."""
    rng = random.Random(f"write-burst/{seed}")
    targets = [(r, n) for r in repo_names(2) for n in open_prs()[:4]]
    writes = []
    for _ in range(scale.writes):
        repo, number = rng.choice(targets)
        kind = _pick(rng, WRITE_WEIGHTS)
        writes.append(Write(kind, repo, number, rng.choice(WRITE_LABELS) if kind == "label" else ""))
    writers = tuple(tuple(writes[i :: scale.writers]) for i in range(scale.writers))
    return WritePlan(writers)


ROTATION_REPO = f"{ORG}/repo0"


def rotation(scale: Scale, seed: int) -> RotationPlan:
    """Components that poll the same resources with installation tokens that rotate every (simulated) hour."""
    rng = random.Random(f"app-rotation/{seed}")
    candidates = [f"/repos/{ROTATION_REPO}", f"/repos/{ROTATION_REPO}/labels", f"/repos/{ROTATION_REPO}/branches"]
    for n in open_prs():
        candidates += [f"/repos/{ROTATION_REPO}/pulls/{n}", f"/repos/{ROTATION_REPO}/issues/{n}/comments"]
    paths = tuple(sorted(rng.sample(candidates, min(len(candidates), scale.rotation_paths))))
    polled = sorted({int(p.split("/")[5]) for p in paths if p.count("/") >= 5})
    changes = []
    for index in range(scale.rotations):
        # an hour of changes: a comment on one of the polled pull requests
        picked = () if index == 0 or not polled else (Mutation(ROTATION_REPO, "comment", rng.choice(polled)),)
        changes.append(picked)
    return RotationPlan(scale.components, scale.polls, paths, tuple(changes), scale.token_ttl_s)


WORKLOADS = ("prow-steady", "app-rotation", "herd", "write-burst", "replicas")


def build(name: str, scale: Scale, seed: int) -> Workload:
    """The named workload at this scale."""
    if name == "prow-steady":
        return Workload(name, "tide polls, hook and a plugin react to changes", steady(scale, seed), scale.repos)
    if name == "replicas":
        return Workload(name, "prow-steady through 3 ghproxy sharing Redis", steady(scale, seed), scale.repos, 3)
    if name == "herd":
        return Workload(name, f"{scale.herd_clients} clients, one token, same resources", herd(scale, seed), 1)
    if name == "write-burst":
        summary = f"{scale.writes} writes from {scale.writers} clients on one token"
        return Workload(name, summary, write_burst(scale, seed), 2)
    if name == "app-rotation":
        summary = f"{scale.components} app components, token rotates {scale.rotations}x"
        return Workload(name, summary, rotation(scale, seed), 1)
    raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
