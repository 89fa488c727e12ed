"""The seeded dataset is deterministic and consistent."""

from __future__ import annotations

from ghsim import gitobj
from ghsim.config import SimConfig
from ghsim.data import generate


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = generate(SimConfig()), generate(SimConfig()), generate(SimConfig(seed=2))
    ra, rb, rc = (d.repo("org0", "repo0") for d in (a, b, c))
    assert ra and rb and rc
    assert ra.branches == rb.branches
    assert ra.branches != rc.branches


def test_shape() -> None:
    data = generate(SimConfig(orgs=2, repos=3, prs_per_repo=4, issues_per_repo=2))
    assert sorted(data.repos) == [f"org{k}/repo{r}" for k in range(2) for r in range(3)]
    assert [r.info.private for r in data.org_repos("org1")] == [False, False, True]
    repo = data.repo("org0", "repo0")
    assert repo is not None
    assert [i.number for i in repo.pulls()] == [1, 2, 3, 4]
    assert len(repo.issues) == 6
    blob = next(iter(repo.blobs))
    assert gitobj.blob_sha(repo.blobs[blob]) == blob


def test_git_blob_sha_matches_git() -> None:
    # `printf 'hello\n' | git hash-object --stdin`
    assert gitobj.blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
