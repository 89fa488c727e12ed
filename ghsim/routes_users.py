"""Root, rate limit, users and orgs."""

from __future__ import annotations

import time

from aiohttp import web

from ghsim import render
from ghsim.accounting import Resource, TokenState, quota
from ghsim.models import Org, Permission, Team
from ghsim.replies import ApiError, api_base, no_content, not_found, paged, reply, state, urls, viewer

routes = web.RouteTableDef()


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    base = api_base(request)
    return reply(
        {
            "current_user_url": f"{base}/user",
            "issues_url": f"{base}/issues",
            "organization_url": f"{base}/orgs/{{org}}",
            "organization_repositories_url": f"{base}/orgs/{{org}}/repos{{?type,page,per_page,sort}}",
            "rate_limit_url": f"{base}/rate_limit",
            "repository_url": f"{base}/repos/{{owner}}/{{repo}}",
            "issue_search_url": f"{base}/search/issues?q={{query}}{{&page,per_page,sort,order}}",
            "user_url": f"{base}/users/{{user}}",
        }
    )


@routes.get("/rate_limit")
async def rate_limit(request: web.Request) -> web.Response:
    sim, who = state(request), viewer(request)
    token_state = sim.limits.get(who.token, TokenState())
    now = time.time()
    resources = {}
    for resource in Resource:
        q = quota(token_state, resource, now, sim.config, who.anonymous)
        resources[resource.value] = {
            "limit": q.limit,
            "used": q.used,
            "remaining": q.remaining,
            "reset": q.reset,
        }
    return reply({"resources": resources, "rate": resources["core"]})


def _public_repos(request: web.Request, owner: str) -> int:
    return sum(1 for r in state(request).data.org_repos(owner) if not r.info.private)


@routes.get("/user")
async def current_user(request: web.Request) -> web.Response:
    who = viewer(request)
    if who.user is None:
        raise ApiError(401, "Requires authentication")
    return reply(render.full_user(urls(request), who.user, 0), last_modified=who.user.created_at)


@routes.get("/users/{login}")
async def get_user(request: web.Request) -> web.Response:
    data = state(request).data
    login = request.match_info["login"]
    if login in data.users:
        found = data.users[login]
        return reply(render.full_user(urls(request), found, 0), last_modified=found.created_at)
    if login in data.orgs:
        org = data.orgs[login]
        return reply(render.org_full(urls(request), org, _public_repos(request, login)))
    who = viewer(request)
    if who.user is not None and who.login == login:
        return reply(render.full_user(urls(request), who.user, 0))
    raise not_found()


def _org(request: web.Request) -> Org:
    org = state(request).data.orgs.get(request.match_info["org"])
    if org is None:
        raise not_found()
    return org


@routes.get("/orgs/{org}")
async def get_org(request: web.Request) -> web.Response:
    org = _org(request)
    body = render.org_full(urls(request), org, _public_repos(request, org.login))
    return reply(body, last_modified=org.created_at)


@routes.get("/orgs/{org}/members")
async def org_members(request: web.Request) -> web.Response:
    org = _org(request)
    data = state(request).data
    return paged(request, [render.user(urls(request), data.users[m]) for m in org.members])


@routes.get("/orgs/{org}/members/{login}")
async def org_member(request: web.Request) -> web.Response:
    if request.match_info["login"] in _org(request).members:
        return no_content()
    raise not_found()


@routes.get("/orgs/{org}/teams")
async def org_teams(request: web.Request) -> web.Response:
    org = _org(request)
    if viewer(request).login not in org.members:
        raise not_found()
    return paged(request, [render.team(urls(request), org, t) for t in org.teams])


def _team(request: web.Request) -> tuple[Org, Team]:
    """The team in the path; like GitHub, teams are visible to org members only."""
    org = _org(request)
    found = next((t for t in org.teams if t.slug == request.match_info["slug"]), None)
    if found is None or viewer(request).login not in org.members:
        raise not_found()
    return org, found


def _team_role(org: Org, login: str) -> str:
    # Org owners are maintainers of every team.
    return "maintainer" if login in org.admins else "member"


@routes.get("/orgs/{org}/teams/{slug}/members")
async def team_members(request: web.Request) -> web.Response:
    org, team = _team(request)
    wanted = request.query.get("role", "all")
    data = state(request).data
    logins = [m for m in team.members if wanted == "all" or _team_role(org, m) == wanted]
    return paged(request, [render.user(urls(request), data.users[m]) for m in logins])


@routes.get("/orgs/{org}/teams/{slug}/memberships/{login}")
async def team_membership(request: web.Request) -> web.Response:
    org, team = _team(request)
    login = request.match_info["login"]
    if login not in team.members:
        raise not_found()
    url = f"{urls(request).api}/organizations/{org.id}/team/{team.id}/memberships/{login}"
    return reply({"url": url, "role": _team_role(org, login), "state": "active"})


@routes.get("/orgs/{org}/repos")
async def org_repos(request: web.Request) -> web.Response:
    from ghsim.routes_repos import repo_json

    org = _org(request)
    sim, who = state(request), viewer(request)
    visible = []
    for repo in sim.data.org_repos(org.login):
        role = sim.data.permission(repo, who.login, who.seeded)
        if role.at_least(Permission.READ):
            visible.append(repo_json(request, repo, role))
    return paged(request, visible)
