"""The lgtm plugin: the `lgtm` label from `/lgtm` comments and, if configured, approving reviews (Prow's `lgtm`).

Collaborators may add or remove the label; the author may only remove it ("you cannot LGTM your own PR."). A new
push removes the label, except that with `store_tree_hash` a push whose tree equals the one recorded when the label
was added (a squash, a rebase onto the same content) keeps it. The tree hash is recorded in a bot comment in Prow's
words, so a Prow and a prow_lite read each other's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prow_lite.events import GenericCommentEvent, PullRequestEvent, Repo, ReviewEvent
from prow_lite.github import GitHubClientError
from prow_lite.owners import Filenames, OwnersLoader, norm_login
from prow_lite.plugins.base import Agent, Command, Plugin, PluginHelp, format_response, register, strip_code

LGTM_LABEL = "lgtm"
# Prow's pkg/plugins/lgtm regexes.
LGTM_RE = re.compile(r"(?mi)^/lgtm(?: no-issue)?\s*$")
LGTM_CANCEL_RE = re.compile(r"(?mi)^/(remove-lgtm|lgtm cancel)\s*$")

SELF_LGTM = "you cannot LGTM your own PR."
NOT_COLLABORATOR = "changing LGTM is restricted to collaborators"
NOT_IN_OWNERS = "adding LGTM is restricted to approvers and reviewers in OWNERS files."
TREE_HASH_NOTICE = "LGTM label has been added.  <details>Git tree hash: {sha}</details>"
TREE_HASH_RE = re.compile(re.escape(TREE_HASH_NOTICE).replace(re.escape("{sha}"), "(.*)"))
REMOVED_NOTICE = "New changes are detected. LGTM label has been removed."


def comment_intent(body: str) -> bool | None:
    """True for `/lgtm`, False for `/lgtm cancel` or `/remove-lgtm`, None when the body has neither."""
    text = strip_code(body)
    if LGTM_RE.search(text):
        return True
    if LGTM_CANCEL_RE.search(text):
        return False
    return None


def review_intent(state: str, body: str) -> bool | None:
    """What a submitted review means for the label: approve adds, request-changes removes.

    A review whose body carries an lgtm command is left to the comment handler (it sees the body too).
    """
    if comment_intent(body) is not None:
        return None
    return {"approved": True, "changes_requested": False}.get(state.lower())


def tree_hash_notice(tree_sha: str) -> str:
    return TREE_HASH_NOTICE.format(sha=tree_sha)


def last_tree_hash(comments: Sequence[Mapping[str, Any]], is_bot: Callable[[str], bool]) -> str | None:
    """The tree hash of the newest unedited bot comment recording one (Prow ignores edited ones)."""
    for comment in reversed(comments):
        found = TREE_HASH_RE.search(str(comment.get("body") or ""))
        if found is None or not is_bot(_login(comment.get("user"))):
            continue
        if comment.get("updated_at", comment.get("created_at")) != comment.get("created_at"):
            continue
        return found.group(1)
    return None


def is_bot_login(login: str, bot: str) -> bool:
    """Our own login, or a GitHub App's (`name[bot]`)."""
    return login.lower() == bot.lower() or login.lower().endswith("[bot]")


@dataclass(frozen=True, slots=True)
class Request:
    """One request to change the label, from a comment or a review."""

    repo: Repo
    number: int
    user: str
    issue_author: str
    assignees: tuple[str, ...]
    body: str
    html_url: str


async def handle_comment(agent: Agent, event: GenericCommentEvent) -> None:
    if not event.is_pr or event.issue_state != "open" or event.action != "created":
        return
    want = comment_intent(event.body)
    if want is None:
        return
    request = Request(
        event.repo, event.number, event.user, event.issue_author, event.assignees, event.body, event.html_url
    )
    await _handle(agent, request, want)


