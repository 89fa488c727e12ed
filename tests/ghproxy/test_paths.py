"""Metric path templates, checked against Go ghproxy's own table (pkg/github/ghmetrics/ghpath_test.go)."""

from __future__ import annotations

import pytest

from ghproxy.paths import simplify


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/this/path/is/not/in/the/tree", "unmatched"),
        ("/repos/hello/world/its/a/party", "unmatched"),
        ("/repos/testOwner/testRepo/", "unmatched"),
        ("/repos", "/repos"),
        (
            "/repos/o/r/branches/b/protection/restrictions/users",
            "/repos/:owner/:repo/branches/:branch/protection/restrictions/users",
        ),
        ("/user/33322735/repos", "/user/:id/repos"),
        ("/users/testUser", "/users/:username"),
        ("/orgs/testOrg", "/orgs/:orgname"),
        ("/issues/testId", "/issues/:issueId"),
        ("/search/issues", "/search/issues"),
        ("/graphql", "/graphql"),
        ("/repos/o/r/issues/21342", "/repos/:owner/:repo/issues/:issueId"),
        ("/repos/o/r/issues/comments/321", "/repos/:owner/:repo/issues/comments/:commentId"),
        ("/repos/o/r/pulls/7/files", "/repos/:owner/:repo/pulls/:pullId/files"),
        ("/repos/o/r/git/refs/heads/release/1.0", "/repos/:owner/:repo/git/refs/heads/:ref"),
        ("/repos/o/r/issues/3/labels/area/api", "/repos/:owner/:repo/issues/:issueId/labels/:labelId"),
        ("/repositories/123/pulls/4", "/repositories/:repoId/pulls/:pullId"),
        ("/app/installations/9/access_tokens", "/app/installations/:id/access_tokens"),
        ("/rate_limit", "/rate_limit"),
        ("/", "/"),
    ],
)
def test_simplify(path: str, template: str) -> None:
    assert simplify(path) == template
