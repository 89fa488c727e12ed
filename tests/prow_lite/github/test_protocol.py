"""The pure rules: retry decisions, app endpoints, `Link` parsing, error messages, Prow's description cut."""

from __future__ import annotations

import pytest
from yarl import URL

from prow_lite.github import protocol
from prow_lite.github.protocol import RetryPolicy, Verdict

POLICY = RetryPolicy(max_retries=3, backoff_s=1.0, max_backoff_s=30.0, max_wait_s=60.0)
SECONDARY = "You have exceeded a secondary rate limit."


@pytest.mark.parametrize(
    ("method", "status", "headers", "message", "attempt", "verdict", "delay"),
    [
        ("GET", 200, {}, "", 0, Verdict.ANSWER, 0.0),
        ("GET", 404, {}, "Not Found", 0, Verdict.ANSWER, 0.0),
        ("GET", 500, {}, "", 0, Verdict.RETRY, 1.0),
        ("GET", 500, {}, "", 2, Verdict.RETRY, 4.0),
        ("GET", 500, {}, "", 3, Verdict.ANSWER, 0.0),  # retries spent
        ("PATCH", 500, {}, "", 0, Verdict.RETRY, 1.0),
        ("POST", 500, {}, "", 0, Verdict.ANSWER, 0.0),  # may have been carried out
        ("POST", 502, {}, "", 0, Verdict.RETRY, 1.0),
        ("POST", 504, {}, "", 1, Verdict.RETRY, 2.0),
        ("GET", 503, {"Retry-After": "7"}, "", 0, Verdict.RETRY, 7.0),
        ("GET", 503, {"Retry-After": "600"}, "", 0, Verdict.ANSWER, 0.0),  # longer than max_wait: give up
        ("POST", 403, {"Retry-After": "5"}, SECONDARY, 0, Verdict.RETRY, 5.0),
        ("POST", 429, {"Retry-After": "5"}, "ghproxy: held", 0, Verdict.RETRY, 5.0),
        ("GET", 403, {"Retry-After": "0"}, SECONDARY, 0, Verdict.RETRY, 1.0),  # never a busy loop
        ("GET", 403, {}, SECONDARY, 0, Verdict.RETRY, 60.0),  # GitHub: wait at least a minute
        ("GET", 403, {"Retry-After": "61"}, SECONDARY, 0, Verdict.SECONDARY_LIMIT, 61.0),
        ("GET", 403, {"Retry-After": "5"}, SECONDARY, 3, Verdict.SECONDARY_LIMIT, 5.0),
        ("GET", 403, {}, "Must have admin rights", 0, Verdict.ANSWER, 0.0),
        ("GET", 403, {"x-ratelimit-remaining": "0", "Retry-After": "5"}, "", 0, Verdict.PRIMARY_LIMIT, 0.0),
    ],
)
def test_after_answer(
    method: str, status: int, headers: dict[str, str], message: str, attempt: int, verdict: Verdict, delay: float
) -> None:
    decision = protocol.after_answer(method, status, headers, message, attempt, POLICY, jitter=1.0)
    assert (decision.verdict, decision.delay) == (verdict, delay)


def test_primary_limit_carries_the_reset_time() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000000"}
    decision = protocol.after_answer("GET", 429, headers, "", 0, POLICY, 0.0)
    assert decision.verdict is Verdict.PRIMARY_LIMIT and decision.reset_at == 1_700_000_000


def test_backoff_is_exponential_capped_and_jittered() -> None:
    assert [protocol.backoff(n, POLICY, 1.0) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert protocol.backoff(2, POLICY, 0.0) == 2.0  # jitter spreads over the upper half


@pytest.mark.parametrize(
    ("method", "sent", "attempt", "verdict"),
    [
        ("POST", False, 0, Verdict.RETRY),  # the connection never opened: nothing was carried out
        ("POST", True, 0, Verdict.ANSWER),
        ("GET", True, 0, Verdict.RETRY),
        ("DELETE", True, 2, Verdict.RETRY),
        ("GET", False, 3, Verdict.ANSWER),
    ],
)
def test_after_failure(method: str, sent: bool, attempt: int, verdict: Verdict) -> None:
    assert protocol.after_failure(method, sent, attempt, POLICY, 0.5).verdict is verdict


@pytest.mark.parametrize(
    ("path", "app"),
    [
        ("/app", True),
        ("/app/installations/5/access_tokens", True),
        ("/orgs/o/installation", True),
        ("/repos/o/r/installation", True),
        ("/users/u/installation", True),
        ("/applications/grants", False),
        ("/repos/o/r/installations", False),
        ("/repos/o/r/pulls/1", False),
        ("/orgs/o/installation/extra", False),
    ],
)
def test_app_endpoints_use_the_jwt(path: str, app: bool) -> None:
    assert protocol.uses_app_jwt(path) is app


def test_next_link() -> None:
    header = '<http://p/x?page=1>; rel="prev", <http://p/x?page=3>; rel="next", <http://p/x?page=9>; rel="last"'
    assert protocol.next_link([header]) == "http://p/x?page=3"
    assert protocol.next_link(['<http://p/x?page=1>; rel="first"', '<http://p/y>; rel="next"']) == "http://p/y"
    assert protocol.next_link(['<http://p/x?page=1>; rel="prev"']) is None
    assert protocol.next_link([]) is None


@pytest.mark.parametrize(
    ("target", "under"),
    [
        ("http://proxy:8888/repos/o/r/pulls?page=2", True),
        ("https://proxy:8888/repos", False),
        ("http://proxy:8889/repos", False),
        ("http://evil/repos", False),
        ("http://user:pw@proxy:8888/repos", False),
        ("/repos", False),
    ],
)
def test_on_base(target: str, under: bool) -> None:
    assert protocol.on_base(target, URL("http://proxy:8888")) is under


def test_on_base_with_a_path_prefix() -> None:
    base = URL("http://ghe.local/api/v3")
    assert protocol.on_base("http://ghe.local/api/v3/repos?page=2", base)
    assert not protocol.on_base("http://ghe.local/api/v30/repos", base)
    assert not protocol.on_base("http://ghe.local/repos", base)


def test_error_message() -> None:
    assert protocol.error_message(b'{"message": "Not Found", "documentation_url": "x"}') == "Not Found"
    body = b'{"message": "Validation Failed", "errors": [{"resource": "Label", "code": "already_exists"}]}'
    assert protocol.error_message(body) == "Validation Failed (already_exists)"
    assert protocol.error_message(b"<html>bad gateway</html>") == "<html>bad gateway</html>"
    assert protocol.error_message(b"") == "(no body)"


def test_description_is_cut_in_the_middle_as_prow_does() -> None:
    assert protocol.truncate_description("short") == "short"
    exact = "x" * 140
    assert protocol.truncate_description(exact) == exact
    long = "a" * 100 + "b" * 100
    cut = protocol.truncate_description(long)
    assert cut == "a" * 67 + " ... " + "b" * 67 and len(cut) <= 140
