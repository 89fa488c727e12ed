"""What a plugin is and what it is given: the registry, per-plugin help, and the `Agent` handed to each handler.

A plugin module builds one `Plugin` and passes it to `register()` at import time; `load_all()` imports every
module of this package. The hook calls the handlers of the plugins enabled for a repository (plugins.yaml), one
event at a time per pull request, and may call a handler again for the same delivery after a crash: handlers must
be idempotent. `Agent.comment()` is the idempotent way to comment (a hidden marker per plugin and key), adding a
label that is there or removing one that is gone is harmless, and jobs are created under deterministic ids.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prow_lite.events import (
    GenericCommentEvent,
    IssueEvent,
    PullRequestEvent,
    PushEvent,
    Repo,
    ReviewEvent,
    StatusEvent,
)

if TYPE_CHECKING:
    from prow_lite.config import Config, PluginsConfig
    from prow_lite.github import GitHubClient
    from prow_lite.jobs import JobStore

MARKER = "<!-- prow-lite:{plugin}:{key} -->"
_MARKER_RE = re.compile(r"<!-- prow-lite:[^\s>]+ -->")
_CODE_BLOCK = re.compile(r"```.*?```", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Command:
    """One command as /plugin-help and the unknown-command reply show it."""

    name: str  # the word after the slash, e.g. "lgtm"; aliases are further Command entries
    usage: str  # e.g. "/lgtm [cancel]"
    description: str
    who_can_use: str = "Anyone"
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PluginHelp:
    description: str
    commands: tuple[Command, ...] = ()
    config: str = ""  # a sentence on how this plugin is configured, if it is


@dataclass
class Agent:
    """Everything one handler call may use; built by the hook per plugin and event."""

    plugin: str
    gh: GitHubClient
    config: Config
    plugins: PluginsConfig
    jobs: JobStore
    bot: str  # the bot's login, so plugins can recognise their own comments
    guid: str  # the delivery being handled
    log: logging.LoggerAdapter[logging.Logger]

    async def comment(self, repo: Repo, number: int, body: str, *, key: str | None = None) -> bool:
        """Post `body` once: a hidden marker (plugin + key, default the delivery id) makes a replay a no-op.

        Returns False when a comment of the bot with this marker is already there.
        """
        marker = MARKER.format(plugin=self.plugin, key=key or self.guid)
        for existing in await self.gh.list_comments(repo.org, repo.name, number):
            if (existing.get("user") or {}).get("login") == self.bot and marker in str(existing.get("body") or ""):
                return False
        await self.gh.create_comment(repo.org, repo.name, number, f"{body}\n\n{marker}")
        return True


@dataclass(frozen=True)
class Plugin:
    """A plugin: its name as plugins.yaml spells it, its help, and one handler per event kind it reads."""

    name: str
    help: PluginHelp
    generic_comment: Callable[[Agent, GenericCommentEvent], Awaitable[None]] | None = None
    pull_request: Callable[[Agent, PullRequestEvent], Awaitable[None]] | None = None
    issue: Callable[[Agent, IssueEvent], Awaitable[None]] | None = None
    review: Callable[[Agent, ReviewEvent], Awaitable[None]] | None = None
    push: Callable[[Agent, PushEvent], Awaitable[None]] | None = None
    status: Callable[[Agent, StatusEvent], Awaitable[None]] | None = None

    def handler_for(self, event: object) -> Callable[[Agent, Any], Awaitable[None]] | None:
        kind = _KINDS.get(type(event))
        return getattr(self, kind) if kind else None


_KINDS: dict[type, str] = {
    GenericCommentEvent: "generic_comment",
    PullRequestEvent: "pull_request",
    IssueEvent: "issue",
    ReviewEvent: "review",
    PushEvent: "push",
    StatusEvent: "status",
}

REGISTRY: dict[str, Plugin] = {}


def register(plugin: Plugin) -> Plugin:
    if plugin.name in REGISTRY and REGISTRY[plugin.name] is not plugin:
        raise ValueError(f"plugin {plugin.name!r} registered twice")
    REGISTRY[plugin.name] = plugin
    return plugin


def load_all() -> dict[str, Plugin]:
    """Import every plugin module of this package (each registers itself) and return the registry."""
    import prow_lite.plugins as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name != "base" and not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    return REGISTRY


def strip_code(body: str) -> str:
    """The text commands are read from: fenced code blocks removed (Prow ignores commands quoted in code)."""
    return _CODE_BLOCK.sub("", body)


def strip_markers(body: str) -> str:
    return _MARKER_RE.sub("", body).rstrip()


def format_response(to: str, message: str, comment_body: str, comment_url: str) -> str:
    """Prow's reply shape: `@user: message` and the quoted command in a collapsed block."""
    quoted = "\n".join(">" + line for line in strip_markers(comment_body).splitlines())
    return (
        f"@{to}: {message}\n\n<details>\n\nIn response to [this]({comment_url}):\n\n{quoted}\n\n"
        "The commands I understand, and who may use them, are listed on my hook's `/plugin-help` page.\n</details>"
    )
