"""Prow's webhook validation order (github.ValidateWebhook), decided without I/O."""

from __future__ import annotations

import json

import pytest

from prow_lite.hook.secrets import parse_secrets, sign
from prow_lite.hook.webhook import Accepted, Rejected, check_body, check_request

SECRETS = parse_secrets(b"org0/repo0:\n  - value: repo\norg0:\n  - value: org\n")
BODY = json.dumps({"action": "created", "repository": {"full_name": "org0/repo0"}}).encode()
GOOD = {
    "X-GitHub-Event": "issue_comment",
    "X-GitHub-Delivery": "d-1",
    "X-Hub-Signature-256": sign(BODY, b"repo"),
    "content-type": "application/json",
}


def without(name: str) -> dict[str, str]:
    return {k: v for k, v in GOOD.items() if k != name}


@pytest.mark.parametrize(
    ("method", "headers", "status", "text"),
    [
        ("GET", {}, 405, "405 Method not allowed"),
        ("PUT", GOOD, 405, "405 Method not allowed"),
        ("POST", {}, 400, "Missing X-GitHub-Event Header"),
        ("POST", without("X-GitHub-Event"), 400, "Missing X-GitHub-Event Header"),
        ("POST", without("X-GitHub-Delivery"), 400, "Missing X-GitHub-Delivery Header"),
        ("POST", without("X-Hub-Signature-256"), 403, "Missing X-Hub-Signature-256"),
        # the signature header is checked before the content type
        ("POST", {**without("X-Hub-Signature-256"), "content-type": "text/plain"}, 403, "Missing"),
        ("POST", without("content-type"), 400, "only accepts content-type: application/json"),
        ("POST", {**GOOD, "content-type": "application/x-www-form-urlencoded"}, 400, "application/json"),
    ],
)
def test_request_checks_in_prows_order(method: str, headers: dict[str, str], status: int, text: str) -> None:
    rejected = check_request(method, headers)
    assert isinstance(rejected, Rejected)
    assert rejected.status == status
    assert text in rejected.message


def test_a_good_request_passes_the_header_checks() -> None:
    assert check_request("POST", GOOD) is None


def test_a_good_body_is_accepted() -> None:
    accepted = check_body(GOOD, BODY, SECRETS)
    assert accepted == Accepted("issue_comment", "d-1", json.loads(BODY))


@pytest.mark.parametrize(
    ("body", "signature", "reason"),
    [
        (b"not json", sign(b"not json", b"repo"), "invalid payload"),
        (b"[1, 2]", sign(b"[1, 2]", b"repo"), "invalid payload"),
        (BODY, "sha1=abc", "invalid signature"),
        (BODY, "sha256=nothex", "invalid signature"),
        (BODY, sign(BODY, b"org"), "misconfigured webhook secret from organization/repo: org0/repo0"),
        (BODY, sign(BODY + b"x", b"repo"), "misconfigured webhook secret from organization/repo: org0/repo0"),
    ],
)
def test_body_checks(body: bytes, signature: str, reason: str) -> None:
    result = check_body({**GOOD, "X-Hub-Signature-256": signature}, body, SECRETS)
    assert isinstance(result, Rejected)
    assert result.status == 403
    assert result.message == f"403 Forbidden: Invalid X-Hub-Signature-256 - {reason}"


def test_a_repository_without_a_level_has_no_secret() -> None:
    body = json.dumps({"repository": {"full_name": "org1/repo0"}}).encode()
    result = check_body({**GOOD, "X-Hub-Signature-256": sign(body, b"org")}, body, SECRETS)
    assert result == Rejected(
        403, "403 Forbidden: Invalid X-Hub-Signature-256 - failed to get an appropriate hmac secret"
    )


def test_org_level_events_use_the_org_token() -> None:
    body = json.dumps({"organization": {"login": "org0"}}).encode()
    result = check_body({**GOOD, "X-Hub-Signature-256": sign(body, b"org")}, body, SECRETS)
    assert isinstance(result, Accepted)
