"""OWNERS and OWNERS_ALIASES: parsing, Prow's per-file resolution, and a loader that reads them at a commit.

The core is pure: `parse_owners()` and `parse_aliases()` turn file text into values, and `RepoOwners` answers
Prow's questions (the nearest OWNERS file with approvers for a path, every approver from that file up to the
root or a `no_parent_owners` boundary, the leaf approvers, labels) from the OWNERS files of the directories it
was given. Paths are repository-relative with no leading slash; the root directory is "". Logins are lower-cased
without "@" (GitHub logins are case-insensitive), as Prow's `NormLogin`.

`OwnersLoader` is the thin shell: for the files a PR changes it fetches only the OWNERS files of their ancestor
directories (and OWNERS_ALIASES at the root) at one commit, through the GitHub client, and caches them per
(repository, commit): contents at a full SHA never change, so a cached answer is never stale.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import yaml

from prow_lite.config.goregex import compile_go

if TYPE_CHECKING:
    from prow_lite.github import GitHubClient

log = logging.getLogger(__name__)

Aliases = Mapping[str, frozenset[str]]


class OwnersError(ValueError):
    """An OWNERS or OWNERS_ALIASES file that cannot be read; the message says which part is wrong."""


@dataclass(frozen=True, slots=True)
class Filenames:
    """The names OWNERS files go by in a repository (plugins.yaml `owners.filenames` may change them)."""

    owners: str = "OWNERS"
    aliases: str = "OWNERS_ALIASES"


@dataclass(frozen=True, slots=True)
class Roles:
    """The people (and labels) one OWNERS entry names; logins normalised and aliases expanded."""

    approvers: frozenset[str] = frozenset()
    reviewers: frozenset[str] = frozenset()
    required_reviewers: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OwnersFile:
    """One parsed OWNERS file: its entries (a filter regex, or None for every file) and its directory options."""

    entries: tuple[tuple[re.Pattern[str] | None, Roles], ...] = ()
    no_parent_owners: bool = False
    auto_approve_unowned_subfolders: bool = False


def norm_login(login: str) -> str:
    return login.lower().removeprefix("@")


def parse_aliases(text: str | bytes) -> dict[str, frozenset[str]]:
    """OWNERS_ALIASES: `aliases: {name: [login, ...]}` to normalised alias -> normalised members."""
    data = _load_yaml(text, "OWNERS_ALIASES")
    raw = data.get("aliases") or {}
    if not isinstance(raw, dict):
        raise OwnersError("OWNERS_ALIASES: `aliases` must be a mapping of alias names to lists of logins")
    out: dict[str, frozenset[str]] = {}
    for name, members in raw.items():
        if members is None:
            out[norm_login(str(name))] = frozenset()
        elif isinstance(members, list):
            out[norm_login(str(name))] = frozenset(norm_login(str(m)) for m in members if m is not None)
        elif isinstance(members, dict):  # flow style `{a, b}` reads as a mapping with null values
            out[norm_login(str(name))] = frozenset(norm_login(str(m)) for m in members)
        else:
            raise OwnersError(f"OWNERS_ALIASES: alias group {name!r} must contain a list of members")
    return out


def parse_owners(text: str | bytes, aliases: Aliases | None = None) -> OwnersFile:
    """An OWNERS file, simple (`approvers: [...]`) or full (`filters: {regex: {...}}`), with aliases expanded.

    As Prow: a file whose top-level role lists are all empty is read as a full config; a filter `.*` applies to
    every file; the options (`no_parent_owners`, `auto_approve_unowned_subfolders`) are read in either form.
    """
    data = _load_yaml(text, "OWNERS")
    expand = aliases or {}
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise OwnersError("OWNERS: `options` must be a mapping")
    simple = _roles(data, expand, "OWNERS")
    entries: list[tuple[re.Pattern[str] | None, Roles]] = []
    if simple != Roles():
        entries.append((None, simple))
    else:
        filters = data.get("filters") or {}
        if not isinstance(filters, dict):
            raise OwnersError("OWNERS: `filters` must be a mapping of regexes to role lists")
        for pattern, section in filters.items():
            if not isinstance(section, dict):
                raise OwnersError(f"OWNERS: filter {pattern!r} must be a mapping of role lists")
            roles = _roles(section, expand, f"OWNERS filter {pattern!r}")
            if str(pattern) == ".*":
                entries.append((None, roles))
                continue
            try:
                entries.append((compile_go(str(pattern)), roles))
            except ValueError as err:
                log.warning("OWNERS: skipping invalid filter regex %r: %s", pattern, err)
    return OwnersFile(
        tuple(entries),
        no_parent_owners=bool(options.get("no_parent_owners")),
        auto_approve_unowned_subfolders=bool(options.get("auto_approve_unowned_subfolders")),
    )


def _load_yaml(text: str | bytes, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise OwnersError(f"{what}: not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise OwnersError(f"{what}: the top level must be a mapping")
    return data


def _roles(section: Mapping[str, Any], aliases: Aliases, what: str) -> Roles:
    def people(key: str) -> frozenset[str]:
        logins = _strings(section.get(key), what, key)
        out: set[str] = set()
        for login in (norm_login(x) for x in logins):
            out |= aliases.get(login, {login})
        return frozenset(out)

    return Roles(
        approvers=people("approvers"),
        reviewers=people("reviewers"),
        required_reviewers=people("required_reviewers"),
        labels=frozenset(_strings(section.get("labels"), what, "labels")),
    )


def _strings(value: Any, what: str, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise OwnersError(f"{what}: `{key}` must be a list")
    return [str(v) for v in value if v is not None]


def parent(directory: str) -> str:
    """The directory above `directory` ("" is the root, its own parent)."""
    up = posixpath.dirname(directory)
    return "" if up in (".", "/") else up


def ancestors(path: str) -> list[str]:
    """The directories containing `path`, nearest first, ending at the root ""."""
    out: list[str] = []
    d = parent(path.strip("/"))
    while True:
        out.append(d)
        if d == "":
            return out
        d = parent(d)


def owners_dirs(paths: Iterable[str]) -> list[str]:
    """Every directory whose OWNERS file can matter for `paths`, sorted."""
    return sorted({d for p in paths for d in ancestors(p)})


def _relative(directory: str, path: str) -> str:
    return path[len(directory) + 1 :] if directory else path


@dataclass(frozen=True)
class RepoOwners:
    """Prow's OWNERS resolution over the OWNERS files of some directories (directory -> parsed file)."""

    files: Mapping[str, OwnersFile] = field(default_factory=dict)

    def _matching(self, directory: str, path: str) -> list[Roles]:
        owners = self.files.get(directory)
        if owners is None:
            return []
        rel = _relative(directory, path)
        return [roles for pattern, roles in owners.entries if pattern is None or pattern.search(rel)]

    def _nearest(self, path: str, role: str) -> str:
        for d in ancestors(path):
            if any(getattr(r, role) for r in self._matching(d, path)):
                return d
        return ""

    def _entries(self, path: str, role: str, *, leaf_only: bool) -> frozenset[str]:
        """The people of `role` for `path`: nearest first, up to the root or a no_parent_owners directory."""
        out: set[str] = set()
        for d in ancestors(path):
            for roles in self._matching(d, path):
                out |= getattr(roles, role)
            if leaf_only and out:
                break
            if self.is_no_parent_owners(d) and out:
                break
        return frozenset(out)

    def approver_owners_for(self, path: str) -> str:
        """The directory of the nearest OWNERS file naming approvers for `path` ("" when none does)."""
        return self._nearest(path, "approvers")

    def reviewer_owners_for(self, path: str) -> str:
        return self._nearest(path, "reviewers")

    def approvers(self, path: str) -> frozenset[str]:
        """Everyone who can approve `path`: its nearest approvers and those above, up to a no_parent_owners file."""
        return self._entries(path, "approvers", leaf_only=False)

    def leaf_approvers(self, path: str) -> frozenset[str]:
        return self._entries(path, "approvers", leaf_only=True)

    def reviewers(self, path: str) -> frozenset[str]:
        return self._entries(path, "reviewers", leaf_only=False)

    def leaf_reviewers(self, path: str) -> frozenset[str]:
        return self._entries(path, "reviewers", leaf_only=True)

    def required_reviewers(self, path: str) -> frozenset[str]:
        return self._entries(path, "required_reviewers", leaf_only=False)

    def labels_for(self, path: str) -> frozenset[str]:
        return self._entries(path, "labels", leaf_only=False)

    def top_level_approvers(self) -> frozenset[str]:
        return frozenset(p for r in self._matching("", "") for p in r.approvers)

    def only(self, collaborators: Iterable[str]) -> RepoOwners:
        """The same files with approvers and reviewers cut to `collaborators` (Prow's filterCollaborators)."""
        keep = frozenset(norm_login(c) for c in collaborators)

        def cut(roles: Roles) -> Roles:
            return replace(roles, approvers=roles.approvers & keep, reviewers=roles.reviewers & keep)

        return RepoOwners(
            {d: replace(f, entries=tuple((p, cut(r)) for p, r in f.entries)) for d, f in self.files.items()}
        )

    def is_no_parent_owners(self, directory: str) -> bool:
        owners = self.files.get(directory)
        return owners is not None and owners.no_parent_owners

    def is_auto_approve_unowned_subfolders(self, directory: str) -> bool:
        owners = self.files.get(directory)
        return owners is not None and owners.auto_approve_unowned_subfolders


