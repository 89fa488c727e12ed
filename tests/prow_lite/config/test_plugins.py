"""load_plugins on real files: both `plugins:` forms, excluded repos, most-specific lookups, defaults, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from prow_lite.config import (
    Approve,
    ConfigError,
    ExternalPlugin,
    Lgtm,
    OwnersFilenames,
    PluginsConfig,
    RestrictedLabel,
    Trigger,
    load_plugins,
)


def load(tmp_path: Path, text: str) -> PluginsConfig:
    path = tmp_path / "plugins.yaml"
    path.write_text(textwrap.dedent(text))
    return load_plugins(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return list(caught.value.problems)


def test_near_empty(tmp_path: Path) -> None:
    config = load(tmp_path, "plugins: {}\n")
    assert config.enabled_plugins("org", "repo") == []
    assert config.external_plugins_for("org", "repo") == []
    assert config.trigger_for("org", "repo") == Trigger()
    assert config.approve_for("org", "repo").command_help_link == "https://go.k8s.io/bot-commands"
    assert (
        config.approve_for("org", "repo").has_self_approval and config.approve_for("org", "repo").consider_review_state
    )
    assert config.lgtm_for("org", "repo") == Lgtm()
    assert config.owners.labels_denylist == ("approved", "lgtm")
    assert config.owners.filenames_for("org", "repo") == OwnersFilenames("OWNERS", "OWNERS_ALIASES")
    assert config.label.restricted_for("org", "repo") == []


def test_both_plugins_forms_and_excluded_repos(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        plugins:
          org:
            plugins: [trigger, lgtm, approve]
            excluded_repos: [legacy, org/frozen]
          org/repo: [hold, lgtm, label]
          org/legacy: [trigger]
          other: [trigger]
        """,
    )
    assert config.enabled_plugins("org", "repo") == ["trigger", "lgtm", "approve", "hold", "label"]
    assert config.enabled_plugins("org", "legacy") == ["trigger"]
    assert config.enabled_plugins("org", "frozen") == []
    assert config.enabled_plugins("org", "plain") == ["trigger", "lgtm", "approve"]
    assert config.enabled_plugins("other", "x") == ["trigger"]
    assert config.enabled_plugins("nobody", "x") == []
    assert config.plugins["org"].excluded_repos == ("legacy", "frozen")


def test_external_plugins(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        external_plugins:
          org:
          - name: cherrypicker
            events: [issue_comment, pull_request]
          org/repo:
          - name: needs-rebase
            endpoint: http://127.0.0.1:8888
        """,
    )
    picker, rebase = config.external_plugins_for("org", "repo")
    assert picker == ExternalPlugin("cherrypicker", "http://cherrypicker", ("issue_comment", "pull_request"))
    assert rebase == ExternalPlugin("needs-rebase", "http://127.0.0.1:8888", ())
    assert picker.wants("pull_request") and not picker.wants("push") and rebase.wants("push")
    assert config.external_plugins_for("org", "other") == [picker]


def test_most_specific_section_wins(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        triggers:
        - repos: [org]
          trusted_org: org
          only_org_members: true
        - repos: [org/special, other]
          trusted_apps: [dependabot]
          join_org_url: https://example.com/join
          ignore_ok_to_test: true
        approve:
        - repos: [org]
          require_self_approval: true
        - repos: [org/special]
          lgtm_acts_as_approve: true
          ignore_review_state: true
          commandHelpLink: https://prow.example.com/command-help
        lgtm:
        - repos: [org]
          review_acts_as_lgtm: true
        - repos: [org/special]
          store_tree_hash: true
          trusted_team_for_sticky_lgtm: leads
        """,
    )
    org_trigger = config.trigger_for("org", "repo")
    assert org_trigger.only_org_members and org_trigger.join_org_url == "https://github.com/orgs/org/people"
    special = config.trigger_for("org", "special")
    assert special.trusted_apps == ("dependabot",) and special.ignore_ok_to_test and not special.only_org_members
    assert config.trigger_for("other", "x") is special
    assert config.trigger_for("nobody", "x") == Trigger()

    assert config.approve_for("org", "repo") == Approve(repos=("org",), require_self_approval=True)
    assert not config.approve_for("org", "repo").has_self_approval
    special_approve = config.approve_for("org", "special")
    assert special_approve.lgtm_acts_as_approve and not special_approve.consider_review_state
    assert special_approve.command_help_link == "https://prow.example.com/command-help"

    assert config.lgtm_for("org", "repo").review_acts_as_lgtm
    assert config.lgtm_for("org", "special") == Lgtm(
        repos=("org/special",), store_tree_hash=True, sticky_lgtm_team="leads"
    )


