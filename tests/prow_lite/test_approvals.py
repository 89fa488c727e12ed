"""Prow's approval rules: coverage of changed files by OWNERS approvers, reading comments, the notifier text."""

from __future__ import annotations

import pytest

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
from prow_lite.owners import RepoOwners, parse_owners


def owners(**files: str) -> RepoOwners:
    return RepoOwners({("" if d == "root" else d.replace("__", "/")): parse_owners(t) for d, t in files.items()})


TREE = owners(
    root="approvers: [root]\n",
    a="approvers: [alice]\n",
    a__b="approvers: [bob]\n",
    c="approvers: [carol]\n",
    vendor="options:\n  no_parent_owners: true\napprovers: [vic]\n",
    vendor__x="approvers: [xavier]\n",
    auto="options:\n  auto_approve_unowned_subfolders: true\napprovers: [otto]\n",
)


def approvals(files: list[str], *approvers: str, tree: RepoOwners = TREE) -> Approvals:
    ap = Approvals(tree, files, seed=7)
    for login in approvers:
        ap.add_approver(login)
    return ap


# --- coverage -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "approvers", "owners_set", "unapproved"),
    [
        (["a/x.go"], [], {"a"}, {"a"}),
        (["a/x.go"], ["alice"], {"a"}, set()),
        (["a/x.go"], ["ROOT"], {"a"}, set()),  # an ancestor's approver covers it; logins are case-insensitive
        (["a/x.go"], ["bob"], {"a"}, {"a"}),  # a subdirectory's approver does not
        (["a/b/y.go"], ["alice"], {"a/b"}, set()),
        (["a/x.go", "a/b/y.go"], [], {"a"}, {"a"}),  # a/b folds into a
        (["a/x.go", "a/b/y.go"], ["bob"], {"a"}, {"a"}),
        (["a/x.go", "c/z.go"], ["alice"], {"a", "c"}, {"c"}),
        (["a/x.go", "c/z.go"], ["alice", "carol"], {"a", "c"}, set()),
        (["a/x.go", "c/z.go"], ["root"], {"a", "c"}, set()),
        (["vendor/x/lib.go", "main.go"], ["root"], {"", "vendor/x"}, {"vendor/x"}),  # no_parent_owners boundary
        (["vendor/x/lib.go"], ["vic"], {"vendor/x"}, set()),
        (["vendor/lib.go", "vendor/x/lib.go"], ["xavier"], {"vendor"}, {"vendor"}),
        (["auto/new/sub/file.go"], [], set(), set()),  # unowned subfolder of an auto-approving OWNERS
        (["auto/top.go"], [], {"auto"}, {"auto"}),
        (["unowned/file.go"], ["alice"], {""}, {""}),
    ],
)
def test_files_are_covered_by_their_owners_approvers(
    files: list[str], approvers: list[str], owners_set: set[str], unapproved: set[str]
) -> None:
    ap = approvals(files, *approvers)
    assert ap.owners_set() == owners_set
    assert ap.unapproved() == unapproved
    assert ap.is_approved() == (not unapproved)


def test_a_pr_without_files_is_not_approved() -> None:
    assert not approvals([], "root").is_approved()


def test_issue_requirement() -> None:
    ap = approvals(["a/x.go"], "alice")
    ap.require_issue = True
    assert ap.files_approved() and not ap.is_approved()
    ap.add_approver("alice", no_issue=True)
    assert ap.is_approved()
    ap.add_approver("alice")  # a later plain approval keeps the no-issue one
    assert ap.approvals["alice"].no_issue
    other = approvals(["a/x.go"], "alice")
    other.require_issue, other.associated_issue = True, 12
    assert other.is_approved()


def test_suggestions_cover_what_is_unapproved() -> None:
    ap = approvals(["a/x.go", "c/z.go", "a/b/q.go"], "alice")
    assert ap.suggested_ccs() == ["carol"]
    ap.add_assignees(["Root"])
    assert ap.assigned_ccs() == ["root"]  # the assignee alone would complete approval
    assert approvals(["a/x.go"], "alice").ccs() == []


# --- reading comments -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "lgtm", "want"),
    [
        ("/approve", False, True),
        ("/APPROVE no-issue", False, True),
        ("/approve cancel", False, True),
        ("/remove-approve", False, True),
        ("LGTM\n/approve\nthanks", False, True),
        ("/lgtm", False, False),
        ("/lgtm", True, True),
        (" /approve", False, False),
        ("please /approve", False, False),
        ("/approved", False, False),
    ],
)
def test_approval_commands(body: str, lgtm: bool, want: bool) -> None:
    assert is_approval_command(body, lgtm_acts_as_approve=lgtm) is want


@pytest.mark.parametrize(
    ("state", "on", "want"),
    [("approved", True, True), ("CHANGES_REQUESTED", True, True), ("dismissed", True, True),
     ("commented", True, False), ("approved", False, False)],
)  # fmt: skip
def test_approval_states(state: str, on: bool, want: bool) -> None:
    assert is_approval_state(state, review_acts_as_approve=on) is want


def read(comments: list[Comment], *, author: str = "erin", lgtm: bool = False, reviews: bool = True) -> Approvals:
    ap = approvals(["a/x.go", "c/z.go"])
    read_approvals(
        ap,
        comments,
        pr_author=author,
        is_bot=lambda login: login == "ci-robot",
        lgtm_acts_as_approve=lgtm,
        review_acts_as_approve=reviews,
    )
    return ap


