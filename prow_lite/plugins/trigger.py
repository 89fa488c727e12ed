"""The trigger plugin: presubmits for trusted pull requests, `/ok-to-test`, `/test`, `/retest`, and postsubmits on
pushes (Prow's pkg/plugins/trigger and pkg/pjutil filters).

A PR is trusted when its author is (an org member, a repo collaborator unless `only_org_members`, a trusted app, or a
member of `trusted_org`) or it has the `ok-to-test` label. Trusted PRs get their automatic presubmits when opened,
reopened, pushed to or retargeted; others get `needs-ok-to-test` and Prow's welcome comment. Jobs go to the job store
in state triggered under ids derived from the delivery, job and head SHA, with a pending status on the head commit.
A push to a PR aborts the runs for its older heads. Which jobs run is decided in `prow_lite.triggering` (pure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from prow_lite.config import Presubmit, Trigger
from prow_lite.events import GenericCommentEvent, PullRequestEvent, PushEvent
from prow_lite.jobs import JobState, JobType, ProwJob, Pull, Refs, status_description, status_state
from prow_lite.plugins.base import Agent, Command, Plugin, PluginHelp, format_response, register, strip_code
from prow_lite.triggering import (
    ANY_TEST_RE,
    OK_TO_TEST_CANCEL_RE,
    OK_TO_TEST_RE,
    RETEST_RE,
    RETEST_REQUIRED_RE,
    automatic_filter,
    comment_filter,
    comment_matches,
    help_message,
    help_needed,
    is_help_comment,
    postsubmit_job,
    presubmit_job,
    push_changes,
    select,
)

OK_TO_TEST, NEEDS_OK_TO_TEST, LGTM = "ok-to-test", "needs-ok-to-test", "lgtm"
ABORTED_DESCRIPTION = "Aborted by trigger plugin."
NULL_SHA = "0" * 40

ABOUT_BOT = (
    "Instructions for interacting with me using PR comments are available "
    "[here](https://git.k8s.io/community/contributors/guide/pull-requests.md).  If you have questions or "
    "suggestions related to my behavior, please file an issue against the "
    "[kubernetes-sigs/prow](https://github.com/kubernetes-sigs/prow/issues/new?title=Prow%20issue:) repository."
)
UNTRUSTED_COMMENT = "Cannot trigger testing until a trusted user reviews the PR and leaves an `/ok-to-test` message."
IGNORE_OK_TO_TEST_COMMENT = (
    "PRs from untrusted users cannot be marked as trusted with `/ok-to-test` in this repo meaning untrusted PR "
    "authors can never trigger tests themselves. Collaborators can still trigger tests on the PR using `/test`."
)
ONLY_TRUSTED_CANCEL = "Only trusted users can revoke `/ok-to-test`."
DRAFT_COMMENT = (
    "Skipping CI for Draft Pull Request.\nIf you want CI signal for your change, please convert it to an actual PR.\n"
    "You can still manually trigger a test run with `/test all`"
)

# --- trust ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trust:
    trusted: bool
    reason: str = ""  # why not, in Prow's words


def untrusted_reason(*, only_org_members: bool, secondary_org: bool) -> str:
    """Prow's explanation of a denial: which of the conditions the user fails."""
    text = "User is not a member of the org. "
    if not only_org_members:
        text += "User is not a collaborator. "
    if secondary_org:
        text += "User is not a member of the trusted secondary org. "
    return text + "Satisfy at least one of these conditions to make the user trusted."


def is_trusted_app(user: str, trusted_apps: Iterable[str]) -> bool:
    """A GitHub App's login is `<name>[bot]`; `trusted_apps` lists the names."""
    return user.endswith("[bot]") and user.removesuffix("[bot]") in set(trusted_apps)


def is_bot(login: str, bot: str) -> bool:
    return login.lower() in (bot.lower(), f"{bot.lower()}[bot]")


