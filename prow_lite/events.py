"""GitHub webhook payloads as the events plugins handle, including Prow's synthesised generic comments.

`parse()` is pure: event type, delivery id and payload in, events out. A comment, a review, a review comment and
an opened or edited issue/PR body each also become one `GenericCommentEvent`, as in Prow, so command plugins
handle every place a user can type a command through one handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Payload = Mapping[str, Any]


class BadPayload(ValueError):
    """A payload lacks a field its event type always has."""


@dataclass(frozen=True, slots=True)
class Repo:
    org: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.org}/{self.name}"

    def __str__(self) -> str:
        return self.full_name


@dataclass(frozen=True, slots=True)
class GenericCommentEvent:
    """Text a user wrote where commands are read: a comment, a review, a review comment, or a body."""

    guid: str  # the delivery id
    source: str  # "issue_comment", "pull_request_review", "pull_request_review_comment", "issues", "pull_request"
    action: str  # "created", "edited" or "deleted" (opened bodies are "created", edited bodies "edited")
    repo: Repo
    number: int
    is_pr: bool
    body: str
    html_url: str
    user: str  # who wrote the text
    issue_author: str
    issue_state: str
    issue_title: str
    assignees: tuple[str, ...]
    comment_id: int | None  # issue or review comment id; None for bodies and reviews
    review_state: str | None  # "approved", "changes_requested", "commented" for reviews, else None


@dataclass(frozen=True, slots=True)
class PullRequestEvent:
    guid: str
    action: str  # opened, synchronize, reopened, closed, labeled, unlabeled, edited, ...
    repo: Repo
    number: int
    pull_request: Payload
    sender: str
    label: str | None  # for labeled/unlabeled
    before: str | None  # for synchronize
    after: str | None

    @property
    def author(self) -> str:
        return str(self.pull_request["user"]["login"])

    @property
    def head_sha(self) -> str:
        return str(self.pull_request["head"]["sha"])

    @property
    def base_ref(self) -> str:
        return str(self.pull_request["base"]["ref"])

    @property
    def base_sha(self) -> str:
        return str(self.pull_request["base"]["sha"])

    @property
    def merged(self) -> bool:
        return bool(self.pull_request.get("merged"))


@dataclass(frozen=True, slots=True)
class IssueEvent:
    guid: str
    action: str
    repo: Repo
    number: int
    issue: Payload
    sender: str
    label: str | None
    is_pr: bool

    @property
    def author(self) -> str:
        return str(self.issue["user"]["login"])


@dataclass(frozen=True, slots=True)
class ReviewEvent:
    guid: str
    action: str  # submitted, edited, dismissed
    repo: Repo
    number: int
    pull_request: Payload
    review: Payload
    sender: str

    @property
    def state(self) -> str:
        return str(self.review.get("state") or "").lower()

    @property
    def reviewer(self) -> str:
        return str(self.review["user"]["login"])


@dataclass(frozen=True, slots=True)
class PushEvent:
    guid: str
    repo: Repo
    ref: str
    before: str
    after: str
    deleted: bool
    pusher: str
    commits: tuple[Payload, ...]

    @property
    def branch(self) -> str:
        return self.ref.removeprefix("refs/heads/")


@dataclass(frozen=True, slots=True)
class StatusEvent:
    guid: str
    repo: Repo
    sha: str
    state: str
    context: str
    description: str
    target_url: str
    sender: str


Event = GenericCommentEvent | PullRequestEvent | IssueEvent | ReviewEvent | PushEvent | StatusEvent


def parse(event_type: str, guid: str, payload: Payload) -> list[Event]:
    """The events one delivery carries: the typed event (if any) first, then the generic comment (if any)."""
    try:
        if event_type == "issue_comment":
            return [_issue_comment(guid, payload)]
        if event_type == "issues":
            return _issues(guid, payload)
        if event_type == "pull_request":
            return _pull_request(guid, payload)
        if event_type == "pull_request_review":
            return _review(guid, payload)
        if event_type == "pull_request_review_comment":
            return [_review_comment(guid, payload)]
        if event_type == "push":
            return [_push(guid, payload)]
        if event_type == "status":
            return [_status(guid, payload)]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadPayload(f"{event_type} payload: missing or malformed field {exc}") from exc
    return []


def pr_key(event: Event) -> str:
    """What events must be serialised on: `org/repo#number` for issue/PR events, `org/repo` otherwise."""
    number = getattr(event, "number", None)
    return f"{event.repo.full_name}#{number}" if number is not None else event.repo.full_name


def repo_of(payload: Payload) -> Repo:
    repository = payload["repository"]
    return Repo(str(repository["owner"]["login"]), str(repository["name"]))


def _login(user: Any) -> str:
    return str(user["login"]) if user else ""


def _assignees(item: Payload) -> tuple[str, ...]:
    return tuple(_login(a) for a in item.get("assignees") or ())


def _generic(
    guid: str, source: str, action: str, payload: Payload, item: Payload, *, is_pr: bool, body: str | None,
    html_url: str, user: str, comment_id: int | None = None, review_state: str | None = None,
) -> GenericCommentEvent:  # fmt: skip
    return GenericCommentEvent(
        guid=guid,
        source=source,
        action=action,
        repo=repo_of(payload),
        number=int(item["number"]),
        is_pr=is_pr,
        body=body or "",
        html_url=html_url,
        user=user,
        issue_author=_login(item.get("user")),
        issue_state=str(item.get("state", "")),
        issue_title=str(item.get("title", "")),
        assignees=_assignees(item),
        comment_id=comment_id,
        review_state=review_state,
    )


_COMMENT_ACTIONS = {"created": "created", "edited": "edited", "deleted": "deleted"}


def _issue_comment(guid: str, payload: Payload) -> GenericCommentEvent:
    issue, comment = payload["issue"], payload["comment"]
    return _generic(
        guid, "issue_comment", _COMMENT_ACTIONS.get(str(payload["action"]), str(payload["action"])), payload, issue,
        is_pr="pull_request" in issue, body=comment.get("body"), html_url=str(comment.get("html_url", "")),
        user=_login(comment["user"]), comment_id=int(comment["id"]),
    )  # fmt: skip


def _issues(guid: str, payload: Payload) -> list[Event]:
    issue, action = payload["issue"], str(payload["action"])
    label = payload.get("label")
    events: list[Event] = [
        IssueEvent(
            guid, action, repo_of(payload), int(issue["number"]), issue, _login(payload.get("sender")),
            str(label["name"]) if label else None, "pull_request" in issue,
        )
    ]  # fmt: skip
    if action in ("opened", "edited"):
        events.append(
            _generic(
                guid, "issues", "created" if action == "opened" else "edited", payload, issue,
                is_pr="pull_request" in issue, body=issue.get("body"), html_url=str(issue.get("html_url", "")),
                user=_login(issue["user"]),
            )
        )  # fmt: skip
    return events


def _pull_request(guid: str, payload: Payload) -> list[Event]:
    pr, action = payload["pull_request"], str(payload["action"])
    label = payload.get("label")
    events: list[Event] = [
        PullRequestEvent(
            guid, action, repo_of(payload), int(payload.get("number") or pr["number"]), pr,
            _login(payload.get("sender")), str(label["name"]) if label else None,
            payload.get("before"), payload.get("after"),
        )
    ]  # fmt: skip
    if action in ("opened", "edited"):
        events.append(
            _generic(
                guid, "pull_request", "created" if action == "opened" else "edited", payload, pr, is_pr=True,
                body=pr.get("body"), html_url=str(pr.get("html_url", "")), user=_login(pr["user"]),
            )
        )  # fmt: skip
    return events


def _review(guid: str, payload: Payload) -> list[Event]:
    pr, review, action = payload["pull_request"], payload["review"], str(payload["action"])
    events: list[Event] = [
        ReviewEvent(guid, action, repo_of(payload), int(pr["number"]), pr, review, _login(payload.get("sender")))
    ]
    if action in ("submitted", "edited"):
        events.append(
            _generic(
                guid, "pull_request_review", "created" if action == "submitted" else "edited", payload, pr,
                is_pr=True, body=review.get("body"), html_url=str(review.get("html_url", "")),
                user=_login(review["user"]), review_state=str(review.get("state") or "").lower(),
            )
        )  # fmt: skip
    return events


def _review_comment(guid: str, payload: Payload) -> GenericCommentEvent:
    pr, comment = payload["pull_request"], payload["comment"]
    return _generic(
        guid, "pull_request_review_comment", _COMMENT_ACTIONS.get(str(payload["action"]), str(payload["action"])),
        payload, pr, is_pr=True, body=comment.get("body"), html_url=str(comment.get("html_url", "")),
        user=_login(comment["user"]), comment_id=int(comment["id"]),
    )  # fmt: skip


def _push(guid: str, payload: Payload) -> PushEvent:
    return PushEvent(
        guid=guid,
        repo=repo_of(payload),
        ref=str(payload["ref"]),
        before=str(payload["before"]),
        after=str(payload["after"]),
        deleted=bool(payload.get("deleted")),
        pusher=str((payload.get("pusher") or {}).get("name") or _login(payload.get("sender"))),
        commits=tuple(payload.get("commits") or ()),
    )


def _status(guid: str, payload: Payload) -> StatusEvent:
    return StatusEvent(
        guid=guid,
        repo=repo_of(payload),
        sha=str(payload["sha"]),
        state=str(payload["state"]),
        context=str(payload["context"]),
        description=str(payload.get("description") or ""),
        target_url=str(payload.get("target_url") or ""),
        sender=_login(payload.get("sender")),
    )
