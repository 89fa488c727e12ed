"""Validated cross-token reuse: another token's stored body, proven identical for this token by a free 304.

GitHub's ETag is, as observed and documented by bored-engineer/github-conditional-http-transport, sha256 over the
present values of the request's `Accept`, `Authorization` and `Cookie` (each followed by `:`) and then the
uncompressed body. Holding a body fetched with token A, the proxy can compute the ETag token B would get for the
same body and ask GitHub, with B's own credentials, `If-None-Match: <that ETag>`. A 304 proves B's representation
is byte-identical and that B may read it; anything else is an ordinary answer. If GitHub's formula ever changes, the
computed ETag simply never matches: the result is an ordinary fetch, never a wrong body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from aiohttp import hdrs

from ghproxy.entry import Entry

# Bodies are indexed under this partition (`keys.cache_key(SHARED_PARTITION, ...)`), apart from every token's own;
# entries there are never served directly.
SHARED_PARTITION = "shared"
ETAG_HEADERS = (hdrs.ACCEPT, hdrs.AUTHORIZATION, hdrs.COOKIE)
# Headers that describe the token that fetched an answer, not the answer: never carried over to another token.
PER_TOKEN = frozenset(
    h.lower()
    for h in (
        "X-OAuth-Scopes",
        "X-Accepted-OAuth-Scopes",
        "X-OAuth-Client-Id",
        "GitHub-Authentication-Token-Expiration",
        "X-GitHub-SSO",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Used",
        "X-RateLimit-Reset",
        "X-RateLimit-Resource",
        hdrs.ETAG,
    )
)


def etag_for(request_headers: Mapping[str, str], body: bytes) -> str:
    """The ETag GitHub would give these request headers for this (uncompressed) body."""
    digest = hashlib.sha256()
    for name in ETAG_HEADERS:
        value = request_headers.get(name)
        if value is not None:
            digest.update(value.encode() + b":")
    digest.update(body)
    return f'"{digest.hexdigest()}"'


def candidate(indexed: Entry, request_headers: Mapping[str, str]) -> Entry | None:
    """Another token's entry, made ready to be revalidated for this requester (None if it cannot be)."""
    if indexed.status != 200:
        return None
    kept = tuple((k, v) for k, v in indexed.headers if k.lower() not in PER_TOKEN)
    return Entry(indexed.status, (*kept, (hdrs.ETAG, etag_for(request_headers, indexed.body))), indexed.body, 0.0)