async def trusted_user(agent: Agent, cfg: Trigger, user: str, org: str, repo: str) -> Trust:
    """Prow's TrustedUser: the bot itself, an org member, a collaborator, a trusted app, a trusted_org member."""
    if is_bot(user, agent.bot) or await agent.gh.is_member(org, user):
        return Trust(True)
    if not cfg.only_org_members and await agent.gh.is_collaborator(org, repo, user):
        return Trust(True)
    if is_trusted_app(user, cfg.trusted_apps):
        return Trust(True)
    secondary = bool(cfg.trusted_org) and cfg.trusted_org != org
    if secondary and await agent.gh.is_member(cfg.trusted_org, user):
        return Trust(True)
    return Trust(False, untrusted_reason(only_org_members=cfg.only_org_members, secondary_org=secondary))


async def trusted_pull(
    agent: Agent, cfg: Trigger, author: str, org: str, repo: str, number: int, labels: list[str] | None = None
) -> tuple[list[str] | None, bool]:
    """Prow's TrustedPullRequest: a trusted author, else the `ok-to-test` label (labels fetched only if needed)."""
    if (await trusted_user(agent, cfg, author, org, repo)).trusted:
        return labels, True
    if labels is None:
        labels = await agent.gh.list_issue_labels(org, repo, number)
    return labels, OK_TO_TEST in labels


def welcome_message(author: str, org: str, full_name: str, cfg: Trigger) -> str:
    """Prow's comment on a PR from an untrusted author."""
    commands = f"I understand the commands that are listed [here](https://go.k8s.io/bot-commands?repo={quote_plus(full_name)})."
    if cfg.ignore_ok_to_test:
        return (
            f"Hi @{author}. Thanks for your PR.\n\nPRs from untrusted users cannot be marked as trusted with "
            "`/ok-to-test` in this repo meaning untrusted PR authors can never trigger tests themselves. "
            f"Collaborators can still trigger tests on the PR using `/test all`.\n\n{commands}\n\n"
            f"<details>\n\n{ABOUT_BOT}\n</details>\n"
        )
    more = ""
    if cfg.trusted_org and cfg.trusted_org != org:
        more = f"or [{cfg.trusted_org}](https://github.com/orgs/{cfg.trusted_org}/people) "
    join_url = cfg.join_org_url or f"https://github.com/orgs/{org}/people"
    return (
        f"Hi @{author}. Thanks for your PR.\n\n"
        f"I'm waiting for a [{org}](https://github.com/orgs/{org}/people) {more}member to verify that this patch is "
        "reasonable to test. If it is, they should reply with `/ok-to-test` on its own line. Until that is done, I "
        "will not automatically test new commits in this PR, but the usual testing commands by org members will "
        f"still work.\n\nRegular contributors should [join the org]({join_url}) to skip this step.\n\n"
        f"Once the patch is verified, the new status will be reflected by the `{OK_TO_TEST}` label.\n\n"
        f"{commands}\n\n<details>\n\n{ABOUT_BOT}\n</details>\n"
    )


# --- the shell ------------------------------------------------------------------------------------------------


async def _changed_files(agent: Agent, org: str, repo: str, number: int, jobs: Iterable[Presubmit]) -> list[str]:
    """The PR's files, fetched only when some job has a change condition."""
    if not any(p.has_change_condition for p in jobs):
        return []
    return [str(f["filename"]) for f in await agent.gh.list_pull_files(org, repo, number)]


def _refs(org: str, repo: str, pr: Mapping[str, Any], base_sha: str) -> Refs:
    head = pr["head"]
    pull = Pull(
        int(pr["number"]),
        str(pr["user"]["login"]),
        str(head["sha"]),
        str(pr.get("title") or ""),
        str(head.get("ref") or ""),
    )
    return Refs(org, repo, str(pr["base"]["ref"]), base_sha, (pull,))


