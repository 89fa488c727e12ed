"""Acting as a user (/_sim/act/...): the data it makes, the webhooks a user's day sends, GitHub's rights."""

from __future__ import annotations

import base64
from typing import Any

from tests.conftest import StartServer, StartSim
from tests.ghsim.test_webhooks import REPO, act, call, hooked, wait

ORG_REPO = "org0/repo0"


def files_of(sim: Any, number: int) -> dict[str, str]:
    listed = call(sim, "GET", f"{REPO}/pulls/{number}/files")[1]
    return {f["filename"]: f["status"] for f in listed}


def content(sim: Any, path: str, ref: str) -> str | None:
    status, body = call(sim, "GET", f"{REPO}/contents/{path}?ref={ref}")
    return base64.b64decode(body["content"]).decode() if status == 200 else None


def test_open_pull_with_files(start_sim: StartSim, start_server: StartServer) -> None:
    sim, rec = hooked(start_sim, start_server)
    readme = content(sim, "README.md", "main")
    files = {"src/new.py": "print('hi')\n", "README.md": "rewritten\n", "OWNERS": None}
    opened = act(sim, "pull", **{"as": "erin", "repo": ORG_REPO, "title": "New", "body": "/kind bug", "files": files})
    n, sha = opened["number"], opened["head_sha"]
    main = call(sim, "GET", f"{REPO}/git/refs/heads/main")[1]["object"]["sha"]
    assert (opened["head"], opened["base"], opened["base_sha"]) == ("erin-patch-1", "main", main)
    assert files_of(sim, n) == {"OWNERS": "removed", "README.md": "modified", "src/new.py": "added"}
    assert (content(sim, "src/new.py", sha), content(sim, "README.md", sha)) == ("print('hi')\n", "rewritten\n")
    assert content(sim, "OWNERS", sha) is None and content(sim, "README.md", "main") == readme
    pr = call(sim, "GET", f"{REPO}/pulls/{n}", token="sim_bob")[1]
    assert (pr["user"]["login"], pr["body"], pr["head"]["sha"], pr["changed_files"], pr["commits"]) == (
        "erin",
        "/kind bug",
        sha,
        3,
        1,
    )
    wait(sim)
    push, pull = rec.received()
    assert push.kind == ("push", None) and pull.kind == ("pull_request", "opened")
    assert (push.payload["ref"], push.payload["created"], push.payload["after"]) == (
        "refs/heads/erin-patch-1",
        True,
        sha,
    )
    assert pull.payload["pull_request"]["head"]["sha"] == sha and pull.payload["sender"]["login"] == "erin"
    again = call(sim, "POST", "/_sim/act/pull", {"as": "erin", "repo": ORG_REPO, "title": "x", "head": "erin-patch-1"})
    assert again[0] == 422  # no files
    taken = {"as": "erin", "repo": ORG_REPO, "title": "x", "head": "erin-patch-1", "files": {"a": "b"}}
    assert call(sim, "POST", "/_sim/act/pull", taken)[0] == 422


def test_push_to_a_pull_request_synchronizes_it(start_sim: StartSim, start_server: StartServer) -> None:
    sim, rec = hooked(start_sim, start_server)
    opened = act(sim, "pull", **{"as": "erin", "repo": ORG_REPO, "title": "T", "files": {"a.py": "1\n"}})
    n, first = opened["number"], opened["head_sha"]
    pushed = act(sim, "push", **{"as": "erin", "repo": ORG_REPO, "number": n, "files": {"a.py": "2\n", "b.py": "b\n"}})
    assert (pushed["before"], pushed["branch"]) == (first, "erin-patch-1")
    assert files_of(sim, n) == {"a.py": "added", "b.py": "added"}
    assert content(sim, "a.py", pushed["sha"]) == "2\n" and content(sim, "a.py", first) == "1\n"
    commits = call(sim, "GET", f"{REPO}/pulls/{n}/commits")[1]
    assert [c["sha"] for c in commits] == [first, pushed["sha"]]
    wait(sim)
    got = rec.received()
    assert [r.kind for r in got] == [
        ("push", None),
        ("pull_request", "opened"),
        ("push", None),
        ("pull_request", "synchronize"),
    ]
    push, sync = got[2].payload, got[3].payload
    assert (push["before"], push["after"], push["created"]) == (first, pushed["sha"], False)
    assert [(c["id"], c["modified"], c["added"]) for c in push["commits"]] == [(pushed["sha"], ["a.py"], ["b.py"])]
    assert (sync["before"], sync["after"], sync["pull_request"]["head"]["sha"]) == (first, pushed["sha"], pushed["sha"])
    # Pushing to someone else's PR needs write access; the author and writers may.
    denied = call(sim, "POST", "/_sim/act/push", {"as": "frank", "repo": ORG_REPO, "number": n, "files": {"c": "c"}})
    assert denied[0] == 403
    act(sim, "push", **{"as": "carol", "repo": ORG_REPO, "number": n, "files": {"c.py": "c\n"}})


