"""The trigger plugin end to end: ghsim acts as users, its webhooks become events, the handlers talk to ghsim through
ghproxy as ci-robot, jobs land in a real job store; assertions read ghsim's REST API and the store."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from prow_lite.config import load_config
from prow_lite.events import Event, GenericCommentEvent, PullRequestEvent, PushEvent
from prow_lite.jobs import JobState, JobType, ProwJob
from prow_lite.plugins.base import REGISTRY, Agent
from prow_lite.plugins.trigger import (
    ABORTED_DESCRIPTION,
    DRAFT_COMMENT,
    NEEDS_OK_TO_TEST,
    OK_TO_TEST,
    UNTRUSTED_COMMENT,
    is_trusted_app,
    untrusted_reason,
)
from prow_lite.triggering import TARGET_NOT_FOUND_NOTE
from tests.prow_lite.plugins import command_world
from tests.prow_lite.plugins.command_world import BOT, ORG, REPO, World

world = command_world.world  # the fixture

JOBS_YAML = """\
prowjob_namespace: default
presubmits:
  org0/repo0:
  - name: unit
    always_run: true
    command: [make, test]
  - name: docs
    run_if_changed: '^docs/'
    command: [make, docs]
  - name: e2e
    optional: true
    command: [make, e2e]
postsubmits:
  org0/repo0:
  - name: deploy
    branches: [main]
    run_if_changed: '^src/'
    command: [make, deploy]
