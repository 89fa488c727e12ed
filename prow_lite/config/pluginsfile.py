"""`load_plugins`: plugins.yaml read and checked; every problem named by file and key path."""

from __future__ import annotations

from pathlib import Path

from prow_lite.config.errors import ConfigError
from prow_lite.config.fields import Node, Problems, at_index, at_key, is_org_or_repo, join
from prow_lite.config.plugins import (
    DEFAULT_COMMAND_HELP_LINK,
    DEFAULT_LABELS_DENYLIST,
    DEFAULT_PR_PROCESS_LINK,
    Approve,
    ExternalPlugin,
    Label,
    Lgtm,
    OrgPlugins,
    Owners,
    OwnersFilenames,
    PluginsConfig,
    RestrictedLabel,
    Trigger,
)
from prow_lite.config.yamlfile import read_yaml

_MODELLED = ("plugins", "external_plugins", "triggers", "approve", "lgtm", "label", "owners")
# Prow's other plugin sections: accepted and kept as written.
_KEPT = (
    "blockades", "blunderbuss", "rifle", "bugzilla", "branch_cleaner", "cat", "cherry_pick_approved",
    "cherry_pick_unapproved", "config_updater", "dco", "golint", "goose", "heart", "jira", "milestone_applier",
    "release_note", "repo_milestone", "project_config", "project_manager", "require_matching_label", "retitle",
    "slack", "sigmention", "size", "welcome", "override", "help", "invalid_commit_msg",
)  # fmt: skip


def load_plugins(path: str | Path) -> PluginsConfig:
    """Read and validate plugins.yaml; raises ConfigError listing every problem."""
    shown = str(path)
    problems = Problems([])
    root = Node.root(read_yaml(Path(path), shown), shown, problems)
    if root is None:
        raise ConfigError(problems.items)
    root.keys(_MODELLED, _KEPT)
    config = PluginsConfig(
        plugins=_plugins(root),
        external_plugins=_external_plugins(root),
        triggers=tuple(_trigger(node) for _, node in root.children("triggers")),
        approve=tuple(_approve(node) for _, node in root.children("approve")),
        lgtm=tuple(_lgtm(node) for _, node in root.children("lgtm")),
        label=_label(root.child("label")),
        owners=_owners(root.child("owners")),
        sections={key: root.raw[key] for key in _KEPT if key in root.raw},
    )
    _no_repo_twice(root, "approve", config.approve)
    if problems.items:
        raise ConfigError(problems.items)
    return config


def _plugins(root: Node) -> dict[str, OrgPlugins]:
    """Both of Prow's forms: `org: [a, b]` and `org: {plugins: [a, b], excluded_repos: [x]}`."""
    out: dict[str, OrgPlugins] = {}
    for key, value, path in root.entries("plugins"):
        if not is_org_or_repo(key):
            root.problems.add(root.file, path, 'the key must be "org" or "org/repo"')
            continue
        if isinstance(value, list) or value is None:
            out[key] = OrgPlugins(plugins=root.strings_at(value, path))
            continue
        node = root.node_at(value, path)
        if node is None:
            continue
        node.keys(("plugins", "excluded_repos"))
        excluded = node.str_list("excluded_repos")
        if excluded and "/" in key:
            node.problem("excluded_repos", "only an org's entry can exclude repositories")
        names: list[str] = []
        for i, item in enumerate(excluded):
            org, slash, name = item.rpartition("/")  # Prow lists names within the org; "org/name" is accepted too
            if (slash and org != key) or not name or any(c.isspace() for c in name):
                node.problems.add(
                    node.file,
                    at_index(join(node.path, "excluded_repos"), i),
                    f'{item!r} is not a repository of {key} ("repo" or "{key}/repo")',
                )
            else:
                names.append(name)
        out[key] = OrgPlugins(plugins=node.str_list("plugins"), excluded_repos=tuple(names))
    return out


def _external_plugins(root: Node) -> dict[str, tuple[ExternalPlugin, ...]]:
    out: dict[str, tuple[ExternalPlugin, ...]] = {}
    for key, value, path in root.entries("external_plugins"):
        if not is_org_or_repo(key):
            root.problems.add(root.file, path, 'the key must be "org" or "org/repo"')
            continue
        plugins = []
        for _, node in root.list_at(value, path):
            node.keys(("name", "endpoint", "events"))
            name = node.string("name")
            if not name:
                node.problem("name", "is required")
                continue
            plugins.append(
                ExternalPlugin(
                    name=name, endpoint=node.string("endpoint") or f"http://{name}", events=node.str_list("events")
                )
            )
        out[key] = tuple(plugins)
    for key, found in out.items():
        org = key.partition("/")[0]
        if "/" in key and (twice := sorted({p.name for p in found} & {p.name for p in out.get(org, ())})):
            path = at_key(join(root.path, "external_plugins"), key)
            root.problems.add(root.file, path, f"{', '.join(twice)} already enabled for the org {org}")
    return out


