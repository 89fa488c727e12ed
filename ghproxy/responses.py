"""Building what the client receives: stored entries, relayed upstream answers and ghproxy's own errors."""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterable

import aiohttp
from aiohttp import hdrs, web
from multidict import CIMultiDict

from ghproxy import headers as h
from ghproxy.entry import Entry
from ghproxy.rewrite import REWRITTEN_HEADERS, Rewriter

CHUNK = 64 * 1024
log = logging.getLogger("ghproxy.relay")
DOCS_URL = "https://github.com/ghproxy/ghproxy#errors"


class BadEncoding(ValueError):
    """Upstream sent a body its Content-Encoding does not describe."""


def error(status: int, message: str, *, mode: str | None = None, extra: Iterable[tuple[str, str]] = ()) -> web.Response:
    """A ghproxy-made error, shaped like GitHub's so clients show `message`."""
    body = json.dumps({"message": message, "documentation_url": DOCS_URL}).encode()
    headers = CIMultiDict[str]({hdrs.CONTENT_TYPE: "application/json; charset=utf-8"})
    if mode is not None:
        headers[h.CACHE_MODE] = mode
    headers.extend(extra)
    return web.Response(status=status, body=body, headers=headers)


class TooLarge(ValueError):
    """A body that decodes to more than the limit."""


def decode_body(data: bytes, encoding: str | None, limit: int) -> bytes:
    """The identity body of an upstream answer, at most `limit` bytes once decoded.

    Raises BadEncoding for unknown or corrupt encodings and TooLarge past the limit (a small gzip can hold a huge
    body; the limit is on what would be stored).
    """
    enc = (encoding or "identity").lower()
    if enc == "identity":
        if len(data) > limit:
            raise TooLarge
        return data
    if enc not in ("gzip", "x-gzip", "deflate"):
        raise BadEncoding(f"unsupported Content-Encoding from upstream: {encoding}")
    decoder = zlib.decompressobj(zlib.MAX_WBITS if enc == "deflate" else 16 + zlib.MAX_WBITS)
    try:
        body = decoder.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BadEncoding(f"corrupt {enc} body from upstream: {exc}") from exc
    if len(body) > limit or decoder.unconsumed_tail:
        raise TooLarge
    if not decoder.eof:
        raise BadEncoding(f"truncated {enc} body from upstream")
    return body


def rewritten_headers(pairs: Iterable[tuple[str, str]], rewriter: Rewriter) -> CIMultiDict[str]:
    """Response headers with upstream URLs (`Link`, `Location`) pointing at the proxy."""
    out = CIMultiDict[str]()
    for name, value in pairs:
        out.add(name, rewriter.header(value) if name.lower() in REWRITTEN_HEADERS else value)
    return out


def from_entry(
    request: web.Request,
    entry: Entry,
    mode: str,
    rewriter: Rewriter,
    rendered: tuple[bytes, bool],
    *,
    not_modified: bool,
) -> web.Response:
    """Serve a stored entry with its rendered body (see renditions), or a 304 to the client's own validators."""
    headers = rewritten_headers(entry.headers, rewriter)
    headers[h.CACHE_MODE] = mode
    if not_modified:
        headers.popall(hdrs.CONTENT_TYPE, None)
        return web.Response(status=304, headers=headers)
    body, gzipped = rendered
    if gzipped:
        headers[hdrs.CONTENT_ENCODING] = "gzip"
    # For HEAD, aiohttp sends the headers (Content-Length included) and leaves the body out.
    return web.Response(status=entry.status, body=body, headers=headers)


async def stream(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    mode: str,
    rewriter: Rewriter,
    prefix: bytes = b"",
) -> web.StreamResponse:
    """Relay an upstream answer as it arrives, without buffering it (archives, release assets, big bodies).

    `prefix` is what was already read from upstream. An encoded body is passed on to clients that accept its
    encoding and decoded on the fly for those that do not.
    """
    headers = rewritten_headers(h.passthrough_response_headers(upstream.headers.items()), rewriter)
    headers[h.CACHE_MODE] = mode
    encoding = (upstream.headers.get(hdrs.CONTENT_ENCODING) or "").lower()
    decoder = None
    if encoding in ("gzip", "x-gzip", "deflate") and not _client_takes(request, encoding):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS)
    else:
        if encoding and encoding != "identity":
            headers[hdrs.CONTENT_ENCODING] = encoding
        if upstream.content_length is not None:
            headers[hdrs.CONTENT_LENGTH] = str(upstream.content_length)
    out = web.StreamResponse(status=upstream.status, headers=headers)
    await out.prepare(request)
    if request.method == hdrs.METH_HEAD or upstream.status in (204, 304):
        await out.write_eof()
        return out
    chunk = prefix
    try:
        while True:
            if chunk:
                await out.write(decoder.decompress(chunk) if decoder else chunk)
            chunk = await upstream.content.read(CHUNK)
            if not chunk:
                break
        if decoder is not None:
            await out.write(decoder.flush())
    except ConnectionResetError:
        # The client went away (aiohttp's ClientConnectionResetError is one): nobody is left to answer.
        log.info("client went away while streaming")
        return out
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, TimeoutError, zlib.error) as exc:
        # Headers are gone already: the only honest signal left is to cut the connection short.
        log.warning("upstream body broke off while streaming", extra={"error": exc.__class__.__name__})
        _cut(request)
        return out
    if decoder is not None and not decoder.eof:
        log.warning("upstream gzip stream ended early while streaming")
        _cut(request)
        return out
    await out.write_eof()
    return out


def _cut(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


def _client_takes(request: web.Request, encoding: str) -> bool:
    accept = request.headers.get(hdrs.ACCEPT_ENCODING)
    if encoding in ("gzip", "x-gzip"):
        return h.accepts_gzip(accept)
    return accept is not None and encoding in accept.lower()
