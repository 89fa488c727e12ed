"""Reading jobs out of one file's mapping: every field checked, every problem named by file and key path."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from prow_lite.config.cron import parse_cron
from prow_lite.config.fields import Node, at_index, at_key, is_org_repo, join
from prow_lite.config.goduration import parse_duration
from prow_lite.config.goregex import compile_go
from prow_lite.config.jobs import DEFAULT_CLUSTER, JOB_NAME, Periodic, Postsubmit, Presubmit
from prow_lite.config.presets import Preset, apply_presets, parse_preset

JOB_CONFIG_KEYS = ("presubmits", "postsubmits", "periodics", "presets")
JOB_CONFIG_IGNORED = ("decorate_all_jobs", "prow_ignored")  # decorate_all_jobs counts only in config.yaml, as in Prow

_BASE_KEYS = (
    "name", "labels", "annotations", "max_concurrency", "cluster", "namespace", "spec", "command", "args",
    "decorate", "decoration_config", "extra_refs", "hidden", "job_queue_name", "error_on_eviction",
)  # fmt: skip
_BASE_KEPT = (
    "agent", "pipeline_run_spec", "tekton_pipeline_run_spec", "reporter_config", "rerun_auth_config",
    "prowjob_defaults", "path_alias", "clone_uri", "skip_submodules", "clone_depth", "skip_fetch_head",
)  # fmt: skip
_PRESUBMIT_KEYS = (
    "always_run", "run_if_changed", "skip_if_only_changed", "optional", "skip_report", "run_before_merge",
    "branches", "skip_branches", "context", "trigger", "rerun_command",
)  # fmt: skip
_POSTSUBMIT_KEYS = (
    "always_run",
    "run_if_changed",
    "skip_if_only_changed",
    "skip_report",
    "branches",
    "skip_branches",
    "context",
)
_PERIODIC_KEYS = ("interval", "minimum_interval", "cron", "tags")
_PROW_JOB_KEPT = ("jenkins_spec", "retry")

_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

J = TypeVar("J", Presubmit, Postsubmit, Periodic)


@dataclass(frozen=True, slots=True)
class Sourced(Generic[J]):
    """A job and where it was written: the file and its key path there."""

    job: J
    file: str
    path: str

    @property
    def where(self) -> str:
        return f"{self.file} ({self.path})"


@dataclass(frozen=True, slots=True)
class Defaults:
    """What config.yaml contributes to every job."""

    pod_namespace: str = "default"
    decorate_all_jobs: bool = False
    job_queue_names: frozenset[str] = frozenset()
    presets: tuple[Preset, ...] = ()


@dataclass
class FileJobs:
    """The jobs and presets of one file, before defaults are applied."""

    presubmits: dict[str, list[Node]] = field(default_factory=dict)
    postsubmits: dict[str, list[Node]] = field(default_factory=dict)
    periodics: list[Node] = field(default_factory=list)
    presets: list[Preset] = field(default_factory=list)


def read_job_sections(root: Node) -> FileJobs:
    """The job sections of a config file (config.yaml or a job config file), split into one Node per job."""
    out = FileJobs()
    for section, target in (("presubmits", out.presubmits), ("postsubmits", out.postsubmits)):
        for repo, jobs, path in root.entries(section):
            if not is_org_repo(repo):
                root.problems.add(root.file, path, 'the key must be a repository, "org/repo"')
                continue
            target.setdefault(repo, []).extend(node for _, node in root.list_at(jobs, path))
    out.periodics.extend(node for _, node in root.children("periodics"))
    out.presets.extend(parse_preset(node) for _, node in root.children("presets"))
    return out


def build_presubmit(node: Node, defaults: Defaults) -> Presubmit | None:
    start = len(node.problems.items)
    node.keys(_BASE_KEYS + _PRESUBMIT_KEYS, _BASE_KEPT + _PROW_JOB_KEPT)
    base = _base_fields(node, defaults)
    trigger, rerun = node.string("trigger"), node.string("rerun_command")
    fields: dict[str, Any] = dict(
        always_run=node.boolean("always_run"),
        optional=node.boolean("optional"),
        skip_report=node.boolean("skip_report"),
        run_before_merge=node.boolean("run_before_merge"),
        context=node.string("context"),
        trigger=trigger,
        rerun_command=rerun,
        **_change_and_branch_fields(node),
    )
    if bool(trigger) != bool(rerun):
        node.problem("trigger" if rerun else "rerun_command", "trigger and rerun_command must be set together")
    elif trigger and _regex(node, "trigger") is not None and compile_go(trigger).search(rerun) is None:
        node.problem("rerun_command", f"{rerun!r} does not match the trigger {trigger!r}")
    _exclusive_conditions(node, fields, explicit_always_run=fields["always_run"])
    return _construct(node, start, Presubmit, base, fields)


def build_postsubmit(node: Node, defaults: Defaults) -> Postsubmit | None:
    start = len(node.problems.items)
    node.keys(_BASE_KEYS + _POSTSUBMIT_KEYS, _BASE_KEPT + _PROW_JOB_KEPT)
    base = _base_fields(node, defaults)
    always_run = node.opt_boolean("always_run")
    fields: dict[str, Any] = dict(
        always_run=always_run,
        skip_report=node.boolean("skip_report"),
        context=node.string("context"),
        **_change_and_branch_fields(node),
    )
    _exclusive_conditions(node, fields, explicit_always_run=always_run is True)
    return _construct(node, start, Postsubmit, base, fields)


def build_periodic(node: Node, defaults: Defaults) -> Periodic | None:
    start = len(node.problems.items)
    node.keys(_BASE_KEYS + _PERIODIC_KEYS, _BASE_KEPT + _PROW_JOB_KEPT)
    base = _base_fields(node, defaults)
    timing = {key: node.string(key) for key in ("interval", "minimum_interval", "cron")}
    given = [key for key, value in timing.items() if value]
    if len(given) > 1:
        node.problem(given[1], f"{' and '.join(given)} are mutually exclusive")
    elif not given:
        node.problem(None, "needs one of cron, interval or minimum_interval")
    for key in ("interval", "minimum_interval"):
        if timing[key]:
            _check(node, key, parse_duration, timing[key])
    if timing["cron"]:
        _check(node, "cron", parse_cron, timing["cron"])
    return _construct(node, start, Periodic, base, dict(tags=node.str_list("tags"), **timing))


def _base_fields(node: Node, defaults: Defaults) -> dict[str, Any]:
    name = node.string("name")
    if not name:
        node.problem("name", "is required")
    elif not JOB_NAME.match(name):
        node.problem("name", f"{name!r} must match {JOB_NAME.pattern}")
    labels = node.str_map("labels")
    for key, value in labels.items():
        _check_label(node, key, value)
    spec = node.raw_mapping("spec")
    if spec is not None:
        containers = spec.get("containers")
        if not isinstance(containers, list) or not containers or not all(isinstance(c, dict) for c in containers):
            node.problem("spec", "a pod spec needs containers: a list of at least one container")
        else:
            try:
                spec = apply_presets(spec, labels, list(defaults.presets))
            except ValueError as err:
                node.problem("spec", str(err))
    command, args = node.str_list("command"), node.str_list("args")
    if node.has("command") and not command:
        node.problem("command", "must not be empty")
    if args and not command:
        node.problem("args", "needs command (args are appended to it)")
    if spec is None and not command:
        node.problem(None, "needs spec (a pod spec) or command (argv for the local executor)")
    queue = node.string("job_queue_name")
    if queue and queue not in defaults.job_queue_names:
        node.problem("job_queue_name", f"{queue!r} is not in plank.job_queue_capacities")
    decorate = node.opt_boolean("decorate")
    extra_refs = []
    for _, ref in node.children("extra_refs"):
        if not ref.string("org") or not ref.string("repo"):
            ref.problem(None, "an extra ref needs org and repo")
        extra_refs.append(ref.raw)
    return dict(
        name=name,
        cluster=node.string("cluster", DEFAULT_CLUSTER) or DEFAULT_CLUSTER,
        namespace=node.string("namespace") or defaults.pod_namespace,
        max_concurrency=node.integer("max_concurrency", minimum=0),
        labels=labels,
        annotations=node.str_map("annotations"),
        spec=spec,
        command=command,
        args=args,
        decorate=defaults.decorate_all_jobs if decorate is None else decorate,
        decoration_config=node.raw_mapping("decoration_config"),
        extra_refs=tuple(extra_refs),
        hidden=node.boolean("hidden"),
        job_queue_name=queue,
        error_on_eviction=node.boolean("error_on_eviction"),
        source_path=node.file,
        extra={key: node.raw[key] for key in _BASE_KEPT + _PROW_JOB_KEPT if key in node.raw},
    )


def _change_and_branch_fields(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("run_if_changed", "skip_if_only_changed"):
        out[key] = node.string(key)
        if out[key]:
            _regex(node, key)
    for key in ("branches", "skip_branches"):
        out[key] = node.str_list(key)
        for i, pattern in enumerate(out[key]):
            try:
                compile_go(pattern)
            except ValueError as err:
                node.problems.add(node.file, at_index(join(node.path, key), i), f"not a valid regex: {err}")
    return out


def _exclusive_conditions(node: Node, fields: dict[str, Any], *, explicit_always_run: bool) -> None:
    """Prow's validateTriggering / validateAlwaysRun."""
    if explicit_always_run:
        for key in ("run_if_changed", "skip_if_only_changed"):
            if fields[key]:
                node.problem(key, f"always_run: true and {key} are mutually exclusive")
    if fields["run_if_changed"] and fields["skip_if_only_changed"]:
        node.problem("skip_if_only_changed", "run_if_changed and skip_if_only_changed are mutually exclusive")


