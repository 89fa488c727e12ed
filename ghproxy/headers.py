"""HTTP and GitHub header rules, without I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from aiohttp import hdrs

# Prow's budget header (pkg/ghcache): callers sharing one identifier share a cache partition and a metric label.
BUDGET_ID = "X-PROW-GHCACHE-TOKEN-BUDGET-IDENTIFIER"
CACHE_MODE = "X-Cache-Mode"
API_VERSION = "X-GitHub-Api-Version"

# RFC 9110 §7.6.1 hop-by-hop headers, plus those a proxy must set itself.
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        hdrs.CONNECTION,
        hdrs.KEEP_ALIVE,
        hdrs.PROXY_AUTHENTICATE,
        hdrs.PROXY_AUTHORIZATION,
        hdrs.TE,
        hdrs.TRAILER,
        hdrs.TRANSFER_ENCODING,
        hdrs.UPGRADE,
        "Proxy-Connection",
    )
)

# Never forwarded upstream: the proxy sets them (Host, length, encoding) or they are for the proxy only.
_NOT_FORWARDED = HOP_BY_HOP | {
    hdrs.HOST.lower(),
    BUDGET_ID.lower(),
    hdrs.ACCEPT_ENCODING.lower(),
    hdrs.EXPECT.lower(),
}
# Not kept in a stored entry: recomputed for every response we serve.
_NOT_STORED = HOP_BY_HOP | {
    hdrs.CONTENT_LENGTH.lower(),
    hdrs.CONTENT_ENCODING.lower(),
    CACHE_MODE.lower(),
    hdrs.SET_COOKIE.lower(),
}
# RFC 9111 §3.2: a 304 updates stored headers, but never the ones that describe the stored body.
_NOT_UPDATED_BY_304 = _NOT_STORED | {hdrs.CONTENT_TYPE.lower(), hdrs.CONTENT_RANGE.lower()}

CONDITIONAL = (hdrs.IF_NONE_MATCH, hdrs.IF_MODIFIED_SINCE, hdrs.IF_MATCH, hdrs.IF_UNMODIFIED_SINCE)

Headers = tuple[tuple[str, str], ...]


def _connection_tokens(items: Iterable[tuple[str, str]]) -> set[str]:
    """Header names listed in `Connection` are hop-by-hop too (RFC 9110 §7.6.1)."""
    found: set[str] = set()
    for name, value in items:
        if name.lower() == "connection":
            found.update(t.strip().lower() for t in value.split(",") if t.strip())
    return found


def upstream_request_headers(items: Iterable[tuple[str, str]], *, keep_conditionals: bool) -> list[tuple[str, str]]:
    """Client request headers as they go upstream: hop-by-hop, Host and proxy-only headers removed."""
    pairs = list(items)
    drop = _NOT_FORWARDED | _connection_tokens(pairs)
    if not keep_conditionals:
        drop = drop | {h.lower() for h in CONDITIONAL}
    return [(k, v) for k, v in pairs if k.lower() not in drop]


def storable_headers(items: Iterable[tuple[str, str]]) -> Headers:
    pairs = list(items)
    drop = _NOT_STORED | _connection_tokens(pairs)
    return tuple((k, v) for k, v in pairs if k.lower() not in drop)


def passthrough_response_headers(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Upstream response headers relayed as they are (length and encoding are set by the relay)."""
    pairs = list(items)
    drop = HOP_BY_HOP | {hdrs.CONTENT_LENGTH.lower(), hdrs.CONTENT_ENCODING.lower()} | _connection_tokens(pairs)
    return [(k, v) for k, v in pairs if k.lower() not in drop]


def merge_not_modified(stored: Headers, fresh: Iterable[tuple[str, str]]) -> Headers:
    """RFC 9111 §4.3.4: headers of a 304 replace the stored ones of the same name; the rest are kept."""
    update: dict[str, list[tuple[str, str]]] = {}
    for name, value in fresh:
        if name.lower() in _NOT_UPDATED_BY_304:
            continue
        update.setdefault(name.lower(), []).append((name, value))
    merged: list[tuple[str, str]] = []
    emitted: set[str] = set()
    for name, value in stored:
        low = name.lower()
        if low in update:
            if low not in emitted:
                merged.extend(update[low])
                emitted.add(low)
            continue
        merged.append((name, value))
    for low, values in update.items():
        if low not in emitted:
            merged.extend(values)
    return tuple(merged)


def get(headers: Headers, name: str) -> str | None:
    low = name.lower()
    for k, v in headers:
        if k.lower() == low:
            return v
    return None


def cache_directives(value: str | None) -> dict[str, str]:
    """`Cache-Control` as a dict of lower-case directive -> argument ("" when none)."""
    out: dict[str, str] = {}
    if not value:
        return out
    for part in value.split(","):
        name, _, arg = part.strip().partition("=")
        if name:
            out[name.lower()] = arg.strip().strip('"')
    return out


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith(("W/", "w/")) else tag


def etag_matches(if_none_match: str, etag: str | None) -> bool:
    """RFC 9110 §13.1.2: If-None-Match uses the weak comparison; `*` matches any current representation."""
    if etag is None:
        return False
    wanted = _opaque(etag)
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or (candidate and _opaque(candidate) == wanted):
            return True
    return False


def not_modified_since(if_modified_since: str, last_modified: str | None) -> bool:
    """RFC 9110 §13.1.3: true when the stored Last-Modified is not after the client's date."""
    if last_modified is None:
        return False
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether the client takes gzip (RFC 9110 §12.5.3), honouring `q=0`."""
    if not accept_encoding:
        return False
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _is_zero(q[2:]))
    return False


def _is_zero(q: str) -> bool:
    try:
        return float(q) == 0
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class RateLimit:
    """GitHub's primary rate-limit headers of one response."""

    limit: int
    remaining: int
    reset: int
    resource: str


def rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """Parse `x-ratelimit-*` (docs.github.com/rest/overview/rate-limits-for-the-rest-api); None when absent."""
    try:
        return RateLimit(
            limit=int(headers["X-RateLimit-Limit"]),
            remaining=int(headers["X-RateLimit-Remaining"]),
            reset=int(headers["X-RateLimit-Reset"]),
            resource=headers.get("X-RateLimit-Resource", "core"),
        )
    except (KeyError, ValueError):
        return None
