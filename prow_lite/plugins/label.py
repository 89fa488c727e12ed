"""The label plugin: `/kind bug`, `/remove-area prow`, `/label foo` and friends (Prow's `label`).

Prefix commands (`/area`, `/committee`, `/kind`, `/language`, `/priority`, `/sig`, `/triage`, `/wg`) add or remove
`<prefix>/<x>` labels that exist in the repository; `/label` and `/remove-label` handle any other label named in
`label.additional_labels` or `label.restricted_labels`. Restricted labels may only be set or removed by their
allowed users and teams, and adding an `assign_on` label assigns the allowed users. Several labels may follow one
command (`/kind bug flake`, `/label tide/merge-method-squash api-review`), and one comment may carry many commands.
Replies use Prow's words.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prow_lite.events import GenericCommentEvent, PullRequestEvent
from prow_lite.github import GitHubClientError
from prow_lite.plugins.base import Agent, Command, Plugin, PluginHelp, format_response, register, strip_code

if TYPE_CHECKING:
    from prow_lite.config.plugins import RestrictedLabel

PREFIXES = ("area", "committee", "kind", "language", "priority", "sig", "triage", "wg")
NEEDS_CATEGORIES = ("kind", "priority", "sig", "triage")  # a `needs-<category>` label comes back when all go
TRIAGE_ACCEPTED = "triage/accepted"
# Prow's pkg/plugins/label regexes.
_P = "|".join(PREFIXES)
LABEL_RE = re.compile(rf"(?m)^/({_P})\s*(.*?)\s*$")
REMOVE_LABEL_RE = re.compile(rf"(?m)^/remove-({_P})\s*(.*?)\s*$")
CUSTOM_LABEL_RE = re.compile(r"(?m)^/label\s*(.*?)\s*$")
CUSTOM_REMOVE_LABEL_RE = re.compile(r"(?m)^/remove-label\s*(.*?)\s*$")
HTML_COMMENT_RE = re.compile(r"(?s)<!--(.*?)-->")
MAX_LISTED_USERS = 20


@dataclass(frozen=True, slots=True)
class Requested:
    """The labels one comment asks to add and to remove (lower-cased, as Prow compares them)."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()  # `/label x` lines whose label is neither additional nor restricted


def command_text(body: str) -> str:
    """The text commands are read from: code blocks and HTML comments removed."""
    return HTML_COMMENT_RE.sub("", strip_code(body))


def _prefixed(matches: Iterable[re.Match[str]]) -> list[str]:
    labels = []
    for match in matches:
        words = match.group(0).split()
        if words[0] != f"/{match.group(1)}" and words[0] != f"/remove-{match.group(1)}":
            continue  # `/kinda`: the prefix runs into a longer word, not a command
        labels += [f"{match.group(1)}/{word}".lower() for word in words[1:]]
    return labels


def _custom(matches: Iterable[re.Match[str]], supported: Callable[[str], bool], bad: list[str]) -> list[str]:
    labels = []
    for match in matches:
        words = match.group(0).split()
        if words[0] not in ("/label", "/remove-label") or len(words) < 2:
            continue
        for word in words[1:]:
            if supported(word.lower()):
                labels.append(word.lower())
            elif match.group(0).strip() not in bad:
                bad.append(match.group(0).strip())
    return labels


def parse(body: str, supported: Callable[[str], bool]) -> Requested:
    """The labels a comment asks for; `supported(label)` says whether `/label` may name a label."""
    text = command_text(body)
    bad: list[str] = []
    add = _prefixed(LABEL_RE.finditer(text)) + _custom(CUSTOM_LABEL_RE.finditer(text), supported, bad)
    remove = _prefixed(REMOVE_LABEL_RE.finditer(text)) + _custom(CUSTOM_REMOVE_LABEL_RE.finditer(text), supported, bad)
    return Requested(tuple(dict.fromkeys(add)), tuple(dict.fromkeys(remove)), tuple(bad))


