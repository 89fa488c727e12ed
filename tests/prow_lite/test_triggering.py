"""Which presubmits a PR or a comment runs (Prow's pjutil filters), command parsing, the /test help text."""

from __future__ import annotations

import pytest

from prow_lite.config import Postsubmit, Presubmit
from prow_lite.jobs import JobState, JobType, Pull, Refs
from prow_lite.triggering import (
    NO_TEST_ALL_JOBS_NOTE,
    RETEST_WITH_TARGET_NOTE,
    TARGET_NOT_FOUND_NOTE,
    TEST_WITHOUT_TARGET_NOTE,
    automatic_filter,
    comment_filter,
    comment_matches,
    help_message,
    help_needed,
    is_help_comment,
    job_spec,
    postsubmit_job,
    presubmit_job,
    push_changes,
    select,
)

JOBS = [
    Presubmit(name="unit", always_run=True, command=("make", "test")),
    Presubmit(name="docs", run_if_changed=r"^docs/"),
    Presubmit(name="lint", skip_if_only_changed=r"\.md$", optional=True),
    Presubmit(name="e2e"),  # needs an explicit /test e2e
    Presubmit(name="e2e-optional", optional=True),
    Presubmit(name="release", always_run=True, branches=("^release-",)),
    Presubmit(name="custom", trigger=r"(?m)^/run custom\s*$", rerun_command="/run custom"),
]


def names(jobs: list[Presubmit]) -> list[str]:
    return [j.name for j in jobs]


def chosen(text: str, changed: list[str], *, branch: str = "main", failed: set[str] | None = None,
           seen: set[str] | None = None, honor: bool = True) -> list[str]:  # fmt: skip
    flt = comment_filter(text, honor_ok_to_test=honor, failed=failed or set(), seen=seen or set())
    return names(select(flt, JOBS, branch, changed))


@pytest.mark.parametrize(
    ("changed", "branch", "want"),
    [
        (["src/a.go"], "main", ["unit", "lint"]),
        (["docs/a.md"], "main", ["unit", "docs"]),  # lint skips a docs-only change
        (["docs/a.md", "x.go"], "main", ["unit", "docs", "lint"]),
        (["x.go"], "release-1.0", ["unit", "lint", "release"]),
        ([], "main", ["unit"]),
    ],
)
def test_automatic_presubmits(changed: list[str], branch: str, want: list[str]) -> None:
    assert names(select(automatic_filter, JOBS, branch, changed)) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("/test e2e", ["e2e"]),
        ("/test e2e unit", ["unit", "e2e"]),
        ("/test unit,", ["unit"]),
        ("/test docs", ["docs"]),  # a named job runs even if its files did not change
        ("/test all", ["unit", "lint"]),
        ("/test all\n/test e2e", ["unit", "lint", "e2e"]),
        ("/ok-to-test", ["unit", "lint"]),
        ("/run custom", ["custom"]),
        ("/test release", []),  # not on this branch
        ("/test nope", []),
        ("/test-manual-required", ["e2e", "custom"]),
        ("please /test e2e", []),
        ("/teste2e", []),
    ],
)
def test_comment_commands_select_jobs(text: str, want: list[str]) -> None:
    assert chosen(text, ["src/a.go"]) == want


def test_ok_to_test_can_be_ignored() -> None:
    assert chosen("/ok-to-test", ["x.go"], honor=False) == []


