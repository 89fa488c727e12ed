"""The lgtm plugin: Prow's commands and messages on real PRs in ghsim; pushes, tree hashes, reviews, OWNERS."""

from __future__ import annotations

from typing import Any

import pytest

from prow_lite.events import PullRequestEvent, ReviewEvent
from prow_lite.plugins.lgtm import (
    LGTM_LABEL,
    NOT_COLLABORATOR,
    NOT_IN_OWNERS,
    REMOVED_NOTICE,
    SELF_LGTM,
    comment_intent,
    last_tree_hash,
    review_intent,
    tree_hash_notice,
)
from tests.prow_lite.plugins import command_world
from tests.prow_lite.plugins.command_world import ORG, REPO, World

world = command_world.world  # the fixture


def plugins_yaml(*lines: str) -> str:
    return "plugins:\n  org0/repo0:\n    plugins: [lgtm]\n" + "".join(f"{line}\n" for line in lines)


TREE_HASH = ("lgtm:", "- repos: [org0/repo0]", "  store_tree_hash: true")
REVIEWS = ("lgtm:", "- repos: [org0/repo0]", "  review_acts_as_lgtm: true")


# --- pure -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ("/lgtm", True),
        ("/LGTM", True),
        ("/lgtm no-issue", True),
        ("/lgtm  \r\n", True),
        ("looks fine\n/lgtm\n", True),
        ("/lgtm cancel", False),
        ("/LGTM CANCEL", False),
        ("/remove-lgtm", False),
        ("/lgtm thanks!", None),  # Prow ignores text after the command
        ("/lgtm-cancel", None),
        (" /lgtm", None),
        ("> /lgtm", None),
        ("so /lgtm from me", None),
        ("```\n/lgtm\n```", None),
        ("", None),
    ],
)
def test_comment_commands(body: str, want: bool | None) -> None:
    assert comment_intent(body) is want


@pytest.mark.parametrize(
    ("state", "body", "want"),
    [
        ("approved", "", True),
        ("APPROVED", "nice", True),
        ("changes_requested", "", False),
        ("commented", "", None),
        ("approved", "/lgtm", None),  # the comment handler reads the body
        ("changes_requested", "/lgtm cancel", None),
    ],
)
def test_review_meaning(state: str, body: str, want: bool | None) -> None:
    assert review_intent(state, body) is want


def test_tree_hash_comments_are_read_like_prow() -> None:
    def comment(login: str, body: str, edited: bool = False) -> dict[str, Any]:
        return {
            "user": {"login": login},
            "body": body,
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-02T00:00:00Z" if edited else "2024-01-01T00:00:00Z",
        }

    assert tree_hash_notice("abc") == "LGTM label has been added.  <details>Git tree hash: abc</details>"
    bots = {"ci-robot"}.__contains__
    comments = [
        comment("ci-robot", tree_hash_notice("old") + "\n\n<!-- prow-lite:lgtm:x -->"),
        comment("ci-robot", tree_hash_notice("new")),
        comment("erin", tree_hash_notice("forged")),  # not the bot's
        comment("ci-robot", tree_hash_notice("edited"), edited=True),  # edited comments are not trusted
    ]
    assert last_tree_hash(comments, bots) == "new"
    assert last_tree_hash(comments[2:], bots) is None


# --- on ghsim ---------------------------------------------------------------------------------------------------


async def new_pr(world: World, author: str = "erin", **files: str) -> int:
    number = await world.open_pr(author, **files)
    await world.events()
    return number


async def test_author_cannot_lgtm_their_own_pr(world: World) -> None:
    world.plugins_yaml = plugins_yaml()
    number = await new_pr(world, "carol")
    event = await world.comment(number, "carol", "/lgtm")
    await world.handle("lgtm", event)
    await world.handle("lgtm", event)  # replayed delivery

    assert LGTM_LABEL not in await world.labels(number)
    replies = await world.bot_comments(number)
    assert len(replies) == 1
    assert replies[0].startswith(f"@carol: {SELF_LGTM}")
    assert ">/lgtm" in replies[0]  # Prow quotes the command it answers


