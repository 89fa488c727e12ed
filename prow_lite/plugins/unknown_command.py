"""The unknown-command plugin: a reply when a `/command` is understood by no plugin (kubernetes-sigs/prow#324).

Prow ignores a mistyped command in silence, so `/lgmt` looks like a bot that is down. This plugin reads each new
comment (issue and PR comments, reviews, review comments, opened bodies) for lines that start with `/word` and
answers once, quoting the comment, with the words no plugin enabled for the repository knows, the closest known
command, and the commands that are available there.

What counts as a command: a line starting with `/` and a word (letters, digits, `-`, `_`) that ends the line or is
followed by a space, as Prow's plugins read commands. Not commands: text in code blocks or HTML comments, quoted
lines (`> /lgtm`), anything mid-line, paths such as `/usr/bin/env` (the word runs into another `/`), comments by
bots (this bot included).

Known words: the `Command.name`s in the help of every plugin enabled for the repository, plus whatever a job's own
`trigger` regex accepts when the trigger plugin is enabled. External plugins that receive the comment's event may
handle any command, so their help is asked for (`POST <endpoint>/help`, as Prow's hook does for /plugin-help) and
the words in its usages and examples count as known; if any such plugin cannot be asked, or lists no command, the
comment gets no reply: silence is better than telling someone a command that works is wrong.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp

from prow_lite.events import GenericCommentEvent
from prow_lite.plugins.base import REGISTRY, Agent, Plugin, PluginHelp, format_response, register, strip_code

if TYPE_CHECKING:
    from prow_lite.config.plugins import ExternalPlugin

NAME = "unknown-command"
COMMAND_RE = re.compile(r"(?m)^/([A-Za-z][\w-]*)(?=[ \t]|\r?$)", re.ASCII)
_TILDE_FENCE = re.compile(r"~~~.*?~~~", re.DOTALL)
_HTML_COMMENT = re.compile(r"(?s)<!--.*?-->")
_MARKER = "<!-- prow-lite:"
_USAGE_TOKEN = re.compile(r"(?:^|\s)/(\S+)")
_WORD = re.compile(r"[A-Za-z0-9][\w-]*", re.ASCII)
HELP_TIMEOUT_S = 3.0
MAX_LISTED = 10
MAX_EXPANSIONS = 512


def candidates(body: str) -> list[tuple[str, str]]:
    """The command lines of a comment as (word lower-cased, whole line), first appearance of each word only."""
    text = _HTML_COMMENT.sub("", _TILDE_FENCE.sub("", strip_code(body)))
    seen: dict[str, str] = {}
    for match in COMMAND_RE.finditer(text):
        end = text.find("\n", match.start())
        line = text[match.start() : None if end < 0 else end].rstrip()
        seen.setdefault(match.group(1).lower(), line)
    return list(seen.items())


def known_words(plugin_names: Iterable[str], registry: Mapping[str, Plugin]) -> frozenset[str]:
    """The command words the enabled plugins list in their help."""
    words: set[str] = set()
    for name in plugin_names:
        plugin = registry.get(name)
        if plugin is not None:
            words.update(command.name.lower() for command in plugin.help.commands)
    return frozenset(words)


def closest(word: str, known: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return found[0] if found else None


def reply_message(unknown: Sequence[str], known: Iterable[str]) -> str:
    """What the reply says: each word not understood, with the closest known command, then the available ones."""
    lines = ["I did not understand these commands, so I did nothing for them:"]
    for word in unknown[:MAX_LISTED]:
        guess = closest(word, known)
        lines.append(f"- `/{word}`" + (f": did you mean `/{guess}`?" if guess else ""))
    if len(unknown) > MAX_LISTED:
        lines.append(f"- and {len(unknown) - MAX_LISTED} more")
    available = ", ".join(f"`/{word}`" for word in sorted(known))
    lines += ["", f"Commands available here: {available}." if available else "No commands are enabled here."]
    lines.append("Commands go at the start of a line, one per line.")
    return "\n".join(lines)


def expand_usage(pattern: str) -> set[str]:
    """The words Prow's usage notation stands for: `[remove-]lgtm` is lgtm and remove-lgtm, `(a|b)` a or b."""

    def alternatives(text: str) -> list[str]:
        parts, depth, start = [], 0, 0
        for i, ch in enumerate(text):
            depth += _depth_step(ch)
            if ch == "|" and depth == 0:
                parts.append(text[start:i])
                start = i + 1
        return [*parts, text[start:]]

    def expand(text: str) -> list[str]:
        results = [""]
        i = 0
        while i < len(text):
            ch = text[i]
            if ch in "[(":
                close, depth = i, 0
                for close in range(i, len(text)):
                    depth += _depth_step(text[close])
                    if depth == 0:
                        break
                inner = [word for part in alternatives(text[i + 1 : close]) for word in expand(part)]
                options = ["", *inner] if ch == "[" else inner
                results = [r + o for r in results for o in options][:MAX_EXPANSIONS]
                i = close + 1
            else:
                results = [r + ch for r in results]
                i += 1
        return results

    return {word.lower() for word in expand(pattern) if _WORD.fullmatch(word)}


