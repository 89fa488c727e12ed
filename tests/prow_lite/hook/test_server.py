"""hook served on 127.0.0.1 with real SQLite, ghsim behind ghproxy, and test-only plugins that record their calls."""

from __future__ import annotations

import asyncio
import collections
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from prow_lite.events import GenericCommentEvent
from prow_lite.hook.secrets import verify
from prow_lite.hook.server import HOOK
from prow_lite.plugins.base import Agent, Command, Plugin, PluginHelp
from tests.prow_lite.hook.conftest import SECRET, HookEnv, comment_payload, signed_headers


@dataclass
class Record:
    """What the recording plugins saw: calls in order, and how many ran at once overall and per PR."""

    calls: list[tuple[str, str, str, float]] = field(default_factory=list)  # (plugin, key, body, finished)
    active: collections.Counter[str] = field(default_factory=collections.Counter)
    max_per_key: int = 0
    running: int = 0
    max_running: int = 0
    bots: set[str] = field(default_factory=set)


def recorder(
    name: str, record: Record, *, delay: float = 0.0, fail: Callable[[GenericCommentEvent, int], bool] | None = None
) -> Plugin:
    """A plugin that records each generic comment; `fail(event, attempt)` makes a call raise."""
    attempts: collections.Counter[str] = collections.Counter()

    async def handle(agent: Agent, event: GenericCommentEvent) -> None:
        key = f"{event.repo}#{event.number}"
        attempts[event.guid] += 1
        record.active[key] += 1
        record.running += 1
        record.max_per_key = max(record.max_per_key, record.active[key])
        record.max_running = max(record.max_running, record.running)
        record.bots.add(agent.bot)
        try:
            await asyncio.sleep(delay)
            if fail is not None and fail(event, attempts[event.guid]):
                raise RuntimeError(f"{name} refuses {event.guid} (attempt {attempts[event.guid]})")
            record.calls.append((name, key, event.body, time.monotonic()))
        finally:
            record.active[key] -= 1
            record.running -= 1

    help = PluginHelp(
        f"The {name} plugin records comments.",
        (Command("record", "/record [what]", "Records it.", "Anyone", ("/record this",)),),
        config=f"{name}: nothing to configure",
    )
    return Plugin(name, help, generic_comment=handle)


def enable(mapping: dict[str, list[str]], external: str = "") -> str:
    lines = ["plugins:"] + [f"  {key}:\n    plugins: {json.dumps(names)}" for key, names in mapping.items()]
    return "\n".join(lines) + "\n" + external


