"""The GitHub client every prow_lite component uses; it talks to GitHub only through ghproxy."""

from __future__ import annotations

from prow_lite.github.auth import AppAuth, Auth, TokenAuth
from prow_lite.github.client import GitHubClient, Response
from prow_lite.github.errors import (
    ExtraUsers,
    GitHubClientError,
    GitHubError,
    MissingUsers,
    NotFound,
    RateLimited,
    SecondaryRateLimited,
    TransportError,
)
from prow_lite.github.protocol import ENDPOINT_ENV, resolve_endpoint, truncate_description

__all__ = [
    "ENDPOINT_ENV",
    "AppAuth",
    "Auth",
    "ExtraUsers",
    "GitHubClient",
    "GitHubClientError",
    "GitHubError",
    "MissingUsers",
    "NotFound",
    "RateLimited",
    "Response",
    "SecondaryRateLimited",
    "TokenAuth",
    "TransportError",
    "resolve_endpoint",
    "truncate_description",
]
