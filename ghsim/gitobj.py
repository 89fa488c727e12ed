"""Git object ids computed the way git does, so shas, trees and blobs hang together."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from ghsim.models import TreeEntry

TREE_MODE = "040000"  # as the REST API shows it; git hashes it as "40000"
FILE_MODE = "100644"


def _object_sha(kind: str, payload: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(payload)}\0".encode() + payload, usedforsecurity=False).hexdigest()


def blob_sha(content: bytes) -> str:
    return _object_sha("blob", content)


def build_tree(files: Mapping[str, str], sizes: Mapping[str, int], trees: dict[str, tuple[TreeEntry, ...]]) -> str:
    """Hash the tree for a flat `path -> blob sha` snapshot; store it and every subtree in `trees`."""
    children: dict[str, dict[str, str]] = {}
    entries: list[TreeEntry] = []
    for path, sha in files.items():
        head, sep, rest = path.partition("/")
        if sep:
            children.setdefault(head, {})[rest] = sha
        else:
            entries.append(TreeEntry(head, FILE_MODE, "blob", sha, sizes.get(sha, 0)))
    for name, sub in children.items():
        sub_sizes = {sha: sizes.get(sha, 0) for sha in sub.values()}
        entries.append(TreeEntry(name, TREE_MODE, "tree", build_tree(sub, sub_sizes, trees)))
    # git orders tree entries by name, with directories compared as if they ended in "/".
    entries.sort(key=lambda e: e.name + "/" if e.type == "tree" else e.name)
    payload = b"".join(f"{e.mode.lstrip('0')} {e.name}\0".encode() + bytes.fromhex(e.sha) for e in entries)
    sha = _object_sha("tree", payload)
    trees[sha] = tuple(entries)
    return sha


def commit_sha(tree: str, parents: tuple[str, ...], author: str, date: int, message: str) -> str:
    lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
    ident = f"{author} <{author}@users.noreply.github.com> {date} +0000"
    lines += [f"author {ident}", f"committer {ident}", "", message]
    return _object_sha("commit", "\n".join(lines).encode() + b"\n")
