"""The simulator's own control surface under /_sim/ (documented in ghsim/app.py)."""

from __future__ import annotations

from aiohttp import web

from ghsim.replies import ApiError, json_body, reply, state

routes = web.RouteTableDef()
MUTATIONS = ("touch_pr", "touch_issue", "push_pr", "comment")


@routes.get("/_sim/ledger")
async def ledger(request: web.Request) -> web.Response:
    return reply(state(request).ledger.as_json())


@routes.get("/_sim/requests")
async def requests(request: web.Request) -> web.Response:
    return reply(state(request).ledger.requests_json())


@routes.get("/_sim/representations")
async def representations(request: web.Request) -> web.Response:
    return reply({"distinct": len(state(request).ledger.representations)})


@routes.get("/_sim/apps")
async def apps(request: web.Request) -> web.Response:
    return reply(state(request).apps.as_json())


@routes.post("/_sim/reset")
async def reset(request: web.Request) -> web.Response:
    state(request).reset()
    return reply({"ok": True})


@routes.post("/_sim/mutate")
async def mutate(request: web.Request) -> web.Response:
    body = await json_body(request)
    data = state(request).data
    owner, _, name = str(body.get("repo", "")).partition("/")
    repo = data.repo(owner, name)
    kind = body.get("kind")
    if repo is None or kind not in MUTATIONS:
        raise ApiError(422, f"Need an existing repo and kind in {MUTATIONS}")
    number = int(body.get("number", 1))
    issue = data.issue(repo, number)
    if kind in ("touch_pr", "touch_issue"):
        if (kind == "touch_pr") != (issue.pull is not None):
            raise ApiError(422, f"#{number} is not a {'pull request' if kind == 'touch_pr' else 'plain issue'}")
        touched = data.touch(repo, number, title=issue.title.split(" (touched")[0] + f" (touched {data.now()})")
        return reply({"ok": True, "updated_at": touched.updated_at})
    if kind == "push_pr":
        made = data.push_to_pull(repo, number, issue.user)
        return reply({"ok": True, "sha": made.sha})
    comment = data.add_comment(repo, number, "ci-robot", str(body.get("body", "Simulated comment")))
    return reply({"ok": True, "id": comment.id})
