"""`load_config`: config.yaml plus `--job-config-path` (a file, or a tree of them) into one validated `Config`.

As Prow's ReadJobConfig: a directory is walked recursively for `.yaml`/`.yml` files (Kubernetes' `..` entries
skipped), basenames must be unique across the tree, and the jobs of one repository are merged across files.
Every problem found is reported at once, each naming its file and key path.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from prow_lite.config.errors import ConfigError
from prow_lite.config.fields import Node, Problems, join
from prow_lite.config.jobfile import (
    JOB_CONFIG_IGNORED,
    JOB_CONFIG_KEYS,
    Defaults,
    FileJobs,
    Sourced,
    build_periodic,
    build_postsubmit,
    build_presubmit,
    read_job_sections,
)
from prow_lite.config.jobs import Periodic, Postsubmit, Presubmit, branches_intersect
from prow_lite.config.prow import Config, read_prow_sections
from prow_lite.config.yamlfile import read_yaml

J = TypeVar("J", Presubmit, Postsubmit, Periodic)


def load_config(config_path: str | Path, job_config_path: str | Path | None = None) -> Config:
    """Read and validate everything; raises ConfigError listing every problem."""
    problems = Problems([])
    config_file, config_shown = Path(config_path), str(config_path)
    if config_file.is_dir():
        raise ConfigError([f"{config_shown}: is a directory; give the config file (jobs go in --job-config-path)"])
    root = Node.root(read_yaml(config_file, config_shown), config_shown, problems)
    if root is None:
        raise ConfigError(problems.items)
    prow = read_prow_sections(root)
    files = [read_job_sections(root)]
    if job_config_path is not None:
        for path, shown in _job_files(Path(job_config_path), str(job_config_path), config_file, problems):
            node = _read(path, shown, problems)
            if node is not None:
                node.keys(JOB_CONFIG_KEYS, JOB_CONFIG_IGNORED)
                files.append(read_job_sections(node))

    presets = [preset for file in files for preset in file.presets]
    seen_pairs: dict[str, str] = {}
    for preset in presets:
        for pair in (f"{k}:{v}" for k, v in preset.labels.items()):
            if pair in seen_pairs:
                problems.items.append(f"{preset.source}: the label pair {pair!r} is also used by {seen_pairs[pair]}")
            seen_pairs.setdefault(pair, preset.source)
    defaults = Defaults(
        pod_namespace=prow.pod_namespace,
        decorate_all_jobs=prow.decorate_all_jobs,
        job_queue_names=frozenset(prow.plank.job_queue_capacities),
        presets=tuple(presets),
    )
    presubmits = _build_per_repo(files, lambda f: f.presubmits, build_presubmit, defaults)
    postsubmits = _build_per_repo(files, lambda f: f.postsubmits, build_postsubmit, defaults)
    periodics = [
        Sourced(job, node.file, node.path)
        for file in files
        for node in file.periodics
        if (job := build_periodic(node, defaults)) is not None
    ]
    for repo, presubmit_jobs in presubmits.items():
        _check_clashes("presubmit", repo, presubmit_jobs, problems)
    for repo, postsubmit_jobs in postsubmits.items():
        _check_clashes("postsubmit", repo, postsubmit_jobs, problems)
    _check_periodic_names(periodics, problems)
    if problems.items:
        raise ConfigError(problems.items)
    return Config(
        prowjob_namespace=prow.prowjob_namespace,
        pod_namespace=prow.pod_namespace,
        log_level=prow.log_level,
        decorate_all_jobs=prow.decorate_all_jobs,
        presubmits={repo: tuple(s.job for s in jobs) for repo, jobs in presubmits.items()},
        postsubmits={repo: tuple(s.job for s in jobs) for repo, jobs in postsubmits.items()},
        periodics=tuple(s.job for s in periodics),
        tide=prow.tide,
        plank=prow.plank,
        branch_protection=prow.branch_protection,
        github_reporter=prow.github_reporter,
        sections=prow.sections,
    )


def job_config_files(job_config_path: str | Path) -> list[Path]:
    """The files `load_config` reads from `--job-config-path` (for watching them)."""
    return [path for path, _ in _job_files(Path(job_config_path), str(job_config_path), None, Problems([]))]


def _read(path: Path, shown: str, problems: Problems) -> Node | None:
    try:
        document = read_yaml(path, shown)
    except ConfigError as err:
        problems.items.extend(err.problems)
        return None
    return Node.root(document, shown, problems)


def _job_files(root: Path, shown: str, config_file: Path | None, problems: Problems) -> list[tuple[Path, str]]:
    if root.is_file():
        return [(root, shown)]
    if not root.is_dir():
        problems.add(shown, "", "the job config path does not exist")
        return []
    found: list[tuple[Path, str]] = []
    first_of: dict[str, str] = {}
    for path in _walk(root, problems):
        if config_file is not None and _same_file(path, config_file):
            continue  # config.yaml kept beside the jobs is read once, as the config
        path_shown = os.path.join(shown, os.path.relpath(path, root))
        if path.name in first_of:
            problems.add(
                path_shown,
                "",
                f"duplicate basename {path.name!r}: {first_of[path.name]} has it too; "
                "file names must be unique across the job config tree",
            )
            continue
        first_of[path.name] = path_shown
        found.append((path, path_shown))
    return found


def _walk(directory: Path, problems: Problems) -> list[Path]:
    """The .yaml/.yml files under `directory` in Go's filepath.Walk order (lexical, depth first), skipping `..*`."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as err:
        problems.add(str(directory), "", f"cannot read: {err.strerror}")
        return []
    out: list[Path] = []
    for entry in entries:
        if entry.name.startswith(".."):
            continue  # Kubernetes' atomic ConfigMap mounts: ..data and ..<timestamp> hold copies
        if entry.is_dir(follow_symlinks=False):  # as Go's Walk: symlinked directories are not entered
            out.extend(_walk(Path(entry.path), problems))
        elif entry.name.endswith((".yaml", ".yml")) and entry.is_file():
            out.append(Path(entry.path))
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _build_per_repo(
    files: list[FileJobs],
    section: Callable[[FileJobs], dict[str, list[Node]]],
    build: Callable[[Node, Defaults], J | None],
    defaults: Defaults,
) -> dict[str, list[Sourced[J]]]:
    out: dict[str, list[Sourced[J]]] = {}
    for file in files:
        for repo, nodes in section(file).items():
            jobs = out.setdefault(repo, [])
            jobs.extend(
                Sourced(job, node.file, node.path) for node in nodes if (job := build(node, defaults)) is not None
            )
    return out