async def test_validation_in_prows_order_and_nothing_stored_when_refused(hook_env: HookEnv) -> None:
    record = Record()
    hook = await hook_env.start(enable({"org0": ["rec"]}), {"rec": recorder("rec", record)})
    body = json.dumps(comment_payload(1, "/record")).encode()
    good = signed_headers("issue_comment", "g-1", body)

    def drop(name: str) -> dict[str, str]:
        return {k: v for k, v in good.items() if k != name}

    cases: list[tuple[str, dict[str, str], bytes, int, str]] = [
        ("GET", good, body, 405, "405 Method not allowed\n"),
        ("PUT", good, body, 405, "405 Method not allowed\n"),
        ("POST", drop("X-GitHub-Event"), body, 400, "400 Bad Request: Missing X-GitHub-Event Header\n"),
        ("POST", drop("X-GitHub-Delivery"), body, 400, "400 Bad Request: Missing X-GitHub-Delivery Header\n"),
        ("POST", drop("X-Hub-Signature-256"), body, 403, "403 Forbidden: Missing X-Hub-Signature-256\n"),
        (
            "POST",
            {**good, "content-type": "text/plain"},
            body,
            400,
            "400 Bad Request: Hook only accepts content-type: application/json - please reconfigure this hook on "
            "GitHub\n",
        ),
        (
            "POST",
            signed_headers("issue_comment", "g-1", body, secret=b"wrong"),
            body,
            403,
            "403 Forbidden: Invalid X-Hub-Signature-256 - misconfigured webhook secret from organization/repo: "
            "org0/repo0\n",
        ),
        ("POST", good, body + b" ", 403, "403 Forbidden: Invalid X-Hub-Signature-256 - misconfigured"),
        (
            "POST",
            {**good, "X-Hub-Signature-256": "sha1=00"},
            body,
            403,
            "403 Forbidden: Invalid X-Hub-Signature-256 - invalid signature\n",
        ),
        (
            "POST",
            signed_headers("issue_comment", "g-1", b"{oops"),
            b"{oops",
            403,
            "403 Forbidden: Invalid X-Hub-Signature-256 - invalid payload\n",
        ),
    ]
    for method, headers, data, status, text in cases:
        async with hook.session.request(method, hook.url + "/hook", data=data, headers=headers) as resp:
            got = await resp.text()
            assert (resp.status, got[: len(text)]) == (status, text), (method, headers, got)
    assert hook_env.queue_rows() == []
    assert await hook.get_json("/queue") == {"counts": {"queued": 0, "done": 0, "failed": 0}, "failed": []}

    async with hook.session.post(hook.url + "/hook", data=body, headers=good) as resp:
        assert (resp.status, await resp.text()) == (200, "Event received. Have a nice day.")
    await hook.workers.wait_idle()
    assert [c[2] for c in record.calls] == ["/record"]
    assert [row[:2] for row in hook_env.queue_rows()] == [("g-1", "done")]
    assert record.bots == {"ci-robot"}  # the agent's bot is the token's login, asked through ghproxy


async def test_a_delivery_id_seen_twice_is_processed_once(hook_env: HookEnv) -> None:
    record = Record()
    hook = await hook_env.start(enable({"org0": ["rec"]}), {"rec": recorder("rec", record, delay=0.05)})
    payload = comment_payload(3, "/record once")
    assert await hook.send("issue_comment", "dup-1", payload) == (200, "Event received. Have a nice day.")
    # GitHub's redelivery: same id, while the first is running and after it is done
    answers = await asyncio.gather(*(hook.send("issue_comment", "dup-1", payload) for _ in range(5)))
    assert set(answers) == {(200, "Event received. Have a nice day.")}
    await hook.workers.wait_idle()
    assert await hook.send("issue_comment", "dup-1", payload) == (200, "Event received. Have a nice day.")
    await hook.workers.wait_idle()
    assert [c[2] for c in record.calls] == ["/record once"]
    assert [row[:2] for row in hook_env.queue_rows()] == [("dup-1", "done")]


async def test_events_of_one_pr_run_one_at_a_time_in_arrival_order(hook_env: HookEnv) -> None:
    record = Record()
    # two plugins per event: neither may overlap the other on one PR either
    plugins = {"first": recorder("first", record, delay=0.01), "second": recorder("second", record, delay=0.005)}
    hook = await hook_env.start(enable({"org0": ["first", "second"]}), plugins, event_concurrency=4)
    prs = [("repo0", 1), ("repo0", 2), ("repo1", 1), ("repo1", 4), ("repo0", 5), ("repo1", 6)]
    sent: dict[str, list[str]] = collections.defaultdict(list)
    for i in range(60):
        repo, number = prs[i % len(prs)]
        body = f"/record {i}"
        sent[f"org0/{repo}#{number}"].append(body)
        # answered only once stored, so this is also the arrival order
        assert (await hook.send("issue_comment", f"order-{i}", comment_payload(number, body, repo=repo)))[0] == 200
    await hook.workers.wait_idle()
    for key, bodies in sent.items():
        seen = [(plugin, body) for plugin, k, body, _ in record.calls if k == key]
        assert seen == [(plugin, body) for body in bodies for plugin in ("first", "second")], key
    assert record.max_per_key == 1
    assert 1 < record.max_running <= 4  # different PRs ran in parallel, bounded by the concurrency


