"""Prow's approval rules as pure values: who approved, which OWNERS files are covered, whom to suggest, and the
`[APPROVALNOTIFIER]` comment text.

`Approvals` follows pkg/plugins/approve/approvers: a changed file needs an approval from an approver of that
file (its nearest OWNERS approvers and those above it, up to a `no_parent_owners` boundary); files are grouped by
their nearest OWNERS file with approvers, and a group below another group's directory is folded into it unless a
`no_parent_owners` file lies between. `read_approvals()` replays a PR's comments and reviews in time order into
an `Approvals`. Nothing here does I/O.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from prow_lite.owners import RepoOwners, parent

NOTIFICATION_NAME = "ApprovalNotifier"
NOTIFICATION_RE = re.compile(r"^\[" + NOTIFICATION_NAME + r"\] *?([^\n]*)(?:\n\n(.*))?", re.IGNORECASE | re.DOTALL)
COMMAND_RE = re.compile(r"^/([^\s]+)[\t ]*([^\n\r]*)", re.MULTILINE)
APPROVE, REMOVE_APPROVE, LGTM = "APPROVE", "REMOVE-APPROVE", "LGTM"
CANCEL, NO_ISSUE = "cancel", "no-issue"
DEFAULT_COMMAND_HELP_LINK = "https://go.k8s.io/bot-commands"
DEFAULT_PR_PROCESS_LINK = "https://git.k8s.io/community/contributors/guide/owners.md#the-code-review-process"


@dataclass(frozen=True, slots=True)
class Approval:
    login: str  # as the user typed it (may have upper case)
    how: str  # "Approved", "LGTM" or "Author self-approved"
    reference: str  # a link to where it happened
    no_issue: bool = False

    def __str__(self) -> str:
        return f'*<a href="{self.reference}" title="{self.how}">{self.login}</a>*'


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment, review or review comment as the approval rules read it."""

    author: str
    body: str
    created_at: str  # ISO 8601, sorts in time order
    url: str = ""
    review_state: str = ""  # "APPROVED", "CHANGES_REQUESTED", "DISMISSED", "COMMENTED"; "" for comments


