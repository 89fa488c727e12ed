"""Cache partitions and cache keys: pure functions of the request.

A partition is the sha256 of the budget identifier header (as Go ghproxy does) or of `Authorization`; a key is the
sha256 of partition, method, normalised URL and Accept. Raw tokens never leave this module: only hashes do.
"""

from __future__ import annotations

import hashlib

from aiohttp import hdrs
from multidict import CIMultiDictProxy

from ghproxy.headers import BUDGET_ID


def token_hash(headers: CIMultiDictProxy[str]) -> str:
    """The `token_hash` metric label: the budget identifier if present, else sha256 of `Authorization`.

    Go ghproxy hashes "unknown" for anonymous requests; we do the same so dashboards line up.
    """
    budget = headers.get(BUDGET_ID)
    if budget:
        return budget
    return _sha256(headers.get(hdrs.AUTHORIZATION) or "unknown")


def partition(headers: CIMultiDictProxy[str]) -> str:
    """The cache partition of a request: a hash, never the credential itself."""
    budget = headers.get(BUDGET_ID)
    if budget:
        return _sha256("budget\0" + budget)
    return _sha256("auth\0" + (headers.get(hdrs.AUTHORIZATION) or ""))


def normalise_target(path: str, raw_query: str) -> str:
    """Path plus the raw query with its parameters sorted by name (stable for repeated names).

    GitHub ignores parameter order. Pairs are compared as sent, never decoded, so two different encodings can
    never collapse into one key.
    """
    if not raw_query:
        return path
    pairs = raw_query.split("&")
    pairs.sort(key=lambda pair: pair.split("=", 1)[0])
    return f"{path}?{'&'.join(pairs)}"


def normalise_accept(accept: str | None) -> str:
    """Accept with case and white space folded; GitHub varies its media types on it."""
    if not accept:
        return ""
    return ",".join(part.strip().lower() for part in accept.split(","))


PARTITION_CHARS = 32  # 128 bits of the partition hash: enough to keep partitions apart, short in keys


def cache_key(part: str, method: str, target: str, accept: str, api_version: str = "") -> str:
    """`<partition>:<digest>`: tiers that keep partitions apart (Redis, disk tags) split on the colon.

    `api_version` is the `X-GitHub-Api-Version` request header: GitHub may shape a response by it.
    """
    digest = _sha256(f"{part}\n{method}\n{target}\n{accept}\n{api_version}")
    return f"{part[:PARTITION_CHARS]}:{digest}"


def partition_of(key: str) -> str:
    return key.split(":", 1)[0]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
