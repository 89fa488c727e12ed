"""`/plugin-help`: which plugins each org and repository enables and what each plugin does, as JSON or text.

The JSON has the shape of Prow's pluginhelp.Help (`AllRepos`, `RepoPlugins`, `RepoExternalPlugins`, `PluginHelp`,
`ExternalPluginHelp`), so tools written for Prow's page read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prow_lite.plugins.base import Plugin

if TYPE_CHECKING:
    from prow_lite.config import PluginsConfig

# The webhook events behind each handler kind (GenericComment is Prow's synthesised event for any user text).
_EVENTS = {
    "generic_comment": "GenericCommentEvent (any event for user text)",
    "pull_request": "pull_request",
    "issue": "issues",
    "review": "pull_request_review",
    "push": "push",
    "status": "status",
}


def events_of(plugin: Plugin) -> list[str]:
    return [text for kind, text in _EVENTS.items() if getattr(plugin, kind) is not None]


def _plugin_json(plugin: Plugin) -> dict[str, Any]:
    help = plugin.help
    return {
        "Description": help.description,
        "Config": {"": help.config} if help.config else {},
        "Events": events_of(plugin),
        "Commands": [
            {
                "Usage": c.usage,
                "Featured": False,
                "Description": c.description,
                "Examples": list(c.examples),
                "WhoCanUse": c.who_can_use,
            }
            for c in help.commands
        ],
    }


def help_json(plugins: PluginsConfig, registry: Mapping[str, Plugin]) -> dict[str, Any]:
    """Prow's pluginhelp.Help for this configuration; every plugin this prow_lite has is described."""
    repo_plugins = {key: list(entry.plugins) for key, entry in plugins.plugins.items()}
    repo_external = {key: [p.name for p in entries] for key, entries in plugins.external_plugins.items()}
    return {
        "AllRepos": sorted(set(repo_plugins) | set(repo_external)),
        "RepoPlugins": repo_plugins,
        "RepoExternalPlugins": repo_external,
        "PluginHelp": {name: _plugin_json(plugin) for name, plugin in sorted(registry.items())},
        "ExternalPluginHelp": {
            p.name: {"Description": f"External plugin at {p.endpoint}", "Events": list(p.events) or ["all"]}
            for entries in plugins.external_plugins.values()
            for p in entries
        },
    }


def help_text(plugins: PluginsConfig, registry: Mapping[str, Plugin], repo: str | None = None) -> str:
    """The same for people; with `repo` (`org/repo`), only what that repository has enabled."""
    lines: list[str] = []
    if repo:
        org, _, name = repo.partition("/")
        enabled = plugins.enabled_plugins(org, name)
        lines.append(f"Plugins enabled for {repo}: {', '.join(enabled) or 'none'}")
        externals = plugins.external_plugins_for(org, name)
        if externals:
            lines.append("External plugins: " + ", ".join(f"{p.name} ({p.endpoint})" for p in externals))
        shown = [n for n in enabled if n in registry]
    else:
        lines.append("Plugins enabled per org and repository:")
        for key, entry in sorted(plugins.plugins.items()):
            excluded = f" (not in {', '.join(entry.excluded_repos)})" if entry.excluded_repos else ""
            lines.append(f"  {key}: {', '.join(entry.plugins) or 'none'}{excluded}")
        for key, entries in sorted(plugins.external_plugins.items()):
            lines.append(f"  {key} external: " + ", ".join(f"{p.name} ({p.endpoint})" for p in entries))
        shown = sorted(registry)
    for name in shown:
        plugin = registry[name]
        lines += ["", f"{name}: {plugin.help.description}"]
        if plugin.help.config:
            lines.append(f"  Configured by: {plugin.help.config}")
        for command in plugin.help.commands:
            lines.append(f"  {command.usage}  {command.description}")
            lines.append(f"    Who can use it: {command.who_can_use}")
            if command.examples:
                lines.append(f"    Examples: {', '.join(command.examples)}")
    return "\n".join(lines) + "\n"
