"""Webhook payloads to events: the typed event, and Prow's generic comment wherever a user can type a command."""

from __future__ import annotations

from typing import Any

import pytest

from prow_lite.events import (
    BadPayload,
    GenericCommentEvent,
    IssueEvent,
    PullRequestEvent,
    PushEvent,
    ReviewEvent,
    StatusEvent,
    parse,
    pr_key,
)

REPO = {"name": "repo0", "owner": {"login": "org0"}, "full_name": "org0/repo0"}
ALICE, BOB = {"login": "alice"}, {"login": "bob"}
PR = {
    "number": 7,
    "title": "Fix it",
    "body": "/hold\nplease",
    "state": "open",
    "html_url": "https://example/pull/7",
    "user": ALICE,
    "assignees": [BOB],
    "head": {"sha": "a" * 40, "ref": "fix"},
    "base": {"sha": "b" * 40, "ref": "main"},
}


def test_issue_comment_on_a_pr_is_one_generic_comment() -> None:
    payload = {
        "action": "created",
        "repository": REPO,
        "issue": {**PR, "pull_request": {"url": "x"}},
        "comment": {"id": 11, "body": "/lgtm", "user": BOB, "html_url": "https://example/c/11"},
        "sender": BOB,
    }
    [event] = parse("issue_comment", "guid-1", payload)
    assert isinstance(event, GenericCommentEvent)
    assert (event.guid, event.action, event.is_pr, event.number, event.body) == ("guid-1", "created", True, 7, "/lgtm")
    assert (event.user, event.issue_author, event.comment_id, event.assignees) == ("bob", "alice", 11, ("bob",))
    assert event.repo.full_name == "org0/repo0" and pr_key(event) == "org0/repo0#7"


def test_comment_on_a_plain_issue_is_not_a_pr() -> None:
    payload = {
        "action": "edited",
        "repository": REPO,
        "issue": {**PR, "number": 3},
        "comment": {"id": 12, "body": "/kind bug", "user": BOB},
    }
    [event] = parse("issue_comment", "g", payload)
    assert isinstance(event, GenericCommentEvent) and not event.is_pr and event.action == "edited"


def test_opened_pr_gives_the_pr_event_then_its_body_as_a_comment() -> None:
    payload = {"action": "opened", "number": 7, "repository": REPO, "pull_request": PR, "sender": ALICE}
    pr, body = parse("pull_request", "g", payload)
    assert isinstance(pr, PullRequestEvent) and isinstance(body, GenericCommentEvent)
    assert (pr.author, pr.head_sha, pr.base_ref, pr.base_sha) == ("alice", "a" * 40, "main", "b" * 40)
    assert (body.source, body.action, body.body, body.user, body.comment_id) == (
        "pull_request",
        "created",
        "/hold\nplease",
        "alice",
        None,
    )


@pytest.mark.parametrize("action", ["synchronize", "labeled", "closed"])
def test_other_pr_actions_carry_no_comment(action: str) -> None:
    payload: dict[str, Any] = {"action": action, "number": 7, "repository": REPO, "pull_request": PR, "sender": BOB}
    if action == "labeled":
        payload["label"] = {"name": "lgtm"}
    if action == "synchronize":
        payload |= {"before": "c" * 40, "after": "a" * 40}
    [event] = parse("pull_request", "g", payload)
    assert isinstance(event, PullRequestEvent) and event.sender == "bob"
    assert event.label == ("lgtm" if action == "labeled" else None)
    assert event.after == ("a" * 40 if action == "synchronize" else None)


def test_review_gives_the_review_and_its_body_with_state() -> None:
    payload = {
        "action": "submitted",
        "repository": REPO,
        "pull_request": PR,
        "review": {"id": 5, "state": "APPROVED", "body": "/approve", "user": BOB},
        "sender": BOB,
    }
    review, body = parse("pull_request_review", "g", payload)
    assert isinstance(review, ReviewEvent) and review.state == "approved" and review.reviewer == "bob"
    assert isinstance(body, GenericCommentEvent)
    assert (body.review_state, body.body, body.is_pr) == ("approved", "/approve", True)


def test_review_comment_is_a_generic_comment() -> None:
    payload = {
        "action": "created",
        "repository": REPO,
        "pull_request": PR,
        "comment": {"id": 9, "body": "/cc @carol", "user": BOB},
    }
    [event] = parse("pull_request_review_comment", "g", payload)
    assert isinstance(event, GenericCommentEvent) and event.comment_id == 9 and event.source.endswith("comment")


def test_issue_opened_and_labeled() -> None:
    opened = {"action": "opened", "repository": REPO, "issue": {**PR, "number": 3}, "sender": ALICE}
    issue, body = parse("issues", "g", opened)
    assert isinstance(issue, IssueEvent) and not issue.is_pr and issue.author == "alice"
    assert isinstance(body, GenericCommentEvent) and body.source == "issues"
    labeled = {**opened, "action": "labeled", "label": {"name": "kind/bug"}}
    [event] = parse("issues", "g", labeled)
    assert isinstance(event, IssueEvent) and event.label == "kind/bug"


def test_push_and_status_are_repository_events() -> None:
    push = {
        "ref": "refs/heads/main",
        "before": "b" * 40,
        "after": "c" * 40,
        "repository": REPO,
        "pusher": {"name": "alice"},
        "commits": [{"id": "c" * 40, "added": ["OWNERS"], "modified": [], "removed": []}],
    }
    [event] = parse("push", "g", push)
    assert isinstance(event, PushEvent) and event.branch == "main" and event.pusher == "alice"
    assert pr_key(event) == "org0/repo0"
    status = {"sha": "c" * 40, "state": "success", "context": "ci", "repository": REPO, "sender": BOB}
    [event2] = parse("status", "g", status)
    assert isinstance(event2, StatusEvent) and event2.description == "" and event2.sender == "bob"


def test_unknown_events_are_ignored_and_broken_payloads_named() -> None:
    assert parse("ping", "g", {"zen": "Keep it logically awesome."}) == []
    with pytest.raises(BadPayload, match="issue_comment payload"):
        parse("issue_comment", "g", {"action": "created", "repository": REPO})
