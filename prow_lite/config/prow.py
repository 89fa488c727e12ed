"""`Config`: config.yaml's sections and every job, as one read-only snapshot (Prow's pkg/config Config)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prow_lite.config.fields import Node
from prow_lite.config.goduration import parse_duration
from prow_lite.config.jobfile import JOB_CONFIG_KEYS
from prow_lite.config.jobs import Periodic, Postsubmit, Presubmit

# Prow's top-level keys (ProwConfig and JobConfig) that prow_lite accepts and keeps as written in `sections`.
PROW_KEPT = (
    "config_version_sha", "pipeline", "sinker", "deck", "gerrit", "horologium", "slack_reporter_configs",
    "in_repo_config", "gangway", "moonraker", "scheduler", "jenkins_operators", "push_gateway", "owners_dir_denylist",
    "pubsub_subscriptions", "pubsub_triggers", "github", "status_error_link", "default_job_timeout", "managed_webhooks",
    "prowjob_default_entries", "disabled_clusters", "prow_ignored",
)  # fmt: skip
PROW_MODELLED = (
    "prowjob_namespace", "pod_namespace", "log_level", "tide", "plank", "branch-protection", "github_reporter",
    "decorate_all_jobs",
)  # fmt: skip

_PLANK_KEYS = (
    "job_url_template", "report_template", "report_templates", "max_concurrency", "max_goroutines",
    "pod_pending_timeout", "pod_running_timeout", "pod_unscheduled_timeout", "max_revivals", "job_queue_capacities",
)  # fmt: skip
_PLANK_KEPT = (
    "default_decoration_configs", "default_decoration_config_entries", "job_url_prefix_config",
    "jobURLPrefixDisableAppendStorageProvider", "build_cluster_status_file",
)  # fmt: skip
_LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic")
_REPORTABLE = ("presubmit", "postsubmit")  # Prow reports only these to GitHub


@dataclass(frozen=True, slots=True)
class Plank:
    """plank: how jobs are run and linked (Prow's Plank; durations in seconds, Prow's defaults)."""

    job_url_template: str = ""  # a Go template in Prow; prow_lite's plank decides how to render it
    report_template: str = ""
    report_templates: Mapping[str, str] = field(default_factory=dict)
    max_concurrency: int = 0  # 0: no limit
    max_goroutines: int = 20
    pod_pending_timeout_s: float = 600.0
    pod_running_timeout_s: float = 172800.0
    pod_unscheduled_timeout_s: float = 300.0
    max_revivals: int = 3
    job_queue_capacities: Mapping[str, int] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)  # the section as written


@dataclass(frozen=True, slots=True)
class GitHubReporter:
    job_types_to_report: tuple[str, ...] = _REPORTABLE
    no_comment_repos: tuple[str, ...] = ()
    summary_comment_repos: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    """config.yaml plus the job configs. Repository keys are `org/repo`."""

    prowjob_namespace: str = "default"
    pod_namespace: str = "default"
    log_level: str = "info"
    decorate_all_jobs: bool = False
    presubmits: Mapping[str, tuple[Presubmit, ...]] = field(default_factory=dict)
    postsubmits: Mapping[str, tuple[Postsubmit, ...]] = field(default_factory=dict)
    periodics: tuple[Periodic, ...] = ()
    tide: Mapping[str, Any] = field(default_factory=dict)  # as written, until tide models it
    plank: Plank = field(default_factory=Plank)
    branch_protection: Mapping[str, Any] = field(default_factory=dict)  # `branch-protection`, as written
    github_reporter: GitHubReporter = field(default_factory=GitHubReporter)
    sections: Mapping[str, Any] = field(default_factory=dict)  # Prow's other top-level sections, as written

    def presubmits_for(self, org: str, repo: str) -> list[Presubmit]:
        return list(self.presubmits.get(f"{org}/{repo}", ()))

    def postsubmits_for(self, org: str, repo: str) -> list[Postsubmit]:
        return list(self.postsubmits.get(f"{org}/{repo}", ()))

    @property
    def repos_with_jobs(self) -> frozenset[str]:
        return frozenset(self.presubmits) | frozenset(self.postsubmits)


@dataclass(frozen=True, slots=True)
class ProwSections:
    """config.yaml's own sections, read before the jobs (which take defaults from them)."""

    prowjob_namespace: str
    pod_namespace: str
    log_level: str
    decorate_all_jobs: bool
    tide: Mapping[str, Any]
    plank: Plank
    branch_protection: Mapping[str, Any]
    github_reporter: GitHubReporter
    sections: Mapping[str, Any]


