"""The cache policy, grouped by the rule each test checks."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from ghproxy.entry import Entry
from ghproxy.policy import Action, Kind, Mode, client_not_modified, plan, settle, storable

ETAG = '"abc"'
LM = "Mon, 02 Nov 2026 10:00:00 GMT"


def req(**headers: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()}))


def entry(etag: str | None = ETAG, last_modified: str | None = LM, status: int = 200) -> Entry:
    hdrs: list[tuple[str, str]] = [("Content-Type", "application/json")]
    if etag:
        hdrs.append(("ETag", etag))
    if last_modified:
        hdrs.append(("Last-Modified", last_modified))
    return Entry(status=status, headers=tuple(hdrs), body=b"{}", stored_at=100.0)


class TestWhatIsCacheable:
    @pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE", "OPTIONS"])
    def test_non_get_passes_through(self, method: str) -> None:
        assert plan(method, "/repos/o/r", req(), None).kind is Kind.PASS

    @pytest.mark.parametrize("path", ["/graphql", "/api/graphql"])
    def test_graphql_passes_through_even_as_get(self, path: str) -> None:
        assert plan("GET", path, req(), entry()).kind is Kind.PASS

    def test_range_request_passes_through(self) -> None:
        assert plan("GET", "/x", req(Range="bytes=0-10"), entry()).kind is Kind.PASS

    def test_client_no_store_passes_through(self) -> None:
        assert plan("GET", "/x", req(Cache_Control="no-store"), entry()).kind is Kind.PASS

    @pytest.mark.parametrize("method", ["GET", "HEAD"])
    def test_get_and_head_are_cacheable(self, method: str) -> None:
        assert plan(method, "/x", req(), None).kind is Kind.FETCH


class TestRevalidationAlways:
    """Go ghproxy's rule, kept: every reuse of an entry is revalidated upstream with its validators."""

    def test_entry_is_revalidated_with_both_validators(self) -> None:
        p = plan("GET", "/x", req(), entry())
        assert p.kind is Kind.REVALIDATE
        assert p.validators == (("If-None-Match", ETAG), ("If-Modified-Since", LM))
        assert not p.keeps_client_conditionals

    def test_etag_only(self) -> None:
        assert plan("GET", "/x", req(), entry(last_modified=None)).validators == (("If-None-Match", ETAG),)

    def test_entry_without_validators_is_refetched(self) -> None:
        assert plan("GET", "/x", req(), entry(etag=None, last_modified=None)).kind is Kind.REFETCH

    def test_no_entry_keeps_client_validators(self) -> None:
        # a client holding its own body can still get a free 304 when the proxy has nothing stored
        assert plan("GET", "/x", req(If_None_Match=ETAG), None).keeps_client_conditionals


class TestClientNoCache:
    """RFC 9111 §5.2.1.4: request no-cache means the stored response may not be used without a full fetch."""

    @pytest.mark.parametrize(
        "headers", [{"Cache_Control": "no-cache"}, {"Cache_Control": "max-age=0, no-cache"}, {"Pragma": "no-cache"}]
    )
    def test_no_cache_refetches(self, headers: dict[str, str]) -> None:
        p = plan("GET", "/x", req(**headers), entry())
        assert p.kind is Kind.REFETCH
        assert p.validators == ()


class TestSettle:
    """What an upstream answer means, by plan kind and status."""

    OK = (("ETag", ETAG), ("Cache-Control", "private, max-age=60"))

    @pytest.mark.parametrize(
        ("kind", "status", "headers", "had", "action", "mode"),
        [
            (Kind.FETCH, 200, OK, False, Action.STORE, Mode.MISS),
            (Kind.REVALIDATE, 200, OK, True, Action.STORE, Mode.CHANGED),
            (Kind.REFETCH, 200, OK, True, Action.STORE, Mode.CHANGED),
            (Kind.REVALIDATE, 304, OK, True, Action.REFRESH, Mode.REVALIDATED),
            # the client's own validator matched: relay the 304, never store a bodyless answer
            (Kind.FETCH, 304, OK, False, Action.RELAY, Mode.REVALIDATED),
            (Kind.FETCH, 200, (("Cache-Control", "no-store"), ("ETag", ETAG)), False, Action.RELAY, Mode.NO_STORE),
            (Kind.FETCH, 200, (("Content-Type", "application/json"),), False, Action.RELAY, Mode.NO_STORE),
            (Kind.FETCH, 500, OK, False, Action.RELAY, Mode.NO_STORE),
            (Kind.REVALIDATE, 502, OK, True, Action.RELAY, Mode.NO_STORE),
            (Kind.REVALIDATE, 404, (), True, Action.RELAY_AND_FORGET, Mode.NO_STORE),
            (Kind.PASS, 201, OK, False, Action.RELAY, Mode.SKIP),
            (Kind.PASS, 304, OK, False, Action.RELAY, Mode.SKIP),
        ],
    )
    def test_table(
        self, kind: Kind, status: int, headers: tuple[tuple[str, str], ...], had: bool, action: Action, mode: Mode
    ) -> None:
        from ghproxy.policy import Plan

        s = settle(Plan(kind), "GET", status, headers, had)
        assert (s.action, s.mode) == (action, mode)

    @pytest.mark.parametrize(
        ("status", "had", "action", "mode"),
        [
            (304, True, Action.REFRESH, Mode.REVALIDATED),
            (200, True, Action.RELAY_AND_FORGET, Mode.CHANGED),
            (200, False, Action.RELAY, Mode.MISS),
        ],
    )
    def test_head_never_stores_a_bodyless_answer(self, status: int, had: bool, action: Action, mode: Mode) -> None:
        from ghproxy.policy import Plan

        kind = Kind.REVALIDATE if had else Kind.FETCH
        s = settle(Plan(kind), "HEAD", status, self.OK, had)
        assert (s.action, s.mode) == (action, mode)

    def test_vary_star_is_not_storable(self) -> None:
        assert not storable(200, (("ETag", ETAG), ("Vary", "*")))

    def test_last_modified_alone_is_a_validator(self) -> None:
        assert storable(200, (("Last-Modified", LM),))

    @pytest.mark.parametrize("status", [201, 206, 302, 304, 403, 404, 429, 500])
    def test_unstorable_statuses(self, status: int) -> None:
        assert not storable(status, (("ETag", ETAG),))


class TestClientConditionals:
    """RFC 9110 §13.1: a client's validators that match the current entry get a 304."""

    def test_matching_if_none_match(self) -> None:
        assert client_not_modified(req(If_None_Match=ETAG), entry())

    def test_weak_comparison(self) -> None:
        assert client_not_modified(req(If_None_Match='W/"abc"'), entry())

    def test_list_and_star(self) -> None:
        assert client_not_modified(req(If_None_Match='"zzz", "abc"'), entry())
        assert client_not_modified(req(If_None_Match="*"), entry())

    def test_stale_etag(self) -> None:
        assert not client_not_modified(req(If_None_Match='"old"'), entry())

    def test_if_modified_since_used_only_without_if_none_match(self) -> None:
        assert client_not_modified(req(If_Modified_Since=LM), entry())
        assert not client_not_modified(req(If_None_Match='"old"', If_Modified_Since=LM), entry())
        assert not client_not_modified(req(If_Modified_Since="Sun, 01 Nov 2026 10:00:00 GMT"), entry())

    def test_no_validators(self) -> None:
        assert not client_not_modified(req(), entry())

    def test_only_for_200_entries(self) -> None:
        assert not client_not_modified(req(If_None_Match=ETAG), entry(status=301))
