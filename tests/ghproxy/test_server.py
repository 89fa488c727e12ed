"""The running service: metrics, health, JSON logs without tokens, graceful shutdown, the command line."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time

import aiohttp
import pytest
from aiohttp import web

from ghproxy import logs
from ghproxy.cli import settings_from_args
from ghproxy.errors import ConfigError
from ghproxy.server import serve
from ghproxy.settings import Settings
from tests.conftest import StartProxy
from tests.ghproxy.conftest import Scripted
from tests.ghproxy.test_proxy_http import MakeUpstream, get, github_like, raw_request
from tests.support.servers import free_port

TOKEN = "ghp_" + "S3cr3t" * 6


async def test_metrics_use_go_ghproxy_names(scripted: MakeUpstream, start_proxy: StartProxy) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = await github_like(lambda r: b"{}")(request)
        resp.headers.update(
            {
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "4321",
                "X-RateLimit-Reset": str(int(time.time()) + 600),
                "X-RateLimit-Resource": "core",
            }
        )
        return resp

    proxy = start_proxy(scripted(handler).url)
    for _ in range(2):
        await get(proxy.url + "/repos/o/r/pulls/7", Authorization=f"token {TOKEN}", User_Agent="hook/1.0")
    _, _, body = await get(proxy.url + "/metrics")
    text = body.decode()
    assert 'ghcache_responses{mode="MISS",path="/repos/:owner/:repo/pulls/:pullId",token_hash="' in text
    assert 'mode="REVALIDATED"' in text and 'user_agent="hook"' in text
    assert "github_token_usage{" in text and "} 4321.0" in text
    assert "github_request_duration_bucket{" in text
    assert "ghcache_cache_entry_age_seconds_count{" in text
    assert "ghcache_cache_partitions{" in text
    assert "_created" not in text
    assert TOKEN not in text


async def test_budget_identifier_is_the_token_hash_label(scripted: MakeUpstream, start_proxy: StartProxy) -> None:
    proxy = start_proxy(scripted(github_like(lambda r: b"{}")).url)
    await get(proxy.url + "/x", Authorization=f"token {TOKEN}", X_PROW_GHCACHE_TOKEN_BUDGET_IDENTIFIER="tide")
    _, _, body = await get(proxy.url + "/metrics")
    assert 'token_hash="tide"' in body.decode()


async def test_metrics_can_be_kept_off_the_main_port(scripted: MakeUpstream, start_proxy: StartProxy) -> None:
    up = scripted(github_like(lambda r: b"{}"))
    proxy = start_proxy(up.url, metrics_on_main_port=False)
    _, headers, _ = await get(proxy.url + "/metrics")
    assert headers["X-Cache-Mode"] == "MISS"  # proxied to upstream like any other path
    assert up.seen[0].path_qs == "/metrics"


def test_logs_are_json_and_hold_no_token(
    scripted: MakeUpstream, start_proxy: StartProxy, caplog: pytest.LogCaptureFixture
) -> None:
    up = scripted(github_like(lambda r: b"{}"))
    proxy = start_proxy(up.url)
    caplog.set_level(logging.INFO)
    asyncio.run(get(proxy.url + "/repos/o/r?access_token=" + TOKEN, Authorization=f"token {TOKEN}"))
    raw_request(proxy.port, f"GET /a/../b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    raw = "plain-credential-42"  # a shape the redaction pattern does not know: only not logging it keeps it out
    asyncio.run(get(proxy.url + "/repos/o/r", Authorization=f"x-custom {raw}"))
    for record in caplog.records:
        assert raw not in record.getMessage() and raw not in str(record.__dict__)
        assert TOKEN not in record.getMessage() and TOKEN not in str(record.__dict__)
    formatter = logs.JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.name.startswith("ghproxy")]
    assert any('"mode": "MISS"' in line for line in lines)
    assert any('"refused"' in line for line in lines)
    for line in lines:
        json.loads(line)
        assert TOKEN not in line


def test_redaction_masks_credentials_that_slip_into_a_message() -> None:
    record = logging.makeLogRecord({"msg": "header was token %s and Bearer abcdefghijkl", "args": (TOKEN,)})
    line = logs.JsonFormatter().format(record)
    assert TOKEN not in line and "abcdefghijkl" not in line and "[REDACTED]" in line


def test_graceful_shutdown_finishes_in_flight_requests(scripted: MakeUpstream) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.json_response({"done": True}, headers={"ETag": '"e"'})

    up: Scripted = scripted(slow)
    port, health = free_port(), free_port()
    settings = Settings(
        upstream=up.url, host="127.0.0.1", port=port, metrics_port=0, health_port=health, request_timeout=10
    )
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=lambda: loop.run_until_complete(serve(settings, stop)), daemon=True)
    thread.start()

    async def scenario() -> tuple[int, dict[str, bool], int]:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{health}/healthz/ready") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as s:
            pending = asyncio.ensure_future(s.get(base + "/slow"))
            await asyncio.sleep(0.3)
            loop.call_soon_threadsafe(stop.set)
            await asyncio.sleep(0.2)
            async with aiohttp.ClientSession() as s2, s2.get(f"http://127.0.0.1:{health}/healthz/ready") as ready:
                ready_status = ready.status
            resp = await pending
            return resp.status, await resp.json(), ready_status

    status, body, ready_during_drain = asyncio.run(scenario())
    thread.join(15)
    assert not thread.is_alive()
    loop.close()
    assert (status, body) == (200, {"done": True})
    assert ready_during_drain == 503  # load balancers stop sending while in-flight requests finish


class TestCommandLine:
    def test_go_style_flags(self) -> None:
        s = settings_from_args(
            [
                "-port=9000",
                "--upstream=http://127.0.0.1:1/api/v3/",
                "--request-timeout",
                "120",
                "--log-level=warn",
                "--serve-metrics=false",
            ]
        )
        assert (s.port, s.upstream, s.request_timeout, s.log_level, s.metrics_on_main_port) == (
            9000,
            "http://127.0.0.1:1/api/v3",
            120,
            "warning",
            False,
        )

    @pytest.mark.parametrize(
        ("argv", "fragment"),
        [
            (["--upstream", "ftp://x"], "--upstream"),
            (["--upstream", "http://x?a=1"], "--upstream"),
            (["--log-level", "loud"], "--log-level"),
            (["--port", "9000", "--metrics-port", "9000"], "must differ"),
            (["--cache-sizeGB", "0.001"], "at least 0.004"),
            (["--workers", "0"], "--workers"),
            (["--redis-address", "redis://"], "--redis-address .* no host"),
            (["--redis-password-file", "/nonexistent/pw"], "cannot be read"),
        ],
    )
    def test_bad_config_is_a_clear_error(self, argv: list[str], fragment: str) -> None:
        with pytest.raises(ConfigError, match=fragment):
            settings_from_args(argv)

    def test_bad_flag_value_exits_2_with_a_message(self) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "ghproxy", "--upstream", "nope"], capture_output=True, text=True, timeout=30
        )
        assert proc.returncode == 2
        assert "--upstream must be an http:// or https:// URL" in proc.stderr
        proc = subprocess.run(
            [sys.executable, "-m", "ghproxy", "--port", "99999"], capture_output=True, text=True, timeout=30
        )
        assert proc.returncode == 2 and "a port is 0..65535" in proc.stderr