def needs_labels(
    add: Sequence[str], remove: Sequence[str], issue_labels: Iterable[str], repo_labels: Iterable[str]
) -> list[str]:
    """`needs-<category>` labels to add because every label of that category is being removed (Prow)."""
    on_issue = {label.lower() for label in issue_labels}
    in_repo = {label.lower() for label in repo_labels}
    found = []
    for category in NEEDS_CATEGORIES:
        needs = f"needs-{category}"
        removed = {label for label in remove if label.startswith(category + "/")}
        if needs not in in_repo or not removed or any(label.startswith(category + "/") for label in add):
            continue
        if {label for label in on_issue if label.startswith(category + "/")} <= removed:
            found.append(needs)
    return found


def restricted_refusal(label: str, rule: RestrictedLabel) -> str:
    """Prow's reply to someone who may not set or remove a restricted label."""
    msg = (
        f"The label(s) `{label}` cannot be applied or removed, because you are not in one of the allowed teams "
        "and are not an allowed user."
    )
    if rule.allowed_teams:
        msg += f" Must be a member of one of these teams: {', '.join(rule.allowed_teams)}"
    elif rule.allowed_users:
        # Prow means to show 20 random users but its loop takes the first 20; they are shown as Prow shows them.
        msg += f" Consider assigning one of the following members: {','.join(rule.allowed_users[:MAX_LISTED_USERS])}"
    return msg


def unsupported_reply(lines: Sequence[str], additional: Sequence[str], restricted: Iterable[str]) -> str:
    supported = ", ".join([*additional, *sorted(restricted)])
    return (
        f"The label(s) `{', '.join(lines)}` cannot be applied. These labels are supported: `{supported}`. "
        "Is this label configured under `labels -> additional_labels` or `labels -> restricted_labels` in "
        "`plugin.yaml`?"
    )


def missing_in_repo_reply(labels: Sequence[str]) -> str:
    return f"The label(s) `{', '.join(labels)}` cannot be applied, because the repository doesn't have them."


def not_on_issue_reply(labels: Sequence[str]) -> str:
    return f"Those labels are not set on the issue: `{', '.join(labels)}`"


TRIAGE_REPLY = f"The label `{TRIAGE_ACCEPTED}` cannot be applied. Only GitHub organization members can add the label."


@dataclass
class _Outcome:
    missing_in_repo: list[str] = field(default_factory=list)
    not_on_issue: list[str] = field(default_factory=list)
    triage_refused: bool = False


async def handle_comment(agent: Agent, event: GenericCommentEvent) -> None:
    if event.action != "created":
        return
    org, repo, number, user = event.repo.org, event.repo.name, event.number, event.user
    config = agent.plugins.label
    rules = {rule.label.lower(): rule for rule in config.restricted_for(org, repo)}
    additional = {label.lower() for label in config.additional_labels}
    requested = parse(event.body, lambda label: label in rules or label in additional)
    if not (requested.add or requested.remove or requested.unsupported):
        return

    gh = agent.gh
    repo_labels = {label.lower(): label for label in await gh.list_repo_labels(org, repo)}
    issue_labels = await gh.list_issue_labels(org, repo, number)
    on_issue = {label.lower() for label in issue_labels}
    to_add = list(requested.add) + needs_labels(requested.add, requested.remove, issue_labels, repo_labels)
    outcome = _Outcome()

    async def may_set(label: str) -> bool:
        rule = rules.get(label)
        if rule is None:
            return True
        try:
            if await _allowed(agent, org, user, rule):
                return True
        except GitHubClientError as exc:  # as Prow: the label is skipped, nobody is told
            agent.log.error("checking who may set %s: %s", label, exc)
            return False
        await _reply(agent, event, restricted_refusal(label, rule), key=f"{agent.guid}.restricted.{_digest(label)}")
        return False

    for label in to_add:
        if label in on_issue:
            continue
        if label not in repo_labels:
            outcome.missing_in_repo.append(label)
            continue
        if label == TRIAGE_ACCEPTED and not await gh.is_member(org, user):
            outcome.triage_refused = True
            continue
        if await may_set(label):
            agent.log.info("adding %s to %s#%d", repo_labels[label], event.repo, number)
            await gh.add_labels(org, repo, number, [repo_labels[label]])
    for label in requested.remove:
        if label not in on_issue:
            outcome.not_on_issue.append(label)
            continue
        if label in repo_labels and await may_set(label):
            agent.log.info("removing %s from %s#%d", repo_labels[label], event.repo, number)
            await gh.remove_label(org, repo, number, repo_labels[label])

    message = _summary(requested, outcome, config.additional_labels, rules)
    if message:
        await _reply(agent, event, message)


