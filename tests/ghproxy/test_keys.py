"""Partitions and keys: token isolation starts here, and raw tokens never leave as anything but a hash."""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

from ghproxy import keys


def headers(**kv: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in kv.items()}))


def test_partition_differs_per_token_and_hides_it() -> None:
    a = keys.partition(headers(Authorization="token secret-a"))
    b = keys.partition(headers(Authorization="token secret-b"))
    assert a != b
    assert "secret" not in a and len(a) == 64


def test_budget_identifier_wins_as_partition_and_label() -> None:
    h1 = headers(Authorization="token a", X_PROW_GHCACHE_TOKEN_BUDGET_IDENTIFIER="hook")
    h2 = headers(Authorization="token b", X_PROW_GHCACHE_TOKEN_BUDGET_IDENTIFIER="hook")
    assert keys.partition(h1) == keys.partition(h2)
    assert keys.token_hash(h1) == "hook"


def test_token_hash_is_sha256_of_authorization_as_go_ghproxy() -> None:
    import hashlib

    assert keys.token_hash(headers(Authorization="token x")) == hashlib.sha256(b"token x").hexdigest()
    assert keys.token_hash(headers()) == hashlib.sha256(b"unknown").hexdigest()


def test_query_order_does_not_split_the_cache() -> None:
    assert keys.normalise_target("/x", "page=2&per_page=100") == keys.normalise_target("/x", "per_page=100&page=2")
    assert keys.normalise_target("/x", "") == "/x"


def test_repeated_parameters_keep_their_order() -> None:
    assert keys.normalise_target("/x", "b=1&a=2&a=1") == "/x?a=2&a=1&b=1"


def test_different_encodings_never_share_a_key() -> None:
    assert keys.normalise_target("/x", "ref=%ff") != keys.normalise_target("/x", "ref=%fe")
    assert keys.normalise_target("/x", "q=a+b") != keys.normalise_target("/x", "q=a%20b")


def test_api_version_is_part_of_the_key() -> None:
    assert keys.cache_key("p", "GET", "/x", "", "2022-11-28") != keys.cache_key("p", "GET", "/x", "", "")


def test_accept_is_folded() -> None:
    assert keys.normalise_accept("Application/JSON ,  text/plain") == "application/json,text/plain"
    assert keys.normalise_accept(None) == ""


def test_key_depends_on_every_part() -> None:
    base = keys.cache_key("p", "GET", "/x", "a")
    assert (
        len(
            {
                base,
                keys.cache_key("q", "GET", "/x", "a"),
                keys.cache_key("p", "HEAD", "/x", "a"),
                keys.cache_key("p", "GET", "/y", "a"),
                keys.cache_key("p", "GET", "/x", "b"),
            }
        )
        == 5
    )


def test_key_starts_with_its_partition() -> None:
    part = keys.partition(headers(Authorization="token a"))
    key = keys.cache_key(part, "GET", "/x", "")
    assert keys.partition_of(key) == part[: keys.PARTITION_CHARS]
    assert len(key) == keys.PARTITION_CHARS + 1 + 64
