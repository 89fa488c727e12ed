"""A user's day, end to end: ghsim sends its real signed webhooks to a `prow-lite hook` process, whose only GitHub
is ghproxy in front of ghsim. People act through ghsim (`/_sim/act/...`); the test reads what a user would see
(labels, comments, statuses) from ghsim and the jobs from the hook's job store."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from prow_lite.jobs import JobState, JobStore
from tests.conftest import Sim, StartProxy, StartSim
from tests.prow_lite.hook.processes import HookProcess

SECRET = "a-day-at-the-office"
BOT = "ci-robot"
REPO = "org0/repo0"

CONFIG = """\
prowjob_namespace: default
presubmits:
  org0/repo0:
  - name: unit
    always_run: true
    command: ["make", "test"]
  - name: docs
    run_if_changed: '^docs/'
    command: ["make", "docs"]
  - name: e2e
    command: ["make", "e2e"]
"""
PLUGINS = """\
plugins:
  org0:
    plugins: [trigger, lgtm, approve, hold, label, assign, unknown-command]
triggers:
- repos: [org0]
  trusted_org: org0
"""
OWNERS = {"OWNERS": "approvers:\n- carol\nreviewers:\n- bob\n", "docs/OWNERS": "approvers:\n- dave\n"}


def call(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=20) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


class Day:
    """The people, GitHub (ghsim) and the hook's job store, with waits that end when the hook has caught up."""

    def __init__(self, sim: Sim, proxy_url: str, hook: HookProcess, data_dir: Path) -> None:
        self.sim, self.proxy_url, self.hook, self.data_dir = sim, proxy_url, hook, data_dir

    def act(self, what: str, who: str, **body: Any) -> Any:
        return call(f"{self.sim.url}/_sim/act/{what}", "POST", {"as": who, "repo": REPO, **body})

    def github(self, path: str) -> Any:
        return call(f"{self.sim.url}/repos/{REPO}{path}", token="sim_alice")

    def settle(self) -> None:
        """Every webhook delivered and every queued delivery handled."""
        call(f"{self.sim.url}/_sim/deliveries/wait", "POST", {"timeout": 20})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            counts = call(f"{self.hook.url}/queue")["counts"]
            if counts["queued"] == 0:
                assert counts["failed"] == 0, call(f"{self.hook.url}/queue")
                return
            time.sleep(0.05)
        raise AssertionError(f"the hook did not catch up: {counts}")

    def labels(self, number: int) -> set[str]:
        return {label["name"] for label in self.github(f"/issues/{number}/labels")}

    def bot_comments(self, number: int) -> list[str]:
        return [c["body"] for c in self.github(f"/issues/{number}/comments?per_page=100") if c["user"]["login"] == BOT]

    def statuses(self, sha: str) -> dict[str, dict[str, Any]]:
        return {s["context"]: s for s in reversed(self.github(f"/commits/{sha}/statuses?per_page=100"))}

    def jobs(self, number: int) -> list[tuple[str, JobState, str]]:
        store = JobStore(self.data_dir / "jobs.db")
        try:
            return sorted((j.job, j.state, j.refs.pulls[0].sha) for j in store.list(number=number) if j.refs)
        finally:
            store.close()


@pytest.fixture
def day(tmp_path: Path, start_sim: StartSim, start_proxy: StartProxy) -> Iterator[Day]:
    # GitHub's secondary limits raised on both sides: this test is about prow_lite, not pacing (ghproxy's tests are)
    sim = start_sim(min_mutation_interval_s=0, points_per_minute=60_000)
    proxy = start_proxy(sim.url, mutation_interval_s=0, points_per_minute=60_000)
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "plugins.yaml").write_text(PLUGINS)
    (tmp_path / "hmac").write_text(SECRET + "\n")
    (tmp_path / "token").write_text(f"sim_{BOT}\n")
    data_dir = tmp_path / "data"
    hook = HookProcess(
        "--config-path", str(tmp_path / "config.yaml"), "--plugin-config", str(tmp_path / "plugins.yaml"),
        "--hmac-secret-file", str(tmp_path / "hmac"), "--github-token-path", str(tmp_path / "token"),
        "--github-endpoint", proxy.url, "--data-dir", str(data_dir),
        log_dir=tmp_path,
    )  # fmt: skip
    hook.start()
    call(f"{sim.url}/_sim/webhooks", "POST", {"url": f"{hook.url}/hook", "secret": SECRET})
    made = Day(sim, proxy.url, hook, data_dir)
    made.act("push", "alice", branch="main", files=OWNERS)
    made.settle()
    try:
        yield made
    finally:
        hook.stop(signal.SIGTERM)