def test_pushes_to_main_keep_pull_request_diffs_and_merge_both_sides(
    start_sim: StartSim, start_server: StartServer
) -> None:
    sim, rec = hooked(start_sim, start_server)
    opened = act(sim, "pull", **{"as": "erin", "repo": ORG_REPO, "title": "T", "files": {"a.py": "a\n"}})
    n = opened["number"]
    owners = "approvers:\n- carol\n"
    assert (
        call(sim, "POST", "/_sim/act/push", {"as": "erin", "repo": ORG_REPO, "branch": "main", "files": {}})[0] == 422
    )
    assert (
        call(sim, "POST", "/_sim/act/push", {"as": "erin", "repo": ORG_REPO, "branch": "main", "files": {"x": ""}})[0]
        == 403
    )
    on_main = act(sim, "push", **{"as": "alice", "repo": ORG_REPO, "branch": "main", "files": {"OWNERS": owners}})
    assert content(sim, "OWNERS", "main") == owners
    assert files_of(sim, n) == {"a.py": "added"}  # GitHub's three-dot diff: main's new commit is not the PR's
    assert len(call(sim, "GET", f"{REPO}/pulls/{n}/commits")[1]) == 1
    merged = act(sim, "merge", **{"as": "bob", "repo": ORG_REPO, "number": n, "sha": opened["head_sha"]})
    assert content(sim, "OWNERS", merged["sha"]) == owners and content(sim, "a.py", "main") == "a\n"
    pr = call(sim, "GET", f"{REPO}/pulls/{n}")[1]
    assert (pr["merged"], pr["state"], pr["merge_commit_sha"]) == (True, "closed", merged["sha"])
    new_branch = act(sim, "push", **{"as": "bob", "repo": ORG_REPO, "branch": "release", "files": {"v": "1\n"}})
    assert new_branch["before"] == "0" * 40
    wait(sim)
    kinds = [r.kind for r in rec.received()]
    assert kinds == [
        ("push", None),
        ("pull_request", "opened"),
        ("push", None),
        ("pull_request", "closed"),
        ("push", None),
        ("push", None),
    ]
    main_push = rec.received()[2].payload
    assert (main_push["ref"], main_push["after"], main_push["pusher"]["name"]) == (
        "refs/heads/main",
        on_main["sha"],
        "alice",
    )
    release = rec.received()[5].payload
    assert (release["ref"], release["created"], [c["added"] for c in release["commits"]]) == (
        "refs/heads/release",
        True,
        [["v"]],
    )


def test_conflicting_pull_requests(start_sim: StartSim, start_server: StartServer) -> None:
    sim, _ = hooked(start_sim, start_server)
    one = act(sim, "pull", **{"as": "carol", "repo": ORG_REPO, "title": "1", "files": {"README.md": "one\n"}})
    two = act(sim, "pull", **{"as": "erin", "repo": ORG_REPO, "title": "2", "files": {"README.md": "two\n"}})
    act(sim, "merge", **{"as": "bob", "repo": ORG_REPO, "number": one["number"]})
    pr = call(sim, "GET", f"{REPO}/pulls/{two['number']}")[1]
    assert (pr["mergeable"], pr["mergeable_state"]) == (False, "dirty")
    assert call(sim, "POST", "/_sim/act/merge", {"as": "bob", "repo": ORG_REPO, "number": two["number"]})[0] == 405
    act(sim, "push", **{"as": "erin", "repo": ORG_REPO, "number": two["number"], "files": {"README.md": "one\n"}})
    assert call(sim, "GET", f"{REPO}/pulls/{two['number']}")[1]["mergeable"] is True


