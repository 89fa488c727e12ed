from __future__ import annotations

from ghproxy.rewrite import Rewriter

UP = "https://api.github.com"
PUB = "http://proxy:8888"


def test_body_urls() -> None:
    r = Rewriter(UP, PUB)
    body = b'{"url":"https://api.github.com/repos/o/r","html_url":"https://github.com/o/r","root_url":"https://api.github.com"}'
    assert (
        r.body(body)
        == b'{"url":"http://proxy:8888/repos/o/r","html_url":"https://github.com/o/r","root_url":"http://proxy:8888"}'
    )


def test_templated_and_query_urls() -> None:
    r = Rewriter(UP, PUB)
    assert (
        r.body(b'{"archive_url": "https://api.github.com{/owner}", "search_url":"https://api.github.com?x"}')
        == b'{"archive_url": "http://proxy:8888{/owner}", "search_url":"http://proxy:8888?x"}'
    )


def test_only_url_members_are_rewritten_never_data() -> None:
    r = Rewriter(UP, PUB)
    body = (
        b'{"body": "see https://api.github.com/repos/o/r and \\"url\\": \\"https://api.github.com/x\\"",'
        b' "patch": "+https://api.github.com/y", "_links": {"self": {"href": "https://api.github.com/z"}},'
        b' "pull_request": {"html_url": "https://github.com/o/r/pull/1", "diff_url": "https://api.github.com/d"}}'
    )
    out = r.body(body)
    assert b'"body": "see https://api.github.com/repos/o/r' in out
    assert b'"patch": "+https://api.github.com/y"' in out
    assert b'"href": "http://proxy:8888/z"' in out
    assert b'"diff_url": "http://proxy:8888/d"' in out
    assert out.count(b"http://proxy:8888") == 2


def test_is_json() -> None:
    from ghproxy.rewrite import is_json

    assert is_json("application/json; charset=utf-8")
    assert is_json("application/vnd.github.v3+json")
    assert not is_json("application/vnd.github.raw")
    assert not is_json("application/vnd.github.diff; charset=utf-8")
    assert not is_json("text/plain")
    assert not is_json(None)


def test_lookalike_hosts_untouched() -> None:
    r = Rewriter("http://127.0.0.1:90", PUB)
    assert r.body(b'{"url": "http://127.0.0.1:9000/x"}') == b'{"url": "http://127.0.0.1:9000/x"}'
    assert r.body(b'{"url": "http://127.0.0.1:90/x"}') == b'{"url": "http://proxy:8888/x"}'


def test_link_header() -> None:
    r = Rewriter(UP, PUB)
    link = '<https://api.github.com/repos/o/r/pulls?page=2>; rel="next", <https://api.github.com/repos/o/r/pulls?page=5>; rel="last"'
    assert (
        r.header(link)
        == '<http://proxy:8888/repos/o/r/pulls?page=2>; rel="next", <http://proxy:8888/repos/o/r/pulls?page=5>; rel="last"'
    )


def test_location_header_exact_base() -> None:
    assert Rewriter(UP, PUB).header("https://api.github.com") == "http://proxy:8888"


def test_upstream_with_path_prefix() -> None:
    r = Rewriter("https://ghe.example/api/v3", PUB)
    assert (
        r.body(b'{"url": "https://ghe.example/api/v3/repos/o/r", "html_url": "https://ghe.example/o/r"}')
        == b'{"url": "http://proxy:8888/repos/o/r", "html_url": "https://ghe.example/o/r"}'
    )


def test_same_base_is_identity() -> None:
    body = b'"http://proxy:8888/x"'
    assert Rewriter(PUB, PUB).body(body) is body
