"""The hold plugin: `/hold` keeps a pull request from merging without withdrawing approval (Prow's `hold`).

Anyone may add or remove the `do-not-merge/hold` label; tide will not merge a pull request that has it.
"""

from __future__ import annotations

import re

from prow_lite.events import GenericCommentEvent
from prow_lite.plugins.base import Agent, Command, Plugin, PluginHelp, register, strip_code

HOLD_LABEL = "do-not-merge/hold"
# Prow's pkg/plugins/hold regexes; a cancel wins over a hold in the same comment.
HOLD_RE = re.compile(r"(?mi)^/hold(\s.*)?$")
UNHOLD_RE = re.compile(r"(?mi)^/(remove-hold|hold\s+cancel|unhold)(\s.*)?$")


def wants_hold(body: str) -> bool | None:
    """True for `/hold`, False for `/hold cancel`, `/unhold` or `/remove-hold`, None when the body has neither."""
    text = strip_code(body)
    if UNHOLD_RE.search(text):
        return False
    if HOLD_RE.search(text):
        return True
    return None


async def handle_comment(agent: Agent, event: GenericCommentEvent) -> None:
    if not event.is_pr or event.action != "created":
        return
    want = wants_hold(event.body)
    if want is None:
        return
    org, repo = event.repo.org, event.repo.name
    labels = await agent.gh.list_issue_labels(org, repo, event.number)
    has = any(name.lower() == HOLD_LABEL for name in labels)
    if has and not want:
        agent.log.info("removing %s from %s#%d", HOLD_LABEL, event.repo, event.number)
        await agent.gh.remove_label(org, repo, event.number, HOLD_LABEL)
    elif want and not has:
        agent.log.info("adding %s to %s#%d", HOLD_LABEL, event.repo, event.number)
        await agent.gh.add_labels(org, repo, event.number, [HOLD_LABEL])


_WHO = f"Anyone can use the /hold command to add or remove the '{HOLD_LABEL}' label."
_USAGE = "/[remove-][un]hold [cancel]"
_DESCRIPTION = f"Adds or removes the `{HOLD_LABEL}` label, which keeps the PR from being merged automatically."

PLUGIN = register(
    Plugin(
        name="hold",
        help=PluginHelp(
            description=(
                f"The hold plugin lets anyone add or remove the '{HOLD_LABEL}' label on a pull request to keep it "
                "from merging for now without withdrawing approval."
            ),
            commands=(
                Command("hold", _USAGE, _DESCRIPTION, _WHO, ("/hold", "/hold cancel")),
                Command("unhold", "/unhold", _DESCRIPTION, _WHO, ("/unhold",)),
                Command("remove-hold", "/remove-hold", _DESCRIPTION, _WHO, ("/remove-hold",)),
            ),
        ),
        generic_comment=handle_comment,
    )
)
