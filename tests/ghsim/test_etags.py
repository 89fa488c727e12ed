"""GitHub's ETag formula and If-None-Match matching."""

from __future__ import annotations

import hashlib

import pytest

from ghsim.etags import etag, none_match, not_modified_since


def test_formula_hashes_present_headers_then_body() -> None:
    headers = {"Accept": "application/json", "Authorization": "token a"}
    want = hashlib.sha256(b"application/json:token a:{}").hexdigest()
    assert etag(headers, b"{}") == f'"{want}"'
    assert etag({}, b"{}") == f'"{hashlib.sha256(b"{}").hexdigest()}"'
    assert etag({"Authorization": "token b"}, b"{}") != etag({"Authorization": "token a"}, b"{}")


@pytest.mark.parametrize(
    ("header", "matches"),
    [('"abc"', True), ('W/"abc"', True), ('"x", "abc"', True), ("*", True), ('"abd"', False), ("", False)],
)
def test_none_match_is_weak(header: str, matches: bool) -> None:
    assert none_match(header, '"abc"') is matches


def test_modified_since() -> None:
    lm = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert not_modified_since(lm, lm)
    assert not not_modified_since("Sun, 31 Dec 2023 00:00:00 GMT", lm)
    assert not not_modified_since("garbage", lm)
