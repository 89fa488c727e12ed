"""The job model's triggering rules (Prow's pkg/config/jobs.go), table-tested on jobs built directly."""

from __future__ import annotations

import pytest

from prow_lite.config import Periodic, Postsubmit, Presubmit, default_rerun_command, default_trigger
from prow_lite.config.jobs import branches_intersect


def presubmit(**fields: object) -> Presubmit:
    return Presubmit(name=str(fields.pop("name", "unit")), command=("true",), **fields)  # type: ignore[arg-type]


def postsubmit(**fields: object) -> Postsubmit:
    return Postsubmit(name=str(fields.pop("name", "deploy")), command=("true",), **fields)  # type: ignore[arg-type]


class TestDefaults:
    def test_trigger_rerun_and_context_default_from_the_name(self) -> None:
        job = presubmit(name="pull-unit")
        assert job.trigger == r"(?m)^/test( | .* )pull-unit,?($|\s.*)" == default_trigger("pull-unit")
        assert job.rerun_command == "/test pull-unit" == default_rerun_command("pull-unit")
        assert job.context == "pull-unit"
        assert job.triggered_by(job.rerun_command)

    def test_given_values_are_kept(self) -> None:
        job = presubmit(trigger=r"(?m)^/qux( please)?$", rerun_command="/qux please", context="ci/qux")
        assert (job.trigger, job.rerun_command, job.context) == (r"(?m)^/qux( please)?$", "/qux please", "ci/qux")
        assert job.triggered_by("/qux") and not job.triggered_by("/test unit")

    def test_report_and_required(self) -> None:
        assert presubmit().context_required and presubmit().report
        assert not presubmit(optional=True).context_required
        assert not presubmit(skip_report=True).context_required and not presubmit(skip_report=True).report

    def test_needs_explicit_trigger(self) -> None:
        assert presubmit().needs_explicit_trigger
        assert not presubmit(always_run=True).needs_explicit_trigger
        assert not presubmit(run_if_changed="x").needs_explicit_trigger
        assert not presubmit(skip_if_only_changed="x").needs_explicit_trigger


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/test unit", True),
        ("/test a unit", True),
        ("/test unit b", True),
        ("/test unit, lint", True),
        ("/test lint unit", True),
        ("lgtm\n/test unit\nthanks", True),
        ("/test unit-other", False),
        ("/test other-unit", False),
        ("/test units", False),
        ("/testunit", False),
        (" /test unit", False),
        ("please /test unit", False),
        ("/test all", False),  # the trigger plugin's own regex, not the job's
        ("/retest", False),
    ],
)
def test_triggered_by_the_default_trigger(body: str, expected: bool) -> None:
    assert presubmit(name="unit").triggered_by(body) is expected


@pytest.mark.parametrize(
    ("fields", "changed", "expected"),
    [
        ({}, ["a.go"], None),
        ({"always_run": True}, ["a.go"], None),
        ({"run_if_changed": r"\.go$"}, ["docs/x.md", "a.go"], True),
        ({"run_if_changed": r"\.go$"}, ["docs/x.md"], False),
        ({"run_if_changed": r"^pkg/"}, ["src/pkg/a"], False),
        ({"run_if_changed": "pkg/"}, ["src/pkg/a"], True),  # unanchored, as Go's MatchString
        ({"run_if_changed": r"\.go$"}, [], False),
        ({"skip_if_only_changed": r"^docs/|\.md$"}, ["docs/a.txt", "README.md"], False),
        ({"skip_if_only_changed": r"^docs/|\.md$"}, ["docs/a.txt", "main.go"], True),
        ({"skip_if_only_changed": r"^docs/"}, [], False),
    ],
)
def test_should_run_for_changes(fields: dict[str, object], changed: list[str], expected: bool | None) -> None:
    assert presubmit(**fields).should_run_for_changes(changed) is expected