def test_retest_reruns_failed_jobs_and_automatic_ones_that_never_reported() -> None:
    seen = {"unit", "lint", "e2e"}
    assert chosen("/retest", ["src/a.go"], failed={"e2e"}, seen=seen) == ["e2e"]
    assert chosen("/retest", ["src/a.go"], failed={"unit"}, seen={"unit"}) == ["unit", "lint"]
    assert chosen("/retest", ["src/a.go"], failed=set(), seen=seen) == []
    assert chosen("/retest", ["docs/x.md"], failed={"lint"}, seen={"lint", "unit", "docs"}) == ["lint"]
    assert chosen("/retest-required", ["src/a.go"], failed={"lint", "e2e"}, seen=seen) == ["e2e"]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("/retest", True),
        ("/retest-required", True),
        ("/ok-to-test", True),
        ("/ok-to-test cancel", True),
        ("/test all", True),
        ("/test", True),
        ("/test ?", True),
        ("/test anything", True),
        ("/retest please", True),
        ("/run custom", True),
        ("/lgtm", False),
        ("retest", False),
        ("/testing", False),
    ],
)
def test_which_comments_are_for_trigger(text: str, want: bool) -> None:
    assert comment_matches(text, JOBS) is want


@pytest.mark.parametrize(
    ("text", "selected", "want"),
    [
        ("/test ?", 0, (True, "")),
        ("/test", 0, (True, TEST_WITHOUT_TARGET_NOTE)),
        ("/retest e2e", 0, (True, RETEST_WITH_TARGET_NOTE)),
        ("/test all", 0, (True, NO_TEST_ALL_JOBS_NOTE)),
        ("/test foo", 0, (True, TARGET_NOT_FOUND_NOTE)),
        ("/test foo", 1, (False, "")),
        ("/retest", 0, (False, "")),
    ],
)
def test_when_to_answer_with_help(text: str, selected: int, want: tuple[bool, str]) -> None:
    assert help_needed(text, selected) == want


def test_help_message_in_prows_words() -> None:
    text = help_message("org0", "repo0", "main", TARGET_NOT_FOUND_NOTE, JOBS, ["src/a.go"])
    assert text == (
        "The specified target(s) for `/test` were not found.\n"
        "The following commands are available to trigger required jobs:"
        "\n```\n/run custom\n```\n```\n/test docs\n```\n```\n/test e2e\n```\n```\n/test unit\n```\n\n"
        "The following commands are available to trigger optional jobs:"
        "\n```\n/test e2e-optional\n```\n```\n/test lint\n```\n\n"
        "Use `/test all` to run the following jobs that were automatically triggered:"
        "\n```\nlint\n```\n```\nunit\n```\n\n"
    )
    assert is_help_comment(text)
    assert help_message("o", "r", "main", "", [], []) == "No presubmit jobs available for o/r@main"
    only = [Presubmit(name="unit", always_run=True)]
    assert help_message("o", "r", "main", "", only, []).endswith("Use `/test all` to run all jobs.\n")


def test_prowjobs_from_config() -> None:
    refs = Refs("org0", "repo0", "main", "b" * 40, (Pull(3, "erin", "h" * 40, "t", "feature"),))
    job = presubmit_job(JOBS[0], refs, "guid-1", now=5.0)
    assert (job.type, job.state, job.context, job.description) == (
        JobType.PRESUBMIT,
        JobState.TRIGGERED,
        "unit",
        "Job triggered.",
    )
    assert job.spec == {"command": ["make", "test"]} and job.report and job.rerun_command == "/test unit"
    assert presubmit_job(JOBS[0], refs, "guid-1").id == job.id  # a replay makes the same id
    assert presubmit_job(JOBS[0], refs, "guid-2").id != job.id
    post = postsubmit_job(Postsubmit(name="deploy", spec={"containers": []}), "org0", "repo0", "main", "c" * 40, "g")
    assert (post.type, post.refs.base_sha, post.refs.pulls) == (JobType.POSTSUBMIT, "c" * 40, ())
    assert job_spec(Postsubmit(name="x", command=("a",), args=("b",))) == {"command": ["a", "b"]}
    assert post.spec == {"pod_spec": {"containers": []}}


def test_push_changes() -> None:
    commits = [{"added": ["a"], "modified": ["b"]}, {"removed": ["c"], "modified": ["a"]}, {}]
    assert push_changes(commits) == ["a", "b", "c"]
