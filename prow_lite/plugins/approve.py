"""The approve plugin: the `approved` label and the `[APPROVALNOTIFIER]` comment from OWNERS approvals (Prow's
`approve`).

A PR is approved when every changed file is covered by an approval from one of its OWNERS approvers (nearest OWNERS
file and those above it, up to `no_parent_owners`). Approvals are `/approve` (`/approve no-issue`) comments,
approving reviews unless `ignore_review_state`, `/lgtm` when `lgtm_acts_as_approve`, and the author's own
approval unless `require_self_approval`; `/approve cancel`, `/remove-approve` and change-requesting reviews take an
approval back. The state is recomputed from the whole PR on each relevant event, so replays and reordering are
harmless; the notifier is one comment edited in place. OWNERS are read at the PR's base SHA.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prow_lite.approvals import (
    Approvals,
    Comment,
    find_associated_issue,
    is_approval_command,
    is_approval_state,
    is_notification,
    notification,
    read_approvals,
)
from prow_lite.events import GenericCommentEvent, PullRequestEvent, Repo, ReviewEvent
from prow_lite.github import GitHubError
from prow_lite.owners import LOADER, Filenames, RepoOwners
from prow_lite.plugins.base import Agent, Command, Plugin, PluginHelp, register, strip_code

APPROVED = "approved"


def _login(user: Any) -> str:
    return str((user or {}).get("login") or "")


def _is_bot(agent: Agent, login: str) -> bool:
    return login.lower() in (agent.bot.lower(), f"{agent.bot.lower()}[bot]")


async def _owners(agent: Agent, org: str, repo: str, base_sha: str, files: list[str]) -> tuple[RepoOwners, str]:
    """The OWNERS for these files at the base SHA, cut to collaborators unless `owners.skip_collaborators`."""
    names = agent.plugins.owners.filenames_for(org, repo)
    owners = await LOADER.load(agent.gh, org, repo, base_sha, files, Filenames(names.owners, names.owners_aliases))
    if not agent.plugins.owners.skips_collaborators(org, repo):
        try:
            collaborators = await agent.gh.paginate(f"/repos/{org}/{repo}/collaborators")
        except GitHubError as err:  # as Prow: without the list, no filtering
            agent.log.warning("cannot list collaborators of %s/%s, OWNERS unfiltered: %s", org, repo, err)
        else:
            owners = owners.only(_login(c) for c in collaborators)
    return owners, names.owners


async def recompute(agent: Agent, repo: Repo, pr: Mapping[str, Any]) -> Approvals:
    """Read the PR's approvals, set or clear `approved`, and bring the notifier comment up to date."""
    org, name, number = repo.org, repo.name, int(pr["number"])
    opts = agent.plugins.approve_for(org, name)
    gh = agent.gh
    files = [str(f["filename"]) for f in await gh.list_pull_files(org, name, number)]
    owners, owners_filename = await _owners(agent, org, name, str(pr["base"]["sha"]), files)
    author = _login(pr.get("user"))
    ap = Approvals(
        owners,
        files,
        seed=number,
        associated_issue=find_associated_issue(str(pr.get("body") or ""), org),
        require_issue=opts.issue_required,
    )
    if opts.has_self_approval:
        ap.add_author_self_approver(author, f"{pr.get('html_url', '')}#")
    comments = await gh.list_comments(org, name, number)
    reviews = await gh.list_reviews(org, name, number)
    read_approvals(
        ap,
        [
            *(Comment(_login(c.get("user")), strip_code(str(c.get("body") or "")), str(c.get("created_at") or ""),
                      str(c.get("html_url") or "")) for c in comments),
            *(Comment(_login(r.get("user")), strip_code(str(r.get("body") or "")), str(r.get("submitted_at") or ""),
                      str(r.get("html_url") or ""), str(r.get("state") or "")) for r in reviews),
        ],
        pr_author=author,
        is_bot=lambda login: _is_bot(agent, login),
        lgtm_acts_as_approve=opts.lgtm_acts_as_approve,
        review_acts_as_approve=opts.consider_review_state,
    )  # fmt: skip
    ap.add_assignees(_login(a) for a in pr.get("assignees") or ())
    message = notification(
        ap,
        org=org,
        repo=name,
        branch=str(pr["base"]["ref"]),
        command_help_link=opts.command_help_link,
        pr_process_link=opts.pr_process_link,
        owners_filename=owners_filename,
    )
    await _notify(agent, repo, number, comments, message)
    labels = await gh.list_issue_labels(org, name, number)
    if ap.is_approved() and APPROVED not in labels:
        await gh.add_labels(org, name, number, [APPROVED])
    elif not ap.is_approved() and APPROVED in labels:
        await gh.remove_label(org, name, number, APPROVED)
    return ap