async def run_requested(
    agent: Agent, org: str, repo: str, pr: Mapping[str, Any], jobs: Sequence[Presubmit]
) -> list[ProwJob]:
    """Create the jobs (state triggered) and post their pending statuses; a replayed delivery creates nothing new.

    Nothing runs on a PR GitHub found unmergeable (Prow saves the resources and the noise).
    """
    if not jobs or pr.get("mergeable") is False:
        return []
    base_sha = await agent.gh.get_ref(org, repo, f"heads/{pr['base']['ref']}")
    refs = _refs(org, repo, pr, base_sha)
    head_sha = refs.pulls[0].sha
    made = []
    for p in jobs:
        job = presubmit_job(p, refs, agent.guid)
        if not agent.jobs.create(job):
            stored = agent.jobs.get(job.id)
            if stored is None or stored.state is not JobState.TRIGGERED:
                continue  # replayed: the job has moved on and its reporter owns the status
            job = stored
        agent.log.info("triggered %s for %s/%s#%s at %s", p.name, org, repo, refs.pulls[0].number, head_sha)
        made.append(job)
        if job.report:
            await agent.gh.create_status(
                org, repo, head_sha, status_state(job.state), job.context, status_description(job), job.url
            )
    return made


async def abort_stale(agent: Agent, org: str, repo: str, number: int, keep_sha: str | None) -> list[ProwJob]:
    """Abort the PR's unfinished presubmits, except those for `keep_sha` (the current head, if any)."""
    running = agent.jobs.list(
        org=org, repo=repo, number=number, type=JobType.PRESUBMIT, states=(JobState.TRIGGERED, JobState.PENDING)
    )
    aborted = []
    for job in running:
        if keep_sha is not None and any(p.number == number and p.sha == keep_sha for p in job.refs.pulls):
            continue
        aborted.append(agent.jobs.set_state(job.id, JobState.ABORTED, description=ABORTED_DESCRIPTION))
    return aborted


async def _build_all(agent: Agent, org: str, repo: str, pr: Mapping[str, Any], presubmits: Sequence[Presubmit]) -> None:
    """Every automatic presubmit for the PR's branch and files, unless the PR is a draft."""
    if pr.get("draft"):
        return
    branch = str(pr["base"]["ref"])
    changed = await _changed_files(agent, org, repo, int(pr["number"]), presubmits)
    await run_requested(agent, org, repo, pr, select(automatic_filter, presubmits, branch, changed))


async def _build_all_if_trusted(
    agent: Agent, cfg: Trigger, ev: PullRequestEvent, presubmits: Sequence[Presubmit]
) -> None:
    org, repo = ev.repo.org, ev.repo.name
    labels, trusted = await trusted_pull(agent, cfg, ev.author, org, repo, ev.number)
    if not trusted:
        return
    if labels is not None and NEEDS_OK_TO_TEST in labels:
        await agent.gh.remove_label(org, repo, ev.number, NEEDS_OK_TO_TEST)
    await _build_all(agent, org, repo, ev.pull_request, presubmits)


def _base_changed(agent: Agent, ev: PullRequestEvent) -> bool:
    """Whether this head was tested against another base branch (the payload's `changes` is not kept by events)."""
    tested = [
        j for j in agent.jobs.list(org=ev.repo.org, repo=ev.repo.name, number=ev.number, type=JobType.PRESUBMIT)
        if any(p.sha == ev.head_sha for p in j.refs.pulls)
    ]  # fmt: skip
    return bool(tested) and all(j.refs.base_ref != ev.base_ref for j in tested)


async def _welcome(agent: Agent, cfg: Trigger, ev: PullRequestEvent) -> None:
    org, repo = ev.repo.org, ev.repo.name
    if not cfg.ignore_ok_to_test and OK_TO_TEST not in await agent.gh.list_issue_labels(org, repo, ev.number):
        await agent.gh.add_labels(org, repo, ev.number, [NEEDS_OK_TO_TEST])
    await agent.comment(ev.repo, ev.number, welcome_message(ev.author, org, ev.repo.full_name, cfg), key="welcome")


