"""Coalescing and throttling in a running ghproxy in front of ghsim, judged by ghsim's ledger."""

from __future__ import annotations

import asyncio
import collections
import json
import random
import time

import aiohttp

from tests.conftest import StartProxy, StartSim
from tests.support.processes import StartProxyProcess
from tests.support.redis import RedisServer

TOKEN = "sim_ci-robot"
AUTH = {"Authorization": f"token {TOKEN}"}


async def test_a_thousand_identical_gets_make_one_upstream_request(
    start_sim: StartSim, start_proxy: StartProxy
) -> None:
    sim = start_sim(latency_ms=50)
    proxy = start_proxy(sim.url)
    path = "/repos/org0/repo0/pulls/1"
    # 1,000 connections opened first, then every request written at once: a Python HTTP client could not put
    # 1,000 requests in flight within ghsim's 50 ms, raw sockets can.
    conns = [await asyncio.open_connection("127.0.0.1", proxy.port) for _ in range(1000)]
    await asyncio.sleep(0.5)  # let the proxy accept all of them
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {TOKEN}\r\n\r\n".encode()
    for _, writer in conns:
        writer.write(request)

    async def answer(reader: asyncio.StreamReader) -> tuple[int, str, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(fields["content-length"]))
        return int(lines[0].split()[1]), fields["x-cache-mode"], body

    results = await asyncio.gather(*(answer(reader) for reader, _ in conns))
    for _, writer in conns:
        writer.close()
    assert {status for status, _, _ in results} == {200}
    assert len({body for _, _, body in results}) == 1
    modes = [mode for _, mode, _ in results]
    assert modes.count("MISS") == 1 and modes.count("COALESCED") == 999, collections.Counter(modes)
    seen = [r for r in await asyncio.to_thread(sim.requests) if r["path"] == path]
    assert len(seen) == 1


async def test_coalescing_never_shares_across_tokens(start_sim: StartSim, start_proxy: StartProxy) -> None:
    """Same budget identifier (one cache partition), different tokens: each token gets its own answer."""
    sim = start_sim(latency_ms=50)
    proxy = start_proxy(sim.url)
    budget = {"X-PROW-GHCACHE-TOKEN-BUDGET-IDENTIFIER": "shared"}
    async with aiohttp.ClientSession(headers=budget) as s:

        async def one(token: str) -> tuple[int, dict[str, object]]:
            async with s.get(proxy.url + "/repos/org0/repo2", headers={"Authorization": f"token {token}"}) as r:
                return r.status, await r.json()

        (a, body_a), (e, _) = await asyncio.gather(one("sim_alice"), one("sim_erin"))
    assert (a, e) == (200, 404)  # erin may not read the private repo, even in the same instant as alice
    assert body_a["private"] is True


async def test_an_upstream_error_reaches_every_follower(start_proxy: StartProxy) -> None:
    from tests.support.servers import free_port

    proxy = start_proxy(f"http://127.0.0.1:{free_port()}")
    async with aiohttp.ClientSession() as s:

        async def one() -> int:
            async with s.get(proxy.url + "/repos/o/r") as r:
                return r.status

        assert set(await asyncio.gather(*(one() for _ in range(20)))) == {502}


async def test_the_starter_going_away_does_not_cancel_the_shared_fetch(
    start_sim: StartSim, start_proxy: StartProxy
) -> None:
    sim = start_sim(latency_ms=300)
    proxy = start_proxy(sim.url)
    path = proxy.url + "/repos/org0/repo0/pulls/2"
    async with aiohttp.ClientSession(headers=AUTH) as s:
        starter = asyncio.ensure_future(s.get(path))
        await asyncio.sleep(0.05)
        async with aiohttp.ClientSession(headers=AUTH) as s2:
            follower = asyncio.ensure_future(s2.get(path))
            await asyncio.sleep(0.05)
            starter.cancel()  # the first client hangs up
            resp = await follower
            assert (resp.status, resp.headers["X-Cache-Mode"]) == (200, "COALESCED")
            await resp.read()


