"""GitHub App endpoints (JWT only), the installation token's own endpoint, and what each credential may reach.

`scope` (a middleware inside the accounting one) keeps a JWT to the app endpoints and those endpoints to JWTs, and
makes repository roles follow the installation token of the request being handled (see `ScopedDataset`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiohttp import hdrs, web

from ghsim import apps, pagination, render
from ghsim.accounting import MUTATIVE_METHODS
from ghsim.apps import App, Grant, Installation
from ghsim.models import Permission
from ghsim.render import HTML, Json, Urls, iso
from ghsim.replies import ApiError, api_base, int_param, json_body, not_found, paged, reply, state, urls, viewer
from ghsim.routes_repos import repo_json
from ghsim.state import SimState
from ghsim.store import RepoStore

routes = web.RouteTableDef()
APP = "/app"
INSTALLATIONS = "/app/installations"
INSTALLATION = "/app/installations/{installation_id}"
ACCESS_TOKENS = INSTALLATION + "/access_tokens"
REPO_INSTALLATION = "/repos/{owner}/{repo}/installation"
ORG_INSTALLATION = "/orgs/{org}/installation"
USER_INSTALLATION = "/users/{username}/installation"
JWT_ROUTES = frozenset(
    {APP, INSTALLATIONS, INSTALLATION, ACCESS_TOKENS, REPO_INSTALLATION, ORG_INSTALLATION, USER_INSTALLATION}
)
NOT_FOR_INTEGRATIONS = "Resource not accessible by integration"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The grant of the installation token whose request is being handled (set by `scope` for that request only).
GRANT: ContextVar[Grant | None] = ContextVar("ghsim_installation_grant", default=None)


def _credential_role(repo: RepoStore, login: str | None) -> Permission | None:
    """An installation token's reach depends on the token (its installation, the repositories it was narrowed
    to), not only on its bot's login; `scope` puts the grant of the token being served in GRANT."""
    grant = GRANT.get()
    if grant is not None and login == grant.bot.login:
        return grant.role(repo.info)
    return None


def install(sim: SimState) -> None:
    """Seed the app and its installations; scope repository roles to installation tokens."""
    sim.apps = apps.seed(sim.data)
    sim.data.role_of_credential = _credential_role


def _template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else ""


@web.middleware
async def scope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """GitHub's rules for app credentials, before the handler runs."""
    who = viewer(request)
    app_endpoint = _template(request) in JWT_ROUTES
    if app_endpoint and who.app is None:
        raise ApiError(401, apps.NOT_DECODED)
    if who.app is not None and not app_endpoint:
        raise ApiError(401, "Bad credentials")
    grant = who.installation
    if grant is None:
        return await handler(request)
    if request.path.rstrip("/") == "/user":
        raise ApiError(403, NOT_FOR_INTEGRATIONS)
    if request.method in MUTATIVE_METHODS and "owner" in request.match_info and "repo" in request.match_info:
        # An integration writes only where its token carries write, even where any reader may (comments).
        repo = state(request).data.repo(request.match_info["owner"], request.match_info["repo"])
        if repo is not None and not grant.role(repo.info).at_least(Permission.WRITE):
            raise not_found() if grant.role(repo.info) is Permission.NONE else ApiError(403, NOT_FOR_INTEGRATIONS)
    token = GRANT.set(grant)
    try:
        return await handler(request)
    finally:
        GRANT.reset(token)


def _app(request: web.Request) -> App:
    found = viewer(request).app
    if found is None:
        raise ApiError(401, apps.NOT_DECODED)
    return found


def app_json(u: Urls, sim: SimState, app: App) -> Json:
    owner = sim.data.orgs[app.owner]
    installed = sum(1 for i in sim.apps.installations.values() if i.app_id == app.id)
    return {
        "id": app.id,
        "slug": app.slug,
        "client_id": app.client_id,
        "node_id": render.node_id("Integration", app.id),
        "owner": render.user(u, render.org_user(owner)),
        "name": app.name,
        "description": "The simulator's GitHub App",
        "external_url": f"{HTML}/{app.owner}",
        "html_url": f"{HTML}/apps/{app.slug}",
        "created_at": iso(app.created_at),
        "updated_at": iso(app.created_at),
        "permissions": dict(apps.PERMISSIONS),
        "events": list(apps.EVENTS),
        "installations_count": installed,
    }


