"""ghsim's JSON shapes and headers against real GitHub responses recorded by PyGithub.

The recordings (tests/ReplayData/*.txt in PyGithub's sdist) are fetched from PyPI at test time with pip and
cached in the temp directory; nothing recorded is committed. Each recording is blocks of: scheme, method, host,
port, path, request headers, request body, status, response headers (a Python list of pairs), response body.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ghsim.app import make_app
from ghsim.config import SimConfig

pytestmark = pytest.mark.network
PYGITHUB = "PyGithub==2.10.0"
CACHE = Path(tempfile.gettempdir()) / "ghsim-conformance-pygithub-2.10.0"
Client = TestClient[web.Request, web.Application]


@dataclass(frozen=True, slots=True)
class Recording:
    method: str
    path: str
    status: int
    headers: dict[str, str]  # lower-cased names
    body: Any


def parse(text: str) -> list[Recording]:
    lines = text.split("\n")
    out: list[Recording] = []
    i = 0
    while i + 9 < len(lines):
        if lines[i] not in ("http", "https"):
            i += 1
            continue
        headers = {k.lower(): v for k, v in ast.literal_eval(lines[i + 8])}
        try:
            body = json.loads(lines[i + 9]) if lines[i + 9] else None
        except ValueError:
            body = None
        out.append(Recording(lines[i + 1], lines[i + 4], int(lines[i + 7]), headers, body))
        i += 10
    return out


@pytest.fixture(scope="session")
def replay_dir() -> Path:
    target = CACHE / "ReplayData"
    if target.is_dir() and any(target.iterdir()):
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", PYGITHUB, "-d", str(CACHE)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"could not download {PYGITHUB} sdist from PyPI for its recordings: {exc}")
    archive = next(CACHE.glob("*.tar.gz"), None)
    if archive is None:
        pytest.skip(f"pip downloaded no sdist for {PYGITHUB}")
    target.mkdir(exist_ok=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if "/tests/ReplayData/" in member.name and member.isfile():
                extracted = tar.extractfile(member)
                if extracted is not None:
                    (target / Path(member.name).name).write_bytes(extracted.read())
    return target


def recorded(replay_dir: Path, file: str, path: str) -> Recording:
    for rec in parse((replay_dir / file).read_text(encoding="utf-8")):
        if rec.method == "GET" and rec.path == path:
            return rec
    raise AssertionError(f"{file} has no GET {path}")


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    file: str
    recorded_path: str
    sim_path: str
    # Recorded keys ghsim legitimately leaves out (features it does not simulate).
    skip: frozenset[str] = frozenset()
    modern_headers: bool = False  # the recording has today's header set (x-ratelimit-resource, vary, ...)


CASES = [
    Case(
        "repository",
        "Artifact.setUp.txt",
        "/repos/transmission-web-control/transmission-web-control",
        "/repos/org0/repo0",
        frozenset(
            {
                "security_and_analysis",
                "temp_clone_token",
                "allow_update_branch",
                "use_squash_pr_title_as_default",
                "squash_merge_commit_message",
                "squash_merge_commit_title",
                "merge_commit_message",
                "merge_commit_title",
            }
        ),
        modern_headers=True,
    ),
    Case(
        "pull request",
        "CompletableGithubObjectWithPaginatedProperty.testPullCommitsFiles.txt",
        "/repos/PyGithub/PyGithub/pulls/3370",
        "/repos/org0/repo0/pulls/1",
        modern_headers=True,
    ),
    Case(
        "issue",
        "Issue.setUp.txt",
        "/repos/PyGithub/PyGithub/issues/28",
        "/repos/org0/repo0/issues/9",
        frozenset({"issue_dependencies_summary", "sub_issues_summary", "type"}),
        modern_headers=True,
    ),
    Case(
        "issue comments",
        "Issue.testGetComments.txt",
        "/repos/PyGithub/PyGithub/issues/28/comments",
        "/repos/org0/repo0/issues/1/comments",
    ),
    Case(
        "issue labels",
        "Issue.testAddAndRemoveLabels.txt",
        "/repos/PyGithub/PyGithub/issues/28/labels",
        "/repos/org0/repo0/labels",
    ),
    Case(
        "pull files",
        "ExposeAllAttributes.testAllClasses.txt",
        "/repos/jacquev6/PyGithub/pulls/31/files",
        "/repos/org0/repo0/pulls/1/files",
    ),
    Case(
        "combined status",
        "CommitCombinedStatus.setUp.txt",
        "/repos/edx/edx-platform/commits/74e70119a23fa3ffb3db19d4590eccfebd72b659/status",
        "/repos/org0/repo0/commits/main/status",
    ),
    Case("rate limit", "RateLimitOverview.setUp.txt", "/rate_limit", "/rate_limit", modern_headers=True),
    Case(
        "branch",
        "Branch.setUp.txt",
        "/repos/jacquev6/PyGithub/branches/topic/RewriteWithGeneratedCode",
        "/repos/org0/repo0/branches/main",
    ),
    Case(
        "git ref",
        "Repository.testGetGitRefWithIssue102Reverted.txt",
        "/repos/PyGithub/PyGithub/git/refs/heads/master",
        "/repos/org0/repo0/git/refs/heads/main",
    ),
    Case(
        "git commit",
        "GitCommit.setUp.txt",
        "/repos/PyGithub/PyGithub/git/commits/3d84a47a88f6757514cb3ee91b829f53ba09e7e0",
        "/repos/org0/repo0/git/commits/{main}",
    ),
    Case(
        "reviews",
        "PullRequestReview.testAttributes.txt",
        "/repos/PyGithub/PyGithub/pulls/538/reviews",
        "/repos/org0/repo0/pulls/1/reviews",
    ),
    Case(
        "contents",
        "ExposeAllAttributes.testAllClasses.txt",
        "/repos/jacquev6/PyGithub/contents/README.rst",
        "/repos/org0/repo0/contents/README.md",
        frozenset({"download_url"}),
    ),
]

# `resources` of /rate_limit: ghsim simulates core, search and graphql only.
RESOURCE_KEYS = {"core", "search", "graphql"}
HEADERS = [
    "etag",
    "cache-control",
    "vary",
    "content-type",
    "x-github-media-type",
    "x-github-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-used",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
]


def first(body: Any) -> Any:
    return body[0] if isinstance(body, list) else body


@pytest.fixture
async def client(aiohttp_client: Callable[[web.Application], Awaitable[Client]]) -> Client:
    return await aiohttp_client(make_app(SimConfig()))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_shape_and_headers(case: Case, replay_dir: Path, client: Client) -> None:
    rec = recorded(replay_dir, case.file, case.recorded_path)
    headers = {"Authorization": "token sim_alice"}
    sim_path = case.sim_path
    if "{main}" in sim_path:
        ref = await (await client.get("/repos/org0/repo0/git/refs/heads/main", headers=headers)).json()
        sim_path = sim_path.replace("{main}", ref["object"]["sha"])
    if case.name == "issue comments":
        await client.post("/_sim/mutate", json={"repo": "org0/repo0", "kind": "comment", "number": 1})
    resp = await client.get(sim_path, headers=headers)
    assert resp.status == rec.status == 200
    mine, theirs = first(await resp.json()), first(rec.body)
    assert isinstance(mine, dict) and isinstance(theirs, dict)
    missing = set(theirs) - set(mine) - case.skip
    assert not missing, f"{case.name}: keys GitHub sends that ghsim lacks: {sorted(missing)}"
    for key, value in theirs.items():
        # Nested objects: the same keys one level down (user, head, base, commit, _links, ...).
        if isinstance(value, dict) and isinstance(mine.get(key), dict) and key not in ("resources", "permissions"):
            nested = set(value) - set(mine[key]) - {"protection", "required_status_checks"}
            if key in ("user", "owner", "author", "creator") and mine[key].get("login"):
                nested -= {"name", "email", "date"}
            assert not nested, f"{case.name}.{key}: missing {sorted(nested)}"
    if case.name == "rate limit":
        assert set(mine["resources"]) >= RESOURCE_KEYS
        assert set(theirs["resources"]["core"]) <= set(mine["resources"]["core"])
    if case.modern_headers:
        want = [h for h in HEADERS if h in rec.headers]
        assert set(want) >= {"cache-control", "x-ratelimit-remaining"}
        got = {k.lower() for k in resp.headers}
        assert not [h for h in want if h not in got], f"{case.name}: missing headers"
        if "last-modified" in rec.headers:
            assert "Last-Modified" in resp.headers
        # Recordings fold the Vary lines into one value; ghsim sends GitHub's two lines.
        assert len(resp.headers.getall("Vary")) == 2
        vary = {v.strip() for line in resp.headers.getall("Vary") for v in line.split(",")}
        assert {v.strip() for v in rec.headers["vary"].split(",")} <= vary
