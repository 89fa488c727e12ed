"""Which jobs an event runs, as pure decisions: Prow's presubmit filters (pkg/pjutil), the `/test` help text, and
the ProwJobs trigger creates.

A comment is matched against the trigger plugin's commands (`/test all`, `/retest`, `/retest-required`,
`/test-manual-required`, `/ok-to-test`) and every job's own trigger regex; `comment_filter()` composes Prow's filters
in Prow's order and `select()` applies one to a repository's presubmits for a branch and the PR's changed files.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from prow_lite.config.jobs import JobBase, Postsubmit, Presubmit
from prow_lite.jobs import JobState, JobType, ProwJob, Refs, job_id

TRIGGERED_DESCRIPTION = "Job triggered."

# pkg/pjutil/filter.go and help.go
TEST_ALL_RE = re.compile(r"(?m)^/test all,?($|\s.*)")
RETEST_RE = re.compile(r"(?m)^/retest\s*$")
RETEST_REQUIRED_RE = re.compile(r"(?m)^/retest-required\s*$")
TEST_MANUAL_REQUIRED_RE = re.compile(r"(?m)^/test-manual-required\s*$")
OK_TO_TEST_RE = re.compile(r"(?m)^/ok-to-test\s*$")
OK_TO_TEST_CANCEL_RE = re.compile(r"(?m)^/ok-to-test\s+cancel\s*$")
TEST_HELP_RE = re.compile(r"(?m)^/test[ \t]*\?\s*$")
EMPTY_TEST_RE = re.compile(r"(?m)^/test\s*$")
RETEST_WITH_TARGET_RE = re.compile(r"(?m)^/retest[ \t]+\S+")
TEST_WITH_ANY_TARGET_RE = re.compile(r"(?m)^/test[ \t]+\S+")
ANY_TEST_RE = re.compile(r"(?m)^/(?:re)?test\b")

TEST_WITHOUT_TARGET_NOTE = "The `/test` command needs one or more targets.\n"
RETEST_WITH_TARGET_NOTE = "The `/retest` command does not accept any targets.\n"
TARGET_NOT_FOUND_NOTE = "The specified target(s) for `/test` were not found.\n"
NO_TEST_ALL_JOBS_NOTE = "No jobs can be run with `/test all`.\n"
REQUIRED_NOTE = "The following commands are available to trigger required jobs:"
OPTIONAL_NOTE = "The following commands are available to trigger optional jobs:"

# A filter answers, for one presubmit: does it match, is it forced to run, and should it run by default when its
# change condition cannot tell (Prow's pjutil.Filter).
Filter = Callable[["Presubmit"], tuple[bool, bool, bool]]


def command_filter(body: str) -> Filter:
    return lambda p: (p.triggered_by(body), p.triggered_by(body), True)


def automatic_filter(p: Presubmit) -> tuple[bool, bool, bool]:
    return (not p.needs_explicit_trigger, False, False)


def retest_filter(failed: set[str], seen: set[str], *, required_only: bool = False) -> Filter:
    """`/retest`: jobs whose context failed, and automatic jobs that never reported (not optional ones for -required)."""

    def decide(p: Presubmit) -> tuple[bool, bool, bool]:
        if required_only and p.optional:
            return (False, False, False)
        did_fail = p.context in failed
        return (did_fail or (not p.needs_explicit_trigger and p.context not in seen), False, did_fail)

    return decide


def manual_required_filter(p: Presubmit) -> tuple[bool, bool, bool]:
    if p.optional or not p.needs_explicit_trigger:
        return (False, False, False)
    return (True, True, False)


def comment_filter(text: str, *, honor_ok_to_test: bool, failed: set[str], seen: set[str]) -> Filter:
    """The filters a comment asks for, most specific first; the first that matches a job decides (Prow's order)."""
    filters = [command_filter(text)]
    if RETEST_RE.search(text):
        filters.append(retest_filter(failed, seen))
    if RETEST_REQUIRED_RE.search(text):
        filters.append(retest_filter(failed, seen, required_only=True))
    if TEST_MANUAL_REQUIRED_RE.search(text):
        filters.append(manual_required_filter)
    if (honor_ok_to_test and OK_TO_TEST_RE.search(text)) or TEST_ALL_RE.search(text):
        filters.append(automatic_filter)

    def decide(p: Presubmit) -> tuple[bool, bool, bool]:
        for f in filters:
            verdict = f(p)
            if verdict[0]:
                return verdict
        return (False, False, False)

    return decide


def should_run(p: Presubmit, branch: str, changed: Sequence[str], *, forced: bool, default: bool) -> bool:
    """Prow's Presubmit.ShouldRun: the branch filter, then always_run or forced, then the change condition."""
    if not p.can_run_on_branch(branch):
        return False
    if p.always_run or forced:
        return True
    return p.should_run_for_changes(changed) is True or default


def select(filter_: Filter, presubmits: Iterable[Presubmit], branch: str, changed: Sequence[str]) -> list[Presubmit]:
    out = []
    for p in presubmits:
        matches, forced, default = filter_(p)
        if matches and should_run(p, branch, changed, forced=forced, default=default):
            out.append(p)
    return out


def comment_matches(text: str, presubmits: Iterable[Presubmit]) -> bool:
    """Whether the comment is for this plugin at all: one of its commands or some job's trigger."""
    ours = (RETEST_RE, RETEST_REQUIRED_RE, TEST_MANUAL_REQUIRED_RE, OK_TO_TEST_RE, OK_TO_TEST_CANCEL_RE, TEST_ALL_RE)
    return any(r.search(text) for r in ours) or may_need_help(text) or any(p.triggered_by(text) for p in presubmits)


def may_need_help(text: str) -> bool:
    return any(r.search(text) for r in (EMPTY_TEST_RE, RETEST_WITH_TARGET_RE, TEST_WITH_ANY_TARGET_RE, TEST_HELP_RE))


def help_needed(text: str, selected: int) -> tuple[bool, str]:
    """Prow's ShouldRespondWithHelp: whether to answer with the job list, and the note leading it."""
    if TEST_HELP_RE.search(text):
        return True, ""
    if EMPTY_TEST_RE.search(text):
        return True, TEST_WITHOUT_TARGET_NOTE
    if RETEST_WITH_TARGET_RE.search(text):
        return True, RETEST_WITH_TARGET_NOTE
    if selected == 0 and TEST_ALL_RE.search(text):
        return True, NO_TEST_ALL_JOBS_NOTE
    if selected == 0 and TEST_WITH_ANY_TARGET_RE.search(text):
        return True, TARGET_NOT_FOUND_NOTE
    return False, ""


def is_help_comment(body: str) -> bool:
    notes = (TEST_WITHOUT_TARGET_NOTE, RETEST_WITH_TARGET_NOTE, TARGET_NOT_FOUND_NOTE, NO_TEST_ALL_JOBS_NOTE)
    return any(n in body for n in (*notes, REQUIRED_NOTE, OPTIONAL_NOTE))


def help_message(
    org: str, repo: str, branch: str, note: str, presubmits: Sequence[Presubmit], changed: Sequence[str]
) -> str:
    """Prow's HelpMessage: the `/test` commands available on this branch and what `/test all` runs."""
    test_all = {p.name for p in select(automatic_filter, presubmits, branch, changed)}
    commands = [q.rerun_command for q in presubmits if q.rerun_command]
    runnable = [p for p in presubmits if p.can_run_on_branch(branch) and any(p.triggered_by(c) for c in commands)]
    optional = {p.rerun_command for p in runnable if p.optional}
    required = {p.rerun_command for p in runnable if not p.optional}
    if not (test_all or optional or required):
        return f"No presubmit jobs available for {org}/{repo}@{branch}"

    def listing(names: set[str]) -> str:
        return "".join(f"\n```\n{n}\n```" for n in sorted(names))

    text = note
    if required:
        text += REQUIRED_NOTE + listing(required) + "\n\n"
    if optional:
        text += OPTIONAL_NOTE + listing(optional) + "\n\n"
    if len(test_all) == len(optional) + len(required):
        text += "Use `/test all` to run all jobs.\n"
    elif test_all:
        text += f"Use `/test all` to run the following jobs that were automatically triggered:{listing(test_all)}\n\n"
    return text


def job_spec(job: JobBase) -> dict[str, Any]:
    """What an executor runs, from the job config: `command` (argv) and/or `pod_spec`."""
    spec: dict[str, Any] = {}
    if job.command or job.args:
        spec["command"] = [*job.command, *job.args]
    if job.spec:
        spec["pod_spec"] = dict(job.spec)
    return spec


def push_changes(commits: Iterable[Mapping[str, Any]]) -> list[str]:
    """The files a push touched: added, removed and modified over its commits."""
    changed: set[str] = set()
    for commit in commits:
        for key in ("added", "removed", "modified"):
            changed.update(str(path) for path in commit.get(key) or ())
    return sorted(changed)


def presubmit_job(p: Presubmit, refs: Refs, guid: str, now: float | None = None) -> ProwJob:
    """The ProwJob for presubmit `p` on the PR in `refs`; its id is fixed by the delivery, job and head SHA."""
    return ProwJob(
        id=job_id(guid, p.name, refs.pulls[0].sha),
        type=JobType.PRESUBMIT,
        job=p.name,
        state=JobState.TRIGGERED,
        refs=refs,
        context=p.context,
        cluster=p.cluster,
        created_at=time.time() if now is None else now,
        description=TRIGGERED_DESCRIPTION,
        rerun_command=p.rerun_command,
        spec=job_spec(p),
        report=p.report,
        max_concurrency=p.max_concurrency,
    )


def postsubmit_job(
    j: Postsubmit, org: str, repo: str, branch: str, sha: str, guid: str, now: float | None = None
) -> ProwJob:
    """The ProwJob for postsubmit `j` on a push of `sha` to `branch`."""
    return ProwJob(
        id=job_id(guid, j.name, sha),
        type=JobType.POSTSUBMIT,
        job=j.name,
        state=JobState.TRIGGERED,
        refs=Refs(org, repo, branch, sha),
        context=j.context,
        cluster=j.cluster,
        created_at=time.time() if now is None else now,
        description=TRIGGERED_DESCRIPTION,
        spec=job_spec(j),
        report=j.report,
        max_concurrency=j.max_concurrency,
    )
