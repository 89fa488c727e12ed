"""What counts as immutable: conservative, table-tested."""

from __future__ import annotations

import pytest

from ghproxy.immutable import is_immutable

SHA = "0123456789abcdef0123456789abcdef01234567"
SHA2 = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", f"/repos/o/r/git/blobs/{SHA}", ""),
        ("GET", f"/repos/o/r/git/trees/{SHA}", ""),
        ("GET", f"/repos/o/r/git/trees/{SHA}", "recursive=1"),
        ("GET", f"/repos/o/r/git/commits/{SHA}", ""),
        ("GET", f"/repos/o/r/compare/{SHA}...{SHA2}", ""),
        ("GET", f"/repos/o/r/compare/{SHA}..{SHA2}", ""),
        ("GET", "/repos/o/r/contents/OWNERS", f"ref={SHA}"),
        ("GET", "/repos/o/r/contents/docs/a.md", f"ref={SHA}"),
        ("GET", "/repos/o/r/contents", f"ref={SHA}"),
    ],
)
def test_immutable(method: str, path: str, query: str) -> None:
    assert is_immutable(method, path, query)


@pytest.mark.parametrize(
    ("method", "path", "query", "why"),
    [
        ("HEAD", f"/repos/o/r/git/blobs/{SHA}", "", "only GET"),
        ("GET", f"/repos/o/r/git/blobs/{SHA[:7]}", "", "short SHA"),
        ("GET", f"/repos/o/r/git/blobs/{SHA.upper()}", "", "not GitHub's spelling"),
        ("GET", "/repos/o/r/git/trees/main", "", "a branch moves"),
        ("GET", f"/repos/o/r/git/trees/{SHA}", "per_page=5", "unknown parameter"),
        ("GET", f"/repos/o/r/git/refs/heads/{SHA}", "", "refs move"),
        ("GET", f"/repos/o/r/commits/{SHA}", "", "embeds users, stats, verification"),
        ("GET", f"/repos/o/r/commits/{SHA}/status", "", "statuses are added"),
        ("GET", f"/repos/o/r/commits/{SHA}/statuses", "", "statuses are added"),
        ("GET", f"/repos/o/r/compare/main...{SHA}", "", "one end moves"),
        ("GET", "/repos/o/r/contents/OWNERS", "ref=main", "a branch moves"),
        ("GET", "/repos/o/r/contents/OWNERS", "", "default branch moves"),
        ("GET", "/repos/o/r/contents/OWNERS", f"ref={SHA}&per_page=1", "unknown parameter"),
        ("GET", "/repos/o/r/pulls/1/files", "", "a PR's files change with pushes"),
        ("GET", "/repos/o/r", "", "anything else"),
    ],
)
def test_not_immutable(method: str, path: str, query: str, why: str) -> None:
    assert not is_immutable(method, path, query), why