async def test_burst_of_reads_and_mutations_never_hits_a_secondary_limit(
    start_sim: StartSim, start_proxy: StartProxy
) -> None:
    """20 clients, 2,000 GETs and 200 mutations on one token. ghsim enforces GitHub's secondary limits, scaled 20x
    faster so the test takes seconds (the benchmark runs them at GitHub's real values); the proxy is told the same."""
    interval, per_minute = 0.05, 18_000
    sim = start_sim(min_mutation_interval_s=interval, points_per_minute=per_minute, core_limit=1_000_000)
    proxy = start_proxy(sim.url, mutation_interval_s=interval, points_per_minute=per_minute)
    gets = [f"/repos/org0/repo{r}/issues/{n}" for r in range(2) for n in range(9, 17)]
    work: list[tuple[str, str]] = [("GET", gets[i % len(gets)]) for i in range(2000)]
    work[::11] = [("POST", "/repos/org0/repo0/issues/9/labels")] * len(work[::11])
    work = work[:2000] + [("POST", "/repos/org0/repo1/issues/10/labels")] * (200 - len(work[::11]))
    mutations = sum(1 for m, _ in work if m == "POST")
    assert mutations == 200
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    statuses: list[int] = []
    mutation_done: list[float] = []
    started = time.monotonic()
    async with aiohttp.ClientSession(headers=AUTH) as s:

        async def client() -> None:
            while not queue.empty():
                method, path = queue.get_nowait()
                data = json.dumps({"labels": ["kind/bug"]}) if method == "POST" else None
                async with s.request(method, proxy.url + path, data=data) as r:
                    await r.read()
                    statuses.append(r.status)
                    if method == "POST":
                        mutation_done.append(time.monotonic() - started)

        await asyncio.gather(*(client() for _ in range(20)))
    ledger = (await asyncio.to_thread(sim.ledger))["totals"]
    assert ledger["secondary_limited"] == 0
    assert set(statuses) <= {200, 201}
    # the rate the limits allow: one mutation per interval, and the points (GET 1, mutation 5) per minute
    allowed = max(mutations * interval, (2000 + 5 * mutations) / per_minute * 60)
    assert mutation_done[-1] <= allowed / 0.9 + 0.5, (mutation_done[-1], allowed)


async def test_secondary_limit_answer_holds_the_token_and_serves_stored_gets(
    start_sim: StartSim, start_proxy: StartProxy
) -> None:
    # ghsim refuses a second mutation within 10 s, with retry-after: 5; the proxy's own model is off, so GitHub's
    # answer is what it must react to
    sim = start_sim(min_mutation_interval_s=10, secondary_retry_after_s=5)
    proxy = start_proxy(sim.url, secondary_limits=False)
    stored = "/repos/org0/repo0/issues/11"  # not the issue the mutations change
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.get(proxy.url + stored) as r:
            assert r.headers["X-Cache-Mode"] == "MISS"
        labels = {"labels": ["kind/bug"]}
        async with s.post(proxy.url + "/repos/org0/repo0/issues/9/labels", json=labels) as r:
            assert r.status == 200
        async with s.post(proxy.url + "/repos/org0/repo0/issues/9/labels", json=labels) as r:
            assert r.status == 403 and r.headers["retry-after"] == "5"
        blocked_at = time.time()
        async with s.get(proxy.url + stored) as r:
            assert (r.status, r.headers["X-Cache-Mode"]) == (200, "STALE")
            assert r.headers["Warning"] == '110 - "Response is Stale"'
        async with s.get(proxy.url + "/repos/org0/repo0/issues/10") as r:
            assert (r.status, r.headers["X-Cache-Mode"]) == (429, "THROTTLED")
            assert 1 <= int(r.headers["Retry-After"]) <= 5
        await asyncio.sleep(max(0.0, blocked_at + 5.2 - time.time()))
        async with s.get(proxy.url + stored) as r:
            assert (r.status, r.headers["X-Cache-Mode"]) == (200, "REVALIDATED")
    log = await asyncio.to_thread(sim.requests)
    refused_at = next(r["t"] for r in log if r["secondary_limited"])
    after = [r["t"] for r in log if r["t"] > refused_at]
    assert after and min(after) >= refused_at + 5  # nothing went upstream for this token in those 5 s