@dataclass
class Approvals:
    """The approvals of one PR against its OWNERS (Prow's `Approvers`), built up by the add/remove calls."""

    owners: RepoOwners
    files: Sequence[str]  # the changed files
    seed: int = 0  # shuffles suggestions per PR, as Prow seeds with the PR number
    associated_issue: int = 0
    require_issue: bool = False
    approvals: dict[str, Approval] = field(default_factory=dict)  # key: lower-cased login
    assignees: set[str] = field(default_factory=set)

    # --- building ---------------------------------------------------------------------------------------------

    def _add(self, login: str, how: str, reference: str, no_issue: bool) -> None:
        old = self.approvals.get(login.lower())
        if old is not None and old.no_issue and not no_issue:
            return  # keep a no-issue approval over a later plain one
        self.approvals[login.lower()] = Approval(login, how, reference, no_issue)

    def add_approver(self, login: str, reference: str = "", no_issue: bool = False) -> None:
        self._add(login, "Approved", reference, no_issue)

    def add_lgtmer(self, login: str, reference: str = "", no_issue: bool = False) -> None:
        self._add(login, "LGTM", reference, no_issue)

    def add_author_self_approver(self, login: str, reference: str = "", no_issue: bool = False) -> None:
        self._add(login, "Author self-approved", reference, no_issue)

    def remove_approver(self, login: str) -> None:
        self.approvals.pop(login.lower(), None)

    def add_assignees(self, logins: Iterable[str]) -> None:
        self.assignees |= {login.lower() for login in logins}

    def _with(self, logins: Iterable[str]) -> Approvals:
        other = Approvals(self.owners, self.files, self.seed, self.associated_issue, self.require_issue)
        for login in logins:
            other.add_approver(login)
        return other

    # --- OWNERS files -----------------------------------------------------------------------------------------

    def needing_approval(self) -> list[str]:
        """The changed files that need an approval (not in an unowned subfolder of an auto-approving OWNERS)."""
        out = []
        for path in self.files:
            owners_dir = self.owners.approver_owners_for(path)
            in_subfolder = parent(path) != owners_dir
            if in_subfolder and self.owners.is_auto_approve_unowned_subfolders(owners_dir):
                continue
            out.append(path)
        return out

    def owners_set(self) -> set[str]:
        """The OWNERS directories whose approval the PR needs, subdirectories folded into their parents."""
        dirs = {self.owners.approver_owners_for(p) for p in self.needing_approval()}
        for d in sorted(dirs):
            path = d
            while path != "" and not self.owners.is_no_parent_owners(path):
                path = parent(path)
                if path in dirs:
                    dirs.discard(d)
                    break
        return dirs

    def approvers_by_owners(self, *, leaf: bool = False) -> dict[str, set[str]]:
        """OWNERS directory -> everyone (or the nearest approvers, with `leaf`) who can approve its files."""
        wanted = self.owners_set()
        out: dict[str, set[str]] = {}
        for path in self.needing_approval():
            d = self.owners.approver_owners_for(path)
            if d in wanted:
                found = self.owners.leaf_approvers(path) if leaf else self.owners.approvers(path)
                out.setdefault(d, set()).update(found)
        return out

    def current(self) -> set[str]:
        """Who has approved, lower-cased."""
        return set(self.approvals)

    def unapproved(self) -> set[str]:
        """The OWNERS directories still needing an approval."""
        wanted, current = self.owners_set(), self.current()
        out = set()
        for path in self.needing_approval():
            d = self.owners.approver_owners_for(path)
            if d in wanted and not (self.owners.approvers(path) & current):
                out.add(d)
        return out

    def files_approved(self) -> bool:
        """Every OWNERS file approved (a PR that changes nothing is not approved)."""
        return bool(self.files) and not self.unapproved()

    def no_issue_approvals(self) -> list[Approval]:
        can_approve = {login for people in self.approvers_by_owners().values() for login in people}
        return [a for k, a in sorted(self.approvals.items()) if a.no_issue and k in can_approve]

    def requirements_met(self) -> bool:
        issue_ok = not self.require_issue or self.associated_issue != 0 or bool(self.no_issue_approvals())
        return self.files_approved() and issue_ok

    def is_approved(self) -> bool:
        return self.requirements_met()

    def list_approvals(self) -> list[Approval]:
        return [self.approvals[k] for k in sorted(self.approvals)]

    # --- suggestions ------------------------------------------------------------------------------------------

    def _suggest(self, reverse: dict[str, set[str]], candidates: Sequence[str]) -> set[str]:
        """Greedy cover: add the candidate approving the most still-unapproved OWNERS files until all are."""
        chosen = self._with(())
        while not chosen.requirements_met():
            unapproved = chosen.unapproved()
            best, most = "", 0
            for person in candidates:
                covered = len(reverse.get(person, set()) & unapproved)
                if covered > most and person not in chosen.current():
                    best, most = person, covered
            if not best:
                break
            chosen.add_approver(best)
        return chosen.current()

    def _keep_covering(self, reverse: dict[str, set[str]], known: set[str], candidates: Sequence[str]) -> set[str]:
        unapproved = self._with(known).unapproved()
        return {p for p in self._suggest(reverse, candidates) if reverse.get(p, set()) & unapproved}

    def ccs(self) -> list[str]:
        """Suggested approvers: the nearest approvers still useful, plus assignees who would complete approval."""
        leaf = self.approvers_by_owners(leaf=True)
        candidates = sorted({p for people in leaf.values() for p in people})
        random.Random(self.seed).shuffle(candidates)
        current = self.current()
        suggested = self._keep_covering(_reverse(leaf), current | self.assignees, candidates)
        everyone = sorted(current | suggested | self.assignees)
        keep = self._keep_covering(_reverse(self.approvers_by_owners()), current | suggested, everyone)
        return sorted(suggested | keep)

    def assigned_ccs(self) -> list[str]:
        return sorted(set(self.ccs()) & self.assignees)

    def suggested_ccs(self) -> list[str]:
        return sorted(set(self.ccs()) - self.assignees)