@pytest.mark.parametrize(
    ("branches", "skip_branches", "branch", "expected"),
    [
        ((), (), "anything", True),
        (("main",), (), "main", True),
        (("main",), (), "release-1.0", False),
        (("main",), (), "main-old", True),  # Prow does not anchor: write ^main$
        (("^main$",), (), "main-old", False),
        (("^main$", "^release-.*$"), (), "release-1.0", True),
        ((), ("^release-",), "release-1.0", False),
        ((), ("^release-",), "main", True),
        (("^release-",), ("^release-0\\.",), "release-0.9", False),  # skip_branches wins
        (("^release-",), ("^release-0\\.",), "release-1.0", True),
    ],
)
def test_can_run_on_branch(
    branches: tuple[str, ...], skip_branches: tuple[str, ...], branch: str, expected: bool
) -> None:
    assert presubmit(branches=branches, skip_branches=skip_branches).can_run_on_branch(branch) is expected
    assert postsubmit(branches=branches, skip_branches=skip_branches).can_run_on_branch(branch) is expected


@pytest.mark.parametrize(
    ("fields", "branch", "changed", "expected"),
    [
        ({}, "main", ["a.go"], False),
        ({"always_run": True}, "main", [], True),
        ({"always_run": True, "branches": ("^main$",)}, "dev", ["a.go"], False),
        ({"run_if_changed": r"\.go$"}, "main", ["a.go"], True),
        ({"run_if_changed": r"\.go$"}, "main", ["a.md"], False),
        ({"run_if_changed": r"\.go$", "skip_branches": ("^main$",)}, "main", ["a.go"], False),
        ({"skip_if_only_changed": r"\.md$"}, "main", ["a.md"], False),
        ({"skip_if_only_changed": r"\.md$"}, "main", ["a.md", "b.go"], True),
    ],
)
def test_runs_automatically(fields: dict[str, object], branch: str, changed: list[str], expected: bool) -> None:
    assert presubmit(**fields).runs_automatically(branch, changed) is expected


@pytest.mark.parametrize(
    ("fields", "branch", "changed", "expected"),
    [
        ({}, "main", ["a.go"], True),  # postsubmits run by default
        ({}, "main", [], True),
        ({"always_run": False}, "main", ["a.go"], False),
        ({"always_run": True}, "main", [], True),
        ({"run_if_changed": r"\.go$"}, "main", ["a.md"], False),
        ({"run_if_changed": r"\.go$", "always_run": False}, "main", ["a.go"], True),
        ({"skip_if_only_changed": r"\.md$"}, "main", ["a.md"], False),
        ({"branches": ("^release-",)}, "main", ["a.go"], False),
    ],
)
def test_postsubmit_should_run(fields: dict[str, object], branch: str, changed: list[str], expected: bool) -> None:
    assert postsubmit(**fields).should_run(branch, changed) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({}, {"branches": ("main",)}, True),
        ({"branches": ("main",)}, {"branches": ("main", "dev")}, True),
        ({"branches": ("main",)}, {"branches": ("dev",)}, False),
        ({"branches": ("main",)}, {"skip_branches": ("main",)}, False),
        ({"branches": ("main",)}, {"skip_branches": ("dev",)}, True),
        ({"skip_branches": ("dev",)}, {"branches": ("dev",)}, False),
        ({"skip_branches": ("a",)}, {"skip_branches": ("b",)}, True),
    ],
)
def test_branches_intersect(a: dict[str, object], b: dict[str, object], expected: bool) -> None:
    assert branches_intersect(presubmit(**a), presubmit(**b)) is expected
    assert branches_intersect(presubmit(**b), presubmit(**a)) is expected


def test_periodic_timing_is_parsed() -> None:
    every = Periodic(name="p", command=("x",), interval="1h30m")
    assert every.interval_s == 5400.0 and every.cron_schedule is None
    nightly = Periodic(name="p", command=("x",), cron="5 3 * * 1-5")
    assert nightly.interval_s is None and nightly.cron_schedule is not None
    assert nightly.cron_schedule.hours == frozenset({3}) and nightly.cron_schedule.days_of_week == frozenset(
        range(1, 6)
    )


def test_a_bad_regex_cannot_be_constructed() -> None:
    with pytest.raises(ValueError, match="unterminated"):
        presubmit(run_if_changed="([")
