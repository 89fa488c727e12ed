"""`PluginsConfig`: plugins.yaml (Prow's pkg/plugins Configuration) for the plugins prow_lite has.

Lookups follow Prow: a plugin section listing `org/repo` beats one listing `org`; with neither, Prow's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

DEFAULT_COMMAND_HELP_LINK = "https://go.k8s.io/bot-commands"
DEFAULT_PR_PROCESS_LINK = "https://git.k8s.io/community/contributors/guide/owners.md#the-code-review-process"
DEFAULT_LABELS_DENYLIST = ("approved", "lgtm")


@dataclass(frozen=True, slots=True)
class OrgPlugins:
    """The plugins of one `org` or `org/repo` key; `excluded_repos` (names within the org) only on org keys."""

    plugins: tuple[str, ...] = ()
    excluded_repos: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExternalPlugin:
    name: str
    endpoint: str  # default http://<name>
    events: tuple[str, ...] = ()  # empty: every event

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


@dataclass(frozen=True, slots=True)
class Trigger:
    repos: tuple[str, ...] = ()
    trusted_apps: tuple[str, ...] = ()  # GitHub App logins without "[bot]"
    trusted_org: str = ""  # default: the PR's org
    join_org_url: str = ""  # default: the trusted org's people page
    only_org_members: bool = False
    ignore_ok_to_test: bool = False
    trigger_github_workflows: bool = False


@dataclass(frozen=True, slots=True)
class Approve:
    repos: tuple[str, ...] = ()
    issue_required: bool = False
    require_self_approval: bool | None = None
    lgtm_acts_as_approve: bool = False
    ignore_review_state: bool | None = None
    command_help_link: str = DEFAULT_COMMAND_HELP_LINK  # plugins.yaml: commandHelpLink
    pr_process_link: str = DEFAULT_PR_PROCESS_LINK

    @property
    def has_self_approval(self) -> bool:
        """Whether the PR author's approval is implied (Prow's HasSelfApproval: unless require_self_approval)."""
        return not self.require_self_approval

    @property
    def consider_review_state(self) -> bool:
        """Whether GitHub reviews act as /approve (Prow's ConsiderReviewState: unless ignore_review_state)."""
        return not self.ignore_review_state


@dataclass(frozen=True, slots=True)
class Lgtm:
    repos: tuple[str, ...] = ()
    review_acts_as_lgtm: bool = False
    store_tree_hash: bool = False
    sticky_lgtm_team: str = ""  # plugins.yaml: trusted_team_for_sticky_lgtm


@dataclass(frozen=True, slots=True)
class RestrictedLabel:
    label: str
    allowed_teams: tuple[str, ...] = ()
    allowed_users: tuple[str, ...] = ()
    assign_on: tuple[str, ...] = ()  # labels whose addition assigns allowed_users (plugins.yaml: [{label: ...}])


@dataclass(frozen=True, slots=True)
class Label:
    additional_labels: tuple[str, ...] = ()
    restricted_labels: Mapping[str, tuple[RestrictedLabel, ...]] = field(default_factory=dict)  # "*", org, org/repo

    def restricted_for(self, org: str, repo: str) -> list[RestrictedLabel]:
        """Prow's RestrictedLabelsFor: `*`, org and org/repo entries merged per label (case-insensitive)."""
        merged: dict[str, RestrictedLabel] = {}
        for key in ("*", org, f"{org}/{repo}"):
            for entry in self.restricted_labels.get(key, ()):
                name = entry.label.lower()
                old = merged.get(name)
                if old is None:
                    merged[name] = entry
                    continue
                merged[name] = RestrictedLabel(
                    label=old.label,
                    allowed_teams=tuple(sorted(set(old.allowed_teams) | set(entry.allowed_teams))),
                    allowed_users=tuple(sorted(set(old.allowed_users) | set(entry.allowed_users))),
                    assign_on=tuple(dict.fromkeys(old.assign_on + entry.assign_on)),
                )
        return list(merged.values())


@dataclass(frozen=True, slots=True)
class OwnersFilenames:
    owners: str = "OWNERS"
    owners_aliases: str = "OWNERS_ALIASES"


@dataclass(frozen=True, slots=True)
class Owners:
    mdyamlrepos: tuple[str, ...] = ()
    skip_collaborators: tuple[str, ...] = ()
    labels_denylist: tuple[str, ...] = DEFAULT_LABELS_DENYLIST
    filenames: Mapping[str, OwnersFilenames] = field(default_factory=dict)  # org or org/repo

    def filenames_for(self, org: str, repo: str) -> OwnersFilenames:
        return self.filenames.get(f"{org}/{repo}") or self.filenames.get(org) or OwnersFilenames()

    def mdyaml_enabled(self, org: str, repo: str) -> bool:
        return org in self.mdyamlrepos or f"{org}/{repo}" in self.mdyamlrepos

    def skips_collaborators(self, org: str, repo: str) -> bool:
        """Whether approve and lgtm trust OWNERS files alone (no collaborator cross-check) in this repo."""
        return org in self.skip_collaborators or f"{org}/{repo}" in self.skip_collaborators


S = TypeVar("S", Trigger, Approve, Lgtm)


@dataclass(frozen=True, slots=True)
class PluginsConfig:
    """plugins.yaml. Keys of per-org sections are `org` or `org/repo`."""

    plugins: Mapping[str, OrgPlugins] = field(default_factory=dict)
    external_plugins: Mapping[str, tuple[ExternalPlugin, ...]] = field(default_factory=dict)
    triggers: tuple[Trigger, ...] = ()
    approve: tuple[Approve, ...] = ()
    lgtm: tuple[Lgtm, ...] = ()
    label: Label = field(default_factory=Label)
    owners: Owners = field(default_factory=Owners)
    sections: Mapping[str, Any] = field(default_factory=dict)  # Prow's other plugin sections, as written

    def enabled_plugins(self, org: str, repo: str) -> list[str]:
        """The org's plugins (unless the repo is excluded) then the repo's, each name once (Prow's getPlugins)."""
        names: list[str] = []
        org_entry = self.plugins.get(org)
        if org_entry is not None and repo not in org_entry.excluded_repos:
            names.extend(org_entry.plugins)
        repo_entry = self.plugins.get(f"{org}/{repo}")
        if repo_entry is not None:
            names.extend(repo_entry.plugins)
        return list(dict.fromkeys(names))

    def external_plugins_for(self, org: str, repo: str) -> list[ExternalPlugin]:
        """The org's external plugins then the repo's (Prow's hook sends an event to both)."""
        return [*self.external_plugins.get(org, ()), *self.external_plugins.get(f"{org}/{repo}", ())]

    def trigger_for(self, org: str, repo: str) -> Trigger:
        return _most_specific(self.triggers, org, repo) or Trigger()

    def approve_for(self, org: str, repo: str) -> Approve:
        return _most_specific(self.approve, org, repo) or Approve()

    def lgtm_for(self, org: str, repo: str) -> Lgtm:
        return _most_specific(self.lgtm, org, repo) or Lgtm()


def _most_specific(entries: tuple[S, ...], org: str, repo: str) -> S | None:
    """The first entry listing `org/repo`, else the first listing `org` (Prow's TriggerFor, ApproveFor, LgtmFor)."""
    full = f"{org}/{repo}"
    for key in (full, org):
        for entry in entries:
            if key in entry.repos:
                return entry
    return None
