"""load_config on real files: layouts, merging, defaults, and errors that name the file and the key path."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from prow_lite.config import ConfigError, load_config


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def problems(config: Path, jobs: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config, jobs)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return list(caught.value.problems)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write(tmp_path, "config.yaml", "prowjob_namespace: default\n")


def test_near_empty_config(config: Path) -> None:
    loaded = load_config(config)
    assert loaded.prowjob_namespace == "default" and loaded.pod_namespace == "default"
    assert loaded.presubmits_for("org", "repo") == [] and loaded.postsubmits_for("org", "repo") == []
    assert loaded.periodics == ()
    assert loaded.plank.max_goroutines == 20 and loaded.plank.pod_pending_timeout_s == 600.0
    assert loaded.github_reporter.job_types_to_report == ("presubmit", "postsubmit")


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "config.yaml", "")).prowjob_namespace == "default"


def test_a_directory_split_merges_presubmits_per_repo(tmp_path: Path, config: Path) -> None:
    write(
        tmp_path,
        "jobs/org/repo/unit.yaml",
        """
        presubmits:
          org/repo:
          - name: unit
            always_run: true
            command: [make, test]
        postsubmits:
          org/repo:
          - name: deploy
            command: [make, deploy]
        """,
    )
    write(
        tmp_path,
        "jobs/org/repo/deep/e2e.yml",
        """
        presubmits:
          org/repo:
          - name: e2e
            spec: {containers: [{image: "golang:1.22", command: [make, e2e]}]}
          org/other:
          - name: unit
            command: [make]
        periodics:
        - name: nightly
          cron: "0 3 * * *"
          command: [make, nightly]
        """,
    )
    write(tmp_path, "jobs/README.md", "not yaml: [")  # only .yaml/.yml files are read
    write(tmp_path, "jobs/..2024_01_01/stale.yaml", "presubmits: {org/repo: [{name: stale, command: [x]}]}")
    loaded = load_config(config, tmp_path / "jobs")
    assert [job.name for job in loaded.presubmits_for("org", "repo")] == ["e2e", "unit"]
    assert [job.name for job in loaded.presubmits_for("org", "other")] == ["unit"]
    assert [job.name for job in loaded.postsubmits_for("org", "repo")] == ["deploy"]
    assert [job.name for job in loaded.periodics] == ["nightly"]
    e2e, unit = loaded.presubmits_for("org", "repo")
    assert e2e.source_path == os.path.join(str(tmp_path / "jobs"), "org/repo/deep/e2e.yml")
    assert unit.command == ("make", "test") and unit.spec is None
    assert e2e.spec == {"containers": [{"image": "golang:1.22", "command": ["make", "e2e"]}]}


def test_a_single_job_file_and_jobs_inline_in_config(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "config.yaml",
        """
        prowjob_namespace: prow
        pod_namespace: test-pods
        decorate_all_jobs: true
        presubmits:
          org/repo:
          - name: inline
            command: [x]
            decorate: false
        """,
    )
    jobs = write(tmp_path, "jobs.yaml", "presubmits: {org/repo: [{name: fromfile, command: [y], namespace: special}]}")
    inline, fromfile = load_config(config, jobs).presubmits_for("org", "repo")
    assert (inline.name, inline.namespace, inline.decorate, inline.source_path) == (
        "inline",
        "test-pods",
        False,
        str(config),
    )
    assert (fromfile.name, fromfile.namespace, fromfile.decorate, fromfile.cluster) == (
        "fromfile",
        "special",
        True,
        "default",
    )


def test_duplicate_basenames_name_both_files(tmp_path: Path, config: Path) -> None:
    write(tmp_path, "jobs/a/x.yaml", "presubmits: {org/a: [{name: one, command: [x]}]}")
    write(tmp_path, "jobs/b/x.yaml", "presubmits: {org/b: [{name: two, command: [x]}]}")
    jobs = str(tmp_path / "jobs")
    assert problems(config, tmp_path / "jobs") == [
        f"{jobs}/b/x.yaml: duplicate basename 'x.yaml': {jobs}/a/x.yaml has it too; "
        "file names must be unique across the job config tree"
    ]


def test_duplicate_job_names_for_one_repo_name_both_files(tmp_path: Path, config: Path) -> None:
    write(tmp_path, "jobs/a.yaml", "presubmits: {org/repo: [{name: unit, command: [x]}]}")
    write(tmp_path, "jobs/b.yaml", "presubmits: {org/repo: [{name: lint, command: [x]}, {name: unit, command: [y]}]}")
    jobs = str(tmp_path / "jobs")
    assert problems(config, tmp_path / "jobs") == [
        f"{jobs}/b.yaml: presubmits[\"org/repo\"][1].name: duplicate presubmit 'unit' for org/repo: "
        f'also defined in {jobs}/a.yaml (presubmits["org/repo"][0])'
    ]


def test_same_name_on_disjoint_branches_is_allowed_as_in_prow(tmp_path: Path, config: Path) -> None:
    write(
        tmp_path,
        "jobs/a.yaml",
        """
        presubmits:
          org/repo:
          - {name: unit, command: [x], branches: ["^main$"]}
          - {name: unit, command: [y], branches: ["^release-1$"]}
        postsubmits:
          org/repo:
          - {name: deploy, command: [x]}
          - {name: deploy, command: [y], branches: [main]}
        """,
    )
    assert problems(config, tmp_path / "jobs") == [
        f"{tmp_path}/jobs/a.yaml: postsubmits[\"org/repo\"][1].name: duplicate postsubmit 'deploy' for org/repo: "
        f'also defined in {tmp_path}/jobs/a.yaml (postsubmits["org/repo"][0])'
    ]


def test_one_name_per_repo_not_per_config(tmp_path: Path, config: Path) -> None:
    write(
        tmp_path,
        "jobs/a.yaml",
        "presubmits: {org/a: [{name: unit, command: [x]}], org/b: [{name: unit, command: [x]}]}",
    )
    assert len(load_config(config, tmp_path / "jobs").presubmits) == 2


def test_duplicate_periodics_and_shared_contexts(tmp_path: Path, config: Path) -> None:
    write(tmp_path, "jobs/a.yaml", "periodics: [{name: p, interval: 1h, command: [x]}]")
    write(
        tmp_path,
        "jobs/b.yaml",
        """
        periodics: [{name: p, interval: 2h, command: [x]}]
        presubmits:
          org/repo:
          - {name: one, command: [x], context: ci}
          - {name: two, command: [x], context: ci}
        """,
    )
    jobs = str(tmp_path / "jobs")
    assert problems(config, tmp_path / "jobs") == [
        f"{jobs}/b.yaml: presubmits[\"org/repo\"][1].context: presubmit 'two' reports to the GitHub context 'ci', "
        f"as 'one' does ({jobs}/b.yaml (presubmits[\"org/repo\"][0]))",
        f"{jobs}/b.yaml: periodics[0].name: duplicate periodic 'p': also defined in {jobs}/a.yaml (periodics[0])",
    ]


JOB = "presubmits:\n  org/repo:\n  - name: unit\n    command: [x]\n"


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ("    run_if_changed: '(['\n", "run_if_changed", "not a valid regex: unterminated character set"),
        ("    skip_if_only_changed: '(['\n", "skip_if_only_changed", "not a valid regex"),
        ("    branches: [main, '(']\n", "branches[1]", "not a valid regex"),
        ("    skip_branches: ['[']\n", "skip_branches[0]", "not a valid regex"),
        ("    trigger: '(['\n    rerun_command: /x\n", "trigger", "not a valid regex"),
        ("    trigger: '^/foo'\n", "rerun_command", "trigger and rerun_command must be set together"),
        ("    rerun_command: /foo\n", "trigger", "trigger and rerun_command must be set together"),
        ("    trigger: '^/foo'\n    rerun_command: /bar\n", "rerun_command", "'/bar' does not match the trigger"),
        (
            "    always_run: true\n    run_if_changed: x\n",
            "run_if_changed",
            "always_run: true and run_if_changed are mutually exclusive",
        ),
        ("    always_run: true\n    skip_if_only_changed: x\n", "skip_if_only_changed", "always_run: true and skip"),
        (
            "    run_if_changed: x\n    skip_if_only_changed: y\n",
            "skip_if_only_changed",
            "run_if_changed and skip_if_only_changed are mutually exclusive",
        ),
        ("    colour: red\n", "colour", "unknown field"),
        ("    always_run: 'yes please'\n", "always_run", "must be true or false, got a string"),
        ("    max_concurrency: -1\n", "max_concurrency", "must be at least 0"),
        ("    max_concurrency: 1.5\n", "max_concurrency", "must be an integer, got a number"),
        ("    labels: {app: [x]}\n", 'labels["app"]', "must map a string to a string"),
        ("    labels: {'bad label': x}\n", 'labels["bad label"]', "a label name is at most 63"),
        ("    branches: main\n", "branches", "must be a list of strings, got a string"),
        ("    spec: {containers: []}\n", "spec", "a pod spec needs containers"),
        ("    job_queue_name: nope\n", "job_queue_name", "'nope' is not in plank.job_queue_capacities"),
    ],
)
def test_each_job_problem_names_file_and_key(tmp_path: Path, config: Path, extra: str, key: str, message: str) -> None:
    jobs = write(tmp_path, "jobs/a/x.yaml", JOB + extra)
    found = problems(config, jobs)
    assert any(p.startswith(f'{jobs}: presubmits["org/repo"][0].{key}: {message}') for p in found), found


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("presubmits: {org/repo: [{command: [x]}]}", 'presubmits["org/repo"][0].name: is required'),
        ("presubmits: {org/repo: [{name: 'a b', command: [x]}]}", "presubmits[\"org/repo\"][0].name: 'a b' must match"),
        ("presubmits: {org/repo: [{name: a}]}", 'presubmits["org/repo"][0]: needs spec (a pod spec) or command'),
        ("presubmits: {org/repo: [{name: a, command: []}]}", 'presubmits["org/repo"][0].command: must not be empty'),
        (
            "presubmits: {org/repo: [{name: a, args: [-v], spec: {containers: [{}]}}]}",
            'presubmits["org/repo"][0].args: needs command',
        ),
        ("presubmits: {orgrepo: [{name: a, command: [x]}]}", 'presubmits["orgrepo"]: the key must be a repository'),
        ("presubmits: {org/repo: {name: a}}", 'presubmits["org/repo"]: must be a list, got a mapping'),
        ("presubmits: {org/repo: [x]}", 'presubmits["org/repo"][0]: must be a mapping, got a string'),
        (
            "postsubmits: {org/repo: [{name: a, command: [x], always_run: true, run_if_changed: b}]}",
            'postsubmits["org/repo"][0].run_if_changed: always_run: true',
        ),
        (
            "postsubmits: {org/repo: [{name: a, command: [x], trigger: b}]}",
            'postsubmits["org/repo"][0].trigger: unknown field',
        ),
        ("periodics: [{name: p, command: [x]}]", "periodics[0]: needs one of cron, interval or minimum_interval"),
        (
            "periodics: [{name: p, command: [x], interval: 1h, cron: '@daily'}]",
            "periodics[0].cron: interval and cron are mutually exclusive",
        ),
        ("periodics: [{name: p, command: [x], interval: 1d}]", "periodics[0].interval: '1d' is not valid"),
        (
            "periodics: [{name: p, command: [x], cron: '61 * * * *'}]",
            "periodics[0].cron: '61 * * * *' is not valid: minute: 61",
        ),
        ("tide: {}", "tide: unknown field"),  # a config.yaml section, not a job config key
        ("- a list", "the document must be a mapping, got a list"),
    ],
)
def test_file_level_problems(tmp_path: Path, config: Path, text: str, prefix: str) -> None:
    jobs = write(tmp_path, "jobs.yaml", text + "\n")
    found = problems(config, jobs)
    assert any(p.startswith(f"{jobs}: {prefix}") for p in found), found


def test_every_problem_is_reported_at_once(tmp_path: Path, config: Path) -> None:
    write(tmp_path, "jobs/a.yaml", "presubmits: {org/repo: [{name: a, command: [x], run_if_changed: '('}]}")
    write(tmp_path, "jobs/b.yaml", "periodics: [{name: p, command: [x], interval: soon}]")
    found = problems(config, tmp_path / "jobs")
    assert [p.split(": ")[0].rsplit("/", 1)[1] for p in found] == ["a.yaml", "b.yaml"]


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("prowjob_namespace: default\npresubmit: {}\n", "presubmit: unknown field"),
        ("plank:\n  job_url_template: x\n  bogus: 1\n", "plank.bogus: unknown field"),
        ("plank: {max_goroutines: -1}\n", "plank.max_goroutines: must be a positive number"),
        ("plank: {pod_pending_timeout: 10}\n", "plank.pod_pending_timeout: must be a string, got a number"),
        ("plank: {pod_pending_timeout: ten}\n", "plank.pod_pending_timeout: invalid duration 'ten'"),
        ("github_reporter: {job_types_to_report: [periodic]}\n", "github_reporter.job_types_to_report: 'periodic'"),
        ("github_reporter: {no_comment_repos: ['a/b/c']}\n", "github_reporter.no_comment_repos[0]: 'a/b/c' is not"),
        ("tide: [1]\n", "tide: must be a mapping, got a list"),
        ("log_level: loud\n", "log_level: 'loud' is not one of"),
        ("prowjob_namespace: [x]\n", "prowjob_namespace: must be a string, got a list"),
    ],
)
def test_config_yaml_problems(tmp_path: Path, text: str, prefix: str) -> None:
    config = write(tmp_path, "config.yaml", text)
    found = problems(config)
    assert any(p.startswith(f"{config}: {prefix}") for p in found), found


def test_prow_sections_are_kept_or_ignored_without_error(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "config.yaml",
        """
        prowjob_namespace: prow
        tide:
          queries: [{repos: [org/repo], labels: [lgtm, approved]}]
          merge_method: {org/repo: squash}
        plank:
          job_url_template: 'http://prow/view/{{.Spec.Job}}/{{.Status.BuildID}}'
          max_concurrency: 10
          pod_running_timeout: 2h
          job_queue_capacities: {heavy: 2}
          default_decoration_configs: {"*": {timeout: 2h}}
        branch-protection:
          orgs: {org: {protect: true}}
        github_reporter:
          no_comment_repos: [org]
        deck: {spyglass: {size_limit: 100}}
        sinker: {resync_period: 1m}
        in_repo_config: {enabled: {"*": false}}
        prow_ignored: {anything: [goes]}
        presubmits:
          org/repo:
          - {name: heavy, command: [x], job_queue_name: heavy, agent: kubernetes, path_alias: k8s.io/x}
        """,
    )
    loaded = load_config(config)
    assert loaded.tide["merge_method"] == {"org/repo": "squash"}
    assert loaded.plank.job_url_template == "http://prow/view/{{.Spec.Job}}/{{.Status.BuildID}}"
    assert (loaded.plank.max_concurrency, loaded.plank.pod_running_timeout_s) == (10, 7200.0)
    assert loaded.plank.raw["default_decoration_configs"] == {"*": {"timeout": "2h"}}
    assert loaded.branch_protection == {"orgs": {"org": {"protect": True}}}
    assert loaded.github_reporter.no_comment_repos == ("org",)
    assert loaded.sections["sinker"] == {"resync_period": "1m"}
    (heavy,) = loaded.presubmits_for("org", "repo")
    assert heavy.job_queue_name == "heavy" and heavy.extra == {"agent": "kubernetes", "path_alias": "k8s.io/x"}


def test_yaml_errors_name_file_and_line(tmp_path: Path, config: Path) -> None:
    jobs = write(tmp_path, "jobs/x.yaml", "presubmits:\n  org/repo:\n  - name: [unclosed\n")
    (found,) = problems(config, tmp_path / "jobs")
    assert found.startswith(f"{jobs}:4:1: invalid YAML:")


def test_a_key_given_twice_is_an_error(tmp_path: Path, config: Path) -> None:
    jobs = write(tmp_path, "jobs.yaml", "presubmits:\n  org/repo:\n  - name: a\n    command: [x]\n    name: b\n")
    (found,) = problems(config, jobs)
    assert found.startswith(f"{jobs}:5:5: invalid YAML:") and "'name' given twice (first at line 3)" in found


def test_yaml_merge_keys_may_be_overridden(tmp_path: Path, config: Path) -> None:
    jobs = write(
        tmp_path,
        "jobs.yaml",
        """
        presubmits:
          org/repo:
          - &base {name: a, command: [make], always_run: true}
          - <<: *base
            name: b
        """,
    )
    assert [j.name for j in load_config(config, jobs).presubmits_for("org", "repo")] == ["a", "b"]


def test_missing_paths(tmp_path: Path, config: Path) -> None:
    assert problems(config, tmp_path / "nope") == [f"{tmp_path / 'nope'}: the job config path does not exist"]
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_presets_are_merged_into_matching_pod_specs(tmp_path: Path, config: Path) -> None:
    write(
        tmp_path,
        "jobs/presets.yaml",
        """
        presets:
        - labels: {preset-go: "true"}
          env: [{name: GOPROXY, value: "off"}]
          volumes: [{name: cache, emptyDir: {}}]
          volumeMounts: [{name: cache, mountPath: /cache}]
        """,
    )
    write(
        tmp_path,
        "jobs/jobs.yaml",
        """
        presubmits:
          org/repo:
          - name: go
            labels: {preset-go: "true"}
            spec: {containers: [{image: golang, env: [{name: A, value: b}]}]}
          - name: other
            spec: {containers: [{image: golang}]}
        """,
    )
    go, other = load_config(config, tmp_path / "jobs").presubmits_for("org", "repo")
    assert go.spec is not None and other.spec == {"containers": [{"image": "golang"}]}
    assert go.spec["containers"][0]["env"] == [{"name": "A", "value": "b"}, {"name": "GOPROXY", "value": "off"}]
    assert go.spec["containers"][0]["volumeMounts"] == [{"name": "cache", "mountPath": "/cache"}]
    assert go.spec["volumes"] == [{"name": "cache", "emptyDir": {}}]


def test_a_preset_clashing_with_the_job_is_an_error(tmp_path: Path, config: Path) -> None:
    write(tmp_path, "jobs/presets.yaml", "presets: [{labels: {p: x}, env: [{name: A, value: c}]}]")
    jobs = write(
        tmp_path,
        "jobs/jobs.yaml",
        "presubmits: {org/repo: [{name: a, labels: {p: x}, spec: {containers: [{env: [{name: A}]}]}}]}",
    )
    (found,) = problems(config, tmp_path / "jobs")
    assert found.startswith(
        f"{jobs}: presubmits[\"org/repo\"][0].spec: env var 'A' from {tmp_path}/jobs/presets.yaml: presets[0]"
    )
