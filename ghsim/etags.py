"""GitHub's ETag formula and conditional-request matching.

Observed formula (bored-engineer/github-conditional-http-transport, 2025): sha256 over the present values of the
request headers Accept, Authorization and Cookie, each followed by ":", then the uncompressed body. So the same
body gets a different ETag for each token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from aiohttp import hdrs

ETAG_HEADERS = (hdrs.ACCEPT, hdrs.AUTHORIZATION, hdrs.COOKIE)


def etag(request_headers: Mapping[str, str], body: bytes) -> str:
    digest = hashlib.sha256()
    for name in ETAG_HEADERS:
        value = request_headers.get(name)
        if value is not None:
            digest.update(value.encode() + b":")
    digest.update(body)
    return f'"{digest.hexdigest()}"'


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def none_match(if_none_match: str, current: str) -> bool:
    """True when If-None-Match matches (so the answer is 304); weak comparison, RFC 9110 §13.1.2."""
    want = _opaque(current)
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or (candidate and _opaque(candidate) == want):
            return True
    return False


def not_modified_since(if_modified_since: str, last_modified: str) -> bool:
    """True when the resource has not changed since the client's date (RFC 9110 §13.1.3)."""
    try:
        since = parsedate_to_datetime(if_modified_since)
        modified = parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):
        return False
    return modified <= since