async def handle_review(agent: Agent, event: ReviewEvent) -> None:
    if event.action != "submitted":
        return
    if not agent.plugins.lgtm_for(event.repo.org, event.repo.name).review_acts_as_lgtm:
        return
    user = event.review.get("user") or {}
    if is_bot_login(event.reviewer, agent.bot) or user.get("type") == "Bot":
        return
    body = str(event.review.get("body") or "")
    want = review_intent(event.state, body)
    if want is None:
        return
    pull = event.pull_request
    request = Request(
        event.repo, event.number, event.reviewer, _login(pull.get("user")),
        tuple(_login(a) for a in pull.get("assignees") or ()), body, str(event.review.get("html_url") or ""),
    )  # fmt: skip
    await _handle(agent, request, want)


async def _handle(agent: Agent, request: Request, want: bool) -> None:
    repo, gh = request.repo, agent.gh
    org, name, number = repo.org, repo.name, request.number
    is_author = request.user.lower() == request.issue_author.lower()
    if is_author and want:
        await _reply(agent, request, SELF_LGTM)
        return
    skip = agent.plugins.owners.skips_collaborators(org, name)
    if not is_author and not skip and not await gh.is_collaborator(org, name, request.user):
        await _reply(agent, request, NOT_COLLABORATOR)
        return
    if not is_author and not skip and request.user.lower() not in {a.lower() for a in request.assignees}:
        # Prow assigns whoever gives (or takes back) an LGTM, so the PR shows its reviewers.
        try:
            await gh.add_assignees(org, name, number, [request.user])
        except GitHubClientError as exc:  # a failed assignment never blocks the label
            agent.log.warning("could not assign %s to %s#%d: %s", request.user, repo, number, exc)
    elif not is_author and skip and norm_login(request.user) not in await _owners_reviewers(agent, repo, number):
        await _reply(agent, request, NOT_IN_OWNERS)
        return

    labels = await gh.list_issue_labels(org, name, number)
    has = any(label.lower() == LGTM_LABEL for label in labels)
    opts = agent.plugins.lgtm_for(org, name)
    if has and not want:
        agent.log.info("removing %s from %s#%d", LGTM_LABEL, repo, number)
        await _remove(agent, repo, number, request.assignees, store_tree_hash=opts.store_tree_hash)
        if opts.store_tree_hash:
            await _prune(agent, repo, number, lambda body: TREE_HASH_RE.search(body) is not None)
    elif want and not has:
        agent.log.info("adding %s to %s#%d", LGTM_LABEL, repo, number)
        sticky = await _sticky(agent, repo, request.issue_author)
        if opts.store_tree_hash and not sticky:
            # Recorded before the label is added, so a replay after a crash in between records nothing twice.
            pull = await gh.get_pull(org, name, number)
            commit = await gh.get_commit(org, name, str(pull["head"]["sha"]))
            await agent.comment(repo, number, tree_hash_notice(str(commit["tree"]["sha"])))
        await gh.add_labels(org, name, number, [LGTM_LABEL])
        if not sticky:
            await _prune(agent, repo, number, lambda body: REMOVED_NOTICE in body)


async def handle_pull_request(agent: Agent, event: PullRequestEvent) -> None:
    if event.action != "synchronize" or event.merged:
        return
    repo, gh = event.repo, agent.gh
    if await _sticky(agent, repo, event.author):
        return
    labels = await gh.list_issue_labels(repo.org, repo.name, event.number)
    if not any(label.lower() == LGTM_LABEL for label in labels):
        return
    opts = agent.plugins.lgtm_for(repo.org, repo.name)
    if opts.store_tree_hash:
        comments = await gh.list_comments(repo.org, repo.name, event.number)
        recorded = last_tree_hash(comments, lambda login: is_bot_login(login, agent.bot))
        if recorded is not None:
            commit = await gh.get_commit(repo.org, repo.name, event.head_sha)
            if str(commit["tree"]["sha"]) == recorded:
                agent.log.info(
                    "keeping %s on %s#%d: the tree %s is unchanged", LGTM_LABEL, repo, event.number, recorded
                )
                return
    assignees = tuple(_login(a) for a in event.pull_request.get("assignees") or ())
    # The notice goes first: a replay after a crash finds the label still there and the notice already posted.
    await agent.comment(repo, event.number, REMOVED_NOTICE)
    await _remove(agent, repo, event.number, assignees, store_tree_hash=opts.store_tree_hash)