@dataclass
class _Snapshot:
    """What was read at one commit: the aliases, and each directory's OWNERS file (None: there is none)."""

    aliases: dict[str, frozenset[str]] | None = None
    files: dict[str, OwnersFile | None] = field(default_factory=dict)


class OwnersLoader:
    """Reads OWNERS files at a commit through the GitHub client, cached per (repository, commit SHA).

    The cache keeps the `max_commits` most recently used commits and needs no invalidation: a full SHA's
    contents never change. A fetch that fails raises and caches nothing.
    """

    def __init__(self, *, max_commits: int = 256) -> None:
        self.max_commits = max_commits
        self._snapshots: OrderedDict[tuple[str, str, str, Filenames], _Snapshot] = OrderedDict()

    async def load(
        self,
        gh: GitHubClient,
        org: str,
        repo: str,
        sha: str,
        paths: Iterable[str],
        filenames: Filenames = Filenames(),
    ) -> RepoOwners:
        """The OWNERS resolution for `paths` (the files a PR changes) at commit `sha`."""
        key = (org.lower(), repo.lower(), sha, filenames)
        snap = self._snapshots.setdefault(key, _Snapshot())
        self._snapshots.move_to_end(key)
        while len(self._snapshots) > self.max_commits:
            self._snapshots.popitem(last=False)
        if snap.aliases is None:
            snap.aliases = await self._aliases(gh, org, repo, sha, filenames.aliases)
        wanted = owners_dirs(paths)
        missing = [d for d in wanted if d not in snap.files]
        fetched = await asyncio.gather(
            *(self._owners(gh, org, repo, sha, d, filenames.owners, snap.aliases) for d in missing)
        )
        snap.files.update(zip(missing, fetched, strict=True))
        return RepoOwners({d: f for d in wanted if (f := snap.files[d]) is not None})

    async def _aliases(self, gh: GitHubClient, org: str, repo: str, sha: str, path: str) -> dict[str, frozenset[str]]:
        raw = await gh.get_file(org, repo, path, ref=sha)
        if raw is None:
            return {}
        try:
            return parse_aliases(raw)
        except OwnersError as err:
            log.warning("%s/%s@%s: ignoring %s: %s", org, repo, sha, path, err)
            return {}

    async def _owners(
        self, gh: GitHubClient, org: str, repo: str, sha: str, directory: str, name: str, aliases: Aliases
    ) -> OwnersFile | None:
        path = posixpath.join(directory, name) if directory else name
        raw = await gh.get_file(org, repo, path, ref=sha)
        if raw is None:
            return None
        try:
            return parse_owners(raw, aliases)
        except OwnersError as err:
            log.warning("%s/%s@%s: ignoring %s: %s", org, repo, sha, path, err)
            return None


# One cache for the process: every plugin reading OWNERS shares what was fetched.
LOADER = OwnersLoader()
