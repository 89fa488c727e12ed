"""Which GitHub resources can never change: those addressed by a full commit or object SHA.

A stored answer for one of these is served without asking GitHub again (`X-Cache-Mode: IMMUTABLE`), saving the
round trip and secondary-limit points. The rules are deliberately narrow: only git objects by SHA, file contents at a
commit SHA, and comparisons between two commit SHAs. Anything that embeds data which can change (users, statuses,
check runs, pull requests, branch names, short SHAs) is not here.
"""

from __future__ import annotations

import re

_SHA = r"[0-9a-f]{40}"
_REPO = r"/repos/[^/]+/[^/]+"
_PATHS = (
    # git objects by SHA: the SHA is a hash of the content itself
    re.compile(rf"^{_REPO}/git/(?:blobs|trees|commits)/{_SHA}$"),
    # a comparison between two commits, both by full SHA
    re.compile(rf"^{_REPO}/compare/{_SHA}\.\.\.?{_SHA}$"),
)
_CONTENTS = re.compile(rf"^{_REPO}/contents(?:/.*)?$")
_REF = re.compile(rf"(?:^|&)ref={_SHA}(?:&|$)")
# Query parameters that change the representation only in ways that are themselves fixed for an object.
_TREE_QUERY = re.compile(r"^(?:recursive=(?:1|true))?$")


def is_immutable(method: str, path: str, raw_query: str) -> bool:
    """Whether a GET of this target names content that can never change."""
    if method != "GET":
        return False
    for pattern in _PATHS:
        if pattern.match(path):
            if "/git/trees/" in path:
                return bool(_TREE_QUERY.match(raw_query))
            return not raw_query
    if _CONTENTS.match(path) and "/../" not in path:
        # contents at a commit SHA; `ref` is the only parameter allowed beside it
        params = [p for p in raw_query.split("&") if p]
        return len(params) == 1 and bool(_REF.search(raw_query))
    return False
