"""The unknown-command plugin (kubernetes-sigs/prow#324): what counts as a command, and the reply on ghsim."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from prow_lite.plugins.base import REGISTRY, load_all
from prow_lite.plugins.unknown_command import (
    NAME,
    candidates,
    closest,
    expand_usage,
    help_words,
    known_words,
    reply_message,
)
from tests.conftest import StartServer
from tests.prow_lite.plugins import command_world
from tests.prow_lite.plugins.command_world import BOT, World

world = command_world.world  # the fixture


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("/lgmt", ["lgmt"]),
        ("/Lgmt please", ["lgmt"]),
        ("thanks!\n/lgmt\r\n/hodl", ["lgmt", "hodl"]),
        ("/lgmt\n/lgmt", ["lgmt"]),
        ("/retest-requried", ["retest-requried"]),
        ("/usr/bin/env python", []),  # a path, not a command
        ("run it with /usr/bin/env", []),
        ("see https://example.com/lgtm", []),
        ("I will /lgmt later", []),  # mid-line
        (" /lgmt", []),
        ("> /lgmt", []),  # quoted
        ("```\n/lgmt\n```", []),
        ("~~~\n/lgmt\n~~~", []),
        ("<!-- /lgmt -->", []),
        ("/lgmt.", []),
        ("/5 minutes", []),
        ("/", []),
        ("", []),
    ],
)
def test_what_counts_as_a_command(body: str, words: list[str]) -> None:
    assert [word for word, _ in candidates(body)] == words


def test_known_words_come_from_the_enabled_plugins_help() -> None:
    load_all()
    assert known_words(["lgtm", "hold", "not-a-plugin"], REGISTRY) == {
        "lgtm", "remove-lgtm", "hold", "unhold", "remove-hold",
    }  # fmt: skip
    every = known_words(REGISTRY, REGISTRY)
    for word in ("test", "retest", "retest-required", "ok-to-test", "approve", "remove-approve", "assign", "unassign",
                 "cc", "uncc", "kind", "remove-kind", "label", "remove-label", "sig", "triage", "wg"):  # fmt: skip
        assert word in every, word


@pytest.mark.parametrize(
    ("typed", "guess"),
    [("lgmt", "lgtm"), ("aprove", "approve"), ("retset", "retest"), ("unhodl", "unhold"), ("xyzzy", None)],
)
def test_closest_known_command(typed: str, guess: str | None) -> None:
    load_all()
    assert closest(typed, known_words(REGISTRY, REGISTRY)) == guess


def test_reply_names_each_unknown_word_and_the_available_commands() -> None:
    message = reply_message(["lgmt", "xyzzy"], {"lgtm", "hold"})
    assert "- `/lgmt`: did you mean `/lgtm`?" in message
    assert "- `/xyzzy`\n" in message
    assert "Commands available here: `/hold`, `/lgtm`." in message


@pytest.mark.parametrize(
    ("usage", "words"),
    [
        ("lgtm", {"lgtm"}),
        ("[remove-]lgtm", {"lgtm", "remove-lgtm"}),
        ("[remove-][un]hold", {"hold", "unhold", "remove-hold", "remove-unhold"}),
        ("[un]cc", {"cc", "uncc"}),
        ("[remove-](area|kind)", {"area", "kind", "remove-area", "remove-kind"}),
        ("<command>", set()),
    ],
)
def test_prow_usage_notation(usage: str, words: set[str]) -> None:
    assert expand_usage(usage) == words


def test_words_of_an_external_plugins_help() -> None:
    help_json = {
        "Description": "needs-rebase",
        "Commands": [
            {"Usage": "/[un]cherrypick <branch>", "Examples": ["/cherrypick release-1.0", "/uncherrypick"]},
            {"Usage": "Use /jira refresh or /jira cc", "Examples": None},
        ],
    }
    assert help_words(help_json) == {"cherrypick", "uncherrypick", "jira"}


# --- on ghsim ---------------------------------------------------------------------------------------------------

ENABLED = ["lgtm", "hold", "label", "assign", "approve", "trigger", NAME]


def plugins_yaml(*extra: str) -> str:
    return f"plugins:\n  org0/repo0:\n    plugins: [{', '.join(ENABLED)}]\n" + "".join(f"{line}\n" for line in extra)


async def reply_to(world: World, number: int, who: str, body: str) -> list[str]:
    """Comment, run the plugin on the comment twice (a replay), and return the bot's comments."""
    event = await world.comment(number, who, body)
    await world.handle(NAME, event)
    await world.handle(NAME, event)
    return await world.bot_comments(number)


async def test_a_typo_gets_one_reply_with_a_suggestion(world: World) -> None:
    world.plugins_yaml = plugins_yaml()
    number = await world.open_pr("erin")
    await world.events()

    replies = await reply_to(world, number, "carol", "looks good\n/lgmt\n/retest")
    assert len(replies) == 1
    reply = replies[0]
    assert reply.startswith("@carol: I did not understand these commands")
    assert "- `/lgmt`: did you mean `/lgtm`?" in reply
    assert "`/retest`," in reply.split("Commands available here:")[1]  # /retest was understood
    assert "`/retest`:" not in reply
    for word in ("approve", "assign", "cc", "hold", "kind", "label", "lgtm", "ok-to-test", "test"):
        assert f"`/{word}`" in reply
    assert ">/lgmt" in reply  # the comment is quoted, as Prow's replies do

    # The bot's own reply comes back as a webhook too: it is not answered.
    for event in await world.events():
        await world.handle(NAME, event)
    assert len(await world.bot_comments(number)) == 1