async def test_a_failing_plugin_is_retried_and_the_others_are_unaffected(hook_env: HookEnv) -> None:
    record = Record()
    plugins = {
        "steady": recorder("steady", record),
        "flaky": recorder("flaky", record, fail=lambda event, attempt: attempt < 3),
        "broken": recorder("broken", record, fail=lambda event, attempt: True),
    }
    hook = await hook_env.start(
        enable({"org0/repo0": ["steady", "flaky"], "org0/repo1": ["broken", "steady"]}), plugins, event_attempts=3
    )
    assert (await hook.send("issue_comment", "flaky-1", comment_payload(1, "/record a")))[0] == 200
    assert (await hook.send("issue_comment", "broken-1", comment_payload(2, "/record b", repo="repo1")))[0] == 200
    assert (await hook.send("issue_comment", "broken-2", comment_payload(2, "/record c", repo="repo1")))[0] == 200
    await hook.workers.wait_idle()

    # flaky failed twice and succeeded on the third attempt; steady ran once, not again on the retries
    assert [(p, body) for p, k, body, _ in record.calls if k == "org0/repo0#1"] == [
        ("steady", "/record a"),
        ("flaky", "/record a"),
    ]
    # broken never succeeded, steady (after it in the config) still ran once per event, in order
    assert [(p, body) for p, k, body, _ in record.calls if k == "org0/repo1#2"] == [
        ("steady", "/record b"),
        ("steady", "/record c"),
    ]
    rows = {guid: (state, attempts, error) for guid, state, attempts, error in hook_env.queue_rows()}
    assert rows["flaky-1"] == ("done", 3, "")
    for guid in ("broken-1", "broken-2"):
        state, attempts, error = rows[guid]
        assert (state, attempts) == ("failed", 3)
        assert error == f"broken: RuntimeError: broken refuses {guid} (attempt 3)"
    queue = await hook.get_json("/queue")
    assert queue["counts"] == {"queued": 0, "done": 1, "failed": 2}
    assert {f["guid"] for f in queue["failed"]} == {"broken-1", "broken-2"}
    assert all(f["error"].startswith("broken: RuntimeError") for f in queue["failed"])


@dataclass
class Receiver:
    """A loopback external plugin: records every request; `/flaky` answers 500 the first time."""

    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    server: TestServer | None = None

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            self.requests.append((request.path, dict(request.headers), body))
            if request.path == "/flaky" and sum(1 for p, _, _ in self.requests if p == "/flaky") == 1:
                return web.Response(status=500, text="not yet")
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/{name}", handle)
        return app

    def url(self, name: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(f"/{name}"))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    rec.server = TestServer(rec.app(), host="127.0.0.1", port=0)
    await rec.server.start_server()
    yield rec
    await rec.server.close()


async def test_external_plugins_get_the_event_as_github_sent_it(hook_env: HookEnv, receiver: Receiver) -> None:
    external = (
        "external_plugins:\n"
        "  org0/repo0:\n"
        f"  - {{name: all, endpoint: '{receiver.url('all')}'}}\n"
        f"  - {{name: prs, endpoint: '{receiver.url('prs')}', events: [pull_request]}}\n"
        "  org0:\n"
        f"  - {{name: flaky, endpoint: '{receiver.url('flaky')}', events: [issue_comment, ping]}}\n"
    )
    hook = await hook_env.start("plugins: {}\n" + external, {})
    payload = comment_payload(1, "/anything")
    raw = json.dumps(payload).encode()
    async with hook.session.post(
        hook.url + "/hook", data=raw, headers=signed_headers("issue_comment", "ext-1", raw)
    ) as resp:
        assert resp.status == 200
    ping = {"zen": "Keep it logically awesome.", "repository": payload["repository"]}
    assert (await hook.send("ping", "ext-2", ping))[0] == 200  # not a type plugins read, still forwarded
    await hook.workers.wait_idle()

    by_path = collections.defaultdict(list)
    for path, headers, body in receiver.requests:
        by_path[path].append((headers, body))
    assert "/prs" not in by_path  # it asked for pull_request events only
    assert sorted(h["X-GitHub-Delivery"] for h, _ in by_path["/all"]) == ["ext-1", "ext-2"]
    headers, body = next((h, b) for h, b in by_path["/all"] if h["X-GitHub-Delivery"] == "ext-1")
    assert body == raw  # byte for byte
    assert headers["X-GitHub-Event"] == "issue_comment"
    assert headers["X-GitHub-Hook-ID"] == "42"
    assert headers["User-Agent"] == "ProwHook"
    assert headers["Content-Type"] == "application/json"
    assert verify(body, headers["X-Hub-Signature-256"], [SECRET])
    # the flaky endpoint answered 500 once: the forward was retried, the delivery still finished
    assert sorted(h["X-GitHub-Delivery"] for h, _ in by_path["/flaky"]) == ["ext-1", "ext-1", "ext-2"]
    assert {row[1] for row in hook_env.queue_rows()} == {"done"}