async def test_collaborator_lgtm_adds_the_label_and_a_push_drops_it(world: World) -> None:
    world.plugins_yaml = plugins_yaml()
    number = await new_pr(world, "erin")
    event = await world.comment(number, "carol", "/lgtm")
    await world.handle("lgtm", event)
    await world.handle("lgtm", event)

    assert (await world.labels(number)).count(LGTM_LABEL) == 1
    assert "carol" in await world.assignees(number)  # Prow assigns whoever lgtms
    assert await world.bot_comments(number) == []

    await world.act("push", as_="erin", number=number, files={"src/new.py": "print('changed')\n"})
    sync = await world.one(PullRequestEvent, "synchronize")
    await world.handle("lgtm", sync)
    await world.handle("lgtm", sync)

    assert LGTM_LABEL not in await world.labels(number)
    notices = await world.bot_comments(number)
    assert len(notices) == 1 and notices[0].startswith(REMOVED_NOTICE)


async def test_outsider_is_refused(world: World) -> None:
    world.plugins_yaml = plugins_yaml()
    number = await new_pr(world, "erin")
    event = await world.comment(number, "frank", "/lgtm")
    await world.handle("lgtm", event)

    assert LGTM_LABEL not in await world.labels(number)
    replies = await world.bot_comments(number)
    assert len(replies) == 1 and replies[0].startswith(f"@frank: {NOT_COLLABORATOR}")


async def test_cancel_by_collaborator_and_by_author(world: World) -> None:
    world.plugins_yaml = plugins_yaml()
    number = await new_pr(world, "erin")
    await world.handle("lgtm", await world.comment(number, "carol", "/lgtm"))
    await world.handle("lgtm", await world.comment(number, "dave", "/lgtm cancel"))
    assert LGTM_LABEL not in await world.labels(number)

    await world.handle("lgtm", await world.comment(number, "carol", "/lgtm"))
    await world.handle("lgtm", await world.comment(number, "erin", "/remove-lgtm"))  # the author may cancel
    assert LGTM_LABEL not in await world.labels(number)
    assert await world.bot_comments(number) == []


async def test_commands_on_closed_prs_and_issues_are_ignored(world: World) -> None:
    world.plugins_yaml = plugins_yaml()
    number = await new_pr(world, "erin")
    await world.act("close", as_="erin", number=number)
    await world.events()
    await world.handle("lgtm", await world.comment(number, "carol", "/lgtm"))
    assert LGTM_LABEL not in await world.labels(number)

    made = await world.act("issue", as_="erin", title="An issue")
    await world.events()
    await world.handle("lgtm", await world.comment(made["number"], "carol", "/lgtm"))
    assert LGTM_LABEL not in await world.labels(made["number"])


async def test_tree_hash_keeps_the_label_when_the_content_is_unchanged(world: World) -> None:
    world.plugins_yaml = plugins_yaml(*TREE_HASH)
    number = await new_pr(world, "erin", **{"src/new.py": "v1\n"})
    event = await world.comment(number, "carol", "/lgtm")
    await world.handle("lgtm", event)
    await world.handle("lgtm", event)

    pull = await world.get(f"/repos/{ORG}/{REPO}/pulls/{number}")
    tree = (await world.get(f"/repos/{ORG}/{REPO}/git/commits/{pull['head']['sha']}"))["tree"]["sha"]
    recorded = await world.bot_comments(number)
    assert len(recorded) == 1 and recorded[0].startswith(tree_hash_notice(tree))
    assert LGTM_LABEL in await world.labels(number)

    # A new commit with the same tree (what a squash gives): the label stays.
    await world.act("push", as_="erin", number=number, files={"src/new.py": "v1\n"}, message="squashed")
    same = await world.one(PullRequestEvent, "synchronize")
    assert same.head_sha != pull["head"]["sha"]
    await world.handle("lgtm", same)
    assert LGTM_LABEL in await world.labels(number)

    # New content: the label goes, with Prow's notice.
    await world.act("push", as_="erin", number=number, files={"src/new.py": "v2\n"})
    await world.handle("lgtm", await world.one(PullRequestEvent, "synchronize"))
    assert LGTM_LABEL not in await world.labels(number)
    assert any(body.startswith(REMOVED_NOTICE) for body in await world.bot_comments(number))

    # A new LGTM records the new tree and prunes the removal notice; cancelling prunes the tree hash.
    await world.handle("lgtm", await world.comment(number, "carol", "/lgtm"))
    bodies = await world.bot_comments(number)
    assert not any(REMOVED_NOTICE in body for body in bodies)
    assert len([b for b in bodies if "Git tree hash" in b]) == 2
    await world.handle("lgtm", await world.comment(number, "carol", "/lgtm cancel"))
    assert not any("Git tree hash" in body for body in await world.bot_comments(number))


