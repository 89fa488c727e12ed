"""The job model: presubmits, postsubmits and periodics with Prow's triggering rules (pkg/config/jobs.go).

Regexes are Go's, matched unanchored as Go's `MatchString` does (Prow joins `branches` with `|` and does not
anchor them: write `^main$` to mean exactly `main`). Jobs are built by `prow_lite.config.load`, which reports
bad values with their file and key; constructing one directly compiles its regexes and raises ValueError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from prow_lite.config.cron import CronSchedule, parse_cron
from prow_lite.config.goduration import parse_duration
from prow_lite.config.goregex import compile_go

DEFAULT_CLUSTER = "default"
JOB_NAME = re.compile(r"^[A-Za-z0-9-._]+$")  # Prow's jobNameRegex


def default_trigger(name: str) -> str:
    """Prow's DefaultTriggerFor: `/test <name>`, also among other words (`/test a <name>`)."""
    return rf"(?m)^/test( | .* ){name},?($|\s.*)"


def default_rerun_command(name: str) -> str:
    return f"/test {name}"


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return compile_go(pattern)


def _either(patterns: Sequence[str]) -> re.Pattern[str] | None:
    return _compiled("|".join(patterns)) if patterns else None


def _branch_ok(branch: str, only: re.Pattern[str] | None, skip: re.Pattern[str] | None) -> bool:
    """Prow's Brancher.ShouldRun: skip_branches wins over branches; neither set means every branch."""
    if skip is not None and skip.search(branch):
        return False
    return only is None or only.search(branch) is not None


def _changes_run(
    changed: Sequence[str], run_if: re.Pattern[str] | None, skip_if_only: re.Pattern[str] | None
) -> bool | None:
    """Prow's RunsAgainstChanges: any file matches run_if_changed, or any file falls outside skip_if_only_changed."""
    if run_if is not None:
        return any(run_if.search(path) for path in changed)
    if skip_if_only is not None:
        return any(not skip_if_only.search(path) for path in changed)
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobBase:
    """What every job has: where and how it runs."""

    name: str
    cluster: str = DEFAULT_CLUSTER  # the build cluster alias; the local executor is "default"
    namespace: str = ""  # resolved at load: the job's, else pod_namespace
    max_concurrency: int = 0  # 0: no limit
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec: Mapping[str, Any] | None = None  # a Kubernetes PodSpec, as written
    command: tuple[str, ...] = ()  # for the local executor: argv
    args: tuple[str, ...] = ()  # appended to command
    decorate: bool = False  # resolved at load: the job's, else decorate_all_jobs
    decoration_config: Mapping[str, Any] | None = None
    extra_refs: tuple[Mapping[str, Any], ...] = ()
    hidden: bool = False
    job_queue_name: str = ""
    error_on_eviction: bool = False
    source_path: str = ""  # the file that defines the job, as the loader was given it
    extra: Mapping[str, Any] = field(default_factory=dict)  # Prow's other job fields, kept as written


@dataclass(frozen=True, slots=True, kw_only=True)
class Presubmit(JobBase):
    """A job for pull requests, run automatically or by a `/test` comment."""

    always_run: bool = False
    run_if_changed: str = ""
    skip_if_only_changed: str = ""
    optional: bool = False  # the context is not required for merge
    skip_report: bool = False
    run_before_merge: bool = False
    branches: tuple[str, ...] = ()
    skip_branches: tuple[str, ...] = ()
    context: str = ""  # default: the name
    trigger: str = ""  # default: default_trigger(name)
    rerun_command: str = ""  # default: default_rerun_command(name)
    _trigger_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _branches_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _skip_branches_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _run_if_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _skip_if_only_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.trigger and not self.rerun_command:
            object.__setattr__(self, "trigger", default_trigger(self.name))
            object.__setattr__(self, "rerun_command", default_rerun_command(self.name))
        if not self.context:
            object.__setattr__(self, "context", self.name)
        object.__setattr__(self, "_trigger_re", _compiled(self.trigger))
        object.__setattr__(self, "_branches_re", _either(self.branches))
        object.__setattr__(self, "_skip_branches_re", _either(self.skip_branches))
        object.__setattr__(self, "_run_if_re", _compiled(self.run_if_changed) if self.run_if_changed else None)
        skip_if_only = _compiled(self.skip_if_only_changed) if self.skip_if_only_changed else None
        object.__setattr__(self, "_skip_if_only_re", skip_if_only)

    @property
    def report(self) -> bool:
        return not self.skip_report

    @property
    def context_required(self) -> bool:
        """Whether merging needs this job's status (Prow's ContextRequired)."""
        return not self.optional and not self.skip_report

    @property
    def has_change_condition(self) -> bool:
        return bool(self.run_if_changed or self.skip_if_only_changed)

    @property
    def needs_explicit_trigger(self) -> bool:
        """Only a comment runs it: neither always_run nor a change condition."""
        return not self.always_run and not self.has_change_condition

    def can_run_on_branch(self, branch: str) -> bool:
        return _branch_ok(branch, self._branches_re, self._skip_branches_re)

    def triggered_by(self, comment_body: str) -> bool:
        """Whether the comment matches this job's trigger (`/test all` and `/retest` are the trigger plugin's)."""
        return self._trigger_re.search(comment_body) is not None

    def should_run_for_changes(self, changed: Sequence[str]) -> bool | None:
        """The change condition's verdict on these files; None when the job has no change condition."""
        return _changes_run(changed, self._run_if_re, self._skip_if_only_re)

    def runs_automatically(self, branch: str, changed: Sequence[str]) -> bool:
        """Whether a new or updated PR against `branch` changing `changed` runs this job without a comment."""
        if not self.can_run_on_branch(branch):
            return False
        return self.always_run or self.should_run_for_changes(changed) is True