async def test_rotated_secret_signs_without_restart(hook_env: HookEnv, receiver: Receiver) -> None:
    external = f"external_plugins:\n  org0:\n  - {{name: all, endpoint: '{receiver.url('all')}'}}\n"
    hook = await hook_env.start("plugins: {}\n" + external, {})
    (hook_env.tmp / "hmac").write_text("org0:\n- value: hook-test-secret\n- value: newer\n")
    payload = comment_payload(1, "hi")
    assert (await hook.send("issue_comment", "rot-1", payload))[0] == 200  # the old token still signs
    assert (await hook.send("issue_comment", "rot-2", payload, secret=b"newer"))[0] == 200
    (hook_env.tmp / "hmac").write_text("org0:\n- value: newer\n")
    assert (await hook.send("issue_comment", "rot-3", payload))[0] == 403
    await hook.workers.wait_idle()
    assert [h["X-GitHub-Delivery"] for _, h, _ in receiver.requests] == ["rot-1", "rot-2"]
    for _, headers, body in receiver.requests:
        assert verify(body, headers["X-Hub-Signature-256"], [b"newer"])  # forwards signed with the newest token


async def test_plugin_help_lists_plugins_per_repo_and_their_commands(hook_env: HookEnv) -> None:
    record = Record()
    plugins = {"rec": recorder("rec", record), "other": recorder("other", record)}
    external = "external_plugins:\n  org0/repo1:\n  - {name: needs-rebase, endpoint: 'http://127.0.0.1:9/x'}\n"
    hook = await hook_env.start(enable({"org0": ["rec"], "org0/repo1": ["other"]}, external), plugins)
    data = await hook.get_json("/plugin-help")
    assert data["RepoPlugins"] == {"org0": ["rec"], "org0/repo1": ["other"]}
    assert data["RepoExternalPlugins"] == {"org0/repo1": ["needs-rebase"]}
    assert data["AllRepos"] == ["org0", "org0/repo1"]
    rec = data["PluginHelp"]["rec"]
    assert rec["Description"] == "The rec plugin records comments."
    assert rec["Events"] == ["GenericCommentEvent (any event for user text)"]
    assert rec["Commands"] == [
        {
            "Usage": "/record [what]",
            "Featured": False,
            "Description": "Records it.",
            "Examples": ["/record this"],
            "WhoCanUse": "Anyone",
        }
    ]
    async with hook.session.get(hook.url + "/plugin-help?format=text") as resp:
        text = await resp.text()
    assert "  org0: rec\n  org0/repo1: other\n" in text
    assert "rec: The rec plugin records comments.\n  Configured by: rec: nothing to configure\n" in text
    assert "  /record [what]  Records it.\n    Who can use it: Anyone\n    Examples: /record this\n" in text
    async with hook.session.get(hook.url + "/plugin-help?repo=org0/repo1", headers={"Accept": "text/plain"}) as resp:
        text = await resp.text()
    assert text.startswith("Plugins enabled for org0/repo1: rec, other\nExternal plugins: needs-rebase")