def _trigger(node: Node) -> Trigger:
    node.keys(
        (
            "repos",
            "trusted_apps",
            "trusted_org",
            "join_org_url",
            "only_org_members",
            "ignore_ok_to_test",
            "trigger_github_workflows",
        ),
        ("org_invite",),
    )
    trusted_org = node.string("trusted_org")
    join_url = node.string("join_org_url")
    if trusted_org and not join_url:
        join_url = f"https://github.com/orgs/{trusted_org}/people"  # Prow's Trigger.SetDefaults
    return Trigger(
        repos=node.repo_list("repos"),
        trusted_apps=node.str_list("trusted_apps"),
        trusted_org=trusted_org,
        join_org_url=join_url,
        only_org_members=node.boolean("only_org_members"),
        ignore_ok_to_test=node.boolean("ignore_ok_to_test"),
        trigger_github_workflows=node.boolean("trigger_github_workflows"),
    )


def _approve(node: Node) -> Approve:
    node.keys(
        (
            "repos",
            "issue_required",
            "require_self_approval",
            "lgtm_acts_as_approve",
            "ignore_review_state",
            "commandHelpLink",
            "pr_process_link",
        )
    )
    return Approve(
        repos=node.repo_list("repos"),
        issue_required=node.boolean("issue_required"),
        require_self_approval=node.opt_boolean("require_self_approval"),
        lgtm_acts_as_approve=node.boolean("lgtm_acts_as_approve"),
        ignore_review_state=node.opt_boolean("ignore_review_state"),
        command_help_link=node.string("commandHelpLink") or DEFAULT_COMMAND_HELP_LINK,
        pr_process_link=node.string("pr_process_link") or DEFAULT_PR_PROCESS_LINK,
    )


def _lgtm(node: Node) -> Lgtm:
    # Prow's key is trusted_team_for_sticky_lgtm; sticky_lgtm_team (its Go field's name) is accepted too.
    node.keys(("repos", "review_acts_as_lgtm", "store_tree_hash", "trusted_team_for_sticky_lgtm", "sticky_lgtm_team"))
    team, alias = node.string("trusted_team_for_sticky_lgtm"), node.string("sticky_lgtm_team")
    if team and alias and team != alias:
        node.problem("sticky_lgtm_team", "differs from trusted_team_for_sticky_lgtm; give one of them")
    return Lgtm(
        repos=node.repo_list("repos"),
        review_acts_as_lgtm=node.boolean("review_acts_as_lgtm"),
        store_tree_hash=node.boolean("store_tree_hash"),
        sticky_lgtm_team=team or alias,
    )


def _label(node: Node | None) -> Label:
    if node is None:
        return Label()
    node.keys(("additional_labels", "restricted_labels"))
    restricted: dict[str, tuple[RestrictedLabel, ...]] = {}
    for key, value, path in node.entries("restricted_labels"):
        if key != "*" and not is_org_or_repo(key):
            node.problems.add(node.file, path, 'the key must be "*", "org" or "org/repo"')
            continue
        entries = []
        for _, item in node.list_at(value, path):
            item.keys(("label", "allowed_teams", "allowed_users", "assign_on"))
            label = item.string("label")
            if not label:
                item.problem("label", "is required")
                continue
            assign_on = []
            for _, on in item.children("assign_on"):
                on.keys(("label",))
                if on.string("label"):
                    assign_on.append(on.string("label"))
                else:
                    on.problem("label", "is required")
            entries.append(
                RestrictedLabel(
                    label=label,
                    allowed_teams=item.str_list("allowed_teams"),
                    allowed_users=item.str_list("allowed_users"),
                    assign_on=tuple(assign_on),
                )
            )
        restricted[key] = tuple(entries)
    return Label(additional_labels=node.str_list("additional_labels"), restricted_labels=restricted)


def _owners(node: Node | None) -> Owners:
    if node is None:
        return Owners()
    node.keys(("mdyamlrepos", "skip_collaborators", "labels_denylist", "filenames"))
    filenames: dict[str, OwnersFilenames] = {}
    for key, value, path in node.entries("filenames"):
        if not is_org_or_repo(key):
            node.problems.add(node.file, path, 'the key must be "org" or "org/repo"')
            continue
        entry = node.node_at(value, path)
        if entry is not None:
            entry.keys(("owners", "owners_aliases"))
            filenames[key] = OwnersFilenames(
                owners=entry.string("owners") or "OWNERS",
                owners_aliases=entry.string("owners_aliases") or "OWNERS_ALIASES",
            )
    denylist = node.str_list("labels_denylist") if "labels_denylist" in node.raw else DEFAULT_LABELS_DENYLIST
    return Owners(
        mdyamlrepos=node.repo_list("mdyamlrepos"),
        skip_collaborators=node.repo_list("skip_collaborators"),
        labels_denylist=denylist,
        filenames=filenames,
    )


def _no_repo_twice(root: Node, section: str, entries: tuple[Approve, ...]) -> None:
    """Prow's validateRepoDupes: an org or repo in two entries of one section is ambiguous."""
    first: dict[str, int] = {}
    for i, entry in enumerate(entries):
        for repo in entry.repos:
            if repo in first:
                root.problems.add(
                    root.file, f"{section}[{i}].repos", f"{repo!r} is already configured by {section}[{first[repo]}]"
                )
            first.setdefault(repo, i)
