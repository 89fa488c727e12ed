"""Request targets that must never be forwarded."""

from __future__ import annotations

import pytest

from ghproxy.guard import check


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("CONNECT", "api.github.com:443", 405),
        ("GET", "http://evil.example/x", 400),
        ("GET", "https://api.github.com/user", 400),
        ("GET", "evil.example:80", 400),
        ("OPTIONS", "*", 400),
        ("GET", "//evil.example/x", 400),
        ("GET", "/%2F/evil.example/x", 400),
        ("GET", "/repos/../../admin", 400),
        ("GET", "/repos/%2e%2e/x", 400),
        ("GET", "/repos/%2E%2E", 400),
        ("GET", "/./x", 400),
        ("GET", "/x%00y", 400),
        ("GET", "/x%0d%0aSet-Cookie:%20a", 400),
        ("GET", "/x\\..\\y", 400),
    ],
)
def test_refused(method: str, target: str, status: int) -> None:
    refusal = check(method, target)
    assert refusal is not None and refusal.status == status
    assert refusal.message


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/repos/o/r/pulls?state=open&per_page=100",
        "/repos/o/r/git/ref/heads/feature%2Fx",
        "/repos/o/r/contents/dir/a..b.txt",
        "/search/issues?q=repo:o/r+is:pr",
        "/repos/o/r/contents/x?ref=../y",  # dots in the query are the upstream's business
    ],
)
def test_allowed(target: str) -> None:
    assert check("GET", target) is None
