"""OWNERS and OWNERS_ALIASES: parsing, Prow's per-file resolution (tables), and the loader against ghsim via ghproxy."""

from __future__ import annotations

import pytest

from prow_lite.owners import (
    Filenames,
    OwnersError,
    OwnersLoader,
    RepoOwners,
    ancestors,
    owners_dirs,
    parse_aliases,
    parse_owners,
)
from tests.prow_lite.plugins import command_world
from tests.prow_lite.plugins.command_world import ORG, REPO, World

world = command_world.world  # the fixture

ALIASES = parse_aliases("aliases:\n  sig-node: [Alice, '@bob']\n  empty:\n  flow: {carol, dave}\n")


def repo_owners(**files: str) -> RepoOwners:
    """RepoOwners from directory -> OWNERS text (the root is `root`)."""
    return RepoOwners(
        {("" if d == "root" else d.replace("__", "/")): parse_owners(t, ALIASES) for d, t in files.items()}
    )


# --- parsing ----------------------------------------------------------------------------------------------------


def test_aliases_are_normalised_and_every_yaml_form_is_read() -> None:
    want = {"sig-node": frozenset({"alice", "bob"}), "empty": frozenset(), "flow": frozenset({"carol", "dave"})}
    assert want == ALIASES
    assert parse_aliases("") == {}


@pytest.mark.parametrize(
    "text",
    ["aliases: [a, b]", "aliases:\n  x: just-a-string\n", "- not a mapping", "aliases: {x: [a]\n"],
)
def test_bad_aliases_files_are_errors(text: str) -> None:
    with pytest.raises(OwnersError):
        parse_aliases(text)


def test_simple_owners_expands_aliases_and_lowercases() -> None:
    parsed = parse_owners(
        "approvers: [sig-node, Erin]\nreviewers: ['@Frank']\nrequired_reviewers: [dave]\nlabels: [sig/node]\n"
        "options:\n  no_parent_owners: true\nemeritus_approvers: [old]\n",
        ALIASES,
    )
    assert parsed.no_parent_owners and not parsed.auto_approve_unowned_subfolders
    ((pattern, roles),) = parsed.entries
    assert pattern is None
    assert roles.approvers == {"alice", "bob", "erin"}
    assert roles.reviewers == {"frank"}
    assert roles.required_reviewers == {"dave"}
    assert roles.labels == {"sig/node"}


def test_full_owners_reads_filters_as_go_regexes() -> None:
    parsed = parse_owners(
        "options:\n  auto_approve_unowned_subfolders: true\nfilters:\n"
        "  '.*':\n    approvers: [alice]\n  '\\.go$':\n    approvers: [bob]\n    labels: [lang/go]\n"
        "  '[[:digit:]]+\\.txt$':\n    reviewers: [carol]\n  '(unclosed':\n    approvers: [nobody]\n"
    )
    assert parsed.auto_approve_unowned_subfolders
    by_pattern = {None if p is None else p.pattern: r for p, r in parsed.entries}
    assert set(by_pattern) == {None, "\\.go$", "[0-9]+\\.txt$"}  # `.*` applies to all; the bad regex is skipped
    assert by_pattern[None].approvers == {"alice"}
    assert by_pattern["\\.go$"].labels == {"lang/go"}


def test_simple_lists_win_over_filters_and_empty_files_are_empty() -> None:
    both = parse_owners("approvers: [alice]\nfilters:\n  '\\.go$':\n    approvers: [bob]\n")
    assert [r.approvers for _, r in both.entries] == [{"alice"}]
    assert parse_owners("").entries == ()
    assert parse_owners("# only a comment\n").entries == ()


@pytest.mark.parametrize(
    "text", ["approvers: alice", "- alice", "filters: [a]", "filters:\n  x: [a]\n", "options: yes", "approvers: [a"]
)
def test_bad_owners_files_are_errors(text: str) -> None:
    with pytest.raises(OwnersError):
        parse_owners(text)


@pytest.mark.parametrize(
    ("path", "want"),
    [("a.go", [""]), ("a/b/c.go", ["a/b", "a", ""]), ("/x/y", ["x", ""])],
)
def test_ancestors(path: str, want: list[str]) -> None:
    assert ancestors(path) == want


def test_owners_dirs_are_every_ancestor_once() -> None:
    assert owners_dirs(["a/b/c.go", "a/d.go", "README.md"]) == ["", "a", "a/b"]


# --- resolution ---------------------------------------------------------------------------------------------------

TREE = repo_owners(
    root="approvers: [root-approver]\nreviewers: [root-reviewer]\n",
    pkg="approvers: [pkg-approver]\nlabels: [area/pkg]\n",
    pkg__util="reviewers: [util-reviewer]\n",  # no approvers: approval falls through to pkg
    pkg__api="approvers: [api-approver]\nlabels: [area/api]\n",
    vendor="options:\n  no_parent_owners: true\napprovers: [vendor-approver]\n",
    docs="filters:\n  '\\.md$':\n    approvers: [writer]\n  '.*':\n    reviewers: [docs-reviewer]\n",
    empty="options:\n  no_parent_owners: true\nreviewers: [empty-reviewer]\n",
)


