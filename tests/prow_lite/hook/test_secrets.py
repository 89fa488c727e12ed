"""Webhook secrets and signatures: raw tokens, Prow's YAML levels, rotation (pure, plus the file watcher)."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import pytest

from prow_lite.hook.secrets import SecretError, SecretFile, org_repo_of, parse_secrets, sign, verify

BODY = b'{"repository": {"full_name": "org0/repo0"}}'

LEVELS = b"""
org0/repo0:
  - value: repo-token
    created_at: 2024-01-01T00:00:00Z
org0:
  - value: org-old
    created_at: 2023-01-01T00:00:00Z
  - value: org-new
    created_at: 2024-06-01T00:00:00Z
"*":
  - value: everyone
"""


def test_sign_is_githubs_hmac_sha256() -> None:
    expected = hmac.new(b"k", BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, b"k") == f"sha256={expected}"


@pytest.mark.parametrize(
    "signature",
    ["", "sha1=" + "0" * 40, "sha256=", "sha256=zz", "sha256=abc", sign(BODY, b"other"), sign(BODY + b" ", b"k")],
)
def test_verify_refuses(signature: str) -> None:
    assert verify(BODY, signature, [b"k"]) is False


def test_verify_accepts_any_token_given() -> None:
    assert verify(BODY, sign(BODY, b"b"), [b"a", b"b"]) is True
    assert verify(BODY, sign(BODY, b"b").upper().replace("SHA256=", "sha256="), [b"b"]) is True
    assert verify(BODY, sign(BODY, b"b"), []) is False


@pytest.mark.parametrize("data", [b"s3cret\n", b"  s3cret  ", b"s3cret"])
def test_a_raw_token_applies_everywhere(data: bytes) -> None:
    secrets = parse_secrets(data)
    assert secrets.tokens_for("org0/repo0") == (b"s3cret",)
    assert secrets.tokens_for("") == (b"s3cret",)


def test_a_raw_token_that_looks_like_yaml_is_still_a_token() -> None:
    # Prow unmarshals into map[string][]HMACToken; anything else is the legacy single token
    assert parse_secrets(b"abc: def").tokens_for("x/y") == (b"abc: def",)
    assert parse_secrets(b"- a\n- b").tokens_for("x/y") == (b"- a\n- b",)


@pytest.mark.parametrize(
    ("org_repo", "tokens"),
    [
        ("org0/repo0", (b"repo-token",)),  # the most specific level only: org0's tokens do not sign repo0
        ("org0/repo1", (b"org-old", b"org-new")),
        ("org0", (b"org-old", b"org-new")),  # org-level events
        ("org1/repo0", (b"everyone",)),
        ("", (b"everyone",)),
    ],
)
def test_the_most_specific_level_wins(org_repo: str, tokens: tuple[bytes, ...]) -> None:
    assert parse_secrets(LEVELS).tokens_for(org_repo) == tokens


def test_no_level_means_no_token() -> None:
    secrets = parse_secrets(b"org0:\n  - value: t\n")
    assert secrets.tokens_for("org1/repo0") == ()


@pytest.mark.parametrize(
    "data", [b"", b"\n  \n", b"org0: []\n", b"org0:\n  - created_at: 2024-01-01\n", b"org0:\n  - value: ''\n"]
)
def test_unusable_files_are_errors(data: bytes) -> None:
    with pytest.raises(SecretError, match="hmac-file"):
        parse_secrets(data, "hmac-file")


def test_org_repo_of_payloads() -> None:
    assert org_repo_of({"repository": {"full_name": "o/r"}, "organization": {"login": "o"}}) == "o/r"
    assert org_repo_of({"organization": {"login": "o"}}) == "o"
    assert org_repo_of({}) == ""


def test_rotation_through_the_file_without_restart(tmp_path: Path) -> None:
    path = tmp_path / "hmac"
    path.write_bytes(b"org0:\n  - value: old\n")
    secrets = SecretFile(path)
    assert secrets.current.tokens_for("org0/repo0") == (b"old",)
    # step 1: add the new token next to the old one; both sign
    path.write_bytes(b"org0:\n  - value: old\n  - value: new\n")
    os.utime(path, ns=(1, 10**18))
    tokens = secrets.current.tokens_for("org0/repo0")
    assert verify(BODY, sign(BODY, b"old"), tokens) and verify(BODY, sign(BODY, b"new"), tokens)
    # step 2: drop the old one
    path.write_bytes(b"org0:\n  - value: new\n")
    os.utime(path, ns=(1, 2 * 10**18))
    tokens = secrets.current.tokens_for("org0/repo0")
    assert not verify(BODY, sign(BODY, b"old"), tokens) and verify(BODY, sign(BODY, b"new"), tokens)


def test_a_broken_rewrite_keeps_the_last_good_secrets(tmp_path: Path) -> None:
    path = tmp_path / "hmac"
    path.write_bytes(b"good\n")
    secrets = SecretFile(path)
    path.write_bytes(b"")
    os.utime(path, ns=(1, 10**18))
    assert secrets.current.tokens_for("o/r") == (b"good",)
    path.unlink()
    assert secrets.current.tokens_for("o/r") == (b"good",)


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="nothere"):
        SecretFile(tmp_path / "nothere")
