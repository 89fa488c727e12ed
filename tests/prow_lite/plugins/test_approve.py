"""The approve plugin end to end: OWNERS pushed to ghsim, PRs and commands acted as users, webhooks parsed into events,
handlers talking to ghsim through ghproxy; assertions read the label and the notifier comment from ghsim."""

from __future__ import annotations

from typing import Any

from prow_lite.events import Event, GenericCommentEvent, PullRequestEvent, ReviewEvent
from prow_lite.plugins.approve import APPROVED
from tests.prow_lite.plugins import command_world
from tests.prow_lite.plugins.command_world import BOT, World

world = command_world.world  # the fixture

PLUGINS_YAML = "plugins:\n  org0/repo0:\n    plugins: [approve]\n"
OWNERS = {
    "OWNERS_ALIASES": "aliases:\n  docs-team: [Bob]\n",
    "OWNERS": "approvers: [alice]\n",
    "src/OWNERS": "approvers: [carol]\nreviewers: [dave]\n",
    "docs/OWNERS": "approvers: [docs-team]\n",
    "vendor/OWNERS": "options:\n  no_parent_owners: true\napprovers: [dave]\n",
    "outside/OWNERS": "approvers: [frank]\n",  # not a collaborator of the repo
}


async def setup(w: World, extra_plugins: str = "") -> None:
    w.plugins_yaml = PLUGINS_YAML + extra_plugins
    await w.act("push", as_="alice", branch="main", files=OWNERS)
    await w.events()


async def handle(w: World, event: Event) -> None:
    await w.handle("approve", event)


async def opened(w: World, author: str, *paths: str) -> PullRequestEvent:
    await w.open_pr(author, **{p: f"# {p}\n" for p in paths})
    ev = await w.one(PullRequestEvent, "opened")
    await handle(w, ev)
    return ev


async def say(w: World, number: int, who: str, body: str) -> None:
    await handle(w, await w.comment(number, who, body))


async def notifiers(w: World, number: int) -> list[dict[str, Any]]:
    return [
        c for c in await w.comments(number) if c["user"]["login"] == BOT and c["body"].startswith("[APPROVALNOTIFIER]")
    ]


async def state(w: World, number: int) -> tuple[bool, str]:
    """Whether the PR has `approved`, and the one notifier comment's text."""
    (only,) = await notifiers(w, number)
    return APPROVED in await w.labels(number), str(only["body"])


async def test_approve_by_owners_of_every_file(world: World) -> None:
    await setup(world)
    ev = await opened(world, "erin", "src/app.py", "docs/guide.md")
    approved, text = await state(world, ev.number)
    assert not approved
    assert text.startswith(
        "[APPROVALNOTIFIER] This PR is **NOT APPROVED**\n\nThis pull-request has been approved by: "
        f'*<a href="https://github.com/org0/repo0/pull/{ev.number}#" title="Author self-approved">erin</a>*\n'
        "**Once this PR has been reviewed and has the lgtm label**, please assign [bob](https://github.com/bob), "
        "[carol](https://github.com/carol) for approval."
    )  # as in Prow, the author counts as approving but covers nothing: erin is in no OWNERS
    assert "- **[docs/OWNERS](https://github.com/org0/repo0/blob/main/docs/OWNERS)**" in text
    assert "- **[src/OWNERS](https://github.com/org0/repo0/blob/main/src/OWNERS)**" in text
    assert "<details open>" in text
    (first,) = await notifiers(world, ev.number)

    await say(world, ev.number, "carol", "/approve")
    approved, text = await state(world, ev.number)
    assert not approved
    assert "~~[src/OWNERS](https://github.com/org0/repo0/blob/main/src/OWNERS)~~ [carol]" in text
    assert "please assign [bob](https://github.com/bob) for approval" in text  # the docs-team alias, expanded

    await say(world, ev.number, "frank", "/approve")  # not in any OWNERS covering these files
    assert not (await state(world, ev.number))[0]

    await say(world, ev.number, "bob", "/approve")
    approved, text = await state(world, ev.number)
    assert approved
    assert text.startswith("[APPROVALNOTIFIER] This PR is **APPROVED**\n\nThis pull-request has been approved by: ")
    assert 'title="Approved">bob</a>*' in text and 'title="Approved">carol</a>*' in text
    assert "<details >" in text
    (last,) = await notifiers(world, ev.number)
    assert last["id"] == first["id"]  # one notifier, edited in place

    await say(world, ev.number, "bob", "/approve cancel")
    assert not (await state(world, ev.number))[0]
    await say(world, ev.number, "bob", "/APPROVE")
    assert (await state(world, ev.number))[0]
    await say(world, ev.number, "carol", "/remove-approve")
    assert not (await state(world, ev.number))[0]


