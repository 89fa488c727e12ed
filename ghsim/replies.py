"""Helpers route handlers share: who is asking, the API base URL, JSON answers, errors and pages."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import hdrs, web

from ghsim import pagination
from ghsim.auth import ANONYMOUS, Viewer
from ghsim.models import Permission
from ghsim.render import Urls, http_date
from ghsim.state import STATE, SimState
from ghsim.store import RepoStore

DOCS = "https://docs.github.com/rest"
VIEWER_KEY = web.RequestKey("ghsim_viewer", Viewer)


class ApiError(Exception):
    """An answer in GitHub's error shape: `{"message": ..., "documentation_url": ...}`."""

    def __init__(self, status: int, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def state(request: web.Request) -> SimState:
    return request.app[STATE]


def viewer(request: web.Request) -> Viewer:
    found: Viewer = request.get(VIEWER_KEY, ANONYMOUS)
    return found


def api_base(request: web.Request) -> str:
    configured = state(request).config.api_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


def urls(request: web.Request) -> Urls:
    return Urls(api_base(request))


def dumps(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def reply(data: object, status: int = 200, last_modified: int | None = None) -> web.Response:
    resp = web.Response(body=dumps(data), status=status, content_type="application/json", charset="utf-8")
    if last_modified is not None:
        resp.headers[hdrs.LAST_MODIFIED] = http_date(last_modified)
    return resp


def no_content() -> web.Response:
    return web.Response(status=204)


def error_body(status: int, message: str, extra: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message, **(extra or {}), "documentation_url": DOCS}
    return reply(body, status=status)


def paged(request: web.Request, items: list[Any], last_modified: int | None = None) -> web.Response:
    """One page of `items` with a `Link` header pointing at the others."""
    page = pagination.parse(request.query)
    resp = reply(pagination.slice_page(items, page), last_modified=last_modified)
    link = pagination.link_header(api_base(request), request.path, list(request.query.items()), page, len(items))
    if link:
        resp.headers[hdrs.LINK] = link
    return resp


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as exc:
        raise ApiError(400, "Problems parsing JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    return body


def repo_for(request: web.Request, need: Permission = Permission.READ) -> tuple[RepoStore, Permission]:
    """The repository named in the path, checked against the viewer's role.

    Without read access the repository does not exist (404, as GitHub hides private repos); with read but not
    `need` the answer is 403 (401 when anonymous).
    """
    sim = state(request)
    repo = sim.data.repo(request.match_info["owner"], request.match_info["repo"])
    who = viewer(request)
    if repo is None:
        raise not_found()
    role = sim.data.permission(repo, who.login, who.seeded)
    if not role.at_least(Permission.READ):
        raise not_found()
    if not role.at_least(need):
        if who.anonymous:
            raise ApiError(401, "Requires authentication")
        raise ApiError(403, f"Must have {need.value} access to repository.")
    return repo, role


def int_param(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError as exc:
        raise not_found() from exc