def _reverse(by_owners: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for d, people in by_owners.items():
        for person in people:
            out.setdefault(person, set()).add(d)
    return out


# --- reading comments --------------------------------------------------------------------------------------------


def is_approval_command(body: str, *, lgtm_acts_as_approve: bool) -> bool:
    """Whether `body` has an /approve, /remove-approve (or /lgtm when it acts as approval) line."""
    for name, _ in COMMAND_RE.findall(body):
        cmd = name.upper()
        if cmd in (APPROVE, REMOVE_APPROVE) or (cmd == LGTM and lgtm_acts_as_approve):
            return True
    return False


def is_approval_state(review_state: str, *, review_acts_as_approve: bool) -> bool:
    """Whether a review's state counts: approved (approve), changes requested (cancel) or dismissed."""
    return review_acts_as_approve and review_state.upper() in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")


def read_approvals(
    approvals: Approvals,
    comments: Iterable[Comment],
    *,
    pr_author: str,
    is_bot: Callable[[str], bool],
    lgtm_acts_as_approve: bool,
    review_acts_as_approve: bool,
) -> None:
    """Replay comments and reviews in time order: each user's latest approve or cancel decides."""
    for c in sorted(comments, key=lambda c: c.created_at):
        if not c.author or is_bot(c.author):
            continue
        command = is_approval_command(c.body, lgtm_acts_as_approve=lgtm_acts_as_approve)
        if not command and not is_approval_state(c.review_state, review_acts_as_approve=review_acts_as_approve):
            continue
        state = c.review_state.upper()
        if review_acts_as_approve and state == "APPROVED":
            approvals.add_approver(c.author, c.url)
        if review_acts_as_approve and state == "CHANGES_REQUESTED":
            approvals.remove_approver(c.author)
        for name, args in COMMAND_RE.findall(c.body):
            cmd, arg = name.upper(), args.strip().lower()
            if cmd == REMOVE_APPROVE:
                approvals.remove_approver(c.author)
                continue
            if cmd != APPROVE and not (cmd == LGTM and lgtm_acts_as_approve):
                continue
            if CANCEL in arg:
                approvals.remove_approver(c.author)
                continue
            no_issue = arg == NO_ISSUE
            if c.author.lower() == pr_author.lower():
                approvals.add_author_self_approver(c.author, c.url, no_issue)
            if cmd == APPROVE:
                approvals.add_approver(c.author, c.url, no_issue)
            else:
                approvals.add_lgtmer(c.author, c.url, no_issue)


def find_associated_issue(body: str, org: str) -> int:
    """The first `#123` or `<org>/<repo>/issues/123` reference in a PR body, 0 when none."""
    found = re.search(rf"(?:{re.escape(org)}/[^/]+/issues/|#)(\d+)", body)
    return int(found.group(1)) if found else 0


# --- the notifier comment -------------------------------------------------------------------------------------


def _people(logins: Iterable[str]) -> str:
    return ", ".join(f"[{x}](https://github.com/{x})" for x in logins)


def _file_lines(ap: Approvals, repo_url: str, branch: str, owners_filename: str) -> str:
    by_owners, unapproved = ap.approvers_by_owners(), ap.unapproved()
    cased = {a.login for a in ap.approvals.values()}
    out = []
    for d in sorted(ap.owners_set()):
        path = d if d.endswith(".md") else (f"{d}/{owners_filename}" if d else owners_filename)
        link = f"{repo_url}/blob/{branch}/{path}"
        potential = by_owners.get(d, set())
        approved_by = ",".join(sorted(login for login in cased if login.lower() in potential))
        if d not in unapproved:
            out.append(f"- ~~[{path}]({link})~~ [{approved_by}]\n")
        elif approved_by:
            out.append(f"- **[{path}]({link})** [{approved_by}]\n  > Need more approvers for rest parts.\n")
        else:
            out.append(f"- **[{path}]({link})**\n")
    return "".join(out)


def notification(
    ap: Approvals,
    *,
    org: str,
    repo: str,
    branch: str,
    link_url: str = "https://github.com",
    command_help_link: str = DEFAULT_COMMAND_HELP_LINK,
    pr_process_link: str = DEFAULT_PR_PROCESS_LINK,
    owners_filename: str = "OWNERS",
) -> str:
    """The `[APPROVALNOTIFIER]` comment, in Prow's words and layout (its template rendered by hand)."""
    files_approved = ap.files_approved()
    approvals = ", ".join(str(a) for a in ap.list_approvals())
    parts = [f"This pull-request has been approved by:{' ' + approvals if approvals else ''}"]
    if not files_approved:
        suggested, assigned = ap.suggested_ccs(), ap.assigned_ccs()
        review = "**Once this PR has been reviewed and has the lgtm label**, please "
        process = f" For more information see [the Code Review Process]({pr_process_link})."
        if suggested and assigned:
            line = f"{review}ask for approval from {_people(assigned)} and additionally assign {_people(suggested)} for approval."
        elif suggested:
            line = f"{review}assign {_people(suggested)} for approval."
        elif assigned:
            line = f"{review}ask for approval from {_people(assigned)}."
        else:
            line = ""
        parts.append("\n" + (line + process if line else ""))
    parts.append("\n\n")
    if ap.require_issue:
        if ap.associated_issue:
            parts.append(f"Associated issue: *#{ap.associated_issue}*\n\n")
        elif no_issue := ap.no_issue_approvals():
            parts.append(f"Associated issue requirement bypassed by: {', '.join(str(a) for a in no_issue)}\n\n")
        else:
            parts.append(
                "*No associated issue*. Update pull-request body to add a reference to an issue, or get approval "
                "with `/approve no-issue`\n\n"
            )
    parts.append(
        f"The full list of commands accepted by this bot can be found [here]({command_help_link}?repo={org}%2F{repo}).\n\n"
    )
    if files_approved:
        parts.append(f"The pull request process is described [here]({pr_process_link})\n\n")
    parts.append(
        f"<details {'' if files_approved else 'open'}>\nNeeds approval from an approver in each of these files:\n\n"
        f"{_file_lines(ap, f'{link_url}/{org}/{repo}', branch, owners_filename)}\n"
        "Approvers can indicate their approval by writing `/approve` in a comment\n"
        "Approvers can cancel approval by writing `/approve cancel` in a comment\n</details>"
    )
    meta = json.dumps({"approvers": ap.ccs()}, separators=(",", ":"))
    message = "".join(parts) + f"\n<!-- META={meta} -->"
    title = f"This PR is **{'' if ap.is_approved() else 'NOT '}APPROVED**"
    return f"[{NOTIFICATION_NAME.upper()}] {title}\n\n{message.strip()}"


def is_notification(body: str) -> bool:
    return NOTIFICATION_RE.match(body) is not None
