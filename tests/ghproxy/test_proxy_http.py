"""ghproxy over real sockets, in front of a scripted upstream: HTTP mechanics and bad input."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import io
import json
import socket
from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from tests.conftest import StartProxy, StartServer
from tests.ghproxy.conftest import Handler, Scripted
from tests.support.servers import free_port

MakeUpstream = Callable[[Handler], Scripted]


def etag_for(request: web.Request, body: bytes) -> str:
    seed = (request.headers.get("Authorization", "") + ":").encode()
    return '"' + hashlib.sha256(seed + body).hexdigest() + '"'


def github_like(body_for: Callable[[web.Request], bytes]) -> Handler:
    """Answers like GitHub: per-token ETag, 304 to a matching If-None-Match, gzip when asked."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = body_for(request)
        etag = etag_for(request, body)
        headers = {"ETag": etag, "Cache-Control": "private, max-age=60, s-maxage=60", "X-RateLimit-Remaining": "4999"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            headers["Content-Encoding"] = "gzip"
            body = gzip.compress(body)
        return web.Response(body=body, headers={**headers, "Content-Type": "application/json; charset=utf-8"})

    return handler


async def get(url: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    async with aiohttp.ClientSession(auto_decompress=False) as s, s.get(url, headers=sent, allow_redirects=False) as r:
        return r.status, CIMultiDict(r.headers), await r.read()


class TestCaching:
    async def test_second_get_is_revalidated_and_body_identical(
        self, scripted: MakeUpstream, start_proxy: StartProxy
    ) -> None:
        up = scripted(github_like(lambda r: b'{"a": 1}'))
        proxy = start_proxy(up.url)
        s1, h1, b1 = await get(proxy.url + "/repos/o/r", Authorization="token A")
        s2, h2, b2 = await get(proxy.url + "/repos/o/r", Authorization="token A")
        assert (s1, h1["X-Cache-Mode"], b1) == (200, "MISS", b'{"a": 1}')
        assert (s2, h2["X-Cache-Mode"], b2) == (200, "REVALIDATED", b'{"a": 1}')
        assert up.seen[1].headers["If-None-Match"] == h1["ETag"]
        assert "If-Modified-Since" not in up.seen[1].headers

    async def test_changed_representation(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        bodies = iter([b'{"v": 1}', b'{"v": 2}'])
        current = {"body": next(bodies)}
        up = scripted(github_like(lambda r: current["body"]))
        proxy = start_proxy(up.url)
        await get(proxy.url + "/x", Authorization="token A")
        current["body"] = next(bodies)
        status, headers, body = await get(proxy.url + "/x", Authorization="token A")
        assert (status, headers["X-Cache-Mode"], body) == (200, "CHANGED", b'{"v": 2}')

    async def test_client_if_none_match_gets_a_304(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        up = scripted(github_like(lambda r: b"{}"))
        proxy = start_proxy(up.url)
        _, h1, _ = await get(proxy.url + "/x", Authorization="token A")
        weak = "W/" + h1["ETag"]
        status, headers, body = await get(proxy.url + "/x", Authorization="token A", If_None_Match=f'"zzz", {weak}')
        assert (status, headers["X-Cache-Mode"], body) == (304, "REVALIDATED", b"")
        # the client's validator was answered from the entry; upstream saw exactly the proxy's stored one
        assert up.seen[-1].headers.getall("If-None-Match") == [h1["ETag"]]

    async def test_bodyless_304_is_never_stored(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        up = scripted(github_like(lambda r: b'{"x": 1}'))
        proxy = start_proxy(up.url)
        # learn the ETag directly, so the proxy has nothing stored yet
        _, direct, _ = await get(up.url + "/x", Authorization="token A")
        status, headers, _ = await get(proxy.url + "/x", Authorization="token A", If_None_Match=direct["ETag"])
        assert (status, headers["X-Cache-Mode"]) == (304, "REVALIDATED")
        status, headers, body = await get(proxy.url + "/x", Authorization="token A")
        assert (status, headers["X-Cache-Mode"], body) == (200, "MISS", b'{"x": 1}')

    async def test_client_no_cache_forces_a_full_fetch(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        up = scripted(github_like(lambda r: b"{}"))
        proxy = start_proxy(up.url)
        await get(proxy.url + "/x", Authorization="token A")
        status, headers, _ = await get(proxy.url + "/x", Authorization="token A", Cache_Control="no-cache")
        assert (status, headers["X-Cache-Mode"]) == (200, "CHANGED")
        assert "If-None-Match" not in up.seen[-1].headers

    async def test_tokens_are_partitioned(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        up = scripted(github_like(lambda r: b"{}"))
        proxy = start_proxy(up.url)
        _, first, _ = await get(proxy.url + "/x", Authorization="token A")
        _, headers, _ = await get(proxy.url + "/x", Authorization="token B")
        assert headers["X-Cache-Mode"] == "MISS"
        # B never revalidates A's entry: at most an ETag computed for B's own credentials (cross-token reuse),
        # which this upstream (not GitHub's formula) does not recognise, so B gets its own answer
        assert up.seen[-1].headers.get("If-None-Match") != first["ETag"]

    async def test_unstorable_answers(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        async def no_store(request: web.Request) -> web.Response:
            return web.json_response({}, headers={"ETag": '"e"', "Cache-Control": "no-store"})

        proxy = start_proxy(scripted(no_store).url)
        for _ in range(2):
            _, headers, _ = await get(proxy.url + "/x")
            assert headers["X-Cache-Mode"] == "NO-STORE"

    async def test_post_and_graphql_pass_through(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        async def echo(request: web.Request) -> web.Response:
            return web.json_response({"got": len(await request.read())}, status=201)

        up = scripted(echo)
        proxy = start_proxy(up.url)
        async with aiohttp.ClientSession() as s:
            async with s.post(proxy.url + "/repos/o/r/issues", data=io.BytesIO(b"x" * 5_000_000)) as r:
                assert (r.status, r.headers["X-Cache-Mode"], await r.json()) == (201, "SKIP", {"got": 5_000_000})
            async with s.post(proxy.url + "/graphql", json={"query": "{viewer{login}}"}) as r:
                assert (r.status, r.headers["X-Cache-Mode"]) == (201, "SKIP")
        assert up.seen[0].body == b"x" * 5_000_000


class TestEncodingAndStreaming:
    async def test_gzip_for_clients_that_take_it_identity_for_others(
        self, scripted: MakeUpstream, start_proxy: StartProxy
    ) -> None:
        body = json.dumps({"items": list(range(2000))}).encode()
        up = scripted(github_like(lambda r: body))
        proxy = start_proxy(up.url)
        _, headers, raw = await get(proxy.url + "/x", Accept_Encoding="gzip")
        assert headers["Content-Encoding"] == "gzip" and gzip.decompress(raw) == body
        _, headers, raw = await get(proxy.url + "/x", Accept_Encoding="identity")
        assert "Content-Encoding" not in headers and raw == body
        assert headers["X-Cache-Mode"] == "REVALIDATED"
        assert all(seen.headers["Accept-Encoding"] == "gzip" for seen in up.seen)

    async def test_large_body_streams_through_uncached(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        blob = bytes(range(256)) * (12 * 4096)  # 12 MiB

        async def archive(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream", "ETag": '"z"'})
            await resp.prepare(request)
            for i in range(0, len(blob), 1 << 20):
                await resp.write(blob[i : i + (1 << 20)])
            await resp.write_eof()
            return resp

        up = scripted(archive)
        proxy = start_proxy(up.url, max_entry_mb=1.0)
        for _ in range(2):
            status, headers, raw = await get(proxy.url + "/repos/o/r/tarball/main")
            assert (status, headers["X-Cache-Mode"], len(raw)) == (200, "NO-STORE", len(blob))
            assert raw == blob
        assert len(up.seen) == 2

    async def test_gzip_stream_decoded_for_identity_clients(
        self, scripted: MakeUpstream, start_proxy: StartProxy
    ) -> None:
        blob = b"line of text\n" * 200_000

        async def handler(request: web.Request) -> web.Response:
            return web.Response(
                body=gzip.compress(blob),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/octet-stream"},
            )

        proxy = start_proxy(scripted(handler).url)
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            async with s.post(proxy.url + "/x", headers={"Accept-Encoding": "identity"}) as r:
                assert "Content-Encoding" not in r.headers and await r.read() == blob
            async with s.post(proxy.url + "/x", headers={"Accept-Encoding": "gzip"}) as r:
                assert r.headers["Content-Encoding"] == "gzip" and gzip.decompress(await r.read()) == blob

    async def test_hop_by_hop_headers_are_not_forwarded(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        up = scripted(github_like(lambda r: b"{}"))
        proxy = start_proxy(up.url)
        await get(
            proxy.url + "/x",
            Connection="keep-alive, X-Secret-Hop",
            X_Secret_Hop="1",
            X_PROW_GHCACHE_TOKEN_BUDGET_IDENTIFIER="b",
            Proxy_Authorization="x",
        )
        forwarded = {k.lower() for k in up.seen[0].headers}
        assert not forwarded & {"x-secret-hop", "proxy-authorization", "x-prow-ghcache-token-budget-identifier"}


class TestUrlRewriting:
    async def test_body_link_and_location_point_at_the_proxy(
        self, scripted: MakeUpstream, start_proxy: StartProxy
    ) -> None:
        holder: dict[str, str] = {}

        async def handler(request: web.Request) -> web.Response:
            up = holder["url"]
            if request.path == "/old":
                return web.Response(status=301, headers={"Location": f"{up}/new", "ETag": '"r"'})
            return web.json_response(
                {"url": f"{up}/repos/o/r", "html_url": "https://github.com/o/r"},
                headers={"ETag": '"e"', "Link": f'<{up}/repos/o/r?page=2>; rel="next"'},
            )

        up = scripted(handler)
        holder["url"] = up.url
        proxy = start_proxy(up.url)
        _, headers, body = await get(proxy.url + "/repos/o/r")
        assert json.loads(body) == {"url": f"{proxy.url}/repos/o/r", "html_url": "https://github.com/o/r"}
        assert headers["Link"] == f'<{proxy.url}/repos/o/r?page=2>; rel="next"'
        status, headers, _ = await get(proxy.url + "/old")
        assert (status, headers["Location"]) == (301, f"{proxy.url}/new")

    async def test_public_url_setting(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        holder: dict[str, str] = {}

        async def handler(request: web.Request) -> web.Response:
            return web.json_response({"url": holder["url"] + "/x"}, headers={"ETag": '"e"'})

        up = scripted(handler)
        holder["url"] = up.url
        proxy = start_proxy(up.url, public_url="https://ghproxy.example")
        _, _, body = await get(proxy.url + "/x")
        assert json.loads(body) == {"url": "https://ghproxy.example/x"}


class TestUpstreamFailures:
    async def test_refused_is_502_json_and_not_cached(self, start_proxy: StartProxy) -> None:
        proxy = start_proxy(f"http://127.0.0.1:{free_port()}")
        for _ in range(2):
            status, headers, body = await get(proxy.url + "/repos/o/r")
            assert (status, headers["X-Cache-Mode"]) == (502, "NO-STORE")
            assert "upstream" in json.loads(body)["message"]

    async def test_timeout_is_504(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        async def slow(request: web.Request) -> web.Response:
            await asyncio.sleep(3)
            return web.json_response({})

        proxy = start_proxy(scripted(slow).url, request_timeout=0.5)
        status, _, body = await get(proxy.url + "/x")
        assert status == 504
        assert "0.5s" in json.loads(body)["message"]

    async def test_corrupt_gzip_from_upstream_is_502(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        async def bad(request: web.Request) -> web.Response:
            return web.Response(
                body=b"not gzip",
                headers={"Content-Encoding": "gzip", "ETag": '"e"', "Content-Type": "application/json"},
            )

        proxy = start_proxy(scripted(bad).url)
        status, _, _ = await get(proxy.url + "/x")
        assert status == 502

    async def test_upstream_5xx_is_relayed_and_keeps_the_entry(
        self, scripted: MakeUpstream, start_proxy: StartProxy
    ) -> None:
        fail = {"now": False}
        ok = github_like(lambda r: b"{}")

        async def flaky(request: web.Request) -> web.StreamResponse:
            if fail["now"]:
                return web.json_response({"message": "Server Error"}, status=502)
            return await ok(request)

        up = scripted(flaky)
        proxy = start_proxy(up.url)
        await get(proxy.url + "/x", Authorization="token A")
        fail["now"] = True
        status, headers, _ = await get(proxy.url + "/x", Authorization="token A")
        assert (status, headers["X-Cache-Mode"]) == (502, "NO-STORE")
        fail["now"] = False
        _, headers, _ = await get(proxy.url + "/x", Authorization="token A")
        assert headers["X-Cache-Mode"] == "REVALIDATED"


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


class TestBadInput:
    """Malformed or host-naming requests get a clear 4xx and reach no host at all."""

    @pytest.mark.parametrize(
        ("request_line", "status"),
        [
            (b"GET http://127.0.0.1:1/x HTTP/1.1", b"400"),
            (b"GET https://api.github.com/user HTTP/1.1", b"400"),
            (b"GET //127.0.0.1:1/x HTTP/1.1", b"400"),
            (b"CONNECT 127.0.0.1:1 HTTP/1.1", b"405"),
            (b"OPTIONS * HTTP/1.1", b"400"),
            (b"GET /repos/../admin HTTP/1.1", b"400"),
            (b"GET /repos/%2e%2e/admin HTTP/1.1", b"400"),
            (b"GARBAGE", b"400"),
            (b"GET /x HTTP/1.1\r\nBad Header: 1", b"400"),
            (b"GET /x HTTP/1.1\r\nX-Big: " + b"a" * 70_000, b"400"),
        ],
    )
    async def test_refused_and_nothing_forwarded(
        self,
        request_line: bytes,
        status: bytes,
        scripted: MakeUpstream,
        start_server: StartServer,
        start_proxy: StartProxy,
    ) -> None:
        up = scripted(github_like(lambda r: b"{}"))
        # a second server the hostile targets try to name: it must see nothing either
        canary = scripted(github_like(lambda r: b"{}"))
        proxy = start_proxy(up.url)
        data = request_line.replace(b"127.0.0.1:1", f"127.0.0.1:{canary.server.port}".encode())
        answer = await asyncio.to_thread(raw_request, proxy.port, data + b"\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert answer.split(b" ")[1] == status
        assert up.seen == [] and canary.seen == []


class TestHead:
    """HEAD is answered from GET's entry and revalidates it; a bodyless HEAD answer is never stored."""

    async def test_head_after_get_is_revalidated_from_the_get_entry(
        self, scripted: MakeUpstream, start_proxy: StartProxy
    ) -> None:
        body = b'{"a": "' + b"x" * 100 + b'"}'
        up = scripted(github_like(lambda r: body))
        proxy = start_proxy(up.url)
        await get(proxy.url + "/x", Authorization="token A", Accept_Encoding="identity")
        async with (
            aiohttp.ClientSession() as s,
            s.head(proxy.url + "/x", headers={"Authorization": "token A", "Accept-Encoding": "identity"}) as r,
        ):
            assert (r.status, r.headers["X-Cache-Mode"], r.headers["Content-Length"]) == (
                200,
                "REVALIDATED",
                str(len(body)),
            )
        assert up.seen[-1].method == "HEAD" and "If-None-Match" in up.seen[-1].headers

    async def test_head_alone_stores_nothing(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        up = scripted(github_like(lambda r: b"{}"))
        proxy = start_proxy(up.url)
        async with aiohttp.ClientSession() as s:
            for _ in range(2):
                async with s.head(proxy.url + "/x", headers={"Authorization": "token A"}) as r:
                    assert (r.status, r.headers["X-Cache-Mode"]) == (200, "MISS")
        _, headers, body = await get(proxy.url + "/x", Authorization="token A")
        assert (headers["X-Cache-Mode"], body) == ("MISS", b"{}")


class TestLimitsAndContent:
    async def test_small_gzip_of_a_huge_body_is_not_stored(
        self, scripted: MakeUpstream, start_proxy: StartProxy
    ) -> None:
        huge = b'{"a": "' + b"x" * (3 << 20) + b'"}'  # 3 MiB that gzips to a few KB
        current = {"body": b'{"a": 1}'}
        up = scripted(github_like(lambda r: current["body"]))
        proxy = start_proxy(up.url, max_entry_mb=1.0)
        _, headers, _ = await get(proxy.url + "/x", Authorization="token A")
        assert headers["X-Cache-Mode"] == "MISS"
        current["body"] = huge
        for _ in range(2):
            status, headers, raw = await get(proxy.url + "/x", Authorization="token A", Accept_Encoding="identity")
            assert (status, headers["X-Cache-Mode"], raw) == (200, "NO-STORE", huge)
        # the stale small entry was dropped: the last request went upstream without a validator
        assert "If-None-Match" in up.seen[1].headers and "If-None-Match" not in up.seen[2].headers

    async def test_big_rendered_body_is_served_even_when_too_big_to_memoise(
        self, scripted: MakeUpstream, start_proxy: StartProxy
    ) -> None:
        body = b'{"a": "' + b"y" * (3 << 20) + b'"}'
        up = scripted(github_like(lambda r: body))
        proxy = start_proxy(up.url, memory_cache_mb=16.0)
        for _ in range(2):
            status, _, raw = await get(proxy.url + "/x", Authorization="token A", Accept_Encoding="identity")
            assert (status, raw) == (200, body)

    async def test_non_json_content_is_never_rewritten(self, scripted: MakeUpstream, start_proxy: StartProxy) -> None:
        holder: dict[str, str] = {}

        async def raw_file(request: web.Request) -> web.Response:
            text = f"docs: {holder['url']}/repos/o/r\n".encode()
            if request.headers.get("If-None-Match") == '"r"':
                return web.Response(status=304, headers={"ETag": '"r"'})
            return web.Response(body=text, headers={"ETag": '"r"', "Content-Type": "application/vnd.github.raw"})

        up = scripted(raw_file)
        holder["url"] = up.url
        proxy = start_proxy(up.url)
        for mode in ("MISS", "REVALIDATED"):
            _, headers, raw = await get(proxy.url + "/repos/o/r/contents/README.md")
            assert (headers["X-Cache-Mode"], raw) == (mode, f"docs: {up.url}/repos/o/r\n".encode())

    async def test_client_leaving_mid_stream_is_quiet(
        self, scripted: MakeUpstream, start_proxy: StartProxy, caplog: pytest.LogCaptureFixture
    ) -> None:
        async def slow_archive(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
            await resp.prepare(request)
            with contextlib.suppress(ConnectionResetError):  # the proxy hangs up once its client has gone
                for _ in range(50):
                    await resp.write(b"z" * 65536)
                    await asyncio.sleep(0.02)
                await resp.write_eof()
            return resp

        proxy = start_proxy(scripted(slow_archive).url)
        async with aiohttp.ClientSession() as s, s.get(proxy.url + "/repos/o/r/tarball") as r:
            await r.content.read(65536)
        await asyncio.sleep(0.5)
        assert not [rec for rec in caplog.records if rec.levelname == "ERROR"]
        _, _, metrics = await get(proxy.url + "/metrics")
        assert b'ghcache_responses{mode="NO-STORE"' in metrics  # recorded although the client left
        assert b"concurrent_outbound_requests 0.0" in metrics
