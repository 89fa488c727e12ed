"""What a request needs and what an upstream answer means for the cache: pure functions, no I/O, no clock.

The engine asks `plan()` before going upstream and `settle()` after the answer's status line and headers arrive,
then does what the returned values say.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import hdrs
from multidict import CIMultiDictProxy

from ghproxy import headers as h
from ghproxy.entry import Entry


class Mode(enum.StrEnum):
    """Values of the `X-Cache-Mode` response header (Go ghproxy's, plus ours)."""

    MISS = "MISS"  # nothing stored; fetched (and stored if cacheable)
    CHANGED = "CHANGED"  # an entry existed; upstream sent a new representation
    REVALIDATED = "REVALIDATED"  # upstream answered 304: free
    COALESCED = "COALESCED"  # shared another request's upstream answer: free
    NO_STORE = "NO-STORE"  # the answer may not or could not be stored
    SKIP = "SKIP"  # not a cacheable request (non-GET, GraphQL, Range, client no-store)


class Kind(enum.Enum):
    PASS = "pass"  # forward as is, never cached
    FETCH = "fetch"  # nothing stored: forward, keeping the client's own validators
    REVALIDATE = "revalidate"  # ask upstream with the stored validators
    REFETCH = "refetch"  # client sent no-cache: unconditional fetch, then store


@dataclass(frozen=True, slots=True)
class Plan:
    kind: Kind
    # Validators to send upstream in place of the client's (REVALIDATE only).
    validators: tuple[tuple[str, str], ...] = ()

    @property
    def keeps_client_conditionals(self) -> bool:
        return self.kind in (Kind.PASS, Kind.FETCH)


class Action(enum.Enum):
    STORE = "store"  # read the body, store it, serve it
    REFRESH = "refresh"  # 304 to our validators: merge headers into the entry, serve the entry
    RELAY = "relay"  # serve upstream's answer as is, store nothing
    RELAY_AND_FORGET = "relay-and-forget"  # as RELAY, and drop the stored entry (it no longer exists upstream)


@dataclass(frozen=True, slots=True)
class Settlement:
    action: Action
    mode: Mode


GRAPHQL_PATHS = frozenset({"/graphql", "/api/graphql"})
CACHEABLE_METHODS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD})
# RFC 9111 §3 with GitHub in mind: statuses whose body is worth revalidating later.
STORABLE_STATUSES = frozenset({200, 203, 300, 301, 410})


def plan(method: str, path: str, req: CIMultiDictProxy[str], entry: Entry | None) -> Plan:
    """Decide how to serve a request given what is stored for its key."""
    if method not in CACHEABLE_METHODS or path in GRAPHQL_PATHS or hdrs.RANGE in req:
        return Plan(Kind.PASS)
    client_cc = h.cache_directives(req.get(hdrs.CACHE_CONTROL))
    if "no-store" in client_cc:
        return Plan(Kind.PASS)
    if entry is None:
        return Plan(Kind.FETCH)
    if "no-cache" in client_cc or req.get(hdrs.PRAGMA, "").lower() == "no-cache":
        return Plan(Kind.REFETCH)
    validators: list[tuple[str, str]] = []
    if entry.etag is not None:
        validators.append((hdrs.IF_NONE_MATCH, entry.etag))
    if entry.last_modified is not None:
        validators.append((hdrs.IF_MODIFIED_SINCE, entry.last_modified))
    if not validators:
        return Plan(Kind.REFETCH)
    return Plan(Kind.REVALIDATE, tuple(validators))


def storable(status: int, resp: Iterable[tuple[str, str]]) -> bool:
    """Whether an upstream answer may be stored: a storable status, a validator, and no `no-store`."""
    if status not in STORABLE_STATUSES:
        return False
    has_validator = False
    for name, value in resp:
        low = name.lower()
        if low == "cache-control" and "no-store" in h.cache_directives(value):
            return False
        if low == "vary" and value.strip() == "*":
            return False
        if low in ("etag", "last-modified"):
            has_validator = True
    return has_validator


def settle(p: Plan, method: str, status: int, resp: Iterable[tuple[str, str]], had_entry: bool) -> Settlement:
    """What an upstream answer (status and headers) means for the cache and the client.

    HEAD shares GET's entry: a 304 to a conditional HEAD confirms the stored GET body, but a HEAD answer carries
    no body, so it can replace nothing; a changed representation drops the entry instead.
    """
    if p.kind is Kind.PASS:
        return Settlement(Action.RELAY, Mode.SKIP)
    if status == 304:
        if p.kind is Kind.REVALIDATE:
            return Settlement(Action.REFRESH, Mode.REVALIDATED)
        # The client's own validators matched upstream: free, and bodyless, so never stored.
        return Settlement(Action.RELAY, Mode.REVALIDATED)
    if storable(status, resp):
        mode = Mode.CHANGED if had_entry else Mode.MISS
        if method == hdrs.METH_HEAD:
            return Settlement(Action.RELAY_AND_FORGET if had_entry else Action.RELAY, mode)
        return Settlement(Action.STORE, mode)
    if had_entry and status in (404, 410, 451):
        return Settlement(Action.RELAY_AND_FORGET, Mode.NO_STORE)
    return Settlement(Action.RELAY, Mode.NO_STORE)


def client_not_modified(req: CIMultiDictProxy[str], entry: Entry) -> bool:
    """Whether the client's own conditional headers match the current entry, so it gets a 304."""
    if entry.status != 200:
        return False
    inm = req.get(hdrs.IF_NONE_MATCH)
    if inm is not None:
        return h.etag_matches(inm, entry.etag)
    ims = req.get(hdrs.IF_MODIFIED_SINCE)
    if ims is not None:
        return h.not_modified_since(ims, entry.last_modified)
    return False