def test_a_users_day_comments_reviews_labels_and_closing(start_sim: StartSim, start_server: StartServer) -> None:
    sim, rec = hooked(start_sim, start_server)
    n = act(sim, "pull", **{"as": "erin", "repo": ORG_REPO, "title": "T", "files": {"a.py": "a\n"}})["number"]
    made = act(sim, "comment", **{"as": "carol", "repo": ORG_REPO, "number": n, "body": "/lgtm"})
    assert made["html_url"].endswith(f"/issues/{n}#issuecomment-{made['id']}")
    own = call(sim, "POST", "/_sim/act/review", {"as": "erin", "repo": ORG_REPO, "number": n, "state": "APPROVE"})
    assert own[0] == 422 and "your own pull request" in own[1]["errors"][0]
    review = act(sim, "review", **{"as": "carol", "repo": ORG_REPO, "number": n, "state": "APPROVE", "body": "ok"})
    assert review["state"] == "APPROVED"
    assert act(sim, "labels", **{"as": "dave", "repo": ORG_REPO, "number": n, "add": ["lgtm", "approved"]}) == {
        "labels": ["lgtm", "approved"]
    }
    assert act(sim, "labels", **{"as": "dave", "repo": ORG_REPO, "number": n, "remove": ["LGTM"]}) == {
        "labels": ["approved"]
    }
    denied = call(sim, "POST", "/_sim/act/labels", {"as": "erin", "repo": ORG_REPO, "number": n, "add": ["lgtm"]})
    assert denied[0] == 403 and "triage" in denied[1]["message"]
    assert act(sim, "assign", **{"as": "bob", "repo": ORG_REPO, "number": n, "add": ["carol"]}) == {
        "assignees": ["carol"]
    }
    assert call(sim, "POST", "/_sim/act/close", {"as": "frank", "repo": ORG_REPO, "number": n})[0] == 403
    assert act(sim, "close", **{"as": "erin", "repo": ORG_REPO, "number": n}) == {"number": n, "state": "closed"}
    assert act(sim, "reopen", **{"as": "bob", "repo": ORG_REPO, "number": n}) == {"number": n, "state": "open"}
    issue = act(sim, "issue", **{"as": "frank", "repo": ORG_REPO, "title": "Flaky", "labels": ["kind/bug"]})
    assert call(sim, "GET", f"{REPO}/issues/{issue['number']}")[1]["labels"] == []  # readers cannot label
    wait(sim)
    got = rec.received()
    assert [r.kind for r in got] == [
        ("push", None),
        ("pull_request", "opened"),
        ("issue_comment", "created"),
        ("pull_request_review", "submitted"),
        ("pull_request", "labeled"),
        ("pull_request", "labeled"),
        ("pull_request", "unlabeled"),
        ("pull_request", "assigned"),
        ("pull_request", "closed"),
        ("pull_request", "reopened"),
        ("issues", "opened"),
    ]
    comment = got[2].payload
    assert comment["issue"]["pull_request"]["url"].endswith(f"/repos/org0/repo0/pulls/{n}")
    assert (comment["comment"]["body"], comment["sender"]["login"]) == ("/lgtm", "carol")
    assert (got[3].payload["review"]["state"], got[3].payload["review"]["body"]) == ("approved", "ok")
    assert [got[i].payload["label"]["name"] for i in (4, 5, 6)] == ["lgtm", "approved", "lgtm"]
    assert got[8].payload["pull_request"]["merged"] is False and got[8].payload["sender"]["login"] == "erin"


def test_a_new_login_becomes_a_user_with_default_rights(start_sim: StartSim, start_server: StartServer) -> None:
    sim, rec = hooked(start_sim, start_server)
    n = act(sim, "pull", **{"as": "newbie", "repo": ORG_REPO, "title": "First", "files": {"a": "a\n"}})["number"]
    assert call(sim, "GET", "/user", token="sim_newbie")[1]["login"] == "newbie"
    assert call(sim, "GET", f"{REPO}/pulls/{n}")[1]["user"]["login"] == "newbie"
    hidden = call(
        sim, "POST", "/_sim/act/pull", {"as": "newbie", "repo": "org0/repo2", "title": "x", "files": {"a": ""}}
    )
    assert hidden[0] == 404
    assert call(sim, "POST", "/_sim/act/comment", {"repo": ORG_REPO, "number": n, "body": "x"})[0] == 422
    wait(sim)
    assert rec.received()[1].payload["pull_request"]["author_association"] == "CONTRIBUTOR"
    assert rec.received()[1].payload["sender"]["login"] == "newbie"


def test_team_and_membership_endpoints(start_sim: StartSim) -> None:
    sim = start_sim()
    members = call(sim, "GET", "/orgs/org0/teams/reviewers/members", token="sim_bob")
    assert (members[0], [u["login"] for u in members[1]]) == (200, ["carol", "dave"])
    maintainers = call(sim, "GET", "/orgs/org0/teams/maintainers/members?role=maintainer", token="sim_bob")[1]
    assert [u["login"] for u in maintainers] == ["alice"]
    membership = call(sim, "GET", "/orgs/org0/teams/maintainers/memberships/bob", token="sim_carol")
    assert (membership[0], membership[1]["role"], membership[1]["state"]) == (200, "member", "active")
    assert call(sim, "GET", "/orgs/org0/teams/maintainers/memberships/carol", token="sim_bob")[0] == 404
    assert call(sim, "GET", "/orgs/org0/teams/reviewers/members", token="sim_erin")[0] == 404  # not a member
    assert call(sim, "GET", "/orgs/org0/teams/nope/members", token="sim_bob")[0] == 404
    assert call(sim, "GET", f"{REPO}/collaborators/carol", token="sim_bob")[0] == 204
    assert call(sim, "GET", f"{REPO}/collaborators/erin", token="sim_bob")[0] == 404
    assert call(sim, "GET", "/orgs/org0/members/dave", token="sim_bob")[0] == 204
    assert call(sim, "GET", "/orgs/org0/members/frank", token="sim_bob")[0] == 404
