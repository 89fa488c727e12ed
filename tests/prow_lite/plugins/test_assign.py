"""The assign plugin: Prow's /assign and /cc parsing, then assignees, review requests and refusals on ghsim."""

from __future__ import annotations

import pytest

from prow_lite.plugins.assign import ASSIGN_RE, CC_RE, Change, assign_refusal, not_added, parse, review_refusal
from tests.prow_lite.plugins import command_world
from tests.prow_lite.plugins.command_world import ORG, REPO, World

world = command_world.world  # the fixture


@pytest.mark.parametrize(
    ("body", "add", "remove"),
    [
        ("/assign", ["me"], []),
        ("/ASSIGN", ["me"], []),
        ("/assign @alice", ["alice"], []),
        ("/assign alice @bob", ["alice", "bob"], []),
        ("/unassign", [], ["me"]),
        ("/unassign @alice bob", [], ["alice", "bob"]),
        ("/assign @alice\n/unassign @alice", [], ["alice"]),  # the last mention wins
        ("/assign @Alice\n/unassign @alice", [], ["alice"]),
        ("/assign @alice  \r\n", ["alice"], []),
        ("/assign @org0/maintainers", [], []),  # Prow's /assign takes no teams
        ("/assigned @alice", [], []),
        ("/assign @alice!", [], []),
        (" /assign", [], []),
        ("> /assign", [], []),
        ("```\n/assign\n```", [], []),
        ("please /assign me", [], []),
    ],
)
def test_assign_commands(body: str, add: list[str], remove: list[str]) -> None:
    assert parse(body, ASSIGN_RE, "me") == Change(tuple(add), tuple(remove))


@pytest.mark.parametrize(
    ("body", "add", "remove"),
    [
        ("/cc", ["me"], []),
        ("/cc @alice @org0/maintainers", ["alice", "org0/maintainers"], []),
        ("/cc   alice", ["alice"], []),
        ("/uncc @alice", [], ["alice"]),
        ("/CC @alice", ["alice"], []),
        ("/ccc", [], []),
        ("/cc @alice and others.", [], []),
    ],
)
def test_cc_commands(body: str, add: list[str], remove: list[str]) -> None:
    assert parse(body, CC_RE, "me") == Change(tuple(add), tuple(remove))


def test_users_missing_from_github_answers() -> None:
    answer = {"requested_reviewers": [{"login": "Alice"}], "assignees": [{"login": "bob"}]}
    assert not_added(["alice", "carol", "org0/team"], answer, "requested_reviewers") == ("carol",)
    assert not_added(["bob"], answer, "assignees") == ()
    assert not_added(["bob"], None, "assignees") == ()


# --- on ghsim ---------------------------------------------------------------------------------------------------

PLUGINS = "plugins:\n  org0/repo0:\n    plugins: [assign]\n"


async def pull(world: World, number: int) -> dict[str, list[str]]:
    found = await world.get(f"/repos/{ORG}/{REPO}/pulls/{number}")
    return {key: sorted(u["login"] for u in found[key]) for key in ("assignees", "requested_reviewers")}


async def test_assign_and_unassign(world: World) -> None:
    world.plugins_yaml = PLUGINS
    number = await world.open_pr("erin")
    await world.events()

    event = await world.comment(number, "carol", "/assign\n/assign @dave")
    await world.handle("assign", event)
    await world.handle("assign", event)
    assert await world.assignees(number) == ["carol", "dave"]

    await world.handle("assign", await world.comment(number, "dave", "/unassign"))
    assert await world.assignees(number) == ["carol"]
    assert await world.bot_comments(number) == []


async def test_cc_requests_reviews_on_pull_requests_only(world: World) -> None:
    world.plugins_yaml = PLUGINS
    number = await world.open_pr("erin")
    await world.events()
    await world.handle("assign", await world.comment(number, "erin", "/cc @carol @dave"))
    assert (await pull(world, number))["requested_reviewers"] == ["carol", "dave"]
    await world.handle("assign", await world.comment(number, "erin", "/uncc @carol"))
    assert (await pull(world, number))["requested_reviewers"] == ["dave"]

    issue = (await world.act("issue", as_="erin", title="An issue"))["number"]
    await world.events()
    await world.handle("assign", await world.comment(issue, "erin", "/cc @carol"))
    assert await world.bot_comments(issue) == []


async def test_refusals_name_the_users_in_prows_words(world: World) -> None:
    world.plugins_yaml = PLUGINS
    number = await world.open_pr("erin")
    await world.events()

    event = await world.comment(number, "erin", "/assign @carol @no-such-user\n/cc @carol @nobody-here")
    await world.handle("assign", event)
    await world.handle("assign", event)  # replayed: nothing new

    assert await pull(world, number) == {"assignees": ["carol"], "requested_reviewers": ["carol"]}
    replies = await world.bot_comments(number)
    assert len(replies) == 2
    assert replies[0].startswith(f"@erin: {assign_refusal(ORG, ['no-such-user'])}")
    assert replies[1].startswith(f"@erin: {review_refusal(ORG, ['nobody-here'])}")
    assert "GitHub didn't allow me to assign the following users: no-such-user." in replies[0]