def _check_clashes(
    kind: str, repo: str, jobs: list[Sourced[Presubmit]] | list[Sourced[Postsubmit]], problems: Problems
) -> None:
    """Prow: one name per repository and branch; two jobs on one branch must not share a status context."""
    by_name: dict[str, list[Sourced[Presubmit] | Sourced[Postsubmit]]] = defaultdict(list)
    by_context: dict[str, list[Sourced[Presubmit] | Sourced[Postsubmit]]] = defaultdict(list)
    for this in jobs:
        for other in by_name[this.job.name]:
            if branches_intersect(other.job, this.job):
                problems.add(
                    this.file,
                    join(this.path, "name"),
                    f"duplicate {kind} {this.job.name!r} for {repo}: also defined in {other.where}",
                )
                break
        for other in by_context[this.job.context]:
            if other.job.name != this.job.name and branches_intersect(other.job, this.job):
                problems.add(
                    this.file,
                    join(this.path, "context"),
                    f"{kind} {this.job.name!r} reports to the GitHub context {this.job.context!r}, "
                    f"as {other.job.name!r} does ({other.where})",
                )
                break
        by_name[this.job.name].append(this)
        by_context[this.job.context].append(this)


def _check_periodic_names(periodics: list[Sourced[Periodic]], problems: Problems) -> None:
    first: dict[str, Sourced[Periodic]] = {}
    for this in periodics:
        other = first.setdefault(this.job.name, this)
        if other is not this:
            problems.add(
                this.file,
                join(this.path, "name"),
                f"duplicate periodic {this.job.name!r}: also defined in {other.where}",
            )