def test_trusted_and_untrusted_authors(day: Day) -> None:
    # alice (org0 member) changes code and docs: unit (always_run) and docs (run_if_changed), not e2e
    pr = day.act("pull", "alice", title="Faster parser", files={"src/parse.py": "fast = True\n", "docs/x.md": "x\n"})
    day.settle()
    sha = pr["head_sha"]
    assert day.jobs(pr["number"]) == [("docs", JobState.TRIGGERED, sha), ("unit", JobState.TRIGGERED, sha)]
    statuses = day.statuses(sha)
    assert {c: s["state"] for c, s in statuses.items()} == {"docs": "pending", "unit": "pending"}
    assert all(s["creator"]["login"] == BOT for s in statuses.values())

    # erin (outsider): needs-ok-to-test and a comment; no jobs until a member says /ok-to-test
    pr = day.act("pull", "erin", title="Typo", files={"src/typo.py": "x = 1\n"})
    day.settle()
    number = pr["number"]
    assert "needs-ok-to-test" in day.labels(number)
    comments = day.bot_comments(number)
    assert sum(c.startswith("Hi @erin. Thanks for your PR.") for c in comments) == 1, comments
    assert day.jobs(number) == []
    day.act("comment", "frank", number=number, body="/ok-to-test")  # another outsider: refused
    day.settle()
    assert day.jobs(number) == [] and "needs-ok-to-test" in day.labels(number)
    day.act("comment", "bob", number=number, body="/ok-to-test")
    day.settle()
    assert day.jobs(number) == [("unit", JobState.TRIGGERED, pr["head_sha"])]
    assert "needs-ok-to-test" not in day.labels(number) and "ok-to-test" in day.labels(number)
    assert day.statuses(pr["head_sha"])["unit"]["state"] == "pending"


def test_review_commands(day: Day) -> None:
    pr = day.act("pull", "alice", title="Docs and code", files={"src/a.py": "a = 1\n", "docs/a.md": "a\n"})
    number = pr["number"]
    day.settle()

    day.act("comment", "alice", number=number, body="/lgtm")
    day.settle()
    assert "lgtm" not in day.labels(number)
    assert any(c.startswith("@alice: you cannot LGTM your own PR.") for c in day.bot_comments(number))

    day.act("comment", "bob", number=number, body="/lgtm")
    day.settle()
    assert "lgtm" in day.labels(number)

    pushed = day.act("push", "alice", number=number, files={"src/a.py": "a = 2\n"})
    day.settle()
    assert "lgtm" not in day.labels(number)
    assert day.jobs(number)[-1] == ("unit", JobState.TRIGGERED, pushed["sha"])
    old = [job for job in day.jobs(number) if job[2] == pr["head_sha"]]
    assert old and all(state is JobState.ABORTED for _, state, _ in old)  # the new push aborted the older runs

    # carol approves the root (and so every file: no_parent_owners is not set in docs/)
    day.act("comment", "carol", number=number, body="/approve")
    day.settle()
    assert "approved" in day.labels(number)
    notifiers = [c for c in day.bot_comments(number) if "[APPROVALNOTIFIER]" in c]
    assert len(notifiers) == 1 and "This PR is **APPROVED**" in notifiers[0]

    # commands people use every day, and one nobody knows
    day.act("comment", "bob", number=number, body="/hold\n/kind bug")
    day.act("comment", "bob", number=number, body="/lgmt")
    day.settle()
    assert {"do-not-merge/hold", "kind/bug"} <= day.labels(number)
    assert any("/lgmt" in c and "/lgtm" in c for c in day.bot_comments(number))  # the reply suggests /lgtm


def test_every_github_request_of_the_hook_went_through_ghproxy(day: Day) -> None:
    pr = day.act("pull", "alice", title="Small", files={"src/b.py": "b = 1\n"})
    day.act("comment", "bob", number=pr["number"], body="/lgtm")
    day.settle()
    ledger = day.sim.ledger(f"sim_{BOT}")  # the hook's token is used by nothing else
    with urllib.request.urlopen(day.proxy_url + "/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    upstream = _sum(metrics, r'^github_request_duration_count\{[^}]*token_hash="hook"[^}]*\} (\S+)$')
    answered = _sum(metrics, r'^ghcache_responses\{[^}]*user_agent="prow-lite-hook"[^}]*\} (\S+)$')
    assert ledger["requests"] > 0
    assert ledger["requests"] == upstream  # ghsim saw exactly what ghproxy sent for the hook: nothing went around it
    assert answered >= upstream


def _sum(text: str, pattern: str) -> int:
    found: Callable[[str], list[str]] = re.compile(pattern, re.M).findall
    return int(sum(float(v) for v in found(text)))
