"""The cache tiers inside a running ghproxy, in front of ghsim: shared Redis, restarts, failures, corruption."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import StartProxy, StartSim
from tests.ghproxy.test_clients import fetch
from tests.support.processes import StartProxyProcess
from tests.support.redis import RedisServer, StartRedis

TOKEN = "sim_ci-robot"
PATH = "/repos/org0/repo0/pulls/1"


def mode_of(url: str, token: str = TOKEN) -> str:
    status, headers, _ = fetch(url, token)
    assert status == 200
    return headers["x-cache-mode"]


def test_two_processes_sharing_redis_form_one_cache(
    start_sim: StartSim, redis_server: RedisServer, start_proxy_process: StartProxyProcess
) -> None:
    sim = start_sim()
    flags = ("--cache-dir", "", "--redis-address", redis_server.url)
    one = start_proxy_process(sim.url, *flags)
    two = start_proxy_process(sim.url, *flags)
    assert mode_of(one.url + PATH) == "MISS"
    assert mode_of(two.url + PATH) == "REVALIDATED"  # stored by process one, revalidated (free) by process two
    ledger = sim.ledger(TOKEN)
    assert (ledger["requests"], ledger["charged"], ledger["free_304"]) == (2, 1, 1)


def test_restart_on_the_same_cache_dir_serves_old_entries(
    start_sim: StartSim, tmp_path: Path, start_proxy_process: StartProxyProcess
) -> None:
    sim = start_sim()
    flags = ("--cache-dir", str(tmp_path / "cache"), "--cache-sizeGB", "0.05")
    first = start_proxy_process(sim.url, *flags)
    assert mode_of(first.url + PATH) == "MISS"
    assert first.stop() == 0
    second = start_proxy_process(sim.url, *flags)
    assert mode_of(second.url + PATH) == "REVALIDATED"
    assert sim.ledger(TOKEN)["charged"] == 1


def test_redis_killed_under_load_fails_no_request_and_is_used_again(
    start_sim: StartSim, start_redis: StartRedis, start_proxy: StartProxy
) -> None:
    sim = start_sim(secondary_limits=False, core_limit=1_000_000)
    redis = start_redis()
    proxy = start_proxy(sim.url, redis_address=redis.url)
    paths = [f"/repos/org0/repo{r}/pulls/{n}" for r in range(2) for n in range(1, 6)]

    async def load(seconds: float, statuses: list[int]) -> None:
        async with aiohttp.ClientSession(headers={"Authorization": f"token {TOKEN}"}) as s:
            deadline = time.monotonic() + seconds
            i = 0
            while time.monotonic() < deadline:
                # a new token hash now and then, so some requests miss memory and must read Redis
                token = TOKEN if i % 3 else f"bot-token-{i}"
                async with s.get(proxy.url + paths[i % len(paths)], headers={"Authorization": f"token {token}"}) as r:
                    await r.read()
                    statuses.append(r.status)
                i += 1

    async def scenario() -> list[int]:
        statuses: list[int] = []
        runner = asyncio.create_task(load(4.0, statuses))
        await asyncio.sleep(1.0)
        redis.kill()  # kill -9
        await asyncio.sleep(1.5)
        redis.start()  # same address, empty
        await runner
        return statuses

    statuses = asyncio.run(scenario())
    assert len(statuses) > 50
    assert set(statuses) == {200}, f"failed requests: {[s for s in statuses if s != 200][:5]}"
    metrics = fetch(proxy.url + "/metrics")[2].decode()
    assert 'ghproxy_cache_tier_operations_total{op="get",result="error",tier="redis"}' in metrics
    # back in use without a restart: the breaker probed, closed, and writes reach the new server
    time.sleep(6)  # one breaker cooldown
    for i in range(5):
        fetch(proxy.url + PATH, f"after-restart-{i}")
    assert 'ghproxy_cache_tier_available{tier="redis"} 1.0' in fetch(proxy.url + "/metrics")[2].decode()
    assert redis.client().dbsize() > 0


@pytest.mark.parametrize("where", ["redis", "disk"])
def test_corrupt_shared_entries_are_misses_not_errors(
    where: str, start_sim: StartSim, redis_server: RedisServer, tmp_path: Path, start_proxy_process: StartProxyProcess
) -> None:
    sim = start_sim()
    cache_dir = tmp_path / "cache"
    flags = (
        ("--cache-dir", str(cache_dir)) if where == "disk" else ("--cache-dir", "", "--redis-address", redis_server.url)
    )
    first = start_proxy_process(sim.url, *flags)
    big = "/repos/org0/repo0/pulls?state=all&per_page=100"  # > 32 KB: diskcache keeps it in a file of its own
    for path in (PATH, big):
        assert mode_of(first.url + path) == "MISS"
    first.stop()
    if where == "redis":
        client = redis_server.client()
        for key in client.scan_iter("ghproxy:*"):
            client.set(key, b"\x00garbage")
    else:
        files = [p for p in cache_dir.rglob("*.val")]
        assert files, "expected the large entry in a value file"
        for f in files:
            with f.open("r+b") as fh:
                fh.truncate(10)
    second = start_proxy_process(sim.url, *flags)
    for path in (PATH, big):
        status, headers, _ = fetch(second.url + path, TOKEN)
        assert status == 200
        assert headers["x-cache-mode"] in ("MISS", "REVALIDATED")
    assert "corrupt cache entry dropped" in second.log()
    assert "Traceback" not in second.log()
    assert os.path.exists(second.log_path)


def test_workers_share_one_port_and_the_disk_tier(
    start_sim: StartSim, tmp_path: Path, start_proxy_process: StartProxyProcess
) -> None:
    sim = start_sim()
    proxy = start_proxy_process(sim.url, "--workers", "2", "--cache-dir", str(tmp_path / "cache"))
    # worker i serves metrics on --metrics-port + i; both must be up before the load
    for offset in (0, 1):
        deadline = time.monotonic() + 20
        while True:
            try:
                fetch(f"http://127.0.0.1:{proxy.metrics_port + offset}/metrics")
                break
            except OSError:
                assert time.monotonic() < deadline, proxy.log()
                time.sleep(0.1)
    modes = [mode_of(proxy.url + PATH) for _ in range(20)]  # new connections: the kernel spreads them
    assert modes[0] == "MISS" and set(modes[1:]) == {"REVALIDATED"}  # one cache: memory or the shared disk
    assert sim.ledger(TOKEN)["charged"] == 1
    served = [
        'ghcache_responses{mode="REVALIDATED"'
        in fetch(f"http://127.0.0.1:{proxy.metrics_port + i}/metrics")[2].decode()
        for i in (0, 1)
    ]
    assert all(served), "both workers should have served requests"
    assert proxy.stop() == 0


def test_a_damaged_disk_database_does_not_stop_the_proxy(
    start_sim: StartSim, tmp_path: Path, start_proxy_process: StartProxyProcess
) -> None:
    sim = start_sim()
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "cache.db").write_bytes(b"this is not an SQLite database" * 100)
    proxy = start_proxy_process(sim.url, "--cache-dir", str(cache_dir))
    assert mode_of(proxy.url + PATH) == "MISS"
    assert mode_of(proxy.url + PATH) == "REVALIDATED"  # the memory tier still works
    assert "disk tier unavailable" in proxy.log()
    assert 'ghproxy_cache_tier_available{tier="disk"} 0.0' in proxy.metrics()