async def test_known_commands_and_non_commands_get_no_reply(world: World) -> None:
    world.plugins_yaml = plugins_yaml()
    number = await world.open_pr("erin")
    await world.events()
    body = (
        "/lgtm\n/hold cancel\n/kind bug\n/remove-label foo\n/cc @dave\n/approve no-issue\n/test all\n/ok-to-test\n"
        "> /lgmt\n```\n/frobnicate\n```\nrun /usr/local/bin/thing\n/usr/bin/env python\n"
    )
    assert await reply_to(world, number, "carol", body) == []


async def test_commands_of_plugins_not_enabled_are_unknown(world: World) -> None:
    world.plugins_yaml = "plugins:\n  org0/repo0:\n    plugins: [lgtm, unknown-command]\n"
    made = await world.act("issue", as_="frank", title="An issue")
    await world.events()
    replies = await reply_to(world, made["number"], "frank", "/hold")
    assert len(replies) == 1
    assert "- `/hold`\n" in replies[0]
    assert "Commands available here: `/lgtm`, `/remove-lgtm`." in replies[0]


async def test_comments_by_bots_are_not_answered(world: World) -> None:
    world.plugins_yaml = plugins_yaml()
    number = await world.open_pr("erin")
    await world.events()
    await world.act("comment", as_="renovate[bot]", number=number, body="/frobnicate")
    await world.act("comment", as_=BOT, number=number, body="/frobnicate")
    for event in await world.events():
        await world.handle(NAME, event)
    assert await world.bot_comments(number) == ["/frobnicate"]  # only the bot's own comment


async def test_a_jobs_own_trigger_is_a_command(world: World) -> None:
    world.plugins_yaml = plugins_yaml()
    world.config_yaml = (
        "presubmits:\n  org0/repo0:\n  - name: images\n    command: [make, images]\n"
        "    trigger: '(?m)^/build-images\\s*$'\n    rerun_command: /build-images\n"
    )
    number = await world.open_pr("erin")
    await world.events()
    assert await reply_to(world, number, "carol", "/build-images") == []
    replies = await reply_to(world, number, "carol", "/build-imagez")
    assert len(replies) == 1 and "`/build-imagez`" in replies[0]


def external_plugin(start_server: StartServer, help_json: Any, seen: list[Any]) -> str:
    async def help_page(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response(help_json)

    def app() -> web.Application:
        made = web.Application()
        made.router.add_post("/help", help_page)
        return made

    return start_server(app).url


async def test_external_plugins_commands_are_asked_for(world: World, start_server: StartServer) -> None:
    seen: list[Any] = []
    help_json = {"Description": "cherry-picks", "Commands": [{"Usage": "/[un]cherrypick <branch>", "Examples": []}]}
    url = external_plugin(start_server, help_json, seen)
    world.plugins_yaml = plugins_yaml(
        "external_plugins:", "  org0/repo0:", "  - name: cherrypicker", f"    endpoint: {url}",
        "    events: [issue_comment]",
    )  # fmt: skip
    number = await world.open_pr("erin")
    await world.events()

    assert await reply_to(world, number, "carol", "/cherrypick release-1.0") == []
    assert seen[0] == [{"Org": "org0", "Repo": "repo0"}]  # Prow's POST /help body: the enabled repos
    replies = await reply_to(world, number, "carol", "/cherry-pick release-1.0")
    assert len(replies) == 1 and "- `/cherry-pick`: did you mean `/cherrypick`?" in replies[0]


async def test_silence_when_an_external_plugin_cannot_say(world: World, start_server: StartServer) -> None:
    down = external_plugin(start_server, {"Description": "no commands listed", "Commands": []}, [])
    world.plugins_yaml = plugins_yaml(
        "external_plugins:", "  org0/repo0:", "  - name: mystery", f"    endpoint: {down}",
        "  - name: only-pushes", "    endpoint: http://127.0.0.1:9", "    events: [push]",
    )  # fmt: skip
    number = await world.open_pr("erin")
    await world.events()
    # `mystery` gets every event and lists no command: it may handle /anything, so no reply.
    assert await reply_to(world, number, "carol", "/anything") == []

    # `only-pushes` does not see comments, so it is not asked (its endpoint would refuse the connection).
    world.plugins_yaml = plugins_yaml(
        "external_plugins:", "  org0/repo0:", "  - name: only-pushes", "    endpoint: http://127.0.0.1:9",
        "    events: [push]",
    )  # fmt: skip
    assert len(await reply_to(world, number, "carol", "/anything")) == 1


def test_help_json_shape_matches_prow() -> None:
    # Prow's pluginhelp.PluginHelp has no JSON tags: Go's field names are the keys.
    assert help_words(json.loads('{"Commands": [{"Usage": "/meow", "Examples": ["/meowvie"]}]}')) == {"meow", "meowvie"}