def _summary(requested: Requested, outcome: _Outcome, additional: Sequence[str], rules: Mapping[str, object]) -> str:
    """Prow's one closing reply: the first problem of unsupported, missing in repo, not on issue, triage."""
    if requested.unsupported:
        return unsupported_reply(requested.unsupported, additional, rules)
    if outcome.missing_in_repo:
        return missing_in_repo_reply(outcome.missing_in_repo)
    if outcome.not_on_issue:
        return not_on_issue_reply(outcome.not_on_issue)
    if outcome.triage_refused:
        return TRIAGE_REPLY
    return ""


async def _allowed(agent: Agent, org: str, user: str, rule: RestrictedLabel) -> bool:
    if any(user.lower() == allowed.lower() for allowed in rule.allowed_users):
        return True
    for team in rule.allowed_teams:
        if user.lower() in {member.lower() for member in await agent.gh.team_members(org, team)}:
            return True
    return False


async def _reply(agent: Agent, event: GenericCommentEvent, message: str, *, key: str | None = None) -> None:
    body = format_response(event.user, message, command_text(event.body), event.html_url)
    await agent.comment(event.repo, event.number, body, key=key)


def _digest(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()[:12]


async def handle_pull_request(agent: Agent, event: PullRequestEvent) -> None:
    """`assign_on`: adding one of a restricted label's trigger labels assigns that label's allowed users."""
    if event.action != "labeled" or not event.label:
        return
    org, repo = event.repo.org, event.repo.name
    for rule in agent.plugins.label.restricted_for(org, repo):
        if rule.allowed_users and any(event.label.lower() == on.lower() for on in rule.assign_on):
            agent.log.info("assigning %s for restricted label %s", ", ".join(rule.allowed_users), rule.label)
            try:
                await agent.gh.add_assignees(org, repo, event.number, list(rule.allowed_users))
            except GitHubClientError as exc:  # GitHub skips who may not be assigned; Prow only logs it
                agent.log.warning("assigning for %s on %s#%d: %s", rule.label, event.repo, event.number, exc)


_WHO = (
    "Anyone can trigger this command on issues and PRs. `triage/accepted` can only be added by org members. "
    "Restricted labels are only able to be added by teams and users in their configuration."
)
_DESCRIPTION = "Applies or removes a label from one of the recognized types of labels."
_USAGE = "/[remove-](area|committee|kind|language|priority|sig|triage|wg|label) <target>"


def _commands() -> tuple[Command, ...]:
    commands = []
    for word in (*PREFIXES, "label"):
        commands.append(Command(word, f"/{word} <target>", _DESCRIPTION, _WHO, (f"/{word} foo",)))
        commands.append(Command(f"remove-{word}", f"/remove-{word} <target>", _DESCRIPTION, _WHO))
    return tuple(commands)


PLUGIN = register(
    Plugin(
        name="label",
        help=PluginHelp(
            description=(
                "The label plugin provides commands that add or remove certain types of labels. Labels of the "
                "following types can be manipulated: 'area/*', 'committee/*', 'kind/*', 'language/*', "
                "'priority/*', 'sig/*', 'triage/*', and 'wg/*'. More labels can be configured to be used via the "
                "/label command. Restricted labels are only able to be added by the teams and users present in "
                "their configuration, and those users can be automatically assigned when another label is added "
                f"using the assign_on config. Usage: {_USAGE}"
            ),
            commands=_commands(),
            config="label.additional_labels, label.restricted_labels (allowed_users, allowed_teams, assign_on)",
        ),
        generic_comment=handle_comment,
        pull_request=handle_pull_request,
    )
)
