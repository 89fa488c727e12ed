"""Every endpoint method against a real ghsim behind a real ghproxy: what plugins see and what GitHub charges."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from prow_lite.github import GitHubClient, GitHubError, MissingUsers, NotFound, TokenAuth
from tests.conftest import Sim, StartProxy, StartSim
from tests.support.servers import ThreadedServer

ORG, REPO, PRIVATE = "org0", "repo0", "repo2"

Stack = tuple[Sim, ThreadedServer]


def sim_get(sim: Sim, path: str, token: str = "sim_alice") -> Any:
    """Read ghsim directly (the ground truth the client's answers are compared with)."""
    req = urllib.request.Request(sim.url + path, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


async def truth(sim: Sim, path: str) -> Any:
    return await asyncio.to_thread(sim_get, sim, path)


@pytest.fixture
def stack(start_sim: StartSim, start_proxy: StartProxy) -> Stack:
    sim = start_sim(min_mutation_interval_s=0, secondary_retry_after_s=1)
    return sim, start_proxy(sim.url, mutation_interval_s=0)


@pytest.fixture
async def clients(stack: Stack) -> AsyncIterator[Callable[..., GitHubClient]]:
    made: list[GitHubClient] = []

    def make(token: str = "sim_alice", component: str = "hook", **kwargs: Any) -> GitHubClient:
        gh = GitHubClient(stack[1].url, TokenAuth(token), component, backoff_s=0.01, **kwargs)
        made.append(gh)
        return gh

    yield make
    for gh in made:
        await gh.close()


async def test_repository_and_git_reads_match_ghsim(stack: Stack, clients: Callable[..., GitHubClient]) -> None:
    sim, _ = stack
    gh = clients()
    repo = await gh.get_repo(ORG, REPO)
    assert repo["full_name"] == f"{ORG}/{REPO}" and repo["default_branch"] == "main"
    branch = await gh.get_branch(ORG, REPO, "main")
    head = branch["commit"]["sha"]
    assert head == (await truth(sim, f"/repos/{ORG}/{REPO}/branches/main"))["commit"]["sha"]
    assert await gh.get_ref(ORG, REPO, "heads/main") == head
    assert await gh.get_ref(ORG, REPO, "refs/heads/feature-1") == (await gh.get_pull(ORG, REPO, 1))["head"]["sha"]
    commit = await gh.get_commit(ORG, REPO, head)
    assert commit["sha"] == head
    assert commit["tree"]["sha"] == (await truth(sim, f"/repos/{ORG}/{REPO}/git/commits/{head}"))["tree"]["sha"]
    assert (
        await gh.get_file(ORG, REPO, "OWNERS", "main") == b"approvers:\n- alice\n- bob\nreviewers:\n- carol\n- dave\n"
    )
    readme = await truth(sim, f"/repos/{ORG}/{REPO}/contents/README.md")
    assert await gh.get_file(ORG, REPO, "README.md") == base64.b64decode(readme["content"])
    assert await gh.get_file(ORG, REPO, "no/such/file.txt", "main") is None
    assert await gh.bot_login() == "alice"


async def test_pull_request_reads_match_ghsim(stack: Stack, clients: Callable[..., GitHubClient]) -> None:
    sim, _ = stack
    gh = clients()
    pull = await gh.get_pull(ORG, REPO, 1)
    assert pull["number"] == 1 and pull["head"]["ref"] == "feature-1"
    files = await gh.list_pull_files(ORG, REPO, 1)
    assert [f["filename"] for f in files] == [
        f["filename"] for f in await truth(sim, f"/repos/{ORG}/{REPO}/pulls/1/files?per_page=100")
    ]
    assert "src/feature1.py" in {f["filename"] for f in files}
    commits = await gh.list_pull_commits(ORG, REPO, 1)
    assert commits[-1]["sha"] == pull["head"]["sha"]
    reviews = await gh.list_reviews(ORG, REPO, 1)
    direct = await truth(sim, f"/repos/{ORG}/{REPO}/pulls/1/reviews?per_page=100")
    assert [(r["id"], r["state"]) for r in reviews] == [(r["id"], r["state"]) for r in direct]
    pulls = await gh.list_pulls(ORG, REPO, state="all")
    assert sorted(p["number"] for p in pulls) == list(range(1, 9))
    open_pulls = await gh.list_pulls(ORG, REPO, base="main")
    assert {p["number"] for p in open_pulls} == {p["number"] for p in pulls if p["state"] == "open"}
    issue = await gh.get_issue(ORG, REPO, 9)
    assert issue["number"] == 9 and "pull_request" not in issue
    found = await gh.search_issues(f"repo:{ORG}/{REPO} is:pr is:open")
    assert {i["number"] for i in found} == {p["number"] for p in pulls if p["state"] == "open"}


async def test_labels_added_removed_and_missing_removal_is_fine(clients: Callable[..., GitHubClient]) -> None:
    gh = clients()
    repo_labels = await gh.list_repo_labels(ORG, REPO)
    assert {"lgtm", "approved", "do-not-merge/hold"} <= set(repo_labels)
    after = await gh.add_labels(ORG, REPO, 2, ["do-not-merge/hold", "lgtm"])
    assert {"do-not-merge/hold", "lgtm"} <= set(after)
    assert set(await gh.list_issue_labels(ORG, REPO, 2)) == set(after)
    await gh.remove_label(ORG, REPO, 2, "do-not-merge/hold")  # one path segment: the slash is encoded
    labels = await gh.list_issue_labels(ORG, REPO, 2)
    assert "do-not-merge/hold" not in labels and "lgtm" in labels
    await gh.remove_label(ORG, REPO, 2, "do-not-merge/hold")  # already gone: not an error
    with pytest.raises(NotFound):
        await gh.add_labels(ORG, REPO, 999, ["lgtm"])


async def test_comment_lifecycle(clients: Callable[..., GitHubClient]) -> None:
    gh = clients()
    made = await gh.create_comment(ORG, REPO, 3, "/lgtm\n\nfirst")
    assert made["user"]["login"] == "alice" and made["body"] == "/lgtm\n\nfirst"
    assert made["id"] in {c["id"] for c in await gh.list_comments(ORG, REPO, 3)}
    edited = await gh.edit_comment(ORG, REPO, made["id"], "edited")
    assert edited["body"] == "edited"
    assert {c["id"]: c["body"] for c in await gh.list_comments(ORG, REPO, 3)}[made["id"]] == "edited"
    await gh.delete_comment(ORG, REPO, made["id"])
    assert made["id"] not in {c["id"] for c in await gh.list_comments(ORG, REPO, 3)}
    with pytest.raises(NotFound):
        await gh.delete_comment(ORG, REPO, made["id"])


async def test_membership_and_collaborators(clients: Callable[..., GitHubClient]) -> None:
    gh = clients()
    assert await gh.is_member(ORG, "bob") is True
    assert await gh.is_member(ORG, "erin") is False
    assert await gh.is_collaborator(ORG, REPO, "carol") is True
    assert await gh.is_collaborator(ORG, REPO, "erin") is False
    assert await gh.is_collaborator(ORG, PRIVATE, "bob") is True
    assert await gh.collaborator_permission(ORG, REPO, "dave") == "triage"
    assert await gh.collaborator_permission(ORG, REPO, "alice") == "admin"


async def test_private_repository_is_not_found_for_an_outsider(clients: Callable[..., GitHubClient]) -> None:
    with pytest.raises(NotFound) as caught:
        await clients("sim_erin").get_repo(ORG, PRIVATE)
    assert caught.value.status == 404 and caught.value.message == "Not Found"
    assert caught.value.path == f"/repos/{ORG}/{PRIVATE}"
    assert (await clients("sim_bob").get_repo(ORG, PRIVATE))["private"] is True


async def test_statuses_with_prow_truncation(clients: Callable[..., GitHubClient]) -> None:
    gh = clients()
    head = (await gh.get_pull(ORG, REPO, 2))["head"]["sha"]
    long = "Job triggered. " * 10 + " BaseSHA:" + "b" * 40
    made = await gh.create_status(ORG, REPO, head, "pending", "ci/e2e", long, "http://prow.example/job/1")
    assert made["description"] == long[:67] + " ... " + long[-67:]  # Prow's cut: (140 - 5) // 2 from each end
    assert made["description"].endswith(" BaseSHA:" + "b" * 40)
    assert made["target_url"] == "http://prow.example/job/1"
    statuses = await gh.list_statuses(ORG, REPO, head)
    assert statuses[0]["context"] == "ci/e2e" and statuses[0]["state"] == "pending"
    combined = await gh.combined_status(ORG, REPO, head)
    assert combined["state"] == "pending" and combined["sha"] == head
    assert {"ci/e2e", "ci/lint"} <= {s["context"] for s in combined["statuses"]}
    with pytest.raises(GitHubError) as caught:
        await gh.create_status(ORG, REPO, head, "bogus", "ci/e2e")
    assert caught.value.status == 422


async def test_assignees_and_review_requests(clients: Callable[..., GitHubClient]) -> None:
    gh = clients()
    issue = await gh.add_assignees(ORG, REPO, 4, ["carol"])
    assert "carol" in {a["login"] for a in issue["assignees"]}
    with pytest.raises(MissingUsers) as caught:
        await gh.add_assignees(ORG, REPO, 4, ["carol", "no-such-user"])
    assert caught.value.users == ("no-such-user",)
    issue = await gh.remove_assignees(ORG, REPO, 4, ["carol"])
    assert "carol" not in {a["login"] for a in issue["assignees"]}
    assert "carol" not in {a["login"] for a in (await gh.get_issue(ORG, REPO, 4))["assignees"]}
    pull = await gh.request_reviewers(ORG, REPO, 4, ["dave"])
    assert pull is not None and "dave" in {r["login"] for r in pull["requested_reviewers"]}
    assert "dave" in {r["login"] for r in (await gh.get_pull(ORG, REPO, 4))["requested_reviewers"]}
    pull = await gh.remove_review_requests(ORG, REPO, 4, ["dave"])
    assert "dave" not in {r["login"] for r in pull["requested_reviewers"]}
    assert "dave" not in {r["login"] for r in (await gh.get_pull(ORG, REPO, 4))["requested_reviewers"]}


async def test_team_members(clients: Callable[..., GitHubClient]) -> None:
    gh = clients()
    assert sorted(await gh.team_members(ORG, "maintainers")) == ["alice", "bob"]
    assert sorted(await gh.team_members(ORG, "reviewers")) == ["carol", "dave"]
    with pytest.raises(NotFound):
        await gh.team_members(ORG, "no-such-team")


async def test_merge_is_pinned_to_the_head_sha(clients: Callable[..., GitHubClient]) -> None:
    gh = clients("sim_merge-robot", component="tide")
    pull = await gh.get_pull(ORG, REPO, 1)
    with pytest.raises(GitHubError) as caught:
        await gh.merge_pull(ORG, REPO, 1, "0" * 40, method="squash")
    assert caught.value.status == 409 and "modified" in caught.value.message
    merged = await gh.merge_pull(ORG, REPO, 1, pull["head"]["sha"], title="Merge #1")
    assert merged["merged"] is True
    assert (await gh.get_branch(ORG, REPO, "main"))["commit"]["sha"] == merged["sha"]
    assert (await gh.get_pull(ORG, REPO, 1))["merged"] is True
    with pytest.raises(GitHubError) as caught:
        await gh.merge_pull(ORG, REPO, 1, pull["head"]["sha"])
    assert caught.value.status == 405


async def test_second_identical_get_is_revalidated_and_free(stack: Stack, clients: Callable[..., GitHubClient]) -> None:
    sim, _ = stack
    gh = clients()
    first = await gh.request("GET", f"/repos/{ORG}/{REPO}/pulls/1")
    second = await gh.request("GET", f"/repos/{ORG}/{REPO}/pulls/1")
    assert (first.cache_mode, second.cache_mode) == ("MISS", "REVALIDATED")
    assert first.json() == second.json()
    ledger = await asyncio.to_thread(sim.ledger, "sim_alice")
    assert (ledger["requests"], ledger["charged"], ledger["free_304"]) == (2, 1, 1)
    await gh.get_pull(ORG, REPO, 1)
    assert (await asyncio.to_thread(sim.ledger, "sim_alice"))["charged"] == 1


async def test_pagination_over_pages_stays_on_the_proxy(stack: Stack, clients: Callable[..., GitHubClient]) -> None:
    sim, proxy = stack
    gh = clients()
    issues = await gh.paginate(f"/repos/{ORG}/{REPO}/issues", {"state": "all", "per_page": 3})
    assert sorted(i["number"] for i in issues) == list(range(1, 17))
    pages = [r for r in await asyncio.to_thread(sim.requests) if r["path"].startswith(f"/repos/{ORG}/{REPO}/issues?")]
    assert len(pages) == 6
    # a second walk is answered by free 304s: every page, next links included, went through the proxy
    charged = (await asyncio.to_thread(sim.ledger, "sim_alice"))["charged"]
    again = await gh.paginate(f"/repos/{ORG}/{REPO}/issues", {"state": "all", "per_page": 3})
    assert again == issues
    assert (await asyncio.to_thread(sim.ledger, "sim_alice"))["charged"] == charged
    metrics = await asyncio.to_thread(lambda: urllib.request.urlopen(proxy.url + "/metrics", timeout=10).read())
    revalidated = [
        line
        for line in metrics.decode().splitlines()
        if line.startswith("ghcache_responses{") and 'mode="REVALIDATED"' in line and "/issues" in line
    ]
    assert revalidated and float(revalidated[0].rsplit(" ", 1)[1]) == 6


async def test_budget_identifier_and_user_agent_reach_the_proxy(
    stack: Stack, clients: Callable[..., GitHubClient]
) -> None:
    _, proxy = stack
    await clients(component="trigger").get_repo(ORG, REPO)
    await clients(component="lgtm", budget_identifier="prow-bot").get_repo(ORG, REPO)
    metrics = await asyncio.to_thread(lambda: urllib.request.urlopen(proxy.url + "/metrics", timeout=10).read())
    lines = [line for line in metrics.decode().splitlines() if line.startswith("ghcache_responses{")]
    assert any('token_hash="trigger"' in line and 'user_agent="prow-lite-trigger"' in line for line in lines)
    assert any('token_hash="prow-bot"' in line and 'user_agent="prow-lite-lgtm"' in line for line in lines)


async def test_secondary_limit_answer_is_waited_out(start_sim: StartSim, start_proxy: StartProxy) -> None:
    """ghsim refuses a second mutation within a second (403, retry-after 1); the client waits and succeeds.

    The proxy's own spacing of mutations is off here, so GitHub's answer is what the client sees.
    """
    sim = start_sim(secondary_retry_after_s=1)
    proxy = start_proxy(sim.url, secondary_limits=False, mutation_interval_s=0)
    async with GitHubClient(proxy.url, TokenAuth("sim_carol"), "hook", backoff_s=0.01) as gh:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(3):
            await gh.create_comment(ORG, REPO, 5, f"comment {n}")
        assert loop.time() - started >= 1.0
    bodies = [c["body"] for c in await asyncio.to_thread(sim_get, sim, f"/repos/{ORG}/{REPO}/issues/5/comments")]
    assert bodies[-3:] == ["comment 0", "comment 1", "comment 2"]
    assert (await asyncio.to_thread(sim.ledger, "sim_carol"))["secondary_limited"] >= 1
