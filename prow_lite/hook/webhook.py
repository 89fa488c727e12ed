"""Webhook request validation in Prow's order (github.ValidateWebhook), without I/O.

1. not POST: 405; 2. no `X-GitHub-Event`: 400; 3. no `X-GitHub-Delivery`: 400; 4. no `X-Hub-Signature-256`: 403;
5. `content-type` other than `application/json`: 400; then the body: 6. not a JSON object, or a signature that is
malformed, made with no configured token, or wrong: 403. The messages are Prow's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prow_lite.hook.secrets import Secrets, org_repo_of, parse_signature, verify

EVENT = "X-GitHub-Event"
DELIVERY = "X-GitHub-Delivery"
SIGNATURE = "X-Hub-Signature-256"
ACCEPTED = "Event received. Have a nice day."


@dataclass(frozen=True, slots=True)
class Rejected:
    status: int
    message: str


@dataclass(frozen=True, slots=True)
class Accepted:
    event_type: str
    guid: str
    payload: dict[str, Any]


def check_request(method: str, headers: Mapping[str, str]) -> Rejected | None:
    """Steps 1-5, decided before the body is read."""
    if method != "POST":
        return Rejected(405, "405 Method not allowed")
    if not headers.get(EVENT):
        return Rejected(400, f"400 Bad Request: Missing {EVENT} Header")
    if not headers.get(DELIVERY):
        return Rejected(400, f"400 Bad Request: Missing {DELIVERY} Header")
    if not headers.get(SIGNATURE):
        return Rejected(403, f"403 Forbidden: Missing {SIGNATURE}")
    if headers.get("content-type") != "application/json":
        return Rejected(
            400,
            "400 Bad Request: Hook only accepts content-type: application/json - please reconfigure this hook on GitHub",
        )
    return None


def check_body(headers: Mapping[str, str], body: bytes, secrets: Secrets) -> Accepted | Rejected:
    """Step 6: the payload parses and is signed by a token of its repository's level."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return _invalid("invalid payload")
    if parse_signature(headers.get(SIGNATURE, "")) is None:
        return _invalid("invalid signature")
    org_repo = org_repo_of(payload)
    tokens = secrets.tokens_for(org_repo)
    if not tokens:
        return _invalid("failed to get an appropriate hmac secret")
    if not verify(body, headers.get(SIGNATURE, ""), tokens):
        return _invalid(f"misconfigured webhook secret from organization/repo: {org_repo}")
    return Accepted(headers[EVENT], headers[DELIVERY], payload)


def _invalid(reason: str) -> Rejected:
    return Rejected(403, f"403 Forbidden: Invalid {SIGNATURE} - {reason}")