def _regex(node: Node, key: str) -> re.Pattern[str] | None:
    try:
        return compile_go(node.raw[key])
    except ValueError as err:
        node.problem(key, f"not a valid regex: {err}")
        return None


def _check(node: Node, key: str, parse: Callable[[str], object], value: str) -> None:
    try:
        parse(value)
    except ValueError as err:
        node.problem(key, f"{value!r} is not valid: {err}")


def _check_label(node: Node, key: str, value: str) -> None:
    path = at_key(join(node.path, "labels"), key)
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        node.problems.add(node.file, path, "the key's prefix must be a DNS subdomain")
    if len(name) > 63 or not _LABEL_NAME.match(name):
        node.problems.add(
            node.file, path, "a label name is at most 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends"
        )
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        node.problems.add(
            node.file, path, f"{value!r} is not a valid label value (at most 63 alphanumerics, '-', '_' or '.')"
        )


def _construct(node: Node, start: int, kind: type[J], base: dict[str, Any], fields: dict[str, Any]) -> J | None:
    """The job, unless a problem was recorded for it since `start` (the loader raises them all together)."""
    if len(node.problems.items) > start:
        return None
    try:
        return kind(**base, **fields)
    except ValueError as err:  # every cause is checked above; this guards against a gap between the two
        node.problem(None, str(err))
        return None