async def _sticky(agent: Agent, repo: Repo, author: str) -> bool:
    """Whether the PR's author is in `trusted_team_for_sticky_lgtm`: then pushes keep the label."""
    team = agent.plugins.lgtm_for(repo.org, repo.name).sticky_lgtm_team
    if not team:
        return False
    try:
        members = await agent.gh.team_members(repo.org, team)
    except GitHubClientError as exc:
        agent.log.error("sticky LGTM team %r of %s: %s", team, repo.org, exc)
        return False
    return author.lower() in {member.lower() for member in members}


async def _owners_reviewers(agent: Agent, repo: Repo, number: int) -> frozenset[str]:
    """Approvers and reviewers in the OWNERS files covering the PR's changes, at its base (Prow's loadReviewers)."""
    gh, names = agent.gh, agent.plugins.owners.filenames_for(repo.org, repo.name)
    pull = await gh.get_pull(repo.org, repo.name, number)
    files = [str(f["filename"]) for f in await gh.list_pull_files(repo.org, repo.name, number)]
    filenames = Filenames(owners=names.owners, aliases=names.owners_aliases)
    owners = await OwnersLoader().load(gh, repo.org, repo.name, str(pull["base"]["sha"]), files, filenames)
    found: set[str] = set()
    for path in files:
        found |= owners.approvers(path) | owners.reviewers(path)
    return frozenset(found)


async def _remove(agent: Agent, repo: Repo, number: int, assignees: Sequence[str], *, store_tree_hash: bool) -> None:
    await agent.gh.remove_label(repo.org, repo.name, number, LGTM_LABEL)
    if store_tree_hash and assignees:
        # Prow asks the assignees to review again when an LGTM is lost.
        try:
            await agent.gh.request_reviewers(repo.org, repo.name, number, list(assignees))
        except GitHubClientError as exc:
            agent.log.warning("could not re-request reviews on %s#%d: %s", repo, number, exc)


async def _prune(agent: Agent, repo: Repo, number: int, matches: Callable[[str], bool]) -> None:
    """Delete the bot's comments on the PR whose body `matches` (Prow's comment pruner)."""
    for comment in await agent.gh.list_comments(repo.org, repo.name, number):
        if _login(comment.get("user")) == agent.bot and matches(str(comment.get("body") or "")):
            await agent.gh.delete_comment(repo.org, repo.name, int(comment["id"]))


async def _reply(agent: Agent, request: Request, message: str) -> None:
    agent.log.info("replying to %s on %s#%d: %s", request.user, request.repo, request.number, message)
    body = format_response(request.user, message, request.body, request.html_url)
    await agent.comment(request.repo, request.number, body)


def _login(user: Any) -> str:
    return str(user.get("login") or "") if isinstance(user, Mapping) else ""


_WHO = "Collaborators on the repository. '/lgtm cancel' can be used additionally by the PR author."
_USAGE = "/[remove-]lgtm [cancel] or GitHub Review action"
_DESCRIPTION = "Adds or removes the 'lgtm' label which is typically used to gate merging."

PLUGIN = register(
    Plugin(
        name="lgtm",
        help=PluginHelp(
            description=(
                "The lgtm plugin manages the application and removal of the 'lgtm' (Looks Good To Me) label "
                "which is typically used to gate merging."
            ),
            commands=(
                Command("lgtm", _USAGE, _DESCRIPTION, _WHO, ("/lgtm", "/lgtm cancel")),
                Command("remove-lgtm", "/remove-lgtm", _DESCRIPTION, _WHO, ("/remove-lgtm",)),
            ),
            config=(
                "review_acts_as_lgtm: reviews of 'approve' or 'request changes' act as adding or removing LGTM; "
                "store_tree_hash: squashing commits does not remove LGTM."
            ),
        ),
        generic_comment=handle_comment,
        pull_request=handle_pull_request,
        review=handle_review,
    )
)
