"""Exceptions raised by ghproxy; each says what was wrong and what to do."""

from __future__ import annotations


class GhproxyError(Exception):
    """Base of every error ghproxy raises on purpose."""


class ConfigError(GhproxyError):
    """A flag or setting is invalid; the message names it and says what is accepted."""


class UpstreamError(GhproxyError):
    """The upstream could not be reached or did not answer in time."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout
