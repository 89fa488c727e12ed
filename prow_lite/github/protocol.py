"""GitHub's HTTP rules without I/O: the endpoint check, which calls need the app JWT, `Link` pages, error messages,
and the retry decision for every answer or failure (answer and attempt in, what to do out)."""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import hdrs
from yarl import URL

from prow_lite.github.errors import GitHubClientError

ACCEPT = "application/vnd.github+json"
API_VERSION = "2022-11-28"
API_VERSION_HEADER = "X-GitHub-Api-Version"
BUDGET_ID = "X-PROW-GHCACHE-TOKEN-BUDGET-IDENTIFIER"  # Go ghproxy's name: the cache partition and metric label
CACHE_MODE = "X-Cache-Mode"
ENDPOINT_ENV = "GITHUB_API_URL"

# RFC 9110 §9.2.2; GitHub's PATCH endpoints set fields to the values sent, so a repeat changes nothing more.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
# Gateway answers (ghproxy could not reach GitHub, or GitHub's front could not reach its backend): the request was
# not carried out, so even a POST may be sent again.
GATEWAY = frozenset({502, 503, 504})
SECONDARY_WAIT_S = 60.0  # GitHub: without retry-after, wait at least a minute after a secondary-limit answer

# https://docs.github.com/rest/authentication/authenticating-as-a-github-app: endpoints called as the app (JWT)
_APP_PATH = re.compile(r"^/app(/.*)?$|^/(orgs|users)/[^/]+/installation$|^/repos/[^/]+/[^/]+/installation$")
_LINK = re.compile(r"<([^>]*)>\s*;([^,<]*)")