def read_prow_sections(root: Node) -> ProwSections:
    """config.yaml's own sections; unknown top-level keys are problems (the job sections are read elsewhere)."""
    root.keys(PROW_MODELLED + JOB_CONFIG_KEYS, PROW_KEPT)
    log_level = root.string("log_level", "info")
    if log_level not in _LOG_LEVELS:
        root.problem("log_level", f"{log_level!r} is not one of {', '.join(_LOG_LEVELS)}")
    return ProwSections(
        prowjob_namespace=root.string("prowjob_namespace") or "default",
        pod_namespace=root.string("pod_namespace") or "default",
        log_level=log_level,
        decorate_all_jobs=root.boolean("decorate_all_jobs"),
        tide=root.raw_mapping("tide") or {},
        plank=_plank(root.child("plank")),
        branch_protection=root.raw_mapping("branch-protection") or {},
        github_reporter=_github_reporter(root.child("github_reporter")),
        sections={key: root.raw[key] for key in PROW_KEPT if key in root.raw},
    )


def _plank(node: Node | None) -> Plank:
    if node is None:
        return Plank()
    node.keys(_PLANK_KEYS, _PLANK_KEPT)
    capacities: dict[str, int] = {}
    for name, value, path in node.entries("job_queue_capacities"):
        if isinstance(value, int) and not isinstance(value, bool) and value >= -1:
            capacities[name] = value  # Prow: -1 means no limit
        else:
            node.problems.add(node.file, path, "must be an integer, at least -1 (no limit)")
    max_goroutines = node.integer("max_goroutines", 20)
    if max_goroutines <= 0:
        node.problem("max_goroutines", "must be a positive number")
    return Plank(
        job_url_template=node.string("job_url_template"),
        report_template=node.string("report_template"),
        report_templates=node.str_map("report_templates"),
        max_concurrency=node.integer("max_concurrency", minimum=0),
        max_goroutines=max_goroutines,
        pod_pending_timeout_s=_duration(node, "pod_pending_timeout", 600.0),
        pod_running_timeout_s=_duration(node, "pod_running_timeout", 172800.0),
        pod_unscheduled_timeout_s=_duration(node, "pod_unscheduled_timeout", 300.0),
        max_revivals=node.integer("max_revivals", 3, minimum=0),
        job_queue_capacities=capacities,
        raw=node.raw,
    )


def _github_reporter(node: Node | None) -> GitHubReporter:
    if node is None:
        return GitHubReporter()
    node.keys(("job_types_to_report", "no_comment_repos", "summary_comment_repos"))
    types = node.str_list("job_types_to_report") or _REPORTABLE
    for kind in types:
        if kind not in _REPORTABLE:
            node.problem("job_types_to_report", f"{kind!r}: only presubmit and postsubmit jobs are reported to GitHub")
    return GitHubReporter(
        job_types_to_report=types,
        no_comment_repos=node.repo_list("no_comment_repos"),
        summary_comment_repos=node.repo_list("summary_comment_repos"),
    )


def _duration(node: Node, key: str, default: float) -> float:
    text = node.opt_string(key)
    if text is None:
        return default
    try:
        return parse_duration(text)
    except ValueError as err:
        node.problem(key, str(err))
        return default
