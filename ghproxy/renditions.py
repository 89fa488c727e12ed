"""Bodies as served, memoised: an entry's body with URLs rewritten for one public base, gzip-compressed or not.

Rewriting and compressing on every hit would cost more than the rest of the revalidation path (gzip of a 120 KB
pull list is ~0.4 ms); a stored representation is rendered once per public base and encoding instead.
"""

from __future__ import annotations

import gzip
import zlib

from aiohttp import hdrs
from cachetools import LRUCache

from ghproxy import headers as h
from ghproxy.entry import Entry
from ghproxy.rewrite import Rewriter, is_json

# Below this a body is sent as it is: gzip costs more than it saves on small JSON.
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 1

RenditionKey = tuple[str, str, int, bool]


def identity_of(entry: Entry) -> str:
    """What identifies a representation within one cache key: its ETag (upstream's word), else a checksum."""
    etag = entry.etag
    if etag is not None:
        return etag
    return f"crc:{zlib.crc32(entry.body):08x}:{entry.last_modified}"


def render(body: bytes, rewriter: Rewriter, compress: bool, json: bool) -> tuple[bytes, bool]:
    """Rewrite URLs (JSON only), then gzip when asked and worth it; the flag says whether the result is gzip."""
    if json:
        body = rewriter.body(body)
    if compress and len(body) >= GZIP_MIN_BYTES:
        return gzip.compress(body, GZIP_LEVEL, mtime=0), True
    return body, False


class Renditions:
    """An LRU of rendered bodies bounded by bytes."""

    def __init__(self, max_bytes: int) -> None:
        self._lru: LRUCache[tuple[str, RenditionKey], tuple[bytes, bool]] = LRUCache(
            maxsize=max(1, max_bytes), getsizeof=lambda v: len(v[0]) + 64
        )

    def body(self, key: str, entry: Entry, rewriter: Rewriter, compress: bool) -> tuple[bytes, bool]:
        rkey = (key, (identity_of(entry), rewriter.public, len(entry.body), compress))
        hit = self._lru.get(rkey)
        if hit is not None:
            return hit
        rendered = render(entry.body, rewriter, compress, is_json(h.get(entry.headers, hdrs.CONTENT_TYPE)))
        if len(rendered[0]) + 64 <= self._lru.maxsize:  # larger than the whole memo: serve it, do not keep it
            self._lru[rkey] = rendered
        return rendered
