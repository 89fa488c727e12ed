"""The label plugin: parsing Prow's commands, then labels, replies and restricted labels on ghsim."""

from __future__ import annotations

import pytest

from prow_lite.config.plugins import RestrictedLabel
from prow_lite.events import PullRequestEvent
from prow_lite.plugins.label import (
    TRIAGE_REPLY,
    missing_in_repo_reply,
    needs_labels,
    not_on_issue_reply,
    parse,
    restricted_refusal,
    unsupported_reply,
)
from tests.prow_lite.plugins import command_world
from tests.prow_lite.plugins.command_world import ORG, REPO, World

world = command_world.world  # the fixture

SUPPORTED = {"api-review", "restricted"}


@pytest.mark.parametrize(
    ("body", "add", "remove", "unsupported"),
    [
        ("/kind bug", ["kind/bug"], [], []),
        ("/kind Bug  feature", ["kind/bug", "kind/feature"], [], []),
        ("/sig testing\n/area prow\n/remove-priority low", ["sig/testing", "area/prow"], ["priority/low"], []),
        ("/kind bug\r\n/wg foo\r\n", ["kind/bug", "wg/foo"], [], []),
        (
            "/committee steering\n/language zh\n/triage accepted",
            ["committee/steering", "language/zh", "triage/accepted"],
            [],
            [],
        ),
        ("/remove-kind bug\n/kind feature", ["kind/feature"], ["kind/bug"], []),
        ("/kind", [], [], []),
        ("/kinda sorta", [], [], []),
        ("/kind-of bug", [], [], []),
        (" /kind bug", [], [], []),
        ("> /kind bug", [], [], []),
        ("```\n/kind bug\n```", [], [], []),
        ("<!-- /kind bug -->", [], [], []),
        ("/label api-review", ["api-review"], [], []),
        ("/label API-Review restricted", ["api-review", "restricted"], [], []),
        ("/remove-label api-review", [], ["api-review"], []),
        ("/label nope", [], [], ["/label nope"]),
        ("/label api-review nope", ["api-review"], [], ["/label api-review nope"]),
        ("/remove-label nope", [], [], ["/remove-label nope"]),
        ("/labels api-review", [], [], []),
        ("/label", [], [], []),
    ],
)
def test_commands(body: str, add: list[str], remove: list[str], unsupported: list[str]) -> None:
    got = parse(body, SUPPORTED.__contains__)
    assert (list(got.add), list(got.remove), list(got.unsupported)) == (add, remove, unsupported)


@pytest.mark.parametrize(
    ("add", "remove", "on_issue", "want"),
    [
        ([], ["kind/bug"], ["kind/bug"], ["needs-kind"]),
        ([], ["kind/bug"], ["kind/bug", "kind/feature"], []),  # another kind stays
        (["kind/feature"], ["kind/bug"], ["kind/bug"], []),  # replaced
        ([], ["area/prow"], ["area/prow"], []),  # no needs-area in Prow
        ([], ["sig/node"], ["sig/node"], []),  # the repo has no needs-sig label
    ],
)
def test_needs_labels(add: list[str], remove: list[str], on_issue: list[str], want: list[str]) -> None:
    assert needs_labels(add, remove, on_issue, ["needs-kind", "kind/bug", "sig/node"]) == want


def test_restricted_refusals_in_prows_words() -> None:
    teams = RestrictedLabel("ok", allowed_teams=("a", "b"), allowed_users=("x",))
    users = RestrictedLabel("ok", allowed_users=tuple(f"u{n}" for n in range(25)))
    base = "The label(s) `ok` cannot be applied or removed, because you are not in one of the allowed teams and are not an allowed user."
    assert restricted_refusal("ok", teams) == base + " Must be a member of one of these teams: a, b"
    assert restricted_refusal("ok", users) == base + " Consider assigning one of the following members: " + ",".join(
        f"u{n}" for n in range(20)
    )
    assert restricted_refusal("ok", RestrictedLabel("ok")) == base


# --- on ghsim ---------------------------------------------------------------------------------------------------

PLUGINS = """\
plugins:
  org0/repo0:
    plugins: [label]
label:
  additional_labels: [api-review, tide/squash]
  restricted_labels:
    org0/repo0:
    - label: security/approved
      allowed_users: [carol]
      allowed_teams: [maintainers]
      assign_on:
      - label: security/needs-review
"""
REPO_LABELS = [
    "area/prow",
    "sig/testing",
    "api-review",
    "security/approved",
    "security/needs-review",
    "triage/accepted",
    "needs-kind",
]


