"""The hold plugin: Prow's commands, the `do-not-merge/hold` label on a real PR in ghsim, idempotency."""

from __future__ import annotations

import pytest

from prow_lite.plugins.hold import HOLD_LABEL, wants_hold
from tests.prow_lite.plugins import command_world
from tests.prow_lite.plugins.command_world import World

PLUGINS = "plugins:\n  org0/repo0:\n    plugins: [hold]\n"

world = command_world.world  # the fixture


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ("/hold", True),
        ("/HOLD", True),
        ("/hold for the release", True),
        ("/hold\r\n", True),
        ("please wait\n/hold\nthanks", True),
        ("/hold cancel", False),
        ("/hold   cancel", False),
        ("/unhold", False),
        ("/remove-hold", False),
        ("/hold\n/hold cancel", False),  # a cancel wins, as in Prow
        ("/holdup", None),
        (" /hold", None),
        ("> /hold", None),
        ("we should /hold this", None),
        ("```\n/hold\n```", None),
        ("", None),
    ],
)
def test_commands(body: str, want: bool | None) -> None:
    assert wants_hold(body) is want


async def test_hold_and_unhold_on_a_pull_request(world: World) -> None:
    world.plugins_yaml = PLUGINS
    number = await world.open_pr("erin")
    await world.events()

    hold = await world.comment(number, "erin", "/hold")
    await world.handle("hold", hold)
    await world.handle("hold", hold)  # a replay changes nothing
    assert HOLD_LABEL in await world.labels(number)
    assert await world.bot_comments(number) == []

    unhold = await world.comment(number, "frank", "/hold cancel")  # anyone may
    await world.handle("hold", unhold)
    assert HOLD_LABEL not in await world.labels(number)


async def test_hold_is_only_for_pull_requests(world: World) -> None:
    world.plugins_yaml = PLUGINS
    made = await world.act("issue", as_="alice", title="An issue")
    await world.events()
    event = await world.comment(made["number"], "alice", "/hold")
    await world.handle("hold", event)
    assert HOLD_LABEL not in await world.labels(made["number"])