"""
PLUGINS_YAML = "plugins:\n  org0/repo0:\n    plugins: [trigger]\n"


def agent(w: World, guid: str) -> Agent:
    made = w.agent("trigger", guid)
    path = w.tmp / "prow-config.yaml"
    path.write_text(JOBS_YAML)
    made.config = load_config(path)
    return made


async def handle(w: World, event: Event) -> None:
    handler = REGISTRY["trigger"].handler_for(event)
    assert handler is not None
    await handler(agent(w, event.guid), event)


async def opened(w: World, author: str, **files: str) -> PullRequestEvent:
    await w.open_pr(author, **files)
    return await w.one(PullRequestEvent, "opened")


def jobs(w: World, **filters: Any) -> list[ProwJob]:
    assert w.jobs is not None
    return w.jobs.list(org=ORG, repo=REPO, **filters)


async def statuses(w: World, sha: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await w.get(f"/repos/{ORG}/{REPO}/commits/{sha}/statuses")
    return found


async def head(w: World, number: int) -> str:
    return str((await w.get(f"/repos/{ORG}/{REPO}/pulls/{number}"))["head"]["sha"])


# --- pure ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("only_org", "secondary", "want"),
    [
        (False, False, "User is not a member of the org. User is not a collaborator. "),
        (True, False, "User is not a member of the org. "),
        (True, True, "User is not a member of the org. User is not a member of the trusted secondary org. "),
    ],
)
def test_untrusted_reason(only_org: bool, secondary: bool, want: str) -> None:
    text = untrusted_reason(only_org_members=only_org, secondary_org=secondary)
    assert text == want + "Satisfy at least one of these conditions to make the user trusted."


def test_trusted_apps_are_matched_by_their_bot_login() -> None:
    assert is_trusted_app("dependabot[bot]", ["dependabot"])
    assert not is_trusted_app("dependabot", ["dependabot"])
    assert not is_trusted_app("renovate[bot]", ["dependabot"])


# --- end to end ---------------------------------------------------------------------------------------------------


async def test_trusted_author_gets_matching_presubmits_and_pending_statuses(world: World) -> None:
    world.plugins_yaml = PLUGINS_YAML
    ev = await opened(world, "alice", **{"src/app.py": "x = 1\n", "docs/guide.md": "# guide\n"})
    await handle(world, ev)

    made = {j.job: j for j in jobs(world, number=ev.number)}
    assert set(made) == {"unit", "docs"}  # always_run and run_if_changed; e2e needs /test
    base_sha = str((await world.get(f"/repos/{ORG}/{REPO}/branches/main"))["commit"]["sha"])
    for job in made.values():
        assert (job.type, job.state, job.context) == (JobType.PRESUBMIT, JobState.TRIGGERED, job.job)
        assert job.refs.base_sha == base_sha and job.refs.pulls[0].sha == ev.head_sha
        assert job.refs.pulls[0].author == "alice"
    posted = {s["context"]: s for s in await statuses(world, ev.head_sha)}
    assert set(posted) == {"unit", "docs"}
    assert posted["unit"]["state"] == "pending"
    assert posted["unit"]["description"].startswith("Job triggered.")
    assert posted["unit"]["description"].endswith(f" BaseSHA:{base_sha}")
    assert posted["unit"]["creator"]["login"] == BOT

    await handle(world, ev)  # a replayed delivery creates nothing new
    assert len(jobs(world, number=ev.number)) == 2

    other = await opened(world, "bob", **{"src/only.py": "y = 2\n"})  # a collaborator, not only members
    await handle(world, other)
    assert [j.job for j in jobs(world, number=other.number)] == ["unit"]


async def test_untrusted_author_needs_ok_to_test_from_a_member(world: World) -> None:
    world.plugins_yaml = PLUGINS_YAML
    ev = await opened(world, "erin")
    await handle(world, ev)
    assert await world.labels(ev.number) == [NEEDS_OK_TO_TEST]
    (welcome,) = await world.bot_comments(ev.number)
    assert welcome.startswith(
        "Hi @erin. Thanks for your PR.\n\nI'm waiting for a [org0](https://github.com/orgs/org0/people) member"
    )
    assert "they should reply with `/ok-to-test` on its own line" in welcome
    assert jobs(world) == []
    await handle(world, ev)  # replayed: still one welcome
    assert len(await world.bot_comments(ev.number)) == 1

    for outsider in ("erin", "frank"):  # the author and another outsider cannot start tests
        said = await world.comment(ev.number, outsider, "/ok-to-test" if outsider == "frank" else "/test all")
        await handle(world, said)
    replies = (await world.bot_comments(ev.number))[1:]
    assert len(replies) == 2 and all(UNTRUSTED_COMMENT in r for r in replies)
    assert replies[0].startswith("@erin: ") and replies[1].startswith("@frank: ")
    assert jobs(world) == [] and await world.labels(ev.number) == [NEEDS_OK_TO_TEST]

    said = await world.comment(ev.number, "carol", "Looks safe.\n/ok-to-test\n")
    await handle(world, said)
    assert await world.labels(ev.number) == [OK_TO_TEST]
    (job,) = jobs(world, number=ev.number)
    assert (job.job, job.state) == ("unit", JobState.TRIGGERED)
    assert [s["context"] for s in await statuses(world, ev.head_sha)] == ["unit"]

    said = await world.comment(ev.number, "erin", "/test e2e")  # the PR is trusted now: anyone may /test
    await handle(world, said)
    assert sorted(j.job for j in jobs(world, number=ev.number)) == ["e2e", "unit"]


async def test_new_push_aborts_older_runs_and_triggers_the_new_head(world: World) -> None:
    world.plugins_yaml = PLUGINS_YAML
    ev = await opened(world, "alice")
    await handle(world, ev)
    (first,) = jobs(world, number=ev.number)
    await world.act("push", as_="alice", number=ev.number, files={"src/new.py": "print('v2')\n"})
    sync = await world.one(PullRequestEvent, "synchronize")
    assert sync.head_sha != ev.head_sha
    await handle(world, sync)
    await handle(world, sync)  # a replay neither aborts the new run nor makes another

    assert world.jobs is not None
    old = world.jobs.get(first.id)
    assert old is not None and (old.state, old.description) == (JobState.ABORTED, ABORTED_DESCRIPTION)
    (new,) = jobs(world, number=ev.number, states=[JobState.TRIGGERED])
    assert new.refs.pulls[0].sha == sync.head_sha
    assert [s["state"] for s in await statuses(world, sync.head_sha)][-1] == "pending"


async def test_test_retest_and_help(world: World) -> None:
    world.plugins_yaml = PLUGINS_YAML
    ev = await opened(world, "alice")
    await handle(world, ev)

    said = await world.comment(ev.number, "bob", "/test nope")
    await handle(world, said)
    (help_text,) = await world.bot_comments(ev.number)
    assert help_text.startswith(f"@bob: {TARGET_NOT_FOUND_NOTE}")
    assert "The following commands are available to trigger required jobs:\n```\n/test docs\n```" in help_text
    assert "The following commands are available to trigger optional jobs:\n```\n/test e2e\n```" in help_text
    assert "Use `/test all` to run the following jobs that were automatically triggered:\n```\nunit\n```" in help_text

    said = await world.comment(ev.number, "bob", "/test e2e")
    await handle(world, said)
    assert sorted(j.job for j in jobs(world, number=ev.number)) == ["e2e", "unit"]
    assert await world.bot_comments(ev.number) == []  # the help answer is pruned once a /test runs

    sha = await head(world, ev.number)
    await world.rest(
        "POST", f"/repos/{ORG}/{REPO}/statuses/{sha}", {"state": "failure", "context": "e2e"}, "sim_ci-robot"
    )
    await world.rest(
        "POST", f"/repos/{ORG}/{REPO}/statuses/{sha}", {"state": "success", "context": "unit"}, "sim_ci-robot"
    )
    said = await world.comment(ev.number, "dave", "/retest")
    await handle(world, said)
    rerun = [j for j in jobs(world, number=ev.number) if j.job == "e2e"]
    assert len(rerun) == 2 and len([j for j in jobs(world, number=ev.number) if j.job == "unit"]) == 1

    said = await world.comment(ev.number, "dave", "/retest-required")  # e2e is optional: nothing to rerun
    await handle(world, said)
    assert len(jobs(world, number=ev.number)) == 3


async def test_draft_pr_is_not_built_and_says_so(world: World) -> None:
    world.plugins_yaml = PLUGINS_YAML
    await world.act("pull", as_="alice", title="WIP", draft=True, files={"src/a.py": "a = 1\n"})
    ev = await world.one(PullRequestEvent, "opened")
    await handle(world, ev)
    assert jobs(world) == []
    assert [c.split("\n\n<!--")[0] for c in await world.bot_comments(ev.number)] == [DRAFT_COMMENT]


async def test_only_org_members_and_trusted_apps(world: World) -> None:
    world.plugins_yaml = (
        PLUGINS_YAML + "triggers:\n- repos: [org0/repo0]\n  only_org_members: true\n  trusted_apps: [helper]\n"
    )
    member_pr = await opened(world, "dave")
    await handle(world, member_pr)
    assert [j.job for j in jobs(world, number=member_pr.number)] == ["unit"]
    app_pr = await opened(world, "helper[bot]")
    await handle(world, app_pr)
    assert [j.job for j in jobs(world, number=app_pr.number)] == ["unit"]
    outsider = await opened(world, "frank")
    await handle(world, outsider)
    assert jobs(world, number=outsider.number) == []
    assert await world.labels(outsider.number) == [NEEDS_OK_TO_TEST]


async def test_push_creates_matching_postsubmits(world: World) -> None:
    world.plugins_yaml = PLUGINS_YAML
    pushed = await world.act("push", as_="alice", branch="main", files={"src/core.py": "v = 3\n"})
    ev = await world.one(PushEvent)
    await handle(world, ev)
    await handle(world, ev)
    (job,) = jobs(world, type=JobType.POSTSUBMIT)
    assert (job.job, job.refs.base_ref, job.refs.base_sha, job.state) == (
        "deploy",
        "main",
        pushed["sha"],
        JobState.TRIGGERED,
    )

    await world.act("push", as_="alice", branch="main", files={"README.md": "docs only\n"})
    await handle(world, await world.one(PushEvent))
    await world.act("push", as_="alice", branch="side", files={"src/core.py": "v = 4\n"})
    await handle(world, await world.one(PushEvent))
    assert len(jobs(world, type=JobType.POSTSUBMIT)) == 1  # neither a non-src change nor another branch


async def test_comments_on_issues_and_closed_prs_are_ignored(world: World) -> None:
    world.plugins_yaml = PLUGINS_YAML
    ev = await opened(world, "alice")
    await world.act("close", as_="alice", number=ev.number)
    await world.events()
    said = await world.comment(ev.number, "bob", "/test all")
    assert isinstance(said, GenericCommentEvent) and said.issue_state == "closed"
    await handle(world, said)
    assert jobs(world) == [] and await world.bot_comments(ev.number) == []


async def test_retargeting_a_pr_retriggers_but_other_edits_do_not(world: World) -> None:
    world.plugins_yaml = PLUGINS_YAML
    ev = await opened(world, "alice")
    await handle(world, ev)
    await world.act("push", as_="alice", branch="release", files={"RELEASE": "1.0\n"})
    await world.events()
    # ghsim cannot retarget a PR: the edited payload is the opened one with the new base (GitHub adds `changes`)
    pr = dict(ev.pull_request)
    title_edit = dataclasses.replace(ev, guid="edit-1", action="edited", pull_request=pr | {"title": "Renamed"})
    await handle(world, title_edit)
    assert len(jobs(world, number=ev.number)) == 1
    retarget = dataclasses.replace(
        ev, guid="edit-2", action="edited", pull_request=pr | {"base": dict(pr["base"]) | {"ref": "release"}}
    )
    await handle(world, retarget)
    await handle(world, retarget)
    bases = [j.refs.base_ref for j in jobs(world, number=ev.number)]
    assert bases == ["main", "release"]