async def _notify(agent: Agent, repo: Repo, number: int, comments: list[Any], message: str) -> None:
    """One notifier per PR: edit the latest in place when its text changed, delete any older duplicates."""
    ours = [c for c in comments if _is_bot(agent, _login(c.get("user"))) and is_notification(str(c.get("body") or ""))]
    if not ours:
        await agent.gh.create_comment(repo.org, repo.name, number, message)
        return
    *older, latest = ours
    for stale in older:
        await agent.gh.delete_comment(repo.org, repo.name, int(stale["id"]))
    if message not in str(latest.get("body") or ""):
        await agent.gh.edit_comment(repo.org, repo.name, int(latest["id"]), message)


async def handle_generic_comment(agent: Agent, ev: GenericCommentEvent) -> None:
    if ev.action != "created" or not ev.is_pr or ev.issue_state == "closed" or _is_bot(agent, ev.user):
        return
    opts = agent.plugins.approve_for(ev.repo.org, ev.repo.name)
    if not is_approval_command(strip_code(ev.body), lgtm_acts_as_approve=opts.lgtm_acts_as_approve):
        return
    await recompute(agent, ev.repo, await agent.gh.get_pull(ev.repo.org, ev.repo.name, ev.number))


async def handle_review(agent: Agent, ev: ReviewEvent) -> None:
    """A review that approves, requests changes or is dismissed; one carrying a command is the comment's."""
    if ev.action not in ("submitted", "dismissed") or _is_bot(agent, ev.reviewer):
        return
    opts = agent.plugins.approve_for(ev.repo.org, ev.repo.name)
    body = strip_code(str(ev.review.get("body") or ""))
    if is_approval_command(body, lgtm_acts_as_approve=opts.lgtm_acts_as_approve):
        return
    if not is_approval_state(ev.state, review_acts_as_approve=opts.consider_review_state):
        return
    await recompute(agent, ev.repo, ev.pull_request)


async def handle_pull_request(agent: Agent, ev: PullRequestEvent) -> None:
    if ev.action in ("opened", "reopened", "synchronize"):
        await recompute(agent, ev.repo, ev.pull_request)


PLUGIN = register(
    Plugin(
        name="approve",
        help=PluginHelp(
            description=(
                "The approve plugin implements a pull request approval process that manages the 'approved' label "
                "and an approval notification comment. Approval is achieved when the set of users that have "
                "approved the PR is capable of approving every file changed by the PR. A user is able to approve a "
                "file if their username or an alias they belong to is listed in the 'approvers' section of an "
                "OWNERS file in the directory of the file or higher in the directory tree."
            ),
            commands=(
                Command("approve", "/[remove-]approve [no-issue|cancel]", "Approves a pull request",
                        "Users listed as 'approvers' in appropriate OWNERS files.",
                        ("/approve", "/approve no-issue", "/remove-approve")),
                Command("remove-approve", "/remove-approve", "Cancels your approval of a pull request",
                        "Users listed as 'approvers' in appropriate OWNERS files.", ("/remove-approve",)),
            ),
            config=(
                "approve: issue_required, require_self_approval, lgtm_acts_as_approve, ignore_review_state, "
                "commandHelpLink, pr_process_link per org or repo; owners: skip_collaborators, filenames."
            ),
        ),
        generic_comment=handle_generic_comment,
        review=handle_review,
        pull_request=handle_pull_request,
    )
)  # fmt: skip