@pytest.mark.parametrize(
    ("path", "nearest", "approvers", "leaf"),
    [
        ("main.go", "", {"root-approver"}, {"root-approver"}),
        ("pkg/a.go", "pkg", {"pkg-approver", "root-approver"}, {"pkg-approver"}),
        ("pkg/util/x/y.go", "pkg", {"pkg-approver", "root-approver"}, {"pkg-approver"}),
        ("pkg/api/v1/types.go", "pkg/api", {"api-approver", "pkg-approver", "root-approver"}, {"api-approver"}),
        ("vendor/lib/x.go", "vendor", {"vendor-approver"}, {"vendor-approver"}),  # no_parent_owners stops the walk
        ("docs/guide.md", "docs", {"writer", "root-approver"}, {"writer"}),
        ("docs/diagram.png", "", {"root-approver"}, {"root-approver"}),  # the filter does not match
        ("empty/x.go", "", {"root-approver"}, {"root-approver"}),  # no_parent_owners with nothing below goes on up
    ],
)
def test_approvers_for_a_file(path: str, nearest: str, approvers: set[str], leaf: set[str]) -> None:
    assert TREE.approver_owners_for(path) == nearest
    assert TREE.approvers(path) == approvers
    assert TREE.leaf_approvers(path) == leaf


def test_reviewers_labels_and_top_level() -> None:
    assert TREE.reviewers("pkg/util/z.go") == {"util-reviewer", "root-reviewer"}
    assert TREE.leaf_reviewers("pkg/util/z.go") == {"util-reviewer"}
    assert TREE.reviewer_owners_for("pkg/util/z.go") == "pkg/util"
    assert TREE.reviewers("empty/z.go") == {"empty-reviewer"}  # stops at no_parent_owners once it found someone
    assert TREE.labels_for("pkg/api/x.go") == {"area/api", "area/pkg"}
    assert TREE.top_level_approvers() == {"root-approver"}
    assert TREE.is_no_parent_owners("vendor") and not TREE.is_no_parent_owners("pkg")


def test_only_collaborators_keep_their_roles() -> None:
    cut = TREE.only(["Pkg-Approver", "util-reviewer"])
    assert cut.approvers("pkg/a.go") == {"pkg-approver"}
    assert cut.approvers("main.go") == frozenset()
    assert cut.approver_owners_for("main.go") == ""
    assert cut.reviewers("pkg/util/z.go") == {"util-reviewer"}
    assert cut.labels_for("pkg/a.go") == {"area/pkg"}  # labels are not people


# --- the loader, through ghproxy ----------------------------------------------------------------------------------


async def test_loader_reads_owners_at_a_commit_and_caches_per_commit(world: World) -> None:
    pushed = await world.act(
        "push",
        as_="alice",
        branch="main",
        files={
            "OWNERS_ALIASES": "aliases:\n  core: [alice, bob]\n",
            "OWNERS": "approvers: [core]\n",
            "lib/OWNERS": "options:\n  no_parent_owners: true\napprovers: [carol]\n",
            "lib/deep/code.py": "x = 1\n",
            "HANDBOOK": "approvers: [nobody]\n",
        },
    )
    sha = pushed["sha"]
    assert world.gh is not None
    loader = OwnersLoader()
    owners = await loader.load(world.gh, ORG, REPO, sha, ["lib/deep/code.py", "src/app.py"])
    assert owners.approvers("src/app.py") == {"alice", "bob"}
    assert owners.approvers("lib/deep/code.py") == {"carol"}
    assert set(owners.files) == {"", "lib"}

    asked = len((await world.get("/_sim/requests"))["requests"])
    again = await loader.load(world.gh, ORG, REPO, sha, ["lib/deep/code.py"])
    assert again.approvers("lib/deep/code.py") == {"carol"}
    assert len((await world.get("/_sim/requests"))["requests"]) == asked  # answered from the per-commit cache

    renamed = await loader.load(world.gh, ORG, REPO, sha, ["x.py"], Filenames(owners="HANDBOOK"))
    assert renamed.approvers("x.py") == {"nobody"}

    await world.act("push", as_="alice", branch="main", files={"OWNERS": "approvers: [dave]\n"})
    assert (await loader.load(world.gh, ORG, REPO, sha, ["src/app.py"])).approvers("src/app.py") == {"alice", "bob"}


async def test_loader_ignores_a_broken_owners_file(world: World) -> None:
    pushed = await world.act(
        "push", as_="alice", branch="main", files={"OWNERS": "approvers: alice\n", "a/OWNERS": "approvers: [bob]\n"}
    )
    assert world.gh is not None
    owners = await OwnersLoader().load(world.gh, ORG, REPO, pushed["sha"], ["a/x.py", "y.py"])
    assert owners.approvers("a/x.py") == {"bob"}
    assert owners.approvers("y.py") == frozenset()