async def test_events_left_queued_at_shutdown_run_after_a_restart(hook_env: HookEnv) -> None:
    record = Record()
    gate = asyncio.Event()
    blocked = recorder("rec", record)

    async def stuck(agent: Agent, event: GenericCommentEvent) -> None:
        await gate.wait()

    plugins_yaml = enable({"org0": ["rec"]})
    hook = await hook_env.start(
        plugins_yaml, {"rec": Plugin("rec", blocked.help, generic_comment=stuck)}, grace_period_s=0.1
    )
    for i in range(3):
        assert (await hook.send("issue_comment", f"late-{i}", comment_payload(7, f"/record {i}")))[0] == 200
    await asyncio.sleep(0.1)
    await hook.stop()  # the first is cancelled after the grace period; none was done
    assert [row[1] for row in hook_env.queue_rows()] == ["queued"] * 3

    again = await hook_env.start(plugins_yaml, {"rec": blocked})
    await again.workers.wait_idle()
    assert [c[2] for c in record.calls] == ["/record 0", "/record 1", "/record 2"]
    assert [row[1] for row in hook_env.queue_rows()] == ["done"] * 3


async def test_a_second_hook_cannot_share_the_data_dir(hook_env: HookEnv) -> None:
    from prow_lite.hook.server import Hook, HookError

    await hook_env.start("plugins: {}\n", {})
    with pytest.raises(HookError, match="another prow-lite hook is using"):
        Hook.open(hook_env.settings("plugins: {}\n"), {})


async def test_unknown_plugins_are_refused_at_startup(hook_env: HookEnv) -> None:
    from prow_lite.hook.server import Hook, HookError

    with pytest.raises(HookError, match=r"plugins\.yaml: plugins\.org0: unknown plugin 'nope'"):
        Hook.open(hook_env.settings(enable({"org0": ["nope"]})), {"rec": recorder("rec", Record())})


async def test_ghsim_webhooks_end_to_end_with_a_redelivery_ignored(hook_env: HookEnv) -> None:
    """ghsim sends GitHub's signed webhooks to hook; the hold plugin acts through ghproxy; a redelivery is ignored."""
    from prow_lite.plugins import hold

    hook = await hook_env.start(enable({"org0": ["hold"]}), {"hold": hold.PLUGIN})
    sim = hook_env.sim.url

    def post(path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            sim + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=20) as resp:
            return json.load(resp)

    async def settle() -> None:
        for _ in range(2):  # what the plugins write comes back as webhooks: wait for those too
            await asyncio.to_thread(post, "/_sim/deliveries/wait", {"timeout": 10})
            await hook.workers.wait_idle()

    def labels() -> set[str]:
        return {label["name"] for label in hook_env.github("/repos/org0/repo0/issues/2/labels")}

    await asyncio.to_thread(post, "/_sim/webhooks", {"url": hook.url + "/hook", "secret": SECRET.decode()})
    await asyncio.to_thread(
        post, "/_sim/act/comment", {"as": "bob", "repo": "org0/repo0", "number": 2, "body": "/hold"}
    )
    await settle()
    assert "do-not-merge/hold" in labels()
    deliveries = (await asyncio.to_thread(hook_env.github, "/_sim/deliveries"))["deliveries"]
    hold_guid = next(d["guid"] for d in deliveries if d["event"] == "issue_comment")
    # the bot's label change came back as a webhook too, and everything was accepted
    assert {(d["event"], d["action"], d["status_code"]) for d in deliveries} >= {
        ("issue_comment", "created", 200),
        ("pull_request", "labeled", 200),
    }

    await asyncio.to_thread(
        post, "/_sim/act/comment", {"as": "bob", "repo": "org0/repo0", "number": 2, "body": "/unhold"}
    )
    await settle()
    assert "do-not-merge/hold" not in labels()
    redelivered = await asyncio.to_thread(post, f"/_sim/deliveries/{hold_guid}/redeliver", {})
    await settle()
    detail = await asyncio.to_thread(hook_env.github, f"/_sim/deliveries/{redelivered['id']}")
    assert detail["status_code"] == 200 and detail["redelivery"] is True
    assert "do-not-merge/hold" not in labels()  # the old /hold was not run again
    assert [row[0] for row in hook_env.queue_rows()].count(hold_guid) == 1