async def handle_pull_request(agent: Agent, ev: PullRequestEvent) -> None:
    org, repo = ev.repo.org, ev.repo.name
    presubmits = agent.config.presubmits_for(org, repo)
    if not presubmits:
        return
    cfg = agent.plugins.trigger_for(org, repo)
    if ev.action == "opened":
        if not (await trusted_user(agent, cfg, ev.author, org, repo)).trusted:
            await _welcome(agent, cfg, ev)
        elif ev.pull_request.get("draft"):
            await agent.comment(ev.repo, ev.number, DRAFT_COMMENT, key="draft")
        else:
            await _build_all(agent, org, repo, ev.pull_request, presubmits)
    elif ev.action in ("reopened", "ready_for_review") or (ev.action == "edited" and _base_changed(agent, ev)):
        await _build_all_if_trusted(agent, cfg, ev, presubmits)
    elif ev.action == "synchronize":
        await abort_stale(agent, org, repo, ev.number, keep_sha=ev.head_sha)
        await _build_all_if_trusted(agent, cfg, ev, presubmits)
    elif ev.action in ("closed", "converted_to_draft"):
        await abort_stale(agent, org, repo, ev.number, keep_sha=None)
    elif ev.action == "labeled" and ev.label == LGTM:
        _, trusted = await trusted_pull(agent, cfg, ev.author, org, repo, ev.number)
        if not trusted:  # an lgtm'd untrusted PR is built once
            await _build_all(agent, org, repo, ev.pull_request, presubmits)
    elif ev.action == "labeled" and ev.label == OK_TO_TEST and not is_bot(ev.sender, agent.bot):
        await _build_all(agent, org, repo, ev.pull_request, presubmits)  # the bot's own label: the comment builds


async def _reply(agent: Agent, ev: GenericCommentEvent, message: str) -> None:
    await agent.comment(ev.repo, ev.number, format_response(ev.user, message, ev.body, ev.html_url))


async def _contexts(agent: Agent, org: str, repo: str, sha: str) -> tuple[set[str], set[str]]:
    """The head's failed contexts and every context it has."""
    combined = await agent.gh.combined_status(org, repo, sha)
    statuses = combined.get("statuses") or []
    failed = {str(s["context"]) for s in statuses if s.get("state") in ("failure", "error")}
    return failed, {str(s["context"]) for s in statuses}


async def _prune_help(agent: Agent, org: str, repo: str, number: int) -> None:
    for comment in await agent.gh.list_comments(org, repo, number):
        author = str((comment.get("user") or {}).get("login") or "")
        if is_bot(author, agent.bot) and is_help_comment(str(comment.get("body") or "")):
            await agent.gh.delete_comment(org, repo, int(comment["id"]))


async def handle_generic_comment(agent: Agent, ev: GenericCommentEvent) -> None:
    if ev.action != "created" or not ev.is_pr or ev.issue_state != "open" or is_bot(ev.user, agent.bot):
        return
    org, repo, number = ev.repo.org, ev.repo.name, ev.number
    presubmits = agent.config.presubmits_for(org, repo)
    text = strip_code(ev.body)
    if not comment_matches(text, presubmits):
        return
    cfg = agent.plugins.trigger_for(org, repo)
    honor_ok_to_test = not cfg.ignore_ok_to_test
    commenter = await trusted_user(agent, cfg, ev.user, org, repo)
    labels: list[str] | None = None
    if not commenter.trusted:
        labels, pr_trusted = await trusted_pull(agent, cfg, ev.issue_author, org, repo, number)
        if not pr_trusted:
            await _reply(agent, ev, UNTRUSTED_COMMENT if honor_ok_to_test else IGNORE_OK_TO_TEST_COMMENT)
            return
    if labels is None:
        labels = await agent.gh.list_issue_labels(org, repo, number)
    ok_to_test = honor_ok_to_test and OK_TO_TEST_RE.search(text) is not None
    if ok_to_test and OK_TO_TEST not in labels:
        await agent.gh.add_labels(org, repo, number, [OK_TO_TEST])
    if (ok_to_test or OK_TO_TEST in labels) and NEEDS_OK_TO_TEST in labels:
        await agent.gh.remove_label(org, repo, number, NEEDS_OK_TO_TEST)
    if honor_ok_to_test and OK_TO_TEST_CANCEL_RE.search(text):
        if not commenter.trusted:
            await _reply(agent, ev, ONLY_TRUSTED_CANCEL)
            return
        if OK_TO_TEST in labels:
            await agent.gh.remove_label(org, repo, number, OK_TO_TEST)
        if NEEDS_OK_TO_TEST not in labels:
            await agent.gh.add_labels(org, repo, number, [NEEDS_OK_TO_TEST])
        return
    pr = await agent.gh.get_pull(org, repo, number)
    branch, head_sha = str(pr["base"]["ref"]), str(pr["head"]["sha"])
    failed: set[str] = set()
    seen: set[str] = set()
    if RETEST_RE.search(text) or RETEST_REQUIRED_RE.search(text):
        failed, seen = await _contexts(agent, org, repo, head_sha)
    changed = await _changed_files(agent, org, repo, number, presubmits)
    chosen = select(
        comment_filter(text, honor_ok_to_test=honor_ok_to_test, failed=failed, seen=seen), presubmits, branch, changed
    )
    needs_help, note = help_needed(text, len(chosen))
    if needs_help:
        await _reply(agent, ev, help_message(org, repo, branch, note, presubmits, changed))
        return
    if ANY_TEST_RE.search(text):
        await _prune_help(agent, org, repo, number)
    await run_requested(agent, org, repo, pr, chosen)


