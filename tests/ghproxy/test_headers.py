from __future__ import annotations

import pytest

from ghproxy import headers as h


class TestHopByHop:
    """RFC 9110 §7.6.1: hop-by-hop headers, and those named in Connection, are not forwarded."""

    def test_upstream_request_headers(self) -> None:
        out = h.upstream_request_headers(
            [
                ("Host", "proxy:8888"),
                ("Connection", "keep-alive, X-Private"),
                ("X-Private", "1"),
                ("Keep-Alive", "timeout=5"),
                ("Authorization", "token t"),
                ("Accept", "application/json"),
                ("Accept-Encoding", "br"),
                ("X-PROW-GHCACHE-TOKEN-BUDGET-IDENTIFIER", "bot"),
                ("If-None-Match", '"a"'),
            ],
            keep_conditionals=False,
        )
        assert out == [("Authorization", "token t"), ("Accept", "application/json")]

    def test_conditionals_kept_when_asked(self) -> None:
        out = h.upstream_request_headers([("If-None-Match", '"a"')], keep_conditionals=True)
        assert out == [("If-None-Match", '"a"')]

    def test_storable_headers_drop_length_encoding_and_cookies(self) -> None:
        stored = h.storable_headers(
            [
                ("Content-Length", "3"),
                ("Content-Encoding", "gzip"),
                ("Set-Cookie", "a=b"),
                ("ETag", '"x"'),
                ("Transfer-Encoding", "chunked"),
            ]
        )
        assert stored == (("ETag", '"x"'),)


class TestMergeNotModified:
    """RFC 9111 §4.3.4: a 304's headers replace stored ones by name; the body's own headers are kept."""

    def test_merge(self) -> None:
        stored = (
            ("ETag", '"1"'),
            ("X-RateLimit-Remaining", "10"),
            ("Content-Type", "application/json"),
            ("Vary", "Accept"),
            ("Vary", "Authorization"),
        )
        fresh = [
            ("X-RateLimit-Remaining", "9"),
            ("Date", "now"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "0"),
        ]
        merged = h.merge_not_modified(stored, fresh)
        assert merged == (
            ("ETag", '"1"'),
            ("X-RateLimit-Remaining", "9"),
            ("Content-Type", "application/json"),
            ("Vary", "Accept"),
            ("Vary", "Authorization"),
            ("Date", "now"),
        )

    def test_repeated_header_replaced_as_a_whole(self) -> None:
        merged = h.merge_not_modified((("Vary", "a"), ("Vary", "b")), [("Vary", "c")])
        assert merged == (("Vary", "c"),)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("*", True),
        ("identity", False),
        (None, False),
    ],
)
def test_accepts_gzip(value: str | None, expected: bool) -> None:
    assert h.accepts_gzip(value) is expected


def test_rate_limit() -> None:
    rl = h.rate_limit(
        {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": "17",
            "X-RateLimit-Resource": "search",
        }
    )
    assert rl == h.RateLimit(5000, 4, 17, "search")
    assert h.rate_limit({"X-RateLimit-Limit": "x"}) is None


def test_cache_directives() -> None:
    assert h.cache_directives('private, max-age=60, s-maxage="60", No-Cache') == {
        "private": "",
        "max-age": "60",
        "s-maxage": "60",
        "no-cache": "",
    }
