"""The equalizer's pure parts: what a minted token is, who may share it, how it is sealed for Redis."""

from __future__ import annotations

import json

import jwt
import pytest

from ghproxy.apptokens import Minted, jwt_claims, parse_minted, scope_key, seal, sealing_key, unseal

BODY = json.dumps({"token": "ghs_abc", "expires_at": "2026-11-23T13:00:00Z", "permissions": {}}).encode()


def test_parse_minted_reads_github_expiry_as_utc() -> None:
    minted = parse_minted(BODY, "application/json")
    assert minted is not None
    assert minted.expires_at == 1795438800.0  # 2026-11-23T13:00:00Z
    assert minted.body == BODY


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"token": "ghs_abc"}).encode(),
        json.dumps({"token": "", "expires_at": "2026-11-23T13:00:00Z"}).encode(),
        json.dumps({"token": "ghs_abc", "expires_at": "tomorrow"}).encode(),
        json.dumps({"token": 5, "expires_at": "2026-11-23T13:00:00Z"}).encode(),
    ],
)
def test_parse_minted_refuses_what_is_not_a_token(body: bytes) -> None:
    assert parse_minted(body, "application/json") is None


def test_fresh_needs_more_than_the_margin_left() -> None:
    minted = Minted(b"{}", "application/json", expires_at=1000.0)
    assert minted.fresh(now=939.0, min_remaining=60)
    assert not minted.fresh(now=940.0, min_remaining=60)
    assert not minted.fresh(now=2000.0, min_remaining=60)


def test_jwt_claims_unverified_but_only_from_a_bearer_jwt() -> None:
    token = jwt.encode({"iss": "1001", "exp": 2000000000}, "k" * 32, algorithm="HS256")
    assert jwt_claims(f"Bearer {token}") == {"iss": "1001", "exp": 2000000000}
    assert jwt_claims(f"token {token}") is None  # a plain token is never a JWT
    assert jwt_claims("Bearer ghs_abc") is None
    assert jwt_claims("Bearer a.b.c") is None
    assert jwt_claims(None) is None


def test_scope_separates_apps_installations_and_requested_scopes() -> None:
    base = scope_key("1001", "2001", b"")
    assert base == scope_key("1001", "2001", b"{}") == scope_key("1001", "2001", b"  ")
    assert base != scope_key("1002", "2001", b"")
    assert base != scope_key("1001", "2002", b"")
    narrowed = scope_key("1001", "2001", b'{"repositories": ["repo0"], "permissions": {"issues": "write"}}')
    assert narrowed != base
    # key order does not matter, the scope does
    assert narrowed == scope_key("1001", "2001", b'{"permissions": {"issues": "write"}, "repositories": ["repo0"]}')
    assert scope_key("1001", "2001", b"{not json") is None


def test_sealed_tokens_need_the_key_and_show_nothing() -> None:
    minted = parse_minted(BODY, "application/json")
    assert minted is not None
    key = sealing_key(b"shared secret\n")
    sealed = seal(minted, key)
    assert b"ghs_abc" not in sealed
    assert unseal(sealed, key) == minted
    assert unseal(sealed, sealing_key(b"another secret")) is None
    assert unseal(sealed, None) is None
    clear = seal(minted, None)
    assert unseal(clear, None) == minted
    assert unseal(clear, key) is None  # a keyed replica never trusts an unsealed value
    assert unseal(b"garbage", key) is None and unseal(b"p1:{broken", None) is None
