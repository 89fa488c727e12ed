"""The assign plugin: `/assign`, `/unassign`, `/cc` and `/uncc` (Prow's `assign`).

`/assign @a b` assigns users (default: the commenter) to an issue or PR; `/cc` requests their reviews on a PR
(`org/team` names a team). The `un` forms take them off again. When GitHub refuses someone, the reply names them
in Prow's words.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from prow_lite.events import GenericCommentEvent
from prow_lite.github import ExtraUsers, MissingUsers
from prow_lite.plugins.base import Agent, Command, Plugin, PluginHelp, format_response, register, strip_code

# Prow's pkg/plugins/assign regexes (Go's \w is ASCII).
ASSIGN_RE = re.compile(r"(?aim)^/(un)?assign(( @?[-\w]+?)*)\s*$")
CC_RE = re.compile(r"(?aim)^/(un)?cc(( +@?[-/\w]+?)*)\s*$")


@dataclass(frozen=True, slots=True)
class Change:
    """Who a comment adds and removes; a login named twice counts as its last mention."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


def parse(body: str, pattern: re.Pattern[str], commenter: str) -> Change:
    wanted: dict[str, tuple[str, bool]] = {}  # lower-cased login -> (login as written, add)
    for match in pattern.finditer(strip_code(body)):
        add = match.group(1) is None
        logins = [part.strip("@ ") for part in match.group(2).split(" ")]
        for login in [login for login in logins if login] or [commenter]:
            wanted.pop(login.lower(), None)
            wanted[login.lower()] = (login, add)
    return Change(
        tuple(login for login, add in wanted.values() if add),
        tuple(login for login, add in wanted.values() if not add),
    )


def assign_refusal(org: str, users: Sequence[str]) -> str:
    return (
        f"GitHub didn't allow me to assign the following users: {', '.join(users)}.\n\n"
        f"Note that only [{org} members](https://github.com/orgs/{org}/people) with read permissions, repo "
        "collaborators and people who have commented on this issue/PR can be assigned. Additionally, issues/PRs "
        "can only have 10 assignees at the same time.\nFor more information please see [the contributor guide]"
        "(https://git.k8s.io/community/contributors/guide/first-contribution.md#issue-assignment-in-github)"
    )


def review_refusal(org: str, users: Sequence[str]) -> str:
    return (
        f"GitHub didn't allow me to request PR reviews from the following users: {', '.join(users)}.\n\n"
        f"Note that only [{org} members](https://github.com/orgs/{org}/people) and repo collaborators can review "
        "this PR, and authors cannot review their own PRs."
    )


def not_added(logins: Sequence[str], answer: object, key: str) -> tuple[str, ...]:
    """Users (not teams) missing from the answer's `key` list (`assignees`, `requested_reviewers`).

    GitHub refuses a review request it cannot grant with a 422, which the client turns into `MissingUsers`; a
    user it skips without refusing is found here, from the answer itself.
    """
    if not isinstance(answer, Mapping):
        return ()
    present = {str(user.get("login", "")).lower() for user in answer.get(key) or () if isinstance(user, Mapping)}
    return tuple(login for login in logins if "/" not in login and login.lower() not in present)


Call = Callable[[str, str, int, Sequence[str]], Awaitable[object]]


async def _apply(
    agent: Agent, event: GenericCommentEvent, change: Change, *, what: str, add: Call, remove: Call,
    refusal: Callable[[str, Sequence[str]], str],
) -> None:  # fmt: skip
    org, repo, number = event.repo.org, event.repo.name, event.number
    if change.remove:
        agent.log.info("removing %s %s from %s#%d", what, ", ".join(change.remove), event.repo, number)
        try:
            await remove(org, repo, number, change.remove)
        except ExtraUsers as exc:  # Prow only logs these
            agent.log.warning("%s#%d: %s", event.repo, number, exc)
    if change.add:
        agent.log.info("adding %s %s to %s#%d", what, ", ".join(change.add), event.repo, number)
        try:
            answer = await add(org, repo, number, change.add)
            missing = not_added(change.add, answer, what)
        except MissingUsers as exc:
            missing = exc.users
        if missing:
            body = format_response(event.user, refusal(org, missing), event.body, event.html_url)
            await agent.comment(event.repo, number, body, key=f"{agent.guid}.{what}")


async def handle_comment(agent: Agent, event: GenericCommentEvent) -> None:
    if event.action != "created":
        return
    gh = agent.gh
    assign = parse(event.body, ASSIGN_RE, event.user)
    if assign.add or assign.remove:
        await _apply(
            agent, event, assign, what="assignees", add=gh.add_assignees, remove=gh.remove_assignees,
            refusal=assign_refusal,
        )  # fmt: skip
    cc = parse(event.body, CC_RE, event.user) if event.is_pr else Change()
    if cc.add or cc.remove:
        await _apply(
            agent, event, cc, what="requested_reviewers", add=gh.request_reviewers, remove=gh.remove_review_requests,
            refusal=review_refusal,
        )  # fmt: skip


PLUGIN = register(
    Plugin(
        name="assign",
        help=PluginHelp(
            description=(
                "The assign plugin assigns or requests reviews from users/teams. Specific users can be assigned "
                "with the command '/assign @user1' or have reviews requested of them with the command "
                "'/cc @user1'. If no users are specified, the commands default to targeting the user who created "
                "the command. Assignments and requested reviews can be removed in the same way that they are "
                "added by prefixing the commands with 'un'."
            ),
            commands=(
                Command(
                    "assign", "/[un]assign [[@]<username>...|[@]<orgname/teamname>...]",
                    "Assigns assignee(s) or team(s) to the PR",
                    "Anyone can use the command, but the target user(s) must be an org member, a repo collaborator, "
                    "or should have previously commented on the issue or PR.",
                    ("/assign", "/assign @spongebob", "/assign spongebob patrick"),
                ),
                Command("unassign", "/unassign [[@]<username>...]", "Unassigns assignee(s) from the issue or PR.",
                        examples=("/unassign", "/unassign @spongebob")),
                Command(
                    "cc", "/[un]cc [[@]<username>...|[@]<orgname/teamname>...]",
                    "Requests a review from the user(s) or team(s).",
                    "Anyone can use the command, but the target user(s) must be a member of the org that owns "
                    "the repository.",
                    ("/cc", "/cc @spongebob", "/cc spongebob patrick", "/cc @org/team"),
                ),
                Command("uncc", "/uncc [[@]<username>...]", "Withdraws review requests.",
                        examples=("/uncc", "/uncc @spongebob")),
            ),
        ),
        generic_comment=handle_comment,
    )
)  # fmt: skip
