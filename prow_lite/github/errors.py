"""Errors the GitHub client raises; each says what was wrong and what to do."""

from __future__ import annotations

from collections.abc import Sequence


class GitHubClientError(Exception):
    """Base of every error the client raises on purpose; raised as is for bad settings and credentials."""


class TransportError(GitHubClientError):
    """The endpoint could not be reached, or stopped answering, after every retry."""


class GitHubError(GitHubClientError):
    """GitHub (or ghproxy) answered with a status the call does not expect."""

    def __init__(self, status: int, message: str, path: str) -> None:
        super().__init__(f"{status} from {path}: {message}")
        self.status = status
        self.message = message
        self.path = path


class NotFound(GitHubError):
    """404: the resource does not exist, or the token may not see it."""


class RateLimited(GitHubError):
    """The token's primary rate limit is spent (x-ratelimit-remaining: 0); calls succeed again at `reset_at`."""

    def __init__(self, status: int, message: str, path: str, reset_at: float | None) -> None:
        super().__init__(status, message, path)
        self.reset_at = reset_at  # unix time from x-ratelimit-reset; None when the answer did not say


class SecondaryRateLimited(GitHubError):
    """A secondary-limit (or ghproxy throttle) answer asked for a longer wait than the client may sleep."""

    def __init__(self, status: int, message: str, path: str, retry_after: float) -> None:
        super().__init__(status, message, path)
        self.retry_after = retry_after


class MissingUsers(GitHubClientError):
    """GitHub did not assign, or request a review from, these users (not collaborators, or unknown)."""

    def __init__(self, action: str, users: Sequence[str]) -> None:
        super().__init__(f"could not {action} the following user(s): {', '.join(users)}.")
        self.action = action
        self.users = tuple(users)


class ExtraUsers(GitHubClientError):
    """These users are still assigned, or still requested as reviewers, after asking GitHub to remove them."""

    def __init__(self, action: str, users: Sequence[str]) -> None:
        super().__init__(f"could not {action} the following user(s): {', '.join(users)}.")
        self.action = action
        self.users = tuple(users)