async def test_root_approver_and_no_parent_owners(world: World) -> None:
    await setup(world)
    ev = await opened(world, "erin", "src/app.py", "vendor/lib/x.go")
    await say(world, ev.number, "alice", "/approve")
    approved, text = await state(world, ev.number)
    assert not approved  # alice is a root approver, but vendor/ has no_parent_owners
    assert "- **[vendor/OWNERS](https://github.com/org0/repo0/blob/main/vendor/OWNERS)**" in text
    assert "~~[src/OWNERS](https://github.com/org0/repo0/blob/main/src/OWNERS)~~ [alice]" in text
    await say(world, ev.number, "dave", "/approve no-issue")
    assert (await state(world, ev.number))[0]


async def test_reviews_act_as_approval_unless_ignored(world: World) -> None:
    await setup(world)
    ev = await opened(world, "erin", "src/app.py")
    await world.act("review", as_="carol", number=ev.number, state="APPROVE")
    review = next(e for e in await world.events() if isinstance(e, ReviewEvent))
    await handle(world, review)
    assert (await state(world, ev.number))[0]
    await world.act("review", as_="carol", number=ev.number, state="REQUEST_CHANGES", body="wait")
    review = next(e for e in await world.events() if isinstance(e, ReviewEvent))
    await handle(world, review)
    assert not (await state(world, ev.number))[0]


async def test_ignore_review_state_and_lgtm_acts_as_approve(world: World) -> None:
    await setup(world, "approve:\n- repos: [org0/repo0]\n  ignore_review_state: true\n  lgtm_acts_as_approve: true\n")
    ev = await opened(world, "erin", "src/app.py")
    await world.act("review", as_="carol", number=ev.number, state="APPROVE")
    for e in await world.events():
        if isinstance(e, ReviewEvent | GenericCommentEvent):
            await handle(world, e)
    assert not (await state(world, ev.number))[0]
    await say(world, ev.number, "carol", "/lgtm")
    approved, text = await state(world, ev.number)
    assert approved and 'title="LGTM">carol</a>*' in text


async def test_author_self_approval_and_require_self_approval(world: World) -> None:
    await setup(world)
    own = await opened(world, "carol", "src/app.py")
    approved, text = await state(world, own.number)
    assert approved and 'title="Author self-approved">carol</a>*' in text

    world.plugins_yaml = PLUGINS_YAML + "approve:\n- repos: [org0/repo0]\n  require_self_approval: true\n"
    strict = await opened(world, "carol", "src/other.py")
    assert not (await state(world, strict.number))[0]
    await say(world, strict.number, "carol", "/approve")
    assert (await state(world, strict.number))[0]


async def test_only_collaborators_approve_unless_skipped(world: World) -> None:
    await setup(world)
    ev = await opened(world, "erin", "outside/x.py")
    await say(world, ev.number, "frank", "/approve")
    assert not (await state(world, ev.number))[0]  # frank is in OWNERS but not a collaborator

    world.plugins_yaml = PLUGINS_YAML + "owners:\n  skip_collaborators: [org0/repo0]\n"
    await say(world, ev.number, "frank", "/approve")
    assert (await state(world, ev.number))[0]


async def test_push_recomputes_and_replays_never_duplicate(world: World) -> None:
    await setup(world)
    ev = await opened(world, "erin", "src/app.py")
    await handle(world, ev)  # replayed delivery
    await say(world, ev.number, "carol", "/approve")
    assert (await state(world, ev.number))[0]
    await world.act("push", as_="erin", number=ev.number, files={"docs/new.md": "more\n"})
    sync = await world.one(PullRequestEvent, "synchronize")
    await handle(world, sync)
    await handle(world, sync)
    approved, text = await state(world, ev.number)  # exactly one notifier throughout
    assert not approved and "- **[docs/OWNERS](https://github.com/org0/repo0/blob/main/docs/OWNERS)**" in text