async def test_reviews_act_as_lgtm_when_configured(world: World) -> None:
    world.plugins_yaml = plugins_yaml(*REVIEWS)
    number = await new_pr(world, "erin")

    await world.act("review", as_="carol", number=number, state="APPROVE")
    approve = await world.one(ReviewEvent)
    await world.handle("lgtm", approve)
    await world.handle("lgtm", approve)
    assert (await world.labels(number)).count(LGTM_LABEL) == 1

    await world.act("review", as_="dave", number=number, state="REQUEST_CHANGES", body="not yet")
    await world.handle("lgtm", await world.one(ReviewEvent))
    assert LGTM_LABEL not in await world.labels(number)


async def test_reviews_do_nothing_by_default(world: World) -> None:
    world.plugins_yaml = plugins_yaml()
    number = await new_pr(world, "erin")
    await world.act("review", as_="carol", number=number, state="APPROVE")
    await world.handle("lgtm", await world.one(ReviewEvent))
    assert LGTM_LABEL not in await world.labels(number)


async def test_lgtm_in_a_review_body_counts_once(world: World) -> None:
    world.plugins_yaml = plugins_yaml(*REVIEWS)
    number = await new_pr(world, "erin")
    await world.act("review", as_="carol", number=number, state="APPROVE", body="/lgtm")
    for event in await world.events():  # the review and the generic comment synthesised from its body
        await world.handle("lgtm", event)
    assert (await world.labels(number)).count(LGTM_LABEL) == 1


async def test_skip_collaborators_asks_owners_files(world: World) -> None:
    # ghsim's root OWNERS: approvers alice, bob; reviewers carol, dave.
    world.plugins_yaml = plugins_yaml("owners:", "  skip_collaborators: [org0/repo0]")
    number = await new_pr(world, "erin")
    await world.handle("lgtm", await world.comment(number, "frank", "/lgtm"))
    assert LGTM_LABEL not in await world.labels(number)
    replies = await world.bot_comments(number)
    assert len(replies) == 1 and replies[0].startswith(f"@frank: {NOT_IN_OWNERS}")

    await world.handle("lgtm", await world.comment(number, "dave", "/lgtm"))
    assert LGTM_LABEL in await world.labels(number)
    assert "dave" not in await world.assignees(number)  # OWNERS decide; nobody is assigned


async def test_sticky_lgtm_team_keeps_the_label_on_push(world: World) -> None:
    # ghsim's team `maintainers` is alice and bob.
    world.plugins_yaml = plugins_yaml("lgtm:", "- repos: [org0/repo0]", "  trusted_team_for_sticky_lgtm: maintainers")
    number = await new_pr(world, "bob")
    await world.handle("lgtm", await world.comment(number, "carol", "/lgtm"))
    await world.act("push", as_="bob", number=number, files={"src/new.py": "changed\n"})
    await world.handle("lgtm", await world.one(PullRequestEvent, "synchronize"))
    assert LGTM_LABEL in await world.labels(number)
