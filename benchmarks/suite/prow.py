"""What Prow's components read, as the suite replays it: tide's sync, hook's plugins per webhook, an external plugin.

Each function is one component's reaction and sends its reads through the suite's `Client` with its own token.
The read lists follow what Prow's components ask GitHub for (trigger, lgtm, approve, size, blunderbuss in hook;
tide's pool of open pull requests and their combined statuses), restricted to endpoints ghsim serves.
"""

from __future__ import annotations

from typing import Any

from benchmarks.suite.client import Client, bounded
from benchmarks.suite.workloads import EXTERNAL, HOOK, TIDE

CONCURRENCY = 8  # requests in flight per component


def hook_reads(repo: str, number: int, event: str, pr: dict[str, Any]) -> list[str]:
    """What hook's plugins read for one webhook event, after reading the pull request itself."""
    base, head, author = pr["base"]["sha"], pr["head"]["sha"], pr["user"]["login"]
    issue = f"/repos/{repo}/issues/{number}"
    reads = [f"{issue}/labels"]  # label, hold, lgtm: the labels present
    if event == "pull_request.synchronize":
        reads += [
            f"/repos/{repo}/pulls/{number}/files",  # size, blunderbuss
            f"/repos/{repo}/git/commits/{head}",  # trigger: the commit to test
            f"/repos/{repo}/contents/OWNERS?ref={base}",  # approve, blunderbuss: OWNERS at the base
            f"/repos/{repo}/collaborators/{author}/permission",  # trigger: is the author trusted
        ]
    elif event == "issue_comment.created":
        reads += [
            f"{issue}/comments",  # lgtm, approve, hold: commands in comments
            f"/repos/{repo}/contents/OWNERS?ref={base}",
            f"/repos/{repo}/collaborators/{author}/permission",
        ]
    elif event == "pull_request.edited":
        reads += [f"{issue}/comments"]  # approve: re-reads approvals
    elif event == "status":
        reads += [f"/repos/{repo}/commits/{head}/status"]
    return reads


def external_reads(repo: str, number: int, pr: dict[str, Any]) -> list[str]:
    """An external plugin with its own token, on a push: the changed files and commits against OWNERS."""
    return [
        f"/repos/{repo}/pulls/{number}/files",
        f"/repos/{repo}/pulls/{number}/commits",
        f"/repos/{repo}/contents/OWNERS?ref={pr['base']['sha']}",
    ]


async def hook(client: Client, repo: str, number: int, events: tuple[str, ...], route: str) -> None:
    """Hook handles one pull request's burst of events in order; every event starts from a fresh read of the PR."""
    for event in events:
        pr = await client.get(HOOK, f"/repos/{repo}/pulls/{number}", route=route)
        if pr is None:
            continue
        for target in hook_reads(repo, number, event, pr):
            await client.get(HOOK, target, route=route)


async def external_plugin(client: Client, repo: str, number: int, route: str) -> None:
    pr = await client.get(EXTERNAL, f"/repos/{repo}/pulls/{number}", route=route)
    if pr is None:
        return
    for target in external_reads(repo, number, pr):
        await client.get(EXTERNAL, target, route=route)


async def tide(client: Client, repos: tuple[str, ...], route: str) -> None:
    """Tide's sync: every repository's open pull requests, then the combined status of each head."""
    listed = await bounded(
        (client.get(TIDE, f"/repos/{r}/pulls?state=open&per_page=100", route=route) for r in repos), CONCURRENCY
    )
    heads = [(repo, pr["head"]["sha"]) for repo, prs in zip(repos, listed, strict=True) for pr in prs or ()]
    await bounded((client.get(TIDE, f"/repos/{r}/commits/{sha}/status", route=route) for r, sha in heads), CONCURRENCY)