def test_label_restricted_labels_merge_wildcard_org_and_repo(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        label:
          additional_labels: [api-review, tide/merge-method-squash]
          restricted_labels:
            "*":
            - label: cherry-pick-approved
              allowed_teams: [release]
            org:
            - label: Cherry-Pick-Approved
              allowed_users: [bob]
              assign_on: [{label: needs-cherry-pick}]
            org/repo:
            - label: cherry-pick-approved
              allowed_users: [alice]
            - label: backport-risk-assessed
              allowed_users: [carol]
            other:
            - label: only-other
        """,
    )
    assert config.label.additional_labels == ("api-review", "tide/merge-method-squash")
    merged, backport = config.label.restricted_for("org", "repo")
    assert merged == RestrictedLabel("cherry-pick-approved", ("release",), ("alice", "bob"), ("needs-cherry-pick",))
    assert backport == RestrictedLabel("backport-risk-assessed", (), ("carol",), ())
    assert [r.label for r in config.label.restricted_for("org", "x")] == ["cherry-pick-approved"]
    assert [r.label for r in config.label.restricted_for("else", "x")] == ["cherry-pick-approved"]


def test_owners(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        owners:
          mdyamlrepos: [org/docs]
          skip_collaborators: [org]
          labels_denylist: []
          filenames:
            org: {owners: OWNERS.org}
            org/repo: {owners: .github/OWNERS, owners_aliases: .github/OWNERS_ALIASES}
        """,
    )
    owners = config.owners
    assert owners.mdyaml_enabled("org", "docs") and not owners.mdyaml_enabled("org", "repo")
    assert owners.skips_collaborators("org", "any") and not owners.skips_collaborators("other", "any")
    assert owners.labels_denylist == ()
    assert owners.filenames_for("org", "repo") == OwnersFilenames(".github/OWNERS", ".github/OWNERS_ALIASES")
    assert owners.filenames_for("org", "x") == OwnersFilenames("OWNERS.org", "OWNERS_ALIASES")
    assert owners.filenames_for("y", "x") == OwnersFilenames()


def test_other_prow_sections_are_accepted(tmp_path: Path) -> None:
    config = load(
        tmp_path, "repo_milestone: {org/repo: {milestone_team_id: 1}}\nblunderbuss: {request_count: 2}\nsize: {s: 10}\n"
    )
    assert config.sections["repo_milestone"] == {"org/repo": {"milestone_team_id": 1}}


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("plugin: {}", "plugin: unknown field"),
        ("plugins: {a/b/c: [x]}", 'plugins["a/b/c"]: the key must be "org" or "org/repo"'),
        ("plugins: {org: {plugins: [x], excluded: [y]}}", 'plugins["org"].excluded: unknown field'),
        ("plugins: {org/repo: {plugins: [x], excluded_repos: [y]}}", 'plugins["org/repo"].excluded_repos: only an org'),
        (
            "plugins: {org: {excluded_repos: [other/y]}}",
            "plugins[\"org\"].excluded_repos[0]: 'other/y' is not a repository of org",
        ),
        ("plugins: {org: trigger}", 'plugins["org"]: must be a mapping, got a string'),
        ("plugins: {org: [trigger, 3]}", 'plugins["org"][1]: must be a string, got a number'),
        ("external_plugins: {org: [{endpoint: x}]}", 'external_plugins["org"][0].name: is required'),
        (
            "external_plugins: {org: [{name: x}], org/r: [{name: x}]}",
            'external_plugins["org/r"]: x already enabled for the org org',
        ),
        ("triggers: [{repos: [org, 'a/b/c']}]", 'triggers[0].repos[1]: \'a/b/c\' is not "org" or "org/repo"'),
        ("triggers: [{repos: [org], trusted: x}]", "triggers[0].trusted: unknown field"),
        ("triggers: {repos: [org]}", "triggers: must be a list, got a mapping"),
        ("approve: [{repos: [org]}, {repos: [org]}]", "approve[1].repos: 'org' is already configured by approve[0]"),
        (
            "approve: [{repos: [org], require_self_approval: maybe}]",
            "approve[0].require_self_approval: must be true or false",
        ),
        ("lgtm: [{repos: ['o r']}]", "lgtm[0].repos[0]: 'o r' is not"),
        ("lgtm: [{trusted_team_for_sticky_lgtm: a, sticky_lgtm_team: b}]", "lgtm[0].sticky_lgtm_team: differs"),
        ("label: {restricted_labels: {'a/b/c': []}}", 'label.restricted_labels["a/b/c"]: the key must be "*", "org"'),
        (
            "label: {restricted_labels: {org: [{allowed_users: [x]}]}}",
            'label.restricted_labels["org"][0].label: is required',
        ),
        (
            "label: {restricted_labels: {org: [{label: x, assign_on: [x]}]}}",
            'label.restricted_labels["org"][0].assign_on[0]: must be a mapping',
        ),
        ("owners: {filenames: {'a/b/c': {owners: X}}}", 'owners.filenames["a/b/c"]: the key must be'),
        ("owners: {skip_collaborators: ['']}", "owners.skip_collaborators[0]: '' is not"),
    ],
)
def test_problems_name_file_and_key(tmp_path: Path, text: str, prefix: str) -> None:
    found = problems(tmp_path, text + "\n")
    assert any(p.startswith(f"{tmp_path / 'plugins.yaml'}: {prefix}") for p in found), found


def test_yaml_error_names_the_line(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "plugins:\n  org: [a\n")
    assert found.startswith(f"{tmp_path / 'plugins.yaml'}:3:1: invalid YAML:")
