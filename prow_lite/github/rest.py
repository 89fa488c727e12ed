"""The GitHub endpoints Prow's components use, written once on top of `request` and `paginate`.

Path parts are percent-encoded here (a label such as `do-not-merge/hold` is one segment). Behaviours follow Prow's
Go client (pkg/github/client.go): 404s that mean "no" are answers, assignment checks the result, review requests
fall back to one login at a time on 422, status descriptions are cut to 140 characters.
"""

from __future__ import annotations

import abc
import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote

from prow_lite.github.errors import ExtraUsers, GitHubClientError, GitHubError, MissingUsers
from prow_lite.github.protocol import truncate_description

Json = dict[str, Any]


class Answer(Protocol):
    @property
    def status(self) -> int: ...

    def json(self) -> Any: ...


def _q(part: str | int) -> str:
    return quote(str(part), safe="")


def _repo(org: str, repo: str) -> str:
    return f"/repos/{_q(org)}/{_q(repo)}"


def _split_reviewers(org: str, logins: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Users, teams of `org` (written `org/team`), and teams of other orgs (which cannot review here)."""
    users, teams, foreign = [], [], []
    for login in logins:
        team_org, slash, team = login.partition("/")
        if not slash:
            users.append(login)
        elif team_org.lower() == org.lower() and team:
            teams.append(team)
        else:
            foreign.append(login)
    return users, teams, foreign


def _reviewers_body(users: list[str], teams: list[str]) -> Json:
    body: Json = {"reviewers": users}
    if teams:
        body["team_reviewers"] = teams
    return body


def _logins(users: Any) -> set[str]:
    return {str(u.get("login", "")).lower() for u in users or () if isinstance(u, dict)}


class RestMethods(abc.ABC):
    """GitHub endpoints as coroutines returning parsed JSON; subclasses provide `request` and `paginate`."""

    @abc.abstractmethod
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        accept: str | None = None,
        expect: Sequence[int] | None = None,
    ) -> Answer: ...

    @abc.abstractmethod
    async def paginate(
        self, path: str, params: Mapping[str, Any] | None = None, *, accept: str | None = None, key: str | None = None
    ) -> list[Any]: ...

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs)).json()

    # --- repositories and git ---------------------------------------------------------------------------------

    async def get_repo(self, org: str, repo: str) -> Json:
        result: Json = await self._json("GET", _repo(org, repo))
        return result

    async def get_branch(self, org: str, repo: str, branch: str) -> Json:
        result: Json = await self._json("GET", f"{_repo(org, repo)}/branches/{quote(branch, safe='/')}")
        return result

    async def get_ref(self, org: str, repo: str, ref: str) -> str:
        """The SHA a ref points at; `ref` as GitHub spells it under refs/ (`heads/main`)."""
        found = await self._json("GET", f"{_repo(org, repo)}/git/ref/{quote(ref.removeprefix('refs/'), safe='/')}")
        return str(found["object"]["sha"])

    async def get_commit(self, org: str, repo: str, sha: str) -> Json:
        """The git commit object (`tree.sha`, `parents`, `message`)."""
        result: Json = await self._json("GET", f"{_repo(org, repo)}/git/commits/{_q(sha)}")
        return result

    async def get_file(self, org: str, repo: str, path: str, ref: str | None = None) -> bytes | None:
        """A file's bytes at `ref` (default branch when None), or None when there is no such file."""
        try:
            answer = await self.request(
                "GET",
                f"{_repo(org, repo)}/contents/{quote(path.strip('/'), safe='/')}",
                params={"ref": ref} if ref else None,
            )
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        found = answer.json()
        if not isinstance(found, dict) or found.get("type", "file") != "file":
            raise GitHubClientError(f"{org}/{repo}:{path} is not a file")
        if found.get("encoding") != "base64":
            raise GitHubClientError(f"{org}/{repo}:{path} came as {found.get('encoding')!r}, not base64 (too large?)")
        try:
            return base64.b64decode(str(found.get("content", "")))
        except binascii.Error as exc:
            raise GitHubClientError(f"{org}/{repo}:{path}: the content is not valid base64") from exc

    # --- pull requests ----------------------------------------------------------------------------------------

    async def get_pull(self, org: str, repo: str, number: int) -> Json:
        result: Json = await self._json("GET", f"{_repo(org, repo)}/pulls/{number}")
        return result

    async def list_pulls(self, org: str, repo: str, *, state: str = "open", base: str | None = None) -> list[Json]:
        return await self.paginate(f"{_repo(org, repo)}/pulls", {"state": state, "base": base})

    async def list_pull_files(self, org: str, repo: str, number: int) -> list[Json]:
        return await self.paginate(f"{_repo(org, repo)}/pulls/{number}/files")

    async def list_pull_commits(self, org: str, repo: str, number: int) -> list[Json]:
        return await self.paginate(f"{_repo(org, repo)}/pulls/{number}/commits")

    async def list_reviews(self, org: str, repo: str, number: int) -> list[Json]:
        return await self.paginate(f"{_repo(org, repo)}/pulls/{number}/reviews")

    async def request_reviewers(self, org: str, repo: str, number: int, logins: Sequence[str]) -> Json | None:
        """Ask for reviews (`org/team` names a team of `org`); the pull request as answered.

        GitHub refuses the whole request (422) if any login may not review; then each login is asked alone, as
        Prow does, and `MissingUsers` names the refused ones.
        """
        users, teams, missing = _split_reviewers(org, logins)
        if not users and not teams:
            if missing:
                raise MissingUsers("request a PR review from", missing)
            return None
        path = f"{_repo(org, repo)}/pulls/{number}/requested_reviewers"
        try:
            result: Json = await self._json("POST", path, json=_reviewers_body(users, teams), expect=(201,))
            return result
        except GitHubError as exc:
            if exc.status != 422:
                raise
        pull: Json | None = None
        for login in logins:
            one_user, one_team, bad = _split_reviewers(org, [login])
            if bad:
                continue
            try:
                pull = await self._json("POST", path, json=_reviewers_body(one_user, one_team), expect=(201,))
            except GitHubError as exc:
                if exc.status != 422:
                    raise
                missing.append(login)
        if missing:
            raise MissingUsers("request a PR review from", missing)
        return pull

    async def remove_review_requests(self, org: str, repo: str, number: int, logins: Sequence[str]) -> Json:
        """Withdraw review requests; `ExtraUsers` names logins still requested afterwards."""
        users, teams, _ = _split_reviewers(org, logins)
        path = f"{_repo(org, repo)}/pulls/{number}/requested_reviewers"
        pull: Json = await self._json("DELETE", path, json=_reviewers_body(users, teams), expect=(200,))
        still = _logins(pull.get("requested_reviewers"))
        extra = [login for login in users if login.lower() in still]
        if extra:
            raise ExtraUsers("remove the PR review request for", extra)
        return pull

    async def merge_pull(
        self,
        org: str,
        repo: str,
        number: int,
        sha: str,
        method: str = "merge",
        title: str | None = None,
        message: str | None = None,
    ) -> Json:
        """Merge only if the head is still `sha` (GitHub answers 409 otherwise, 405 when not mergeable)."""
        body: Json = {"sha": sha, "merge_method": method}
        if title is not None:
            body["commit_title"] = title
        if message is not None:
            body["commit_message"] = message
        result: Json = await self._json("PUT", f"{_repo(org, repo)}/pulls/{number}/merge", json=body, expect=(200,))
        return result

    # --- issues, labels, comments, assignees ------------------------------------------------------------------

    async def get_issue(self, org: str, repo: str, number: int) -> Json:
        result: Json = await self._json("GET", f"{_repo(org, repo)}/issues/{number}")
        return result

    async def search_issues(self, query: str, *, sort: str | None = None, order: str | None = None) -> list[Json]:
        return await self.paginate("/search/issues", {"q": query, "sort": sort, "order": order}, key="items")

    async def list_issue_labels(self, org: str, repo: str, number: int) -> list[str]:
        labels = await self.paginate(f"{_repo(org, repo)}/issues/{number}/labels")
        return [str(label["name"]) for label in labels]

    async def add_labels(self, org: str, repo: str, number: int, labels: Sequence[str]) -> list[str]:
        """Add labels (existing ones stay); the issue's label names afterwards."""
        now = await self._json("POST", f"{_repo(org, repo)}/issues/{number}/labels", json={"labels": list(labels)})
        return [str(label["name"]) for label in now]

    async def remove_label(self, org: str, repo: str, number: int, label: str) -> None:
        """Remove a label; one that is not there is already removed."""
        try:
            await self.request("DELETE", f"{_repo(org, repo)}/issues/{number}/labels/{_q(label)}", expect=(200, 204))
        except GitHubError as exc:
            if exc.status != 404:
                raise

    async def list_repo_labels(self, org: str, repo: str) -> list[str]:
        return [str(label["name"]) for label in await self.paginate(f"{_repo(org, repo)}/labels")]

    async def list_comments(self, org: str, repo: str, number: int) -> list[Json]:
        return await self.paginate(f"{_repo(org, repo)}/issues/{number}/comments")

    async def create_comment(self, org: str, repo: str, number: int, body: str) -> Json:
        path = f"{_repo(org, repo)}/issues/{number}/comments"
        result: Json = await self._json("POST", path, json={"body": body}, expect=(201,))
        return result

    async def edit_comment(self, org: str, repo: str, comment_id: int, body: str) -> Json:
        path = f"{_repo(org, repo)}/issues/comments/{comment_id}"
        result: Json = await self._json("PATCH", path, json={"body": body})
        return result

    async def delete_comment(self, org: str, repo: str, comment_id: int) -> None:
        await self.request("DELETE", f"{_repo(org, repo)}/issues/comments/{comment_id}", expect=(204,))

    async def add_assignees(self, org: str, repo: str, number: int, logins: Sequence[str]) -> Json:
        """Assign users; `MissingUsers` names those GitHub did not assign (it skips who may not be assigned)."""
        path = f"{_repo(org, repo)}/issues/{number}/assignees"
        issue: Json = await self._json("POST", path, json={"assignees": list(logins)}, expect=(201,))
        assigned = _logins(issue.get("assignees"))
        missing = [login for login in logins if login.lower() not in assigned]
        if missing:
            raise MissingUsers("assign", missing)
        return issue

    async def remove_assignees(self, org: str, repo: str, number: int, logins: Sequence[str]) -> Json:
        """Unassign users; `ExtraUsers` names those still assigned afterwards."""
        path = f"{_repo(org, repo)}/issues/{number}/assignees"
        issue: Json = await self._json("DELETE", path, json={"assignees": list(logins)}, expect=(200,))
        assigned = _logins(issue.get("assignees"))
        extra = [login for login in logins if login.lower() in assigned]
        if extra:
            raise ExtraUsers("unassign", extra)
        return issue

    # --- statuses ---------------------------------------------------------------------------------------------

    async def create_status(
        self,
        org: str,
        repo: str,
        sha: str,
        state: str,
        context: str,
        description: str = "",
        target_url: str = "",
    ) -> Json:
        """Set a commit status; the description is cut to GitHub's 140 characters as Prow cuts it."""
        body: Json = {"state": state, "context": context}
        if description:
            body["description"] = truncate_description(description)
        if target_url:
            body["target_url"] = target_url
        result: Json = await self._json("POST", f"{_repo(org, repo)}/statuses/{_q(sha)}", json=body, expect=(201,))
        return result

    async def list_statuses(self, org: str, repo: str, ref: str) -> list[Json]:
        return await self.paginate(f"{_repo(org, repo)}/commits/{quote(ref, safe='/')}/statuses")

    async def combined_status(self, org: str, repo: str, ref: str) -> Json:
        path = f"{_repo(org, repo)}/commits/{quote(ref, safe='/')}/status"
        result: Json = await self._json("GET", path, params={"per_page": 100})
        return result

    # --- people -----------------------------------------------------------------------------------------------

    async def is_member(self, org: str, user: str) -> bool:
        """Org membership (204 yes; 404, or 302 when the caller may not see members, no)."""
        if org.lower() == user.lower():
            return True  # Prow: a personal repository's owner counts as its org's member
        answer = await self.request("GET", f"/orgs/{_q(org)}/members/{_q(user)}", expect=(204, 404, 302))
        return answer.status == 204

    async def is_collaborator(self, org: str, repo: str, user: str) -> bool:
        """Whether `user` has access to the repository.

        Reads the collaborator list, as Prow does behind ghproxy: GitHub's 204 check has no ETag, so every call
        would cost a request, while the list is revalidated for free.
        """
        if org.lower() == user.lower():
            return True
        collaborators = await self.paginate(f"{_repo(org, repo)}/collaborators")
        return user.lower() in _logins(collaborators)

    async def collaborator_permission(self, org: str, repo: str, user: str) -> str:
        """The user's role: admin, maintain, write, triage, read or none."""
        found = await self._json("GET", f"{_repo(org, repo)}/collaborators/{_q(user)}/permission")
        return str(found.get("role_name") or found.get("permission") or "none")

    async def team_members(self, org: str, team_slug: str) -> list[str]:
        members = await self.paginate(f"/orgs/{_q(org)}/teams/{_q(team_slug)}/members")
        return [str(m["login"]) for m in members]