def test_each_users_latest_word_counts_in_time_order() -> None:
    ap = read(
        [
            Comment("carol", "/approve cancel", "2024-01-03T00:00:00Z"),
            Comment("alice", "/approve", "2024-01-01T00:00:00Z", "u1"),
            Comment("carol", "/approve", "2024-01-02T00:00:00Z"),
            Comment("ci-robot", "/approve", "2024-01-04T00:00:00Z"),
            Comment("dave", "/remove-approve", "2024-01-05T00:00:00Z"),
        ]
    )
    assert ap.current() == {"alice"}
    assert ap.approvals["alice"].reference == "u1"
    assert ap.unapproved() == {"c"}


def test_reviews_lgtm_and_self_approval() -> None:
    ap = read(
        [
            Comment("alice", "", "2024-01-01T00:00:00Z", review_state="APPROVED"),
            Comment("carol", "/lgtm", "2024-01-02T00:00:00Z"),
        ],
        lgtm=True,
    )
    assert ap.current() == {"alice", "carol"} and ap.is_approved()
    assert ap.approvals["carol"].how == "LGTM"
    ignored = read([Comment("alice", "", "2024-01-01T00:00:00Z", review_state="APPROVED")], reviews=False)
    assert ignored.current() == set()
    taken_back = read(
        [
            Comment("alice", "/approve", "2024-01-01T00:00:00Z"),
            Comment("alice", "not yet", "2024-01-02T00:00:00Z", review_state="CHANGES_REQUESTED"),
        ]
    )
    assert taken_back.current() == set()
    own = read([Comment("Carol", "/approve", "2024-01-01T00:00:00Z")], author="carol")
    assert own.approvals["carol"].how == "Approved"  # the explicit approval overrides the self-approval entry


def test_associated_issue() -> None:
    assert find_associated_issue("Fixes #42 and #43", "org0") == 42
    assert find_associated_issue("see https://github.com/org0/repo1/issues/7", "org0") == 7
    assert find_associated_issue("no issue", "org0") == 0


# --- the notifier -------------------------------------------------------------------------------------------------

FOOTER = "The full list of commands accepted by this bot can be found [here](https://go.k8s.io/bot-commands?repo=org0%2Frepo0).\n\n"
DETAILS_END = (
    "\nApprovers can indicate their approval by writing `/approve` in a comment\n"
    "Approvers can cancel approval by writing `/approve cancel` in a comment\n</details>"
)
PROCESS = "https://git.k8s.io/community/contributors/guide/owners.md#the-code-review-process"


def test_notification_not_approved_in_prows_words() -> None:
    ap = approvals(["a/x.go", "c/z.go"])
    ap.add_approver("alice", "https://github.com/org0/repo0/pull/1#issuecomment-1")
    text = notification(ap, org="org0", repo="repo0", branch="main")
    assert text == (
        "[APPROVALNOTIFIER] This PR is **NOT APPROVED**\n\n"
        'This pull-request has been approved by: *<a href="https://github.com/org0/repo0/pull/1#issuecomment-1" '
        'title="Approved">alice</a>*\n'
        "**Once this PR has been reviewed and has the lgtm label**, please assign [carol](https://github.com/carol) "
        f"for approval. For more information see [the Code Review Process]({PROCESS}).\n\n"
        + FOOTER
        + "<details open>\nNeeds approval from an approver in each of these files:\n\n"
        "- ~~[a/OWNERS](https://github.com/org0/repo0/blob/main/a/OWNERS)~~ [alice]\n"
        "- **[c/OWNERS](https://github.com/org0/repo0/blob/main/c/OWNERS)**\n"
        + DETAILS_END
        + '\n<!-- META={"approvers":["carol"]} -->'
    )
    assert is_notification(text)


def test_notification_approved_in_prows_words() -> None:
    ap = approvals(["main.go"])
    ap.add_approver("Root", "u")
    text = notification(ap, org="org0", repo="repo0", branch="dev")
    assert text == (
        "[APPROVALNOTIFIER] This PR is **APPROVED**\n\n"
        'This pull-request has been approved by: *<a href="u" title="Approved">Root</a>*\n\n'
        + FOOTER
        + f"The pull request process is described [here]({PROCESS})\n\n"
        "<details >\nNeeds approval from an approver in each of these files:\n\n"
        "- ~~[OWNERS](https://github.com/org0/repo0/blob/dev/OWNERS)~~ [Root]\n"
        + DETAILS_END
        + '\n<!-- META={"approvers":[]} -->'
    )


def test_notification_partial_approval_and_issue_lines() -> None:
    tree = owners(a="filters:\n  '\\.go$':\n    approvers: [gopher]\n  '\\.py$':\n    approvers: [pythonista]\n")
    ap = approvals(["a/x.go", "a/y.py"], "gopher", tree=tree)
    ap.require_issue = True
    text = notification(ap, org="org0", repo="repo0", branch="main")
    assert (
        "- **[a/OWNERS](https://github.com/org0/repo0/blob/main/a/OWNERS)** [gopher]\n  > Need more approvers for rest parts.\n"
        in text
    )
    assert (
        "*No associated issue*. Update pull-request body to add a reference to an issue, or get approval with `/approve no-issue`\n\n"
        in text
    )
    ap.associated_issue = 5
    assert "Associated issue: *#5*\n\n" in notification(ap, org="org0", repo="repo0", branch="main")
    assert not is_notification("Some comment\n[APPROVALNOTIFIER] later")