@dataclass(frozen=True, slots=True, kw_only=True)
class Postsubmit(JobBase):
    """A job for pushes to a branch."""

    always_run: bool | None = None  # unset: runs unless a change condition says otherwise
    run_if_changed: str = ""
    skip_if_only_changed: str = ""
    skip_report: bool = False
    branches: tuple[str, ...] = ()
    skip_branches: tuple[str, ...] = ()
    context: str = ""  # default: the name
    _branches_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _skip_branches_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _run_if_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _skip_if_only_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.context:
            object.__setattr__(self, "context", self.name)
        object.__setattr__(self, "_branches_re", _either(self.branches))
        object.__setattr__(self, "_skip_branches_re", _either(self.skip_branches))
        object.__setattr__(self, "_run_if_re", _compiled(self.run_if_changed) if self.run_if_changed else None)
        skip_if_only = _compiled(self.skip_if_only_changed) if self.skip_if_only_changed else None
        object.__setattr__(self, "_skip_if_only_re", skip_if_only)

    @property
    def report(self) -> bool:
        return not self.skip_report

    def can_run_on_branch(self, branch: str) -> bool:
        return _branch_ok(branch, self._branches_re, self._skip_branches_re)

    def should_run_for_changes(self, changed: Sequence[str]) -> bool | None:
        return _changes_run(changed, self._run_if_re, self._skip_if_only_re)

    def should_run(self, branch: str, changed: Sequence[str]) -> bool:
        """Prow's Postsubmit.ShouldRun: branch filter, then the change condition, then always_run (default true)."""
        if not self.can_run_on_branch(branch):
            return False
        verdict = self.should_run_for_changes(changed)
        if verdict is not None:
            return verdict
        return True if self.always_run is None else self.always_run


@dataclass(frozen=True, slots=True, kw_only=True)
class Periodic(JobBase):
    """A job on a timer: exactly one of interval, minimum_interval and cron."""

    interval: str = ""  # Go duration between starts
    minimum_interval: str = ""  # Go duration between the end of one run and the next start
    cron: str = ""
    tags: tuple[str, ...] = ()
    interval_s: float | None = field(init=False, compare=False)
    minimum_interval_s: float | None = field(init=False, compare=False)
    cron_schedule: CronSchedule | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "interval_s", parse_duration(self.interval) if self.interval else None)
        minimum = parse_duration(self.minimum_interval) if self.minimum_interval else None
        object.__setattr__(self, "minimum_interval_s", minimum)
        object.__setattr__(self, "cron_schedule", parse_cron(self.cron) if self.cron else None)


def branches_intersect(a: Presubmit | Postsubmit, b: Presubmit | Postsubmit) -> bool:
    """Prow's Brancher.Intersects: could both jobs run for one branch? (Two jobs of one name must not.)"""
    if not (a.branches or a.skip_branches) or not (b.branches or b.skip_branches):
        return True
    if a.branches:
        if b.branches:
            return bool(set(a.branches) & set(b.branches))
        return any(b.can_run_on_branch(branch) for branch in a.branches)
    if not b.branches:
        return True  # both only skip some branches
    return branches_intersect(b, a)