async def test_dry_run_reads_github_but_writes_nothing(hook_env: HookEnv) -> None:
    from prow_lite.plugins import hold

    hook = await hook_env.start(enable({"org0": ["hold"]}), {"hold": hold.PLUGIN}, dry_run=True)
    before = {label["name"] for label in hook_env.github("/repos/org0/repo0/issues/3/labels")}
    assert "do-not-merge/hold" not in before
    assert (await hook.send("issue_comment", "dry-1", comment_payload(3, "/hold")))[0] == 200
    await hook.workers.wait_idle()
    after = {label["name"] for label in hook_env.github("/repos/org0/repo0/issues/3/labels")}
    assert after == before
    assert [row[1] for row in hook_env.queue_rows()] == ["done"]
    writes = [r for r in hook_env.sim.requests() if r["method"] != "GET"]
    assert writes == []


async def test_a_github_app_acts_in_each_orgs_installation(hook_env: HookEnv, tmp_path: Path) -> None:
    from prow_lite.plugins import hold

    [app] = hook_env.github("/_sim/apps")["apps"]
    (tmp_path / "app.pem").write_text(app["private_key_pem"])
    hook = await hook_env.start(
        enable({"org0": ["hold"]}),
        {"hold": hold.PLUGIN},
        github_token_path=None,
        github_app_id=str(app["id"]),
        github_app_private_key_path=str(tmp_path / "app.pem"),
    )
    assert (await hook.send("issue_comment", "app-1", comment_payload(4, "/hold")))[0] == 200
    await hook.workers.wait_idle()
    assert [row[1:] for row in hook_env.queue_rows()] == [("done", 1, "")]
    labels = {label["name"] for label in hook_env.github("/repos/org0/repo0/issues/4/labels")}
    assert "do-not-merge/hold" in labels
    writers = {r["token"] for r in hook_env.sim.requests() if r["method"] == "POST" and r["path"].endswith("/labels")}
    assert writers and all(token.startswith("ghs_") for token in writers)  # an installation token, not a PAT


async def test_plugins_yaml_is_reloaded_without_restart(hook_env: HookEnv) -> None:
    record = Record()
    plugins = {"rec": recorder("rec", record)}
    hook = await hook_env.start("plugins: {}\n", plugins, config_reload_s=0.05)
    assert (await hook.send("issue_comment", "reload-1", comment_payload(1, "/record before")))[0] == 200
    await hook.workers.wait_idle()
    (hook_env.tmp / "plugins.yaml").write_text(enable({"org0": ["rec"]}))
    for _ in range(100):
        if hook.server.app[HOOK].configs.plugins.enabled_plugins("org0", "repo0"):
            break
        await asyncio.sleep(0.05)
    assert (await hook.send("issue_comment", "reload-2", comment_payload(1, "/record after")))[0] == 200
    await hook.workers.wait_idle()
    assert [c[2] for c in record.calls] == ["/record after"]


async def test_a_payload_missing_fields_is_accepted_and_marked_failed(hook_env: HookEnv) -> None:
    record = Record()
    hook = await hook_env.start(enable({"org0": ["rec"]}), {"rec": recorder("rec", record)})
    payload = comment_payload(1, "/record")
    del payload["comment"]
    assert await hook.send("issue_comment", "broken-payload", payload) == (200, "Event received. Have a nice day.")
    await hook.workers.wait_idle()
    [failed] = (await hook.get_json("/queue"))["failed"]
    assert failed["guid"] == "broken-payload"
    assert failed["attempts"] == 1  # retrying the same bytes cannot help
    assert failed["error"] == "issue_comment payload: missing or malformed field 'comment'"
    assert record.calls == []