async def setup(world: World) -> int:
    world.plugins_yaml = PLUGINS
    for name in REPO_LABELS:
        await world.rest("POST", f"/repos/{ORG}/{REPO}/labels", {"name": name})
    number = await world.open_pr("erin")
    await world.events()
    return number


async def test_prefix_and_custom_labels_several_per_comment(world: World) -> None:
    number = await setup(world)
    event = await world.comment(number, "erin", "/kind bug\n/area Prow\n/sig testing\n/label api-review")
    await world.handle("label", event)
    await world.handle("label", event)  # a replay adds nothing and says nothing
    assert await world.labels(number) == ["api-review", "area/prow", "kind/bug", "sig/testing"]
    assert await world.bot_comments(number) == []

    await world.handle("label", await world.comment(number, "frank", "/remove-area prow\n/remove-label api-review"))
    assert await world.labels(number) == ["kind/bug", "sig/testing"]


async def test_removing_the_last_kind_adds_needs_kind(world: World) -> None:
    number = await setup(world)
    await world.handle("label", await world.comment(number, "erin", "/kind bug"))
    await world.handle("label", await world.comment(number, "erin", "/remove-kind bug"))
    assert await world.labels(number) == ["needs-kind"]


async def test_replies_for_labels_that_cannot_be_applied(world: World) -> None:
    number = await setup(world)
    event = await world.comment(number, "erin", "/label nope")
    await world.handle("label", event)
    await world.handle("label", event)
    replies = await world.bot_comments(number)
    assert len(replies) == 1
    want = unsupported_reply(["/label nope"], ["api-review", "tide/squash"], ["security/approved"])
    assert replies[0].startswith(f"@erin: {want}")
    assert "These labels are supported: `api-review, tide/squash, security/approved`" in want

    await world.handle("label", await world.comment(number, "erin", "/kind nonexistent\n/label tide/squash"))
    replies = await world.bot_comments(number)
    assert len(replies) == 2  # one reply per comment, Prow's first problem
    assert replies[1].startswith(f"@erin: {missing_in_repo_reply(['kind/nonexistent', 'tide/squash'])}")

    await world.handle("label", await world.comment(number, "erin", "/remove-sig testing"))
    last = (await world.bot_comments(number))[-1]
    assert last.startswith(f"@erin: {not_on_issue_reply(['sig/testing'])}")


async def test_triage_accepted_is_for_org_members(world: World) -> None:
    number = await setup(world)
    await world.handle("label", await world.comment(number, "erin", "/triage accepted"))
    assert "triage/accepted" not in await world.labels(number)
    assert (await world.bot_comments(number))[-1].startswith(f"@erin: {TRIAGE_REPLY}")

    await world.handle("label", await world.comment(number, "dave", "/triage accepted"))
    assert "triage/accepted" in await world.labels(number)


async def test_restricted_labels(world: World) -> None:
    number = await setup(world)
    event = await world.comment(number, "dave", "/label security/approved api-review")
    await world.handle("label", event)
    await world.handle("label", event)
    assert await world.labels(number) == ["api-review"]  # the rest of the command still applies
    replies = await world.bot_comments(number)
    assert len(replies) == 1
    rule = RestrictedLabel("security/approved", allowed_teams=("maintainers",), allowed_users=("carol",))
    assert replies[0].startswith(f"@dave: {restricted_refusal('security/approved', rule)}")

    await world.handle("label", await world.comment(number, "carol", "/label security/approved"))  # allowed user
    assert "security/approved" in await world.labels(number)
    await world.handle("label", await world.comment(number, "dave", "/remove-label security/approved"))
    assert "security/approved" in await world.labels(number)  # nor may others remove it
    await world.handle("label", await world.comment(number, "bob", "/remove-label security/approved"))  # team
    assert "security/approved" not in await world.labels(number)


async def test_assign_on_assigns_the_allowed_users(world: World) -> None:
    number = await setup(world)
    await world.act("labels", as_="dave", number=number, add=["security/needs-review"])
    labeled = await world.one(PullRequestEvent, "labeled")
    await world.handle("label", labeled)
    assert "carol" in await world.assignees(number)