def installation_json(u: Urls, sim: SimState, inst: Installation) -> Json:
    org = sim.data.orgs[inst.account]
    app = sim.apps.apps[inst.app_id]
    return {
        "id": inst.id,
        "account": render.user(u, render.org_user(org)),
        "repository_selection": "all",
        "access_tokens_url": f"{u.api}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{u.api}/installation/repositories",
        "html_url": f"{HTML}/organizations/{org.login}/settings/installations/{inst.id}",
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": org.id,
        "target_type": "Organization",
        "permissions": dict(apps.PERMISSIONS),
        "events": list(apps.EVENTS),
        "created_at": iso(inst.created_at),
        "updated_at": iso(inst.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def _installation_on(request: web.Request, account: str) -> web.Response:
    sim = state(request)
    inst = sim.apps.installation_of(_app(request), account)
    if inst is None:
        raise not_found()
    return reply(installation_json(urls(request), sim, inst))


@routes.get(APP)
async def get_app(request: web.Request) -> web.Response:
    return reply(app_json(urls(request), state(request), _app(request)))


@routes.get(INSTALLATIONS)
async def list_installations(request: web.Request) -> web.Response:
    sim, app = state(request), _app(request)
    mine = [i for i in sim.apps.installations.values() if i.app_id == app.id]
    return paged(request, [installation_json(urls(request), sim, i) for i in mine])


def _installation(request: web.Request) -> Installation:
    inst = state(request).apps.installations.get(int_param(request, "installation_id"))
    if inst is None or inst.app_id != _app(request).id:
        raise not_found()
    return inst


@routes.get(INSTALLATION)
async def get_installation(request: web.Request) -> web.Response:
    return reply(installation_json(urls(request), state(request), _installation(request)))


@routes.get(REPO_INSTALLATION)
async def repo_installation(request: web.Request) -> web.Response:
    repo = state(request).data.repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None:
        raise not_found()
    return _installation_on(request, repo.info.owner)


@routes.get(ORG_INSTALLATION)
async def org_installation(request: web.Request) -> web.Response:
    return _installation_on(request, request.match_info["org"])


@routes.get(USER_INSTALLATION)
async def user_installation(request: web.Request) -> web.Response:
    return _installation_on(request, request.match_info["username"])


def _repos_json(request: web.Request, grant: Grant) -> list[Json]:
    data = state(request).data
    reachable = [r for r in data.org_repos(grant.installation.account) if grant.covers(r.info)]
    return [repo_json(request, r, grant.role(r.info)) for r in reachable]


@routes.post(ACCESS_TOKENS)
async def create_access_token(request: web.Request) -> web.Response:
    sim = state(request)
    inst = _installation(request)
    try:
        wanted = apps.narrow(inst, await json_body(request), sim.data)
    except apps.MintError as exc:
        raise ApiError(422, exc.message) from exc
    token, grant = sim.apps.mint(inst, wanted, time.time() + sim.config.installation_token_ttl_s)
    sim.ledger.mint(inst.id)
    body: dict[str, Any] = {
        "token": token,
        "expires_at": apps.iso_z(grant.expires_at),
        "permissions": dict(grant.permissions),
        "repository_selection": grant.selection,
    }
    if grant.repos is not None:
        body["repositories"] = _repos_json(request, grant)
    return reply(body, status=201)


@routes.get("/installation/repositories")
async def installation_repositories(request: web.Request) -> web.Response:
    grant = viewer(request).installation
    if grant is None:
        raise ApiError(
            403,
            "You must authenticate with an installation access token in order to list repositories for an installation.",
        )
    every = _repos_json(request, grant)
    page = pagination.parse(request.query)
    resp = reply(
        {
            "total_count": len(every),
            "repository_selection": grant.selection,
            "repositories": pagination.slice_page(every, page),
        }
    )
    link = pagination.link_header(api_base(request), request.path, list(request.query.items()), page, len(every))
    if link:
        resp.headers[hdrs.LINK] = link
    return resp