def _depth_step(ch: str) -> int:
    return 1 if ch in "[(" else -1 if ch in "])" else 0


def help_words(help_json: Mapping[str, Any]) -> set[str]:
    """Command words in a Prow `PluginHelp` (JSON as external plugins serve it): usages and examples."""
    words: set[str] = set()
    for command in help_json.get("Commands") or ():
        texts = [str(command.get("Usage") or ""), *(str(e) for e in command.get("Examples") or ())]
        for text in texts:
            for token in _USAGE_TOKEN.findall(text):
                words |= expand_usage(token.rstrip(".,;:"))
    return words


async def external_words(plugins: Sequence[ExternalPlugin], org: str, repo: str) -> frozenset[str] | None:
    """The command words external plugins list in their help; None if one cannot say (then nothing is known)."""
    words: set[str] = set()
    timeout = aiohttp.ClientTimeout(total=HELP_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for plugin in plugins:
            url = plugin.endpoint.rstrip("/") + "/help"
            try:
                async with session.post(url, json=[{"Org": org, "Repo": repo}]) as resp:
                    if resp.status // 100 != 2:
                        return None
                    found = help_words(await resp.json(content_type=None))
            except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError):
                return None
            if not found:
                return None
            words |= found
    return frozenset(words)


def _is_bot(event: GenericCommentEvent, bot: str) -> bool:
    login = event.user.lower()
    return login == bot.lower() or login.endswith("[bot]") or _MARKER in event.body


async def handle_comment(agent: Agent, event: GenericCommentEvent) -> None:
    if event.action != "created" or _is_bot(event, agent.bot):
        return
    found = candidates(event.body)
    if not found:
        return
    org, repo = event.repo.org, event.repo.name
    enabled = agent.plugins.enabled_plugins(org, repo)
    known = known_words(enabled, REGISTRY)
    unknown = [(word, line) for word, line in found if word not in known]
    if unknown and "trigger" in enabled:
        # A job's own trigger regex (`/build-images`) is a command of the trigger plugin too.
        jobs = agent.config.presubmits_for(org, repo)
        unknown = [(word, line) for word, line in unknown if not any(job.triggered_by(line) for job in jobs)]
    if not unknown:
        return
    externals = [plugin for plugin in agent.plugins.external_plugins_for(org, repo) if plugin.wants(event.source)]
    if externals:
        extra = await external_words(externals, org, repo)
        if extra is None:
            agent.log.info("not answering unknown commands on %s#%d: external plugins may handle them", event.repo,
                           event.number)  # fmt: skip
            return
        known |= extra
        unknown = [(word, line) for word, line in unknown if word not in extra]
        if not unknown:
            return
    words = [word for word, _ in unknown]
    agent.log.info("unknown commands on %s#%d: %s", event.repo, event.number, ", ".join(words))
    message = reply_message(words, known)
    await agent.comment(event.repo, event.number, format_response(event.user, message, event.body, event.html_url))


PLUGIN = register(
    Plugin(
        name=NAME,
        help=PluginHelp(
            description=(
                "Replies to a comment whose `/command` no enabled plugin understands, with the closest known "
                "command and the commands available in the repository, so a typo is not met with silence."
            ),
            config=(
                "Enable it like any plugin. External plugins that receive comments are asked for their help "
                "(POST <endpoint>/help); if one cannot be asked, comments get no reply."
            ),
        ),
        generic_comment=handle_comment,
    )
)