def check_endpoint(endpoint: str, allow_direct_github: bool = False) -> URL:
    """The endpoint as a base URL (no trailing slash); GitHub's own hosts are refused unless explicitly allowed.

    prow_lite talks to GitHub through ghproxy, which caches and throttles for every component; a client pointed
    straight at GitHub spends the token budget the proxy is there to save.
    """
    url = URL(endpoint.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise GitHubClientError(f"GitHub endpoint {endpoint!r} is not an http(s) URL; give ghproxy's URL")
    if url.query_string or url.fragment:
        raise GitHubClientError(f"GitHub endpoint {endpoint!r} must not carry a query or fragment")
    host = url.host.lower().rstrip(".")
    if (host == "github.com" or host.endswith(".github.com")) and not allow_direct_github:
        raise GitHubClientError(
            f"GitHub endpoint {endpoint!r} is GitHub itself; point --github-endpoint (or {ENDPOINT_ENV}) at ghproxy, "
            "or pass allow_direct_github=True to bypass the proxy on purpose"
        )
    return url.with_path(url.path.rstrip("/"))


def resolve_endpoint(flag: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """`--github-endpoint` if given, else `GITHUB_API_URL`."""
    if flag:
        return flag
    value = (os.environ if environ is None else environ).get(ENDPOINT_ENV, "")
    if not value:
        raise GitHubClientError(f"no GitHub endpoint: pass --github-endpoint or set {ENDPOINT_ENV} to ghproxy's URL")
    return value


def uses_app_jwt(path: str) -> bool:
    """True for the endpoints a GitHub App calls as itself (`/app...`, `.../installation`)."""
    return _APP_PATH.match(path.partition("?")[0]) is not None


def next_link(values: Iterable[str]) -> str | None:
    """The `rel="next"` target of `Link` header values (RFC 8288), or None."""
    for value in values:
        for target, params in _LINK.findall(value):
            rels = re.findall(r'rel\s*=\s*"?([^";]+)"?', params)
            if any("next" in rel.split() for rel in rels):
                return str(target).strip()
    return None


def on_base(target: str, base: URL) -> bool:
    """Whether `target` is under `base` (same scheme, host, port and path prefix)."""
    url = URL(target, encoded=True)
    if not url.is_absolute() or (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        return False
    if url.user is not None or url.password is not None:
        return False
    prefix = base.raw_path.rstrip("/")
    return url.raw_path == prefix or url.raw_path.startswith(prefix + "/")


def error_message(body: bytes) -> str:
    """GitHub's JSON `message` (with the first validation error, if any), else the start of the body."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip() or "(no body)"
    if not isinstance(doc, dict) or not isinstance(doc.get("message"), str):
        return body[:200].decode("utf-8", "replace").strip()
    message: str = doc["message"]
    errors = doc.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        detail = errors[0].get("message") or errors[0].get("code")
        if detail:
            message = f"{message} ({detail})"
    return message


def truncate_description(text: str, limit: int = 140) -> str:
    """Prow's status description cut: the middle is elided ("really ... messages") so the end (BaseSHA) stays."""
    if len(text) <= limit:
        return text
    elide = " ... "
    half = (limit - len(elide)) // 2
    return text[:half] + elide + text[len(text) - half :]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3  # attempts after the first
    backoff_s: float = 0.5  # first backoff; doubled per attempt, with jitter
    max_backoff_s: float = 30.0
    max_wait_s: float = 60.0  # the longest Retry-After the client sleeps; longer waits raise


class Verdict(enum.Enum):
    ANSWER = "answer"  # hand the answer (or failure) to the caller
    RETRY = "retry"  # sleep `delay` seconds, then send again
    PRIMARY_LIMIT = "primary-limit"  # the token's budget is spent until `reset_at`
    SECONDARY_LIMIT = "secondary-limit"  # GitHub (or ghproxy) asks for a wait of `delay` s, longer than allowed


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0
    reset_at: float | None = None
    reason: str = ""


ANSWER = Decision(Verdict.ANSWER)


def backoff(attempt: int, policy: RetryPolicy, jitter: float) -> float:
    """Exponential backoff for attempt 0, 1, ...; `jitter` in [0, 1) spreads it over the upper half."""
    return min(policy.max_backoff_s, policy.backoff_s * 2.0**attempt) * (0.5 + 0.5 * jitter)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def after_answer(
    method: str, status: int, headers: Mapping[str, str], message: str, attempt: int, policy: RetryPolicy, jitter: float
) -> Decision:
    """What to do with an answer; `attempt` counts from 0.

    https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately:
    remaining 0 means wait for the reset; otherwise obey retry-after; a secondary-limit answer without it means
    wait at least a minute.
    """
    retry_after = _seconds(headers.get(hdrs.RETRY_AFTER))
    if status in (403, 429):
        if headers.get("x-ratelimit-remaining") == "0":
            return Decision(Verdict.PRIMARY_LIMIT, reset_at=_seconds(headers.get("x-ratelimit-reset")))
        if retry_after is None and "secondary rate limit" in message.lower():
            retry_after = SECONDARY_WAIT_S
        if retry_after is None:
            return ANSWER
        wait = max(retry_after, backoff(0, policy, jitter))
        if attempt >= policy.max_retries or wait > policy.max_wait_s:
            return Decision(Verdict.SECONDARY_LIMIT, delay=retry_after)
        return Decision(Verdict.RETRY, delay=wait, reason=f"{status} retry-after")
    if status >= 500 and attempt < policy.max_retries and (method in IDEMPOTENT or status in GATEWAY):
        if retry_after is not None:
            if retry_after > policy.max_wait_s:
                return ANSWER
            return Decision(Verdict.RETRY, delay=retry_after, reason=f"{status} retry-after")
        return Decision(Verdict.RETRY, delay=backoff(attempt, policy, jitter), reason=str(status))
    return ANSWER


def after_failure(method: str, sent: bool, attempt: int, policy: RetryPolicy, jitter: float) -> Decision:
    """What to do when no answer came: retry unless the request may have been carried out and is not idempotent."""
    if attempt < policy.max_retries and (not sent or method in IDEMPOTENT):
        return Decision(Verdict.RETRY, delay=backoff(attempt, policy, jitter), reason="connection")
    return ANSWER