async def handle_push(agent: Agent, ev: PushEvent) -> None:
    """Postsubmits whose branch and change conditions match the push, created in the job store."""
    if ev.deleted or ev.after == NULL_SHA:
        return
    org, repo = ev.repo.org, ev.repo.name
    changed = push_changes(ev.commits)
    for j in agent.config.postsubmits_for(org, repo):
        if not j.should_run(ev.branch, changed):
            continue
        created = agent.jobs.create(postsubmit_job(j, org, repo, ev.branch, ev.after, agent.guid))
        if created:
            agent.log.info("triggered postsubmit %s for %s/%s@%s", j.name, org, repo, ev.after)


PLUGIN = register(
    Plugin(
        name="trigger",
        help=PluginHelp(
            description=(
                "The trigger plugin starts jobs in reaction to various events. Presubmits run automatically on "
                "trusted, non-draft pull requests whose files and branch match their filters. A pull request is "
                "trusted if its author is a member of the trusted organization (or a collaborator, or a trusted app) "
                "or if such a member commented `/ok-to-test`. `/retest` reruns failed jobs. Postsubmits start when "
                "commits are pushed to a branch and files their filters match."
            ),
            commands=(
                Command("ok-to-test", "/ok-to-test", "Marks a PR as 'trusted' and starts tests.",
                        "Members of the trusted organization for the repo.", ("/ok-to-test",)),
                Command("ok-to-test", "/ok-to-test cancel",
                        "Revokes trusted status previously granted by '/ok-to-test', removing the 'ok-to-test' label "
                        "and restoring 'needs-ok-to-test'.",
                        "Members of the trusted organization for the repo.", ("/ok-to-test cancel",)),
                Command("test", "/test [<job name>|all]",
                        "Manually starts a/all automatically triggered test job(s). Lists all possible job(s) when "
                        "no jobs/an invalid job are specified.",
                        "Anyone can trigger this command on a trusted PR.", ("/test all", "/test pull-bazel-test")),
                Command("retest", "/retest", "Rerun test jobs that have failed.",
                        "Anyone can trigger this command on a trusted PR.", ("/retest",)),
                Command("retest-required", "/retest-required", "Rerun required test jobs that have failed.",
                        "Anyone can trigger this command on a trusted PR.", ("/retest-required",)),
                Command("test-manual-required", "/test-manual-required",
                        "Manually starts required presubmit jobs that require an explicit trigger and do not use "
                        "file change conditions.",
                        "Anyone can trigger this command on a trusted PR.", ("/test-manual-required",)),
                Command("test", "/test ?", "List available test job(s) for a trusted PR.",
                        "Anyone can trigger this command on a trusted PR.", ("/test ?",)),
            ),
            config="trigger: trusted_apps, trusted_org, join_org_url, only_org_members, ignore_ok_to_test per org or repo.",
        ),
        generic_comment=handle_generic_comment,
        pull_request=handle_pull_request,
        push=handle_push,
    )
)  # fmt: skip