async def test_exhausted_token_is_held_until_reset(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim(core_limit=3)
    proxy = start_proxy(sim.url)
    async with aiohttp.ClientSession(headers=AUTH) as s:
        for n in (9, 10, 11):  # three charged requests: the third answer says remaining 0
            async with s.get(proxy.url + f"/repos/org0/repo0/issues/{n}") as r:
                assert r.status == 200
        before = (await asyncio.to_thread(sim.ledger, TOKEN))["requests"]
        async with s.get(proxy.url + "/repos/org0/repo0/issues/9") as r:
            assert (r.status, r.headers["X-Cache-Mode"]) == (200, "STALE")
            assert "Warning" in r.headers
        async with s.get(proxy.url + "/repos/org0/repo0/issues/12") as r:
            body = await r.json()
            assert (r.status, r.headers["X-Cache-Mode"], r.headers["X-RateLimit-Remaining"]) == (403, "THROTTLED", "0")
            assert int(r.headers["X-RateLimit-Reset"]) > time.time()
            assert "rate limit" in body["message"]
        async with s.post(proxy.url + "/repos/org0/repo0/issues/9/comments", json={"body": "hi"}) as r:
            assert (r.status, r.headers["X-Cache-Mode"]) == (403, "THROTTLED")
    assert (await asyncio.to_thread(sim.ledger, TOKEN))["requests"] == before  # nothing forwarded


async def test_a_client_that_goes_away_leaves_the_queue(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim(min_mutation_interval_s=0.1)
    proxy = start_proxy(sim.url, mutation_interval_s=3.0)  # the proxy spaces this token's mutations by 3 s
    labels = {"labels": ["kind/bug"]}
    target = proxy.url + "/repos/org0/repo0/issues/9/labels"
    async with aiohttp.ClientSession(headers=AUTH) as s:
        async with s.post(target, json=labels) as r:
            assert r.status == 200
        waiting = asyncio.ensure_future(s.post(target, json=labels))  # queued for ~3 s
        await asyncio.sleep(0.5)
        metrics = (await (await s.get(proxy.url + "/metrics")).read()).decode()
        assert "pending_outbound_requests 1.0" in metrics
        waiting.cancel()  # the client hangs up while queued
        await asyncio.sleep(0.3)
        metrics = (await (await s.get(proxy.url + "/metrics")).read()).decode()
        assert "pending_outbound_requests 0.0" in metrics
    await asyncio.sleep(3.0)
    posts = [r for r in await asyncio.to_thread(sim.requests) if r["method"] == "POST"]
    assert len(posts) == 1  # the abandoned mutation never went to GitHub


def test_three_replicas_sharing_redis_respect_one_tokens_limits(
    start_sim: StartSim, redis_server: RedisServer, start_proxy_process: StartProxyProcess
) -> None:
    """The burst split over three ghproxy processes sharing one redis-server: still zero secondary-limit answers.
    Limits scaled 20x faster, as in the single-proxy test."""
    interval, per_minute = 0.05, 18_000
    sim = start_sim(min_mutation_interval_s=interval, points_per_minute=per_minute, core_limit=1_000_000)
    flags = (
        "--cache-dir", "", "--redis-address", redis_server.url,
        "--mutation-interval-seconds", str(interval), "--points-per-minute", str(per_minute),
    )  # fmt: skip
    replicas = [start_proxy_process(sim.url, *flags) for _ in range(3)]
    gets = [f"/repos/org0/repo{r}/issues/{n}" for r in range(2) for n in range(9, 17)]
    work = [("GET", gets[i % len(gets)]) for i in range(2000)] + [("POST", "/repos/org0/repo0/issues/9/labels")] * 200
    random.Random(7).shuffle(work)

    async def run() -> list[int]:
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        for item in work:
            queue.put_nowait(item)
        statuses: list[int] = []
        async with aiohttp.ClientSession(headers=AUTH) as s:

            async def client(k: int) -> None:
                base = replicas[k % 3].url
                while not queue.empty():
                    method, path = queue.get_nowait()
                    data = json.dumps({"labels": ["kind/bug"]}) if method == "POST" else None
                    async with s.request(method, base + path, data=data) as r:
                        await r.read()
                        statuses.append(r.status)

            await asyncio.gather(*(client(k) for k in range(21)))
        return statuses

    statuses = asyncio.run(run())
    assert sim.ledger()["totals"]["secondary_limited"] == 0
    assert set(statuses) <= {200, 201}
    assert len(statuses) == 2200


async def test_no_stale_serving_across_tokens_of_one_budget(start_sim: StartSim, start_proxy: StartProxy) -> None:
    """While GitHub blocks a budget, a token of that budget never gets another token's stored body unchecked."""
    sim = start_sim(core_limit=2)
    proxy = start_proxy(sim.url)
    budget = {"X-PROW-GHCACHE-TOKEN-BUDGET-IDENTIFIER": "shared"}
    async with aiohttp.ClientSession(headers=budget) as s:
        for n in (9, 10):  # alice exhausts the budget; her answers are stored in the shared partition
            async with s.get(
                proxy.url + f"/repos/org0/repo2/issues/{n}", headers={"Authorization": "token sim_alice"}
            ) as r:
                assert r.status == 200
        async with s.get(proxy.url + "/repos/org0/repo2/issues/9", headers={"Authorization": "token sim_erin"}) as r:
            assert (r.status, r.headers["X-Cache-Mode"]) == (403, "THROTTLED")
